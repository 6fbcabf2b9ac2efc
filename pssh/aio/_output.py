"""What the asyncio clients hand out: outputs, stdin, shells.

Each wraps the core's object, which lives in the hub thread; everything that
touches the network or the core's gevent objects goes through
:func:`~pssh.aio._hub.call`. Output comes over in batches of lines (all the
lines ready at the time, decoded and split in the hub), never a line at a
time: iterating them is then a plain async generator over a list.
"""
import logging
from time import monotonic
from typing import Any, AsyncIterator, List, Optional, Union

from .. import host_logger
from ..exceptions import Timeout
from ..output import HostOutput as _CoreOutput
from ._hub import call, hub, release_in_hub

__all__ = ['HostOutput', 'Stdin', 'InteractiveShell']


class _Stream:
    """One stream of one command, as the asyncio side sees it: the batch of
    lines being given out, shared by every iterator made over the stream."""

    __slots__ = ('core', 'lines', 'pos', 'prefix')

    def __init__(self, core: Any, host: str, stderr: bool) -> None:
        self.core = core  # the core's _LineStream (touched in the hub only)
        self.lines: List[str] = []
        self.pos = 0
        self.prefix = '[%s]\t[err]\t' % (host,) if stderr else '[%s]\t' % (host,)

    async def iterate(self, timeout: Optional[float]) -> AsyncIterator[str]:
        deadline = None if timeout is None else monotonic() + timeout
        while True:
            lines = self.lines
            pos = self.pos
            end = len(lines)
            if pos < end:
                log = host_logger.isEnabledFor(logging.INFO)
                while pos < end:
                    line = lines[pos]
                    pos += 1
                    # Kept before each yield: another iterator over this
                    # stream, alive at the same time, goes on from here.
                    self.pos = pos
                    if log:
                        host_logger.info('%s%s', self.prefix, line)
                    yield line
                    if self.pos != pos or self.lines is not lines:
                        break  # another iterator moved on meanwhile
                continue
            if end:
                # All given out: the batch is not kept while waiting for the
                # next one (nor after the end, for as long as the output lives).
                lines = self.lines = []
                self.pos = 0
            batch = await call(self.core.take, deadline, timeout, undo=self._keep)
            if batch is None:
                return
            self._keep(batch)

    def __del__(self) -> None:
        release_in_hub(self, 'core')

    def _keep(self, batch: Optional[List[str]]) -> None:
        """Make ``batch`` the lines to give out next (also when the iterator
        that asked for it was cancelled as it came: nothing is lost)."""
        if not batch:
            return
        if self.pos < len(self.lines):  # another iterator got a batch first
            self.lines = self.lines[self.pos:] + batch
        else:
            self.lines = batch
        self.pos = 0


class Stdin:
    """The standard input of a remote command (a coroutine for each action)."""

    __slots__ = ('_core',)

    def __init__(self, core: Any) -> None:
        self._core = core

    async def write(self, data: Union[str, bytes]) -> None:
        """Send ``data`` (``str`` as UTF-8); returns once all of it is sent.
        Data for a command that has ended is dropped, as with the gevent client."""
        await call(self._core.write, data)

    def __del__(self) -> None:
        release_in_hub(self, '_core')

    async def flush(self) -> None:
        """Nothing to do: :meth:`write` returns once its data is sent."""

    async def close(self) -> None:
        """Send end-of-file: the command sees its standard input close."""
        await call(self._core.close)


