"""The byte path between an SSH library session and the network.

Why a relay: an SSH library in non-blocking mode reads the socket from whatever
call happens to run, and stores packets for other channels on the way. A
greenlet that is waiting for the socket to become readable for *its* channel is
then never woken, because the bytes it waits for were already taken off the
socket by somebody else's call. Reading the network ourselves and handing the
bytes to the library through a socket pair closes that gap: bytes reach the
library only when our relay greenlet writes them, and after every such write we
wake every greenlet waiting on the session, so each retries its call and finds
what was queued for it. Waiting is then exact: no polling, no sleeps, no lost
wake-ups, however many channels share the session.

The network side is anything with the small :class:`Transport` interface, so the
same machinery serves a TCP socket and (later) a channel tunnelled through
another SSH session.
"""
import errno
import fcntl
import gc
import os
import socket
import struct
import sys
import termios
import threading
import weakref
from typing import Any, Callable, Optional, Protocol, Set

import gevent
from gevent import socket as gsocket
from gevent.event import Event
from gevent.hub import Waiter, get_hub

from ... import logger
from ...exceptions import PacketLengthError
from ._guard import PacketGuard

READ = 1   # libev's READ, and LIBSSH2_SESSION_BLOCK_INBOUND
WRITE = 2  # libev's WRITE, and LIBSSH2_SESSION_BLOCK_OUTBOUND

_CHUNK = 256 * 1024
_PAIR_BUFFER = 1024 * 1024


class Transport(Protocol):
    """The network side of a session: a connected, cooperative byte stream.

    ``recv`` returns ``b''`` at end of stream; either method may raise when the
    connection fails.
    """

    def recv(self, size: int) -> bytes: ...

    def sendall(self, data: bytes) -> Any: ...

    def close(self) -> None: ...


class ClosedHere:
    """The reason recorded for a connection this client closed itself."""

    __slots__ = ('why',)

    def __init__(self, why: str) -> None:
        #: What closed it, as a phrase (``'close() was called'``).
        self.why = why

    def __str__(self) -> str:
        return 'closed by this client: %s' % self.why

    def __repr__(self) -> str:
        return '<ClosedHere %s>' % self.why


