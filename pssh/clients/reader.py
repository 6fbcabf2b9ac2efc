"""A byte buffer filled by one greenlet and read by others at the same time."""
from collections import deque
from typing import Deque, Iterator, Optional, Tuple

from gevent.event import Event

__all__ = ['ConcurrentRWBuffer']

#: Most bytes :meth:`ConcurrentRWBuffer.read_some` joins into one piece.
_PIECE = 256 * 1024


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

    Unread data is kept without limit unless :attr:`limit` is set: the writer
    then pauses (:meth:`wait_writable`) while more than that many bytes are
    unread, unless somebody is waiting for the stream's end or for its peer.
    """

    __slots__ = ('_chunks', '_size', '_readable', '_drained', 'eof', '_no_pause', '_waiting',
                 'peers', 'limit')

    def __init__(self, limit: Optional[int] = None) -> None:
        self._chunks: Deque[bytes] = deque()
        self._size = 0
        self._readable = Event()
        self._drained = Event()
        self._drained.set()
        #: Set by the writer when no more data will come (``set_eof()`` or
        #: ``eof.set()``: either wakes the readers).
        self.eof: Event = _EndOfStream(self._readable)
        self._no_pause = False
        self._waiting = 0
        #: Other buffers filled by the same writer (stdout's stderr and back).
        self.peers: Tuple['ConcurrentRWBuffer', ...] = ()
        #: Unread bytes above which the writer pauses; None: never pause.
        self.limit = limit

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
        self._taken(len(data))
        return data

    def read_some(self) -> Optional[bytes]:
        """The oldest unread bytes, at most a few hundred KiB unless one written
        chunk is larger, or None if there is nothing. Never blocks.

        Taking a large backlog a piece at a time keeps the memory of whatever is
        made from it (decoded text, lines) small.
        """
        chunks = self._chunks
        if not chunks:
            return None
        data = chunks.popleft()
        if chunks and len(data) < _PIECE:
            pieces = [data]
            size = len(data)
            while chunks and size + len(chunks[0]) <= _PIECE:
                piece = chunks.popleft()
                pieces.append(piece)
                size += len(piece)
            if len(pieces) > 1:
                data = b''.join(pieces)
        self._taken(len(data))
        return data

    def _taken(self, size: int) -> None:
        self._size -= size
        if not self._chunks and not self.eof.is_set():
            self._readable.clear()
        if self.limit is not None and self._size <= self.limit:
            self._drained.set()

    def wait(self, timeout: Optional[float] = None) -> bool:
        """Block until there is data to read or the stream has ended.

        :returns: False if ``timeout`` seconds passed first.
        """
        if self._chunks or self.eof.is_set():
            return True
        # A consumer blocked here must not be starved by the writer pausing for
        # a backlog in a peer buffer (stdout left unread while stderr is being
        # read): let the writer know, and wake it.
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

    # Flow control: only with a limit.

    def allow_unbounded(self) -> None:
        """Never pause the writer again (somebody waits for the whole stream)."""
        self._no_pause = True
        self._drained.set()

    def hold_open(self) -> None:
        """Somebody waits on the command itself (writing its stdin): do not
        pause until :meth:`release`."""
        self._waiting += 1
        self._drained.set()

    def release(self) -> None:
        """End of a :meth:`hold_open`."""
        self._waiting -= 1

    def wait_writable(self) -> None:
        """Called by the writer before each read: pause while more than
        :attr:`limit` bytes are unread and nobody is waiting on the command
        (end of stream, its stdin, or the other stream)."""
        limit = self.limit
        if limit is None:
            return
        while (self._size > limit and not self._no_pause and not self.eof.is_set()
               and not self._waiting and not any(p._waiting for p in self.peers)):
            self._drained.clear()
            self._drained.wait()