class HostOutput:
    """What one host produced for one command: the asyncio face of
    :class:`pssh.output.HostOutput`, with the same attributes.

    ``stdout`` and ``stderr`` give a new async iterator on every access, all
    drawing from one stream: a line is given out once, and an iterator left
    early (``break``, a cancellation, a :class:`~pssh.exceptions.Timeout` from
    ``read_timeout``) loses nothing. ``stdin`` has coroutines ``write`` and
    ``close``.
    """

    __slots__ = ('_core', '_client', '_streams', 'stdin', '_wrap_client')

    def __init__(self, core: _CoreOutput, wrap_client: Any = None) -> None:
        self._core = core
        self._wrap_client = wrap_client
        self._client: Any = None
        streams = core._streams
        self._streams = None if streams is None else (
            _Stream(streams[0], core.host, False), _Stream(streams[1], core.host, True))
        self.stdin = None if core.stdin is None else Stdin(core.stdin)

    # Plain data, read across threads: attribute reads only.
    host = property(lambda self: self._core.host, doc='The host name.')
    alias = property(lambda self: self._core.alias, doc='The alias from its HostConfig.')
    channel = property(lambda self: self._core.channel, doc="The command's channel.")
    encoding = property(lambda self: self._core.encoding, doc='The output encoding.')
    read_timeout = property(lambda self: self._core.read_timeout,
                            doc='Seconds an output iterator waits for more output.')
    buffers = property(lambda self: self._core.buffers, doc='The raw output buffers.')
    fully_qualified_command = property(lambda self: self._core.fully_qualified_command,
                                       doc='The command line as sent.')
    exit_signal = property(lambda self: self._core.exit_signal,
                           doc="Name of the signal that killed the command, else None.")

    @property
    def exception(self) -> Optional[BaseException]:
        """The error that stopped this host, else None."""
        return self._core.exception

    @exception.setter
    def exception(self, value: Optional[BaseException]) -> None:
        self._core.exception = value

    @property
    def client(self) -> Any:
        """The :class:`~pssh.aio.SSHClient` of this host (None for a failed host)."""
        if self._client is None and self._core.client is not None:
            wrap = self._wrap_client
            self._client = wrap(self._core.client) if wrap is not None else self._core.client
        return self._client

    @property
    def exit_code(self) -> Optional[int]:
        """The command's exit status, or None while it is not known yet."""
        channel = self._core.channel
        if channel is None:
            return None
        code = getattr(channel, 'exit_code', None)
        if code is None:
            # Polling for the end lifts a buffer_limit pause, as in the core.
            unpause = getattr(channel, 'unpause', None)
            if unpause is not None:
                hub().submit(unpause)
        return code

    @property
    def stdout(self) -> Optional[AsyncIterator[str]]:
        """An async iterator of stdout lines (None for a failed host)."""
        if self._streams is None:
            return None
        return self._streams[0].iterate(self._core.read_timeout)

    @property
    def stderr(self) -> Optional[AsyncIterator[str]]:
        """An async iterator of stderr lines (None for a failed host)."""
        if self._streams is None:
            return None
        return self._streams[1].iterate(self._core.read_timeout)

    def __repr__(self) -> str:
        return repr(self._core)

    __str__ = __repr__

    def __del__(self) -> None:
        release_in_hub(self, '_core')


def unwrap_outputs(output: Any) -> Any:
    """The core outputs of a list of ours (None items kept)."""
    if output is None:
        return None
    if not isinstance(output, list):
        raise ValueError('output must be the list returned by run_command, got %s'
                         % type(output).__name__)
    return [None if item is None else _core_of(item) for item in output]


def _core_of(item: Any) -> _CoreOutput:
    if not isinstance(item, HostOutput):
        raise TypeError('expected a pssh.aio HostOutput, got %s' % type(item).__name__)
    return item._core


def rewrap_timeout(exc: Timeout, ours: List[Any]) -> Timeout:
    """A Timeout of the core (join, join_shells) with ``ours``, the asyncio
    outputs or shells, in place of the core objects they wrap."""
    by_core = {id(item._core): item for item in ours if item is not None}
    args = tuple([by_core.get(id(core), core) for core in arg] if isinstance(arg, list) else arg
                 for arg in exc.args)
    new = Timeout(*args)
    new.__cause__ = exc.__cause__
    return new


class InteractiveShell:
    """A login shell on one host: the asyncio face of the core's shell."""

    __slots__ = ('_core', 'output')

    def __init__(self, core: Any, wrap_client: Any = None) -> None:
        self._core = core
        self.output = HostOutput(core.output, wrap_client)

    @property
    def stdout(self) -> Optional[AsyncIterator[str]]:
        return self.output.stdout

    @property
    def stderr(self) -> Optional[AsyncIterator[str]]:
        return self.output.stderr

    @property
    def stdin(self) -> Optional[Stdin]:
        return self.output.stdin

    @property
    def exit_code(self) -> Optional[int]:
        return self.output.exit_code

    async def run(self, cmd: str) -> None:
        """Send ``cmd`` and a newline to the shell."""
        await call(self._core.run, cmd)

    async def close(self) -> None:
        """End the shell's input and wait for it to exit."""
        await call(self._core.close)

    def __del__(self) -> None:
        release_in_hub(self, '_core')

    async def __aenter__(self) -> 'InteractiveShell':
        return self

    async def __aexit__(self, *exc_info: Any) -> None:
        await self.close()