class SessionIO:
    """Owns the relay between ``transport`` and the socket the SSH library uses.

    :param transport: a connected gevent socket (or other :class:`Transport`).
    :param label: ``host:port``, for log messages.
    :param guard: checks the server's packet framing before the library sees
      it, and holds the server's encrypted bytes back until :meth:`release`
      (see :mod:`._guard`).
    """

    def __init__(self, transport: Transport, label: str,
                 guard: Optional[PacketGuard] = None) -> None:
        self.transport = transport
        self.label = label
        self.guard = guard
        #: True while the guard holds the server's bytes back (see release).
        self.holding = False
        self._released = Event()
        #: Bytes from the server handed to the library so far.
        self.delivered = 0
        if _kept:
            _close_let_go()  # numbers freed since the last collection ended
        lib_side, relay_side = gsocket.socketpair()
        for sock in (lib_side, relay_side):
            for opt in (socket.SO_SNDBUF, socket.SO_RCVBUF):
                try:
                    sock.setsockopt(socket.SOL_SOCKET, opt, _PAIR_BUFFER)
                except OSError:  # pragma: no cover - best effort
                    pass
        lib_side.setblocking(False)
        #: The socket end given to the SSH library.
        self.lib_sock = _LibraryEnd(lib_side.detach())
        self.fileno = self.lib_sock.fileno()
        self._relay = relay_side
        self._waiters: Set[Waiter] = set()
        #: Why the network side ended, once it has (an exception or 'EOF').
        self.closed_reason: Optional[Any] = None
        #: Set when this client starts closing the connection itself: what
        #: ends afterwards ends because of that.
        self.closing: Optional[ClosedHere] = None
        self._closed = False
        loop = get_hub().loop
        # The thread whose hub runs the relay (see close).
        self._loop = loop
        self._thread = threading.get_ident()
        self._now = loop.now
        #: Loop time at which the network side last gave us bytes.
        self.last_received = loop.now()
        self._delivering = False
        # Greenlet -> unread() it saw when it last waited after the network
        # side closed (see wait).
        self._seen_after_close: 'weakref.WeakKeyDictionary[Any, int]' = weakref.WeakKeyDictionary()
        self._inbound = gevent.spawn(self._pump_in)
        self._outbound = gevent.spawn(self._pump_out)

    # The relay.

    def _pump_in(self) -> None:
        relay, transport, guard = self._relay, self.transport, self.guard
        try:
            while True:
                data = transport.recv(_CHUNK)
                self.last_received = self._now()
                if not data:
                    self.closed_reason = 'EOF'
                    break
                view = memoryview(data)
                while view:
                    if guard is None:
                        allowed = len(view)
                    else:
                        if guard.holding:
                            self._hold()
                        allowed = guard.feed(view)
                    self._delivering = True
                    rest, view = view[allowed:], view[:allowed]
                    while view:
                        sent = relay.send(view)
                        self.delivered += sent
                        view = view[sent:]
                        self.notify()
                    self._delivering = False
                    view = rest
        except PacketLengthError as exc:
            # Nothing more from this server reaches the library.
            self.closed_reason = exc
            try:
                transport.close()
            except OSError:  # pragma: no cover
                pass
        except (Exception, gevent.GreenletExit) as exc:
            if self.closed_reason is None:
                self.closed_reason = exc
        finally:
            # The library's socket is not shut down here: libssh2 fails a read
            # that meets end-of-file even when it has just queued data for the
            # caller, and libssh drops every channel. Waiting (see wait) tells
            # callers that nothing more will come once they have read it all.
            self._delivering = False
            self.notify()

    def _hold(self) -> None:
        """Keep the server's next bytes from the library until :meth:`release`."""
        self.holding = True
        # The library now waits for bytes that will not come: wake whoever
        # drives it, to check the host key and release them.
        self.notify()
        self._released.wait()

    def release(self) -> None:
        """Let the server's bytes through again (its host key was accepted)."""
        if self.guard is not None:
            self.guard.release()
        self.holding = False
        self._released.set()

    def _pump_out(self) -> None:
        relay, transport = self._relay, self.transport
        # The guard reads the client's KEXINIT, at the start of what it sends.
        client = self.guard.client_bytes if self.guard is not None else None
        try:
            while True:
                data = relay.recv(_CHUNK)
                if not data:
                    break
                if client is not None:
                    client(data)
                    if self.guard is not None and self.guard.client_done:
                        client = None
                transport.sendall(data)
        except (Exception, gevent.GreenletExit) as exc:
            if self.closed_reason is None:
                self.closed_reason = exc
            logger.debug('%s: sending stopped: %s', self.label, exc)
        finally:
            self.notify()

    # Liveness.

    def silent_for(self) -> float:
        """Seconds since the network side last gave us bytes; 0 while the
        library is behind (bytes wait to be handed to it), since the peer is
        then evidently there."""
        if self._delivering:
            return 0.0
        return max(0.0, self._now() - self.last_received)

    def fail(self, reason: Any) -> None:
        """Give up on the network side (a dead link): stop the relay and close
        the transport. Bytes already handed to the library stay readable; after
        them, waiting raises as for a closed connection."""
        if self._closed:
            return
        if self.closed_reason is None:
            self.closed_reason = reason
        current = gevent.getcurrent()
        for greenlet in (self._inbound, self._outbound):
            if greenlet is not current:
                greenlet.kill(block=False)
        try:
            self.transport.close()
        except OSError:  # pragma: no cover
            pass
        self.notify()

    # Waiting.

    def unread(self) -> int:
        """Bytes handed to the library and not read by it yet.

        Bytes reach the library's socket only from our relay greenlet, never
        during a library call, so a change of this count across a call means the
        call took bytes off the socket (and may have queued packets for other
        channels than its own).
        """
        try:
            return struct.unpack('i', fcntl.ioctl(self.fileno, termios.FIONREAD, _FOUR))[0]
        except OSError:
            return -1

    def settle(self, before: int) -> bool:
        """After a library call: if it took bytes off the socket, wake every
        waiter to look again (some packets may be theirs). Returns whether it did.

        libssh2 takes everything there is whenever it reads, but libssh takes a
        block at a time, so the last block can hold another channel's packets
        after that channel's greenlet already looked.
        """
        if self.unread() != before:
            self.notify()
            return True
        return False

    def notify(self) -> None:
        """Wake every greenlet waiting on this session so that it retries."""
        if self._waiters:
            waiters, self._waiters = self._waiters, set()
            run_callback = get_hub().loop.run_callback
            for waiter in waiters:
                run_callback(waiter.switch, None)

    def wait_for(self, directions: Callable[[], int], timeout: Optional[float] = None) -> bool:
        """Wait as :meth:`wait` does, for what ``directions()`` reports.

        Asking the library what blocks it may itself make it take in packets
        (libssh flushes and reads then): if that took bytes off the socket,
        return at once so that the caller tries again.

        :returns: False if ``timeout`` (seconds, may be <= 0) passed first.
        """
        before = self.unread()
        wanted = directions()
        if self.settle(before):
            return True
        if timeout is not None and timeout <= 0:
            return False
        return self.wait(wanted, timeout)

    def wait(self, directions: int, timeout: Optional[float] = None) -> bool:
        """Wait until the library can make progress.

        Returns when the library's socket is ready for ``directions`` (a mask of
        :data:`READ` and :data:`WRITE`, as the library reports what blocked it),
        when new bytes were handed to the library, or when the network side
        closed. Returns False if ``timeout`` seconds passed first.
        """
        if self._closed:
            raise OSError(errno.EBADF, 'session I/O is closed')
        if self.closed_reason is not None:
            # Nothing more will come from the network. Bytes the library has not
            # read yet may still hold output (libssh reads a block at a time): let
            # the caller try again as long as the library keeps taking them.
            left = self.unread()
            current = gevent.getcurrent()
            if left > 0 and self._seen_after_close.get(current) != left:
                self._seen_after_close[current] = left
                return True
            raise ConnectionResetError(errno.ECONNRESET, 'connection to %s lost (%s)' % (
                self.label, self.closed_reason))
        if not directions:
            directions = READ
        hub = get_hub()
        waiter = Waiter(hub)
        watcher = hub.loop.io(self.fileno, directions)
        timer = None
        self._waiters.add(waiter)
        try:
            watcher.start(waiter.switch, None)
            if timeout is not None:
                timer = hub.loop.timer(timeout)
                timer.start(waiter.switch, _TIMED_OUT)
            return waiter.get() is not _TIMED_OUT
        finally:
            watcher.stop()
            watcher.close()
            if timer is not None:
                timer.stop()
                timer.close()
            self._waiters.discard(waiter)

    def close(self, why: str = 'the client closed the connection') -> None:
        """Stop the relay and close every socket. Safe to call more than once.

        :param why: recorded (as :class:`ClosedHere`) as the reason the
          connection ended, unless it had ended already.
        """
        if self._closed:
            return
        if threading.get_ident() != self._thread:
            # A finalizer run by the garbage collector of another thread (the
            # caller's, with pssh.aio): greenlets are killed in their own hub.
            self._loop.run_callback_threadsafe(self.close, why)
            return
        self._closed = True
        if self.closing is None and self.closed_reason is None:
            self.closing = ClosedHere(why)
        if self.closing is not None:
            # (Over an EOF or error that our own disconnect caused.)
            self.closed_reason = self.closing
        current = gevent.getcurrent()
        for greenlet in (self._inbound, self._outbound):
            if greenlet is not current:
                greenlet.kill(block=False)
        # The library's end stays open until the library's session lets go of
        # it (see _LibraryEnd); closing ours is enough for it to read EOF.
        try:
            self._relay.close()
        except OSError:  # pragma: no cover
            pass
        try:
            self.transport.close()
        except OSError:  # pragma: no cover
            pass
        self.notify()


