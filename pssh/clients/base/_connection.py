"""One SSH connection: transport, relay, library session, host key, keepalive.

:class:`Connection` is where a client's network life happens: the connection
attempts with retries, the relay (:class:`~pssh.clients.base._io.SessionIO`)
in front of the library, the handshake and the host-key check before any
credential is sent, keepalives, and closing. :meth:`Connection.call` drives a
driver method until it stops returning ``AGAIN``, and :meth:`Connection.error_for`
is the one place where what the library or a wait raised becomes one of
``pssh.exceptions``, naming the host. Channels (:mod:`._channel`) and the
client's operations go through it; it knows nothing of commands or copies.
"""
import errno
import os
import socket
import time
import weakref
from typing import Any, Callable, List, Optional, Set, Tuple

import gevent
from gevent import socket as gsocket
from gevent.lock import Semaphore

from ... import logger
from ...exceptions import (
    ConnectTimeoutError, HostConnectionError, HostConnectionRefusedError, HostKeyError,
    NoCommonAlgorithmError, NoIPv6AddressFoundError, PacketLengthError, ProxyError, PsshError,
    SessionError, SSHError, Timeout, UnknownHostError, UnknownHostKeyError)
from ...hostkeys import HostKeyChecker
from ._driver import AGAIN, Driver
from ._guard import PacketGuard
from ._io import ClosedHere, Owner, SessionIO, call_until_done

__all__ = ['Connection', 'KEEPALIVE_COUNT_MAX', 'PollMixIn', 'open_tcp']

#: Keepalive intervals without a byte from the server after which the
#: connection is declared dead (OpenSSH's ServerAliveCountMax).
KEEPALIVE_COUNT_MAX = 3

#: (host, port) pairs already warned about unchecked packet lengths.
_WARNED_UNCHECKED: Set[Tuple[str, int]] = set()

#: Bytes handed to the library per write call (it sends at most a packet's worth).
WRITE_PIECE = 64 * 1024


def _keepalive_loop(ref: 'weakref.ReferenceType[Connection]', seconds: int) -> None:
    """Send keepalives that the server must answer; give the connection up when
    the server has been silent for :data:`KEEPALIVE_COUNT_MAX` intervals.

    A dead link (a silent peer, a firewall dropping packets) otherwise leaves
    every greenlet of the session waiting for ever. Failing the session's I/O
    wakes them all with a "connection lost" error.
    """
    interval = max(1, seconds)
    while True:
        conn = ref()
        if conn is None:
            return
        io = conn.io
        if io is None or io.closed_reason is not None:
            return
        silent = io.silent_for()
        if silent >= interval * KEEPALIVE_COUNT_MAX:
            logger.debug('%s: no reply to keepalives for %.1f s', conn.host, silent)
            io.fail('no reply from the server to keepalives for %.0f seconds' % silent)
            return
        before = io.unread()
        try:
            conn.driver.keepalive_send()
        except Exception as exc:  # the silence check above decides
            logger.debug('%s: sending a keepalive failed: %s', conn.host, exc)
        io.settle(before)
        del conn, io
        gevent.sleep(interval)


def _resolve(host: str, hostname: str, port: int, ipv6_only: bool) -> List[tuple]:
    # All families, also with ipv6_only: the error then lists what the name
    # resolved to instead.
    family = socket.AF_UNSPEC
    try:
        try:
            # Literal addresses need no resolver (and no resolver thread).
            infos = socket.getaddrinfo(hostname, port, family, socket.SOCK_STREAM,
                                       socket.IPPROTO_TCP, socket.AI_NUMERICHOST)
        except socket.gaierror:
            infos = gsocket.getaddrinfo(hostname, port, family,
                                        socket.SOCK_STREAM, socket.IPPROTO_TCP)
    except UnicodeError as exc:
        # The IDNA codec refuses the name (a label over 63 characters, an
        # empty label): no resolver could find it either.
        raise socket.gaierror(socket.EAI_NONAME, 'not a valid host name (%s)' % (
            exc.__cause__ or exc)) from None
    if ipv6_only:
        found = [info[4][:2] for info in infos]
        infos = [info for info in infos if info[0] == socket.AF_INET6]
        if not infos:
            raise NoIPv6AddressFoundError(
                'No IPv6 address found for %s (ipv6_only); it resolved to %s',
                host, found)
    return infos

