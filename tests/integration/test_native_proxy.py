"""Integration tests of proxy (bastion) support against real OpenSSH servers.

Every server listens on 127.0.0.1 with its own port. A client reaches a target
through a bastion's ``direct-tcpip`` forwarding: the bastion's sshd opens the
TCP connection to ``127.0.0.1:<target port>``.

How a test knows which way a connection went:

* ``own_tcp_peers()`` lists the TCP connections *this process* holds, by the
  remote port. A target reached through a bastion must not appear there; the
  bastion must appear exactly once however many targets go through it.
* ``accepted(server)`` counts the logins in a server's sshd log, so a test can
  check from the server side how many connections a bastion (or target) saw.
"""
import getpass
import hashlib
import os
import socket
import subprocess
import time

import gevent
import pytest

from pssh.clients.base._tunnel import ProxyPool
from pssh.config import HostConfig
from pssh.exceptions import (
    HostConnectionError,
    InvalidAPIUseError,
    ProxyError,
    PsshError,
    Timeout,
    UnknownHostKeyError,
)
from pssh.output import HostOutput
from pssh.testing import MisbehavingListener, OpenSSHServer, start_servers

from _net import own_tcp_peers, refused_port, wait_closed
from conftest import ALL_BACKENDS

#: The backends a test here runs on when it asks for the backend fixture (see conftest).
BACKENDS = ALL_BACKENDS

LOCALHOST = '127.0.0.1'
MB = 1024 * 1024


# ---------------------------------------------------------------------------
# helpers


def accepted(server):
    """Number of successful logins in the server's sshd log so far."""
    return server.read_log().count('Accepted publickey')


def free_port():
    """A loopback port with nothing listening on it (bound and held, never listening)."""
    return refused_port(LOCALHOST)


def keygen(directory, name):
    path = str(directory / name)
    subprocess.run(['ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-C', name, '-f', path],
                   check=True, stdin=subprocess.DEVNULL, capture_output=True, timeout=60)
    return path


def sha256_file(path):
    digest = hashlib.sha256()
    with open(path, 'rb') as fh:
        for block in iter(lambda: fh.read(MB), b''):
            digest.update(block)
    return digest.hexdigest()


def write_random_file(path, size):
    digest = hashlib.sha256()
    with open(path, 'wb') as fh:
        left = size
        while left:
            block = os.urandom(min(left, 4 * MB))
            fh.write(block)
            digest.update(block)
            left -= len(block)
    return digest.hexdigest()


def run(client, command, **kwargs):
    """Run on a single client and wait: (stdout lines, stderr lines, output)."""
    output = client.run_command(command, **kwargs)
    client.wait_finished(output, timeout=30)
    return list(output.stdout), list(output.stderr), output


def hop(server, **extra):
    spec = {'host': LOCALHOST, 'port': server.port}
    spec.update(extra)
    return spec


# ---------------------------------------------------------------------------
# fixtures


@pytest.fixture(scope='module')
def group():
    """bastion1, bastion2, target1, target2: four sshd sharing one user key."""
    with start_servers(4, reexec=False) as servers:
        yield servers


@pytest.fixture(scope='module')
def b1(group):
    return group[0]


@pytest.fixture(scope='module')
def b2(group):
    return group[1]


@pytest.fixture(scope='module')
def t1(group):
    return group[2]


@pytest.fixture(scope='module')
def t2(group):
    return group[3]


@pytest.fixture(autouse=True)
def no_leftover_connections(group):
    """Every test starts, and must end, holding no connection to the servers."""
    assert wait_closed(*group.ports) == {}
    yield
    assert wait_closed(*group.ports) == {}


@pytest.fixture(autouse=True)
def patient_bastion_lease(monkeypatch):
    """Tests here count the connections to a bastion. On a machine busy with
    other tests a tunnel open can take longer than ``ProxyPool.lease`` (1 s),
    which rightly sends the next targets through a second connection
    (test_bastion_slow_target.py tests that): here an open gets 30 s."""
    monkeypatch.setattr(ProxyPool, 'lease', 30.0)


@pytest.fixture
def kw(group):
    """Client arguments that log in to every server of ``group``."""
    return {'user': group.user, 'pkey': group.user_key, 'num_retries': 1,
            'allow_agent': False, 'identity_auth': False, 'timeout': 10}


@pytest.fixture
def own_key_bastion():
    """A bastion that accepts only its own key (not the group's)."""
    with OpenSSHServer() as server:
        yield server


@pytest.fixture
def fresh_bastion(group):
    """A bastion of the test's own, accepting the group key: a test may stop it,
    and a connection leaked to it cannot disturb other tests."""
    server = OpenSSHServer(user_key=group.user_key).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope='module')
def unauthorized_key(tmp_path_factory):
    """A fresh private key that no server accepts."""
    return keygen(tmp_path_factory.mktemp('badkey'), 'id_unauthorized')


@pytest.fixture(scope='module')
def file_50mb(tmp_path_factory):
    path = str(tmp_path_factory.mktemp('data') / 'random_50mb')
    return path, write_random_file(path, 50 * MB)


# ---------------------------------------------------------------------------
# single client through one bastion


