"""The asyncio clients behind the gevent clients' synchronous API, for tests.

The integration suite is written against the gevent clients. To run the same
tests against :mod:`pssh.aio` (issue 17: "parametrized, not copied"), this
module gives each test a ``SSHClient`` and ``ParallelSSHClient`` with the
synchronous methods the tests call, each of which runs the asyncio client's
coroutine in an asyncio loop of its own thread (the test's "user" loop) and
waits for it without blocking the test's gevent hub. Outputs are
:class:`pssh.output.HostOutput` instances whose data comes from the asyncio
output, so ``isinstance`` checks and the attributes hold.

Killing the greenlet that waits on one of these methods cancels the
asyncio task (``task.cancel()``, the asyncio counterpart) and returns once it
has ended. A parallel copy returns one finished stand-in for its greenlets,
holding the first failure in host order, as pssh.aio raises it; its argument
errors are raised at the call, as the gevent client raises them.

What has no asyncio counterpart (greenlets, 1.x names, deprecated
arguments) is not here: the tests of those run on the gevent clients only.
"""
import asyncio
import concurrent.futures
import inspect
import logging
import threading
import types
import weakref
from typing import Any

import gevent
from gevent.event import AsyncResult

from pssh import host_logger
from pssh.clients.base.single import InteractiveShell
from pssh.exceptions import HostArgumentError, Timeout
from pssh.output import HostOutput

__all__ = ['shim_module']


