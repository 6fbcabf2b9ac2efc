"""The clients reading OpenSSH client configuration (``ssh_config=``), against real sshd.

The parser itself is compared with ``ssh -G`` in test_ssh_config.py; here the
same config files drive both OpenSSH's ``ssh`` and our clients to one server.
"""
import os
import subprocess

import pytest

from pssh.config import HostConfig
from pssh.exceptions import (
    HostConfigError, HostConnectionRefusedError, InvalidAPIUseError, UnknownHostKeyError)
from pssh.testing import SSH_PATH

from _net import refused_port

BACKENDS = ('native', 'ssh')


@pytest.fixture
def closed_port():
    return refused_port()


@pytest.fixture
def config(server, tmp_path, closed_port):
    known = tmp_path / 'known_hosts'
    line = server.known_hosts_line()
    known.write_text(line + '\n' + line.replace('127.0.0.1', 'localhost', 1) + '\n')
    path = tmp_path / 'config'
    path.write_text('\n'.join([
        'Host web web-*',
        '    HostName 127.0.0.1',
        '    Port %d' % server.port,
        '    IdentityFile %s' % server.user_key,
        '    UserKnownHostsFile %s' % known,
        '    StrictHostKeyChecking yes',
        '    ConnectTimeout 7',
        '    ServerAliveInterval 5',
        '    Compression yes',
        'Host web-closed',
        '    Port %d' % closed_port,   # too late: "Host web web-*" set Port first
        'Host stranger',
        '    HostName 127.0.0.1',
        '    Port %d' % server.port,
        '    IdentityFile %s' % server.user_key,
        '    UserKnownHostsFile %s' % (tmp_path / 'empty_known_hosts'),
        '    StrictHostKeyChecking yes',
        'Host tunnelled',
        '    HostName localhost',
        '    Port %d' % server.port,
        '    IdentityFile %s' % server.user_key,
        '    ProxyJump %s@127.0.0.1:%d' % (server.user, server.port),
        # A jump host named by its alias: its HostName, Port and User come
        # from its own entry, as with ssh.
        'Host jumpbox',
        '    HostName 127.0.0.1',
        '    Port %d' % server.port,
        '    IdentityFile %s' % server.user_key,
        '    UserKnownHostsFile %s' % known,
        'Host behind',
        '    HostName localhost',
        '    Port %d' % server.port,
        '    IdentityFile %s' % server.user_key,
        '    UserKnownHostsFile %s' % known,
        '    StrictHostKeyChecking yes',
        '    ProxyJump jumpbox',
        # A bastion whose own entry is strict, behind which the target is not:
        # the bastion is checked as its entry says (its key is unknown there).
        'Host strictjump',
        '    HostName 127.0.0.1',
        '    Port %d' % server.port,
        '    IdentityFile %s' % server.user_key,
        '    UserKnownHostsFile %s' % (tmp_path / 'empty_known_hosts'),
        '    StrictHostKeyChecking yes',
        'Host lax-behind',
        '    HostName localhost',
        '    Port %d' % server.port,
        '    IdentityFile %s' % server.user_key,
        '    StrictHostKeyChecking no',
        '    ProxyJump strictjump',
        'Host *',
        '    User %s' % server.user,
    ]) + '\n')
    return path


NO_AGENT = dict(allow_agent=False, num_retries=1, keepalive_seconds=None)


@pytest.mark.timeout(60)
def test_openssh_and_we_read_the_same_file(backend, server, config):
    """The file is a working OpenSSH config: ssh itself logs in with it."""
    if not os.path.exists(SSH_PATH):
        pytest.skip('no ssh client installed at %s' % SSH_PATH)
    result = subprocess.run([SSH_PATH, '-F', str(config), '-o', 'BatchMode=yes', 'web',
                             'echo from-ssh'], capture_output=True, text=True, timeout=30,
                            stdin=subprocess.DEVNULL)
    assert result.stdout.strip() == 'from-ssh', result.stderr
    client = backend.SSHClient('web', ssh_config=str(config), allow_agent=False, num_retries=1)
    out = client.run_command('echo from-pssh')
    client.wait_finished(out)
    assert list(out.stdout) == ['from-pssh']
    assert out.host == 'web'


@pytest.mark.timeout(60)
def test_single_client_takes_the_settings(backend, server, config, tmp_path):
    client = backend.SSHClient('web-1', ssh_config=config, allow_agent=False, num_retries=1)
    assert (client.host, client.hostname, client.port, client.user) == (
        'web-1', '127.0.0.1', server.port, server.user)
    assert client.timeout == 7
    assert client.keepalive_seconds == 5
    assert client.compress is True
    assert client.known_hosts == [str(tmp_path / 'known_hosts')]
    assert client.host_key_policy == 'strict'
    assert client.IDENTITIES == (server.user_key,)


@pytest.mark.timeout(60)
def test_client_arguments_win_over_the_file(backend, server, config, closed_port):
    with pytest.raises(HostConnectionRefusedError):
        backend.SSHClient('web', port=closed_port, ssh_config=config, **NO_AGENT)
    client = backend.SSHClient('web', timeout=3, ssh_config=config, **NO_AGENT)
    assert client.timeout == 3
    # A client argument left at its default cannot be told from one not
    # given: the file's "Compression yes" applies; a HostConfig value wins.
    client = backend.ParallelSSHClient(['web'], compress=False, ssh_config=config,
                                       host_config=[HostConfig(compress=False)], **NO_AGENT)
    output = client.run_command('true')
    client.join(output)
    assert output[0].client.compress is False


