"""The single-host client on libssh (ssh-python).

A thin adapter: :class:`pssh.clients.base.single.BaseSSHClient` has the
behaviour; this module maps its primitives onto ssh-python's ``Session`` and
``Channel`` (driven without blocking, like libssh2 in the native client) and
adds what libssh offers on top: GSS-API (Kerberos) authentication and OpenSSH
user certificates.
"""
import base64
import dataclasses
import os
from typing import Any, Callable, Iterator, Mapping, Optional, Tuple, Union

from ssh import exceptions as ssh_exc
from ssh import key as ssh_key
from ssh import options as ssh_options
from ssh.error_codes import SSH_AGAIN
from ssh.session import Session

from ... import logger
from ..._keys import SharedKey, import_private_key
from ...constants import DEFAULT_RETRIES, RETRY_DELAY
from ...exceptions import (
    AuthenticationError, InvalidAPIUseError, PKeyFileError, SessionError, SSHError, Timeout)
from ...config import ClientSettings
from ..base._driver import AGAIN, ExitStatus, SessionPrefs
from ..base._io import READ, SessionIO
from ..base._guard import LIBSSH_MAX_PACKET
from ..base.single import BaseSSHClient, signal_exit_code
from . import _agent_forward, _libssh

__all__ = ['SSHClient', 'LibsshDriver']

_AUTH_AGAIN = 4      # SSH_AUTH_AGAIN
_WRITE_PACKET = 16 * 1024  # below any server's maximum packet size
_AUTH_INFO = 3       # SSH_AUTH_INFO: keyboard-interactive questions waiting
_KBDINT_ROUNDS = 8

_AUTH_ERRORS = (ssh_exc.AuthenticationDenied, ssh_exc.AuthenticationError,
                ssh_exc.AuthenticationPartial)
_CHANNEL_ERRORS = (ssh_exc.ChannelOpenFailure, ssh_exc.ChannelClosed, ssh_exc.RequestFailure,
                   ssh_exc.AdministrativelyProhibited, ssh_exc.ConnectFailed,
                   ssh_exc.UnknownChannelType)


def _again_or(rc: Any) -> Any:
    return AGAIN if rc in (SSH_AGAIN, _AUTH_AGAIN) else rc


def check_agent_forwarding(host: str) -> None:
    """:raises InvalidAPIUseError: agent forwarding cannot work with this ssh-python."""
    reason = _agent_forward.unavailable_reason()
    if reason:
        raise InvalidAPIUseError('forward_ssh_agent=True cannot work for %s with the libssh '
                                 'client here: %s; pssh.clients.native may serve it', host,
                                 reason)


_OPTIONS = {
    'kex': (ssh_options.KEY_EXCHANGE,), 'hostkey': (ssh_options.HOSTKEYS,),
    'cipher': (ssh_options.CIPHERS_C_S, ssh_options.CIPHERS_S_C),
    'mac': (ssh_options.HMAC_C_S, ssh_options.HMAC_S_C),
}

# AES-GCM first: it needs no MAC (so a server with MACs we lack still
# connects, as with chacha20-poly1305 first) and leaves packet lengths visible
# to the relay's guard; then CTR with the ETM MACs below.
_CIPHERS = ','.join((
    'aes256-gcm@openssh.com', 'aes128-gcm@openssh.com', 'aes128-ctr', 'aes256-ctr', 'aes192-ctr',
    'chacha20-poly1305@openssh.com'))
_MACS = ','.join((
    'hmac-sha2-256-etm@openssh.com', 'hmac-sha2-512-etm@openssh.com', 'hmac-sha1-etm@openssh.com',
    'hmac-sha2-256', 'hmac-sha2-512', 'hmac-sha1'))


