"""Exceptions as code written for parallel-ssh 2.16 inspects them (issue 13,
items 13-17): their classes, ``.args``, ``.errno``; no raw library exception;
host names libssh's own parser refuses; the port a ``proxy_host`` is reached on.

Every test runs against both backends, on real OpenSSH servers.
"""
import errno
import os
import socket

import gevent
import pytest
import ssh.exceptions
import ssh2.exceptions

from pssh.config import HostConfig
from pssh.exceptions import (
    AuthenticationError, ConnectTimeoutError, HostConnectionError, HostConnectionRefusedError,
    NoIPv6AddressFoundError, ProxyError, PsshError, UnknownHostError, UnknownHostKeyError)
from pssh.testing import MisbehavingListener, OpenSSHServer

from _net import machine_lock, refused_port, wait_closed
from conftest import ALL_BACKENDS

#: The backends a test here runs on when it asks for the backend fixture (see conftest).
BACKENDS = ALL_BACKENDS

LOCALHOST = '127.0.0.1'
PASSWORD = 'not-the-password-8c1f'


def closed_port(address=LOCALHOST):
    """A port on ``address`` with nothing listening (bound and held, never listening)."""
    return refused_port(address)


def run(client, command):
    output = client.run_command(command)
    client.wait_finished(output, timeout=30)
    return list(output.stdout), output.exit_code


def on_libssh2(backend):
    """True for the clients on ssh2-python (native, and pssh.aio over it)."""
    return backend.name in ('native', 'aio-native')


def library_error(backend):
    """The base class of the backend library's own exceptions."""
    return ssh2.exceptions.SSH2Error if on_libssh2(backend) else ssh.exceptions.BaseSSHError


# ---------------------------------------------------------------------------
# 13. A refused connection is the OS's ConnectionRefusedError, with host and port


def assert_refused(exc, host, port):
    assert isinstance(exc, HostConnectionRefusedError), repr(exc)
    assert isinstance(exc, ConnectionRefusedError)
    assert isinstance(exc, ConnectionError)
    assert isinstance(exc, PsshError)
    assert exc.errno == errno.ECONNREFUSED
    assert exc.strerror == os.strerror(errno.ECONNREFUSED)
    assert exc.args == (errno.ECONNREFUSED, os.strerror(errno.ECONNREFUSED), host, port)
    assert f'{host}:{port}' in str(exc) and 'refused' in str(exc)


@pytest.mark.timeout(30)
def test_refused_from_single_client(backend, client_kwargs):
    port = closed_port()
    with pytest.raises(ConnectionRefusedError) as info:
        backend.SSHClient(LOCALHOST, **dict(client_kwargs, port=port, num_retries=3, retry_delay=5))
    assert_refused(info.value, LOCALHOST, port)


@pytest.mark.timeout(30)
def test_refused_as_host_output_exception(backend, server, client_kwargs):
    port = closed_port()
    config = [HostConfig(port=port), HostConfig(port=server.port)]
    with backend.ParallelSSHClient([LOCALHOST, LOCALHOST], host_config=config,
                                   **dict(client_kwargs, retry_delay=5)) as client:
        output = client.run_command('echo fine', stop_on_errors=False)
        client.join(output, timeout=30)
        assert_refused(output[0].exception, LOCALHOST, port)
        assert output[0].exit_code is None
        assert output[1].exception is None and list(output[1].stdout) == ['fine']


@pytest.mark.timeout(30)
def test_refused_from_copy_greenlet(backend, tmp_path, client_kwargs):
    port = closed_port()
    local = tmp_path / 'data'
    local.write_bytes(b'data')
    with backend.ParallelSSHClient([LOCALHOST], **dict(client_kwargs, port=port)) as client:
        greenlets = client.copy_file(str(local), str(tmp_path / 'copy'))
        gevent.joinall(greenlets, timeout=30)
        with pytest.raises(ConnectionRefusedError) as info:
            greenlets[0].get()
    assert_refused(info.value, LOCALHOST, port)
    assert not (tmp_path / 'copy').exists()


