"""Integration tests of the native ParallelSSHClient against real OpenSSH servers.

Four servers on 127.0.0.1 (different ports) serve the host_config-per-port
scenarios; two more on 127.0.0.2 and 127.0.0.3 share the port of the first, so
that clients with one ``port`` reach three distinct host names. Refused and
never-answering endpoints live on other loopback addresses, so error messages
can be checked for the host they name.
"""
import logging
import os
import socket
import subprocess
import time

import gevent
import pytest

from pssh import host_logger
from pssh.clients.base.single import InteractiveShell
from pssh.config import HostConfig
from pssh.exceptions import (
    AuthenticationError, HostArgumentError, HostConfigError, InvalidAPIUseError,
    NoIPv6AddressFoundError, PKeyFileError, ShellError, Timeout, UnknownHostError)
from pssh.exceptions import ConnectionError as PsshConnectionError
from pssh.output import HostOutput
from pssh.testing import MisbehavingListener, OpenSSHServer, start_servers

from conftest import AIO_WHEN_ASKED

#: The backends a test here runs on when it asks for the backend fixture (see conftest).
BACKENDS = AIO_WHEN_ASKED

NAMES = ['127.0.0.1', '127.0.0.2', '127.0.0.3']
REFUSED_ADDR = '127.0.0.5'
SILENT_ADDR = '127.0.0.6'
UNKNOWN_HOST = 'no-such-host.invalid'


# ---------------------------------------------------------------------------
# fixtures


@pytest.fixture(scope='module')
def group():
    """Four sshd on 127.0.0.1, one shared user key."""
    with start_servers(4, reexec=False) as servers:
        yield servers


@pytest.fixture(scope='module')
def names(group):
    """sshd on 127.0.0.2 and 127.0.0.3 with the port of group[0]: NAMES all
    reach a server on ``group[0].port``."""
    extra = []
    try:
        for address in NAMES[1:]:
            srv = OpenSSHServer(address, port=group[0].port, user_key=group.user_key)
            srv.start()
            extra.append(srv)
        yield NAMES, group[0].port
    finally:
        for srv in extra:
            srv.stop()


@pytest.fixture(scope='module')
def other_key(tmp_path_factory):
    """A private key that no server accepts."""
    path = str(tmp_path_factory.mktemp('otherkey') / 'id_other')
    subprocess.run(['ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-f', path],
                   check=True, stdin=subprocess.DEVNULL, capture_output=True)
    return path


