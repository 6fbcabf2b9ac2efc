"""Local port forwarding with pssh.clients.native.tunnel: TunnelServer and
LocalForwarder, against the module's real sshd and plain TCP servers started
on loopback by the tests."""
import hashlib
import logging
import os
import socket
import subprocess
import sys

import gevent
import pytest
from gevent import socket as gsocket
from gevent.event import Event
from gevent.queue import Queue
from gevent.server import StreamServer

from pssh.clients.native.tunnel import LocalForwarder, TunnelServer
from pssh.exceptions import PsshError

BACKENDS = ('native', 'ssh')

pytestmark = pytest.mark.timeout(60)


# ---------------------------------------------------------------------------
# Targets: plain TCP servers on loopback, in this process's hub.


class Target:
    """A TCP server on loopback; ``ended`` is set once per connection whose
    peer (the sshd, forwarding for us) ended its sending."""

    def __init__(self, handle):
        self.ended = []
        #: The ``ended`` event of each connection, as it is accepted.
        self.accepted = Queue()
        self._handle = handle
        self.server = StreamServer(('127.0.0.1', 0), self._serve)
        self.server.start()
        self.port = self.server.server_port

    def _serve(self, sock, _address):
        ended = Event()
        self.ended.append(ended)
        self.accepted.put(ended)
        self._handle(sock, ended)

    def stop(self):
        self.server.stop(timeout=1)


def echo(sock, ended):
    """Send back what comes, until end of file; then close."""
    while True:
        data = sock.recv(65536)
        if not data:
            ended.set()
            return
        sock.sendall(data)


def sink(sock, ended):
    """Count what comes until end of file, then answer with the count and its SHA-256."""
    digest, count = hashlib.sha256(), 0
    while True:
        data = sock.recv(65536)
        if not data:
            break
        digest.update(data)
        count += len(data)
    ended.set()
    sock.sendall(b'%d %s' % (count, digest.hexdigest().encode()))


def speak_then_close(sock, ended):
    """Say goodbye and close at once, without reading."""
    sock.sendall(b'bye\n')


def wait_for_eof(sock, ended):
    """Read until the peer ends; reply nothing."""
    while sock.recv(65536):
        pass
    ended.set()


def flood(sock, ended):
    """Send without end, until the connection fails."""
    block = b'x' * 65536
    try:
        while True:
            sock.sendall(block)
    except OSError:
        ended.set()


@pytest.fixture
def target(request):
    targets = []

    def start(handle=echo):
        made = Target(handle)
        targets.append(made)
        return made
    yield start
    for made in targets:
        made.stop()


@pytest.fixture
def client(backend, server, client_kwargs):
    with backend.SSHClient(server.host, **client_kwargs) as connected:
        yield connected


@pytest.fixture
def tunnels():
    """``tunnels(client, host, port, **kwargs)``: a started TunnelServer, stopped afterwards."""
    made = []

    def start(client, host, port, **kwargs):
        tunnel = TunnelServer(client, host, port, **kwargs)
        made.append(tunnel)
        tunnel.start()
        return tunnel
    yield start
    for tunnel in made:
        tunnel.stop()


def connect(tunnel):
    return gsocket.create_connection(('127.0.0.1', tunnel.listen_port), timeout=10)


def read_all(sock):
    chunks = []
    while True:
        data = sock.recv(65536)
        if not data:
            return b''.join(chunks)
        chunks.append(data)


def closed_by_peer(sock):
    """True if the peer closed ``sock``: end of file, or a reset (a socket closed
    with bytes it had not read resets the connection)."""
    try:
        return sock.recv(65536) == b''
    except ConnectionResetError:
        return True


def round_trip(tunnel, payload):
    sock = connect(tunnel)
    try:
        sock.sendall(payload)
        sock.shutdown(socket.SHUT_WR)
        return read_all(sock)
    finally:
        sock.close()


# ---------------------------------------------------------------------------
# TunnelServer


def test_listen_port_is_a_free_local_port_once_started(client):
    tunnel = TunnelServer(client, '127.0.0.1', 22)
    assert tunnel.listen_port is None
    assert (tunnel.client, tunnel.host, tunnel.port, tunnel.bind_address) == (
        client, '127.0.0.1', 22, '127.0.0.1')
    assert tunnel.session is client.session
    tunnel.start()
    try:
        assert tunnel.started
        assert isinstance(tunnel.listen_port, int) and tunnel.listen_port > 0
        assert tunnel.socket.getsockname() == ('127.0.0.1', tunnel.listen_port)
    finally:
        tunnel.stop()
    assert tunnel.listen_port is None
    assert not tunnel.started


