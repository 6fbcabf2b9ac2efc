"""The bridge between asyncio and the gevent core: one hub in its own thread.

Every :mod:`pssh.aio` client lives in one thread of the process that runs a
gevent hub (``pssh-aio``), started with the first client and shared by all
of them, whatever asyncio loop (or thread) they are used from. A coroutine of
ours hands the hub a :class:`Call`: the hub runs it as a greenlet, and its
result, or its exception, goes back to the caller's loop with
``call_soon_threadsafe``. The caller's loop never waits on the network, and
the core runs exactly as under gevent: there is one implementation.

Why this and not ``add_reader`` on the session sockets: see docs/design.rst,
"The asyncio clients".
"""
import asyncio
import os
import threading
import traceback
from collections import deque
from typing import Any, Callable, Deque, Optional

import gevent
from gevent.event import Event as _GEvent

__all__ = ['Call', 'call', 'hub', 'release_in_hub', 'run_blocking']


class _Hub:
    """The thread and its hub. :meth:`submit` is the only way in."""

    def __init__(self) -> None:
        self._pending: Deque[Callable[[], Any]] = deque()
        self._started = threading.Event()
        self._watcher: Any = None
        self.thread = threading.Thread(target=self._main, name='pssh-aio', daemon=True)
        self.thread.start()
        self._started.wait()

    def _main(self) -> None:
        loop = gevent.get_hub().loop
        # An active async watcher keeps the hub's loop alive while idle and
        # wakes it from other threads (ev_async_send is thread-safe).
        self._watcher = loop.async_()
        self._watcher.start(self._drain)
        self._started.set()
        _GEvent().wait()  # for ever: the thread is a daemon

    def _drain(self) -> None:
        pending = self._pending
        while pending:
            pending.popleft()()

    def submit(self, func: Callable[[], Any]) -> None:
        """Run ``func()`` soon in the hub thread, outside any greenlet but the
        hub's: it must not block (spawn a greenlet for that)."""
        self._pending.append(func)
        self._watcher.send()


_hub: Optional[_Hub] = None
_hub_lock = threading.Lock()


def hub() -> _Hub:
    """The process's hub thread, started on first use."""
    global _hub
    current = _hub
    if current is None:
        with _hub_lock:
            current = _hub
            if current is None:
                current = _hub = _Hub()
    return current


def _forget_hub_in_child() -> None:
    # A forked child has no hub thread: its first client starts one.
    global _hub, _hub_lock
    _hub = None
    _hub_lock = threading.Lock()


os.register_at_fork(after_in_child=_forget_hub_in_child)


def release_in_hub(owner: Any, attr: str) -> None:
    """Set ``owner.attr`` to None and let go of what it held in the hub thread.

    For the objects of ours that hold the core's (clients, outputs, streams,
    stdin, shells), when they are freed: the core's objects must be freed
    where they run, since freeing a channel or session makes the SSH library
    send on its socket and closes descriptors that the hub's loop watches.
    The value goes into a list that only the hub empties, so that its last
    reference cannot stay behind in this thread.
    """
    box = [getattr(owner, attr, None)]
    setattr(owner, attr, None)
    if box[0] is None or _hub is None:
        return
    try:
        _hub.submit(box.clear)
    except Exception:  # interpreter shutdown: nothing left to run it
        pass


def run_blocking(func: Callable[..., Any], *args: Any) -> Any:
    """``func(*args)`` in the hub thread, waited for here. For quick work with
    no network I/O (making a client), which must be done in the hub."""
    done = threading.Event()
    box: list = []

    def run() -> None:
        try:
            box.append((True, func(*args)))
        except BaseException as exc:  # handed over to the caller
            box.append((False, exc))
        done.set()

    hub().submit(lambda: gevent.spawn(run))
    done.wait()
    ok, value = box[0]
    if not ok:
        raise value
    return value


def _nothing() -> None:
    """What a :class:`Call` holds once its operation has run."""


