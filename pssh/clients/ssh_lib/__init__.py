"""1.x module name of the libssh clients.

.. deprecated:: 2.0
   Use :mod:`pssh.clients.ssh`.
"""
from ..._deprecation import warn_on_import
from ..ssh import ParallelSSHClient, SSHClient

warn_on_import('pssh.clients.ssh_lib is deprecated: use pssh.clients.ssh')

__all__ = ['ParallelSSHClient', 'SSHClient']
