"""Logging in: private keys, and the login order as a list of sources.

:func:`login` tries an explicit private key alone; otherwise each
:class:`LoginSource` of :func:`login_sources` in turn (GSS-API when asked for,
the SSH agent one key at a time, the identity files, then the password or
keyboard-interactive), each attempt a driver call run through the connection.
The first that is not refused logs us in; a lost connection ends the login at
once; otherwise the error lists everything tried, with the last real failure.
"""
import functools
import os
from dataclasses import dataclass
from typing import Any, Callable, Iterable, List, NamedTuple, Optional, Sequence, Tuple, Type, Union

from ... import logger
from ...exceptions import AuthenticationError, PKeyFileError, SSHError
from ._connection import Connection
from ._driver import Driver

__all__ = ['Credentials', 'LoginSource', 'key_name', 'load_private_key', 'login',
           'login_sources']


@dataclass(frozen=True)
class Credentials:
    """What a client may log in with (resolved from its arguments)."""

    user: str
    password: Optional[str] = None
    #: ``pkey`` as given (for naming it in errors), and its bytes.
    pkey: Any = None
    pkey_data: Optional[bytes] = None
    #: An OpenSSH certificate to present with ``pkey`` (libssh).
    pkey_cert: Optional[str] = None
    allow_agent: bool = True
    identity_auth: bool = True
    identities: Sequence[str] = ()
    keyboard_interactive: bool = False
    gssapi: bool = False


class LoginSource(NamedTuple):
    """One way of logging in, in the login order."""

    #: How the failed-login error lists it.
    label: str
    #: What a timeout or a lost connection says was going on.
    what: str
    #: Driver calls to try in turn (an agent has one per key); the first that
    #: does not raise AuthenticationError logs us in.
    attempts: Callable[[], Iterable[Callable[[], Any]]]
    #: Errors that move on to the next source (unless the connection is lost).
    tolerate: Tuple[Type[Exception], ...]
    #: Whether this source's error is the "last error" of a failed login.
    record: bool


def _identity_attempt(driver: Driver, path: str, passphrase: str
                      ) -> List[Callable[[], Any]]:
    key = _plain(load_private_key(path))
    assert key is not None
    return [functools.partial(driver.auth_key, key, passphrase)]


class _KeyBytes(bytes):
    """The bytes of a key read from a file, which remember the file's path so
    that errors about the key can name it. Its repr never shows the key."""

    path: str

    def __repr__(self) -> str:
        return '<private key read from %s>' % (self.path,)


def load_private_key(pkey: Union[str, bytes, 'os.PathLike[str]', None]) -> Optional[bytes]:
    """The bytes of a private key given as a path or as the key itself.

    :raises PKeyFileError: the path does not exist or cannot be read.
    """
    if pkey is None or isinstance(pkey, bytes):
        return pkey
    if not isinstance(pkey, (str, os.PathLike)):
        raise PKeyFileError('Private key must be a path or bytes, got %s', type(pkey).__name__)
    path = os.path.expanduser(os.fspath(pkey))
    try:
        with open(path, 'rb') as fh:
            key = _KeyBytes(fh.read())
    except OSError as exc:
        raise PKeyFileError('Cannot read private key file %s: %s', path,
                            exc.strerror or exc) from None
    key.path = path
    return key


def _plain(key: Optional[bytes]) -> Optional[bytes]:
    # The SSH libraries take exactly bytes, not a subclass.
    return bytes(key) if key is not None and type(key) is not bytes else key


def key_name(pkey: Any) -> str:
    """How messages name a private key: its path, never its bytes."""
    if isinstance(pkey, (str, os.PathLike)):
        return os.path.expanduser(os.fspath(pkey))
    path = getattr(pkey, 'path', None)
    return path if path is not None else 'key given as bytes'