def test_connection_reaches_a_tcp_target(client, target, tunnels):
    remote = target(echo)
    tunnel = tunnels(client, '127.0.0.1', remote.port)
    assert round_trip(tunnel, b'hello through the tunnel\n') == b'hello through the tunnel\n'
    assert tunnel.exception is None


def test_speak_ssh_through_the_tunnel_to_the_sshd(backend, server, client, client_kwargs, tunnels):
    tunnel = tunnels(client, server.host, server.port)
    sock = connect(tunnel)
    try:
        assert sock.recv(4).startswith(b'SSH-')
    finally:
        sock.close()
    kwargs = dict(client_kwargs, port=tunnel.listen_port, host_key_policy='no')
    with backend.SSHClient('127.0.0.1', **kwargs) as inner:
        output = inner.run_command('echo "$SSH_CONNECTION"; echo done')
        inner.wait_finished(output)
        lines = list(output.stdout)
    assert output.exit_code == 0
    assert lines[-1] == 'done'


def test_several_connections_at_once(client, target, tunnels):
    remote = target(echo)
    tunnel = tunnels(client, '127.0.0.1', remote.port)
    socks = [connect(tunnel) for _ in range(8)]
    try:
        # Each waits for its own answer while all are open.
        for number, sock in enumerate(socks):
            sock.sendall(b'connection %d\n' % number)
        answers = [sock.recv(100) for sock in socks]
        assert answers == [b'connection %d\n' % number for number in range(8)]
        jobs = [gevent.spawn(round_trip, tunnel, os.urandom(100_000)) for _ in range(4)]
        gevent.joinall(jobs, raise_error=True)
        assert all(len(job.value) == 100_000 for job in jobs)
    finally:
        for sock in socks:
            sock.close()
    assert len(remote.ended) == 12


def test_large_data_both_ways_at_once(client, target, tunnels):
    remote = target(echo)
    tunnel = tunnels(client, '127.0.0.1', remote.port)
    payload = os.urandom(6 * 1024 * 1024)
    sock = connect(tunnel)
    try:
        writer = gevent.spawn(lambda: (sock.sendall(payload), sock.shutdown(socket.SHUT_WR)))
        received = read_all(sock)
        writer.get()
    finally:
        sock.close()
    assert len(received) == len(payload)
    assert hashlib.sha256(received).digest() == hashlib.sha256(payload).digest()


def test_large_upload_then_answer_after_local_end_of_file(client, target, tunnels):
    remote = target(sink)
    tunnel = tunnels(client, '127.0.0.1', remote.port)
    payload = os.urandom(5 * 1024 * 1024 + 7)
    answer = round_trip(tunnel, payload)
    assert answer == b'%d %s' % (len(payload), hashlib.sha256(payload).hexdigest().encode())


def test_remote_side_closing_ends_the_local_connection(client, target, tunnels):
    remote = target(speak_then_close)
    tunnel = tunnels(client, '127.0.0.1', remote.port)
    sock = connect(tunnel)
    try:
        assert read_all(sock) == b'bye\n'   # then end of file
    finally:
        sock.close()
    # The tunnel's handler finishes: the forwarded connection is gone.
    assert tunnel._pool.join(timeout=10)
    assert round_trip(tunnel, b'') == b'bye\n'   # and the server still serves


def test_local_side_closing_reaches_the_target(client, target, tunnels):
    remote = target(wait_for_eof)
    tunnel = tunnels(client, '127.0.0.1', remote.port)
    sock = connect(tunnel)
    sock.sendall(b'some data, then gone')
    sock.close()
    assert remote.accepted.get(timeout=10).wait(10)
    assert tunnel._pool.join(timeout=10)


def test_local_reset_while_the_target_sends_ends_quietly(client, target, tunnels, capsys):
    remote = target(flood)
    tunnel = tunnels(client, '127.0.0.1', remote.port)
    sock = connect(tunnel)
    assert len(sock.recv(65536)) > 0
    # Close with a reset (SO_LINGER 0), with the target still sending.
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b'\1\0\0\0\0\0\0\0')
    sock.close()
    assert remote.accepted.get(timeout=10).wait(10)   # the target's connection closed too
    assert tunnel._pool.join(timeout=10)
    # An ordinary end of a connection: no traceback from a crashed greenlet.
    assert 'Traceback' not in capsys.readouterr().err
    again = connect(tunnel)   # the server still serves
    try:
        assert len(again.recv(65536)) > 0
    finally:
        again.close()