@pytest.fixture(scope='module')
def refused_port():
    """A port on REFUSED_ADDR that is bound but not listening: connecting is refused."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind((REFUSED_ADDR, 0))
    try:
        yield sock.getsockname()[1]
    finally:
        sock.close()


@pytest.fixture(scope='module')
def silent():
    """Accepts TCP connections on SILENT_ADDR and never sends a byte."""
    with MisbehavingListener('silent', SILENT_ADDR, backlog=128) as srv:
        yield srv


@pytest.fixture
def make_client(backend, group):
    """Factory of clients with safe defaults (key only, no agent, no identities,
    one try, timeout 10); closes them afterwards."""
    made = []

    def make(hosts, **kwargs):
        settings = dict(user=group.user, pkey=group.user_key, allow_agent=False,
                        identity_auth=False, num_retries=1, timeout=10)
        settings.update(kwargs)
        client = backend.ParallelSSHClient(hosts, **settings)
        made.append(client)
        return client

    yield make
    for client in made:
        client.close()


def port_config(group, n, **kwargs):
    """host_config sending host i to group server i % 4."""
    return [HostConfig(port=group.ports[i % len(group)], **kwargs) for i in range(n)]


def lines(stream):
    return list(stream)


def contains_identical(items, obj):
    return any(item is obj for item in items)


class ListHandler(logging.Handler):
    def __init__(self):
        super().__init__(logging.INFO)
        self.messages = []

    def emit(self, record):
        self.messages.append(record.getMessage())


@pytest.fixture
def host_log():
    handler = ListHandler()
    old_level = host_logger.level
    host_logger.addHandler(handler)
    host_logger.setLevel(logging.INFO)
    try:
        yield handler.messages
    finally:
        host_logger.removeHandler(handler)
        host_logger.setLevel(old_level)


# ---------------------------------------------------------------------------
# running commands


@pytest.mark.timeout(60)
def test_run_command_echo_ok_over_host_config_ports(group, make_client):
    client = make_client(['127.0.0.1'] * 4, host_config=port_config(group, 4))
    output = client.run_command('echo ok; echo $SSH_CONNECTION')
    assert isinstance(output, list)
    assert len(output) == 4
    assert all(isinstance(host_out, HostOutput) for host_out in output)
    client.join(output)
    for index, host_out in enumerate(output):
        assert host_out.host == '127.0.0.1'
        assert host_out.exception is None
        stdout = lines(host_out.stdout)
        assert stdout[0] == 'ok'
        # SSH_CONNECTION = client_ip client_port server_ip server_port
        assert stdout[1].split()[2:] == ['127.0.0.1', str(group.ports[index])]
        assert lines(host_out.stderr) == []
        assert host_out.exit_code == 0
        assert host_out.fully_qualified_command == b'echo ok; echo $SSH_CONNECTION'


@pytest.mark.timeout(60)
def test_output_in_host_order_with_distinct_names(names, make_client):
    hosts, port = names
    client = make_client(hosts, port=port)
    output = client.run_command('echo $SSH_CONNECTION; echo err >&2; exit 3')
    client.join(output)
    assert [host_out.host for host_out in output] == hosts
    for host, host_out in zip(hosts, output):
        (line,) = lines(host_out.stdout)
        assert line.split()[2:] == [host, str(port)]
        assert lines(host_out.stderr) == ['err']
        assert host_out.exit_code == 3
        assert host_out.alias is None


@pytest.mark.timeout(60)
def test_exit_codes_per_host(group, make_client):
    client = make_client(['127.0.0.1'] * 4, host_config=port_config(group, 4))
    output = client.run_command('exit %s', host_args=[0, 1, 2, 255])
    client.join(output)
    assert [host_out.exit_code for host_out in output] == [0, 1, 2, 255]


@pytest.mark.timeout(60)
def test_alias_from_host_config(group, make_client):
    config = port_config(group, 2)
    config[0] = HostConfig(port=group.ports[0], alias='x')
    client = make_client(['127.0.0.1'] * 2, host_config=config)
    output = client.run_command('echo hi')
    client.join(output)
    assert output[0].alias == 'x'
    assert output[0].host == '127.0.0.1'
    assert output[1].alias is None
    assert output[0].client.alias == 'x'
    assert [lines(host_out.stdout) for host_out in output] == [['hi'], ['hi']]
    assert "alias=x" in repr(output[0])


@pytest.mark.timeout(60)
def test_default_user_is_local_user(names, make_client):
    import getpass
    hosts, port = names
    client = make_client(hosts[:1], port=port, user=None)
    output = client.run_command('id -un')
    client.join(output)
    assert lines(output[0].stdout) == [getpass.getuser()]
    assert output[0].client.user == getpass.getuser()


@pytest.mark.slow(3)
@pytest.mark.timeout(90)
def test_120_concurrent_connections(group, make_client):
    count = 120
    client = make_client(['127.0.0.1'] * count, host_config=port_config(group, count))
    output = client.run_command('echo $((%d * 7)) $SSH_CONNECTION', host_args=list(range(count)))
    assert len(output) == count
    client.join(output, timeout=60)
    client_ports = set()
    for index, host_out in enumerate(output):
        assert host_out.exception is None
        (line,) = lines(host_out.stdout)
        value, _cip, cport, sip, sport = line.split()
        assert int(value) == index * 7
        assert (sip, int(sport)) == ('127.0.0.1', group.ports[index % 4])
        client_ports.add((cport, sport))
        assert host_out.exit_code == 0
    # every position has its own connection (a local port may be reused
    # towards another server port, so count (client port, server port) pairs)
    assert len(client_ports) == count
    assert len({id(host_out.client) for host_out in output}) == count

    # The commands run at the same time: 120 x 1 s of sleep take about 1 s.
    start = time.monotonic()
    second = client.run_command('sleep 1; echo %d', host_args=list(range(count)))
    client.join(second, timeout=30)
    assert time.monotonic() - start < 15
    for index, host_out in enumerate(second):
        assert lines(host_out.stdout) == [str(index)]
        # the connections are reused
        assert host_out.client is output[index].client


@pytest.mark.timeout(60)
def test_pool_size_smaller_than_hosts(group, make_client):
    client = make_client(['127.0.0.1'] * 6, host_config=port_config(group, 6), pool_size=2)
    output = client.run_command('echo %s', host_args=['a', 'b', 'c', 'd', 'e', 'f'])
    client.join(output)
    assert [lines(host_out.stdout) for host_out in output] == [
        ['a'], ['b'], ['c'], ['d'], ['e'], ['f']]


@pytest.mark.timeout(60)
def test_connections_reused_between_runs(names, make_client):
    hosts, port = names
    client = make_client(hosts, port=port)
    first = client.run_command('echo 1')
    client.join(first)
    second = client.run_command('echo 2')
    client.join(second)
    for one, two in zip(first, second):
        assert two.client is one.client
        assert lines(one.stdout) == ['1']
        assert lines(two.stdout) == ['2']


# ---------------------------------------------------------------------------
# the hosts argument


@pytest.mark.timeout(60)
@pytest.mark.parametrize('kind', ['generator', 'filter', 'tuple', 'iterator'])
def test_hosts_any_iterable(names, make_client, kind):
    hosts, port = names
    given = {
        'generator': (host for host in hosts),
        'filter': filter(None, hosts + ['']),
        'tuple': tuple(hosts),
        'iterator': iter(hosts),
    }[kind]
    client = make_client(given, port=port)
    assert client.hosts == hosts
    assert isinstance(client.hosts, list)
    output = client.run_command('echo $SSH_CONNECTION')
    client.join(output)
    assert [host_out.host for host_out in output] == hosts
    for host, host_out in zip(hosts, output):
        assert lines(host_out.stdout)[0].split()[2] == host


def test_hosts_none_is_value_error(backend, group):
    with pytest.raises(ValueError):
        backend.ParallelSSHClient(None, pkey=group.user_key, allow_agent=False,
                                  identity_auth=False, num_retries=1, timeout=10)


@pytest.mark.parametrize('hosts', ['127.0.0.1', b'127.0.0.1'], ids=['str', 'bytes'])
def test_hosts_str_is_type_error(backend, group, hosts):
    with pytest.raises(TypeError):
        backend.ParallelSSHClient(hosts, pkey=group.user_key, allow_agent=False,
                                  identity_auth=False, num_retries=1, timeout=10)


@pytest.mark.timeout(60)
def test_duplicate_hosts_get_own_connections(group, make_client):
    client = make_client(['127.0.0.1'] * 3, port=group.ports[0])
    output = client.run_command('echo $PPID $SSH_CONNECTION')
    client.join(output)
    parents, client_ports = set(), set()
    for host_out in output:
        (line,) = lines(host_out.stdout)
        ppid, _cip, cport, _sip, sport = line.split()
        assert int(sport) == group.ports[0]
        parents.add(ppid)
        client_ports.add(cport)
    assert len(parents) == 3
    assert len(client_ports) == 3
    assert len({id(host_out.client) for host_out in output}) == 3


@pytest.mark.timeout(60)
def test_reassign_hosts_keeps_unchanged_positions(names, make_client):
    hosts, port = names
    client = make_client(hosts, port=port)
    first = client.run_command('echo $SSH_CONNECTION')
    client.join(first)
    old_clients = [host_out.client for host_out in first]

    new_hosts = [hosts[0], hosts[2], hosts[2], hosts[1]]
    client.hosts = new_hosts
    assert client.hosts == new_hosts
    second = client.run_command('echo $SSH_CONNECTION')
    client.join(second)
    assert [host_out.host for host_out in second] == new_hosts
    for host, host_out in zip(new_hosts, second):
        assert lines(host_out.stdout)[0].split()[2] == host
    assert second[0].client is old_clients[0]      # (0, .1) unchanged
    assert second[2].client is old_clients[2]      # (2, .3) unchanged
    assert second[1].client is not old_clients[1]  # (1, .2) -> (1, .3)
    assert second[1].client is not old_clients[2]
    assert second[3].client not in old_clients     # new position

    # Shrinking: output covers only the new hosts; a generator is fine too.
    client.hosts = (host for host in [new_hosts[0]])
    third = client.run_command('echo $SSH_CONNECTION')
    client.join(third)
    assert len(third) == 1
    assert third[0].client is old_clients[0]
    assert lines(third[0].stdout)[0].split()[2] == hosts[0]


def test_reassign_hosts_validates(names, make_client):
    hosts, port = names
    client = make_client(hosts, port=port)
    with pytest.raises(ValueError):
        client.hosts = None
    with pytest.raises(TypeError):
        client.hosts = 'localhost'


# ---------------------------------------------------------------------------
# host_args


@pytest.mark.timeout(60)
def test_host_args_tuples(names, make_client):
    hosts, port = names
    client = make_client(hosts, port=port)
    output = client.run_command('echo %s-%s', host_args=[(0, 'a'), (1, 'b'), (2, 'c')])
    client.join(output)
    assert [lines(host_out.stdout) for host_out in output] == [['0-a'], ['1-b'], ['2-c']]
    assert [host_out.fully_qualified_command for host_out in output] == [
        b'echo 0-a', b'echo 1-b', b'echo 2-c']


@pytest.mark.timeout(60)
def test_host_args_dicts(names, make_client):
    hosts, port = names
    client = make_client(hosts, port=port)
    output = client.run_command('echo %(word)s %(num)d',
                                host_args=[{'word': 'x', 'num': 1}, {'word': 'y', 'num': 2},
                                           {'word': 'z', 'num': 3}])
    client.join(output)
    assert [lines(host_out.stdout) for host_out in output] == [['x 1'], ['y 2'], ['z 3']]
    assert output[1].fully_qualified_command == b'echo y 2'


@pytest.mark.timeout(60)
def test_host_args_single_values(names, make_client):
    hosts, port = names
    client = make_client(hosts, port=port)
    output = client.run_command('echo %s', host_args=['one', 2, 'three'])
    client.join(output)
    assert [lines(host_out.stdout) for host_out in output] == [['one'], ['2'], ['three']]


@pytest.mark.timeout(60)
def test_host_args_with_shell_in_fully_qualified_command(names, make_client):
    hosts, port = names
    client = make_client(hosts, port=port)
    output = client.run_command('echo %s', host_args=['a', '"it\'s"', 'd'], shell='sh -c')
    client.join(output)
    assert output[0].fully_qualified_command == b"sh -c 'echo a'"
    assert output[1].fully_qualified_command == b"""sh -c 'echo "it'\\''s"'"""
    assert [lines(host_out.stdout) for host_out in output] == [['a'], ["it's"], ['d']]


