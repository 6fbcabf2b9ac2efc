"""The asyncio clients on the libssh backend (:mod:`pssh.clients.ssh`)."""
import inspect

from ..clients.ssh.parallel import ParallelSSHClient as _Parallel
from ..clients.ssh.single import SSHClient as _Single
from ._clients import AioParallelSSHClient, AioSSHClient
from ._output import HostOutput, InteractiveShell, Stdin

__all__ = ['ParallelSSHClient', 'SSHClient', 'HostOutput', 'InteractiveShell', 'Stdin']


class SSHClient(AioSSHClient):
    """One host, from asyncio code, on libssh: the arguments and defaults of
    :class:`pssh.clients.ssh.SSHClient`. Constructing it does not connect:
    :meth:`connect`, ``async with`` or the first operation does."""

    _core_class = _Single
    __signature__ = inspect.signature(_Single)
    #: The longest command line (bytes) one request carries, as the gevent client's.
    max_command_length = _Single.max_command_length


class ParallelSSHClient(AioParallelSSHClient):
    """Many hosts at once, from asyncio code, on libssh: the arguments and
    defaults of :class:`pssh.clients.ssh.ParallelSSHClient`."""

    _core_class = _Parallel
    _single = SSHClient
    __signature__ = inspect.signature(_Parallel)
