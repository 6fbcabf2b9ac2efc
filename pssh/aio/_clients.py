"""The asyncio clients: the core's clients, driven from an asyncio loop.

A client here holds a core client (:mod:`pssh.clients.native` or
:mod:`pssh.clients.ssh`) that lives in the hub thread, and turns each of its
methods that waits into a coroutine through :func:`~pssh.aio._hub.call`. No
behaviour is implemented twice: arguments, defaults, errors and results are
the core's, wrapped in the asyncio face of outputs and shells.
"""
import inspect
import weakref
from functools import partial
from typing import Any, Callable, List, Optional, Sequence, Type, Union

import gevent
from gevent.event import AsyncResult

from ..exceptions import Timeout
from ._hub import call, hub, release_in_hub, run_blocking
from ._output import HostOutput, InteractiveShell, rewrap_timeout, unwrap_outputs

__all__ = ['AioParallelSSHClient', 'AioSSHClient']


#: Unread bytes per stream above which a command is paused (SSH flow control)
#: when run_command is given no buffer_limit. The core's default is to keep
#: everything: its readers run only when the caller waits, so a slow caller
#: slows them. Here they run in another thread, and the bound keeps a reader
#: from outrunning a slow ``async for`` by the whole output. Waiting for the
#: command (join, wait_finished, exit_code) or writing its stdin lifts it.
FLOW_LIMIT = 8 * 1024 * 1024


def _flow(buffer_limit: Optional[int]) -> Optional[int]:
    return FLOW_LIMIT if buffer_limit is None else buffer_limit


def _join_all(greenlets: List[gevent.Greenlet]) -> None:
    """Wait for every greenlet (one per host); then raise the first failure in
    host order. Killed (the caller was cancelled): kill them all first."""
    try:
        gevent.joinall(greenlets)
    except BaseException:
        gevent.killall(greenlets, block=True)
        raise
    for greenlet in greenlets:
        if greenlet.exception is not None:
            raise greenlet.exception


def _close_outputs(outputs: List[Any]) -> None:
    """Close, in the hub, the channels of outputs nobody received (a run
    cancelled as it returned)."""
    def close() -> None:
        for core in outputs:
            if core is not None and core.client is not None and core.channel is not None:
                core.client.close_channel(core.channel)
    hub().submit(lambda: gevent.spawn(close))


class _OverCore:
    """What both asyncio clients do with the core client they hold in ``_core``."""

    def __getattr__(self, name: str) -> Any:
        # Plain settings of the core (user, port, pool_size, host_config...);
        # its methods would run in the wrong thread.
        core = self.__dict__.get('_core')
        if name.startswith('_') or core is None:
            raise AttributeError(name)
        value = getattr(core, name)
        if callable(value):
            raise AttributeError('%s.%s is not available on the asyncio client'
                                 % (type(self).__name__, name))
        return value

    def __del__(self) -> None:
        release_in_hub(self, '_core')