@pytest.mark.timeout(30)
def test_refused_target_behind_a_bastion(backend, server, client_kwargs):
    """Only the bastion sees the TCP refusal; SSH reports it to us as a failed
    channel open, without the OS's error: a HostConnectionError (so a
    ConnectionError) naming the target and the bastion, not a
    ConnectionRefusedError."""
    port = closed_port()
    with pytest.raises(HostConnectionError) as info:
        backend.SSHClient(LOCALHOST, **dict(client_kwargs, port=port, proxy_host=LOCALHOST,
                                            proxy_port=server.port))
    exc = info.value
    assert isinstance(exc, ConnectionError) and not isinstance(exc, ConnectionRefusedError)
    assert exc.args[1:3] == (LOCALHOST, port)
    assert f'{LOCALHOST}:{server.port}' in str(exc)
    assert wait_closed(server.port) == {}


# ---------------------------------------------------------------------------
# 14. NoIPv6AddressFoundError lists the addresses the name did resolve to


@pytest.mark.timeout(30)
def test_no_ipv6_address_lists_addresses(backend, server, client_kwargs):
    with pytest.raises(NoIPv6AddressFoundError) as info:
        backend.SSHClient(LOCALHOST, **dict(client_kwargs, ipv6_only=True))
    exc = info.value
    assert exc.args[1:] == (LOCALHOST, [(LOCALHOST, server.port)])
    assert isinstance(exc.args[0], str)
    assert LOCALHOST in str(exc) and 'IPv6' in str(exc)
    with backend.ParallelSSHClient([LOCALHOST], **dict(client_kwargs, ipv6_only=True)) as client:
        output = client.run_command('true', stop_on_errors=False)
    assert isinstance(output[0].exception, NoIPv6AddressFoundError)
    assert output[0].exception.args[1:] == (LOCALHOST, [(LOCALHOST, server.port)])


# ---------------------------------------------------------------------------
# 15. AuthenticationError, connection and unknown-host errors: 2.16's .args


def expected_auth_cause(backend):
    return (ssh2.exceptions.AuthenticationError if on_libssh2(backend)
            else ssh.exceptions.AuthenticationDenied)


@pytest.mark.timeout(30)
def test_failed_password_login_args(backend, server, client_kwargs):
    kwargs = dict(client_kwargs, pkey=None, password=PASSWORD, num_retries=2, retry_delay=5)
    with pytest.raises(AuthenticationError) as info:
        backend.SSHClient(LOCALHOST, **kwargs)
    exc = info.value
    message, host, port, cause, attempt, num_retries = exc.args
    assert (host, port, attempt, num_retries) == (LOCALHOST, server.port, 1, 2)
    assert type(cause) is expected_auth_cause(backend)
    text = str(exc)
    assert f'{LOCALHOST}:{server.port}' in text
    assert server.user in text and 'password' in text
    for shown in (text, repr(exc), repr(cause), str(cause), message):
        assert PASSWORD not in shown
    # The parallel client reports the same error per host.
    with backend.ParallelSSHClient([LOCALHOST], **kwargs) as client:
        output = client.run_command('true', stop_on_errors=False)
    exc = output[0].exception
    assert isinstance(exc, AuthenticationError)
    assert exc.args[1:3] == (LOCALHOST, server.port) and exc.args[4:] == (1, 2)
    assert type(exc.args[3]) is expected_auth_cause(backend)


@pytest.mark.timeout(30)
def test_failed_key_login_args(backend, server, client_kwargs, make_key, tmp_path):
    stranger = make_key(tmp_path / 'id_stranger')
    with pytest.raises(AuthenticationError) as info:
        backend.SSHClient(LOCALHOST, **dict(client_kwargs, pkey=stranger))
    exc = info.value
    assert exc.args[1:3] == (LOCALHOST, server.port) and exc.args[4:] == (1, 1)
    assert isinstance(exc.args[3], library_error(backend))
    assert server.user in str(exc) and stranger in str(exc)


