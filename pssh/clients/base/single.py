"""What every single-host client does, whatever SSH library is underneath.

:class:`BaseSSHClient` holds the behaviour: connecting with retries, the
authentication order, running commands, reading their output into buffers,
shells and keepalives. A backend subclass names its driver
(:class:`~pssh.clients.base._driver.Driver`): the operations on its library's
session and channel objects, each of which either finishes or returns
:data:`~pssh.clients.base._driver.AGAIN` when the library would block; everything
here then waits on the session's :class:`~pssh.clients.base._io.SessionIO` for
exactly as long as needed.
"""
import getpass
import os
import weakref
from typing import (Any, Callable, Iterable, Iterator, List, Mapping, Optional,
                    Sequence, Tuple, Union)

import gevent

from ... import _checks, logger
from ..._deprecation import deprecated
from ..._keys import check_private_key
from ...config import ClientSettings, open_ssh_config
from ...constants import DEFAULT_RETRIES, RETRY_DELAY
from ...hostkeys import HostKeyChecker
from ...exceptions import (
    HostConnectionError,
    PKeyFileError,
    SessionError, ShellError, SSHError, Timeout)
from ...output import HostOutput, _LineStream
from ..reader import ConcurrentRWBuffer
from ._copy import CopyMixIn
from ._auth import (  # noqa: F401 (public here)
    Credentials, _KeyBytes, _plain, key_name, load_private_key, login)
from ._channel import Channel
from ._command import (  # noqa: F401 (public here)
    InteractiveShell, Stdin, build_command, command_encoding, make_output, signal_exit_code)
from ._connection import Connection, PollMixIn, open_tcp
from ._driver import Driver, SessionPrefs
from ._guard import ALLOW_UNCHECKED_LENGTHS as _ALLOW_UNCHECKED_LENGTHS
from ._io import SessionIO
from ._tunnel import BastionChain, ChannelTransport, Hop, ProxyPool

__all__ = ['BaseSSHClient', 'PollMixIn', 'InteractiveShell', 'Stdin', 'Channel']