def test_stop_closes_every_forwarded_connection(client, target, tunnels):
    remote = target(echo)
    tunnel = tunnels(client, '127.0.0.1', remote.port)
    port = tunnel.listen_port
    socks = [connect(tunnel) for _ in range(3)]
    for sock in socks:
        sock.sendall(b'ping')
        assert sock.recv(4) == b'ping'
    tunnel.stop()
    try:
        assert all(closed_by_peer(sock) for sock in socks)
        assert all(ended.wait(10) for ended in remote.ended)
    finally:
        for sock in socks:
            sock.close()
    assert tunnel.listen_port is None
    with pytest.raises(ConnectionRefusedError):
        gsocket.create_connection(('127.0.0.1', port), timeout=10)
    tunnel.stop()   # again: nothing left to do
    # The client itself is untouched.
    output = client.run_command('echo still here')
    client.wait_finished(output)
    assert list(output.stdout) == ['still here']


def test_unreachable_target_closes_the_connection_and_logs(client, tunnels, caplog):
    # Bound but not listening: connections to it are refused, until listen().
    closed = gsocket.socket()
    closed.bind(('127.0.0.1', 0))
    port = closed.getsockname()[1]
    try:
        tunnel = tunnels(client, '127.0.0.1', port, num_retries=2)
        with caplog.at_level(logging.ERROR, logger='pssh.clients.native.tunnel'):
            sock = connect(tunnel)
            try:
                sock.sendall(b'anyone?')
                assert closed_by_peer(sock)
            finally:
                sock.close()
        errors = [record for record in caplog.records if record.levelno == logging.ERROR]
        assert len(errors) == 1
        assert '127.0.0.1:%d' % port in errors[0].getMessage()
        assert isinstance(tunnel.exception, PsshError)
        # The server goes on: once the target listens, connections get through.
        closed.listen(5)
        echo_once = gevent.spawn(closed.accept)
        sock = connect(tunnel)
        try:
            sock.sendall(b'now?')
            accepted = echo_once.get(timeout=10)[0]
            try:
                assert accepted.recv(10) == b'now?'
                accepted.sendall(b'yes')
            finally:
                accepted.close()
            assert read_all(sock) == b'yes'
        finally:
            sock.close()
    finally:
        closed.close()


def test_the_tunnel_of_a_closed_client_refuses_connections_cleanly(backend, server, client_kwargs,
                                                                  target, tunnels):
    remote = target(echo)
    own = backend.SSHClient(server.host, **client_kwargs)
    tunnel = tunnels(own, '127.0.0.1', remote.port)
    own.close()
    sock = connect(tunnel)
    try:
        assert closed_by_peer(sock)
    finally:
        sock.close()
    assert isinstance(tunnel.exception, PsshError)


def _has_ipv6_loopback():
    try:
        with socket.socket(socket.AF_INET6) as probe:
            probe.bind(('::1', 0))
        return True
    except OSError:
        return False


@pytest.mark.skipif(not _has_ipv6_loopback(), reason='no IPv6 loopback')
def test_listens_on_an_ipv6_bind_address(client, target, tunnels):
    remote = target(echo)
    tunnel = tunnels(client, '127.0.0.1', remote.port, bind_address='::1')
    assert tunnel.socket.family == socket.AF_INET6
    sock = gsocket.create_connection(('::1', tunnel.listen_port), timeout=10)
    try:
        sock.sendall(b'six')
        sock.shutdown(socket.SHUT_WR)
        assert read_all(sock) == b'six'
    finally:
        sock.close()


def test_bad_arguments(client):
    with pytest.raises(TypeError, match='port'):
        TunnelServer(client, '127.0.0.1', '22')
    with pytest.raises(ValueError, match='port'):
        TunnelServer(client, '127.0.0.1', 70000)
    with pytest.raises(TypeError, match='host'):
        TunnelServer(client, None, 22)
    with pytest.raises(ValueError, match='num_retries'):
        TunnelServer(client, '127.0.0.1', 22, num_retries=0)


# ---------------------------------------------------------------------------
# PollMixIn: the base of both backends' clients