@pytest.mark.timeout(60)
def test_host_args_fewer_than_hosts(names, make_client):
    hosts, port = names
    client = make_client(hosts, port=port)
    with pytest.raises(HostArgumentError):
        client.run_command('echo %s', host_args=['a', 'b'])
    with pytest.raises(HostArgumentError):
        client.run_command('echo %s', host_args=[])


# ---------------------------------------------------------------------------
# errors


@pytest.mark.timeout(60)
def test_stop_on_errors_refused(group, make_client, refused_port):
    config = [HostConfig(port=group.ports[0]), HostConfig(port=refused_port)]
    client = make_client(['127.0.0.1', REFUSED_ADDR], host_config=config)
    with pytest.raises(ConnectionRefusedError) as info:
        client.run_command('echo ok')
    assert isinstance(info.value, PsshConnectionError)
    assert REFUSED_ADDR in str(info.value)


@pytest.mark.timeout(60)
def test_stop_on_errors_unknown_host(make_client):
    client = make_client([UNKNOWN_HOST])
    with pytest.raises(UnknownHostError) as info:
        client.run_command('echo ok')
    assert UNKNOWN_HOST in str(info.value)


@pytest.mark.timeout(60)
def test_stop_on_errors_raises_first_failing_host_in_order(group, make_client, refused_port):
    config = [HostConfig(port=group.ports[0]), HostConfig(port=22),
              HostConfig(port=refused_port)]
    client = make_client(['127.0.0.1', UNKNOWN_HOST, REFUSED_ADDR], host_config=config)
    with pytest.raises(UnknownHostError):
        client.run_command('echo ok')


