"""A byte buffer filled by one greenlet and read by others at the same time."""
from collections import deque
from typing import Deque, Iterator, Optional, Tuple

from gevent.event import Event

__all__ = ['ConcurrentRWBuffer']

#: A buffer holding more than this many unread bytes while someone is reading
#: it asks its writer to pause (see :meth:`ConcurrentRWBuffer.wait_writable`).
HIGH_WATER = 4 * 1024 * 1024


class _EndOfStream(Event):
    """The :attr:`ConcurrentRWBuffer.eof` event: setting it also wakes the
    buffer's readers, however the writer sets it."""

    def __init__(self, readable: Event) -> None:
        super().__init__()
        self._wake = readable

    def set(self) -> None:
        super().set()
        self._wake.set()


class ConcurrentRWBuffer:
    """Bytes written by a reader greenlet and consumed concurrently.

    The writer appends chunks with :meth:`write` and sets :attr:`eof` when the
    stream has ended. Readers take everything written so far with :meth:`read`
    (never blocking) or iterate over chunks, which blocks on the gevent hub until
    more data or the end arrives. Iteration ends once :attr:`eof` is set and every
    byte has been read. Chunks are kept as written and joined only when read, so
    reading a large output in one go costs one copy, not one per chunk.
    """

    __slots__ = ('_chunks', '_size', '_readable', '_drained', 'eof', '_readers', '_no_pause',
                 '_waiting', 'peers')

    def __init__(self) -> None:
        self._chunks: Deque[bytes] = deque()
        self._size = 0
        self._readable = Event()
        self._drained = Event()
        self._drained.set()
        #: Set by the writer when no more data will come (``set_eof()`` or
        #: ``eof.set()``: either wakes the readers).
        self.eof: Event = _EndOfStream(self._readable)
        self._readers = 0
        self._no_pause = False
        self._waiting = 0
        #: Other buffers filled by the same writer (stdout's stderr and back).
        self.peers: Tuple['ConcurrentRWBuffer', ...] = ()

    def __len__(self) -> int:
        """Bytes written and not read yet."""
        return self._size

    def write(self, data: bytes) -> None:
        """Append ``data``. Wakes any reader waiting for data."""
        if not data:
            return
        self._chunks.append(bytes(data))
        self._size += len(data)
        self._readable.set()
        if self._size > HIGH_WATER:
            self._drained.clear()

    def set_eof(self) -> None:
        """Mark the end of the stream and wake every reader."""
        self.eof.set()

    def read(self) -> Optional[bytes]:
        """Everything written and not read yet, or None if there is nothing. Never blocks."""
        chunks = self._chunks
        if not chunks:
            return None
        data = chunks.popleft() if len(chunks) == 1 else b''.join(chunks)
        chunks.clear()
        self._size = 0
        if not self.eof.is_set():
            self._readable.clear()
        self._drained.set()
        return data

    def wait(self, timeout: Optional[float] = None) -> bool:
        """Block until there is data to read or the stream has ended.

        :returns: False if ``timeout`` seconds passed first.
        """
        if self._chunks or self.eof.is_set():
            return True
        # A consumer blocked here must not be starved by the writer pausing for
        # a backlog in a peer buffer (a stdout generator left half-read while
        # stderr is being read): let the writer know, and wake it.
        self._waiting += 1
        for peer in self.peers:
            peer._drained.set()
        try:
            return self._readable.wait(timeout)
        finally:
            self._waiting -= 1

    @property
    def finished(self) -> bool:
        """True once the stream has ended and every byte has been read."""
        return self.eof.is_set() and not self._chunks

    def __iter__(self) -> Iterator[bytes]:
        while True:
            data = self.read()
            if data:
                yield data
                continue
            if self.eof.is_set():
                return
            self.wait()

    # Flow control between the writer and an active reader.

    def reader_started(self) -> None:
        """A consumer is reading this buffer as data arrives."""
        self._readers += 1

    def reader_stopped(self) -> None:
        """A consumer stopped reading (finished, abandoned or timed out)."""
        self._readers -= 1
        if self._readers <= 0:
            self._drained.set()

    def allow_unbounded(self) -> None:
        """Never pause the writer again (somebody waits for the whole stream)."""
        self._no_pause = True
        self._drained.set()

    def wait_writable(self) -> None:
        """Called by the writer: pause while an active reader has a large backlog.

        With nobody reading, the writer never pauses, so that output can be read
        after the command has finished.
        """
        while (self._size > HIGH_WATER and self._readers > 0 and not self._no_pause
               and not self.eof.is_set() and not any(p._waiting for p in self.peers)):
            self._drained.clear()
            self._drained.wait()
