"""1.x module name of the single-host client.

.. deprecated:: 2.0
   Use :mod:`pssh.clients`.
"""
from ._deprecation import warn
from .clients.native import SSHClient

warn('pssh.ssh_client is deprecated: use "from pssh.clients import SSHClient"', stacklevel=2)

__all__ = ['SSHClient']