@pytest.mark.timeout(60)
def test_no_stop_on_errors_failed_host_output(group, make_client, refused_port):
    config = [HostConfig(port=group.ports[0]),
              HostConfig(port=refused_port, alias='bad'),
              HostConfig(port=group.ports[1])]
    client = make_client(['127.0.0.1', REFUSED_ADDR, '127.0.0.1'], host_config=config)
    output = client.run_command('echo good', stop_on_errors=False)
    assert len(output) == 3
    bad = output[1]
    assert bad.host == REFUSED_ADDR
    assert bad.alias == 'bad'
    assert isinstance(bad.exception, ConnectionRefusedError)
    assert REFUSED_ADDR in str(bad.exception)
    for attr in ('stdout', 'stderr', 'stdin', 'channel', 'client', 'exit_code'):
        assert getattr(bad, attr) is None, attr
    client.join(output)
    assert client.finished(output)
    for host_out in (output[0], output[2]):
        assert host_out.exception is None
        assert lines(host_out.stdout) == ['good']
        assert host_out.exit_code == 0


@pytest.mark.timeout(60)
def test_mixed_good_and_bad_hosts(names, make_client, refused_port, silent, other_key):
    hosts, port = names
    all_hosts = [hosts[0], REFUSED_ADDR, UNKNOWN_HOST, hosts[1], SILENT_ADDR, hosts[2]]
    config = [
        HostConfig(),
        HostConfig(port=refused_port),
        HostConfig(),
        HostConfig(private_key=other_key),           # key not authorised
        HostConfig(port=silent.port, timeout=1),     # never answers
        HostConfig(alias='last'),
    ]
    client = make_client(all_hosts, port=port, host_config=config)
    start = time.monotonic()
    output = client.run_command('echo $SSH_CONNECTION', stop_on_errors=False)
    started = time.monotonic() - start
    # The bad hosts fail in parallel with each other and with the good ones:
    # the whole run takes about the silent host's 1 s timeout.
    assert started < 5, started
    client.join(output, timeout=10)
    assert [host_out.host for host_out in output] == all_hosts
    for index in (0, 5):
        host_out = output[index]
        assert host_out.exception is None
        assert lines(host_out.stdout)[0].split()[2] == all_hosts[index]
        assert host_out.exit_code == 0
    assert output[5].alias == 'last'
    expected = {1: ConnectionRefusedError, 2: UnknownHostError, 3: AuthenticationError,
                4: (Timeout, PsshConnectionError)}
    for index, exc_type in expected.items():
        host_out = output[index]
        assert isinstance(host_out.exception, exc_type), (index, repr(host_out.exception))
        assert all_hosts[index] in str(host_out.exception), str(host_out.exception)
        assert host_out.stdout is None and host_out.client is None


@pytest.mark.timeout(60)
def test_unresponsive_hosts_time_out_in_parallel(silent, make_client):
    client = make_client([SILENT_ADDR] * 6, port=silent.port, timeout=1)
    start = time.monotonic()
    output = client.run_command('echo ok', stop_on_errors=False)
    elapsed = time.monotonic() - start
    assert elapsed < 4, elapsed
    for host_out in output:
        assert isinstance(host_out.exception, (Timeout, PsshConnectionError))
        assert SILENT_ADDR in str(host_out.exception)


@pytest.mark.timeout(60)
def test_hang_up_retried_then_connection_error(make_client):
    # Sends a line that is not an SSH banner and closes every connection.
    server = MisbehavingListener('not_ssh', SILENT_ADDR)
    try:
        client = make_client([SILENT_ADDR] * 3, port=server.port, num_retries=2,
                             retry_delay=0.5, timeout=5)
        start = time.monotonic()
        output = client.run_command('echo ok', stop_on_errors=False)
        elapsed = time.monotonic() - start
    finally:
        server.stop()
    # each host tried twice, half a second apart, all hosts at the same time
    assert 0.45 <= elapsed < 3, elapsed
    assert server.accepted == 6
    for host_out in output:
        assert isinstance(host_out.exception, PsshConnectionError), repr(host_out.exception)
        assert not isinstance(host_out.exception, ConnectionRefusedError)
        assert SILENT_ADDR in str(host_out.exception)


@pytest.mark.timeout(60)
def test_per_host_timeout_with_no_client_timeout(group, silent, make_client):
    config = [HostConfig(port=group.ports[0]), HostConfig(port=silent.port, timeout=1)]
    client = make_client(['127.0.0.1', SILENT_ADDR], host_config=config, timeout=None)
    start = time.monotonic()
    output = client.run_command('echo ok', stop_on_errors=False)
    assert time.monotonic() - start < 4
    assert isinstance(output[1].exception, (Timeout, PsshConnectionError))
    client.join(output)
    assert lines(output[0].stdout) == ['ok']


@pytest.mark.timeout(60)
def test_refused_is_not_retried(refused_port, make_client):
    client = make_client([REFUSED_ADDR] * 2, port=refused_port, num_retries=3, retry_delay=5)
    start = time.monotonic()
    output = client.run_command('echo ok', stop_on_errors=False)
    assert time.monotonic() - start < 2
    assert all(isinstance(host_out.exception, ConnectionRefusedError) for host_out in output)