@pytest.mark.timeout(60)
def test_single_command_through_bastion(backend, b1, t1, kw):
    bastion_logins, target_logins = accepted(b1), accepted(t1)
    client = backend.SSHClient(LOCALHOST, port=t1.port, proxy_host=LOCALHOST, proxy_port=b1.port, **kw)
    try:
        stdout, stderr, output = run(client, 'echo out; echo err >&2; echo $SSH_CLIENT; exit 3')
        assert stdout[0] == 'out'
        assert stderr == ['err']
        assert output.exit_code == 3
        # The target saw a loopback connection (made by the bastion's sshd).
        assert stdout[1].split()[0] == LOCALHOST
        assert int(stdout[1].split()[2]) == t1.port
        # We hold one connection, to the bastion, and none to the target.
        peers = own_tcp_peers()
        assert peers[b1.port] == 1
        assert peers[t1.port] == 0
        assert accepted(b1) == bastion_logins + 1
        assert accepted(t1) == target_logins + 1
        assert len(client._proxy_pool._clients) == 1
        # A second command reuses both connections.
        stdout, _, output = run(client, 'echo again')
        assert stdout == ['again'] and output.exit_code == 0
        assert accepted(b1) == bastion_logins + 1
        assert accepted(t1) == target_logins + 1
    finally:
        client.close()
    # Closing the client also closes the bastion connection it made.
    assert wait_closed(b1.port) == {}


@pytest.mark.timeout(60)
def test_single_context_manager_closes_bastion(backend, b1, t1, kw):
    with backend.SSHClient(LOCALHOST, port=t1.port, proxy_host=LOCALHOST, proxy_port=b1.port,
                           **kw) as client:
        assert run(client, 'echo hi')[0] == ['hi']
        assert own_tcp_peers()[b1.port] == 1
    assert wait_closed(b1.port) == {}


@pytest.mark.timeout(60)
def test_proxy_defaults_to_target_credentials(backend, group, b1, t1):
    """No proxy_user/proxy_pkey: the bastion login uses the target's user and key
    (here given as bytes)."""
    client = backend.SSHClient(LOCALHOST, port=t1.port, user=group.user, pkey=group.user_key_bytes,
                               proxy_host=LOCALHOST, proxy_port=b1.port, num_retries=1,
                               allow_agent=False, identity_auth=False, timeout=10)
    try:
        stdout, _, output = run(client, 'whoami')
        assert stdout == [group.user]
        assert output.exit_code == 0
        assert wait_closed(t1.port) == {}
    finally:
        client.close()


@pytest.mark.timeout(60)
def test_proxy_pkey_is_used_for_bastion_only(backend, own_key_bastion, t1, kw):
    """A bastion accepting only its own key: the target's key does not get in,
    proxy_pkey (a path or bytes) does, and the target still gets the target key."""
    with pytest.raises(ProxyError) as info:
        backend.SSHClient(LOCALHOST, port=t1.port, proxy_host=LOCALHOST,
                          proxy_port=own_key_bastion.port, **kw)
    assert f'{LOCALHOST}:{own_key_bastion.port}' in str(info.value)
    for proxy_pkey in (own_key_bastion.user_key, own_key_bastion.user_key_bytes):
        client = backend.SSHClient(LOCALHOST, port=t1.port, proxy_host=LOCALHOST,
                                   proxy_port=own_key_bastion.port, proxy_pkey=proxy_pkey,
                                   proxy_user=getpass.getuser(), **kw)
        try:
            stdout, _, output = run(client, 'echo via-own-key')
            assert stdout == ['via-own-key'] and output.exit_code == 0
            assert own_tcp_peers()[own_key_bastion.port] == 1
        finally:
            client.close()


@pytest.mark.timeout(60)
def test_proxy_user_is_used_for_bastion(backend, b1, t1, kw):
    with pytest.raises(ProxyError) as info:
        backend.SSHClient(LOCALHOST, port=t1.port, proxy_host=LOCALHOST, proxy_port=b1.port,
                          proxy_user='no-such-user-pssh-test', **kw)
    message = str(info.value)
    assert f'{LOCALHOST}:{b1.port}' in message
    assert 'no-such-user-pssh-test' in message


@pytest.mark.timeout(60)
def test_proxy_jump_port_defaults_to_22(backend, t1, kw):
    """A proxy_jump hop without a port is on 22 (proxy_host without proxy_port
    is on the target's port: tests/integration/test_dropin_errors.py)."""
    with socket.socket() as probe:
        probe.settimeout(2)
        if probe.connect_ex((LOCALHOST, 22)) == 0:
            pytest.skip('something listens on 127.0.0.1:22')
    started = time.monotonic()
    with pytest.raises(ProxyError) as info:
        backend.SSHClient(LOCALHOST, port=t1.port, proxy_jump=LOCALHOST, **kw)
    assert f'{LOCALHOST}:22' in str(info.value)
    assert time.monotonic() - started < 10


@pytest.mark.timeout(60)
def test_stdin_and_large_output_through_bastion(backend, b1, t1, kw):
    with backend.SSHClient(LOCALHOST, port=t1.port, proxy_host=LOCALHOST, proxy_port=b1.port,
                           **kw) as client:
        output = client.run_command('cat; echo done')
        output.stdin.write('line one\nline two\n')
        output.stdin.close()
        client.wait_finished(output, timeout=30)
        assert list(output.stdout) == ['line one', 'line two', 'done']
        assert output.exit_code == 0
        # Several MB of output, with stderr interleaved, through the tunnel.
        stdout, stderr, output = run(client, 'seq 1 300000; seq 1 1000 >&2')
        assert len(stdout) == 300000
        assert stdout[0] == '1' and stdout[-1] == '300000'
        assert sum(int(line) for line in stdout) == 300000 * 300001 // 2
        assert stderr == [str(n) for n in range(1, 1001)]
        assert output.exit_code == 0