@pytest.mark.timeout(30)
def test_nothing_to_try_has_no_cause(backend, server, client_kwargs):
    with pytest.raises(AuthenticationError) as info:
        backend.SSHClient(LOCALHOST, **dict(client_kwargs, pkey=None))
    assert info.value.args[1:] == (LOCALHOST, server.port, None, 1, 1)
    assert 'nothing' in str(info.value)


@pytest.fixture
def closing_listener():
    """A loopback port that accepts connections and closes them at once."""
    with MisbehavingListener('hang_up', LOCALHOST) as listener:
        yield listener


@pytest.mark.timeout(30)
def test_connection_error_after_retries_args(backend, closing_listener, client_kwargs):
    port = closing_listener.port
    with pytest.raises(HostConnectionError) as info:
        backend.SSHClient(LOCALHOST, **dict(client_kwargs, port=port, num_retries=2, retry_delay=0.1))
    exc = info.value
    assert not isinstance(exc, ConnectionRefusedError)
    message, host, port_, reason, attempt, num_retries = exc.args
    assert (host, port_, attempt, num_retries) == (LOCALHOST, port, 2, 2)
    assert isinstance(message, str) and isinstance(reason, str) and reason
    assert f'{LOCALHOST}:{port}' in str(exc) and reason in str(exc)
    assert closing_listener.accepted == 2


@pytest.fixture
def silent_listener():
    """A loopback port that accepts TCP connections and never says anything."""
    with MisbehavingListener('silent', LOCALHOST) as listener:
        yield listener.port


@pytest.mark.timeout(30)
def test_connect_timeout_args(backend, silent_listener, client_kwargs):
    port = silent_listener
    with pytest.raises(ConnectTimeoutError) as info:
        backend.SSHClient(LOCALHOST, **dict(client_kwargs, port=port, timeout=0.5, num_retries=1))
    exc = info.value
    assert isinstance(exc, TimeoutError) and isinstance(exc, ConnectionError)
    assert exc.args[1:3] == (LOCALHOST, port) and exc.args[4:] == (1, 1)
    assert isinstance(exc.args[3], str) and exc.args[3] in str(exc)


@pytest.mark.timeout(30)
def test_unknown_host_args(backend, client_kwargs):
    host = 'no-such-host.invalid'
    with pytest.raises(UnknownHostError) as info:
        backend.SSHClient(host, **dict(client_kwargs, num_retries=3, retry_delay=5))
    exc = info.value
    message, host_, reason, attempt, num_retries = exc.args
    assert (host_, attempt, num_retries) == (host, 1, 3)
    assert isinstance(message, str) and isinstance(reason, str) and reason
    assert host in str(exc) and reason in str(exc)


# ---------------------------------------------------------------------------
# 16. Host names libssh's own option parser refuses connect like any other


UNDERSCORE_HOST = 'pssh_test_host-13'


@pytest.fixture
def underscore_host():
    """``UNDERSCORE_HOST`` resolving to 127.0.0.1 for the test (an /etc/hosts
    line, removed afterwards)."""
    line = '%s %s\n' % (LOCALHOST, UNDERSCORE_HOST)
    # Test workers running side by side (pytest-xdist) take turns: each removes
    # every copy of the line when it is done.
    with machine_lock('etc-hosts'):
        try:
            with open('/etc/hosts', 'a') as fh:
                fh.write(line)
        except OSError:
            pytest.skip('/etc/hosts is not writable here')
        try:
            assert socket.getaddrinfo(UNDERSCORE_HOST, 22)[0][4][0] == LOCALHOST
            yield UNDERSCORE_HOST
        finally:
            with open('/etc/hosts') as fh:
                lines = fh.readlines()
            with open('/etc/hosts', 'w') as fh:
                fh.writelines(kept for kept in lines if kept != line)


