"""1.x module name of the single-host client.

.. deprecated:: 2.0
   Use :mod:`pssh.clients`.
"""
from ._deprecation import warn_on_import
from .clients.native import SSHClient

warn_on_import('pssh.ssh_client is deprecated: use "from pssh.clients import SSHClient"')

__all__ = ['SSHClient']
