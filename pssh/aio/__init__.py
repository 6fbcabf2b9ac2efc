"""pssh for asyncio: the same clients, awaited instead of joined.

``from pssh.aio import ParallelSSHClient, SSHClient`` gives the clients of the
native backend (libssh2, as :mod:`pssh.clients`); :mod:`pssh.aio.ssh` those of
the libssh backend (as :mod:`pssh.clients.ssh`). They take the same arguments,
with the same defaults, and raise the same :mod:`pssh.exceptions`. Importing
this package changes nothing global: no monkey-patching; the network work is
done by the core in a thread of its own (see :doc:`/asyncio`).
"""
import inspect

from ..clients.native.parallel import ParallelSSHClient as _Parallel
from ..clients.native.single import SSHClient as _Single
from ._clients import AioParallelSSHClient, AioSSHClient
from ._output import HostOutput, InteractiveShell, Stdin

__all__ = ['ParallelSSHClient', 'SSHClient', 'HostOutput', 'InteractiveShell', 'Stdin']


class SSHClient(AioSSHClient):
    """One host, from asyncio code: the arguments and defaults of
    :class:`pssh.clients.native.SSHClient`. Constructing it does not connect:
    :meth:`connect`, ``async with`` or the first operation does."""

    _core_class = _Single
    __signature__ = inspect.signature(_Single)
    #: The longest command line (bytes) one request carries, as the gevent client's.
    max_command_length = _Single.max_command_length


class ParallelSSHClient(AioParallelSSHClient):
    """Many hosts at once, from asyncio code: the arguments and defaults of
    :class:`pssh.clients.native.ParallelSSHClient`."""

    _core_class = _Parallel
    _single = SSHClient
    __signature__ = inspect.signature(_Parallel)
