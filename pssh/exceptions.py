"""Exceptions raised by pssh.

Every exception of ours derives from :class:`PsshError` and takes printf-style
arguments: the first is a format string and the rest are its values, all kept in
``.args`` unchanged. ``str(exc)`` is the formatted message; values beyond those
the format string uses (for example the finished and unfinished output lists
carried by a join :class:`Timeout`) are kept in ``.args`` but not printed.

The tree::

    PsshError
     +-- UnknownHostError            name resolution failed
     +-- NoIPv6AddressFoundError     ipv6_only and the name has no IPv6 address
     +-- HostConnectionError         also the builtin ConnectionError
     |    +-- HostConnectionRefusedError   also the builtin ConnectionRefusedError
     |    +-- ConnectTimeoutError    also a Timeout
     +-- AuthenticationError
     +-- PKeyFileError               a private key file is missing or unreadable
     +-- SSHError                    protocol or session level failure
     |    +-- SessionError           could not open or use a session/channel
     |    +-- PacketLengthError      the server sent a packet length that is not safe
     |    +-- NoCommonAlgorithmError the server and we share no algorithm of a kind
     +-- Timeout                     also the builtin TimeoutError
     +-- HostArgumentError           host_args / copy_args do not match the hosts
     +-- HostConfigError             host_config is not usable
     +-- InvalidAPIUseError          arguments that cannot work together
     +-- ProxyError                  a proxy (bastion) host failed
     +-- SFTPError
     |    +-- SFTPIOError            a remote file operation failed
     +-- SCPError
     +-- ShellError                  an interactive shell failed
     +-- HostKeyError                the server's host key is not trusted
          +-- HostKeyMismatchError   it differs from the known or pinned key
          +-- UnknownHostKeyError    no known key, and host_key_policy is strict
          +-- RevokedHostKeyError    the key is marked @revoked

``ConnectionError`` in this module is the builtin :class:`ConnectionError`; the
connection errors we raise are instances of it (and of :class:`PsshError`), as are
refused connections, which are also :class:`ConnectionRefusedError`.
"""
import builtins
from typing import Any

__all__ = [
    'PsshError', 'UnknownHostError', 'NoIPv6AddressFoundError', 'ConnectionError',
    'HostConnectionError', 'HostConnectionRefusedError', 'ConnectTimeoutError', 'AuthenticationError',
    'PKeyFileError', 'SSHError', 'SessionError', 'Timeout', 'HostArgumentError',
    'HostConfigError', 'InvalidAPIUseError', 'ProxyError', 'SFTPError', 'SFTPIOError',
    'SCPError', 'ShellError', 'HostKeyError', 'HostKeyMismatchError', 'UnknownHostKeyError',
    'RevokedHostKeyError', 'PacketLengthError', 'NoCommonAlgorithmError',
    'UnknownHostException', 'AuthenticationException', 'SSHException',
    'HostArgumentException', 'ConnectionErrorException',
]

ConnectionError = builtins.ConnectionError


def _format(args: tuple) -> str:
    if not args:
        return ''
    fmt = args[0]
    if not isinstance(fmt, str) or len(args) == 1:
        return str(fmt) if len(args) == 1 else str(args)
    values = args[1:]
    # Use as many trailing values as the format string consumes; the rest are
    # payload (output lists and such) that belongs in .args only.
    for count in range(len(values), -1, -1):
        try:
            return fmt % values[:count]
        except (TypeError, ValueError, KeyError):
            continue
    return fmt


class PsshError(Exception):
    """Root of every exception raised by pssh."""

    def __str__(self) -> str:
        return _format(self.args)


class _OSErrorMixin:
    """Keep printf-style ``.args`` on exceptions that also derive from OSError.

    OSError would otherwise read the first two arguments as errno and strerror
    and drop the rest from ``.args``.
    """

    def __new__(cls, *args: Any, **kwargs: Any) -> Any:
        return super().__new__(cls)

    def __init__(self, *args: Any) -> None:
        super().__init__()
        self.args = args

    def __str__(self) -> str:
        return _format(self.args)

    def __reduce__(self) -> Any:
        return (type(self), self.args)


class UnknownHostError(PsshError):
    """The host name could not be resolved.

    ``.args`` is ``(message, host, reason, attempt, num_retries)``.
    """


class NoIPv6AddressFoundError(PsshError):
    """``ipv6_only`` was asked for and the host has no IPv6 address.

    ``.args`` is ``(message, host, addresses)``: the ``(address, port)`` pairs
    the name did resolve to.
    """


class HostConnectionError(_OSErrorMixin, PsshError, builtins.ConnectionError):
    """Could not connect to a host after all retries.

    ``.args`` is ``(message, host, port, reason, attempt, num_retries)``.
    """