@pytest.mark.timeout(60)
def test_ipv6_only_without_ipv6_address(group, make_client):
    client = make_client(['127.0.0.1'], port=group.ports[0], ipv6_only=True)
    output = client.run_command('echo ok', stop_on_errors=False)
    assert isinstance(output[0].exception, NoIPv6AddressFoundError)
    assert '127.0.0.1' in str(output[0].exception)


@pytest.mark.timeout(60)
def test_wrong_password(names, make_client):
    hosts, port = names
    client = make_client(hosts[:1], port=port, pkey=None, password='not-the-password')
    output = client.run_command('echo ok', stop_on_errors=False)
    assert isinstance(output[0].exception, AuthenticationError)
    assert hosts[0] in str(output[0].exception)


# ---------------------------------------------------------------------------
# per-host configuration


@pytest.mark.timeout(60)
def test_per_host_false_and_zero_win(group, make_client):
    config = [
        HostConfig(port=group.ports[0], keepalive_seconds=0, allow_agent=False,
                   identity_auth=False, compress=False, num_retries=2, retry_delay=0.5,
                   timeout=7),
        HostConfig(port=group.ports[1]),
    ]
    client = make_client(['127.0.0.1'] * 2, host_config=config, keepalive_seconds=60,
                         allow_agent=True, identity_auth=True, compress=True)
    output = client.run_command('echo ok')
    client.join(output)
    assert [lines(host_out.stdout) for host_out in output] == [['ok'], ['ok']]
    overridden, inherited = output[0].client, output[1].client
    assert overridden.keepalive_seconds == 0
    assert overridden.allow_agent is False
    assert overridden.identity_auth is False
    assert overridden.compress is False
    assert overridden.num_retries == 2
    assert overridden.retry_delay == 0.5
    assert overridden.timeout == 7
    assert overridden.port == group.ports[0]
    assert inherited.keepalive_seconds == 60
    assert inherited.allow_agent is True
    assert inherited.identity_auth is True
    assert inherited.compress is True
    assert inherited.num_retries == 1
    assert inherited.timeout == 10
    assert inherited.port == group.ports[1]


@pytest.mark.timeout(60)
def test_keyboard_interactive_and_agent_forwarding_passed_on(group, make_client, backend):
    forward = True
    config = [HostConfig(port=group.ports[0], keyboard_interactive=False,
                         forward_ssh_agent=False),
              HostConfig(port=group.ports[1])]
    client = make_client(['127.0.0.1'] * 2, host_config=config, keyboard_interactive=True,
                         password='unused-passphrase', forward_ssh_agent=forward)
    output = client.run_command('echo ok')
    client.join(output)
    assert [lines(host_out.stdout) for host_out in output] == [['ok'], ['ok']]
    assert output[0].client.keyboard_interactive is False
    assert output[0].client.forward_ssh_agent is False
    assert output[1].client.keyboard_interactive is True
    assert output[1].client.forward_ssh_agent is forward


@pytest.mark.timeout(60)
def test_per_host_user_and_private_key(group, make_client, other_key):
    n = 5
    config = [
        HostConfig(port=group.ports[0], private_key=group.user_key),         # path
        HostConfig(port=group.ports[1], private_key=group.user_key_bytes),   # bytes
        HostConfig(port=group.ports[2]),                                      # client's key
        HostConfig(port=group.ports[3], private_key=group.user_key,
                   user='pssh-no-such-user'),
        HostConfig(port=group.ports[0], private_key=group.user_key, user=group.user),
    ]
    client = make_client(['127.0.0.1'] * n, host_config=config, pkey=other_key,
                         user=group.user)
    output = client.run_command('id -un', stop_on_errors=False)
    client.join(output)
    for index in (0, 1, 4):
        assert output[index].exception is None, repr(output[index].exception)
        assert lines(output[index].stdout) == [group.user]
    assert isinstance(output[2].exception, AuthenticationError)
    assert isinstance(output[3].exception, AuthenticationError)
    assert 'pssh-no-such-user' in str(output[3].exception)


@pytest.mark.timeout(60)
def test_client_user_overridden_per_host(group, make_client):
    config = [HostConfig(port=group.ports[0], user=group.user), HostConfig(port=group.ports[1])]
    client = make_client(['127.0.0.1'] * 2, host_config=config, user='pssh-no-such-user')
    output = client.run_command('id -un', stop_on_errors=False)
    client.join(output)
    assert lines(output[0].stdout) == [group.user]
    assert isinstance(output[1].exception, AuthenticationError)


@pytest.mark.timeout(60)
def test_pkey_file_read_once(group, make_client, tmp_path):
    path = tmp_path / 'key'
    path.write_bytes(group.user_key_bytes)
    os.chmod(path, 0o600)
    client = make_client(['127.0.0.1'] * 2, host_config=port_config(group, 2), pkey=str(path))
    path.unlink()
    output = client.run_command('echo ok')
    client.join(output)
    assert [lines(host_out.stdout) for host_out in output] == [['ok'], ['ok']]


@pytest.mark.timeout(60)
def test_pkey_as_bytes(group, make_client):
    client = make_client(['127.0.0.1'] * 2, host_config=port_config(group, 2),
                         pkey=group.user_key_bytes)
    output = client.run_command('echo ok')
    client.join(output)
    assert [lines(host_out.stdout) for host_out in output] == [['ok'], ['ok']]


def test_host_config_not_a_list(backend, group):
    with pytest.raises(HostConfigError):
        backend.ParallelSSHClient(['127.0.0.1'], host_config=(HostConfig(port=group.ports[0]),),
                                  pkey=group.user_key, allow_agent=False, identity_auth=False,
                                  num_retries=1, timeout=10)
    with pytest.raises(HostConfigError):
        backend.ParallelSSHClient(['127.0.0.1'], host_config='port=22', pkey=group.user_key,
                                  allow_agent=False, identity_auth=False, num_retries=1, timeout=10)


