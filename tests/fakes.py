"""A fake SSH library for unit tests of the shared client code: ``FakeDriver``
implements the backend contract (``pssh.clients.base._driver.Driver``) without
any network or SSH, following a script the test sets, and records every call.

It is for logic (login order, retries, error mapping, keepalive, waits); every
behaviour we claim end to end is tested against real OpenSSH servers.
"""
import socket
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple

from pssh.clients.base._driver import AGAIN, ExitStatus, SessionPrefs
from pssh.clients.base._connection import Connection
from pssh.clients.base.parallel import BaseParallelSSHClient
from pssh.clients.base.single import BaseSSHClient
from pssh.exceptions import AuthenticationError, SessionError
from pssh.hostkeys import HostKeyChecker

__all__ = ['FakeDriver', 'FakeLibraryError', 'FakeChannel', 'close_pipes', 'fake_clients',
           'fake_connection', 'pipe', 'release', 'FAKE_LOGIN']


class FakeLibraryError(Exception):
    """What the fake library raises; ``translate`` maps it by its ``kind``."""

    def __init__(self, kind: str, detail: str = '') -> None:
        super().__init__(kind, detail)
        self.kind = kind


_EXITED = ExitStatus(0, None)


class FakeChannel:
    """A library channel: output to hand out, then an exit status."""

    def __init__(self, stdout: bytes = b'', stderr: bytes = b'',
                 status: ExitStatus = _EXITED) -> None:
        self.out = {False: bytearray(stdout), True: bytearray(stderr)}
        self.status = status
        self.written = bytearray()
        self.eof_sent = False
        self.closed = False
        self.requests: List[Tuple[str, Tuple[Any, ...]]] = []


class FakeDriver:
    """The backend contract, scripted.

    :param agains: how many times each operation answers AGAIN before it
      finishes (by method name; default 0).
    :param accept: which logins succeed: ``'key'`` (a set of key bytes),
      ``'agent'`` (the index of the agent key that works, or None),
      ``'password'``, ``'gssapi'`` (bool).
    :param agent_keys: how many keys the fake agent holds.
    """

    max_packet = 40000
    library_again = -37
    has_gssapi = True

    def __init__(self, prefs: Optional[SessionPrefs] = None, *, host_key: bytes = b'fake-key',
                 agains: Optional[Dict[str, int]] = None, accept: Optional[Dict[str, Any]] = None,
                 agent_keys: int = 0, fail: Optional[Dict[str, BaseException]] = None) -> None:
        self.prefs = prefs or SessionPrefs(host='fake', port=22, hostname='fake', user='me')
        self.session: Any = None
        self.agent_forwarding: Any = None
        self.host_key_blob = host_key
        self.agains = dict(agains or {})
        self.accept = dict(accept or {})
        self.agent_keys = agent_keys
        self.fail = dict(fail or {})
        #: (method, args) of every call, AGAIN answers included.
        self.calls: List[Tuple[str, Tuple[Any, ...]]] = []
        self.keepalives = 0
        #: What block_directions reports: 2 (WRITE, ready at once) or 1 (READ, never).
        self.directions = 2
        #: The relay handed to ``start`` (``io.notify()`` wakes what waits on it).
        self.io: Any = None

    def _step(self, name: str, *args: Any) -> bool:
        """Record a call; True if it is to answer AGAIN this time."""
        self.calls.append((name, args))
        if name in self.fail:
            raise self.fail[name]
        left = self.agains.get(name, 0)
        if left:
            self.agains[name] = left - 1
            return True
        return False

    # The session.

    def start(self, io: Any) -> Any:
        self.calls.append(('start', ()))
        self.io = io
        self.session = object()
        return self.session

    def handshake(self) -> object:
        return AGAIN if self._step('handshake') else 0

    def host_key(self) -> bytes:
        self.calls.append(('host_key', ()))
        return self.host_key_blob

    def block_directions(self) -> int:
        # WRITE: the relay's socket is writable at once, so an AGAIN is
        # retried straight away; READ (1) waits for bytes that never come.
        return self.directions

    def keepalive_config(self, seconds: int) -> None:
        self.calls.append(('keepalive_config', (seconds,)))

    def keepalive_send(self) -> object:
        self.keepalives += 1
        return 0

    def disconnect(self) -> object:
        return AGAIN if self._step('disconnect') else 0

    def release(self) -> None:
        self.calls.append(('release', ()))
        self.session = None

    def translate(self, exc: BaseException) -> Optional[BaseException]:
        if not isinstance(exc, FakeLibraryError):
            return None
        if exc.kind == 'auth':
            return AuthenticationError('refused (%s)', exc.args[1])
        if exc.kind == 'channel':
            return SessionError('Channel error on %s:%s: %s', self.prefs.host, self.prefs.port,
                                exc.args[1])
        return None

    # Logging in.

    def auth_key(self, key: bytes, passphrase: str, cert_file: Optional[str] = None) -> object:
        if self._step('auth_key', key, passphrase, cert_file):
            return AGAIN
        if key in self.accept.get('key', ()):
            return 0
        raise FakeLibraryError('auth', 'key')

    def agent_attempts(self) -> Iterator[Callable[[], object]]:
        for index in range(self.agent_keys):
            yield lambda index=index: self._agent_try(index)

    def _agent_try(self, index: int) -> object:
        if self._step('agent', index):
            return AGAIN
        if self.accept.get('agent') == index:
            return 0
        raise FakeLibraryError('auth', 'agent key %s' % index)

    def auth_password(self, password: str) -> object:
        if self._step('password', password):
            return AGAIN
        if self.accept.get('password') == password:
            return 0
        raise FakeLibraryError('auth', 'password')

    def auth_keyboard_interactive(self, password: str) -> object:
        if self._step('keyboard-interactive', password):
            return AGAIN
        if self.accept.get('password') == password:
            return 0
        raise FakeLibraryError('auth', 'keyboard-interactive')

    def auth_gssapi(self) -> object:
        if self._step('gssapi'):
            return AGAIN
        if self.accept.get('gssapi'):
            return 0
        raise FakeLibraryError('auth', 'gssapi')

    # Channels.

    def open_session(self) -> Any:
        return AGAIN if self._step('open_session') else self.accept.get('channel', FakeChannel())

    def open_direct_tcpip(self, host: str, port: int) -> Any:
        return AGAIN if self._step('open_direct_tcpip', host, port) else FakeChannel()

    def _request(self, kind: str, raw: FakeChannel, *args: Any) -> object:
        if self._step('request_' + kind, *args):
            return AGAIN
        raw.requests.append((kind, args))
        return 0

    def request_pty(self, raw: Any) -> object:
        return self._request('pty', raw)

    def request_exec(self, raw: Any, command: Any) -> object:
        return self._request('exec', raw, command)

    def request_shell(self, raw: Any) -> object:
        return self._request('shell', raw)

    def request_subsystem(self, raw: Any, name: str) -> object:
        return self._request('subsystem', raw, name)

    def request_agent_forwarding(self, raw: Any) -> object:
        return self._request('agent', raw)

    def read(self, raw: Any, stderr: bool, size: int) -> Any:
        if self._step('read', stderr, size):
            return AGAIN
        buffer = raw.out[stderr]
        data = bytes(buffer[:size])
        del buffer[:size]
        return data

    def write(self, raw: Any, data: bytes) -> Any:
        if self._step('write', len(data)):
            return AGAIN
        raw.written += data
        return len(data)

    def send_eof(self, raw: Any) -> object:
        if self._step('send_eof'):
            return AGAIN
        raw.eof_sent = True
        return 0

    def eof(self, raw: Any) -> bool:
        return not raw.out[False] and not raw.out[True]

    def close(self, raw: Any) -> object:
        if self._step('close'):
            return AGAIN
        raw.closed = True
        return 0

    def wait_closed(self, raw: Any) -> object:
        return AGAIN if self._step('wait_closed') else raw.status