@pytest.mark.timeout(60)
def test_use_pty_and_sudo_style_shell_through_bastion(backend, b1, t1, kw):
    with backend.SSHClient(LOCALHOST, port=t1.port, proxy_host=LOCALHOST, proxy_port=b1.port,
                           **kw) as client:
        stdout, _, output = run(client, 'echo tty; tty >/dev/null && echo has-tty; exit 2',
                                use_pty=True)
        assert stdout == ['tty', 'has-tty']
        assert output.exit_code == 2
        stdout, _, output = run(client, 'echo "$0"', shell='sh -c')
        assert stdout == ['sh'] and output.exit_code == 0


# ---------------------------------------------------------------------------
# many targets through one bastion


@pytest.mark.timeout(120)
@pytest.mark.parametrize('layout', ['port', 'host_config'])
def test_50_targets_share_one_bastion_connection(backend, b1, t1, t2, kw, layout):
    hosts = [LOCALHOST] * 50
    if layout == 'port':
        targets = [t1] * 50
        extra = {'port': t1.port}
    else:
        targets = [t1 if index % 2 == 0 else t2 for index in range(50)]
        extra = {'host_config': [HostConfig(port=target.port) for target in targets]}
    before = {server.port: accepted(server) for server in (b1, t1, t2)}
    client = backend.ParallelSSHClient(hosts, proxy_host=LOCALHOST, proxy_port=b1.port, **extra, **kw)
    try:
        output = client.run_command('echo host-%s; echo $SSH_CLIENT; seq 1 2000 | tail -n 1',
                                    host_args=list(range(50)))
        client.join(output, timeout=60)
        assert len(output) == 50
        for index, host_out in enumerate(output):
            assert host_out.exception is None
            lines = list(host_out.stdout)
            assert lines[0] == f'host-{index}'
            client_ip, _port, server_port = lines[1].split()
            assert client_ip == LOCALHOST and int(server_port) == targets[index].port
            assert lines[2] == '2000'
            assert list(host_out.stderr) == []
            assert host_out.exit_code == 0
        # One bastion connection for all 50 targets, from both sides.
        assert len(client._proxy_pool._clients) == 1
        peers = own_tcp_peers()
        assert peers[b1.port] == 1
        assert peers[t1.port] == 0 and peers[t2.port] == 0
        assert accepted(b1) == before[b1.port] + 1
        assert accepted(t1) - before[t1.port] == targets.count(t1)
        assert accepted(t2) - before[t2.port] == targets.count(t2)
        # A second run goes over the same connections.
        output = client.run_command('echo second')
        client.join(output, timeout=60)
        assert [list(host_out.stdout) for host_out in output] == [['second']] * 50
        assert accepted(b1) == before[b1.port] + 1
        assert own_tcp_peers()[b1.port] == 1
    finally:
        client.close()
    assert wait_closed(b1.port) == {}


@pytest.mark.timeout(120)
def test_50_targets_concurrent_output_through_one_bastion(backend, b1, t1, t2, kw):
    """All 50 channels stream at the same time over the one bastion connection."""
    hosts = [LOCALHOST] * 50
    config = [HostConfig(port=(t1 if index % 2 else t2).port) for index in range(50)]
    with backend.ParallelSSHClient(hosts, host_config=config, proxy_host=LOCALHOST,
                                   proxy_port=b1.port, **kw) as client:
        output = client.run_command('seq 1 20000; echo end-%s >&2', host_args=list(range(50)))
        client.join(output, timeout=90)
        for index, host_out in enumerate(output):
            lines = list(host_out.stdout)
            assert len(lines) == 20000 and lines[-1] == '20000'
            assert list(host_out.stderr) == [f'end-{index}']
            assert host_out.exit_code == 0
        assert len(client._proxy_pool._clients) == 1


# ---------------------------------------------------------------------------
# chains of bastions (proxy_jump)


@pytest.mark.timeout(60)
def test_proxy_jump_two_hops_single(backend, group, b1, b2, t1, kw):
    before = [accepted(server) for server in (b1, b2, t1)]
    jump = [f'{group.user}@{LOCALHOST}:{b1.port}', hop(b2)]
    client = backend.SSHClient(LOCALHOST, port=t1.port, proxy_jump=jump, **kw)
    try:
        stdout, stderr, output = run(client, 'echo two-hops; echo e >&2; exit 5')
        assert stdout == ['two-hops'] and stderr == ['e']
        assert output.exit_code == 5
        # We connect only to the first hop; the second hop and the target are
        # reached through it.
        peers = own_tcp_peers()
        assert peers[b1.port] == 1
        assert peers[b2.port] == 0 and peers[t1.port] == 0
        assert [accepted(server) for server in (b1, b2, t1)] == [n + 1 for n in before]
    finally:
        client.close()
    assert wait_closed(b1.port) == {}