def test_host_config_wrong_length(backend, group):
    with pytest.raises(ValueError):
        backend.ParallelSSHClient(['127.0.0.1'] * 3, host_config=port_config(group, 2),
                                  pkey=group.user_key, allow_agent=False, identity_auth=False,
                                  num_retries=1, timeout=10)


def test_host_config_bad_values():
    with pytest.raises(ValueError):
        HostConfig(port='x')
    with pytest.raises(ValueError):
        HostConfig(timeout='soon')
    with pytest.raises(InvalidAPIUseError):
        HostConfig(keyboard_interactive=True)
    HostConfig(timeout=1.5, retry_delay=2)  # ints and floats both fit


def test_missing_pkey_file(backend, tmp_path):
    with pytest.raises(PKeyFileError):
        backend.ParallelSSHClient(['127.0.0.1'], pkey=str(tmp_path / 'missing'), allow_agent=False,
                                  identity_auth=False, num_retries=1, timeout=10)
    with pytest.raises(PKeyFileError):
        backend.ParallelSSHClient(['127.0.0.1'], pkey='~/pssh-no-such-key-file', allow_agent=False,
                                  identity_auth=False, num_retries=1, timeout=10)


def test_keyboard_interactive_needs_password(backend):
    with pytest.raises(InvalidAPIUseError):
        backend.ParallelSSHClient(['127.0.0.1'], keyboard_interactive=True, allow_agent=False,
                                  identity_auth=False, num_retries=1, timeout=10)
    backend.ParallelSSHClient(['127.0.0.1'], keyboard_interactive=True, password='pw',
                              allow_agent=False, identity_auth=False, num_retries=1, timeout=10)


# ---------------------------------------------------------------------------
# join, finished, get_last_output


@pytest.mark.timeout(60)
def test_join_without_argument_joins_last_run(names, make_client):
    hosts, port = names
    client = make_client(hosts, port=port)
    assert client.join() is None  # nothing ran yet
    output = client.run_command('sleep 0.3; echo done; exit 4')
    assert client.join() is None
    assert client.finished(output)
    for host_out in output:
        assert host_out.exit_code == 4
        assert lines(host_out.stdout) == ['done']


def test_join_non_list(names, make_client):
    hosts, port = names
    client = make_client(hosts, port=port)
    with pytest.raises(ValueError):
        client.join('not output')
    with pytest.raises(ValueError):
        client.join(42)


@pytest.mark.timeout(60)
def test_join_timeout(names, make_client):
    hosts, port = names
    client = make_client(hosts, port=port)
    # Host 0 waits for a line on its stdin, written once the timeout was seen.
    output = client.run_command('%s', host_args=['read x; echo late', 'echo a', 'echo b'])
    start = time.monotonic()
    with pytest.raises(Timeout) as info:
        client.join(output, timeout=1)
    elapsed = time.monotonic() - start
    assert 0.9 <= elapsed < 2.5, elapsed
    args = info.value.args
    assert len(args) == 4
    assert isinstance(args[0], str)
    assert args[1] == 1
    finished, unfinished = args[2], args[3]
    assert len(unfinished) == 1 and unfinished[0] is output[0]
    assert len(finished) == 2
    assert contains_identical(finished, output[1]) and contains_identical(finished, output[2])
    assert output[0].exit_code is None
    assert not client.finished(output)
    # Output stays readable, and join can be called again.
    assert lines(output[1].stdout) == ['a']
    output[0].stdin.write('go\n')
    client.join(output)
    assert client.finished(output)
    assert lines(output[0].stdout) == ['late']
    assert lines(output[2].stdout) == ['b']
    assert [host_out.exit_code for host_out in output] == [0, 0, 0]


@pytest.mark.timeout(60)
def test_join_timeout_is_overall_not_per_host(names, make_client):
    hosts, port = names
    client = make_client(hosts, port=port)
    output = client.run_command('read x')  # until a line is written to its stdin
    start = time.monotonic()
    with pytest.raises(Timeout) as info:
        client.join(output, timeout=0.5)
    assert time.monotonic() - start < 1.4
    assert len(info.value.args[3]) == 3
    assert info.value.args[2] == []
    for host_out in output:
        host_out.stdin.write('go\n')
    client.join(output)
    assert [host_out.exit_code for host_out in output] == [0, 0, 0]


@pytest.mark.timeout(60)
def test_join_consume_output(names, make_client, host_log):
    hosts, port = names
    client = make_client(hosts, port=port)
    output = client.run_command('echo line1; echo line2; echo oops >&2')
    client.join(output, consume_output=True)
    for host_out in output:
        assert lines(host_out.stdout) == []
        assert lines(host_out.stderr) == []
        assert host_out.exit_code == 0
    for host in hosts:
        assert '[%s]\tline1' % host in host_log
        assert '[%s]\tline2' % host in host_log
        assert '[%s]\t[err]\toops' % host in host_log


@pytest.mark.timeout(60)
def test_join_then_read_large_output(names, make_client):
    hosts, port = names
    client = make_client(hosts, port=port)
    output = client.run_command('seq 1 300000')
    client.join(output, timeout=30)
    for host_out in output:
        stdout = lines(host_out.stdout)
        assert len(stdout) == 300000
        assert stdout[0] == '1' and stdout[-1] == '300000'
        assert host_out.exit_code == 0