_TIMED_OUT = object()
_FOUR = b'\0\0\0\0'


class _LibraryEnd:
    """The file descriptor an SSH library session reads and writes.

    It is closed only once nothing holds this object any more, which is after
    the library's session object (which keeps a reference to it) is freed.
    Freeing a session or channel can make the library send a last packet; had
    the descriptor been closed earlier, its number could by then belong to
    another connection, and those bytes would corrupt that connection.

    The garbage collector breaks that order in two ways. When a session is
    part of a reference cycle, the collector runs every finalizer of the cycle
    (this one's too) before it frees any object, so libssh2 would free its
    channels, and send their close messages, on a descriptor already closed.
    And a finalizer of the cycle may keep the session alive (pssh.aio hands the
    core's objects over to its hub thread, to be freed there later); this
    finalizer has then run for good, although the session still writes to the
    descriptor. So one that runs during a collection does not close: it keeps
    the object, and the end of each collection closes the kept ones that
    nothing else holds any more (see :func:`_after_collection`).
    """

    __slots__ = ('_fd',)

    def __init__(self, fd: int) -> None:
        self._fd = fd

    def fileno(self) -> int:
        return self._fd

    def close(self) -> None:
        fd, self._fd = self._fd, -1
        if fd >= 0:
            try:
                os.close(fd)
            except OSError:  # pragma: no cover
                pass

    def __del__(self) -> None:
        if self._fd < 0:
            return
        if _collecting:
            # Kept alive by this list: the session that holds us may outlive
            # the collection, and our finalizer does not run a second time.
            _kept.append(self)
            return
        self.close()