def _clear_frames(exc: BaseException) -> None:
    """Drop the locals of the finished frames of ``exc``'s traceback and of
    those of the exceptions it was raised from (the tracebacks still print)."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        traceback.clear_frames(exc.__traceback__)
        exc = exc.__cause__ or exc.__context__  # type: ignore[assignment]


class Call:
    """One operation running in the hub as a greenlet, awaited from a loop.

    ``undo(result)`` (if given) is run in the caller's loop when the
    operation finished but its caller was cancelled at the last moment, so
    that nobody takes the result: it gives back or releases what the result
    holds. (With the loop closed, the result is dropped.)
    """

    __slots__ = ('_func', '_args', '_loop', 'future', 'ended', '_greenlet', '_undo')

    def __init__(self, loop: asyncio.AbstractEventLoop, func: Callable[..., Any],
                 args: tuple, undo: Optional[Callable[[Any], None]] = None) -> None:
        self._func = func
        self._args = args
        self._loop = loop
        self._undo = undo
        self.future: asyncio.Future = loop.create_future()
        self.ended: asyncio.Future = loop.create_future()
        self._greenlet: Any = None

    def start(self) -> None:  # in the hub
        self._greenlet = gevent.spawn(self._run)

    def _run(self) -> None:  # in a hub greenlet
        # What the operation holds (the core's objects) is let go of here, in
        # the hub; so are the locals of the frames of an error's traceback,
        # which goes to the caller's thread (and is not kept in a local of a
        # frame of its own traceback: no reference cycle for the caller's
        # garbage collector to free the core's objects in its thread).
        func, args = self._func, self._args
        self._func, self._args = _nothing, ()
        try:
            result = func(*args)
        except BaseException as exc:  # GreenletExit included: handed over
            del func, args
            _clear_frames(exc)
            self._hand_over((False, exc))
        else:
            del func, args
            self._hand_over((True, result))

    def _hand_over(self, outcome: tuple) -> None:  # in a hub greenlet
        try:
            self._loop.call_soon_threadsafe(self._deliver, outcome)
        except RuntimeError:  # the caller's loop is closed: nobody to tell
            pass

    def _deliver(self, outcome: tuple) -> None:  # in the caller's loop
        ok, value = outcome
        if not self.ended.done():
            self.ended.set_result(None)
        future = self.future
        if future.done():  # cancelled meanwhile: nobody wants it
            if ok and self._undo is not None:
                self._undo(value)
            return
        if ok:
            future.set_result(value)
        elif isinstance(value, gevent.GreenletExit):
            future.cancel()
        else:
            future.set_exception(value)

    def kill(self) -> None:  # in the hub
        greenlet = self._greenlet
        if greenlet is not None and not greenlet.dead:
            greenlet.kill(block=False)


async def call(func: Callable[..., Any], *args: Any,
               undo: Optional[Callable[[Any], None]] = None) -> Any:
    """Run ``func(*args)`` in the hub and await its result.

    Cancelling the awaiting task kills the greenlet (GreenletExit, which the
    core's operations answer by closing what they opened) and waits for it to
    end before the cancellation goes on, so that once it has reached the
    caller nothing of the operation is left running.
    """
    loop = asyncio.get_running_loop()
    op = Call(loop, func, args, undo)
    the_hub = hub()
    the_hub.submit(op.start)
    try:
        return await op.future
    except asyncio.CancelledError:
        if not op.ended.done():
            the_hub.submit(op.kill)
            await _wait_uncancellable(op.ended)
        raise
    finally:
        # The future holds the error, whose traceback holds this frame.
        del op


async def _wait_uncancellable(future: asyncio.Future) -> None:
    """Wait for ``future`` even if cancelled again meanwhile (the cancellation
    being handled is re-raised by the caller afterwards)."""
    while not future.done():
        try:
            await asyncio.shield(future)
        except asyncio.CancelledError:
            continue