@pytest.mark.timeout(90)
def test_proxy_jump_two_hops_parallel(backend, b1, b2, t1, t2, kw):
    before = [accepted(server) for server in (b1, b2, t1, t2)]
    targets = [t1 if index % 2 == 0 else t2 for index in range(10)]
    client = backend.ParallelSSHClient(
        [LOCALHOST] * 10, host_config=[HostConfig(port=target.port) for target in targets],
        proxy_jump=[f'{LOCALHOST}:{b1.port}', f'{LOCALHOST}:{b2.port}'], **kw)
    try:
        output = client.run_command('echo $SSH_CLIENT')
        client.join(output, timeout=60)
        for host_out, target in zip(output, targets):
            lines = list(host_out.stdout)
            assert len(lines) == 1 and int(lines[0].split()[2]) == target.port
            assert host_out.exit_code == 0
        peers = own_tcp_peers()
        assert peers[b1.port] == 1
        assert peers[b2.port] == peers[t1.port] == peers[t2.port] == 0
        # One connection to each bastion of the chain for all ten targets.
        assert accepted(b1) == before[0] + 1
        assert accepted(b2) == before[1] + 1
        assert accepted(t1) == before[2] + 5
        assert accepted(t2) == before[3] + 5
    finally:
        client.close()
    assert wait_closed(b1.port) == {}


@pytest.mark.timeout(60)
def test_proxy_jump_hop_with_its_own_key(backend, b1, own_key_bastion, t1, kw):
    """A hop dict with its own pkey: the second bastion accepts only that key."""
    jump = [hop(b1), hop(own_key_bastion, pkey=own_key_bastion.user_key,
                          user=own_key_bastion.user)]
    with backend.SSHClient(LOCALHOST, port=t1.port, proxy_jump=jump, **kw) as client:
        stdout, _, output = run(client, 'echo keyed')
        assert stdout == ['keyed'] and output.exit_code == 0
    assert wait_closed(b1.port) == {}


@pytest.mark.timeout(60)
def test_second_hop_refusing_auth_is_proxy_error(backend, fresh_bastion, own_key_bastion, t1, kw):
    """Without the hop's key the second bastion refuses: ProxyError naming it, and
    the connection already made to the first hop is not left open."""
    with pytest.raises(ProxyError) as info:
        backend.SSHClient(LOCALHOST, port=t1.port,
                          proxy_jump=[hop(fresh_bastion), hop(own_key_bastion)], **kw)
    assert f'{LOCALHOST}:{own_key_bastion.port}' in str(info.value)
    assert 'authenticat' in str(info.value).lower()
    assert wait_closed(fresh_bastion.port) == {}


@pytest.mark.timeout(60)
def test_proxy_jump_in_host_config(backend, b1, b2, t1, t2, kw):
    config = [HostConfig(port=t1.port, proxy_jump=[hop(b1), hop(b2)]),
              HostConfig(port=t2.port, proxy_jump=[f'{LOCALHOST}:{b2.port}']),
              HostConfig(port=t2.port)]
    with backend.ParallelSSHClient([LOCALHOST] * 3, host_config=config, **kw) as client:
        output = client.run_command('echo $SSH_CLIENT')
        client.join(output, timeout=30)
        ports = [int(next(iter(host_out.stdout)).split()[2]) for host_out in output]
        assert ports == [t1.port, t2.port, t2.port]
        peers = own_tcp_peers()
        # Host 0 enters at b1, host 1 at b2, host 2 goes direct to t2.
        assert peers[b1.port] == 1
        assert peers[b2.port] == 1
        assert peers[t1.port] == 0
        assert peers[t2.port] == 1


# ---------------------------------------------------------------------------
# per-host proxies


@pytest.mark.timeout(60)
def test_per_host_proxies_and_a_direct_host(backend, b1, b2, t1, t2, kw):
    before = [accepted(server) for server in (b1, b2)]
    config = [
        HostConfig(port=t1.port, proxy_host=LOCALHOST, proxy_port=b1.port),
        HostConfig(port=t2.port, proxy_host=LOCALHOST, proxy_port=b2.port),
        HostConfig(port=t1.port),
        HostConfig(port=t2.port, proxy_host=LOCALHOST, proxy_port=b1.port),
    ]
    with backend.ParallelSSHClient([LOCALHOST] * 4, host_config=config, **kw) as client:
        output = client.run_command('echo host-%s $SSH_CLIENT', host_args=range(4))
        client.join(output, timeout=30)
        expected_ports = [t1.port, t2.port, t1.port, t2.port]
        for index, host_out in enumerate(output):
            words = next(iter(host_out.stdout)).split()
            assert words[0] == f'host-{index}'
            assert int(words[3]) == expected_ports[index]
            assert host_out.exit_code == 0
        assert len(client._proxy_pool._clients) == 2
        peers = own_tcp_peers()
        assert peers[b1.port] == 1
        assert peers[b2.port] == 1
        assert peers[t1.port] == 1  # the direct host only
        assert peers[t2.port] == 0
        assert [accepted(server) for server in (b1, b2)] == [n + 1 for n in before]
    assert wait_closed(b1.port, b2.port) == {}


@pytest.mark.timeout(60)
def test_host_config_host_key_settings_reach_its_bastion(backend, b1, t1, t2, kw, tmp_path):
    # A host checked strictly, against a file that knows its key but not the
    # bastion's: its bastion is refused too, not accepted with the client's
    # default. Another host through the same bastion, with no such settings,
    # gets there on a bastion connection of its own.
    known = tmp_path / 'known_hosts'
    known.write_text(t1.known_hosts_line() + '\n')
    tunnelled = {'proxy_host': LOCALHOST, 'proxy_port': b1.port}
    config = [HostConfig(port=t1.port, host_key_policy='strict', known_hosts=str(known),
                         **tunnelled),
              HostConfig(port=t2.port, **tunnelled)]
    with backend.ParallelSSHClient([LOCALHOST] * 2, host_config=config, **kw) as client:
        output = client.run_command('echo ok', stop_on_errors=False)
        client.join(output, timeout=30)
        assert isinstance(output[0].exception, UnknownHostKeyError), output[0].exception
        assert (output[0].exception.host, output[0].exception.port) == (LOCALHOST, b1.port)
        assert output[1].exception is None
        assert list(output[1].stdout) == ['ok']