def open_tcp(host: str, hostname: str, port: int, timeout: Optional[float],
             ipv6_only: bool = False) -> Any:
    """A TCP connection to ``hostname:port`` (the first address that answers)."""
    infos = _resolve(host, hostname, port, ipv6_only)
    refused: Optional[BaseException] = None
    last: Optional[BaseException] = None
    for family, socktype, proto, _name, address in infos:
        sock = gsocket.socket(family, socktype, proto)
        sock.settimeout(timeout)
        try:
            sock.connect(address)
        except ConnectionRefusedError as exc:
            sock.close()
            refused = exc
            continue
        except OSError as exc:
            sock.close()
            last = exc
            continue
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.settimeout(None)
        return sock
    if last is not None:
        raise last
    raise refused or OSError('no address to connect to')


class PollMixIn:
    """The waiting interface of a client of a non-blocking SSH library.

    Kept for code that checks ``isinstance(client, PollMixIn)`` or subclasses it,
    as with parallel-ssh: :class:`BaseSSHClient` (and so both backends'
    ``SSHClient``) is one, and implements the three methods. On this class
    alone they raise :class:`NotImplementedError`: how to wait depends on the
    session, which a bare instance does not have.

    :param sock: the connection's socket, stored as :attr:`sock`.
    """

    __slots__ = ('sock',)

    def __init__(self, sock: Any = None) -> None:
        self.sock = sock

    def poll(self, timeout: Optional[float] = None) -> None:
        """Wait until the session can make progress."""
        raise NotImplementedError('%s does not implement poll()' % type(self).__name__)

    def eagain(self, func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Call ``func(*args, **kwargs)`` until the library stops saying it would block."""
        raise NotImplementedError('%s does not implement eagain()' % type(self).__name__)

    def eagain_write(self, write_func: Any, data: bytes) -> None:
        """Write all of ``data`` with ``write_func``, waiting whenever it would block."""
        raise NotImplementedError('%s does not implement eagain_write()' % type(self).__name__)


class Connection:
    """The connection of one client to one server (see the module's text).

    :param host: the host's name in messages.
    :param port: the server's port.
    :param timeout: seconds for each network operation (None: no limit).
    :param driver: the backend's driver (its session is made on each attempt).
    :param host_keys: the host-key policy to check the server's key with.
    :param allow_unchecked_lengths: see ``BaseSSHClient.ALLOW_UNCHECKED_LENGTHS``.
    :param guarded: put the packet guard in the relay (only a fake library,
      which speaks no SSH, goes without).
    """

    def __init__(self, host: str, port: int, timeout: Optional[float], driver: Driver,
                 host_keys: HostKeyChecker, allow_unchecked_lengths: bool = True,
                 guarded: bool = True) -> None:
        self.guarded = guarded
        self.host = host
        self.port = port
        self.timeout = timeout
        self.driver = driver
        #: The thread whose hub drives this connection (see Owner).
        self.owner = Owner()
        self.host_keys = host_keys
        self.allow_unchecked_lengths = allow_unchecked_lengths
        #: The relay of the current connection (None when not connected).
        self.io: Optional[SessionIO] = None
        #: The transport under the relay (a socket, or a tunnel through a bastion).
        self.sock: Any = None
        #: Why this side last closed the connection itself.
        self.closed_here: Optional[ClosedHere] = None
        self._keepalive: Optional[gevent.Greenlet] = None
        self._finalizer: Optional[weakref.finalize] = None
        # libssh2 (and our libssh adapter) keep the state of a channel being
        # opened per session: one opening at a time (see open_channel).
        self.open_lock = Semaphore()
        #: When the open in progress began (monotonic), None when there is none.
        self.open_since: Optional[float] = None
        #: Called each time the open lock is given back (by a ProxyPool).
        self.open_watchers: List[Callable[[], None]] = []
        self._open_finisher: Optional[gevent.Greenlet] = None

    # ------------------------------------------------------------------
    # Calling the library, and the error boundary.

    def call(self, func: Callable[..., Any], *args: Any,
             timeout: Optional[float] = None, what: Optional[str] = None) -> Any:
        """Call a driver method until it stops saying it would block."""
        io = self.io
        if io is None:
            raise self.not_connected(what or 'calling the SSH library')
        try:
            return call_until_done(io, lambda: func(*args), lambda r: r is AGAIN,
                                   self.driver.block_directions, timeout)
        except Exception as exc:
            raise self.error_for(
                exc, io, what or str(getattr(func, '__name__', 'operation')), timeout) from exc

    def error_for(self, exc: BaseException, io: Optional[SessionIO], what: str,
                  timeout: Optional[float]) -> BaseException:
        """Our exception, naming the host, for what a library call or a wait raised."""
        if isinstance(exc, PsshError):
            return exc
        if isinstance(exc, TimeoutError):
            return Timeout('%s on %s:%s did not finish within %s seconds', what, self.host,
                           self.port, timeout)
        lost = io is not None and io.closed_reason is not None
        reason = io.closed_reason if io is not None else None
        if io is not None and io.closing is not None:
            # Not lost: we closed it (whatever the library made of that).
            return self.closed_here_error(io.closing, what)
        if isinstance(reason, PacketLengthError):
            # The guard closed the connection: say why, to every caller.
            return type(reason)(*reason.args)
        ours = self.driver.translate(exc)
        if isinstance(exc, ConnectionResetError) or (lost and (
                ours is None or type(ours) in (SSHError, SessionError))):
            # The library's own word for it (libssh2: SocketRecvError) says less.
            reason = io.closed_reason if io is not None else None
            reason = 'closed by the server' if reason == 'EOF' else reason or exc
            if isinstance(exc, ConnectionResetError):
                return SSHError('Connection to %s:%s lost: %s', self.host, self.port, reason)
            return SSHError('Connection to %s:%s lost: %s (%s)', self.host, self.port, reason,
                            ours or exc)
        if ours is not None:
            return ours
        if isinstance(exc, OSError):
            if io is not None and io._closed:
                return SessionError('Session to %s:%s was closed (%s)', self.host, self.port, what)
            return SSHError('%s on %s:%s failed: %s', what, self.host, self.port,
                            exc.strerror or exc)
        return exc

    def not_connected(self, what: str = 'using it') -> SessionError:
        if self.closed_here is not None:
            return self.closed_here_error(self.closed_here, what)
        return SessionError('Not connected to %s:%s', self.host, self.port)

    def closed_here_error(self, reason: ClosedHere, what: str) -> SessionError:
        return SessionError('Connection to %s:%s was closed by this client (%s) while %s',
                            self.host, self.port, reason.why, what)

    @property
    def lost(self) -> bool:
        """True once the connection is closed or was lost."""
        io = self.io
        return io is None or io.closed_reason is not None

    def check(self) -> None:
        """:raises SSHError: the connection was lost; it cannot be used again."""
        io = self.io
        if io is not None and io.closed_reason is not None:
            reason = io.closed_reason
            raise SSHError('Connection to %s:%s was lost (%s): connect again with a new client',
                           self.host, self.port,
                           'closed by the server' if reason == 'EOF' else reason)

    def eagain(self, func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Call ``func(*args, **kwargs)`` of the SSH library itself until it does not block."""
        again = self.driver.library_again
        io = self.io
        if io is None:
            raise self.not_connected()

        def is_again(result: Any) -> bool:
            if isinstance(result, tuple) and result:
                result = result[0]
            return isinstance(result, int) and result == again

        try:
            return call_until_done(io, lambda: func(*args, **kwargs), is_again,
                                   self.driver.block_directions, self.timeout)
        except Exception as exc:
            raise self.error_for(exc, io, getattr(func, '__name__', 'operation'),
                                 self.timeout) from exc

    def write_all(self, raw: Any, data: bytes, what: str = 'writing') -> None:
        """Write all of ``data`` to the library channel ``raw``, waiting whenever it would block."""
        view = memoryview(data)
        # The library sends at most one packet (32 KiB) per call and wants bytes,
        # so hand it one packet's worth at a time: each retry then copies little.
        while view:
            piece = bytes(view[:WRITE_PIECE])
            while piece:
                sent = self.call(self.driver.write, raw, piece, timeout=self.timeout, what=what)
                piece = piece[sent:]
                view = view[sent:]

    def poll(self, timeout: Optional[float] = None) -> None:
        """Wait until the session's socket is ready in the direction the library needs."""
        io = self.io
        if io is not None:
            try:
                io.wait_for(self.driver.block_directions, timeout)
            except Exception as exc:
                raise self.error_for(exc, io, 'waiting', timeout) from exc

    # ------------------------------------------------------------------
    # Opening channels: one at a time per session.

    def open_channel(self, primitive: Callable[..., Any], *args: Any, what: str,
                     locked: bool = False) -> Any:
        """Open a channel (a session's or a tunnel's) with ``primitive(*args)``.

        The libraries keep the state of an open in progress per session, and
        the next open call of any kind resumes it: so opens take turns, and an
        open given up half way (timed out, or its greenlet killed) is finished
        in the background, its channel closed, before the next open may start.
        No later open can then be answered with the channel of an earlier one.

        :param locked: the caller already holds the open lock (it is released
          here either way).
        """
        if not locked and not self.open_lock.acquire(timeout=self.timeout):
            raise Timeout('%s on %s:%s did not finish within %s seconds (an earlier open '
                          'on this connection is still waiting for the server)', what,
                          self.host, self.port, self.timeout)
        self.open_since = time.monotonic()
        abandoned = False
        try:
            return self.call(primitive, *args, timeout=self.timeout, what=what)
        except Timeout:
            abandoned = True
            raise
        except BaseException as exc:
            # A library error ends the open (the library forgets it); a kill
            # (GreenletExit, KeyboardInterrupt) leaves it half done.
            abandoned = not isinstance(exc, Exception)
            raise
        finally:
            if abandoned and not self.lost:
                self._open_finisher = gevent.spawn(self._finish_open, primitive, args, what)
            else:
                self._open_done()

    def _finish_open(self, primitive: Callable[..., Any], args: Tuple[Any, ...],
                     what: str) -> None:
        """Wait for the server's answer to an abandoned open, then close its channel."""
        try:
            raw = self.call(primitive, *args, what='%s (given up)' % what)
            logger.debug('%s:%s answered an open given up earlier (%s): closing its channel',
                         self.host, self.port, what)
            self.call(self.driver.close, raw, timeout=self.timeout)
        except Exception as exc:
            logger.debug('%s:%s: open given up earlier (%s) ended: %s', self.host, self.port,
                         what, exc)
        finally:
            self._open_finisher = None
            self._open_done()

    def _open_done(self) -> None:
        self.open_since = None
        self.open_lock.release()
        for watcher in list(self.open_watchers):
            watcher()

    # ------------------------------------------------------------------
    # Connecting.

    def connect(self, open_transport: Callable[[], Any], num_retries: int,
                retry_delay: float) -> int:
        """Connect, handshake and check the host key, with up to ``num_retries``
        attempts; returns the attempt that connected."""
        last: Optional[BaseException] = None
        for attempt in range(1, num_retries + 1):
            try:
                self._connect_once(open_transport)
                return attempt
            except (HostConnectionRefusedError, NoIPv6AddressFoundError, UnknownHostError,
                    ProxyError, HostKeyError, PacketLengthError, NoCommonAlgorithmError):
                # Not retried; the connection (a refused host key's is open) ends now,
                # not when the exception and its traceback are dropped.
                self.close()
                raise
            except ConnectionRefusedError as exc:
                raise HostConnectionRefusedError(
                    exc.errno or errno.ECONNREFUSED,
                    exc.strerror or os.strerror(errno.ECONNREFUSED), self.host,
                    self.port) from None
            except socket.gaierror as exc:
                if exc.errno != socket.EAI_AGAIN or attempt == num_retries:
                    raise UnknownHostError('Unknown host %s: %s', self.host,
                                           exc.strerror or str(exc), attempt,
                                           num_retries) from None
                last = exc
            except (OSError, SSHError, Timeout) as exc:
                last = exc
            except BaseException:
                # Killed while connecting (GreenletExit, KeyboardInterrupt):
                # the socket is closed now, not whenever it is collected.
                self.close()
                raise
            self.close()
            logger.debug('%s:%s: attempt %s of %s failed: %s', self.host, self.port, attempt,
                         num_retries, last)
            if attempt < num_retries:
                gevent.sleep(retry_delay)
        raise self._connect_error(last, num_retries) from None

    def _connect_error(self, exc: Optional[BaseException], num_retries: int) -> BaseException:
        """The error of the last of our connection attempts, all of which failed.

        ``.args`` is ``(message, host, port, reason, attempt, num_retries)``.
        """
        if isinstance(exc, (TimeoutError, Timeout)):
            return ConnectTimeoutError(
                'Timed out connecting to %s:%s: %s (attempt %s of %s)', self.host, self.port,
                'timed out after %s seconds' % self.timeout if self.timeout else 'timed out',
                num_retries, num_retries)
        detail = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
        return HostConnectionError('Error connecting to %s:%s: %s (attempt %s of %s)',
                                   self.host, self.port, str(detail), num_retries,
                                   num_retries)

    def _connect_once(self, open_transport: Callable[[], Any]) -> None:
        sock = open_transport()
        self.sock = sock
        driver = self.driver
        guard = PacketGuard(self.host, self.port, driver.max_packet) if self.guarded else None
        io = self.io = SessionIO(sock, '%s:%s' % (self.host, self.port), guard)
        self._finalizer = weakref.finalize(self, io.close)
        try:
            driver.start(io)
        except Exception as exc:
            raise self.error_for(exc, io, 'setting up the SSH session', None) from exc
        checked = False

        def handshake() -> Any:
            nonlocal checked
            result = driver.handshake()
            if result is AGAIN and io.holding and not checked:
                # The key exchange is done and the library waits for the
                # server's first encrypted packets, which the relay holds
                # back: no encrypted byte of a server whose key we refuse is
                # ever parsed by the library.
                key = self._host_key_if_known()
                if key is not None:
                    self._accept_host_key(io, key)
                    checked = True
                    io.release()
                elif io.unread() == 0:
                    # Everything up to NEWKEYS was read and still no key: the
                    # held bytes would never be let through.
                    raise SessionError("SSH handshake with %s:%s: the server's host key is "
                                       'not known after the key exchange', self.host,
                                       self.port)
            return result

        try:
            self.call(handshake, timeout=self.timeout, what='SSH handshake')
        except SSHError as exc:
            if io.guard is not None and not io.guard.client_done:
                # The library can fail on the server's KEXINIT before the
                # relay has read the library's own KEXINIT from the socket
                # pair: let it catch up first.
                gevent.idle()
            mismatch = io.guard.mismatch() if io.guard is not None else None
            if mismatch is None:
                raise
            kind, ours, theirs = mismatch
            raise NoCommonAlgorithmError(
                'Server %s:%s has no %s in common with us: we offer %s; it offers %s',
                self.host, self.port, kind, ','.join(ours), ','.join(theirs), ours,
                theirs) from exc
        # Before any credential goes to the server.
        if not checked:
            try:
                key = driver.host_key()
            except Exception as exc:
                raise self.error_for(exc, io, "reading the server's host key", None) from exc
            self._accept_host_key(io, key)
        io.release()

    def _accept_host_key(self, io: SessionIO, key: bytes) -> None:
        """Check the server's key; then, for a key accepted without being
        verified, look at what the relay's guard can see of the connection."""
        if self.host_keys.check(key):
            return
        guard = io.guard
        if guard is None or not guard.opaque:
            return
        # The one case the guard cannot cover: a man in the middle on a first
        # contact can choose algorithms that hide the packet lengths.
        if not self.allow_unchecked_lengths:
            raise UnknownHostKeyError(
                'Host %s:%s is not known and encrypts with %s and %s, which hide packet '
                'lengths from the guard; refused because ALLOW_UNCHECKED_LENGTHS is False',
                self.host, self.port, guard.cipher, guard.mac)
        if (self.host, self.port) not in _WARNED_UNCHECKED:
            _WARNED_UNCHECKED.add((self.host, self.port))
            logger.warning(
                'Host %s:%s is not known and encrypts with %s and %s, which hide packet '
                'lengths: the guard against crafted lengths cannot check this connection',
                self.host, self.port, guard.cipher, guard.mac)

    def _host_key_if_known(self) -> Optional[bytes]:
        """The server's host key blob if the library has it yet, else None."""
        try:
            return self.driver.host_key() or None
        except Exception:  # not yet: the library raises its own error
            return None

    def start_keepalive(self, seconds: Optional[int]) -> None:
        """Tell the library the interval; send keepalives every ``seconds`` (0/None: none)."""
        self.driver.keepalive_config(int(seconds or 0))
        if seconds and self._keepalive is None:
            self._keepalive = gevent.spawn(_keepalive_loop, weakref.ref(self), int(seconds))

    def __del__(self) -> None:
        # Let go of in another thread than its own (pssh.aio): the library's
        # session, and what of the driver's holds it, are taken from the
        # driver and freed by this connection's thread instead.
        driver = self.__dict__.get('driver')
        owner = self.__dict__.get('owner')
        if owner is None or driver is None or getattr(driver, 'session', None) is None:
            return
        held = dict(vars(driver))
        if owner.hand_over(held):
            driver.release()
            if getattr(driver, 'agent_forwarding', None) is not None:
                driver.agent_forwarding = None

    # ------------------------------------------------------------------
    # Closing.

    def disconnect(self, why: str) -> None:
        """Say goodbye to the server (briefly), then close."""
        io = self.io
        if io is None:
            return
        io.closing = ClosedHere(why)
        if io.closed_reason is None and self.driver.session is not None:
            try:
                self.call(self.driver.disconnect, timeout=1 if self.timeout is None
                          else self.timeout, what='disconnecting')
            except Exception as exc:
                logger.debug('%s: disconnect: %s', self.host, exc)
        self.close(why)

    def close(self, why: str = 'the client closed the connection') -> None:
        """Close the relay and drop the library session (no goodbye)."""
        if self._finalizer is not None:
            self._finalizer.detach()
            self._finalizer = None
        if self._keepalive is not None:
            self._keepalive.kill(block=False)
            self._keepalive = None
        if self._open_finisher is not None:
            self._open_finisher.kill(block=False)
        if self.io is not None:
            self.io.close(why)
            self.closed_here = self.io.closing
            self.io = None
        self.driver.release()
        self.sock = None
