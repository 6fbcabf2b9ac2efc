"""The single-host client on libssh2 (ssh2-python).

Everything but the calls into libssh2 lives in
:class:`pssh.clients.base.single.BaseSSHClient`; this module adapts ssh2-python's
``Session`` and ``Channel`` to its primitives and maps ssh2-python's exceptions
to ours.
"""
import functools
import os
from typing import Any, Callable, Dict, Iterator, Mapping, Optional, Sequence, Union

from ssh2 import exceptions as ssh2_exc
from ssh2.error_codes import LIBSSH2_ERROR_EAGAIN
from ssh2.session import (
    LIBSSH2_FLAG_COMPRESS, LIBSSH2_METHOD_CRYPT_CS, LIBSSH2_METHOD_CRYPT_SC,
    LIBSSH2_METHOD_HOSTKEY, LIBSSH2_METHOD_KEX, LIBSSH2_METHOD_MAC_CS, LIBSSH2_METHOD_MAC_SC,
    Session)

from ... import logger
from ...constants import DEFAULT_RETRIES, RETRY_DELAY
from ...exceptions import (
    AuthenticationError, InvalidAPIUseError, PKeyFileError, SessionError, SSHError, Timeout)
from ...config import ClientSettings
from ..base._driver import AGAIN, ExitStatus, SessionPrefs
from ..base._guard import LIBSSH2_MAX_PACKET
from ..base._io import SessionIO
from ..base.single import BaseSSHClient, signal_exit_code
from ._agent_forward import AgentForwarding, unavailable_reason
from ._algorithms import ALGORITHMS as _ALGORITHMS
from ._exit_signal import exit_signal

__all__ = ['SSHClient', 'Ssh2Driver']


_METHODS = {
    'kex': (LIBSSH2_METHOD_KEX,),
    'hostkey': (LIBSSH2_METHOD_HOSTKEY,),
    'cipher': (LIBSSH2_METHOD_CRYPT_CS, LIBSSH2_METHOD_CRYPT_SC),
    'mac': (LIBSSH2_METHOD_MAC_CS, LIBSSH2_METHOD_MAC_SC),
}

_AUTH_ERRORS = (
    ssh2_exc.AuthenticationError, ssh2_exc.PublickeyUnverifiedError,
    ssh2_exc.AgentAuthenticationError, ssh2_exc.PasswordExpiredError,
    ssh2_exc.MethodNotSupported, ssh2_exc.KeyfileAuthFailedError)
_KEY_ERRORS = (ssh2_exc.FileError, ssh2_exc.PublicKeyInitError)
_CHANNEL_ERRORS = (ssh2_exc.ChannelError, ssh2_exc.ChannelFailure,
                   ssh2_exc.ChannelRequestDenied, ssh2_exc.ChannelUnknownError,
                   ssh2_exc.ChannelClosedError, ssh2_exc.ChannelEOFSentError,
                   ssh2_exc.ChannelOutOfOrderError, ssh2_exc.ChannelWindowExceeded,
                   ssh2_exc.ChannelPacketExceeded, ssh2_exc.RequestDeniedError)
_TIMEOUT_ERRORS = (ssh2_exc.Timeout, ssh2_exc.SocketTimeout)


def _known_first(known: Optional[Sequence[str]], prefs: str) -> str:
    if not known:
        return prefs
    rest = [name for name in prefs.split(',') if name not in known]
    return ','.join(list(known) + rest)


def _again_or(rc: Any) -> Any:
    return AGAIN if rc == LIBSSH2_ERROR_EAGAIN else rc


def _agent_userauth(agent: Any, user: str, identity: Any) -> Any:
    return _again_or(agent.userauth(user, identity))


def check_agent_forwarding(host: str) -> None:
    """:raises InvalidAPIUseError: agent forwarding cannot work with this ssh2-python."""
    reason = unavailable_reason()
    if reason:
        raise InvalidAPIUseError('forward_ssh_agent=True cannot work for %s with the native '
                                 'client here: %s', host, reason)