def _refs_of_a_local() -> int:
    probe = _LibraryEnd(-1)
    return sys.getrefcount(probe)


#: What sys.getrefcount says of an object that only a local variable holds.
_REFS_OF_A_LOCAL = _refs_of_a_local()
#: True while the garbage collector runs.
_collecting = False
#: Library ends finalized during a collection and not closed yet.
_kept: 'list[_LibraryEnd]' = []


def _close_let_go() -> None:
    """Close the kept library ends that nothing but :data:`_kept` holds."""
    held = []
    while _kept:
        end = _kept.pop()
        if sys.getrefcount(end) > _REFS_OF_A_LOCAL:
            held.append(end)  # a session that outlived its collection
        else:
            end.close()
    _kept.extend(held)


def _after_collection(phase: str, info: Any) -> None:
    """A ``gc.callbacks`` entry: by the end of a collection every library
    session it freed has sent what it had to send."""
    global _collecting
    _collecting = phase == 'start'
    if not _collecting and _kept:
        _close_let_go()


gc.callbacks.append(_after_collection)


class Owner:
    """The thread, and its gevent loop, that a library object belongs to.

    libssh2 and libssh are not thread-safe within a session: freeing a
    channel or a session sends messages on the session and changes its
    state. With :mod:`pssh.aio` the sessions live in the ``pssh-aio``
    thread, but an object holding one can be let go of in another thread
    (the caller's, or wherever the garbage collector happens to run);
    :meth:`hand_over` then makes the owner's thread free it instead.
    """

    __slots__ = ('thread', 'loop')

    def __init__(self) -> None:
        self.thread = threading.get_ident()
        self.loop = get_hub().loop

    def hand_over(self, obj: Any) -> bool:
        """Called in a finalizer: from another thread than the owner's, keep
        ``obj`` alive until the owner's loop drops it; True if so."""
        if threading.get_ident() == self.thread:
            return False
        # In a list that the owner's loop empties: whatever the loop does with
        # a callback's arguments afterwards, the object goes in that call.
        try:
            self.loop.run_callback_threadsafe(list.clear, [obj])
        except Exception:  # pragma: no cover - the owner's loop is gone
            return False
        return True


def clock() -> float:
    """The event loop's clock, brought up to date: what deadlines are counted on."""
    loop = get_hub().loop
    loop.update_now()
    now: float = loop.now()
    return now


def call_until_done(io: SessionIO, func: Callable[[], Any], is_again: Callable[[Any], bool],
                    directions: Callable[[], int], timeout: Optional[float]) -> Any:
    """Call ``func`` until ``is_again(result)`` is false, waiting between tries.

    :raises TimeoutError: (the builtin) when ``timeout`` seconds pass first; the
      caller turns it into a :class:`pssh.exceptions.Timeout` naming the host.
    """
    before = io.unread()
    result = func()
    io.settle(before)
    if not is_again(result):
        return result
    loop = get_hub().loop
    deadline = None if timeout is None else loop.now() + timeout
    while is_again(result):
        if not io.wait_for(directions, None if deadline is None else deadline - loop.now()):
            raise TimeoutError
        loop.update_now()
        before = io.unread()
        result = func()
        io.settle(before)
    return result
