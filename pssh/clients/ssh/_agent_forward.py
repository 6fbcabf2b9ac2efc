"""Serving forwarded agent connections on libssh sessions.

With agent forwarding on, the server opens an ``auth-agent@openssh.com``
channel to us each time a program on the remote host talks to
``SSH_AUTH_SOCK``. libssh hands such a request to the session's
``channel_open_request_auth_agent_function`` callback (in the
``struct ssh_callbacks_struct`` given to ``ssh_set_callbacks``), which answers
with a new channel or NULL; without a callback the request waits in libssh's
message queue, unanswered, and the remote program hangs. ssh-python does not
wrap that callback, nor channels it did not make, so this module talks to the
libssh that ssh-python loaded through ctypes:

- one callbacks structure for the whole process, never freed, holding only the
  agent-channel callback; libssh calls it with the ``ssh_session``, which we
  look up in a registry to find the client it belongs to;
- the ``ssh_session`` of an ssh-python ``Session`` is read from the object's
  first C field, after checking the layout ssh-python's ``session.pxd``
  declares (``ssh_session _session``, ``socket_t _sock``, ``object sock``):
  the third field must be the ``sock`` the Python side reports, and libssh must
  report, for that pointer, the port set through ssh-python.

The callback runs inside whatever libssh call read the channel-open packet,
made by some greenlet: it makes the channel (``ssh_channel_new``), which libssh
then accepts, and spawns a greenlet to serve it; it never blocks or switches.
That greenlet serves the channel as
:class:`~pssh.clients.base._agent_relay.AgentRelay` says, through the libssh
calls below, then closes and frees it. The greenlet holds the ``Session``
while it runs, so the channel is never used after libssh freed it with its
session; once the connection is gone it stops without calling libssh again
(``ssh_free`` frees a channel left open).
"""
import ctypes
import functools
import glob
import itertools
import os
import weakref
from typing import Any, NamedTuple, Optional, Tuple

import ssh
from ssh.session import Session

from ..base._agent_relay import AgentRelay
from ..base._io import READ, WRITE, SessionIO

__all__ = ['AgentForwarding', 'unavailable_reason']

_PTR = ctypes.sizeof(ctypes.c_void_p)
# PyObject_HEAD is a reference count and a type pointer; the cdef fields follow.
_FIRST_FIELD = ctypes.sizeof(ctypes.c_ssize_t) + _PTR
_SSH_OK = 0
_SSH_ERROR = -1
_SSH_AGAIN = -2
_SSH_EOF = -127
_WRITE_PENDING = 8  # SSH_WRITE_PENDING, from ssh_get_poll_flags()
_WRITE_PACKET = 16 * 1024
# The oldest libssh whose callbacks structure we know to be laid out as below.
_MIN_LIBSSH = (0, 9, 0)

# ssh_channel (*)(ssh_session session, void *userdata)
_OPEN_AGENT_TYPE = ctypes.CFUNCTYPE(ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p)


class _Callbacks(ctypes.Structure):
    """``struct ssh_callbacks_struct`` of libssh, up to the agent-channel
    callback. ``size`` tells libssh which members exist: the later ones
    (forwarded TCP/IP) count as unset."""

    _fields_ = [
        ('size', ctypes.c_size_t),
        ('userdata', ctypes.c_void_p),
        ('auth_function', ctypes.c_void_p),
        ('log_function', ctypes.c_void_p),
        ('connect_status_function', ctypes.c_void_p),
        ('global_request_function', ctypes.c_void_p),
        ('channel_open_request_x11_function', ctypes.c_void_p),
        ('channel_open_request_auth_agent_function', _OPEN_AGENT_TYPE),
    ]


#: ssh_session pointer -> the AgentForwarding serving that session.
_registry: 'weakref.WeakValueDictionary[int, AgentForwarding]' = weakref.WeakValueDictionary()


def _field(obj: Any, index: int) -> int:
    return ctypes.c_void_p.from_address(id(obj) + _FIRST_FIELD + index * _PTR).value or 0