class AioSSHClient(_OverCore):
    """The asyncio single-host client over the core class ``_core_class``."""

    _core_class: Any = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        # Checked against the core's signature now; connected on first use.
        self._bound: Optional[inspect.BoundArguments] = inspect.signature(
            self._core_class).bind(*args, **kwargs)
        self._core: Any = None
        self._connecting: Optional[AsyncResult] = None
        self.host = self._bound.arguments.get('host')

    @classmethod
    def _wrap(cls, core: Any) -> 'AioSSHClient':
        """An asyncio client over a connected core client (a parallel client's host)."""
        client = cls.__new__(cls)
        client._bound = None
        client._core = core
        client._connecting = None
        client.host = core.host
        return client

    def _connected(self) -> Any:  # in the hub
        core = self._core
        if core is not None:
            return core
        pending = self._connecting
        if pending is not None:
            return pending.get()
        pending = self._connecting = AsyncResult()
        bound = self._bound
        assert bound is not None  # a wrapped client has its core from the start
        try:
            core = self._core_class(*bound.args, **bound.kwargs)
        except BaseException as exc:
            pending.set_exception(exc)
            raise
        finally:
            self._connecting = None
        self._core = core
        pending.set(core)
        return core

    async def _do(self, method: str, *args: Any, **kwargs: Any) -> Any:
        def run() -> Any:
            return getattr(self._connected(), method)(*args, **kwargs)
        return await call(run)

    async def connect(self) -> None:
        """Connect and log in now (else the first operation does)."""
        await call(self._connected)

    async def run_command(self, command: str, sudo: bool = False, user: Optional[str] = None,
                          use_pty: bool = False, shell: Optional[str] = None,
                          encoding: str = 'utf-8', timeout: Optional[float] = None,
                          read_timeout: Optional[float] = None, *,
                          buffer_limit: Optional[int] = None) -> HostOutput:
        """Start ``command``; returns its :class:`~pssh.aio.HostOutput` once started."""
        core = await self._do('run_command', command, sudo=sudo, user=user, use_pty=use_pty,
                              shell=shell, encoding=encoding, timeout=timeout,
                              read_timeout=read_timeout, buffer_limit=_flow(buffer_limit))
        return HostOutput(core, self._same)

    def _same(self, core: Any) -> 'AioSSHClient':
        return self

    async def wait_finished(self, host_output: HostOutput,
                            timeout: Optional[float] = None) -> None:
        """Wait for the command of ``host_output`` to finish."""
        if not isinstance(host_output, HostOutput):
            raise ValueError('wait_finished takes a pssh.aio HostOutput, got %s'
                             % type(host_output).__name__)
        await self._do('wait_finished', host_output._core, timeout=timeout)

    async def finished(self, channel: Any) -> Optional[bool]:
        """True once the command on ``channel`` (a ``HostOutput.channel``) has
        finished; None for no channel. Polling this lifts a ``buffer_limit``
        pause, as with the gevent client."""
        return await self._do('finished', channel)

    async def get_exit_status(self, channel: Any) -> Optional[int]:
        """The exit status of the command on ``channel``, or None while not known."""
        return await self._do('get_exit_status', channel)

    async def close_channel(self, channel: Any) -> None:
        """Close ``channel``: a command with a PTY is ended by this; one
        without sees its input and output close. Its ``exit_code`` stays None
        unless its end was known before."""
        await self._do('close_channel', channel)

    async def copy_file(self, local_file: str, remote_file: str, recurse: bool = False,
                        **kwargs: Any) -> None:
        """Upload over SFTP (as :meth:`pssh.clients.native.SSHClient.copy_file`)."""
        await self._do('copy_file', local_file, remote_file, recurse, **kwargs)

    async def copy_remote_file(self, remote_file: str, local_file: str, recurse: bool = False,
                               **kwargs: Any) -> None:
        """Download over SFTP."""
        await self._do('copy_remote_file', remote_file, local_file, recurse, **kwargs)

    async def scp_send(self, local_file: str, remote_file: str, recurse: bool = False,
                       **kwargs: Any) -> None:
        """Upload over SCP."""
        await self._do('scp_send', local_file, remote_file, recurse, **kwargs)

    async def scp_recv(self, remote_file: str, local_file: str, recurse: bool = False,
                       **kwargs: Any) -> None:
        """Download over SCP."""
        await self._do('scp_recv', remote_file, local_file, recurse, **kwargs)

    async def open_shell(self, encoding: str = 'utf-8',
                         read_timeout: Optional[float] = None) -> InteractiveShell:
        """Open an interactive shell."""
        core = await self._do('open_shell', encoding=encoding, read_timeout=read_timeout)
        return InteractiveShell(core, self._same)

    @property
    def connected(self) -> bool:
        """True while connected."""
        core = self._core
        return core is not None and not core.connection_lost

    async def close(self) -> None:
        """Disconnect (commands still running are closed)."""
        core = self._core
        if core is not None:
            await call(core.close)

    async def __aenter__(self) -> 'AioSSHClient':
        await self.connect()
        return self

    async def __aexit__(self, *exc_info: Any) -> None:
        await self.close()

    def __repr__(self) -> str:
        if self._core is not None:
            return '<pssh.aio %r>' % (self._core,)
        return '<pssh.aio %s for %s (not connected)>' % (type(self).__name__, self.host)


