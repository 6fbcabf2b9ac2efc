"""Output of a command run on one host: plain data, no network I/O."""
import codecs
import logging
from time import monotonic
from typing import Any, Iterator, List, Optional

from . import host_logger
from ._deprecation import warn
from .clients.reader import ConcurrentRWBuffer
from .exceptions import Timeout

__all__ = ['HostOutput', 'HostOutputBuffers', 'BufferData']


class BufferData:
    """One output stream: the greenlet filling it and the buffer it fills."""

    __slots__ = ('reader', 'rw_buffer')

    def __init__(self, reader: Any, rw_buffer: ConcurrentRWBuffer) -> None:
        self.reader = reader
        self.rw_buffer = rw_buffer

    def __repr__(self) -> str:
        return 'BufferData(reader=%r, rw_buffer=%r)' % (self.reader, self.rw_buffer)


class HostOutputBuffers:
    """The stdout and stderr :class:`BufferData` of a command."""

    __slots__ = ('stdout', 'stderr')

    def __init__(self, stdout: BufferData, stderr: BufferData) -> None:
        self.stdout = stdout
        self.stderr = stderr

    def __repr__(self) -> str:
        return 'HostOutputBuffers(stdout=%r, stderr=%r)' % (self.stdout, self.stderr)


class _LineStream:
    """Turns one byte stream into lines, remembering its place between generators.

    Every generator made over a stream shares this state, so each line is given
    out once, a generator interrupted by a timeout loses nothing, and a partial
    line waits for the rest of its bytes. Data is decoded and split a whole chunk
    at a time; per line there is only the ``yield``.
    """

    __slots__ = ('_buffer', '_decoder', '_pending', '_lines', '_pos', '_done', '_prefix',
                 '_name', '_host')

    def __init__(self, buffer: ConcurrentRWBuffer, encoding: str, host: str,
                 stderr: bool) -> None:
        self._buffer = buffer
        self._decoder = codecs.getincrementaldecoder(encoding)('replace')
        self._pending: List[str] = []
        self._lines: List[str] = []
        self._pos = 0
        self._done = False
        self._host = host
        self._name = 'stderr' if stderr else 'stdout'
        self._prefix = '[%s]\t[err]\t' % (host,) if stderr else '[%s]\t' % (host,)

    def _feed(self, text: str) -> None:
        if '\n' not in text:
            if text:
                self._pending.append(text)
            return
        lines = text.split('\n')
        if self._pending:
            lines[0] = ''.join(self._pending) + lines[0]
            self._pending = []
        last = lines.pop()
        if last:
            self._pending.append(last)
        if '\r' in text or (lines[0].endswith('\r')):
            lines = [line[:-1] if line.endswith('\r') else line for line in lines]
        self._lines = lines
        self._pos = 0

    def _finish(self) -> None:
        tail = self._decoder.decode(b'', True)
        self._done = True
        if tail:
            self._feed(tail)
        if self._pending:
            # A last line without a newline is given as it is: a final \r is
            # not followed by \n, so it is part of the line.
            self._lines = self._lines[self._pos:] + [''.join(self._pending)]
            self._pos = 0
            self._pending = []

    def _ready(self, deadline: Optional[float], timeout: Optional[float]) -> bool:
        """Decode until lines are ready to give out; False once the stream has
        ended and every line was given. Waits on the buffer for more data."""
        buffer = self._buffer
        while True:
            if self._pos < len(self._lines):
                return True
            if self._lines:
                # Every line given out: let them go before reading more.
                self._lines = []
                self._pos = 0
            if self._done:
                return False
            if deadline is not None and monotonic() >= deadline:
                raise Timeout('Timed out reading %s of %s after %s seconds',
                              self._name, self._host, timeout)
            # A piece at a time: the text and lines made from a large backlog
            # (a host read after the others) are then never much bigger than
            # the piece, on top of the bytes still buffered.
            data = buffer.read_some()
            if data:
                self._feed(self._decoder.decode(data))
                continue
            if buffer.eof.is_set():
                self._finish()
                continue
            remaining = None if deadline is None else max(0.0, deadline - monotonic())
            if not buffer.wait(remaining):
                raise Timeout('Timed out reading %s of %s after %s seconds',
                              self._name, self._host, timeout)

    def generate(self, timeout: Optional[float]) -> Iterator[str]:
        deadline = None if timeout is None else monotonic() + timeout
        while self._ready(deadline, timeout):
            lines = self._lines
            pos = self._pos
            log = host_logger.isEnabledFor(logging.INFO)
            prefix = self._prefix
            end = len(lines)
            while pos < end:
                line = lines[pos]
                pos += 1
                # Stored before each yield: other generators over this
                # stream, alive at the same time, go on from here.
                self._pos = pos
                if log:
                    host_logger.info('%s%s', prefix, line)
                yield line
                if self._pos != pos or self._lines is not lines:
                    break  # another generator moved on meanwhile

    def take(self, deadline: Optional[float], timeout: Optional[float],
             most: int = 4 * 1024 * 1024) -> Optional[List[str]]:
        """The lines ready now and those in the bytes buffered (about ``most``
        bytes of them at most), waiting (until ``deadline``, a
        :func:`~time.monotonic` time) for at least one line; None at the end of
        the stream. The lines count as given out: the caller logs them when it
        gives them on (the asyncio clients' streams, which take a batch per
        trip between threads)."""
        if not self._ready(deadline, timeout):
            return None
        batch = self._lines[self._pos:] if self._pos else self._lines
        self._lines = []
        self._pos = 0
        buffer = self._buffer
        size = 0
        while size < most:
            data = buffer.read_some()
            if not data:
                break
            size += len(data)
            self._feed(self._decoder.decode(data))
            if self._lines:
                batch.extend(self._lines)
                self._lines = []
        return batch