@pytest.mark.timeout(30)
def test_underscore_host_name_connects(backend, underscore_host, server, client_kwargs, tmp_path):
    # Host keys are checked against the name as known_hosts has it.
    with open(server.host_key_pub) as fh:
        key = fh.read().strip()
    known_hosts = tmp_path / 'known_hosts'
    known_hosts.write_text('[%s]:%s %s\n' % (underscore_host, server.port, key))
    kwargs = dict(client_kwargs, host_key_policy='strict', known_hosts=str(known_hosts))
    client = backend.SSHClient(underscore_host, **kwargs)
    try:
        assert client.host == underscore_host
        assert run(client, 'echo under') == (['under'], 0)
    finally:
        client.close()
    with backend.ParallelSSHClient([underscore_host], **kwargs) as parallel:
        output = parallel.run_command('echo parallel')
        parallel.join(output, timeout=30)
        assert output[0].host == underscore_host
        assert list(output[0].stdout) == ['parallel'] and output[0].exit_code == 0
    # A known_hosts entry for the address alone does not vouch for the name.
    known_hosts.write_text('[%s]:%s %s\n' % (LOCALHOST, server.port, key))
    with pytest.raises(UnknownHostKeyError) as info:
        backend.SSHClient(underscore_host, **kwargs)
    assert underscore_host in str(info.value)


# ---------------------------------------------------------------------------
# 17. proxy_host without proxy_port: the target's own SSH port


@pytest.fixture(scope='module')
def same_port_pair():
    """A target sshd on 127.0.0.2:P and a bastion sshd on 127.0.0.3:P, one key."""
    with OpenSSHServer('127.0.0.2') as target:
        with OpenSSHServer('127.0.0.3', target.port, user_key=target.user_key) as bastion:
            yield target, bastion


def logins(server):
    return server.read_log().count('Accepted publickey')


def pair_kwargs(target):
    return dict(user=target.user, pkey=target.user_key, num_retries=1, timeout=10,
                allow_agent=False, identity_auth=False)


@pytest.mark.timeout(60)
def test_proxy_host_uses_target_port(backend, same_port_pair):
    target, bastion = same_port_pair
    before = logins(bastion)
    client = backend.SSHClient(target.host, port=target.port, proxy_host=bastion.host,
                               **pair_kwargs(target))
    try:
        assert run(client, 'echo via') == (['via'], 0)
    finally:
        client.close()
    assert logins(bastion) == before + 1
    with backend.ParallelSSHClient([target.host], port=target.port, proxy_host=bastion.host,
                                   **pair_kwargs(target)) as parallel:
        output = parallel.run_command('echo parallel')
        parallel.join(output, timeout=30)
        assert list(output[0].stdout) == ['parallel'] and output[0].exception is None
    assert logins(bastion) == before + 2


@pytest.mark.timeout(60)
def test_host_config_proxy_host_uses_its_port(backend, same_port_pair):
    """The HostConfig's port, not the client's (22), is the proxy's too."""
    target, bastion = same_port_pair
    before = logins(bastion)
    config = [HostConfig(port=target.port, proxy_host=bastion.host)]
    with backend.ParallelSSHClient([target.host], host_config=config,
                                   **pair_kwargs(target)) as parallel:
        output = parallel.run_command('echo configured')
        parallel.join(output, timeout=30)
        assert list(output[0].stdout) == ['configured'] and output[0].exception is None
    assert logins(bastion) == before + 1


@pytest.mark.timeout(60)
def test_proxy_port_from_its_ssh_config_entry_wins(backend, same_port_pair, tmp_path):
    target, bastion = same_port_pair
    port = closed_port(bastion.host)
    config = tmp_path / 'ssh_config'
    config.write_text('Host %s\n    Port %s\n' % (bastion.host, port))
    with pytest.raises(ProxyError) as info:
        backend.SSHClient(target.host, port=target.port, proxy_host=bastion.host,
                          ssh_config=str(config), **pair_kwargs(target))
    assert f'{bastion.host}:{port}' in str(info.value)


@pytest.mark.timeout(60)
def test_proxy_jump_keeps_port_22(backend, same_port_pair):
    target, bastion = same_port_pair
    with socket.socket() as probe:
        probe.settimeout(2)
        if probe.connect_ex((bastion.host, 22)) == 0:
            pytest.skip('something listens on %s:22' % bastion.host)
    with pytest.raises(ProxyError) as info:
        backend.SSHClient(target.host, port=target.port, proxy_jump=bastion.host,
                          **pair_kwargs(target))
    assert f'{bastion.host}:22' in str(info.value)