class SSHClient(BaseSSHClient):
    """Runs commands on one host over SSH, with libssh.

    Takes the arguments of :class:`pssh.clients.native.SSHClient`, plus:

    :param cert_file: an OpenSSH user certificate for ``pkey`` (path).
    :param gssapi_auth: try GSS-API (Kerberos) authentication first.
    :param gssapi_server_identity: the server's GSS-API identity, if it differs
      from the host name.
    :param gssapi_client_identity: our GSS-API identity (principal).
    :param gssapi_delegate_credentials: delegate our credentials to the server.
    :raises InvalidAPIUseError: ``forward_ssh_agent=True`` with an ssh-python
      whose libssh cannot be reached to serve it (see :ref:`agent-forwarding`).
    """

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
                 keyboard_interactive: bool = False, cert_file: Any = None,
                 gssapi_auth: bool = False, gssapi_server_identity: Optional[str] = None,
                 gssapi_client_identity: Optional[str] = None,
                 gssapi_delegate_credentials: bool = False, *, proxy_jump: Any = None,
                 host_key_policy: Optional[str] = None, known_hosts: Any = None,
                 host_key: Any = None, hostname: Optional[str] = None,
                 identity_files: Any = None, ssh_config: Any = None,
                 algorithms: Optional[Mapping[str, Any]] = None) -> None:
        self._setup(ClientSettings.from_arguments(host, dict(
            user=user, password=password, port=port, pkey=pkey, alias=alias,
            num_retries=num_retries, retry_delay=retry_delay, allow_agent=allow_agent,
            timeout=timeout, proxy_host=proxy_host, proxy_port=proxy_port,
            proxy_pkey=proxy_pkey, proxy_user=proxy_user, proxy_password=proxy_password,
            forward_ssh_agent=forward_ssh_agent, keepalive_seconds=keepalive_seconds,
            identity_auth=identity_auth, ipv6_only=ipv6_only, compress=compress,
            keyboard_interactive=keyboard_interactive, proxy_jump=proxy_jump,
            host_key_policy=host_key_policy, known_hosts=known_hosts, host_key=host_key,
            hostname=hostname, identity_files=identity_files, ssh_config=ssh_config,
            algorithms=algorithms, cert_file=cert_file, gssapi_auth=gssapi_auth,
            gssapi_server_identity=gssapi_server_identity,
            gssapi_client_identity=gssapi_client_identity,
            gssapi_delegate_credentials=gssapi_delegate_credentials)))

    def _backend_setup(self, settings: ClientSettings) -> None:
        if settings.forward_ssh_agent:
            check_agent_forwarding(settings.host)
        cert_file = settings.get('cert_file')
        self.cert_file = os.path.expanduser(os.fspath(cert_file)) if cert_file else None
        if self.cert_file is not None and not os.path.isfile(self.cert_file):
            raise PKeyFileError('Certificate file %s does not exist', self.cert_file)
        self.gssapi_auth = bool(settings.get('gssapi_auth'))
        self.gssapi_server_identity = settings.get('gssapi_server_identity')
        self.gssapi_client_identity = settings.get('gssapi_client_identity')
        self.gssapi_delegate_credentials = bool(settings.get('gssapi_delegate_credentials'))

    # libssh sends any size, but OpenSSH's server drops the whole connection
    # over a packet of more than 256 KiB.
    max_command_length = 262_000
    _command_limit_reason = 'that OpenSSH servers take in one request (256 KiB packets)'

    def _driver_for(self, prefs: SessionPrefs) -> 'LibsshDriver':
        return LibsshDriver(prefs)

    def _pkey_cert(self) -> Optional[str]:
        return self.cert_file

    def _wants_gssapi(self) -> bool:
        return bool(self.gssapi_auth or self.gssapi_server_identity
                    or self.gssapi_client_identity)

    def _session_prefs(self) -> SessionPrefs:
        return dataclasses.replace(
            super()._session_prefs(), gssapi_server_identity=self.gssapi_server_identity,
            gssapi_client_identity=self.gssapi_client_identity,
            gssapi_delegate_credentials=self.gssapi_delegate_credentials)