_ONE_X_KEYS = frozenset(('host', 'cmd', 'channel', 'stdout', 'stderr', 'stdin', 'exit_code',
                         'exception'))


class HostOutput:
    """What one host produced for one command.

    ``stdout`` and ``stderr`` give a new line generator on every access, all
    drawing from one buffer that reader greenlets fill from the moment the
    command starts: a line is given out once, so reading a stream fully a second
    time yields nothing. Lines are decoded with ``encoding``, split on ``\\n`` or
    ``\\r\\n`` (a lone ``\\r`` stays in the line), and a last line without a newline
    is given at the end. Each line read is logged to ``pssh.host_logger`` at INFO
    as ``[host]\\t<line>`` (``[host]\\t[err]\\t<line>`` for stderr).

    With ``read_timeout`` set, a generator raises :class:`~pssh.exceptions.Timeout`
    once that many seconds have passed since it started and no more output is
    ready; the lines not read yet stay available to a later access.

    ``exit_code`` is None until the end of the command is known, then its exit
    status. A command killed by a signal has ``exit_code`` equal to minus the
    signal number (as :mod:`subprocess` reports it) and the signal's name, such as
    ``'KILL'``, in ``exit_signal``; it is never reported as 0.

    For a host that failed to start the command, ``exception`` holds the error
    and ``stdout``, ``stderr``, ``stdin``, ``channel``, ``client`` and
    ``exit_code`` are None. If the connection is lost while the command runs,
    its output ends there, ``exit_code`` stays None and ``exception`` holds the
    error.
    """

    __slots__ = ('host', 'alias', 'channel', 'stdin', 'client', '_exception', 'encoding',
                 'read_timeout', 'buffers', 'fully_qualified_command', '_streams', '_cmd')

    def __init__(self, host: str, channel: Any, stdin: Any, client: Any,
                 alias: Optional[str] = None, exception: Optional[BaseException] = None,
                 encoding: str = 'utf-8', read_timeout: Optional[float] = None,
                 buffers: Optional[HostOutputBuffers] = None,
                 fully_qualified_command: Optional[bytes] = None) -> None:
        self.host = host
        self.alias = alias
        self.channel = channel
        self.stdin = stdin
        self.client = client
        self._exception = exception
        self.encoding = encoding
        self.read_timeout = read_timeout
        self.buffers = buffers
        self.fully_qualified_command = fully_qualified_command
        self._streams: Optional[tuple] = None
        self._cmd: Any = None  # the parallel client's greenlet, for 1.x's ['cmd']
        if buffers is not None:
            codecs.lookup(encoding)
            self._streams = (
                _LineStream(buffers.stdout.rw_buffer, encoding, host, False),
                _LineStream(buffers.stderr.rw_buffer, encoding, host, True))

    @property
    def stdout(self) -> Optional[Iterator[str]]:
        """A generator of stdout lines (None for a failed host)."""
        if self._streams is None:
            return None
        return self._streams[0].generate(self.read_timeout)

    @property
    def stderr(self) -> Optional[Iterator[str]]:
        """A generator of stderr lines (None for a failed host)."""
        if self._streams is None:
            return None
        return self._streams[1].generate(self.read_timeout)

    @property
    def exception(self) -> Optional[BaseException]:
        """The error that stopped this host: failing to start the command, or
        losing the connection while it ran. None otherwise."""
        if self._exception is not None:
            return self._exception
        return getattr(self.channel, 'error', None) if self.channel is not None else None

    @exception.setter
    def exception(self, value: Optional[BaseException]) -> None:
        self._exception = value

    @property
    def exit_code(self) -> Optional[int]:
        """The command's exit status, or None while it is not known yet."""
        channel = self.channel
        if channel is None:
            return None
        code = getattr(channel, 'exit_code', None)
        if code is None:
            # The caller polls for the end: a buffer_limit must not hold it back.
            unpause = getattr(channel, 'unpause', None)
            if unpause is not None:
                unpause()
        return code

    @property
    def exit_signal(self) -> Optional[str]:
        """Name of the signal that killed the command (``'KILL'``...), else None."""
        if self.channel is None:
            return None
        return getattr(self.channel, 'exit_signal', None)

    # 1.x: the output of a host was a dict, and the single client's result the
    # tuple (channel, host, stdout, stderr, stdin).

    def __getitem__(self, key: Any) -> Any:
        """``host_out['stdout']`` and the other keys of 1.x's dict; an int
        indexes 1.x's single-client tuple ``(channel, host, stdout, stderr, stdin)``.

        .. deprecated:: 2.0
           Use the attributes.
        """
        if isinstance(key, int) and not isinstance(key, bool):
            warn('Indexing a HostOutput is deprecated: use its attributes '
                 '(channel, host, stdout, stderr, stdin)')
            return self._as_tuple()[key]
        if key not in _ONE_X_KEYS:
            raise KeyError(key)
        warn('host_output[%r] is deprecated: use host_output.%s' % (key, key))
        if key == 'cmd':
            return self._cmd
        return getattr(self, key)

    def __iter__(self) -> Iterator[Any]:
        """Unpacks as 1.x's single-client result:
        ``channel, host, stdout, stderr, stdin = client.run_command(cmd)``.

        .. deprecated:: 2.0
           Use the attributes.
        """
        warn('Unpacking a HostOutput is deprecated: use its attributes '
             '(channel, host, stdout, stderr, stdin)')
        return iter(self._as_tuple())

    def _as_tuple(self) -> tuple:
        return (self.channel, self.host, self.stdout, self.stderr, self.stdin)

    def __repr__(self) -> str:
        return ('\thost={host}{nl}\talias={alias}{nl}\texit_code={exit_code}{nl}'
                '\tchannel={channel}{nl}\texception={exception}{nl}\tencoding={encoding}'
                '{nl}\tread_timeout={read_timeout}{nl}'
                '\tfully_qualified_command={fqc!r}').format(
                    nl='\n', host=self.host, alias=self.alias, exit_code=self.exit_code,
                    channel=self.channel, exception=self.exception, encoding=self.encoding,
                    read_timeout=self.read_timeout, fqc=self.fully_qualified_command)

    __str__ = __repr__
