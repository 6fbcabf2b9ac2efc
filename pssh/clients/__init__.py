"""The SSH clients. The libssh2-based native clients are the default."""
from .native import ParallelSSHClient, SSHClient

__all__ = ['ParallelSSHClient', 'SSHClient']
