"""Agent forwarding (``forward_ssh_agent=True``): commands use our local agent.

It works on the native (libssh2) client; the libssh client refuses it at
construction with a clear error (tests at the end, on both backends).

The client logs in with the server's own key (never the agent); the private
agent holds a second key that only a second server accepts, so a remote
``ssh -A`` to that server can log in only through the forwarded agent.
"""
import subprocess

import pytest

from pssh.clients.native import ParallelSSHClient, SSHClient
from pssh.clients.native import _agent_forward
from pssh.config import HostConfig
from pssh.exceptions import InvalidAPIUseError
from pssh.testing import OpenSSHServer

#: Every test here runs against both backends (see conftest).
BOTH_BACKENDS = True

# The remote ssh uses nothing but the forwarded agent: no config, no key files,
# no known hosts, no prompts.
_REMOTE_SSH = ('ssh -A -F /dev/null -o BatchMode=yes -o StrictHostKeyChecking=no '
               '-o UserKnownHostsFile=/dev/null -o IdentitiesOnly=no -o IdentityFile=/dev/null '
               '-o LogLevel=ERROR')


@pytest.fixture(scope='module')
def agent_key(tmp_path_factory):
    """A key pair only the agent holds: (private key path, public key line)."""
    path = str(tmp_path_factory.mktemp('agent-key') / 'id_agent')
    subprocess.run(['ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-C', 'forwarded-key',
                    '-f', path], check=True, capture_output=True, timeout=30)
    with open(path + '.pub') as pub:
        return path, pub.read().strip()


@pytest.fixture
def loaded_agent(agent_sock, agent_key):
    subprocess.run(['ssh-add', agent_key[0]], check=True, capture_output=True, timeout=10)
    return agent_sock


@pytest.fixture(scope='module')
def second_server(server, agent_key):
    """A server that accepts the agent's key (and the first server's)."""
    with OpenSSHServer(user_key=server.user_key) as srv:
        srv.add_authorized_key(agent_key[1])
        yield srv


def _fingerprint(pub_line):
    out = subprocess.run(['ssh-keygen', '-l', '-f', '-'], input=pub_line, text=True,
                         check=True, capture_output=True, timeout=10).stdout
    return out.split()[1]


def _run(client, command):
    host_out = client.run_command(command)
    client.wait_finished(host_out, timeout=20)
    return list(host_out.stdout), list(host_out.stderr), host_out.exit_code


@pytest.mark.native_only
@pytest.mark.timeout(60)
def test_remote_ssh_add_lists_our_agent_keys(server, client_kwargs, loaded_agent, agent_key):
    with SSHClient(server.host, forward_ssh_agent=True, **client_kwargs) as client:
        stdout, stderr, code = _run(client, 'test -S "$SSH_AUTH_SOCK" && ssh-add -l')
        assert code == 0, stderr
        assert len(stdout) == 1 and _fingerprint(agent_key[1]) in stdout[0]
        assert stdout[0].endswith('forwarded-key (ED25519)')
        # The public key itself comes through too, byte for byte.
        stdout, _, code = _run(client, 'ssh-add -L')
        assert code == 0 and stdout == [agent_key[1]]


@pytest.mark.native_only
@pytest.mark.timeout(60)
def test_remote_ssh_logs_in_to_a_second_server_with_the_forwarded_agent(
        server, second_server, client_kwargs, loaded_agent):
    hop = '%s -p %s %s@%s echo hop from $(whoami)' % (
        _REMOTE_SSH, second_server.port, second_server.user, second_server.host)
    with SSHClient(server.host, forward_ssh_agent=True, **client_kwargs) as client:
        stdout, stderr, code = _run(client, hop)
        assert (stdout, code) == (['hop from %s' % second_server.user], 0), stderr
    # Without forwarding the same command cannot log in: the key is only in the agent.
    with SSHClient(server.host, **client_kwargs) as client:
        stdout, stderr, code = _run(client, hop + ' </dev/null')
        assert code == 255 and stdout == []


@pytest.mark.native_only
@pytest.mark.timeout(60)
def test_several_commands_use_the_agent_at_once_on_one_session(
        server, client_kwargs, loaded_agent, agent_key):
    fingerprint = _fingerprint(agent_key[1])
    with SSHClient(server.host, forward_ssh_agent=True, **client_kwargs) as client:
        # Each command asks the agent several times, all of them started
        # before any is read, gated on stdin so that they overlap.
        outputs = [client.run_command('read go; for i in 1 2 3; do ssh-add -l; done')
                   for _ in range(6)]
        for host_out in outputs:
            host_out.stdin.write('go\n')
            host_out.stdin.flush()
        for host_out in outputs:
            client.wait_finished(host_out, timeout=20)
            lines = list(host_out.stdout)
            assert host_out.exit_code == 0, list(host_out.stderr)
            assert len(lines) == 3 and all(fingerprint in line for line in lines)
        # Every agent channel was closed and freed once its client hung up;
        # the session keeps working.
        assert _run(client, 'echo still here') == (['still here'], [], 0)