class LibsshDriver:
    """The backend contract (:class:`~pssh.clients.base._driver.Driver`) on
    ssh-python: one libssh session, driven without blocking."""

    max_packet = LIBSSH_MAX_PACKET
    library_again = SSH_AGAIN
    has_gssapi = True

    def __init__(self, prefs: SessionPrefs) -> None:
        self.prefs = prefs
        #: The server's port (for the agent forwarding's checks).
        self.port = prefs.port
        self.session: Any = None
        self._io: Optional[SessionIO] = None
        # Objects kept between tries of an operation that would block.
        self._opening: Optional[Any] = None
        self._auth_key: Optional[Any] = None
        # Held while connected, so that the other clients connecting meanwhile
        # (a parallel client's) use the same imported key.
        self._shared_key: Optional[SharedKey] = None
        self.agent_forwarding: Optional[_agent_forward.AgentForwarding] = None

    # The session.

    def start(self, io: SessionIO) -> Any:
        prefs = self.prefs
        self._io = io
        session = Session()
        self._set_host(session, io)
        session.options_set_port(prefs.port)
        session.options_set(ssh_options.USER, prefs.user)
        if prefs.compress:
            session.options_set(ssh_options.COMPRESSION, 'yes')
        given = prefs.algorithms
        lists = {'cipher': _CIPHERS, 'mac': _MACS}
        if prefs.known_key_algorithms:
            lists['hostkey'] = ','.join(prefs.known_key_algorithms)
        # Ciphers and MACs whose packet lengths stay visible to our relay's
        # guard (AES-GCM, or CTR with an encrypt-then-MAC MAC) come first.
        lists.update(given)
        for kind, names in lists.items():
            for option in _OPTIONS[kind]:
                try:
                    session.options_set(option, names)
                except ssh_exc.SSHError:
                    if kind not in given:
                        raise
                    raise InvalidAPIUseError(
                        'algorithms for %s:%s: libssh supports none of the %s algorithms %s',
                        prefs.host, prefs.port, kind, names) from None
        if prefs.gssapi_server_identity:
            session.options_set(ssh_options.GSSAPI_SERVER_IDENTITY,
                                prefs.gssapi_server_identity)
        if prefs.gssapi_client_identity:
            session.options_set(ssh_options.GSSAPI_CLIENT_IDENTITY,
                                prefs.gssapi_client_identity)
        if prefs.gssapi_delegate_credentials:
            session.options_set_gssapi_delegate_credentials(True)
        # libssh closes the descriptor it is given when the session is freed:
        # give it a duplicate of ours, so each side closes its own.
        session.set_socket(_Descriptor(os.dup(io.fileno)))
        session.set_blocking(False)
        self.session = session
        if prefs.forward_ssh_agent:
            self.agent_forwarding = _agent_forward.AgentForwarding(
                self, session, io, '%s:%s' % (prefs.host, prefs.port), prefs.timeout)
        return session

    def _set_host(self, session: Session, io: SessionIO) -> None:
        """Tell libssh the host name, or, where its parser refuses the name
        (an underscore, as in many container and internal DNS names), the
        address we connected to.

        libssh does not connect (we give it our socket) and the host key is
        checked by us, against the name: the option only names the server in
        libssh's own messages and for GSS-API, which gets the name explicitly.
        """
        prefs = self.prefs
        try:
            session.options_set(ssh_options.HOST, prefs.hostname)
            return
        except ssh_exc.BaseSSHError:
            pass
        try:
            address = io.transport.getpeername()[0]  # type: ignore[attr-defined]
        except (AttributeError, OSError, TypeError, IndexError):
            address = None
        if not isinstance(address, str):
            # Through a proxy the bastion resolved the name; libssh only
            # needs something it accepts.
            address = '127.0.0.1'
        session.options_set(ssh_options.HOST, address)
        if not prefs.gssapi_server_identity:
            session.options_set(ssh_options.GSSAPI_SERVER_IDENTITY, prefs.hostname)

    def handshake(self) -> Any:
        rc = self.session.connect()
        # libssh switches a socket it was given to blocking mode while
        # connecting; a blocking send would then stall the whole hub once the
        # socket pair is full. Ours (the same open file) goes back to
        # non-blocking after every step.
        assert self._io is not None
        os.set_blocking(self._io.fileno, False)
        return _again_or(rc)

    def host_key(self) -> bytes:
        if _libssh.server_key_base64 is not None:
            text = _libssh.server_key_base64(self.session)
            if text is not None:
                return base64.b64decode(text)
        key = self.session.get_server_publickey()
        return base64.b64decode(key.export_pubkey_base64())

    def block_directions(self) -> int:
        session = self.session
        return READ if session is None else _agent_forward.libssh_directions(session)

    def keepalive_config(self, seconds: int) -> None:
        pass

    def keepalive_send(self) -> Any:
        # libssh has no keepalive request of its own, and an ignored message
        # gets no answer. A global request with want-reply does: cancelling a
        # port forward that does not exist, which servers refuse. libssh keeps
        # one such request at a time; the first call sends it, later calls pick
        # up the answer (a refusal raises) and then send the next one.
        for _attempt in range(2):
            try:
                rc = self.session.cancel_forward('', 0)
            except ssh_exc.SSHError:
                continue  # the previous keepalive's refusal: send another
            if rc == SSH_AGAIN:
                return rc
        return 0

    def disconnect(self) -> Any:
        return 0

    def release(self) -> None:
        self.session = None
        self._io = None
        self._opening = self._auth_key = self._shared_key = None

    def translate(self, exc: BaseException) -> Optional[BaseException]:
        if not isinstance(exc, ssh_exc.BaseSSHError):
            return None
        prefs = self.prefs
        detail = ' '.join(arg.decode('utf-8', 'replace') if isinstance(arg, bytes) else str(arg)
                          for arg in exc.args if arg) or type(exc).__name__
        if isinstance(exc, _AUTH_ERRORS):
            return AuthenticationError('%s (%s)', detail, type(exc).__name__)
        if isinstance(exc, ssh_exc.KeyImportError):
            return PKeyFileError('Private key could not be used for %s@%s:%s: %s', prefs.user,
                                 prefs.host, prefs.port, detail)
        if isinstance(exc, _CHANNEL_ERRORS) or 'channel open' in detail.lower():
            # libssh reports a refused channel as a plain SSHError.
            return SessionError('Channel error on %s:%s: %s', prefs.host, prefs.port, detail)
        if 'timeout' in detail.lower():
            return Timeout('Timed out talking to %s:%s: %s', prefs.host, prefs.port, detail)
        return SSHError('SSH error on %s:%s: %s (%s)', prefs.host, prefs.port, detail,
                        type(exc).__name__)

    # Logging in.

    def auth_gssapi(self) -> Any:
        return _again_or(self.session.userauth_gssapi())

    def auth_key(self, key: bytes, passphrase: str, cert_file: Optional[str] = None) -> Any:
        prefs = self.prefs
        if self._auth_key is None:
            try:
                holder = import_private_key(key, passphrase, shared=cert_file is None)
            except ssh_exc.KeyImportError:
                raise PKeyFileError('Private key could not be used for %s@%s:%s (corrupt, '
                                    'unsupported, or wrong passphrase)', prefs.user, prefs.host,
                                    prefs.port) from None
            private = holder.key
            if cert_file is None:
                self._shared_key = holder
            else:
                try:
                    cert = ssh_key.import_cert_file(cert_file)
                    ssh_key.copy_cert_to_privkey(cert, private)
                except ssh_exc.KeyImportError:
                    raise PKeyFileError(
                        'Certificate %s could not be used with the private key for %s (it must '
                        'be the certificate of that key; this libssh cannot attach certificates '
                        'to ed25519 keys, use RSA or ECDSA)', cert_file, prefs.host) from None
            self._auth_key = private
        try:
            rc = _again_or(self.session.userauth_publickey(self._auth_key))
        except BaseException:
            self._auth_key = None
            raise
        if rc is not AGAIN:
            self._auth_key = None
        return rc

    def agent_attempts(self) -> Iterator[Callable[[], Any]]:
        # libssh tries the agent's keys itself, in one call.
        if os.environ.get('SSH_AUTH_SOCK'):
            user = self.prefs.user
            yield lambda: _again_or(self.session.userauth_agent(user))

    def auth_password(self, password: str) -> Any:
        return _again_or(self.session.userauth_password(self.prefs.user, password))

    def auth_keyboard_interactive(self, password: str) -> Any:
        # libssh sends the answers set after SSH_AUTH_INFO only on its next
        # call: make that call now rather than wait on a server that waits on us.
        # A server asking again and again (a wrong password re-prompted) ends
        # up refusing us, or we stop after a few rounds.
        session, user = self.session, self.prefs.user
        rc = session.userauth_kbdint(user, '')
        for _round in range(_KBDINT_ROUNDS):
            if rc != _AUTH_INFO:
                return _again_or(rc)
            # ssh-python wants each answer as bytes.
            answer = password.encode('utf-8')
            for index in range(session.userauth_kbdint_getnprompts()):
                session.userauth_kbdint_setanswer(index, answer)
            rc = session.userauth_kbdint(user, '')
        raise AuthenticationError('%s:%s kept asking keyboard-interactive questions',
                                  self.prefs.host, self.prefs.port)

    # Channels.

    def _open(self, opener: Callable[[Any], Any]) -> Any:
        # The channel being opened is kept until the server answers: the next
        # call (of the same open, or of the base client finishing an open
        # given up half way) resumes it. It is never closed unanswered: libssh
        # would send end-of-file and close for a channel number the server
        # never gave, which the server applies to another channel, or drops
        # the whole connection over.
        channel = self._opening
        if channel is None:
            channel = self._opening = self.session.channel_new()
        try:
            rc = opener(channel)
        except BaseException:
            self._opening = None
            raise
        if rc == SSH_AGAIN:
            return AGAIN
        self._opening = None
        return channel

    def open_session(self) -> Any:
        return self._open(lambda channel: channel.open_session())

    def open_direct_tcpip(self, host: str, port: int) -> Any:
        return self._open(lambda channel: channel.open_forward(host, port, '127.0.0.1', 0))

    def request_pty(self, raw: Any) -> Any:
        return _again_or(raw.request_pty())

    def request_exec(self, raw: Any, command: Union[str, bytes]) -> Any:
        return _again_or(raw.request_exec(command))

    def request_shell(self, raw: Any) -> Any:
        return _again_or(raw.request_shell())

    def request_subsystem(self, raw: Any, name: str) -> Any:
        return _again_or(raw.request_subsystem(name))

    def request_agent_forwarding(self, raw: Any) -> Any:
        if not os.environ.get('SSH_AUTH_SOCK'):
            # No agent to forward: the command runs without one, as with ssh -A.
            logger.debug('%s: SSH_AUTH_SOCK is not set, no agent to forward', self.prefs.host)
            return 0
        return _again_or(raw.request_auth_agent())

    def read(self, raw: Any, stderr: bool, size: int) -> Any:
        try:
            rc, data = raw.read_nonblocking(size, stderr)
        except ssh_exc.EOF:
            return b''
        if rc > 0:
            return data
        if rc == SSH_AGAIN or (rc == 0 and not raw.is_eof()):
            return AGAIN
        return b''

    def write(self, raw: Any, data: bytes) -> Any:
        # ssh-python's write loops in C for as long as libssh accepts nothing:
        # libssh does so when the server's window is full or when its own
        # output buffer cannot be flushed. So hand it at most one packet that
        # fits the window, and only once earlier output has gone out.
        session = self.session
        window = raw.window_size()
        if window <= 0:
            # Let libssh take in packets (a window adjustment may have come):
            # flushing handles incoming packets whatever the channel's buffers
            # hold, where a poll of the channel would not.
            session.blocking_flush(0)
            window = raw.window_size()
            if window <= 0:
                return AGAIN
        limit = min(window, _WRITE_PACKET)
        if len(data) > limit:
            data = data[:limit]
        rc, written = raw.write(data)
        if written > 0:
            return written
        if rc == SSH_AGAIN or rc == 0:
            return AGAIN
        raise SessionError('Writing to %s:%s failed with libssh error %s', self.prefs.host,
                           self.prefs.port, rc)

    def send_eof(self, raw: Any) -> Any:
        return _again_or(raw.send_eof())

    def eof(self, raw: Any) -> bool:
        return raw.is_eof()

    def close(self, raw: Any) -> Any:
        return _again_or(raw.close())

    def wait_closed(self, raw: Any) -> Any:
        # After EOF libssh's reads no longer process packets; asking for the
        # exit status does, until the status or the channel's close has come.
        # ssh-python's get_exit_state() loses a 32-byte buffer each time it
        # succeeds, so libssh is asked directly where it can be (_libssh);
        # otherwise get_exit_status() first, which answers -1 both while
        # nothing has come and for a command ended by a signal, and only then
        # get_exit_state() (for the signal).
        state: Optional[Tuple[Optional[int], bytes, bool]] = (
            _libssh.exit_state(raw) if _libssh.exit_state is not None else None)
        if state is None:
            code = raw.get_exit_status()
            if code >= 0:
                return ExitStatus(code, None)
            try:
                state = raw.get_exit_state()
            except ssh_exc.BaseSSHError:
                state = (None, b'', False)
        if state[0] == SSH_AGAIN and not raw.is_closed():
            return AGAIN
        code, signal_name, _core = state
        if code == SSH_AGAIN:
            code = raw.get_exit_status()
        if isinstance(signal_name, bytes):
            signal_name = signal_name.decode('ascii', 'replace')
        if signal_name:
            number = signal_exit_code(signal_name)
            return ExitStatus(number if number is not None else 255, signal_name)
        if code is None or code < 0:
            return ExitStatus(None, None)
        return ExitStatus(code, None)


class _Descriptor:
    """A bare file descriptor, for ssh-python's ``set_socket``."""

    __slots__ = ('_fd',)

    def __init__(self, fd: int) -> None:
        self._fd = fd

    def fileno(self) -> int:
        return self._fd
