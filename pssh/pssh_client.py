"""1.x module name of the parallel client.

.. deprecated:: 2.0
   Use :mod:`pssh.clients`.
"""
from ._deprecation import warn
from .clients.native import ParallelSSHClient

warn('pssh.pssh_client is deprecated: use "from pssh.clients import ParallelSSHClient"',
     stacklevel=2)

__all__ = ['ParallelSSHClient']
