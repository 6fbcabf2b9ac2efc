"""1.x module name of the parallel client.

.. deprecated:: 2.0
   Use :mod:`pssh.clients`.
"""
from ._deprecation import warn_on_import
from .clients.native import ParallelSSHClient

warn_on_import('pssh.pssh_client is deprecated: use "from pssh.clients import ParallelSSHClient"')

__all__ = ['ParallelSSHClient']