class _UserLoop:
    """An asyncio loop running in a thread of its own for the whole session."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name='test-asyncio',
                                        daemon=True)
        self._thread.start()

    def run(self, coro: Any) -> Any:
        task_made: 'concurrent.futures.Future[asyncio.Task]' = concurrent.futures.Future()
        ended: 'concurrent.futures.Future[Any]' = concurrent.futures.Future()

        def start() -> None:
            task = self.loop.create_task(coro)
            task.add_done_callback(lambda task: _settle(ended, task))
            task_made.set_result(task)

        self.loop.call_soon_threadsafe(start)
        # Waited for in a gevent worker thread: the test's own greenlets (a
        # writer feeding stdin, a fault proxy's) go on meanwhile.
        threadpool = gevent.get_hub().threadpool
        try:
            ok, value = threadpool.apply(_outcome, (ended,))
        except gevent.GreenletExit:
            # The greenlet waiting here was killed: the asyncio counterpart is
            # task.cancel(); the kill returns once the task has ended.
            task = threadpool.apply(task_made.result)
            self.loop.call_soon_threadsafe(task.cancel)
            threadpool.apply(_outcome, (ended,))
            raise
        if ok:
            return value
        try:
            raise value
        finally:
            del value  # no reference cycle through the traceback


def _outcome(future: 'concurrent.futures.Future[Any]') -> tuple:
    """``(True, result)`` or ``(False, exception)`` of ``future`` once done
    (an exception raised in a gevent worker thread would also be printed)."""
    try:
        return True, future.result()
    except BaseException as exc:
        return False, exc


def _settle(ended: 'concurrent.futures.Future[Any]', task: 'asyncio.Task') -> None:
    if task.cancelled():
        ended.cancel()
    elif task.exception() is not None:
        ended.set_exception(task.exception())
    else:
        ended.set_result(task.result())


_loop = None
_loop_lock = threading.Lock()


def _run(coro: Any) -> Any:
    global _loop
    with _loop_lock:
        if _loop is None:
            _loop = _UserLoop()
    return _loop.run(coro)


_END = object()


async def _next(iterator: Any) -> Any:
    """The next item of an async iterator, or _END (not StopAsyncIteration,
    which gevent's thread pool would report as an error)."""
    try:
        return await iterator.__anext__()
    except StopAsyncIteration:
        return _END


#: What the gevent parallel client's copy methods raise at the call, checking
#: their arguments before any host is touched (the rest fail a host's greenlet).
_CALL_ERRORS = (HostArgumentError, TypeError, ValueError)


def _done(exc: Any = None) -> AsyncResult:
    """A finished stand-in for a copy's greenlet (``joinall(..., raise_error=True)``)."""
    result = AsyncResult()
    if exc is None:
        result.set(None)
    else:
        result.set_exception(exc)
    return result


class _Stdin:
    def __init__(self, aio_stdin: Any) -> None:
        self._aio = aio_stdin

    def write(self, data: Any) -> None:
        _run(self._aio.write(data))

    def flush(self) -> None:
        _run(self._aio.flush())

    def close(self) -> None:
        _run(self._aio.close())


def _lines(aio_output: Any, index: int) -> Any:
    """A generator over one stream of an asyncio output: lines already in
    hand are taken here (the loop's thread is idle between our calls), the
    rest through the asyncio iterator."""
    stream = aio_output._streams[index]
    iterator = aio_output.stdout if index == 0 else aio_output.stderr
    while True:
        if stream.pos < len(stream.lines):
            line = stream.lines[stream.pos]
            stream.pos += 1
            if host_logger.isEnabledFor(logging.INFO):
                host_logger.info('%s%s', stream.prefix, line)
            yield line
            continue
        line = _run(_next(iterator))
        if line is _END:
            return
        yield line


class ShimOutput(HostOutput):
    """A HostOutput reading through a :class:`pssh.aio.HostOutput`."""

    __slots__ = ('_aio', '_shim_client', '_shim_stdin', '_wrap')

    def __init__(self, aio_output: Any, client: Any = None, wrap: Any = None) -> None:
        # No super().__init__(): every attribute is read from the asyncio output.
        self._aio = aio_output
        self._shim_client = client
        self._wrap = wrap
        self._shim_stdin = None if aio_output.stdin is None else _Stdin(aio_output.stdin)

    host = property(lambda self: self._aio.host)
    alias = property(lambda self: self._aio.alias)
    channel = property(lambda self: self._aio.channel)
    stdin = property(lambda self: self._shim_stdin)
    encoding = property(lambda self: self._aio.encoding)
    read_timeout = property(lambda self: self._aio.read_timeout)
    buffers = property(lambda self: self._aio.buffers)
    fully_qualified_command = property(lambda self: self._aio.fully_qualified_command)

    @property
    def client(self) -> Any:
        if self._shim_client is None and self._aio.client is not None:
            self._shim_client = self._wrap(self._aio.client)
        return self._shim_client

    @property
    def exception(self) -> Any:
        return self._aio.exception

    @exception.setter
    def exception(self, value: Any) -> None:
        self._aio.exception = value

    @property
    def exit_code(self) -> Any:
        return self._aio.exit_code

    @property
    def exit_signal(self) -> Any:
        return self._aio.exit_signal

    @property
    def stdout(self) -> Any:
        return None if self._aio.stdout is None else _lines(self._aio, 0)

    @property
    def stderr(self) -> Any:
        return None if self._aio.stderr is None else _lines(self._aio, 1)


def _rewrap_timeout(exc: Timeout, mapping: dict) -> Timeout:
    args = tuple([mapping.get(id(item), item) for item in arg] if isinstance(arg, list) else arg
                 for arg in exc.args)
    return Timeout(*args)


class _Shell(InteractiveShell):
    """An InteractiveShell over a :class:`pssh.aio.InteractiveShell`."""

    def __init__(self, aio_shell: Any, client: Any, wrap: Any = None) -> None:
        # No super().__init__(): the asyncio shell has the channel.
        self._aio = aio_shell
        self.output = ShimOutput(aio_shell.output, client, wrap)

    def run(self, cmd: str) -> None:
        _run(self._aio.run(cmd))

    def close(self) -> None:
        _run(self._aio.close())

    def __enter__(self) -> '_Shell':
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()


def _settings_of_aio(self: Any, attr: str) -> Any:
    """What the asyncio client has besides the methods wrapped here: its
    settings (a coroutine function would be a method the shim lacks)."""
    if attr.startswith('__'):
        raise AttributeError(attr)
    value = getattr(self._aio, attr)
    if inspect.iscoroutinefunction(value):
        raise AttributeError('%s: the shim has no synchronous %s' % (type(self).__name__, attr))
    return value


def _core_proxy_pool(self: Any) -> Any:
    """The bastion connections of the core client behind the asyncio one, for
    the tests that count them (the pool is the core's: pssh.aio has its own
    of nothing)."""
    return self._aio._core._proxy_pool


def shim_module(aio: Any, name: str) -> Any:
    """A module-like namespace with synchronous ``SSHClient`` and
    ``ParallelSSHClient`` over the asyncio clients of module ``aio``."""

    class SSHClient:
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            self._aio = aio.SSHClient(*args, **kwargs)
            _run(self._aio.connect())

        #: id(asyncio client) -> ours over it, while alive (ours holds it).
        _wrapped: 'weakref.WeakValueDictionary[int, SSHClient]' = weakref.WeakValueDictionary()
        max_command_length = aio.SSHClient.max_command_length

        @classmethod
        def _wrap(cls, aio_client: Any) -> 'SSHClient':
            """Ours over a parallel client's host: one object per asyncio
            client, so that ``output.client`` identities hold."""
            client = cls._wrapped.get(id(aio_client))
            if client is None or client._aio is not aio_client:
                client = cls.__new__(cls)
                client._aio = aio_client
                cls._wrapped[id(aio_client)] = client
            return client

        def run_command(self, *args: Any, **kwargs: Any) -> ShimOutput:
            return ShimOutput(_run(self._aio.run_command(*args, **kwargs)), self)

        def wait_finished(self, host_output: Any, timeout: Any = None) -> None:
            if not isinstance(host_output, ShimOutput):
                raise ValueError('not an output of this client')
            _run(self._aio.wait_finished(host_output._aio, timeout))

        def finished(self, channel: Any) -> Any:
            return _run(self._aio.finished(channel))

        def get_exit_status(self, channel: Any) -> Any:
            return _run(self._aio.get_exit_status(channel))

        def close_channel(self, channel: Any) -> None:
            _run(self._aio.close_channel(channel))

        def copy_file(self, *args: Any, **kwargs: Any) -> None:
            _run(self._aio.copy_file(*args, **kwargs))

        def copy_remote_file(self, *args: Any, **kwargs: Any) -> None:
            _run(self._aio.copy_remote_file(*args, **kwargs))

        def scp_send(self, *args: Any, **kwargs: Any) -> None:
            _run(self._aio.scp_send(*args, **kwargs))

        def scp_recv(self, *args: Any, **kwargs: Any) -> None:
            _run(self._aio.scp_recv(*args, **kwargs))

        def open_shell(self, *args: Any, **kwargs: Any) -> _Shell:
            return _Shell(_run(self._aio.open_shell(*args, **kwargs)), self)

        def close(self) -> None:
            _run(self._aio.close())

        def __enter__(self) -> 'SSHClient':
            return self

        def __exit__(self, *exc_info: Any) -> None:
            self.close()

        _proxy_pool = property(_core_proxy_pool)
        __getattr__ = _settings_of_aio

    class ParallelSSHClient:
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            self._aio = aio.ParallelSSHClient(*args, **kwargs)
            self._last: Any = None

        @property
        def hosts(self) -> Any:
            return self._aio.hosts

        @hosts.setter
        def hosts(self, hosts: Any) -> None:
            self._aio.hosts = hosts

        def run_command(self, *args: Any, **kwargs: Any) -> list:
            outputs = _run(self._aio.run_command(*args, **kwargs))
            self._last = [ShimOutput(output, None, SSHClient._wrap) for output in outputs]
            return self._last

        def get_last_output(self, cmds: Any = None) -> Any:
            return self._last

        def _aio_outputs(self, output: Any) -> Any:
            if output is None:
                return None
            if not isinstance(output, list):
                return output  # the asyncio client says what is wrong with it
            return [item._aio if isinstance(item, ShimOutput) else item for item in output]

        def join(self, output: Any = None, consume_output: bool = False,
                 timeout: Any = None) -> None:
            if output is None:
                output = self._last
                if output is None:
                    return
            try:
                _run(self._aio.join(self._aio_outputs(output), consume_output, timeout))
            except Timeout as exc:
                mapping = {id(item._aio): item for item in output
                           if isinstance(item, ShimOutput)}
                raise _rewrap_timeout(exc, mapping) from None

        def finished(self, output: Any = None) -> bool:
            if output is None:
                output = self._last
            return bool(_run(self._aio.finished(self._aio_outputs(output))))

        def _all_hosts(self, method: str, *args: Any, **kwargs: Any) -> list:
            try:
                _run(getattr(self._aio, method)(*args, **kwargs))
            except _CALL_ERRORS:
                raise  # the gevent client raises these at the call, before any host
            except Exception as exc:
                return [_done(exc)]
            return [_done()]

        def connect_auth(self) -> list:
            return self._all_hosts('connect_auth')

        def copy_file(self, *args: Any, **kwargs: Any) -> list:
            return self._all_hosts('copy_file', *args, **kwargs)

        def copy_remote_file(self, *args: Any, **kwargs: Any) -> list:
            return self._all_hosts('copy_remote_file', *args, **kwargs)

        def scp_send(self, *args: Any, **kwargs: Any) -> list:
            return self._all_hosts('scp_send', *args, **kwargs)

        def scp_recv(self, *args: Any, **kwargs: Any) -> list:
            return self._all_hosts('scp_recv', *args, **kwargs)

        def open_shell(self, *args: Any, **kwargs: Any) -> list:
            return [_Shell(shell, None, SSHClient._wrap)
                    for shell in _run(self._aio.open_shell(*args, **kwargs))]

        def run_shell_commands(self, shells: list, commands: Any) -> None:
            _run(self._aio.run_shell_commands([shell._aio for shell in shells], commands))

        def join_shells(self, shells: list, timeout: Any = None) -> None:
            try:
                _run(self._aio.join_shells([shell._aio for shell in shells], timeout))
            except Timeout as exc:
                raise _rewrap_timeout(exc, {id(shell._aio): shell for shell in shells}) from None

        def close(self) -> None:
            _run(self._aio.close())

        def __enter__(self) -> 'ParallelSSHClient':
            return self

        def __exit__(self, *exc_info: Any) -> None:
            self.close()

        _proxy_pool = property(_core_proxy_pool)
        __getattr__ = _settings_of_aio

    SSHClient.__name__, ParallelSSHClient.__name__ = 'SSHClient', 'ParallelSSHClient'
    SSHClient.__qualname__ = 'aio.SSHClient'
    ParallelSSHClient.__qualname__ = 'aio.ParallelSSHClient'
    module = types.SimpleNamespace(SSHClient=SSHClient, ParallelSSHClient=ParallelSSHClient,
                                   __name__=name, aio=aio)
    return module
