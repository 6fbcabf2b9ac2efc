"""Run a real OpenSSH ``sshd`` on a loopback address for tests.

Only the standard library is used here, on purpose: this module is imported by
the pytest plugin, which pytest loads into every test process, so it must not
pull in gevent or ssh2.
"""
from __future__ import annotations

import getpass
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import weakref
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Union

if TYPE_CHECKING:
    if sys.version_info >= (3, 11):
        from typing import Self
    else:
        from typing_extensions import Self

__all__ = [
    'KEY_TYPES',
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

#: Default path of the OpenSSH server binary (Debian package ``openssh-server``).
SSHD_PATH = '/usr/sbin/sshd'
#: Default path of ``ssh-keygen`` (Debian package ``openssh-client``).
SSH_KEYGEN_PATH = '/usr/bin/ssh-keygen'
#: Default path of the OpenSSH client, used by :meth:`OpenSSHServer.ssh_command`.
SSH_PATH = '/usr/bin/ssh'
#: Default path of the OpenSSH SFTP client, used by :meth:`OpenSSHServer.sftp_command`.
SFTP_PATH = '/usr/bin/sftp'
#: Key types accepted for ``key_type``.
KEY_TYPES = ('ed25519', 'rsa', 'ecdsa')

_INSTALL_HINT = ("install the Debian package 'openssh-server' "
                 "(apt-get install -y openssh-server)")
_PRIVSEP_DIR = '/run/sshd'
_PORT_ATTEMPTS = 5
#: Seconds connection handlers get to end after SIGTERM when sshd stops.
_CHILD_GRACE = 1.0
_LOG_TAIL_BYTES = 4000
# Keywords whose values are tied to attributes of the server object.
_RESERVED_KEYWORDS = ('port', 'listenaddress')

ExtraConfig = Union[None, Sequence[str], Mapping[str, Any]]


class OpenSSHServerError(RuntimeError):
    """Base class of the errors raised by :class:`OpenSSHServer`."""


class SSHDNotFoundError(OpenSSHServerError):
    """``sshd`` or ``ssh-keygen`` is not installed (or not at the given path)."""


class SSHDStartError(OpenSSHServerError):
    """``sshd`` exited, or did not accept connections in time, while starting.

    :ivar log: the tail of the server's log (its stderr) at the time of failure.
    """

    def __init__(self, message: str, log: str = '') -> None:
        super().__init__(message)
        self.log = log


class _AddressInUse(Exception):
    """Internal: sshd could not bind its port."""


# --------------------------------------------------------------------------
# helpers


def _require_executable(path: str, what: str) -> str:
    path = os.path.abspath(path)
    if not (os.path.isfile(path) and os.access(path, os.X_OK)):
        raise SSHDNotFoundError(
            f"{what} not found at {path}: {_INSTALL_HINT}")
    return path


def _keygen(ssh_keygen: str, key_type: str, path: str, comment: str) -> None:
    """Write a new key pair without a passphrase to ``path`` and ``path.pub``."""
    args = [ssh_keygen, '-q', '-t', key_type, '-N', '', '-C', comment, '-f', path]
    if key_type == 'rsa':
        # PEM is read by every SSH library; 2048 bits keeps generation fast.
        args += ['-b', '2048', '-m', 'PEM']
    elif key_type == 'ecdsa':
        args += ['-b', '256', '-m', 'PEM']
    res = subprocess.run(args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, check=False)
    if res.returncode != 0:
        output = res.stdout.decode(errors='replace').strip()
        raise OpenSSHServerError(f"ssh-keygen failed (exit {res.returncode}): {output}")


def _check_key_type(key_type: str) -> str:
    if key_type not in KEY_TYPES:
        raise ValueError(f"key_type must be one of {KEY_TYPES}, not {key_type!r}")
    return key_type


_version_cache: dict[str, tuple[int, int]] = {}


def _sshd_version(sshd: str) -> tuple[int, int]:
    """(major, minor) of OpenSSH at ``sshd``; (0, 0) if it cannot be told."""
    if sshd not in _version_cache:
        version = (0, 0)
        try:
            res = subprocess.run([sshd, '-V'], stdin=subprocess.DEVNULL,
                                 stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                 timeout=10, check=False)
            match = re.search(rb'OpenSSH_(\d+)\.(\d+)', res.stdout)
            if match:
                version = (int(match.group(1)), int(match.group(2)))
        except (OSError, subprocess.SubprocessError):
            pass
        _version_cache[sshd] = version
    return _version_cache[sshd]


def _sockaddr(host: str, port: int) -> tuple[int, Any]:
    info = socket.getaddrinfo(host, port, 0, socket.SOCK_STREAM)[0]
    return info[0], info[4]


def _die_with_parent() -> None:
    """In the sshd child before exec: have the kernel end sshd if we die.

    A test run killed outright (SIGKILL, a CI time limit) runs no clean-up code;
    without this its servers would outlive it. Linux only; elsewhere a no-op.
    """
    try:
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except Exception:  # pragma: no cover - not Linux, or no prctl
        pass


def _pick_port(host: str) -> int:
    """A port that was free on ``host`` a moment ago (the kernel chooses it)."""
    family, addr = _sockaddr(host, 0)
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.bind(addr)
        return sock.getsockname()[1]


def _read_banner(host: str, port: int, timeout: float) -> bool:
    """Connect and read one line; True if it is an SSH-2.0 identification."""
    try:
        family, addr = _sockaddr(host, port)
        with socket.socket(family, socket.SOCK_STREAM) as sock:
            sock.settimeout(timeout)
            sock.connect(addr)
            data = b''
            while b'\n' not in data and len(data) < 1024:
                chunk = sock.recv(256)
                if not chunk:
                    break
                data += chunk
    except OSError:
        return False
    return data.startswith(b'SSH-2.0-')


def _children_map() -> dict[int, list[int]]:
    """Map of parent pid -> child pids, read from /proc (empty without /proc)."""
    children: dict[int, list[int]] = {}
    try:
        entries = os.listdir('/proc')
    except OSError:
        return children
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            with open(f'/proc/{entry}/stat', 'rb') as stat:
                data = stat.read()
        except OSError:
            continue
        fields = data[data.rfind(b')') + 2:].split()
        if len(fields) > 1:
            children.setdefault(int(fields[1]), []).append(int(entry))
    return children


def _descendants(pid: int) -> list[int]:
    children = _children_map()
    found: list[int] = []
    stack = [pid]
    while stack:
        for child in children.get(stack.pop(), ()):
            found.append(child)
            stack.append(child)
    return found


def _alive(pid: int) -> bool:
    """Whether ``pid`` exists and is not a zombie."""
    try:
        with open(f'/proc/{pid}/stat', 'rb') as stat:
            data = stat.read()
        return data[data.rfind(b')') + 2:][:1] != b'Z'
    except OSError:
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _signal(pid: int, sig: int) -> None:
    try:
        os.kill(pid, sig)
    except OSError:
        pass


def _keyword(line: str) -> str:
    parts = re.split(r'[\s=]+', line.strip(), maxsplit=1)
    return parts[0].lower() if parts else ''


def _format_value(value: Any) -> str:
    if value is True:
        return 'yes'
    if value is False:
        return 'no'
    return str(value)


def _split_extra_config(extra: ExtraConfig) -> tuple[list[str], list[str], set]:
    """Split caller config into (lines before defaults, trailing Match blocks,
    keywords whose defaults are replaced)."""
    if extra is None:
        return [], [], set()
    lines: list[str] = []
    removed: set = set()
    if isinstance(extra, Mapping):
        for key, value in extra.items():
            if value is None:
                removed.add(str(key).lower())
                continue
            values = value if isinstance(value, (list, tuple)) else [value]
            lines.extend(f'{key} {_format_value(item)}' for item in values)
    elif isinstance(extra, str):
        lines = extra.splitlines()
    else:
        lines = [str(line) for line in extra]
    head: list[str] = []
    tail: list[str] = []
    for line in lines:
        if tail or _keyword(line) == 'match':
            tail.append(line)
        else:
            head.append(line)
    overridden = {_keyword(line) for line in head
                  if line.strip() and not line.strip().startswith('#')}
    bad = (overridden | removed).intersection(_RESERVED_KEYWORDS)
    if bad:
        raise ValueError(f"extra_config must not set {', '.join(sorted(bad))}: "
                         "use the address and port parameters instead")
    return head, tail, overridden | removed


def _authorized_key_line(pub_text: str, home: str) -> str:
    key = pub_text.strip().splitlines()[0].strip() if pub_text.strip() else ''
    if not key:
        raise ValueError("empty public key")
    home = home.replace('\\', '\\\\').replace('"', '\\"')
    return f'environment="HOME={home}" {key}\n'


class _Runtime:
    """What must be cleaned up: the sshd process and the work directory.

    Kept apart from :class:`OpenSSHServer` so that ``weakref.finalize`` can
    clean up a server that was garbage collected without stopping it.
    """

    def __init__(self, workdir: str, remove_workdir: bool) -> None:
        self.workdir = workdir
        self.remove_workdir = remove_workdir
        self.proc: subprocess.Popen | None = None

    def stop_process(self, timeout: float = 5.0) -> None:
        proc, self.proc = self.proc, None
        if proc is None:
            return
        if proc.poll() is not None:
            proc.wait()
            return
        pid = proc.pid
        # Freeze the listener so it forks no new connection handler while the
        # tree below it is collected, then terminate the listener and the
        # connection handlers (which run in their own sessions and would
        # otherwise outlive it).
        _signal(pid, signal.SIGSTOP)
        tree = _descendants(pid)
        _signal(pid, signal.SIGTERM)
        _signal(pid, signal.SIGCONT)
        for child in tree:
            _signal(child, signal.SIGTERM)
        started = time.monotonic()
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        # A connection handler busy in poll() may notice SIGTERM only when its
        # next packet comes (sshd serving root does so): it gets a short grace,
        # then SIGKILL, instead of holding up every server's stop.
        deadline = started + min(timeout, _CHILD_GRACE)
        delay = 0.005
        while True:
            tree = [child for child in tree if _alive(child)]
            remaining = deadline - time.monotonic()
            if not tree or remaining <= 0:
                break
            time.sleep(min(delay, remaining))
            delay = min(delay * 2, 0.1)
        for child in tree:
            _signal(child, signal.SIGKILL)

    def cleanup(self) -> None:
        self.stop_process()
        if self.remove_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)