class _Lib:
    """The libssh functions we call, with their C signatures."""

    def __init__(self, lib: ctypes.CDLL) -> None:
        vp, cp, u32, i = ctypes.c_void_p, ctypes.c_char_p, ctypes.c_uint32, ctypes.c_int
        self.version = self._fn(lib.ssh_version, cp, [i])
        self.set_callbacks = self._fn(lib.ssh_set_callbacks, i, [vp, vp])
        self.get_port = self._fn(lib.ssh_options_get_port, i, [vp, ctypes.POINTER(ctypes.c_uint)])
        self.channel_new = self._fn(lib.ssh_channel_new, vp, [vp])
        self.read = self._fn(lib.ssh_channel_read_nonblocking, i, [vp, cp, u32, i])
        self.write = self._fn(lib.ssh_channel_write, i, [vp, cp, u32])
        self.window = self._fn(lib.ssh_channel_window_size, u32, [vp])
        self.is_open = self._fn(lib.ssh_channel_is_open, i, [vp])
        self.send_eof = self._fn(lib.ssh_channel_send_eof, i, [vp])
        self.close = self._fn(lib.ssh_channel_close, i, [vp])
        self.free = self._fn(lib.ssh_channel_free, None, [vp])

    @staticmethod
    def _fn(func: Any, restype: Any, argtypes: Any) -> Any:
        func.restype = restype
        func.argtypes = argtypes
        return func


def _load() -> Tuple[Optional[_Lib], str]:
    base = os.path.dirname(os.path.dirname(os.path.abspath(ssh.__file__)))
    paths = sorted(glob.glob(os.path.join(base, 'ssh_python.libs', 'libssh-*.so*')))
    if len(paths) != 1:
        return None, 'the libssh bundled with ssh-python was not found'
    try:
        lib = _Lib(ctypes.CDLL(paths[0]))
    except (OSError, AttributeError) as exc:
        return None, 'the bundled libssh lacks what it needs: %s' % (exc,)
    # ssh_version(v) answers NULL when the library is older than v.
    wanted = (_MIN_LIBSSH[0] << 16) | (_MIN_LIBSSH[1] << 8) | _MIN_LIBSSH[2]
    if not lib.version(wanted):
        return None, 'the bundled libssh %s is older than %s' % (
            (lib.version(0) or b'?').decode('ascii', 'replace'),
            '.'.join(map(str, _MIN_LIBSSH)))
    return lib, ''


def _session_pointer(lib: _Lib, session: Any, port: int) -> int:
    """The ``ssh_session`` of an ssh-python Session whose port was set to
    ``port``, or 0 if its layout is not the one we know."""
    if type(session) is not Session or _field(session, 2) != id(session.sock):
        return 0
    pointer = _field(session, 0)
    if not pointer:
        return 0
    found = ctypes.c_uint()
    if lib.get_port(pointer, ctypes.byref(found)) != _SSH_OK or found.value != port:
        return 0
    return pointer


@functools.lru_cache(maxsize=None)
def _loaded() -> Tuple[Optional[_Lib], str]:
    """The library and '' when agent forwarding can work here, else (None, why).
    Found on first use, not at import."""
    lib, why = _load()
    if lib is None:
        return None, why
    probe = Session()
    probe.options_set_port(40022)
    if not _session_pointer(lib, probe, 40022):
        return None, 'ssh-python %s lays out its Session differently from what we know' % (
            getattr(ssh, '__version__', '?'),)
    return lib, ''


def unavailable_reason() -> str:
    """Why agent forwarding cannot work with this ssh-python ('' when it can)."""
    return _UNAVAILABLE if _UNAVAILABLE is not None else _loaded()[1]


#: Set (by tests) to a reason to act as if the checks had failed with it.
_UNAVAILABLE: Optional[str] = None


def _on_agent_channel(session_ptr: Optional[int], _userdata: Optional[int]) -> Optional[int]:
    # Runs inside a libssh call: make the channel and record it, never block
    # or switch. NULL makes libssh refuse the channel. An exception cannot
    # cross into C.
    try:
        forwarding = _registry.get(session_ptr or 0)
        return forwarding.accept() if forwarding is not None else None
    except Exception:  # pragma: no cover - defensive
        return None


_ON_AGENT_CHANNEL = _OPEN_AGENT_TYPE(_on_agent_channel)
#: Shared by every session and never freed: libssh keeps a pointer to it.
_CALLBACKS = _Callbacks(size=ctypes.sizeof(_Callbacks),
                        channel_open_request_auth_agent_function=_ON_AGENT_CHANNEL)


def libssh_directions(session: Session) -> int:
    """What libssh waits for: its output leaving, or the server (the driver's
    ``block_directions`` too).

    libssh's poll flags tell when it may have output waiting to be sent.
    Reads do not push it out, so flush here; only if bytes are still buffered
    afterwards (the socket is full) is there anything to wait for in that
    direction. The flag alone is not enough: libssh leaves it set after it has
    written its buffer out directly, and waiting for a writable socket then
    returns at once, again and again (a busy loop while the server's window is
    full).
    """
    if session.get_poll_flags() & _WRITE_PENDING:
        if session.blocking_flush(0) == _SSH_AGAIN:
            return READ | WRITE
    return READ