class HostConnectionRefusedError(_OSErrorMixin, PsshError, builtins.ConnectionRefusedError):
    """The host actively refused the TCP connection (not retried).

    Shaped like the OS's own error: ``.errno`` and ``.strerror`` are those of
    the refused ``connect()``, and ``.args`` is ``(errno, strerror, host, port)``.
    ``str()`` is a sentence naming the host and port.
    """

    def __init__(self, errno: Any, strerror: Any = None, host: Any = None,
                 port: Any = None) -> None:
        super().__init__(errno, strerror, host, port)
        self.errno = errno
        self.strerror = strerror

    @property
    def host(self) -> Any:
        return self.args[2]

    @property
    def port(self) -> Any:
        return self.args[3]

    def __str__(self) -> str:
        return 'Connection to %s:%s refused: %s' % (self.host, self.port,
                                                     self.strerror or self.errno)


class Timeout(_OSErrorMixin, PsshError, builtins.TimeoutError):
    """An operation did not complete within its timeout.

    Raised by :meth:`ParallelSSHClient.join` as
    ``Timeout(message, timeout, finished_output, unfinished_output)``.
    """


class ConnectTimeoutError(HostConnectionError, Timeout):
    """Connecting or the SSH handshake did not finish within ``timeout``.

    Both a :class:`HostConnectionError` (so the builtin ConnectionError) and a
    :class:`Timeout` (so the builtin TimeoutError).
    """


class AuthenticationError(PsshError):
    """No authentication method succeeded.

    ``.args`` is ``(message, host, port, cause, attempt, num_retries)``:
    ``cause`` is the SSH library's own exception from the last method tried.
    """


class PKeyFileError(PsshError):
    """A private key file does not exist or cannot be read."""


class SSHError(PsshError):
    """An SSH protocol or session failure."""


class SessionError(SSHError):
    """An SSH session or channel could not be opened or used."""


class PacketLengthError(SSHError):
    """The server sent a packet whose length field is out of bounds (too large,
    too small or not whole cipher blocks). The connection was closed before the
    SSH library read the packet: such lengths are how servers attack the
    bundled libssh2 (see :doc:`/security`).

    ``args``: ``(message, host, port, length, problem)``; ``length`` is the
    value received, as an int.
    """


class NoCommonAlgorithmError(SSHError):
    """The key exchange failed because the server and the client have no
    algorithm of one kind (cipher, MAC, key exchange, host key, compression)
    in common. Not retried.

    ``args``: ``(message, host, port, kind, ours, theirs, our_list,
    their_list)``: ``ours`` and ``theirs`` are the names each side offered,
    comma-separated, and the two lists are the same names as lists.
    """


class HostArgumentError(PsshError):
    """Fewer per-host arguments than hosts."""


class HostConfigError(PsshError):
    """``host_config`` has the wrong type."""


class InvalidAPIUseError(PsshError):
    """Arguments that contradict each other."""


class ProxyError(PsshError):
    """The proxy host could not be connected to or authenticated with."""


class SFTPError(PsshError):
    """SFTP could not be started or used."""


class SFTPIOError(SFTPError):
    """A remote file operation over SFTP failed."""


class SCPError(PsshError):
    """An SCP transfer failed."""


class ShellError(PsshError):
    """An interactive shell could not be opened or written to."""


class HostKeyError(PsshError):
    """The server's host key is not trusted; nothing was sent to it.

    ``.args`` is ``(message, host, port, key_type, fingerprint, ...)``; the same
    values are available as attributes.
    """

    @property
    def host(self) -> Any:
        return self.args[1] if len(self.args) > 1 else None

    @property
    def port(self) -> Any:
        return self.args[2] if len(self.args) > 2 else None


class HostKeyMismatchError(HostKeyError):
    """The host is known with another key than the one it presented.

    ``.args`` is ``(message, host, port, key_type, fingerprint, expected, source)``:
    the offered key's type and SHA256 fingerprint, the expected fingerprint(s),
    and where they come from (known_hosts file and line, or ``host_key``).
    """

    @property
    def key_type(self) -> Any:
        return self.args[3] if len(self.args) > 3 else None

    @property
    def fingerprint(self) -> Any:
        return self.args[4] if len(self.args) > 4 else None

    @property
    def expected(self) -> Any:
        return self.args[5] if len(self.args) > 5 else None


class UnknownHostKeyError(HostKeyError):
    """The host has no known key and ``host_key_policy`` is ``'strict'``."""


class RevokedHostKeyError(HostKeyError):
    """The host presented a key marked ``@revoked`` in a known hosts file."""


# Names kept from earlier releases.
UnknownHostException = UnknownHostError
AuthenticationException = AuthenticationError
SSHException = SSHError
HostArgumentException = HostArgumentError
ConnectionErrorException = ConnectionError