@pytest.mark.native_only
@pytest.mark.timeout(60)
def test_parallel_client_forwards_the_agent_to_every_host(
        server, second_server, client_kwargs, loaded_agent, agent_key):
    kwargs = dict(client_kwargs)
    del kwargs['port']
    ports = [server.port, second_server.port, server.port]
    client = ParallelSSHClient([server.host] * 3, host_config=[HostConfig(port=port)
                                                               for port in ports],
                               forward_ssh_agent=True, **kwargs)
    try:
        output = client.run_command('ssh-add -l')
        client.join(output, timeout=20)
        fingerprint = _fingerprint(agent_key[1])
        for host_out in output:
            lines = list(host_out.stdout)
            assert host_out.exit_code == 0 and len(lines) == 1 and fingerprint in lines[0]
    finally:
        client.close()


@pytest.mark.native_only
@pytest.mark.timeout(60)
def test_without_a_local_agent_commands_run_without_one(server, client_kwargs, monkeypatch):
    monkeypatch.delenv('SSH_AUTH_SOCK', raising=False)
    with SSHClient(server.host, forward_ssh_agent=True, **client_kwargs) as client:
        stdout, _, code = _run(client, 'echo "[$SSH_AUTH_SOCK]"; ssh-add -l')
        # ssh-add: 2 is "could not open a connection to your authentication agent".
        assert (stdout[:1], code) == (['[]'], 2)


@pytest.mark.native_only
@pytest.mark.timeout(60)
def test_an_unreachable_local_agent_fails_the_remote_client_not_the_session(
        server, client_kwargs, tmp_path, monkeypatch):
    monkeypatch.setenv('SSH_AUTH_SOCK', str(tmp_path / 'no-agent-here.sock'))
    with SSHClient(server.host, forward_ssh_agent=True, **client_kwargs) as client:
        stdout, _, code = _run(client, 'test -S "$SSH_AUTH_SOCK" && echo socket; ssh-add -l')
        assert stdout[:1] == ['socket'] and code not in (0, None)
        assert _run(client, 'echo still here') == (['still here'], [], 0)


@pytest.mark.native_only
@pytest.mark.timeout(60)
def test_server_refusing_forwarding_still_runs_the_command(loaded_agent, tmp_path):
    with OpenSSHServer(extra_config={'AllowAgentForwarding': 'no'}) as srv:
        with SSHClient(srv.host, port=srv.port, user=srv.user, pkey=srv.user_key,
                       num_retries=1, timeout=10, allow_agent=False, identity_auth=False,
                       forward_ssh_agent=True) as client:
            stdout, _, code = _run(client, 'echo "[$SSH_AUTH_SOCK]"; ssh-add -l')
            assert (stdout[:1], code) == (['[]'], 2)


@pytest.mark.timeout(60)
def test_libssh_client_refuses_forwarding_at_construction(backend, server, client_kwargs,
                                                          loaded_agent):
    kwargs = dict(client_kwargs)
    port = kwargs.pop('port')
    if backend == 'native':
        with SSHClient(server.host, port=port, forward_ssh_agent=True, **kwargs) as client:
            assert _run(client, 'ssh-add -l >/dev/null && echo agent')[::2] == (['agent'], 0)
        return
    # Refused before any connection: the port given is closed.
    with pytest.raises(InvalidAPIUseError) as err:
        SSHClient('host-a', port=1, forward_ssh_agent=True, **kwargs)
    assert 'forward_ssh_agent' in str(err.value) and 'host-a' in str(err.value)
    assert 'pssh.clients.native' in str(err.value)
    with pytest.raises(InvalidAPIUseError) as err:
        ParallelSSHClient(['host-a', 'host-b'], port=1, forward_ssh_agent=True, **kwargs)
    assert 'host-a and 1 more' in str(err.value)
    # Asked for one host alone, through its HostConfig.
    with pytest.raises(InvalidAPIUseError) as err:
        ParallelSSHClient(['host-a', 'host-b'], port=1, **kwargs, host_config=[
            HostConfig(), HostConfig(forward_ssh_agent=True)])
    assert 'host-b' in str(err.value) and 'host-a' not in str(err.value)
    # Without forwarding, the same client works.
    with SSHClient(server.host, port=port, **kwargs) as client:
        assert _run(client, 'echo fine') == (['fine'], [], 0)


@pytest.mark.native_only
def test_native_client_without_a_usable_libssh2_refuses_at_construction(monkeypatch,
                                                                         client_kwargs):
    # As with an ssh2-python whose Session layout or libssh2 we do not know.
    monkeypatch.setattr(_agent_forward, '_UNAVAILABLE', 'its libssh2 is too old')
    kwargs = dict(client_kwargs, port=1)
    with pytest.raises(InvalidAPIUseError) as err:
        SSHClient('host-a', forward_ssh_agent=True, **kwargs)
    assert 'host-a' in str(err.value) and 'its libssh2 is too old' in str(err.value)
    with pytest.raises(InvalidAPIUseError) as err:
        ParallelSSHClient(['host-a'], forward_ssh_agent=True, **kwargs)
    assert 'host-a' in str(err.value) and 'its libssh2 is too old' in str(err.value)
