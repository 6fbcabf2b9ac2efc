"""Serving forwarded agent connections on libssh2 sessions.

With agent forwarding on, the server opens an ``auth-agent@openssh.com``
channel to us each time a program on the remote host talks to ``SSH_AUTH_SOCK``.
libssh2 1.11 accepts such a channel only when the application registered a
callback for it (``LIBSSH2_CALLBACK_AUTHAGENT``); without one it answers with a
malformed refusal and the server drops the connection. ssh2-python does not
wrap that callback, so we register it ourselves through ctypes, on the same
libssh2 that ssh2-python loaded, after checking that ssh2-python's ``Session``
is laid out as its ``.pxd`` says (``LIBSSH2_SESSION *_session``, ``int _sock``,
``object sock``, ``object _kbd_callback``) and that the session's ``abstract``
pointer is the Python object (ssh2-python passes itself there).

The callback runs inside whatever libssh2 call read the channel-open packet,
made by some greenlet: it only records the new channel and spawns a greenlet,
never calls libssh2 or switches. That greenlet serves the channel as
:class:`~pssh.clients.base._agent_relay.AgentRelay` says, through the libssh2
calls below, then frees the channel.
"""
import ctypes
import glob
import os
import weakref
from typing import Any, Optional

import ssh2
from ssh2.session import Session

from ... import logger
from ..base._agent_relay import AgentRelay
from ..base._io import SessionIO

__all__ = ['AgentForwarding', 'unavailable_reason']

_PTR = ctypes.sizeof(ctypes.c_void_p)
# PyObject_HEAD is a reference count and a type pointer; the cdef fields follow.
_FIRST_FIELD = ctypes.sizeof(ctypes.c_ssize_t) + _PTR
_CALLBACK_AUTHAGENT = 7
_EAGAIN = -37

_CALLBACK_TYPE = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_void_p,
                                  ctypes.POINTER(ctypes.c_void_p))

#: id() of a Python Session -> the AgentForwarding serving it.
_registry: 'weakref.WeakValueDictionary[int, AgentForwarding]' = weakref.WeakValueDictionary()


def _field(obj: Any, index: int) -> int:
    return ctypes.c_void_p.from_address(id(obj) + _FIRST_FIELD + index * _PTR).value or 0


class _Lib:
    """The libssh2 functions we call, with their C signatures."""

    def __init__(self, lib: ctypes.CDLL) -> None:
        vp, cp, sz = ctypes.c_void_p, ctypes.c_char_p, ctypes.c_size_t
        self.callback_set2 = self._fn(lib.libssh2_session_callback_set2, ctypes.c_void_p,
                                      [vp, ctypes.c_int, vp])
        self.abstract = self._fn(lib.libssh2_session_abstract, ctypes.POINTER(ctypes.c_void_p),
                                 [vp])
        self.read = self._fn(lib.libssh2_channel_read_ex, ctypes.c_ssize_t,
                             [vp, ctypes.c_int, cp, sz])
        self.write = self._fn(lib.libssh2_channel_write_ex, ctypes.c_ssize_t,
                              [vp, ctypes.c_int, cp, sz])
        self.send_eof = self._fn(lib.libssh2_channel_send_eof, ctypes.c_int, [vp])
        self.free = self._fn(lib.libssh2_channel_free, ctypes.c_int, [vp])

    @staticmethod
    def _fn(func: Any, restype: Any, argtypes: Any) -> Any:
        func.restype = restype
        func.argtypes = argtypes
        return func


def _load() -> 'tuple[Optional[_Lib], str]':
    base = os.path.dirname(os.path.dirname(os.path.abspath(ssh2.__file__)))
    paths = sorted(glob.glob(os.path.join(base, 'ssh2_python.libs', 'libssh2*.so*')))
    if len(paths) != 1:
        return None, 'the libssh2 bundled with ssh2-python was not found'
    try:
        return _Lib(ctypes.CDLL(paths[0])), ''
    except (OSError, AttributeError) as exc:
        return None, 'the bundled libssh2 lacks what it needs (libssh2 >= 1.11): %s' % (exc,)