@pytest.mark.timeout(60)
def test_client_proxy_with_host_config_override(backend, b1, b2, t1, kw):
    """Client-wide proxy_host, one host overriding proxy_port."""
    config = [HostConfig(port=t1.port), HostConfig(port=t1.port, proxy_port=b2.port)]
    with backend.ParallelSSHClient([LOCALHOST] * 2, host_config=config, proxy_host=LOCALHOST,
                                   proxy_port=b1.port, **kw) as client:
        output = client.run_command('echo ok')
        client.join(output, timeout=30)
        assert [list(host_out.stdout) for host_out in output] == [['ok'], ['ok']]
        peers = own_tcp_peers()
        assert peers[b1.port] == 1 and peers[b2.port] == 1 and peers[t1.port] == 0


@pytest.mark.timeout(60)
@pytest.mark.parametrize('client_side', ['proxy_host', 'proxy_jump'])
def test_host_config_proxy_overrides_client_proxy_of_other_kind(backend, b1, b2, t1, kw, client_side):
    """A host's own proxy setting wins over the client's, whichever form
    (proxy_host or proxy_jump) each uses."""
    if client_side == 'proxy_host':
        client_proxy = {'proxy_host': LOCALHOST, 'proxy_port': b1.port}
        override = HostConfig(port=t1.port, proxy_jump=[hop(b2)])
    else:
        client_proxy = {'proxy_jump': [hop(b1)]}
        override = HostConfig(port=t1.port, proxy_host=LOCALHOST, proxy_port=b2.port)
    config = [HostConfig(port=t1.port), override]
    with backend.ParallelSSHClient([LOCALHOST] * 2, host_config=config, **client_proxy,
                                   **kw) as client:
        output = client.run_command('echo ok', stop_on_errors=False)
        assert [host_out.exception for host_out in output] == [None, None]
        client.join(output, timeout=30)
        assert [list(host_out.stdout) for host_out in output] == [['ok'], ['ok']]
        peers = own_tcp_peers()
        assert peers[b1.port] == 1 and peers[b2.port] == 1 and peers[t1.port] == 0


@pytest.mark.timeout(60)
@pytest.mark.parametrize('bad_index', [0, 1])
def test_per_host_proxy_credentials_are_not_mixed(backend, b1, t1, kw, unauthorized_key, group,
                                                  bad_index):
    """Two hosts through the same bastion, proxy settings defaulting to each
    host's own key. The host whose key the bastion refuses fails with
    ProxyError (it does not get through on the other host's bastion login);
    the host with a good key is not failed by the other's bad key."""
    keys = [group.user_key, group.user_key]
    keys[bad_index] = unauthorized_key
    config = [HostConfig(port=t1.port, private_key=key) for key in keys]
    good_index = 1 - bad_index
    with backend.ParallelSSHClient([LOCALHOST] * 2, host_config=config, proxy_host=LOCALHOST,
                                   proxy_port=b1.port, **kw) as client:
        output = client.run_command('echo ok', stop_on_errors=False)
        bad, good = output[bad_index], output[good_index]
        assert isinstance(bad.exception, ProxyError), bad.exception
        assert f'{LOCALHOST}:{b1.port}' in str(bad.exception)
        assert good.exception is None, good.exception
        client.join(output, timeout=30)
        assert list(good.stdout) == ['ok']


# ---------------------------------------------------------------------------
# errors


@pytest.mark.timeout(60)
def test_bad_proxy_key_is_proxy_error_naming_bastion(backend, b1, t1, kw, unauthorized_key):
    started = time.monotonic()
    with pytest.raises(ProxyError) as info:
        backend.SSHClient(LOCALHOST, port=t1.port, proxy_host=LOCALHOST, proxy_port=b1.port,
                          proxy_pkey=unauthorized_key, **kw)
    message = str(info.value)
    assert f'{LOCALHOST}:{b1.port}' in message
    assert 'authenticat' in message.lower()
    assert time.monotonic() - started < 20
    assert wait_closed(b1.port) == {}


@pytest.mark.timeout(60)
def test_bad_proxy_key_parallel(backend, b1, t1, t2, kw, unauthorized_key):
    config = [HostConfig(port=t1.port), HostConfig(port=t2.port)]
    with backend.ParallelSSHClient([LOCALHOST] * 2, host_config=config, proxy_host=LOCALHOST,
                                   proxy_port=b1.port, proxy_pkey=unauthorized_key, **kw) as client:
        with pytest.raises(ProxyError):
            client.run_command('echo never')
        output = client.run_command('echo never', stop_on_errors=False)
        for host_out in output:
            assert isinstance(host_out.exception, ProxyError)
            assert f'{LOCALHOST}:{b1.port}' in str(host_out.exception)
            assert host_out.stdout is None and host_out.exit_code is None
    assert wait_closed(b1.port) == {}