def login(conn: Connection, creds: Credentials, attempt: int = 1, num_retries: int = 1) -> None:
    """Log in on ``conn`` (see the module's text).

    :param attempt: the connection attempt that got as far as logging in, and
      ``num_retries`` the attempts allowed (both reported by the error).
    :raises AuthenticationError: nothing worked; ``.args`` is ``(message, host,
      port, cause, attempt, num_retries)``, ``cause`` the library's own
      exception from the last method tried (None if nothing could be tried).
    :raises PKeyFileError: ``pkey`` cannot be used.
    """
    driver = conn.driver
    passphrase = creds.password or ''
    if creds.pkey_data is not None:
        name = key_name(creds.pkey)
        try:
            conn.call(driver.auth_key, creds.pkey_data, passphrase, creds.pkey_cert,
                      timeout=conn.timeout, what='public key authentication')
            return
        except AuthenticationError as exc:
            raise _auth_error(conn, creds, ' with private key %s' % name, exc, attempt,
                              num_retries) from None
        except PKeyFileError as exc:
            cause = exc.__cause__
            detail = ' (%s)' % type(cause).__name__ if cause is not None else ''
            raise PKeyFileError(
                'Private key %s could not be used for %s@%s:%s: it is corrupt, of an '
                'unsupported type, or its passphrase is wrong%s', name, creds.user, conn.host,
                conn.port, detail) from None
    tried: List[str] = []
    failure: Optional[BaseException] = None
    for source in login_sources(driver, creds):
        tried.append(source.label)
        attempts: Any = None
        try:
            attempts = iter(source.attempts())
            for call in attempts:
                try:
                    conn.call(call, timeout=conn.timeout, what=source.what)
                    return
                except AuthenticationError as exc:
                    logger.debug('%s: %s failed: %s', conn.host, source.label, exc)
                    if source.record:
                        failure = exc
        except source.tolerate as exc:
            io = conn.io
            if io is not None and io.closed_reason is not None:
                # A lost connection (or one the guard closed) ends the login.
                raise conn.error_for(exc, io, source.what, None) from exc
            logger.debug('%s: %s failed: %s', conn.host, source.label, exc)
            if source.record:
                failure = exc
        finally:
            if attempts is not None and hasattr(attempts, 'close'):
                attempts.close()
    raise _auth_error(
        conn, creds,
        '; tried: %s' % (', '.join(tried) or 'nothing (no key, agent, identity or password)'),
        failure, attempt, num_retries)


def login_sources(driver: Driver, creds: Credentials) -> List[LoginSource]:
    """The login order (after an explicit ``pkey``, which is tried alone):
    GSS-API when asked for, the SSH agent, the identity files, then the
    password or keyboard-interactive."""
    sources = []
    if creds.gssapi:
        # Not fatal: a host without Kerberos still takes other methods.
        sources.append(LoginSource('GSS-API', 'GSS-API authentication',
                                   lambda: [driver.auth_gssapi], (SSHError,), False))
    if creds.allow_agent:
        # Agent trouble is never fatal, and a refused agent key is not the
        # error reported at the end.
        sources.append(LoginSource('ssh-agent', 'agent authentication',
                                   driver.agent_attempts, (Exception,), False))
    if creds.identity_auth:
        passphrase = creds.password or ''
        for path in creds.identities:
            if os.path.isfile(path):
                sources.append(LoginSource(
                    path, 'public key authentication',
                    functools.partial(_identity_attempt, driver, path, passphrase),
                    (PKeyFileError,), True))
    password = creds.password
    if password is not None:
        if creds.keyboard_interactive:
            sources.append(LoginSource(
                'keyboard-interactive', 'password authentication',
                lambda: [functools.partial(driver.auth_keyboard_interactive, password)],
                (), True))
        else:
            sources.append(LoginSource(
                'password', 'password authentication',
                lambda: [functools.partial(driver.auth_password, password)], (), True))
    return sources


def _auth_error(conn: Connection, creds: Credentials, tried: str,
                failure: Optional[BaseException], attempt: int,
                num_retries: int) -> AuthenticationError:
    """The AuthenticationError of a failed login, after ``failure`` (ours) last."""
    # The library's own exception, which Connection.call keeps as the cause of ours.
    cause = failure.__cause__ if failure is not None and failure.__cause__ else failure
    detail = ' (last error: %s)' % failure if failure is not None else ''
    message = 'Authentication as %s failed on %%s:%%s%s%s' % (
        creds.user.replace('%', '%%'), tried.replace('%', '%%'), detail.replace('%', '%%'))
    return AuthenticationError(message, conn.host, conn.port, cause, attempt, num_retries)