_LIB, _LOAD_ERROR = _load()


def _session_pointer(session: Any) -> int:
    """The LIBSSH2_SESSION of an ssh2-python Session, or 0 if its layout is not
    the one we know."""
    if _LIB is None or type(session) is not Session:
        return 0
    if _field(session, 2) != id(session.sock) or _field(session, 3) != id(session._kbd_callback):
        return 0
    pointer = _field(session, 0)
    if not pointer:
        return 0
    abstract = _LIB.abstract(pointer)
    if not abstract or abstract[0] != id(session):
        return 0
    return pointer


def _check() -> str:
    if _LIB is None:
        return _LOAD_ERROR
    if not _session_pointer(Session()):
        return 'ssh2-python %s lays out its Session differently from what we know' % (
            getattr(ssh2, '__version__', '?'),)
    return ''


_UNAVAILABLE = _check()


def unavailable_reason() -> str:
    """Why agent forwarding cannot work with this ssh2-python ('' when it can)."""
    return _UNAVAILABLE


@_CALLBACK_TYPE
def _on_agent_channel(session_ptr: int, channel_ptr: int, abstract: Any) -> None:
    # Runs inside a libssh2 call: record the channel, never block or switch.
    try:
        forwarding = _registry.get(abstract[0] or 0) if abstract else None
        if forwarding is not None and channel_ptr:
            forwarding.accept(channel_ptr)
    except Exception:  # pragma: no cover - an exception cannot cross into C
        pass


class AgentForwarding(AgentRelay):
    """Serves the forwarded-agent channels the server opens on one session.

    :param session: the ssh2-python Session, not yet connected.
    :param io: the session's relay.
    :param label: ``host:port`` for log messages.
    :param timeout: seconds allowed for closing a channel.
    """

    chunk = 64 * 1024
    again = _EAGAIN
    library = 'libssh2'

    def __init__(self, session: Session, io: SessionIO, label: str,
                 timeout: Optional[float]) -> None:
        pointer = _session_pointer(session)
        if _LIB is None or not pointer:
            raise RuntimeError(_UNAVAILABLE or 'unknown ssh2-python Session layout')
        super().__init__(io, label, timeout)
        self._session = session  # kept alive while a channel of it is served
        self._lib = _LIB
        _registry[id(session)] = self
        _LIB.callback_set2(pointer, _CALLBACK_AUTHAGENT,
                           ctypes.cast(_on_agent_channel, ctypes.c_void_p))

    def accept(self, channel: int) -> None:
        """A new agent channel (from the callback): serve it in a greenlet."""
        if self._io._closed or self._io.closed_reason is not None:
            return  # the session is going away and frees the channel itself
        self._start(channel, channel)

    # The operations on a channel (a LIBSSH2_CHANNEL pointer), for AgentRelay.

    def _directions(self, channel: int) -> int:
        return int(self._session.block_directions())

    def _read(self, channel: int, buf: Any) -> Optional[int]:
        rc = int(self._lib.read(channel, 0, buf, self.chunk))
        if rc == _EAGAIN:
            return None
        if rc < 0:
            raise OSError('reading the agent channel failed: libssh2 error %s' % (rc,))
        return rc

    def _write(self, channel: int, data: memoryview) -> Optional[int]:
        piece = bytes(data)
        return self._until_done(channel, lambda: self._lib.write(channel, 0, piece, len(piece)))

    def _send_eof(self, channel: int) -> None:
        self._until_done(channel, lambda: self._lib.send_eof(channel))

    def _end(self, channel: int, served: bool) -> None:
        if not served:
            # (Served, the channel's EOF was sent when the agent hung up.)
            self._send_eof(channel)

    def _free(self, channel: int) -> None:
        try:
            self._until_done(channel, lambda: self._lib.free(channel))
        except Exception as exc:
            logger.debug('%s: could not free an agent channel: %s', self._label, exc)