def test_connected_clients_are_poll_mixins(client):
    from pssh.clients.base.single import PollMixIn
    assert isinstance(client, PollMixIn)
    assert client.sock is not None   # the connection PollMixIn stores
    assert client.poll(timeout=0) is None   # the client's own poll, not the stub
    output = client.run_command('echo polled')
    client.wait_finished(output)
    assert list(output.stdout) == ['polled']


# ---------------------------------------------------------------------------
# LocalForwarder


def test_local_forwarder_hands_out_tunnels(client, target):
    remote = target(echo)
    forwarder = LocalForwarder()
    assert not forwarder.started.is_set()
    forwarder.start()
    assert forwarder.started.is_set()
    try:
        forwarder.enqueue(client, '127.0.0.1', remote.port)
        forwarder.enqueue(client, '127.0.0.1', remote.port)
        first, second = forwarder.out_q.get(timeout=10), forwarder.out_q.get(timeout=10)
        assert first != second
        for port in (first, second):
            sock = gsocket.create_connection(('127.0.0.1', port), timeout=10)
            sock.sendall(b'via %d' % port)
            assert sock.recv(100) == b'via %d' % port
            sock.close()
        forwarder.cleanup_server(client)
        for port in (first, second):
            with pytest.raises(ConnectionRefusedError):
                gsocket.create_connection(('127.0.0.1', port), timeout=10)
        forwarder.cleanup_server(client)   # nothing left: no error
    finally:
        forwarder.shutdown()


def test_local_forwarder_shutdown_is_repeatable(client, target):
    remote = target(echo)
    forwarder = LocalForwarder()
    forwarder.shutdown()   # never started
    forwarder.start()
    forwarder.enqueue(client, '127.0.0.1', remote.port)
    port = forwarder.out_q.get(timeout=10)
    sock = gsocket.create_connection(('127.0.0.1', port), timeout=10)
    try:
        forwarder.shutdown()
        forwarder.shutdown()
        assert not forwarder.started.is_set()
        assert closed_by_peer(sock)
    finally:
        sock.close()
    with pytest.raises(ConnectionRefusedError):
        gsocket.create_connection(('127.0.0.1', port), timeout=10)


def test_local_forwarder_drops_tunnels_of_closed_clients(backend, server, client_kwargs, client, target):
    remote = target(echo)
    forwarder = LocalForwarder()
    forwarder.start()
    try:
        own = backend.SSHClient(server.host, **client_kwargs)
        forwarder.enqueue(own, '127.0.0.1', remote.port)
        stale = forwarder.out_q.get(timeout=10)
        own.close()
        forwarder.enqueue(client, '127.0.0.1', remote.port)
        fresh = forwarder.out_q.get(timeout=10)
        with pytest.raises(ConnectionRefusedError):
            gsocket.create_connection(('127.0.0.1', stale), timeout=10)
        sock = gsocket.create_connection(('127.0.0.1', fresh), timeout=10)
        sock.sendall(b'ok')
        assert sock.recv(2) == b'ok'
        sock.close()
    finally:
        forwarder.shutdown()


# ---------------------------------------------------------------------------
# Importing the module starts nothing.

_IMPORT_CHECK = r'''
import atexit, sys, threading
import gevent._hub_local
import pssh.clients.native  # what the module needs (logging registers its atexit hook)
before_threads, before_exit = threading.active_count(), atexit._ncallbacks()
import pssh.clients.native.tunnel as tunnel
assert threading.active_count() == before_threads, threading.enumerate()
assert atexit._ncallbacks() == before_exit, 'atexit hook registered at import'
assert gevent._hub_local.get_hub_if_exists() is None, 'hub made at import'
assert '_forwarder' in vars(tunnel) and tunnel._forwarder is None
forwarder = tunnel.FORWARDER
from pssh.clients.native.tunnel import FORWARDER
assert FORWARDER is forwarder and isinstance(forwarder, tunnel.LocalForwarder)
assert threading.active_count() == before_threads, threading.enumerate()
assert atexit._ncallbacks() == before_exit, 'atexit hook registered by FORWARDER'
try:
    tunnel.NO_SUCH_NAME
except AttributeError as exc:
    assert 'NO_SUCH_NAME' in str(exc)
else:
    raise AssertionError('no AttributeError')
print('clean')
'''


@pytest.mark.native_only
def test_import_starts_no_thread_hub_or_atexit_hook():
    result = subprocess.run([sys.executable, '-c', _IMPORT_CHECK], capture_output=True,
                            text=True, timeout=30,
                            cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == 'clean'