@pytest.mark.timeout(60)
def test_bastion_port_closed_is_proxy_error(backend, t1, kw):
    port = free_port()
    started = time.monotonic()
    with pytest.raises(ProxyError) as info:
        # Retries and delays must not apply to a refused connection.
        backend.SSHClient(LOCALHOST, port=t1.port, proxy_host=LOCALHOST, proxy_port=port,
                          **dict(kw, num_retries=3, retry_delay=5))
    message = str(info.value)
    assert f'{LOCALHOST}:{port}' in message
    assert 'refused' in message.lower()
    assert time.monotonic() - started < 5


@pytest.mark.timeout(60)
def test_bastion_port_closed_parallel(backend, t1, kw):
    port = free_port()
    with backend.ParallelSSHClient([LOCALHOST] * 3, port=t1.port, proxy_host=LOCALHOST,
                                   proxy_port=port, **kw) as client:
        output = client.run_command('echo never', stop_on_errors=False)
        for host_out in output:
            assert isinstance(host_out.exception, ProxyError)
            assert f'{LOCALHOST}:{port}' in str(host_out.exception)


@pytest.mark.timeout(60)
def test_second_hop_closed_is_proxy_error(backend, fresh_bastion, kw, t1):
    port = free_port()
    with pytest.raises(ProxyError) as info:
        backend.SSHClient(LOCALHOST, port=t1.port,
                          proxy_jump=[hop(fresh_bastion), f'{LOCALHOST}:{port}'], **kw)
    assert f'{LOCALHOST}:{port}' in str(info.value)
    # The first hop's connection is closed with the failed client.
    assert wait_closed(fresh_bastion.port) == {}


@pytest.mark.timeout(60)
def test_target_port_closed_behind_bastion_names_both(backend, fresh_bastion, kw):
    bastion = fresh_bastion
    port = free_port()
    started = time.monotonic()
    with pytest.raises((HostConnectionError, ProxyError)) as info:
        backend.SSHClient(LOCALHOST, port=port, proxy_host=LOCALHOST, proxy_port=bastion.port, **kw)
    message = str(info.value)
    assert f'{LOCALHOST}:{port}' in message
    assert f'{LOCALHOST}:{bastion.port}' in message
    assert time.monotonic() - started < 20
    # The bastion connection made for the failed client is not left open.
    assert wait_closed(bastion.port) == {}


@pytest.mark.timeout(60)
def test_target_port_closed_does_not_break_shared_bastion(backend, b1, t1, kw):
    before = accepted(b1)
    port = free_port()
    config = [HostConfig(port=port), HostConfig(port=t1.port), HostConfig(port=port),
              HostConfig(port=t1.port)]
    with backend.ParallelSSHClient([LOCALHOST] * 4, host_config=config, proxy_host=LOCALHOST,
                                   proxy_port=b1.port, **kw) as client:
        output = client.run_command('echo fine', stop_on_errors=False)
        for index in (0, 2):
            exc = output[index].exception
            assert isinstance(exc, (HostConnectionError, ProxyError)), exc
            assert f'{LOCALHOST}:{port}' in str(exc)
            assert f'{LOCALHOST}:{b1.port}' in str(exc)
        client.join(output, timeout=30)
        for index in (1, 3):
            assert output[index].exception is None
            assert list(output[index].stdout) == ['fine']
            assert output[index].exit_code == 0
        assert len(client._proxy_pool._clients) == 1
        assert own_tcp_peers()[b1.port] == 1
        assert accepted(b1) == before + 1


@pytest.mark.waits(2)
@pytest.mark.timeout(60)
def test_silent_target_behind_bastion_times_out(backend, fresh_bastion, kw):
    """A target that accepts TCP but never speaks SSH: the handshake through the
    tunnel times out instead of hanging."""
    listener = MisbehavingListener('silent', LOCALHOST)
    port = listener.port
    try:
        started = time.monotonic()
        with pytest.raises(PsshError) as info:
            backend.SSHClient(LOCALHOST, port=port, proxy_host=LOCALHOST, proxy_port=fresh_bastion.port,
                              **dict(kw, timeout=2))
        assert isinstance(info.value, (Timeout, HostConnectionError)), info.value
        assert f'{LOCALHOST}:{port}' in str(info.value)
        assert time.monotonic() - started < 15
        assert wait_closed(fresh_bastion.port) == {}
    finally:
        listener.close()


@pytest.mark.timeout(30)
def test_proxy_host_and_proxy_jump_together_are_refused(backend, b1, t1, kw):
    with pytest.raises(InvalidAPIUseError):
        backend.SSHClient(LOCALHOST, port=t1.port, proxy_host=LOCALHOST, proxy_port=b1.port,
                          proxy_jump=[hop(b1)], **kw)
    with pytest.raises(InvalidAPIUseError):
        backend.ParallelSSHClient([LOCALHOST], port=t1.port, proxy_host=LOCALHOST, proxy_port=b1.port,
                                  proxy_jump=[hop(b1)], **kw).run_command('true')


@pytest.mark.timeout(30)
@pytest.mark.parametrize('bad_hop', ['user@host:port', 'a:b:c', '', {'port': 22},
                                     {'host': 'x', 'colour': 'red'}, 42])
def test_malformed_hop_is_refused(backend, t1, kw, bad_hop):
    with pytest.raises(InvalidAPIUseError):
        backend.SSHClient(LOCALHOST, port=t1.port, proxy_jump=[bad_hop], **kw)


