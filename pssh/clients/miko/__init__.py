"""1.x paramiko clients. Paramiko is gone: these names give the native clients.

.. deprecated:: 2.0
   Use :mod:`pssh.clients`.
"""
from ..._deprecation import warn_on_import
from ..native import ParallelSSHClient, SSHClient

warn_on_import('pssh.clients.miko is deprecated and now gives the native (libssh2) clients: '
               'use pssh.clients')

__all__ = ['ParallelSSHClient', 'SSHClient']