class BaseSSHClient(PollMixIn, CopyMixIn):
    """A client of one SSH server; backends subclass it.

    The constructor connects and authenticates. See the native
    :class:`pssh.clients.native.SSHClient` for the parameters.
    """

    #: Identity files tried, in order, when no ``pkey`` is given.
    IDENTITIES: Tuple[str, ...] = tuple(
        os.path.expanduser('~/.ssh/%s' % name)
        for name in ('id_rsa', 'id_dsa', 'identity', 'id_ecdsa', 'id_ed25519'))

    #: Connect to a host whose key is not verified (unknown, accepted by a
    #: lenient ``host_key_policy``) even when the negotiated algorithms hide
    #: packet lengths from the relay's guard (a server with no encrypt-then-MAC
    #: MAC); a warning is logged once per host. False refuses such connections
    #: with :class:`~pssh.exceptions.UnknownHostKeyError`. Set on a class or an
    #: instance's class before connecting; see :doc:`/security`.
    ALLOW_UNCHECKED_LENGTHS: bool = _ALLOW_UNCHECKED_LENGTHS

    @staticmethod
    def check_agent_forwarding(host: str) -> None:
        """:raises InvalidAPIUseError: this backend cannot forward an agent (for ``host``)."""

    #: Makes the backend's driver (each backend's class defines it).
    _driver_for: Callable[[SessionPrefs], Driver]

    def __init__(self, host: str, user: Optional[str] = None, password: Optional[str] = None,
                 port: Optional[int] = None, pkey: Any = None, alias: Optional[str] = None,
                 num_retries: int = DEFAULT_RETRIES, retry_delay: float = RETRY_DELAY,
                 allow_agent: bool = True, timeout: Optional[float] = None,
                 proxy_host: Optional[str] = None, proxy_port: Optional[int] = None,
                 proxy_pkey: Any = None, proxy_user: Optional[str] = None,
                 proxy_password: Optional[str] = None, _auth_thread_pool: bool = True,
                 forward_ssh_agent: bool = False, keepalive_seconds: Optional[int] = 60,
                 identity_auth: bool = True, ipv6_only: bool = False, compress: bool = False,
                 keyboard_interactive: bool = False, *, proxy_jump: Any = None,
                 host_key_policy: Optional[str] = None, known_hosts: Any = None,
                 host_key: Any = None, hostname: Optional[str] = None,
                 identity_files: Optional[Sequence[Any]] = None, ssh_config: Any = None,
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
            algorithms=algorithms)))

    @classmethod
    def _with_settings(cls, settings: ClientSettings, proxy_pool: Optional[ProxyPool] = None,
                       via: Optional['BaseSSHClient'] = None) -> Any:
        """A client connected with ``settings`` (how parallel clients and bastions
        make theirs), sharing ``proxy_pool``'s bastion connections, or running
        over a tunnel through the connected bastion ``via``."""
        client = cls.__new__(cls)
        client._setup(settings, proxy_pool, via)
        return client

    def _backend_setup(self, settings: ClientSettings) -> None:
        """The backend's own settings and checks, before anything else."""

    def _setup(self, settings: ClientSettings, _proxy_pool: Optional[ProxyPool] = None,
               _via: Optional['BaseSSHClient'] = None) -> None:
        """Check and keep ``settings``, then connect and log in."""
        self._backend_setup(settings)
        # The settings as resolved (arguments, HostConfig, ssh config) and checked.
        s = settings = settings.checked(type(self).__name__)
        host, port, password, pkey = s.host, s.port, s.password, s.pkey
        #: Algorithm lists given by the caller, by kind (``'kex'``, ``'hostkey'``,
        #: ``'cipher'``, ``'mac'``), each a comma-separated str; None for ours.
        self.algorithms = s.algorithms
        self.host = host
        #: The address connected to: ``hostname`` if given (as from an ssh
        #: config ``HostName``), else ``host``.
        self.hostname = s.hostname or host
        self.alias = s.alias
        self.user = s.user or getpass.getuser()
        self.password = password
        self.port = port
        self.pkey = pkey
        self.num_retries, self.retry_delay, self.timeout = s.num_retries, s.retry_delay, s.timeout
        # Channels of the commands started by run_command (for disconnect()).
        self._commands: 'weakref.WeakSet[Channel]' = weakref.WeakSet()
        self._closer: Optional[gevent.Greenlet] = None
        # Which connection attempt got as far as logging in (reported by a failed login).
        self._connected_attempt = 1
        self.allow_agent = s.allow_agent
        self.identity_auth = s.identity_auth
        self.ipv6_only = s.ipv6_only
        self.compress = s.compress
        self.keepalive_seconds = s.keepalive_seconds
        self.forward_ssh_agent = s.forward_ssh_agent
        self.keyboard_interactive = s.keyboard_interactive
        self.proxy_host, self.proxy_port, self.proxy_pkey = s.proxy_host, s.proxy_port, s.proxy_pkey
        self.proxy_user, self.proxy_password = s.proxy_user, s.proxy_password
        try:
            self._pkey_data = _plain(load_private_key(pkey))
        except PKeyFileError as exc:
            raise PKeyFileError('%s (for %s)', exc, host) from None
        # A key that cannot work fails here, not at login; the import is kept
        # (and shared with other clients using the key) while we live.
        self._keys_held = [check_private_key(self._pkey_data, password, key_name(pkey), host)]
        self.proxy_jump = s.proxy_jump
        # Bastions look themselves up in the same files.
        self._ssh_config = open_ssh_config(s.ssh_config)
        self.host_key_policy, self.known_hosts = s.host_key_policy, s.known_hosts
        self._host_keys = HostKeyChecker(self.hostname, port, s.host_key_policy, s.known_hosts,
                                         s.host_key)
        if s.identity_files is not None:
            self.IDENTITIES = s.identity_files
        self._via = _via
        self._owns_proxy_pool = _proxy_pool is None
        self._proxy_pool = _proxy_pool if _proxy_pool is not None else ProxyPool()
        # Bastions (none for a client that is itself one, running over ``via``).
        self._bastions = BastionChain(
            type(self)._with_settings, settings, self.user, self._pkey_data, self.IDENTITIES,
            self._ssh_config, self._proxy_pool, self._keys_held, hops=_via is None)
        #: The SSH library's session, through the backend's driver.
        self._driver: Driver = self._driver_for(self._session_prefs())
        self._conn = Connection(host, port, self.timeout, self._driver, self._host_keys,
                                self.ALLOW_UNCHECKED_LENGTHS)
        try:
            self._connect()
        except BaseException:
            if self._owns_proxy_pool:
                self._proxy_pool.close()
            raise

    def __repr__(self) -> str:
        return '<%s %s@%s:%s%s>' % (type(self).__name__, self.user, self.host, self.port,
                                    ' (connected)' if self._io is not None else '')

    # ------------------------------------------------------------------
    # Calling the library.

    @property
    def _io(self) -> Optional[SessionIO]:
        """The relay of the current connection (None when not connected)."""
        return self._conn.io

    @property
    def session(self) -> Any:
        """The SSH library's session object (None when not connected)."""
        return self._driver.session

    @property
    def sock(self) -> Any:
        """The transport the session runs on: a socket, or a tunnel through a proxy."""
        return self._conn.sock

    @property
    def connection(self) -> Connection:
        """The client's connection, on which pssh's own tunnels (bastions,
        TunnelServer) open their channels. Not API: it may change at any time.

        :meta private:
        """
        return self._conn

    @property
    def _agent_forwarding(self) -> Any:
        """What serves forwarded agent channels on this connection (None without)."""
        return self._driver.agent_forwarding

    def _call(self, func: Callable[..., Any], *args: Any,
              timeout: Optional[float] = None, what: Optional[str] = None) -> Any:
        """Call a driver method until it stops saying it would block."""
        return self._conn.call(func, *args, timeout=timeout, what=what)

    def eagain(self, func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Call ``func(*args, **kwargs)`` of the SSH library until it does not block."""
        return self._conn.eagain(func, *args, **kwargs)

    def eagain_write(self, write_func: Any, data: bytes) -> None:
        """Write all of ``data`` to a channel, waiting whenever the library would block.

        ``write_func`` is a :class:`Channel`, a library channel, or a library
        write function.
        """
        raw = getattr(write_func, 'raw', write_func)
        raw = getattr(raw, '__self__', raw)
        self._conn.write_all(raw, data)

    def poll(self, timeout: Optional[float] = None) -> None:
        """Wait until the session's socket is ready in the direction the library needs."""
        self._conn.poll(timeout)

    # ------------------------------------------------------------------
    # Connecting.

    def _connect(self) -> None:
        """Connect, handshake and authenticate: the only network I/O of the constructor."""
        # Which attempt connected: a failed login reports it.
        self._connected_attempt = self._conn.connect(self._open_transport, self.num_retries,
                                                     self.retry_delay)
        try:
            self.auth()
        except BaseException:
            self._conn.close()
            raise
        self._conn.start_keepalive(self.keepalive_seconds)

    def _open_transport(self) -> Any:
        via = self._via
        if via is None and not self._bastions.hops:
            return open_tcp(self.host, self.hostname, self.port, self.timeout, self.ipv6_only)
        if via is None:
            return self._bastions.tunnel(self.hostname, self.port)
        try:
            return ChannelTransport(via.connection, self.hostname, self.port)
        except (SSHError, Timeout) as exc:
            raise HostConnectionError('Could not reach %s:%s through proxy %s:%s: %s',
                                      self.host, self.port, via.host, via.port, exc) from None

    @property
    def _hops(self) -> List[Hop]:
        """Our bastion chain, with what each hop leaves out filled in."""
        return self._bastions.hops

    def _session_prefs(self) -> SessionPrefs:
        """What the driver needs to set up its library session."""
        return SessionPrefs(
            host=self.host, port=self.port, hostname=self.hostname, user=self.user,
            timeout=self.timeout, compress=self.compress, algorithms=dict(self.algorithms or {}),
            # Host key algorithms of keys we hold, to ask for first.
            known_key_algorithms=self._host_keys.preferred_algorithms(),
            forward_ssh_agent=self.forward_ssh_agent)

    # ------------------------------------------------------------------
    # Authentication.

    def auth(self) -> None:
        """Authenticate, trying in order: ``pkey`` alone if given; else the SSH
        agent (when ``allow_agent``), the default identity files (when
        ``identity_auth``), then the password or keyboard-interactive.

        :raises AuthenticationError: nothing worked; the message lists what was
            tried. ``.args`` is ``(message, host, port, cause, attempt,
            num_retries)``: ``cause`` is the SSH library's own exception from the
            last method tried (None if nothing could be tried), ``attempt`` the
            connection attempt that got as far as logging in.
        """
        login(self._conn, Credentials(
            user=self.user, password=self.password, pkey=self.pkey, pkey_data=self._pkey_data,
            pkey_cert=self._pkey_cert(), allow_agent=self.allow_agent,
            identity_auth=self.identity_auth, identities=tuple(self.IDENTITIES),
            keyboard_interactive=self.keyboard_interactive, gssapi=self._wants_gssapi()),
            self._connected_attempt, self.num_retries)

    def _wants_gssapi(self) -> bool:
        """Whether to try GSS-API first (a libssh client option)."""
        return False

    def _pkey_cert(self) -> Optional[str]:
        """An OpenSSH certificate to present with ``pkey`` (a libssh client option)."""
        return None

    # ------------------------------------------------------------------
    # Channels and commands.

    def open_session(self) -> Channel:
        """Open a new channel on the session.

        :raises SessionError: the server refused or the session is gone.
        """
        self._conn.check()
        try:
            raw = self._conn.open_channel(self._driver.open_session, what='opening a channel')
        except SessionError as exc:
            if self.connection_lost or type(exc) is not SessionError:
                raise
            # The connection is fine: the server said no to this channel.
            raise SessionError(
                'Server %s:%s refused to open another session on this connection (servers '
                'limit the sessions open at once per connection, OpenSSH with '
                'MaxSessions): %s', self.host, self.port, exc) from exc
        return Channel(raw, self._conn)

    @property
    def connection_lost(self) -> bool:
        """True once the connection is closed or was lost (a new client is needed)."""
        return self._conn.lost

    def run_command(self, command: str, sudo: bool = False, user: Optional[str] = None,
                    use_pty: bool = False, shell: Optional[str] = None,
                    encoding: str = 'utf-8', timeout: Optional[float] = None,
                    read_timeout: Optional[float] = None, *,
                    buffer_limit: Optional[int] = None) -> HostOutput:
        """Start ``command`` and return its :class:`~pssh.output.HostOutput` at once.

        :param sudo: run it through ``sudo -S``.
        :param user: run it as this user through ``sudo -u user -S`` (implies sudo).
        :param use_pty: ask for a pseudo terminal; stderr then arrives in stdout.
        :param shell: run the command through this shell command (``'bash -c'``)
          instead of ``$SHELL -c`` when sudo or user is given.
        :param encoding: how the command line is encoded and output bytes are
          decoded. An encoding that does not write ASCII as ASCII (UTF-16, UTF-32)
          decodes output only: the command line is then sent as UTF-8.
        :param timeout: same as ``read_timeout`` (kept for older code).
        :param read_timeout: seconds after which reading output raises
          :class:`~pssh.exceptions.Timeout`; None or 0 for no limit.
        :param buffer_limit: bytes of unread output to keep per stream (stdout,
          stderr) before the command is paused through SSH flow control until
          it is read. None (the default): keep all of it, however large.
          Waiting for the command (``wait_finished``, ``join``, ``finished``,
          ``exit_code``) and writing to its stdin lift the pause.
        :raises LookupError: ``encoding`` is not a known codec.
        :raises UnicodeEncodeError: the command has characters ``encoding``
          cannot represent.
        :raises ValueError: the command line is longer than the SSH library
          (or the server) takes in one request (:attr:`max_command_length`).
        """
        if not isinstance(command, str):
            raise TypeError('command must be a str, got %s' % type(command).__name__)
        _checks.encoding(encoding)
        if read_timeout is None:
            read_timeout = timeout
        read_timeout = _checks.read_timeout(read_timeout, 'run_command', self.host)
        _checks.text('user', user, 'run_command', self.host)
        _checks.text('shell', shell, 'run_command', self.host)
        for name, value in (('command', command), ('user', user), ('shell', shell)):
            _checks.no_nul(name, value, 'run_command', self.host)
        _checks.count('buffer_limit', buffer_limit, 'run_command', self.host, minimum=1,
                      optional=True)
        line = build_command(command, sudo=sudo, user=user, shell=shell).encode(
            command_encoding(encoding))
        self._check_command_length(line)
        channel = self.open_session()
        try:
            if self.forward_ssh_agent:
                try:
                    channel.request('agent', what='requesting agent forwarding')
                except SSHError as exc:
                    logger.debug('%s: agent forwarding refused: %s', self.host, exc)
            if use_pty:
                channel.request('pty', what='requesting a PTY')
            channel.request('exec', line, what='starting the command')
        except BaseException:
            channel.discard()
            raise
        self._commands.add(channel)
        return make_output(self, channel, encoding, read_timeout, line, buffer_limit)

    #: Longest command line, in bytes once encoded (with the ``sudo``/``shell``
    #: wrapping), sent in one request. Backends set it to what their library
    #: and OpenSSH's server take.
    max_command_length = 32 * 1024

    def _check_command_length(self, line: bytes) -> None:
        """:raises ValueError: ``line`` is over :attr:`max_command_length`; it is
        refused before anything is sent, so the connection is unharmed."""
        if len(line) > self.max_command_length:
            raise ValueError(
                'run_command for %s: the command line is %d bytes, over the limit of %d '
                'bytes %s: send a long script on stdin (run_command(\'sh -s\') and '
                'write it to stdin) or copy it to the host as a file' % (
                    self.host, len(line), self.max_command_length,
                    self._command_limit_reason))

    _command_limit_reason = 'that one SSH request may carry'

    def wait_finished(self, host_output: HostOutput, timeout: Optional[float] = None) -> None:
        """Wait for the command of ``host_output`` to finish (output fully received).

        Output not read yet stays readable afterwards.

        :raises ValueError: ``host_output`` is not a HostOutput.
        :raises Timeout: it did not finish within ``timeout`` seconds.
        :raises SSHError: the connection was lost before the command ended (the
          same error is then in ``host_output.exception``).
        """
        if not isinstance(host_output, HostOutput):
            raise ValueError('%r is not a HostOutput' % (host_output,))
        _checks.seconds('timeout', timeout, 'wait_finished', self.host)
        channel = host_output.channel
        if channel is None:
            return
        if isinstance(channel, Channel):
            channel.unpause()
            if not channel.wait_done(timeout):
                raise Timeout('Command on %s:%s did not finish within %s seconds',
                              self.host, self.port, timeout)
            if channel.error is not None:
                raise channel.error
            return
        raise ValueError('%r has no channel of this client' % (host_output,))

    def finished(self, channel: Any) -> Optional[bool]:
        """True once the command on ``channel`` has finished (None for no channel)."""
        if channel is None:
            return None
        if isinstance(channel, Channel):
            if not channel.done:
                channel.unpause()  # the caller polls for the end: let it come
            return channel.done
        return bool(self._driver.eof(channel))

    def get_exit_status(self, channel: Any) -> Optional[int]:
        """Exit status of the command on ``channel``, or None while not known."""
        if isinstance(channel, Channel):
            return channel.exit_code
        return None

    def close_channel(self, channel: Any) -> None:
        """Close ``channel``. A command running with a PTY is ended by this."""
        if isinstance(channel, Channel):
            if not channel.closed:
                # Until the reader has recorded the command's end, what the
                # library would report after our close is made up (libssh2: 0),
                # even when the output has ended (a command that closed its
                # output and runs on).
                channel._cut = not channel.done
                channel.shut()
            return
        if self._io is not None:
            self._call(self._driver.close, channel, timeout=self.timeout,
                       what='closing a channel')

    def open_shell(self, encoding: str = 'utf-8',
                   read_timeout: Optional[float] = None) -> InteractiveShell:
        """Start an interactive login shell.

        :raises ShellError: the server refused.
        :raises LookupError: unknown ``encoding``.
        """
        _checks.encoding(encoding)
        read_timeout = _checks.read_timeout(read_timeout, 'open_shell', self.host)
        channel = self.open_session()
        try:
            channel.request('shell', what='starting a shell')
        except SSHError as exc:
            channel.discard()
            raise ShellError('Could not start a shell on %s:%s: %s', self.host, self.port, exc) from exc
        except BaseException:
            channel.discard()
            raise
        return InteractiveShell(channel, self, encoding=encoding, read_timeout=read_timeout)

    # Reading helpers kept from the reference API.

    def read_output(self, stdout_buffer: ConcurrentRWBuffer, timeout: Optional[float] = None,
                    *, encoding: str = 'utf-8') -> Iterator[str]:
        """Lines of stdout from a reader buffer."""
        return _LineStream(stdout_buffer, encoding, self.host, False).generate(timeout)

    def read_stderr(self, stderr_buffer: ConcurrentRWBuffer, timeout: Optional[float] = None,
                    *, encoding: str = 'utf-8') -> Iterator[str]:
        """Lines of stderr from a reader buffer."""
        return _LineStream(stderr_buffer, encoding, self.host, True).generate(timeout)

    def read_output_buffer(self, output_buffer: Iterable[Union[str, bytes]],
                           prefix: Optional[str] = None,
                           callback: Optional[Callable[..., Any]] = None,
                           callback_args: Optional[Sequence[Any]] = None,
                           encoding: str = 'utf-8') -> Iterator[str]:
        """Yield lines of ``output_buffer`` (decoding bytes), logging each to the
        host logger with ``prefix``; call ``callback(*callback_args)`` at the end."""
        from ... import host_logger
        prefix = '' if prefix is None else prefix
        for line in output_buffer:
            if isinstance(line, bytes):
                line = line.decode(encoding)
            host_logger.info('[%s]%s\t%s', self.host, prefix, line)
            yield line
        if callback is not None:
            callback(*(callback_args or ()))

    # ------------------------------------------------------------------
    # Keepalive and disconnecting.

    def configure_keepalive(self) -> None:
        """Tell the library to send keepalives every ``keepalive_seconds``."""
        self._driver.keepalive_config(int(self.keepalive_seconds or 0))

    def close(self) -> None:
        """Disconnect from the server (and from proxies this client connected
        alone). Safe to call more than once.

        Commands still running lose their connection: reading their output
        then raises :class:`~pssh.exceptions.SessionError` saying that this
        client closed it.
        """
        self._close('close() was called')

    def _close(self, why: str) -> None:
        """:meth:`close`, saying ``why`` to whoever still uses the connection."""
        if self._io is None:
            return
        self._conn.disconnect(why)
        # A reader paused by buffer_limit would otherwise wait for ever: let
        # it go on, to find the connection gone and end its output.
        for channel in list(self._commands):
            channel.unpause()
        if self._owns_proxy_pool:
            self._proxy_pool.close()

    @deprecated('use close(), or the client as a context manager')
    def disconnect(self) -> None:
        """Disconnect from the server once the commands started on this client
        have finished; returns at once.

        Output is never lost: the commands' output goes on being read and stays
        readable to its end, with exit codes. The connection is closed when the
        last of them ends (a command that never ends keeps it open: close such
        a client with :meth:`close`, which does not wait).

        .. deprecated:: 2.0
           Use :meth:`close` or ``with SSHClient(...) as client:``.
        """
        if self._closer is not None and not self._closer.dead:
            return
        running = [channel for channel in self._commands if not channel.done]
        if not running:
            self.close()
            return
        for channel in running:
            channel.unpause()  # waited for: a buffer_limit must not hold them
        del running
        self._closer = gevent.spawn(self._close_when_commands_end)

    def _close_when_commands_end(self) -> None:
        while True:
            running = [channel for channel in self._commands if not channel.done]
            if not running:
                break
            running[0].wait_done()
            del running
        self._closer = None
        self.close()

    @deprecated('use run_command()')
    def execute(self, cmd: str, use_pty: bool = False, channel: Any = None) -> Channel:
        """Start ``cmd`` on a new channel and return the channel.

        .. deprecated:: 2.0
           Use :meth:`run_command`.
        """
        if channel is None:
            channel = self.open_session()
        elif not isinstance(channel, Channel):
            channel = Channel(channel, self._conn)
        if use_pty:
            channel.request('pty')
        channel.request('exec', cmd)
        return channel

    def __enter__(self) -> 'BaseSSHClient':
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()
