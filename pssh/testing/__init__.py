"""Helpers for testing code that uses pssh against a real SSH server.

:class:`OpenSSHServer` runs the system's OpenSSH ``sshd`` on a loopback
address with throw-away keys; :func:`start_servers` starts several that share
one user key; :class:`FaultProxy` forwards TCP connections while injecting
latency, throttling, tiny writes, silent links and resets;
:class:`MisbehavingListener` accepts connections and then stays silent, hangs
up or answers with garbage or half an SSH handshake. The pytest plugin
:mod:`pssh.testing.pytest_plugin` wraps the servers in fixtures.

This package uses only the standard library (no gevent, no ssh2), so that the
pytest plugin can be loaded into any test process.
"""
from ._faultproxy import FaultProxy
from ._listeners import LISTENER_BEHAVIOURS, MisbehavingListener
from ._server import (
    KEY_TYPES,
    SFTP_PATH,
    SSH_KEYGEN_PATH,
    SSH_PATH,
    SSHD_PATH,
    OpenSSHServer,
    OpenSSHServerError,
    OpenSSHServerGroup,
    SSHDNotFoundError,
    SSHDStartError,
    start_servers,
)

__all__ = [
    'FaultProxy',
    'KEY_TYPES',
    'LISTENER_BEHAVIOURS',
    'MisbehavingListener',
    'SFTP_PATH',
    'SSHD_PATH',
    'SSH_KEYGEN_PATH',
    'SSH_PATH',
    'OpenSSHServer',
    'OpenSSHServerError',
    'OpenSSHServerGroup',
    'SSHDNotFoundError',
    'SSHDStartError',
    'start_servers',
]
