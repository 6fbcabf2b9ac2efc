"""Tests of pssh.testing.MisbehavingListener, with plain sockets as the client."""
import socket
import threading

import pytest

from pssh.testing import LISTENER_BEHAVIOURS, MisbehavingListener

BANNER = b'SSH-2.0-OpenSSH_9.2p1 Debian\r\n'


def _connect(listener):
    sock = socket.create_connection(listener.address, timeout=5)
    return sock


def _read_until_eof(sock):
    data = b''
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            return data
        data += chunk


def _read_exactly(sock, size):
    data = b''
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        assert chunk, data
        data += chunk
    return data


def _assert_silent(sock):
    sock.settimeout(0.2)
    with pytest.raises(socket.timeout):
        sock.recv(1)


def test_behaviour_names():
    assert sorted(LISTENER_BEHAVIOURS) == [
        'close_after_banner', 'garbage', 'garbage_after_banner', 'hang_up', 'http',
        'huge_packet_after_banner', 'not_ssh', 'silent', 'silent_after_banner']


def test_unknown_behaviour_is_refused():
    with pytest.raises(ValueError) as caught:
        MisbehavingListener('chatty')
    assert "'chatty'" in str(caught.value) and 'silent' in str(caught.value)


def test_silent_accepts_and_says_nothing():
    with MisbehavingListener('silent') as listener:
        assert listener.host == '127.0.0.1' and listener.port > 0
        assert listener.address == ('127.0.0.1', listener.port)
        with _connect(listener) as sock:
            _assert_silent(sock)
            assert listener.accepted == 1
        with _connect(listener) as sock:
            _assert_silent(sock)
        assert listener.accepted == 2
        with _connect(listener) as sock:
            _assert_silent(sock)
            listener.close()
            # close() ends the connections it accepted.
            sock.settimeout(5)
            assert sock.recv(1) == b''
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(listener.address, timeout=5)
    listener.close()  # twice is harmless


@pytest.mark.parametrize('behaviour, expected', [
    ('hang_up', b''),
    ('not_ssh', b'not ssh\r\n'),
    ('http', b'HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n'),
])
def test_answers_then_hangs_up(behaviour, expected):
    with MisbehavingListener(behaviour) as listener, _connect(listener) as sock:
        assert _read_until_eof(sock) == expected
    assert listener.accepted == 1


def test_garbage_then_silent():
    with MisbehavingListener('garbage') as listener, _connect(listener) as sock:
        data = _read_exactly(sock, 8193)
        assert data[4096:4097] == b'\n'
        _assert_silent(sock)


def test_close_after_banner():
    with MisbehavingListener('close_after_banner') as listener, _connect(listener) as sock:
        assert _read_exactly(sock, len(BANNER)) == BANNER
        _assert_silent(sock)  # waits for the client's banner first
        sock.sendall(b'SSH-2.0-test\r\n')
        sock.settimeout(5)
        assert _read_until_eof(sock) == b''


def test_silent_after_banner():
    with MisbehavingListener('silent_after_banner') as listener, _connect(listener) as sock:
        assert _read_exactly(sock, len(BANNER)) == BANNER
        sock.sendall(b'SSH-2.0-test\r\n')
        _assert_silent(sock)


@pytest.mark.parametrize('behaviour, header, size', [
    ('garbage_after_banner', b'\x00\x00\x00\x0c\x0a', 69),
    ('huge_packet_after_banner', b'\x7f\xff\xff\xf0\x04', 1029),
])
def test_packet_after_banner(behaviour, header, size):
    with MisbehavingListener(behaviour) as listener, _connect(listener) as sock:
        assert _read_exactly(sock, len(BANNER)) == BANNER
        _assert_silent(sock)
        sock.sendall(b'SSH-2.0-test\r\n')
        sock.settimeout(5)
        packet = _read_exactly(sock, size)
        assert packet.startswith(header)
        _assert_silent(sock)


def test_callable_behaviour_and_other_address():
    seen = []
    done = threading.Event()

    def script(conn):
        seen.append(conn.recv(5))
        conn.sendall(b'pong')
        done.set()

    with MisbehavingListener(script, '127.0.0.2') as listener:
        assert listener.address[0] == '127.0.0.2'
        with _connect(listener) as sock:
            sock.sendall(b'ping!')
            assert _read_exactly(sock, 4) == b'pong'
            assert done.wait(5)
            # The connection stays open after the script returns.
            _assert_silent(sock)
    assert seen == [b'ping!']
    assert 'script' in repr(listener) or 'function' in repr(listener)