class SSHClient(BaseSSHClient):
    """Runs commands on one host over SSH, with libssh2.

    Connects and authenticates in the constructor.

    :param host: host name or IP address.
    :param user: user name; defaults to the local user.
    :param password: password, and the passphrase of ``pkey``.
    :param port: SSH port, 22 by default.
    :param pkey: private key: a path (``~`` expanded) or the key's bytes. Given a
      key, only that key is tried.
    :param alias: a name for this host in output and logs.
    :param num_retries: connection attempts before giving up.
    :param retry_delay: seconds between attempts.
    :param allow_agent: try keys of a running SSH agent.
    :param timeout: seconds allowed for connecting, the handshake, and each
      network operation; None waits for ever.
    :param forward_ssh_agent: forward our SSH agent (``$SSH_AUTH_SOCK``) to
      commands, like ``ssh -A``: programs on the host use our keys through it.
      Without a local agent, or when the server refuses, commands run without
      one. See :ref:`agent-forwarding`.
    :param keepalive_seconds: send a keepalive every so many seconds (0 or None
      for none).
    :param identity_auth: try the default identity files in ``~/.ssh``.
    :param ipv6_only: connect over IPv6 only.
    :param compress: ask for compression (used when libssh2 was built with zlib).
    :param keyboard_interactive: answer keyboard-interactive prompts with the
      password instead of using password authentication.
    :param host_key_policy: what to do with a server whose host key is in no
      known-hosts file: ``'accept-unknown'`` (default: connect and log a
      warning), ``'accept-new'`` (connect and add the key to the first file),
      ``'strict'`` (refuse) or ``'no'`` (no checking). A known host presenting
      another key is refused under every policy but ``'no'``. See :doc:`/security`.
    :param known_hosts: a known-hosts file or a list of them, instead of
      OpenSSH's defaults (``~/.ssh/known_hosts``, ``/etc/ssh/ssh_known_hosts``...).
    :param host_key: the key(s) this host must present: fingerprints
      (``'SHA256:...'``), public key lines, or a list of them.
    :param ssh_config: read OpenSSH client configuration for the host:
      ``True`` for ``~/.ssh/config`` and ``/etc/ssh/ssh_config``, or the path of
      one file (like ``ssh -F``). Off by default. See :doc:`/ssh_config`.
    :param algorithms: algorithm lists for servers that need other ones than
      ours, by kind: ``{'cipher': 'aes256-ctr', 'mac': [...], 'kex': ...,
      'hostkey': ...}`` (comma-separated or lists, in order of preference);
      kinds left out keep our lists. Bastions keep ours. See :doc:`/security`.
    :param hostname: the address to connect to, when it is not ``host``
      (``host`` then only names the host in output and errors).
    :param identity_files: identity files to try instead of :attr:`IDENTITIES`.
    :raises PKeyFileError: ``pkey`` is a path that cannot be read.
    :raises HostConfigError: ``ssh_config`` is missing or invalid.
    :raises InvalidAPIUseError: an unknown ``host_key_policy`` or unreadable ``host_key``;
      ``forward_ssh_agent=True`` with an ssh2-python whose libssh2 cannot serve it.
    :raises HostKeyError: the server's key is not trusted (a
      :class:`~pssh.exceptions.HostKeyMismatchError` when it changed).
    :raises UnknownHostError: the name does not resolve.
    :raises ConnectionRefusedError: the port is closed (not retried).
    :raises ConnectionError: connecting failed after all attempts.
    :raises AuthenticationError: no authentication method worked.
    """

    #: Algorithm preferences sent to the server, by kind (kex, hostkey, cipher, mac).
    ALGORITHMS: Dict[str, str] = dict(_ALGORITHMS)

    check_agent_forwarding = staticmethod(check_agent_forwarding)

    def __init__(self, host: str, user: Optional[str] = None, password: Optional[str] = None,
                 port: Optional[int] = None, pkey: Any = None, alias: Optional[str] = None,
                 num_retries: int = DEFAULT_RETRIES, retry_delay: float = RETRY_DELAY,
                 allow_agent: bool = True, timeout: Optional[float] = None,
                 forward_ssh_agent: bool = False, proxy_host: Optional[str] = None,
                 proxy_port: Optional[int] = None, proxy_pkey: Any = None,
                 proxy_user: Optional[str] = None, proxy_password: Optional[str] = None,
                 _auth_thread_pool: bool = True, keepalive_seconds: Optional[int] = 60,
                 identity_auth: bool = True, ipv6_only: bool = False, compress: bool = False,
                 keyboard_interactive: bool = False, *, proxy_jump: Any = None,
                 host_key_policy: Optional[str] = None, known_hosts: Any = None,
                 host_key: Any = None, hostname: Optional[str] = None,
                 identity_files: Any = None, ssh_config: Any = None,
                 algorithms: Optional[Mapping[str, Any]] = None) -> None:
        super().__init__(
            host, user=user, password=password, port=port, pkey=pkey, alias=alias,
            num_retries=num_retries, retry_delay=retry_delay, allow_agent=allow_agent,
            timeout=timeout, proxy_host=proxy_host, proxy_port=proxy_port,
            proxy_pkey=proxy_pkey, proxy_user=proxy_user, proxy_password=proxy_password,
            _auth_thread_pool=_auth_thread_pool, forward_ssh_agent=forward_ssh_agent,
            keepalive_seconds=keepalive_seconds, identity_auth=identity_auth,
            ipv6_only=ipv6_only, compress=compress, keyboard_interactive=keyboard_interactive,
            proxy_jump=proxy_jump, host_key_policy=host_key_policy,
            known_hosts=known_hosts, host_key=host_key, hostname=hostname,
            identity_files=identity_files, ssh_config=ssh_config, algorithms=algorithms)

    def _backend_setup(self, settings: ClientSettings) -> None:
        if settings.forward_ssh_agent:
            check_agent_forwarding(settings.host)

    # libssh2 builds each outgoing packet in a fixed buffer of about 35,000
    # bytes: an ``exec`` request with a longer command line fails with
    # LIBSSH2_ERROR_INVAL. What fits depends a little on the cipher and MAC.
    max_command_length = 34_000
    _command_limit_reason = 'that libssh2 can send in one request'

    def _driver_for(self, prefs: SessionPrefs) -> 'Ssh2Driver':
        return Ssh2Driver(prefs, self.ALGORITHMS)