#: The far ends of the pipes handed out (kept open; closed by close_pipes).
_PEERS: List[socket.socket] = []


def pipe() -> socket.socket:
    """A transport for a Connection: one end of a socket pair whose other end
    nobody writes to (the fake library never reads the relay)."""
    from gevent import socket as gsocket
    ours, theirs = gsocket.socketpair()
    _PEERS.append(theirs)
    return ours


def close_pipes() -> None:
    while _PEERS:
        _PEERS.pop().close()


def fake_connection(driver: FakeDriver, timeout: Optional[float] = 5,
                    policy: str = 'no', **kwargs: Any) -> Connection:
    """A Connection on ``driver`` (no packet guard: the fake speaks no SSH)."""
    checker = HostKeyChecker('fake', 22, policy, [])
    return Connection('fake', 22, timeout, driver, checker, guarded=False, **kwargs)


#: Client arguments that log in to a fake_clients host, with no key, agent,
#: identity file, host-key check or keepalive.
FAKE_LOGIN: Dict[str, Any] = dict(
    user='me', password='secret', allow_agent=False, identity_auth=False, num_retries=1,
    timeout=5, keepalive_seconds=0, host_key_policy='no')


def fake_clients(hanging: Tuple[str, ...] = ()) -> Tuple[type, type, Dict[str, FakeDriver]]:
    """``(SSHClient, ParallelSSHClient, drivers)``: whole clients on FakeDriver
    over socket pairs (give them FAKE_LOGIN). ``drivers`` gets each host's
    driver by host name as it is made. A command on a host in ``hanging`` runs
    until :func:`release` lets it end; elsewhere commands end at once, with
    exit code 0 and no output."""
    drivers: Dict[str, FakeDriver] = {}

    class FakeSSHClient(BaseSSHClient):
        def _driver_for(self, prefs: SessionPrefs) -> FakeDriver:
            driver = FakeDriver(prefs, accept={'password': 'secret'})
            if prefs.host in hanging:
                # Output never comes: the reader waits on a socket nobody writes to.
                driver.agains['read'] = 10 ** 9
                driver.directions = 1
            drivers[prefs.host] = driver
            return driver

        def _open_transport(self) -> socket.socket:
            return pipe()

    class FakeParallelSSHClient(BaseParallelSSHClient):
        _client_class = FakeSSHClient

    return FakeSSHClient, FakeParallelSSHClient, drivers


def release(driver: FakeDriver) -> None:
    """Let the hanging command of ``driver``'s host end (see fake_clients)."""
    driver.agains['read'] = 0
    driver.directions = 2
    driver.io.notify()
