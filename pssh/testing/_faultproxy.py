"""A TCP proxy that injects network faults, for tests.

:class:`FaultProxy` listens on a free loopback port and forwards every
connection it accepts to a target address. Faults can be switched on and off
while connections are open: added latency, a bandwidth cap, delivery in tiny
pieces, a silent link (nothing forwarded, sockets kept open), connection
resets, and closing after a number of bytes. Faults apply per direction:
``'upstream'`` (client to target), ``'downstream'`` (target to client) or
``'both'``.

Only the standard library is used: one thread runs a :mod:`selectors` loop over
non-blocking sockets, so the proxy works the same whether the test process uses
threads, gevent (unpatched) or neither, and a reset can close sockets with an
RST at any moment without another thread being stuck in ``recv`` on them.

Faults can also be armed to fire after so many bytes have been forwarded
(``after=``): the proxy's own thread fires them at exactly that point of the
stream, so a test needs no cross-thread synchronisation to hit "mid-transfer".
"""
from __future__ import annotations

import collections
import errno
import selectors
import socket
import struct
import threading
import time
from typing import Any, Deque, Dict, List, Optional, Tuple

__all__ = ['FaultProxy', 'DIRECTIONS']

#: Direction names, as accepted by every fault method.
DIRECTIONS = ('upstream', 'downstream')

_RECV_SIZE = 64 * 1024
#: Bytes forwarded between two wake-ups of threads in wait().
_NOTIFY_BYTES = 4096
# How many bytes a direction may hold before the proxy stops reading its
# source: TCP back-pressure then reaches the sender, as on a real link.
_BUFFER_LIMIT = 4 * 1024 * 1024
_LINGER_RST = struct.pack('ii', 1, 0)


def _directions(direction: str) -> Tuple[str, ...]:
    if direction == 'both':
        return DIRECTIONS
    if direction not in DIRECTIONS:
        raise ValueError("direction must be 'upstream', 'downstream' or 'both', not %r"
                         % (direction,))
    return (direction,)


class _Faults:
    """The faults of one direction (shared by every connection)."""

    __slots__ = ('latency', 'bandwidth', 'slice_size', 'stalled', 'close_at', 'reset_at',
                 'stall_at')

    def __init__(self) -> None:
        self.latency = 0.0
        self.bandwidth: Optional[float] = None   # bytes per second
        self.slice_size: Optional[int] = None
        self.stalled = False
        # Byte counts (of the proxy's total for this direction) at which a
        # fault fires; None when not armed.
        self.close_at: Optional[int] = None
        self.reset_at: Optional[int] = None
        self.stall_at: Optional[int] = None


class _Flow:
    """One direction of one connection: bytes read from ``src``, due for ``dst``."""

    __slots__ = ('name', 'src', 'dst', 'queue', 'queued', 'eof', 'shut', 'next_send')

    def __init__(self, name: str, src: socket.socket, dst: socket.socket) -> None:
        self.name = name
        self.src = src
        self.dst = dst
        self.queue: Deque[List[Any]] = collections.deque()  # [due time, memoryview]
        self.queued = 0
        self.eof = False        # the source sent FIN
        self.shut = False       # FIN passed on to dst
        self.next_send = 0.0    # bandwidth pacing: not before this time


class _Connection:
    __slots__ = ('client', 'upstream', 'connected', 'flows', 'closed')

    def __init__(self, client: socket.socket, upstream: socket.socket) -> None:
        self.client = client
        self.upstream = upstream
        self.connected = False
        self.flows = {'upstream': _Flow('upstream', client, upstream),
                      'downstream': _Flow('downstream', upstream, client)}
        self.closed = False


