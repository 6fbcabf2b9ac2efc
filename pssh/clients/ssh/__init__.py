"""Clients on libssh, through ssh-python: the same API as the native clients,
plus GSS-API authentication and OpenSSH user certificates."""
from .parallel import ParallelSSHClient
from .single import SSHClient

__all__ = ['ParallelSSHClient', 'SSHClient']