class AioParallelSSHClient(_OverCore):
    """The asyncio parallel client over the core class ``_core_class``."""

    _core_class: Any = None
    _single: Type[AioSSHClient] = AioSSHClient

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        # Made in the hub: the core's gevent objects belong to its thread.
        self._core = run_blocking(lambda: self._core_class(*args, **kwargs))
        # id(core client) -> our client over it, while somebody holds ours
        # (which holds the core one, so the id is not reused meanwhile).
        self._clients: 'weakref.WeakValueDictionary[int, AioSSHClient]' = \
            weakref.WeakValueDictionary()

    @property
    def hosts(self) -> List[str]:
        return self._core.hosts

    @hosts.setter
    def hosts(self, hosts: Any) -> None:
        run_blocking(setattr, self._core, 'hosts', hosts)

    def _client_of(self, core: Any) -> AioSSHClient:
        """Our client over the core's client of one host: the same object for
        every output and shell of one connection, as with the gevent client."""
        client = self._clients.get(id(core))
        if client is None or client.__dict__.get('_core') is not core:
            client = self._clients[id(core)] = self._single._wrap(core)
        return client

    def _output(self, core: Any) -> HostOutput:
        return HostOutput(core, self._client_of)

    async def run_command(self, command: str, sudo: bool = False, user: Optional[str] = None,
                          stop_on_errors: bool = True, use_pty: bool = False,
                          host_args: Optional[Sequence[Any]] = None, shell: Optional[str] = None,
                          encoding: str = 'utf-8', read_timeout: Optional[float] = None, *,
                          buffer_limit: Optional[int] = None) -> List[HostOutput]:
        """Start ``command`` on every host; returns their outputs in host order
        once every host has started it (or failed to)."""
        outputs = await call(partial(
            self._core.run_command, command, sudo, user, stop_on_errors, use_pty, host_args,
            shell, encoding, read_timeout, buffer_limit=_flow(buffer_limit)),
            undo=_close_outputs)
        self._last_output = [self._output(core) for core in outputs]
        return self._last_output

    _last_output: Optional[List[HostOutput]] = None

    def get_last_output(self) -> Optional[List[HostOutput]]:
        """The outputs of the last :meth:`run_command`, or None."""
        return self._last_output

    async def join(self, output: Optional[List[HostOutput]] = None, consume_output: bool = False,
                   timeout: Optional[float] = None) -> None:
        """Wait for the commands of ``output`` (default: the last run) to finish.

        :raises Timeout: ``Timeout(message, timeout, finished, unfinished)``, with
          our outputs, when commands still run after ``timeout`` seconds.
        """
        if output is None:
            output = self._last_output
            if output is None:
                return
        cores = unwrap_outputs(output)
        try:
            await call(self._core.join, cores, consume_output, timeout)
        except Timeout as exc:
            raise rewrap_timeout(exc, output) from None

    async def finished(self, output: Optional[List[HostOutput]] = None) -> bool:
        """True when every command of ``output`` (default: the last run) has finished."""
        if output is None:
            output = self._last_output
            if output is None:
                return True
        return bool(await call(self._core.finished, unwrap_outputs(output)))

    async def _all_hosts(self, method: Callable[..., List[gevent.Greenlet]], *args: Any,
                         **kwargs: Any) -> None:
        def run() -> None:
            _join_all(method(*args, **kwargs))
        await call(run)

    async def connect_auth(self) -> None:
        """Connect and log in to every host now; raises the first failure in host order."""
        await self._all_hosts(self._core.connect_auth)

    async def copy_file(self, local_file: str, remote_file: str, recurse: bool = False,
                        copy_args: Optional[Sequence[Any]] = None) -> None:
        """Upload to every host over SFTP; returns once every host is done, then
        raises the first failure in host order."""
        await self._all_hosts(self._core.copy_file, local_file, remote_file, recurse, copy_args)

    async def copy_remote_file(self, remote_file: str, local_file: str, recurse: bool = False,
                               suffix_separator: str = '_',
                               copy_args: Optional[Sequence[Any]] = None,
                               encoding: str = 'utf-8') -> None:
        """Download from every host over SFTP (``local_file`` + ``_host``)."""
        await self._all_hosts(self._core.copy_remote_file, remote_file, local_file, recurse,
                              suffix_separator, copy_args, encoding)

    async def scp_send(self, local_file: str, remote_file: str, recurse: bool = False,
                       copy_args: Optional[Sequence[Any]] = None) -> None:
        """Upload to every host over SCP."""
        await self._all_hosts(self._core.scp_send, local_file, remote_file, recurse, copy_args)

    async def scp_recv(self, remote_file: str, local_file: str, recurse: bool = False,
                       copy_args: Optional[Sequence[Any]] = None,
                       suffix_separator: str = '_') -> None:
        """Download from every host over SCP."""
        await self._all_hosts(self._core.scp_recv, remote_file, local_file, recurse,
                              copy_args, suffix_separator)

    async def open_shell(self, encoding: str = 'utf-8',
                         read_timeout: Optional[float] = None) -> List[InteractiveShell]:
        """Open an interactive shell on every host."""
        cores = await call(self._core.open_shell, encoding, read_timeout)
        return [InteractiveShell(core, self._client_of) for core in cores]

    async def run_shell_commands(self, shells: List[InteractiveShell],
                                 commands: Union[str, List[str]]) -> None:
        """Send ``commands`` (one or a list) to every shell."""
        await call(self._core.run_shell_commands, [shell._core for shell in shells], commands)

    async def join_shells(self, shells: List[InteractiveShell],
                          timeout: Optional[float] = None) -> None:
        """Close every shell and wait for them to exit."""
        cores = [shell._core for shell in shells]
        try:
            await call(self._core.join_shells, cores, timeout)
        except Timeout as exc:
            raise rewrap_timeout(exc, shells) from None

    async def close(self) -> None:
        """Disconnect every host."""
        await call(self._core.close)

    async def __aenter__(self) -> 'AioParallelSSHClient':
        return self

    async def __aexit__(self, *exc_info: Any) -> None:
        await self.close()

    def __repr__(self) -> str:
        return '<pssh.aio %r>' % (self._core,)