# --------------------------------------------------------------------------
# the server


class OpenSSHServer:
    """A real OpenSSH ``sshd`` listening on a loopback address, for tests.

    Creating the object makes a private work directory holding a host key,
    a user key pair (no passphrase), ``authorized_keys``, a clean HOME
    directory and the sshd config; :meth:`start` runs
    ``sshd -D -e -f CONFIG`` and waits until it sends its ``SSH-2.0-``
    banner. :meth:`stop` (or leaving the ``with`` block, or garbage
    collection, or interpreter exit) stops sshd together with its connection
    handlers and removes the work directory.

    Logging in works both when the tests run as root and as a normal user
    (then only that user can log in). The user key is authorised with
    ``environment="HOME=<workdir>/home"``, so remote shells get :attr:`home`
    as ``$HOME`` instead of the user's real home, and do not read its shell
    start-up files.

    :param address: address to listen on, e.g. ``'127.0.0.1'`` or ``'::1'``.
    :param port: port to listen on; ``None`` picks a free one (retried with a
        new port if sshd loses a race for it). Once started, the server keeps
        its port across restarts.
    :param user: user allowed to log in (the default is
        :func:`getpass.getuser`).
    :param key_type: ``'ed25519'`` (default), ``'rsa'`` or ``'ecdsa'``: type of
        the generated user key. An ed25519 host key is always made; for
        another type a host key of that type is made as well. RSA and ECDSA
        private keys are written in PEM format.
    :param extra_config: more sshd config, as a list of lines (or one string)
        or a dict of ``keyword: value`` (a list value gives one line per item,
        ``True``/``False`` give ``yes``/``no``, ``None`` drops the default line
        of that keyword). These lines come before the defaults, and a default
        is left out when its keyword is given here, so the caller's values win.
        Lines from the first ``Match`` on are put at the very end.
        ``Port`` and ``ListenAddress`` are refused: use ``address``/``port``.
    :param workdir: parent directory for the server's private work directory
        (the default is the system temporary directory). Only the private
        directory created inside it is removed.
    :param user_key: path of an existing private key to authorise instead of
        generating one (its public key is read from ``<user_key>.pub`` or
        derived with ``ssh-keygen -y``). It is never removed by the server.
    :param sshd_path: path of ``sshd``.
    :param ssh_keygen_path: path of ``ssh-keygen``.
    :param start_timeout: seconds :meth:`start` waits for sshd to accept
        connections.
    :param command_prefix: argv put before sshd's own, e.g.
        ``['ip', 'netns', 'exec', 'NAME']`` to run it in a network namespace
        (the prefix must exec sshd, so that stopping it stops sshd). Give a
        ``port`` then: free ports are picked in this process's namespace.
    :param reexec: ``False`` starts sshd with ``-r``, so that it serves each
        connection from a fork of itself instead of executing itself again:
        about half the server's CPU time per connection, for tests that make
        thousands of connections. Only OpenSSH before 9.8 has that mode
        (later versions always run a separate per-connection program): there
        the argument is ignored.
    :raises SSHDNotFoundError: ``sshd`` or ``ssh-keygen`` is missing.
    """

    def __init__(self, address: str = '127.0.0.1', port: int | None = None, *,
                 user: str | None = None,
                 key_type: str = 'ed25519',
                 extra_config: ExtraConfig = None,
                 workdir: str | None = None,
                 user_key: str | None = None,
                 sshd_path: str = SSHD_PATH,
                 ssh_keygen_path: str = SSH_KEYGEN_PATH,
                 start_timeout: float = 15.0,
                 command_prefix: Sequence[str] = (),
                 reexec: bool = True) -> None:
        self._sshd = _require_executable(sshd_path, 'sshd')
        self._reexec = reexec
        self._command_prefix = [str(arg) for arg in command_prefix]
        self._ssh_keygen = _require_executable(ssh_keygen_path, 'ssh-keygen')
        self._host = address
        self._port = port
        self._auto_port = port is None
        self._user = user if user is not None else getpass.getuser()
        self._key_type = _check_key_type(key_type)
        self._extra_head, self._extra_tail, self._overridden = \
            _split_extra_config(extra_config)
        self._parent_dir = workdir
        self._given_user_key = os.path.abspath(user_key) if user_key else None
        self.start_timeout = start_timeout
        self._runtime: _Runtime | None = None
        self._finalizer: weakref.finalize | None = None
        self._host_keys: list[str] = []
        self._workdir = ''
        self._started_at = 0.0
        self._prepare()

    # -- files -------------------------------------------------------------

    def _prepare(self) -> None:
        """Create the work directory, keys, authorized_keys and HOME."""
        workdir = tempfile.mkdtemp(prefix='pssh-sshd-', dir=self._parent_dir)
        runtime = _Runtime(workdir, remove_workdir=True)
        self._workdir = workdir
        self._runtime = runtime
        self._finalizer = weakref.finalize(self, runtime.cleanup)
        try:
            self._make_files()
        except BaseException:
            self._finalizer()
            self._runtime = self._finalizer = None
            raise

    def _make_files(self) -> None:
        workdir = self._workdir
        os.makedirs(self.home)
        self._host_keys = [os.path.join(workdir, 'ssh_host_ed25519_key')]
        if self._key_type != 'ed25519':
            self._host_keys.append(
                os.path.join(workdir, f'ssh_host_{self._key_type}_key'))
        for path in self._host_keys:
            key_type = os.path.basename(path).split('_')[2]
            _keygen(self._ssh_keygen, key_type, path, 'pssh-test-host')
        if self._given_user_key is None:
            _keygen(self._ssh_keygen, self._key_type, self.user_key,
                    'pssh-test-user')
        elif not os.path.isfile(self.user_pub_key):
            res = subprocess.run([self._ssh_keygen, '-y', '-f', self.user_key],
                                 stdin=subprocess.DEVNULL, capture_output=True,
                                 check=False)
            if res.returncode != 0:
                error = res.stderr.decode(errors='replace').strip()
                raise OpenSSHServerError(
                    f"cannot read public key of {self.user_key}: {error}")
            with open(self.user_pub_key, 'wb') as pub:
                pub.write(res.stdout)
        with open(self.authorized_keys_path, 'w'):
            pass
        self._share_with_user()
        self.add_authorized_key(self.user_pub_key)

    def _share_with_user(self) -> None:
        """As root serving another user, let that user read what sshd reads
        as that user (authorized_keys) and own the HOME directory."""
        if os.geteuid() != 0:
            return
        try:
            import pwd
            entry = pwd.getpwnam(self._user)
        except (ImportError, KeyError):
            return
        if entry.pw_uid == 0:
            return
        os.chmod(self.workdir, 0o755)
        os.chmod(self.authorized_keys_path, 0o644)
        os.chown(self.home, entry.pw_uid, entry.pw_gid)

    def _write_config(self) -> None:
        defaults: list[tuple[str, str]] = [('Port', str(self._port)),
                                           ('ListenAddress', self._host)]
        defaults += [('HostKey', path) for path in self._host_keys]
        defaults += [
            ('PidFile', os.path.join(self.workdir, 'sshd.pid')),
            ('StrictModes', 'no'),
            ('UsePAM', 'no'),
            ('PermitRootLogin', 'yes'),
            ('PubkeyAuthentication', 'yes'),
            ('PasswordAuthentication', 'yes'),
            ('KbdInteractiveAuthentication', 'yes'),
            ('AuthorizedKeysFile', self.authorized_keys_path),
            ('Subsystem', 'sftp internal-sftp'),
            ('MaxStartups', '10000'),
            ('MaxSessions', '1000'),
            ('MaxAuthTries', '50'),
            ('UseDNS', 'no'),
            ('PrintMotd', 'no'),
            ('PrintLastLog', 'no'),
            ('AllowTcpForwarding', 'yes'),
            ('AllowAgentForwarding', 'yes'),
            ('PermitUserEnvironment', 'yes'),
            ('LoginGraceTime', '60'),
            ('ClientAliveInterval', '0'),
        ]
        if _sshd_version(self._sshd) >= (9, 8):
            # Newer sshd blocks addresses that fail or drop connections often,
            # which a test suite does on purpose.
            defaults.append(('PerSourcePenalties', 'no'))
        lines = ['# generated by pssh.testing.OpenSSHServer']
        lines += self._extra_head
        lines += [f'{key} {value}' for key, value in defaults
                  if key.lower() not in self._overridden]
        lines += self._extra_tail
        with open(self.config_path, 'w') as config:
            config.write('\n'.join(lines) + '\n')

    # -- attributes ----------------------------------------------------------

    @property
    def host(self) -> str:
        """The address sshd listens on."""
        return self._host

    @property
    def port(self) -> int | None:
        """The port sshd listens on (``None`` before the first start when it
        is to be picked automatically)."""
        return self._port

    @property
    def user(self) -> str:
        """The user name to log in as."""
        return self._user

    @property
    def key_type(self) -> str:
        """Type of the generated user key (and extra host key)."""
        return self._key_type

    @property
    def workdir(self) -> str:
        """The server's private directory, removed on :meth:`stop` (this
        and the other paths keep their values after that)."""
        return self._workdir

    @property
    def home(self) -> str:
        """The clean directory given to remote sessions as ``$HOME``."""
        return os.path.join(self.workdir, 'home')

    @property
    def user_key(self) -> str:
        """Path of the private key (no passphrase) that may log in."""
        if self._given_user_key is not None:
            return self._given_user_key
        return os.path.join(self.workdir, f'id_{self._key_type}')

    @property
    def user_key_bytes(self) -> bytes:
        """Contents of :attr:`user_key`."""
        with open(self.user_key, 'rb') as key:
            return key.read()

    @property
    def user_pub_key(self) -> str:
        """Path of the public key of :attr:`user_key`."""
        if self._given_user_key is not None:
            given_pub = self._given_user_key + '.pub'
            if os.path.isfile(given_pub):
                return given_pub
            return os.path.join(self.workdir, 'id_user.pub')
        return self.user_key + '.pub'

    @property
    def host_key_pub(self) -> str:
        """Path of the server's ed25519 public host key."""
        return self._host_keys[0] + '.pub'

    @property
    def host_keys(self) -> list[str]:
        """Paths of all private host keys given to sshd."""
        return list(self._host_keys)

    @property
    def authorized_keys_path(self) -> str:
        """Path of the ``authorized_keys`` file sshd reads."""
        return os.path.join(self.workdir, 'authorized_keys')

    @property
    def config_path(self) -> str:
        """Path of the generated sshd config."""
        return os.path.join(self.workdir, 'sshd_config')

    @property
    def log_path(self) -> str:
        """Path of sshd's log (its stderr, rewritten at each start)."""
        return os.path.join(self.workdir, 'sshd.log')

    @property
    def running(self) -> bool:
        """Whether the sshd process is alive."""
        proc = self._runtime.proc if self._runtime is not None else None
        return proc is not None and proc.poll() is None

    @property
    def pid(self) -> int | None:
        """Process id of the listening sshd, or ``None`` when not running."""
        if not self.running:
            return None
        assert self._runtime is not None and self._runtime.proc is not None
        return self._runtime.proc.pid

    def read_log(self) -> str:
        """The whole sshd log as text ('' if there is none)."""
        try:
            with open(self.log_path, 'rb') as log:
                return log.read().decode(errors='replace')
        except OSError:
            return ''

    def _log_tail(self) -> str:
        return self.read_log()[-_LOG_TAIL_BYTES:]

    def known_hosts_line(self) -> str:
        """An OpenSSH ``known_hosts`` line (no newline) for this server's
        ed25519 host key, with the host written as ``[host]:port``."""
        with open(self.host_key_pub) as pub:
            key_type, key_data = pub.read().split()[:2]
        if self._port == 22:
            name = self._host
        else:
            name = f'[{self._host}]:{self._port}'
        return f'{name} {key_type} {key_data}'

    def add_authorized_key(self, key: str | os.PathLike[str],
                           home: str | None = None) -> None:
        """Allow another public key to log in.

        :param key: public key text (``'ssh-ed25519 AAAA... comment'``) or the
            path of a ``.pub`` file.
        :param home: ``$HOME`` for sessions logged in with this key (the
            default is :attr:`home`).
        """
        text = os.fspath(key)
        if '\n' not in text and os.path.isfile(text):
            with open(text) as pub:
                text = pub.read()
        line = _authorized_key_line(text, home if home is not None else self.home)
        with open(self.authorized_keys_path, 'a') as keys:
            keys.write(line)

    def ssh_options(self) -> list[str]:
        """OpenSSH client options that log in to this server with
        :attr:`user_key`, ignoring the user's ssh config and known hosts
        (as used by :meth:`ssh_command` and :meth:`sftp_command`)."""
        return ['-F', '/dev/null', '-i', self.user_key,
                '-o', 'IdentitiesOnly=yes',
                '-o', 'StrictHostKeyChecking=no',
                '-o', 'UserKnownHostsFile=/dev/null',
                '-o', 'BatchMode=yes',
                '-o', 'LogLevel=ERROR']

    def ssh_command(self, command: None | str | Sequence[str] = None, *,
                    extra_args: Sequence[str] = (), ssh_path: str = SSH_PATH,
                    ) -> list[str]:
        """argv that runs ``command`` here with the OpenSSH client.

        :param command: remote command (a string, or words that ssh joins
            with spaces); ``None`` for none.
        :param extra_args: more ssh arguments, put before the defaults so that
            their ``-o`` options win.
        :param ssh_path: path of ``ssh``.
        """
        argv = [ssh_path] + list(extra_args) + self.ssh_options()
        argv += ['-p', str(self._port), f'{self._user}@{self._host}']
        if command is not None:
            argv += [command] if isinstance(command, str) else list(command)
        return argv

    def sftp_command(self, batch_file: str = '-', *, extra_args: Sequence[str] = (),
                     sftp_path: str = SFTP_PATH) -> list[str]:
        """argv that runs the OpenSSH ``sftp`` client in batch mode here.

        :param batch_file: file of sftp commands (``'-'``: standard input).
        :param extra_args: more sftp arguments, put before the defaults.
        :param sftp_path: path of ``sftp``.
        """
        host = f'[{self._host}]' if ':' in self._host else self._host
        return ([sftp_path, '-b', batch_file] + list(extra_args) + self.ssh_options()
                + ['-P', str(self._port), f'{self._user}@{host}'])

    # -- process -------------------------------------------------------------

    def start(self) -> Self:
        """Start sshd and wait until it sends its banner; returns ``self``.

        Does nothing if already running. After :meth:`stop` the server can be
        started again: with ``stop(cleanup=False)`` it keeps its keys and
        port, otherwise new files (and keys) are made.

        :raises SSHDStartError: sshd exited or was not ready within
            ``start_timeout`` seconds; the message has the tail of its log.
        """
        if self.running:
            return self
        self._launch()
        return self._finish_start()

    def _launch(self) -> None:
        if self._runtime is None or not os.path.isdir(self.workdir):
            self._prepare()
        assert self._runtime is not None
        self._runtime.stop_process()
        if self._port is None:
            self._port = _pick_port(self._host)
        if os.geteuid() == 0 and not os.path.isdir(_PRIVSEP_DIR):
            try:
                os.makedirs(_PRIVSEP_DIR, mode=0o755, exist_ok=True)
                os.chmod(_PRIVSEP_DIR, 0o755)
            except OSError:
                pass  # sshd will report it in its log
        self._write_config()
        with open(self.log_path, 'wb') as log:
            self._runtime.proc = subprocess.Popen(
                self._command_prefix + [self._sshd] + self._mode_args()
                + ['-D', '-e', '-f', self.config_path],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=log,
                close_fds=True, preexec_fn=_die_with_parent)
        self._started_at = time.monotonic()

    def _mode_args(self) -> list[str]:
        if not self._reexec and (0, 0) < _sshd_version(self._sshd) < (9, 8):
            return ['-r']
        return []

    def _finish_start(self) -> Self:
        for attempt in range(_PORT_ATTEMPTS):
            if attempt:
                self._port = _pick_port(self._host)
                self._launch()
            try:
                self._wait_ready()
                self._auto_port = False
                return self
            except _AddressInUse:
                if not self._auto_port:
                    log = self._log_tail()
                    raise SSHDStartError(f"sshd could not listen on {self._host} port "
                                         f"{self._port}, log:\n{log}", log) from None
        log = self._log_tail()
        raise SSHDStartError(f"sshd found no free port on {self._host} after "
                             f"{_PORT_ATTEMPTS} tries, log:\n{log}", log)

    def _wait_ready(self) -> None:
        assert self._runtime is not None and self._runtime.proc is not None
        proc = self._runtime.proc
        assert self._port is not None
        port = self._port
        deadline = self._started_at + self.start_timeout
        delay = 0.005
        # Reading the banner may block on something else listening on the
        # port while sshd fails to bind it: begin with a short read timeout so
        # that sshd's exit is noticed quickly, and lengthen it for slow hosts.
        banner_timeout = 0.25
        while True:
            if proc.poll() is not None:
                self._runtime.stop_process()
                log = self._log_tail()
                if 'Address already in use' in log or 'Cannot bind any address' in log:
                    raise _AddressInUse()
                raise SSHDStartError(f"sshd exited with status {proc.returncode} while "
                                     f"starting (config {self.config_path}), log:\n{log}",
                                     log)
            remaining = deadline - time.monotonic()
            read_timeout = max(min(remaining, banner_timeout), 0.05)
            if _read_banner(self._host, port, read_timeout) and proc.poll() is None:
                return
            banner_timeout = min(banner_timeout * 2, 5.0)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self._runtime.stop_process()
                log = self._log_tail()
                raise SSHDStartError(f"sshd did not accept connections on {self._host} port "
                                     f"{port} within {self.start_timeout:.1f} s, log:\n{log}",
                                     log)
            try:
                proc.wait(timeout=min(delay, remaining))
            except subprocess.TimeoutExpired:
                pass
            delay = min(delay * 2, 0.2)

    def stop(self, timeout: float = 5.0, cleanup: bool = True) -> None:
        """Stop sshd and the connection handlers it forked.

        Sends SIGTERM, then SIGKILL after ``timeout`` seconds, and reaps the
        process. Safe to call more than once.

        :param timeout: seconds to wait before killing.
        :param cleanup: also remove the work directory (keys, config, log,
            HOME). With ``False`` the files stay until a later ``stop()`` or
            garbage collection, and :meth:`start` reuses them and the port.
        """
        runtime = self._runtime
        if runtime is None:
            return
        runtime.stop_process(timeout)
        if cleanup:
            assert self._finalizer is not None
            self._finalizer()
            self._runtime = None
            self._finalizer = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = f'running pid {self.pid}' if self.running else 'stopped'
        return (f'<{type(self).__name__} {self._user}@{self._host} '
                f'port {self._port} {state}>')