# ---------------------------------------------------------------------------
# a bastion that dies mid-command


@pytest.mark.timeout(90)
def test_bastion_killed_mid_command_parallel(backend, fresh_bastion, t1, t2, kw):
    bastion = fresh_bastion
    tunnelled = {'proxy_host': LOCALHOST, 'proxy_port': bastion.port}
    config = [HostConfig(port=t1.port, **tunnelled), HostConfig(port=t2.port, **tunnelled),
              HostConfig(port=t1.port, **tunnelled), HostConfig(port=t2.port)]
    commands = ['echo started; sleep 30; echo never'] * 3 + [
        'echo started; read line; echo "got $line"']
    client = backend.ParallelSSHClient([LOCALHOST] * 4, host_config=config, **kw)
    try:
        output = client.run_command('%s', host_args=commands, read_timeout=20)
        # Every command is running: each has printed its first line.
        for host_out in output:
            assert next(host_out.stdout) == 'started'
        assert own_tcp_peers()[bastion.port] == 1
        bastion.stop()
        # The direct host is unaffected: it still takes input and finishes.
        output[3].stdin.write('hello\n')
        started = time.monotonic()
        client.join(output, timeout=20)  # must not raise Timeout
        assert time.monotonic() - started < 20
        for host_out in output[:3]:
            assert isinstance(host_out.channel.error, PsshError)
            assert host_out.exception is host_out.channel.error
            assert 'tunnel through proxy %s:%s failed' % (LOCALHOST, bastion.port) in str(
                host_out.exception)
            assert list(host_out.stdout) == []  # ends, and 'never' never came
            assert list(host_out.stderr) == []
            assert host_out.exit_code is None  # unknown, not made up
            assert host_out.client.finished(host_out.channel)
        assert output[3].channel.error is None and output[3].exception is None
        assert list(output[3].stdout) == ['got hello']
        assert output[3].exit_code == 0
        # A new command does not hang either: tunnelled hosts report an error,
        # the direct host runs.
        again = client.run_command('echo again', stop_on_errors=False, read_timeout=20)
        client.join(again, timeout=20)
        for host_out in again[:3]:
            assert isinstance(host_out.exception, PsshError), host_out.exception
        assert again[3].exception is None
        assert list(again[3].stdout) == ['again']
    finally:
        client.close()


@pytest.mark.timeout(90)
def test_bastion_killed_mid_command_single(backend, fresh_bastion, t1, kw):
    bastion = fresh_bastion
    client = backend.SSHClient(LOCALHOST, port=t1.port, proxy_host=LOCALHOST, proxy_port=bastion.port,
                               **kw)
    try:
        output = client.run_command('echo started; sleep 30; echo never', read_timeout=20)
        assert next(output.stdout) == 'started'
        bastion.stop()
        started = time.monotonic()
        try:
            client.wait_finished(output, timeout=20)
        except Timeout:
            raise AssertionError('wait_finished hung after the bastion died') from None
        except PsshError as exc:
            # Reporting the lost connection here is fine too: it is the channel's error.
            assert exc is output.channel.error
        assert time.monotonic() - started < 20
        assert isinstance(output.channel.error, PsshError)
        assert output.exception is output.channel.error
        # The error says the tunnel failed, naming the target and the bastion.
        assert str(output.channel.error) == (
            'Connection to %s:%s lost: tunnel through proxy %s:%s failed: Connection to %s:%s'
            ' lost: closed by the server' % (LOCALHOST, t1.port, LOCALHOST, bastion.port,
                                             LOCALHOST, bastion.port))
        assert list(output.stdout) == []
        assert output.exit_code is None
        # Further use fails with one of our errors, promptly.
        with pytest.raises(PsshError), gevent.Timeout(20):
            run(client, 'echo again')
    finally:
        client.close()


@pytest.mark.timeout(90)
def test_first_hop_killed_mid_command_two_hops(backend, fresh_bastion, b2, t1, t2, kw):
    bastion = fresh_bastion
    config = [HostConfig(port=t1.port), HostConfig(port=t2.port)]
    client = backend.ParallelSSHClient([LOCALHOST] * 2, host_config=config,
                                       proxy_jump=[hop(bastion), hop(b2)], **kw)
    try:
        output = client.run_command('echo started; sleep 30; echo never', read_timeout=20)
        for host_out in output:
            assert next(host_out.stdout) == 'started'
        bastion.stop()
        client.join(output, timeout=20)
        for host_out in output:
            assert isinstance(host_out.channel.error, PsshError)
            assert list(host_out.stdout) == []
            assert host_out.exit_code is None
    finally:
        client.close()


# ---------------------------------------------------------------------------
# file copies through the tunnel


@pytest.mark.timeout(120)
def test_sftp_copies_50mb_through_bastion(backend, b1, t1, kw, file_50mb, tmp_path):
    local, digest = file_50mb
    remote = str(tmp_path / 'remote' / 'sub' / 'copy.bin')
    back = str(tmp_path / 'back' / 'copy.bin')
    with backend.SSHClient(LOCALHOST, port=t1.port, proxy_host=LOCALHOST, proxy_port=b1.port,
                           **kw) as client:
        client.copy_file(local, remote)
        assert os.path.getsize(remote) == 50 * MB
        assert sha256_file(remote) == digest
        client.copy_remote_file(remote, back)
        assert sha256_file(back) == digest
        assert wait_closed(t1.port) == {}