class Ssh2Driver:
    """The backend contract (:class:`~pssh.clients.base._driver.Driver`) on
    ssh2-python: one libssh2 session, driven without blocking."""

    max_packet = LIBSSH2_MAX_PACKET
    library_again = LIBSSH2_ERROR_EAGAIN
    has_gssapi = False

    def __init__(self, prefs: SessionPrefs, defaults: Mapping[str, str] = _ALGORITHMS) -> None:
        self.prefs = prefs
        self._defaults = defaults
        self.session: Any = None
        self.agent_forwarding: Optional[AgentForwarding] = None
        self._io: Optional[SessionIO] = None

    # The session.

    def start(self, io: SessionIO) -> Any:
        prefs = self.prefs
        self._io = io
        # Looked up at call time: user code patches the module's Session.
        session = Session()
        session.set_blocking(False)
        if prefs.compress:
            session.flag(LIBSSH2_FLAG_COMPRESS)
        for kind, names in dict(self._defaults, **prefs.algorithms).items():
            if kind == 'hostkey' and kind not in prefs.algorithms:
                names = _known_first(prefs.known_key_algorithms, names)
            for method in _METHODS[kind]:
                try:
                    session.method_pref(method, names)
                except ssh2_exc.MethodNotSupported:
                    raise InvalidAPIUseError(
                        'algorithms for %s:%s: libssh2 supports none of the %s algorithms %s',
                        prefs.host, prefs.port, kind, names) from None
        if prefs.forward_ssh_agent:
            self.agent_forwarding = AgentForwarding(session, io, '%s:%s' % (
                prefs.host, prefs.port), prefs.timeout)
        self.session = session
        return session

    def handshake(self) -> Any:
        assert self._io is not None
        return _again_or(self.session.handshake(self._io.lib_sock))

    def host_key(self) -> bytes:
        return self.session.hostkey()[0]

    def block_directions(self) -> int:
        session = self.session
        return session.block_directions() if session is not None else 0

    def keepalive_config(self, seconds: int) -> None:
        if self.session is not None:
            # Ask for a reply: the replies are how a dead link is noticed.
            self.session.keepalive_config(True, seconds)

    def keepalive_send(self) -> Any:
        return self.session.keepalive_send()

    def disconnect(self) -> Any:
        return _again_or(self.session.disconnect())

    def release(self) -> None:
        self.session = None
        self._io = None

    def translate(self, exc: BaseException) -> Optional[BaseException]:
        if not isinstance(exc, ssh2_exc.SSH2Error):
            return None
        prefs = self.prefs
        detail = str(exc) or type(exc).__name__
        if isinstance(exc, _AUTH_ERRORS):
            if detail == type(exc).__name__:
                return AuthenticationError('%s', detail)
            return AuthenticationError('%s (%s)', detail, type(exc).__name__)
        if isinstance(exc, _KEY_ERRORS):
            return PKeyFileError('Private key could not be used for %s@%s:%s (corrupt, '
                                 'unsupported, or wrong passphrase): %s', prefs.user,
                                 prefs.host, prefs.port, detail)
        if isinstance(exc, _TIMEOUT_ERRORS):
            return Timeout('Timed out talking to %s:%s: %s', prefs.host, prefs.port, detail)
        if isinstance(exc, _CHANNEL_ERRORS):
            return SessionError('Channel error on %s:%s: %s', prefs.host, prefs.port, detail)
        return SSHError('SSH error on %s:%s: %s (%s)', prefs.host, prefs.port, detail,
                        type(exc).__name__)

    # Logging in.

    def auth_key(self, key: bytes, passphrase: str, cert_file: Optional[str] = None) -> Any:
        return _again_or(self.session.userauth_publickey_frommemory(
            self.prefs.user, key, passphrase=passphrase))

    def agent_attempts(self) -> Iterator[Callable[[], Any]]:
        agent = self.session.agent_init()
        try:
            agent.connect()
        except ssh2_exc.AgentConnectionError:
            return
        try:
            agent.list_identities()
            user = self.prefs.user
            for identity in agent.get_identities():
                yield functools.partial(_agent_userauth, agent, user, identity)
        finally:
            try:
                agent.disconnect()
            except ssh2_exc.SSH2Error:  # pragma: no cover - nothing to clean up
                pass

    def auth_password(self, password: str) -> Any:
        return _again_or(self.session.userauth_password(self.prefs.user, password))

    def auth_keyboard_interactive(self, password: str) -> Any:
        return _again_or(self.session.userauth_keyboardinteractive(self.prefs.user, password))

    def auth_gssapi(self) -> Any:
        raise AuthenticationError('libssh2 has no GSS-API authentication (host %s)',
                                  self.prefs.host)

    # Channels.

    def open_session(self) -> Any:
        return _again_or(self.session.open_session())

    def open_direct_tcpip(self, host: str, port: int) -> Any:
        return _again_or(self.session.direct_tcpip(host, port))

    def request_pty(self, raw: Any) -> Any:
        return _again_or(raw.pty())

    def request_exec(self, raw: Any, command: Union[str, bytes]) -> Any:
        return _again_or(raw.execute(command))

    def request_shell(self, raw: Any) -> Any:
        return _again_or(raw.shell())

    def request_subsystem(self, raw: Any, name: str) -> Any:
        return _again_or(raw.subsystem(name))

    def request_agent_forwarding(self, raw: Any) -> Any:
        if not os.environ.get('SSH_AUTH_SOCK'):
            # No agent to forward: the command runs without one, as with ssh -A.
            logger.debug('%s: SSH_AUTH_SOCK is not set, no agent to forward', self.prefs.host)
            return 0
        return _again_or(raw.request_auth_agent())

    def read(self, raw: Any, stderr: bool, size: int) -> Any:
        rc, data = raw.read_stderr(size) if stderr else raw.read(size)
        if rc > 0:
            return data
        if rc == 0:
            return b''
        if rc == LIBSSH2_ERROR_EAGAIN:
            return AGAIN
        raise SessionError('Reading from %s:%s failed with libssh2 error %s', self.prefs.host,
                           self.prefs.port, rc)

    def write(self, raw: Any, data: bytes) -> Any:
        rc, written = raw.write(data)
        if written > 0:
            return written
        if rc == LIBSSH2_ERROR_EAGAIN:
            return AGAIN
        if rc < 0:
            raise SessionError('Writing to %s:%s failed with libssh2 error %s', self.prefs.host,
                               self.prefs.port, rc)
        return written

    def send_eof(self, raw: Any) -> Any:
        return _again_or(raw.send_eof())

    def eof(self, raw: Any) -> bool:
        return raw.eof()

    def close(self, raw: Any) -> Any:
        return _again_or(raw.close())

    def wait_closed(self, raw: Any) -> Any:
        if _again_or(raw.wait_closed()) is AGAIN:
            return AGAIN
        found: Any = exit_signal(raw) if exit_signal is not None else raw.get_exit_signal()[1]
        if found:
            name = found.decode('ascii', 'replace') if isinstance(found, bytes) else str(found)
            code = signal_exit_code(name)
            # A signal we cannot number: report what OpenSSH's client does.
            return ExitStatus(code if code is not None else 255, name)
        return ExitStatus(raw.get_exit_status(), None)
