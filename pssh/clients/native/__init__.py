"""Clients on libssh2, through ssh2-python."""
from .parallel import ParallelSSHClient
from .single import SSHClient

__all__ = ['ParallelSSHClient', 'SSHClient']