class FaultProxy:
    """A fault-injecting TCP proxy on 127.0.0.1 (the Toxiproxy model).

    ::

        with FaultProxy(server.host, server.port) as proxy:
            client = SSHClient(proxy.host, port=proxy.port, ...)
            proxy.set_latency(0.1)          # 100 ms each way
            proxy.stall()                   # a silent link
            proxy.reset(after=100000, direction='downstream')

    :param target_host: address to forward to.
    :param target_port: port to forward to.
    :param listen_host: address to listen on (a free port is picked).
    """

    def __init__(self, target_host: str, target_port: int, *,
                 listen_host: str = '127.0.0.1') -> None:
        self.target = (target_host, int(target_port))
        self._listen_host = listen_host
        self._listener: Optional[socket.socket] = None
        self._thread: Optional[threading.Thread] = None
        self._lock = threading.RLock()
        self._changed = threading.Condition(self._lock)
        self._faults = {name: _Faults() for name in DIRECTIONS}
        self._forwarded = {name: 0 for name in DIRECTIONS}
        self._connections: List[_Connection] = []
        self._accepted = 0
        self._stopping = False
        self._wake_r: Optional[socket.socket] = None
        self._wake_w: Optional[socket.socket] = None
        self._selector: Any = None
        self._registered: Dict[socket.socket, int] = {}
        #: Errors the proxy's thread met (other than ordinary disconnects).
        self.errors: List[BaseException] = []

    # -- life cycle ------------------------------------------------------

    @property
    def host(self) -> str:
        """The address clients connect to."""
        return self._listen_host

    @property
    def port(self) -> int:
        """The port clients connect to (after :meth:`start`)."""
        if self._listener is None:
            raise RuntimeError('the proxy is not started')
        return self._listener.getsockname()[1]

    def start(self) -> 'FaultProxy':
        """Listen and start forwarding; returns ``self``."""
        if self._thread is not None:
            return self
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((self._listen_host, 0))
        listener.listen(128)
        listener.setblocking(False)
        self._listener = listener
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name='FaultProxy:%s' % self.port,
                                        daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Close every socket and join the proxy's thread. Safe to call twice."""
        thread = self._thread
        if thread is None:
            return
        with self._lock:
            self._stopping = True
        self._wake()
        thread.join(timeout)
        if thread.is_alive():  # pragma: no cover - the loop always wakes
            raise RuntimeError('FaultProxy thread did not stop')
        self._thread = None
        for sock in (self._wake_r, self._wake_w):
            if sock is not None:
                sock.close()
        self._wake_r = self._wake_w = None

    def __enter__(self) -> 'FaultProxy':
        return self.start()

    def __exit__(self, *exc_info: Any) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = 'port %s' % self.port if self._listener is not None else 'stopped'
        return '<FaultProxy %s -> %s:%s>' % (state, *self.target)

    # -- faults ----------------------------------------------------------

    def _set(self, direction: str, **values: Any) -> None:
        with self._lock:
            for name in _directions(direction):
                for key, value in values.items():
                    setattr(self._faults[name], key, value)
        self._wake()

    def set_latency(self, seconds: float, direction: str = 'both') -> None:
        """Delay every byte by ``seconds`` (order kept; throughput is not capped)."""
        if seconds < 0:
            raise ValueError('latency must be >= 0')
        self._set(direction, latency=float(seconds))

    def set_bandwidth(self, bytes_per_second: Optional[float], direction: str = 'both') -> None:
        """Forward at most so many bytes per second (None: no cap)."""
        if bytes_per_second is not None and bytes_per_second <= 0:
            raise ValueError('bandwidth must be > 0 or None')
        self._set(direction, bandwidth=bytes_per_second)

    def set_slicing(self, size: Optional[int], direction: str = 'both') -> None:
        """Send in pieces of at most ``size`` bytes, one ``send()`` each (None: off)."""
        if size is not None and size < 1:
            raise ValueError('slice size must be >= 1 or None')
        self._set(direction, slice_size=size)

    def stall(self, direction: str = 'both', after: Optional[int] = None) -> None:
        """Stop delivering, keeping every socket open: a silent link.

        What the sender sends meanwhile is still taken (up to a few MiB per
        connection, then TCP back-pressure holds the sender) and delivered, in
        order, after :meth:`resume`; see :meth:`queued`.

        :param after: stall only once this many more bytes have gone through
          (counted over all connections, in ``direction``).
        """
        if after is None:
            self._set(direction, stalled=True, stall_at=None)
        else:
            self._arm(direction, 'stall_at', after)

    def resume(self, direction: str = 'both') -> None:
        """Forward again what a stall held back."""
        self._set(direction, stalled=False, stall_at=None)

    def reset(self, direction: str = 'both', after: Optional[int] = None) -> None:
        """Reset every open connection (RST to both ends).

        :param after: reset once this many more bytes have gone through in
          ``direction`` (exactly that many are delivered first).
        """
        if after is None:
            with self._lock:
                self._reset_all = True
            self._wake()
        else:
            self._arm(direction, 'reset_at', after)

    def close_after(self, count: int, direction: str = 'both') -> None:
        """Close each open connection in an orderly way (FIN) once ``count``
        more bytes have gone through in ``direction``."""
        self._arm(direction, 'close_at', count)

    def _arm(self, direction: str, field: str, count: int) -> None:
        if count < 0:
            raise ValueError('byte count must be >= 0')
        with self._lock:
            for name in _directions(direction):
                setattr(self._faults[name], field, self._forwarded[name] + count)
        self._wake()

    def clear(self) -> None:
        """Remove every fault (a stalled link resumes)."""
        with self._lock:
            self._faults = {name: _Faults() for name in DIRECTIONS}
        self._wake()

    # -- observing -------------------------------------------------------

    def forwarded(self, direction: str = 'both') -> int:
        """Bytes delivered so far in ``direction`` (over all connections)."""
        with self._lock:
            return sum(self._forwarded[name] for name in _directions(direction))

    def queued(self, direction: str = 'both') -> int:
        """Bytes taken from senders and not delivered yet, in ``direction``."""
        names = _directions(direction)
        with self._lock:
            return sum(flow.queued for conn in self._connections if not conn.closed
                       for flow in conn.flows.values() if flow.name in names)

    def ended(self, direction: str = 'downstream') -> bool:
        """True when some connection is open and the sender of every open one has
        closed its side in ``direction`` (what it sent may still be queued)."""
        names = _directions(direction)
        with self._lock:
            flows = [flow for conn in self._connections if not conn.closed
                     for flow in conn.flows.values() if flow.name in names]
            return bool(flows) and all(flow.eof for flow in flows)

    @property
    def accepted(self) -> int:
        """Connections accepted so far."""
        return self._accepted

    @property
    def open_connections(self) -> int:
        """Connections currently open."""
        with self._lock:
            return sum(1 for conn in self._connections if not conn.closed)

    def wait(self, predicate: Any, timeout: float) -> bool:
        """Block the calling thread until ``predicate(self)`` is true (checked
        whenever the proxy forwards or accepts); False after ``timeout``."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while not predicate(self):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._changed.wait(remaining)
        return True

    # -- the loop --------------------------------------------------------

    _reset_all = False

    def _wake(self) -> None:
        sock = self._wake_w
        if sock is not None:
            try:
                sock.send(b'x')
            except OSError:
                pass

    def _run(self) -> None:
        selector = self._selector = selectors.DefaultSelector()
        assert self._listener is not None and self._wake_r is not None
        selector.register(self._listener, selectors.EVENT_READ, None)
        selector.register(self._wake_r, selectors.EVENT_READ, None)
        registered = self._registered = {}
        try:
            while True:
                with self._lock:
                    if self._stopping:
                        break
                    reset_all, self._reset_all = self._reset_all, False
                if reset_all:
                    for conn in list(self._connections):
                        self._close(conn, rst=True)
                now = time.monotonic()
                timeout = self._pump_all(now)
                self._update_interest(selector, registered)
                for key, events in selector.select(timeout):
                    sock = key.fileobj
                    if sock is self._wake_r:
                        try:
                            while self._wake_r.recv(4096):
                                pass
                        except OSError:
                            pass
                    elif sock is self._listener:
                        self._accept()
                    else:
                        self._on_ready(key.data, sock, events)  # type: ignore[arg-type]
        except BaseException as exc:  # pragma: no cover - reported to the test
            self.errors.append(exc)
        finally:
            for conn in list(self._connections):
                self._close(conn, rst=False)
            selector.close()
            if self._listener is not None:
                self._listener.close()
                self._listener = None
            with self._changed:
                self._changed.notify_all()

    def _accept(self) -> None:
        assert self._listener is not None
        while True:
            try:
                client, _addr = self._listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:  # pragma: no cover
                self.errors.append(exc)
                return
            upstream = socket.socket(socket.AF_INET6 if ':' in self.target[0] else socket.AF_INET,
                                     socket.SOCK_STREAM)
            for sock in (client, upstream):
                sock.setblocking(False)
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            conn = _Connection(client, upstream)
            err = upstream.connect_ex(self.target)
            if err == 0:
                conn.connected = True
            elif err not in (errno.EINPROGRESS, errno.EAGAIN):
                client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_RST)
                client.close()
                upstream.close()
                continue
            with self._changed:
                self._connections.append(conn)
                self._accepted += 1
                self._changed.notify_all()

    def _on_ready(self, conn: _Connection, sock: socket.socket, events: int) -> None:
        if conn.closed:
            return
        if sock is conn.upstream and not conn.connected and events & selectors.EVENT_WRITE:
            err = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            if err:
                self._close(conn, rst=True)
                return
            conn.connected = True
        if events & selectors.EVENT_READ:
            flow = conn.flows['upstream' if sock is conn.client else 'downstream']
            self._read(conn, flow)

    def _read(self, conn: _Connection, flow: _Flow) -> None:
        faults = self._faults[flow.name]
        try:
            data = flow.src.recv(_RECV_SIZE)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            # The source reset: so does the other side.
            self._close(conn, rst=True)
            return
        if not data:
            with self._changed:
                flow.eof = True
                self._changed.notify_all()
            return
        with self._changed:
            # A memoryview: what is left after a partial send is a slice of
            # it, not a copy (at one byte per send, copies cost O(n**2)).
            flow.queue.append([time.monotonic() + faults.latency, memoryview(data)])
            flow.queued += len(data)
            self._changed.notify_all()

    def _pump_all(self, now: float) -> Optional[float]:
        """Send what is due; the seconds until something more will be, or None."""
        wake_at: Optional[float] = None
        for conn in list(self._connections):
            if conn.closed or not conn.connected:
                continue
            for flow in conn.flows.values():
                due = self._pump(conn, flow, now)
                if conn.closed:
                    break
                if due is not None and (wake_at is None or due < wake_at):
                    wake_at = due
        with self._lock:
            self._connections = [conn for conn in self._connections if not conn.closed]
        if wake_at is None:
            return None
        return max(0.0, wake_at - now)

    def _pump(self, conn: _Connection, flow: _Flow, now: float) -> Optional[float]:
        faults = self._faults[flow.name]
        # Waiters hear of progress every few KiB and when the loop ends, not
        # after each of a byte-at-a-time link's sends.
        unnotified = 0
        try:
            while flow.queue and not faults.stalled:
                entry = flow.queue[0]
                due, data = entry
                if due > now:
                    return due
                if faults.bandwidth is not None and flow.next_send > now:
                    return flow.next_send
                piece = data
                if faults.slice_size is not None:
                    piece = piece[:faults.slice_size]
                if faults.bandwidth is not None:
                    # At most a tenth of a second's worth per send.
                    piece = piece[:max(1, int(faults.bandwidth / 10))]
                limit = self._limit(flow.name)
                if limit is not None:
                    piece = piece[:limit]
                try:
                    sent = flow.dst.send(piece) if piece else 0
                except (BlockingIOError, InterruptedError):
                    return None  # the selector says when dst can take more
                except OSError:
                    self._close(conn, rst=True)
                    return None
                if sent < len(data):
                    entry[1] = data[sent:]
                else:
                    flow.queue.popleft()
                if faults.bandwidth is not None:
                    flow.next_send = max(now, flow.next_send) + sent / faults.bandwidth
                with self._changed:
                    flow.queued -= sent
                    self._forwarded[flow.name] += sent
                    unnotified += sent
                    if unnotified >= _NOTIFY_BYTES:
                        unnotified = 0
                        self._changed.notify_all()
                if self._fire(flow.name):
                    return None
                if sent < len(piece):
                    return None
        finally:
            if unnotified:
                with self._changed:
                    self._changed.notify_all()
        if flow.eof and not flow.queue and not flow.shut and not faults.stalled:
            flow.shut = True
            try:
                flow.dst.shutdown(socket.SHUT_WR)
            except OSError:
                pass
            if all(other.shut for other in conn.flows.values()):
                self._close(conn, rst=False)
        return None

    def _limit(self, name: str) -> Optional[int]:
        faults = self._faults[name]
        marks = [mark for mark in (faults.close_at, faults.reset_at, faults.stall_at)
                 if mark is not None]
        if not marks:
            return None
        return max(0, min(marks) - self._forwarded[name])

    def _fire(self, name: str) -> bool:
        """Fire the faults armed for this byte count; True if connections closed."""
        faults = self._faults[name]
        count = self._forwarded[name]
        if faults.stall_at is not None and count >= faults.stall_at:
            faults.stall_at = None
            faults.stalled = True
        for field, rst in (('reset_at', True), ('close_at', False)):
            mark = getattr(faults, field)
            if mark is not None and count >= mark:
                setattr(faults, field, None)
                for conn in list(self._connections):
                    self._close(conn, rst=rst)
                return True
        return False

    def _update_interest(self, selector: selectors.BaseSelector,
                         registered: Dict[socket.socket, int]) -> None:
        wanted: Dict[socket.socket, Tuple[int, _Connection]] = {}
        for conn in self._connections:
            if conn.closed:
                continue
            events = {conn.client: 0, conn.upstream: 0}
            if not conn.connected:
                events[conn.upstream] |= selectors.EVENT_WRITE
            now = time.monotonic()
            for flow in conn.flows.values():
                faults = self._faults[flow.name]
                if not flow.eof and flow.queued < _BUFFER_LIMIT:
                    if flow.src is conn.client or conn.connected:
                        events[flow.src] |= selectors.EVENT_READ
                # Interest in writing only when something is due now: data
                # held back by latency or by the bandwidth cap is waited for
                # with the select timeout instead (a writable socket would
                # otherwise wake the loop at once, over and over).
                if conn.connected and flow.queue and not faults.stalled and \
                        flow.queue[0][0] <= now and \
                        (faults.bandwidth is None or flow.next_send <= now):
                    events[flow.dst] |= selectors.EVENT_WRITE
            for sock, mask in events.items():
                if mask:
                    wanted[sock] = (mask, conn)
        for sock in [sock for sock in registered if sock not in wanted]:
            try:
                selector.unregister(sock)
            except (KeyError, ValueError, OSError):
                pass
            del registered[sock]
        for sock, (mask, conn) in wanted.items():
            if sock not in registered:
                selector.register(sock, mask, conn)
            elif registered[sock] != mask:
                selector.modify(sock, mask, conn)
            registered[sock] = mask

    def _close(self, conn: _Connection, rst: bool) -> None:
        if conn.closed:
            return
        conn.closed = True
        for sock in (conn.client, conn.upstream):
            if self._registered.pop(sock, None) is not None:
                try:
                    self._selector.unregister(sock)
                except (KeyError, ValueError, OSError):  # pragma: no cover
                    pass
            if rst:
                try:
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_RST)
                except OSError:
                    pass
            try:
                sock.close()
            except OSError:  # pragma: no cover
                pass
        with self._changed:
            self._changed.notify_all()