class OpenSSHServerGroup(list):
    """A list of :class:`OpenSSHServer` sharing one user key pair.

    Made by :func:`start_servers`. A client can log in to all of them with
    :attr:`user_key`. :meth:`stop` (or leaving the ``with`` block) stops every
    server and removes the shared key.
    """

    def __init__(self, servers: Iterable[OpenSSHServer] = (),
                 keydir: str | None = None, user_key: str | None = None) -> None:
        super().__init__(servers)
        self._keydir = keydir
        self._user_key = user_key
        self._finalizer = (weakref.finalize(self, shutil.rmtree, keydir, True)
                           if keydir else None)

    @property
    def user_key(self) -> str:
        """Path of the private key that logs in to every server."""
        assert self._user_key is not None
        return self._user_key

    @property
    def user_key_bytes(self) -> bytes:
        """Contents of :attr:`user_key`."""
        with open(self.user_key, 'rb') as key:
            return key.read()

    @property
    def user_pub_key(self) -> str:
        """Path of the public key of :attr:`user_key`."""
        return self.user_key + '.pub'

    @property
    def user(self) -> str | None:
        """User name of the first server (all share it unless told otherwise)."""
        return self[0].user if self else None

    @property
    def hosts(self) -> list[str]:
        """Listen address of each server, in order."""
        return [server.host for server in self]

    @property
    def ports(self) -> list[int | None]:
        """Port of each server, in order."""
        return [server.port for server in self]

    def stop(self, timeout: float = 5.0) -> None:
        """Stop every server, remove their files and the shared key."""
        for server in self:
            server.stop(timeout)
        if self._finalizer is not None:
            self._finalizer()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def start_servers(n: int, *, addresses: Sequence[str] | None = None,
                  key_type: str = 'ed25519', workdir: str | None = None,
                  ssh_keygen_path: str = SSH_KEYGEN_PATH,
                  **kwargs: Any) -> OpenSSHServerGroup:
    """Start ``n`` servers that all authorise one user key pair.

    The servers are launched together and then waited for, so starting many
    is about as quick as starting one.

    :param n: number of servers.
    :param addresses: listen address of each server (length ``n``); the
        default puts all of them on ``kwargs.get('address', '127.0.0.1')``
        with different ports.
    :param key_type: type of the shared user key (see :class:`OpenSSHServer`).
    :param workdir: parent directory for the key and the servers' files.
    :param ssh_keygen_path: path of ``ssh-keygen``.
    :param kwargs: other :class:`OpenSSHServer` arguments, given to each.
    :returns: the started servers; stop them with
        :meth:`OpenSSHServerGroup.stop`.
    """
    if n < 0:
        raise ValueError("n must be >= 0")
    if addresses is None:
        addresses = [kwargs.pop('address', '127.0.0.1')] * n
    elif len(addresses) != n:
        raise ValueError("addresses must have n items")
    if kwargs.get('port') is not None and n > 1:
        raise ValueError("a fixed port cannot be shared by several servers")
    if 'user_key' in kwargs:
        raise TypeError("start_servers makes the shared user key itself")
    keygen = _require_executable(ssh_keygen_path, 'ssh-keygen')
    _check_key_type(key_type)
    keydir = tempfile.mkdtemp(prefix='pssh-sshd-keys-', dir=workdir)
    key_path = os.path.join(keydir, f'id_{key_type}')
    group = OpenSSHServerGroup(keydir=keydir, user_key=key_path)
    try:
        _keygen(keygen, key_type, key_path, 'pssh-test-user')
        for address in addresses:
            group.append(OpenSSHServer(address, key_type=key_type, workdir=workdir,
                                       user_key=key_path,
                                       ssh_keygen_path=ssh_keygen_path, **kwargs))
        for server in group:
            server._launch()
        for server in group:
            server._finish_start()
    except BaseException:
        group.stop()
        raise
    return group