@pytest.mark.timeout(60)
def test_strict_checking_from_the_file(backend, server, config):
    with pytest.raises(UnknownHostKeyError) as err:
        backend.SSHClient('stranger', ssh_config=config, **NO_AGENT)
    assert err.value.host == '127.0.0.1'


@pytest.mark.timeout(60)
def test_proxy_jump_from_the_file(backend, server, config):
    client = backend.SSHClient('tunnelled', ssh_config=config, **NO_AGENT)
    out = client.run_command('echo through')
    client.wait_finished(out)
    assert list(out.stdout) == ['through']
    assert [(hop.host, hop.port) for hop in client._hops] == [('127.0.0.1', server.port)]


@pytest.mark.timeout(60)
def test_proxy_jump_alias_from_the_file(backend, server, config):
    if os.path.exists(SSH_PATH):   # OpenSSH reads the file the same way
        result = subprocess.run(
            [SSH_PATH, '-F', str(config), '-o', 'BatchMode=yes', 'behind', 'echo from-ssh'],
            capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL,
            env=dict(os.environ, PATH=os.path.dirname(SSH_PATH) + ':' + os.environ['PATH']))
        assert result.stdout.strip() == 'from-ssh', result.stderr
    with backend.SSHClient('behind', ssh_config=config, **NO_AGENT) as client:
        out = client.run_command('echo through-alias')
        client.wait_finished(out)
        assert list(out.stdout) == ['through-alias']
        assert [(hop.host, hop.port, hop.user) for hop in client._hops] == [
            ('jumpbox', server.port, server.user)]
    client = backend.ParallelSSHClient(['behind', 'behind'], ssh_config=config, **NO_AGENT)
    try:
        output = client.run_command('echo %s', host_args=('a', 'b'))
        client.join(output, timeout=30)
        assert [list(out.stdout) for out in output] == [['a'], ['b']]
        # One connection to the bastion for both.
        assert len(client._proxy_pool._clients) == 1
    finally:
        client.close()


@pytest.mark.timeout(60)
def test_bastion_keys_checked_as_its_own_entry_says(backend, server, config):
    # The target's "StrictHostKeyChecking no" does not reach the bastion, whose
    # entry is strict and knows no key: as ssh does with ProxyJump.
    with pytest.raises(UnknownHostKeyError) as err:
        backend.SSHClient('lax-behind', ssh_config=config, **NO_AGENT)
    assert (err.value.host, err.value.port) == ('127.0.0.1', server.port)
    client = backend.ParallelSSHClient(['lax-behind'], ssh_config=config, **NO_AGENT)
    try:
        output = client.run_command('echo ok', stop_on_errors=False)
        client.join(output, timeout=30)
        assert isinstance(output[0].exception, UnknownHostKeyError), output[0].exception
        assert (output[0].exception.host, output[0].exception.port) == (
            '127.0.0.1', server.port)
    finally:
        client.close()
    # An argument given to the client applies to the bastion too, over its entry.
    with backend.SSHClient('lax-behind', ssh_config=config, host_key_policy='no',
                           **NO_AGENT) as client:
        out = client.run_command('echo through')
        client.wait_finished(out)
        assert list(out.stdout) == ['through']


@pytest.mark.timeout(60)
def test_parallel_client_per_host(backend, server, config, closed_port):
    hosts = ['web', 'web-closed', 'stranger', 'tunnelled', 'web']
    client = backend.ParallelSSHClient(hosts, ssh_config=config, host_config=[
        HostConfig(), HostConfig(), HostConfig(), HostConfig(),
        HostConfig(port=closed_port)], **NO_AGENT)
    output = client.run_command('echo ok', stop_on_errors=False)
    client.join(output)
    assert [out.host for out in output] == hosts
    assert list(output[0].stdout) == ['ok']
    assert list(output[1].stdout) == ['ok']       # first Port wins
    assert isinstance(output[2].exception, UnknownHostKeyError)
    assert list(output[3].stdout) == ['ok']
    assert isinstance(output[4].exception, HostConnectionRefusedError)


@pytest.mark.timeout(60)
def test_host_config_from_ssh_config(backend, server, config, tmp_path):
    conf = HostConfig.from_ssh_config('web', config, allow_agent=False)
    assert conf.settings() == dict(
        hostname='127.0.0.1', port=server.port, user=server.user,
        identity_files=[server.user_key], known_hosts=[str(tmp_path / 'known_hosts')],
        host_key_policy='strict', timeout=7, keepalive_seconds=5, compress=True,
        allow_agent=False)
    client = backend.ParallelSSHClient(['web'], host_config=[conf], num_retries=1)
    output = client.run_command('echo ok')
    client.join(output)
    assert list(output[0].stdout) == ['ok']


@pytest.mark.timeout(30)
def test_bad_config_fails_at_the_call(backend, tmp_path):
    bad = tmp_path / 'bad'
    bad.write_text('Host x\n    Port not-a-port\n')
    for make in (lambda: backend.SSHClient('x', ssh_config=bad),
                 lambda: backend.ParallelSSHClient(['x'], ssh_config=bad),
                 lambda: HostConfig.from_ssh_config('x', bad)):
        with pytest.raises(HostConfigError) as err:
            make()
        assert '%s line 2' % bad in str(err.value)
    with pytest.raises(HostConfigError):
        backend.ParallelSSHClient(['x'], ssh_config=tmp_path / 'missing')
    with pytest.raises(InvalidAPIUseError):
        backend.ParallelSSHClient(['x'], ssh_config=42)