@pytest.mark.timeout(60)
def test_finished_and_get_last_output(names, make_client):
    hosts, port = names
    client = make_client(hosts, port=port)
    assert client.finished() is True
    assert client.get_last_output() is None
    output = client.run_command('read x')  # until a line is written to its stdin
    assert client.get_last_output() is output
    assert client.finished(output) is False
    assert client.finished() is False
    for host_out in output:
        host_out.stdin.write('go\n')
    client.join(output)
    assert client.finished(output) is True
    assert client.finished() is True
    second = client.run_command('echo x')
    assert client.get_last_output() is second
    client.join()
    assert client.finished()


# ---------------------------------------------------------------------------
# connect_auth


# Inspects connect_auth's greenlets and their values; the asyncio connect_auth is awaited.
@pytest.mark.backends('native', 'ssh')
@pytest.mark.timeout(60)
def test_connect_auth(group, make_client):
    client = make_client(['127.0.0.1'] * 4, host_config=port_config(group, 4))
    greenlets = client.connect_auth()
    assert len(greenlets) == 4
    assert all(isinstance(greenlet, gevent.Greenlet) for greenlet in greenlets)
    gevent.joinall(greenlets, raise_error=True)
    connected = [greenlet.value for greenlet in greenlets]
    start = time.monotonic()
    output = client.run_command('echo ok')
    assert time.monotonic() - start < 2
    client.join(output)
    for index, host_out in enumerate(output):
        assert host_out.client is connected[index]
        assert lines(host_out.stdout) == ['ok']


# Runs while connect_auth's greenlets are unjoined; the asyncio connect_auth is awaited.
@pytest.mark.backends('native', 'ssh')
@pytest.mark.timeout(60)
def test_connect_auth_not_joined_before_run_command(group, make_client):
    """run_command while connect_auth's greenlets are still connecting must use
    the same connection per position, not open a second one."""
    client = make_client(['127.0.0.1'] * 2, host_config=port_config(group, 2))
    greenlets = client.connect_auth()
    output = client.run_command('echo $SSH_CONNECTION')
    gevent.joinall(greenlets, raise_error=True)
    client.join(output)
    second = client.run_command('echo $SSH_CONNECTION')
    client.join(second)
    for index in range(2):
        assert output[index].client is greenlets[index].value
        assert second[index].client is output[index].client
        assert lines(second[index].stdout) == lines(output[index].stdout)


@pytest.mark.timeout(60)
def test_concurrent_first_runs_share_connections(group, make_client):
    client = make_client(['127.0.0.1'] * 2, host_config=port_config(group, 2))
    first = gevent.spawn(client.run_command, 'echo a')
    second = gevent.spawn(client.run_command, 'echo b')
    gevent.joinall([first, second], raise_error=True)
    for one, two in zip(first.value, second.value):
        assert one.client is two.client
    client.join(first.value)
    client.join(second.value)
    assert [lines(host_out.stdout) for host_out in first.value] == [['a'], ['a']]
    assert [lines(host_out.stdout) for host_out in second.value] == [['b'], ['b']]


@pytest.mark.timeout(60)
def test_connect_auth_error(group, make_client, refused_port):
    config = [HostConfig(port=group.ports[0]), HostConfig(port=refused_port)]
    client = make_client(['127.0.0.1', REFUSED_ADDR], host_config=config)
    greenlets = client.connect_auth()
    with pytest.raises(ConnectionRefusedError):
        gevent.joinall(greenlets, raise_error=True)


# ---------------------------------------------------------------------------
# shells


@pytest.mark.timeout(60)
def test_shells(names, make_client):
    hosts, port = names
    client = make_client(hosts, port=port)
    shells = client.open_shell()
    assert len(shells) == 3
    assert all(isinstance(shell, InteractiveShell) for shell in shells)
    client.run_shell_commands(shells, ['echo a', 'echo b'])
    client.run_shell_commands(shells, 'echo $SSH_CONNECTION')
    client.join_shells(shells)
    for host, shell in zip(hosts, shells):
        stdout = lines(shell.stdout)
        assert stdout[:2] == ['a', 'b']
        assert stdout[2].split()[2] == host
        assert len(stdout) == 3
        assert shell.exit_code == 0


@pytest.mark.timeout(60)
def test_run_shell_commands_on_closed_shell(names, make_client):
    hosts, port = names
    client = make_client(hosts[:2], port=port)
    shells = client.open_shell()
    client.run_shell_commands(shells, 'echo one')
    client.join_shells(shells)
    with pytest.raises(ShellError):
        client.run_shell_commands(shells, 'echo two')
    # the connections still run commands
    output = client.run_command('echo after')
    client.join(output)
    assert [lines(host_out.stdout) for host_out in output] == [['after'], ['after']]
    assert output[0].client is shells[0].output.client


@pytest.mark.waits(3)
@pytest.mark.timeout(60)
def test_join_shells_timeout(names, make_client):
    hosts, port = names
    client = make_client(hosts[:2], port=port)
    shells = client.open_shell()
    client.run_shell_commands(shells[:1], 'sleep 3; echo slept')
    client.run_shell_commands(shells[1:], 'echo quick')
    start = time.monotonic()
    with pytest.raises(Timeout) as info:
        client.join_shells(shells, timeout=1)
    assert time.monotonic() - start < 2.5
    args = info.value.args
    assert len(args) == 4
    assert args[1] == 1
    assert len(args[2]) == 1 and args[2][0] is shells[1]
    assert len(args[3]) == 1 and args[3][0] is shells[0]
    assert lines(shells[1].stdout) == ['quick']
    # The slow shell still ends, and its output is all there.
    client.join([shell.output for shell in shells], timeout=10)
    assert lines(shells[0].stdout) == ['slept']
    assert shells[0].exit_code == 0