class _AgentChannel(NamedTuple):
    """A channel being served, with the Session it belongs to: held until the
    channel is freed, since libssh frees the channels with their session."""

    session: Session
    pointer: int


class AgentForwarding(AgentRelay):
    """Serves the forwarded-agent channels the server opens on one session.

    :param client: the driver owning the session (held weakly: its current
      ``session`` is the one served; its ``port`` is the server's).
    :param session: the ssh-python Session, with its socket and port set.
    :param io: the session's relay.
    :param label: ``host:port`` for log messages.
    :param timeout: seconds allowed for closing a channel.
    :raises RuntimeError: agent forwarding cannot work here (see
      :func:`unavailable_reason`).
    """

    chunk = 32 * 1024
    again = _SSH_AGAIN
    library = 'libssh'

    def __init__(self, client: Any, session: Session, io: SessionIO, label: str,
                 timeout: Optional[float]) -> None:
        lib, why = _loaded()
        pointer = _session_pointer(lib, session, client.port) if lib is not None else 0
        if lib is None or not pointer or _UNAVAILABLE:
            raise RuntimeError(_UNAVAILABLE or why or 'unknown ssh-python Session layout')
        super().__init__(io, label, timeout)
        self._lib = lib
        self._client = weakref.ref(client)
        self._pointer = pointer
        # Serving greenlets are known by a number of their own (a freed
        # channel's address may be reused before its greenlet is unlinked).
        self._count = itertools.count()
        if lib.set_callbacks(pointer, ctypes.addressof(_CALLBACKS)) != _SSH_OK:
            raise RuntimeError('libssh refused our callbacks')
        _registry[pointer] = self

    def _closed(self) -> bool:
        # Also once the client started closing: libssh frees every channel
        # when its session is disconnected.
        io = self._io
        return io._closed or io.closed_reason is not None or io.closing is not None

    def accept(self) -> Optional[int]:
        """A new agent channel (from the callback): make it, serve it in a
        greenlet; None to refuse it."""
        client = self._client()
        session = getattr(client, 'session', None)
        if (self._closed() or type(session) is not Session
                or _field(session, 0) != self._pointer):
            return None  # the session is going away
        channel = self._lib.channel_new(self._pointer)
        if not channel:
            return None
        self._start(next(self._count), _AgentChannel(session, int(channel)))
        return int(channel)

    # The operations on a channel, for AgentRelay. Once the connection is
    # gone they stop without calling libssh again (ssh_free frees a channel
    # left open).

    def _check_open(self) -> None:
        if self._closed():
            raise OSError('the connection to %s is closed' % (self._label,))

    def _directions(self, channel: _AgentChannel) -> int:
        return libssh_directions(channel.session)

    def _servable(self, channel: _AgentChannel) -> bool:
        return not self._closed() and bool(self._lib.is_open(channel.pointer))

    def _read(self, channel: _AgentChannel, buf: Any) -> Optional[int]:
        self._check_open()
        lib = self._lib
        rc = int(lib.read(channel.pointer, buf, self.chunk, 0))
        if rc == _SSH_EOF or (rc == 0 and not lib.is_open(channel.pointer)):
            return 0  # the remote end sent EOF or closed
        if rc in (0, _SSH_AGAIN):
            return None
        if rc < 0:
            raise OSError('reading the agent channel failed: libssh error %s' % (rc,))
        return rc

    def _write(self, channel: _AgentChannel, data: memoryview) -> Optional[int]:
        lib, io, session = self._lib, self._io, channel.session
        self._check_open()
        if not lib.is_open(channel.pointer):
            return None
        window = lib.window(channel.pointer)
        if window == 0:
            # Let libssh take in a window adjustment.
            before = io.unread()
            session.blocking_flush(0)
            io.settle(before)
            window = lib.window(channel.pointer)
        if window == 0:
            io.wait_for(lambda: libssh_directions(session))
            return 0
        piece = bytes(data[:min(window, _WRITE_PACKET)])
        before = io.unread()
        written = int(lib.write(channel.pointer, piece, len(piece)))
        io.settle(before)
        if written < 0:
            raise OSError('writing the agent channel failed: libssh error %s' % (written,))
        if written == 0:
            io.wait_for(lambda: libssh_directions(session))
        return written

    def _send_eof(self, channel: _AgentChannel) -> None:
        if not self._closed() and self._lib.is_open(channel.pointer):
            self._until_done(channel, lambda: self._lib.send_eof(channel.pointer))

    def _end(self, channel: _AgentChannel, served: bool) -> None:
        self._until_done(channel, lambda: self._lib.close(channel.pointer))

    def _free(self, channel: _AgentChannel) -> None:
        if not self._closed():
            self._lib.free(channel.pointer)
