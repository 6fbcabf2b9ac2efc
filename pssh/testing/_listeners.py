"""TCP listeners that misbehave on purpose, for tests of a client's failure paths.

A :class:`MisbehavingListener` binds a free port on a loopback address, accepts
every connection in a thread of its own and does one wrong thing with each:
stays silent, hangs up, answers with garbage or half an SSH handshake. Only the
standard library is used (see :mod:`pssh.testing`): the threads are real OS
threads, independent of any gevent hub in the test process.
"""
from __future__ import annotations

import os
import socket
import sys
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Union

if TYPE_CHECKING:
    if sys.version_info >= (3, 11):
        from typing import Self
    else:
        from typing_extensions import Self

__all__ = ['LISTENER_BEHAVIOURS', 'MisbehavingListener']

#: The banner the listeners that start an SSH handshake send.
SERVER_BANNER = b'SSH-2.0-OpenSSH_9.2p1 Debian\r\n'


def _read_line(conn: socket.socket, limit: int = 1024) -> bytes:
    """Bytes up to and including a newline (or the peer's end, or ``limit``)."""
    data = b''
    while not data.endswith(b'\n') and len(data) < limit:
        chunk = conn.recv(1)
        if not chunk:
            break
        data += chunk
    return data


def _drain(conn: socket.socket) -> None:
    """Read and drop everything until the peer (or :meth:`close`) ends the connection."""
    while conn.recv(65536):
        pass


def _silent(conn: socket.socket) -> None:
    _drain(conn)


def _hang_up(conn: socket.socket) -> None:
    conn.close()


def _not_ssh(conn: socket.socket) -> None:
    conn.sendall(b'not ssh\r\n')
    conn.close()


def _garbage(conn: socket.socket) -> None:
    conn.sendall(os.urandom(4096) + b'\n' + os.urandom(4096))
    _drain(conn)


def _http(conn: socket.socket) -> None:
    conn.sendall(b'HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n')
    conn.close()


def _close_after_banner(conn: socket.socket) -> None:
    conn.sendall(SERVER_BANNER)
    _read_line(conn)
    conn.close()


def _silent_after_banner(conn: socket.socket) -> None:
    conn.sendall(SERVER_BANNER)
    _drain(conn)


def _garbage_after_banner(conn: socket.socket) -> None:
    conn.sendall(SERVER_BANNER)
    _read_line(conn)
    # A packet header of plausible length, then noise.
    conn.sendall(b'\x00\x00\x00\x0c\x0a' + os.urandom(64))
    _drain(conn)


def _huge_packet_after_banner(conn: socket.socket) -> None:
    conn.sendall(SERVER_BANNER)
    _read_line(conn)
    # A packet length of almost 2 GiB.
    conn.sendall(b'\x7f\xff\xff\xf0\x04' + b'\0' * 1024)
    _drain(conn)


Script = Callable[[socket.socket], Any]

#: What a listener can do with each connection, by name.
LISTENER_BEHAVIOURS: dict[str, Script] = {
    'silent': _silent,
    'hang_up': _hang_up,
    'not_ssh': _not_ssh,
    'garbage': _garbage,
    'http': _http,
    'close_after_banner': _close_after_banner,
    'silent_after_banner': _silent_after_banner,
    'garbage_after_banner': _garbage_after_banner,
    'huge_packet_after_banner': _huge_packet_after_banner,
}


class MisbehavingListener:
    """A listener on ``host`` (a free port unless ``port`` is given) that accepts
    every connection and treats it according to ``behaviour``.

    ``behaviour`` is a name from :data:`LISTENER_BEHAVIOURS`:

    ``silent``
        accepts and never sends a byte (the client's timeout is the only way out);
    ``hang_up``
        closes each connection as soon as it is accepted;
    ``not_ssh``
        sends a line that is not an SSH banner, then closes;
    ``garbage``
        sends random bytes, then stays silent;
    ``http``
        answers like an HTTP server refusing the request, then closes;
    ``silent_after_banner``
        sends an SSH banner, then stays silent;
    ``close_after_banner``, ``garbage_after_banner``, ``huge_packet_after_banner``
        sends an SSH banner, reads the client's, then closes, sends a packet of
        noise, or announces a packet of almost 2 GiB;

    or a callable taking the accepted socket (a connection stays open after it
    returns, until :meth:`close`).

    The listener serves from the constructor on; :meth:`close` (or leaving a
    ``with`` block) ends it and every connection it accepted.
    ``accepted`` counts the connections accepted so far.
    """

    def __init__(self, behaviour: Union[str, Script] = 'silent', host: str = '127.0.0.1', *,
                 port: int = 0, backlog: int = 16) -> None:
        if callable(behaviour):
            self._script: Script = behaviour
        else:
            try:
                self._script = LISTENER_BEHAVIOURS[behaviour]
            except KeyError:
                raise ValueError('behaviour must be one of %s or a callable, not %r' % (
                    sorted(LISTENER_BEHAVIOURS), behaviour)) from None
        self.behaviour = behaviour
        family = socket.AF_INET6 if ':' in host else socket.AF_INET
        self._sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            self._sock.bind((host, port))
            self._sock.listen(backlog)
        except OSError:
            self._sock.close()
            raise
        self.host: str = host
        self.port: int = self._sock.getsockname()[1]
        self.accepted = 0
        self._conns: list[socket.socket] = []
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self._closed = False
        self._acceptor = threading.Thread(target=self._accept, daemon=True,
                                          name='MisbehavingListener-%s' % self.port)
        self._acceptor.start()

    @property
    def address(self) -> tuple[str, int]:
        """``(host, port)``."""
        return self.host, self.port

    def _accept(self) -> None:
        while True:
            try:
                conn, _addr = self._sock.accept()
            except OSError:
                return
            with self._lock:
                if self._closed:
                    conn.close()
                    return
                self.accepted += 1
                self._conns.append(conn)
                thread = threading.Thread(target=self._serve, args=(conn,), daemon=True)
                self._threads.append(thread)
            thread.start()

    def _serve(self, conn: socket.socket) -> None:
        try:
            self._script(conn)
        except OSError:
            pass

    def close(self) -> None:
        """Stop accepting, close every connection and wait for the threads (bounded)."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        try:
            # Wakes the thread blocked in accept().
            self._sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self._sock.close()
        self._acceptor.join(5)
        with self._lock:
            conns, threads = list(self._conns), list(self._threads)
        for conn in conns:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            conn.close()
        for thread in threads:
            thread.join(5)
        if self._acceptor.is_alive() or any(thread.is_alive() for thread in threads):
            raise RuntimeError('MisbehavingListener on port %s: a thread did not end' % self.port)

    stop = close

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return '<MisbehavingListener %r on %s:%s>' % (self.behaviour, self.host, self.port)