@pytest.mark.timeout(120)
def test_scp_copies_50mb_through_bastion(backend, b1, t1, kw, file_50mb, tmp_path):
    local, digest = file_50mb
    remote = str(tmp_path / 'remote' / 'scp.bin')
    back = str(tmp_path / 'back_scp.bin')
    with backend.SSHClient(LOCALHOST, port=t1.port, proxy_host=LOCALHOST, proxy_port=b1.port,
                           **kw) as client:
        client.scp_send(local, remote)
        assert sha256_file(remote) == digest
        client.scp_recv(remote, back)
        assert sha256_file(back) == digest


@pytest.mark.slow(5)
@pytest.mark.timeout(120)
def test_parallel_copies_50mb_through_one_bastion(backend, b1, t1, t2, kw, file_50mb, tmp_path):
    local, digest = file_50mb
    config = [HostConfig(port=t1.port), HostConfig(port=t2.port)]
    remote = str(tmp_path / 'remote_%s.bin')
    with backend.ParallelSSHClient([LOCALHOST] * 2, host_config=config, proxy_host=LOCALHOST,
                                   proxy_port=b1.port, **kw) as client:
        greenlets = client.copy_file(local, remote, copy_args=['sftp0', 'sftp1'])
        gevent.joinall(greenlets, raise_error=True, timeout=100)
        greenlets = client.scp_send(local, remote, copy_args=[
            {'local_file': local, 'remote_file': remote % 'scp0'},
            {'local_file': local, 'remote_file': remote % 'scp1'}])
        gevent.joinall(greenlets, raise_error=True, timeout=100)
        for name in ('sftp0', 'sftp1', 'scp0', 'scp1'):
            assert sha256_file(remote % name) == digest, name
        back = str(tmp_path / 'back_%s.bin')
        greenlets = client.copy_remote_file(remote % 'sftp0', back, copy_args=['0', '1'])
        gevent.joinall(greenlets, raise_error=True, timeout=100)
        assert sha256_file(back % '0') == digest
        assert sha256_file(back % '1') == digest
        assert len(client._proxy_pool._clients) == 1
        assert own_tcp_peers()[b1.port] == 1


@pytest.mark.slow(10)
@pytest.mark.timeout(120)
# Seconds long: on pssh.aio once, over libssh2 (CI time).
@pytest.mark.backends('native', 'ssh', 'aio-native')
def test_copy_200mb_through_bastion_slow(backend, b1, t1, kw, tmp_path):
    """Slow-ish: 200 MB up and down through the bastion, within 120 s in all."""
    local = str(tmp_path / 'random_200mb')
    digest = write_random_file(local, 200 * MB)
    remote = str(tmp_path / 'remote_200mb')
    back = str(tmp_path / 'back_200mb')
    with backend.SSHClient(LOCALHOST, port=t1.port, proxy_host=LOCALHOST, proxy_port=b1.port,
                           **kw) as client:
        started = time.monotonic()
        client.copy_file(local, remote)
        upload = time.monotonic() - started
        assert sha256_file(remote) == digest
        started = time.monotonic()
        client.copy_remote_file(remote, back)
        download = time.monotonic() - started
        assert sha256_file(back) == digest
    print(f'200 MB through bastion: upload {upload:.1f}s, download {download:.1f}s')


# ---------------------------------------------------------------------------
# interactive shells through the tunnel


@pytest.mark.timeout(60)
def test_interactive_shell_through_bastion(backend, b1, t1, kw):
    with backend.SSHClient(LOCALHOST, port=t1.port, proxy_host=LOCALHOST, proxy_port=b1.port,
                           **kw) as client:
        with client.open_shell() as shell:
            shell.run('echo $((6 * 7))')
            shell.run('echo to-stderr >&2')
            shell.run('echo $SSH_CLIENT')
        stdout = list(shell.stdout)
        assert '42' in stdout
        assert any(line.split()[-1:] == [str(t1.port)] for line in stdout), stdout
        assert 'to-stderr' in list(shell.stderr)
        assert shell.exit_code == 0
        # The session is still usable after the shell ended.
        assert run(client, 'echo after-shell')[0] == ['after-shell']


@pytest.mark.timeout(60)
def test_parallel_shells_through_bastion(backend, b1, t1, t2, kw):
    config = [HostConfig(port=t1.port), HostConfig(port=t2.port), HostConfig(port=t1.port)]
    with backend.ParallelSSHClient([LOCALHOST] * 3, host_config=config, proxy_host=LOCALHOST,
                                   proxy_port=b1.port, **kw) as client:
        shells = client.open_shell()
        client.run_shell_commands(shells, ['echo first', 'echo second', 'exit 3'])
        client.join_shells(shells, timeout=30)
        for shell in shells:
            assert [line for line in shell.stdout if line in ('first', 'second')] == \
                ['first', 'second']
            assert shell.exit_code == 3
        assert own_tcp_peers()[b1.port] == 1


@pytest.mark.timeout(30)
def test_host_output_type(backend, b1, t1, kw):
    with backend.SSHClient(LOCALHOST, port=t1.port, proxy_host=LOCALHOST, proxy_port=b1.port,
                           **kw) as client:
        output = client.run_command('true')
        assert isinstance(output, HostOutput)
        assert output.host == LOCALHOST
        client.wait_finished(output, timeout=20)
        assert output.exit_code == 0
