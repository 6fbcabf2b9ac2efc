"""1.x paramiko clients. Paramiko is gone: these names give the native clients.

.. deprecated:: 2.0
   Use :mod:`pssh.clients`.
"""
from ..._deprecation import warn
from ..native import ParallelSSHClient, SSHClient

warn('pssh.clients.miko is deprecated and now gives the native (libssh2) clients: '
     'use pssh.clients', stacklevel=2)

__all__ = ['ParallelSSHClient', 'SSHClient']