# ---------------------------------------------------------------------------
# reading


@pytest.mark.timeout(60)
def test_read_timeout(names, make_client):
    hosts, port = names
    client = make_client(hosts[:2], port=port)
    output = client.run_command('echo a; read x; echo b', read_timeout=1)
    for host_out in output:
        assert host_out.read_timeout == 1
    got = []
    start = time.monotonic()
    with pytest.raises(Timeout):
        for line in output[0].stdout:
            got.append(line)
    assert got == ['a']
    assert 0.9 <= time.monotonic() - start < 2.5
    for host_out in output:
        host_out.stdin.write('go\n')
    client.join(output)
    assert lines(output[0].stdout) == ['b']
    assert lines(output[1].stdout) == ['a', 'b']


@pytest.mark.timeout(60)
def test_use_pty_merges_stderr(names, make_client):
    hosts, port = names
    client = make_client(hosts, port=port)
    output = client.run_command('echo out; echo err >&2', use_pty=True)
    client.join(output)
    for host_out in output:
        assert lines(host_out.stdout) == ['out', 'err']
        assert lines(host_out.stderr) == []
        assert host_out.exit_code == 0


@pytest.mark.timeout(60)
def test_slow_host_does_not_delay_others(group, make_client):
    client = make_client(['127.0.0.1'] * 4, host_config=port_config(group, 4))
    output = client.run_command(
        '%s', host_args=['read x; echo slow', 'echo fast1', 'echo fast2', 'echo fast3'])
    start = time.monotonic()
    for index in (1, 2, 3):
        assert lines(output[index].stdout) == ['fast%d' % index]
    assert time.monotonic() - start < 2.5  # host 0 waits for a line on its stdin
    assert output[0].exit_code is None
    assert not client.finished(output)
    output[0].stdin.write('go\n')
    client.join(output)
    assert lines(output[0].stdout) == ['slow']


@pytest.mark.timeout(60)
def test_concurrent_readers(group, make_client):
    client = make_client(['127.0.0.1'] * 8, host_config=port_config(group, 8))
    output = client.run_command('seq 1 %d', host_args=[1000 * (i + 1) for i in range(8)])
    readers = [gevent.spawn(lines, host_out.stdout) for host_out in output]
    gevent.joinall(readers, timeout=30, raise_error=True)
    for index, reader in enumerate(readers):
        assert reader.value == [str(n) for n in range(1, 1000 * (index + 1) + 1)]


@pytest.mark.timeout(60)
def test_stdin_per_host(names, make_client):
    hosts, port = names
    client = make_client(hosts, port=port)
    output = client.run_command('head -n 1')
    for index, host_out in enumerate(output):
        host_out.stdin.write('line%d\n' % index)
        host_out.stdin.flush()
    client.join(output, timeout=10)
    assert [lines(host_out.stdout) for host_out in output] == [['line0'], ['line1'], ['line2']]


@pytest.mark.timeout(60)
def test_encoding(names, make_client):
    hosts, port = names
    client = make_client(hosts[:1], port=port)
    output = client.run_command(r"printf '\351t\351\n'", encoding='latin-1')
    client.join(output)
    assert lines(output[0].stdout) == ['\xe9t\xe9']
    with pytest.raises(LookupError):
        client.run_command('echo x', encoding='no-such-codec')


@pytest.mark.timeout(60)
def test_overlapping_runs_on_same_connections(names, make_client):
    hosts, port = names
    client = make_client(hosts, port=port)
    slow = client.run_command('read x; echo first')  # until a line is written to its stdin
    fast = client.run_command('echo second')
    assert [lines(host_out.stdout) for host_out in fast] == [['second']] * 3
    assert slow[0].exit_code is None
    for host_out in slow:
        host_out.stdin.write('go\n')
    client.join(slow)
    assert [lines(host_out.stdout) for host_out in slow] == [['first']] * 3
    assert client.get_last_output() is fast
    for one, two in zip(slow, fast):
        assert one.client is two.client


@pytest.mark.timeout(60)
def test_hosts_list_modified_in_place(names, make_client):
    hosts, port = names
    client = make_client(list(hosts[:2]), port=port)
    first = client.run_command('echo $SSH_CONNECTION')
    client.join(first)
    client.hosts.append(hosts[2])
    client.hosts[0] = hosts[1]
    output = client.run_command('echo $SSH_CONNECTION')
    client.join(output)
    assert [host_out.host for host_out in output] == [hosts[1], hosts[1], hosts[2]]
    for host_out in output:
        assert lines(host_out.stdout)[0].split()[2] == host_out.host
    assert output[1].client is first[1].client
    assert output[0].client is not first[0].client


@pytest.mark.waits(2)
@pytest.mark.timeout(60)
def test_run_command_does_not_wait_for_commands(group, make_client):
    client = make_client(['127.0.0.1'] * 4, host_config=port_config(group, 4), pool_size=2)
    client.join(client.run_command('true'))  # connect first
    start = time.monotonic()
    output = client.run_command('sleep 2; echo done')
    assert time.monotonic() - start < 1.5
    assert not client.finished(output)
    client.join(output)
    assert time.monotonic() - start < 4.5  # all four ran at once despite pool_size=2
    assert [lines(host_out.stdout) for host_out in output] == [['done']] * 4
