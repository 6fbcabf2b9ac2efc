"""Reading a channel's exit signal from libssh2 directly.

ssh2-python's ``Channel.get_exit_signal`` never returns the signal name (it
passes no length pointers to libssh2), so a command killed by a signal would
look like one that exited with status 0. We call libssh2's function ourselves
through ctypes, on the same libssh2 that ssh2-python loaded, after checking that
the Python objects are laid out as expected. If anything does not match, the
signal is reported as unknown (None) and the caller falls back to ssh2-python.
"""
import ctypes
import glob
import os
from typing import Any, Callable, Optional

import ssh2
from ssh2.session import Session

_PTR = ctypes.sizeof(ctypes.c_void_p)
# PyObject_HEAD is a reference count and a type pointer; the cdef fields follow.
_FIRST_FIELD = ctypes.sizeof(ctypes.c_ssize_t) + _PTR


def _field(obj: Any, index: int) -> int:
    return ctypes.c_void_p.from_address(id(obj) + _FIRST_FIELD + index * _PTR).value or 0


def _load() -> Optional[Callable[[Any], Optional[bytes]]]:
    base = os.path.dirname(os.path.dirname(os.path.abspath(ssh2.__file__)))
    paths = sorted(glob.glob(os.path.join(base, 'ssh2_python.libs', 'libssh2*.so*')))
    if len(paths) != 1:
        return None
    try:
        lib = ctypes.CDLL(paths[0])
        get_signal = lib.libssh2_channel_get_exit_signal
        free = lib.libssh2_free
    except (OSError, AttributeError):
        return None
    charpp = ctypes.POINTER(ctypes.c_char_p)
    sizep = ctypes.POINTER(ctypes.c_size_t)
    get_signal.argtypes = [ctypes.c_void_p, ctypes.POINTER(ctypes.c_void_p), sizep,
                           charpp, sizep, charpp, sizep]
    get_signal.restype = ctypes.c_int
    free.argtypes = [ctypes.c_void_p, ctypes.c_void_p]
    free.restype = None

    def exit_signal(channel: Any) -> Optional[bytes]:
        session = channel.session
        # Channel: (LIBSSH2_CHANNEL *_channel, Session _session);
        # Session: (LIBSSH2_SESSION *_session, int _sock, object sock, ...).
        if not isinstance(session, Session) or _field(channel, 1) != id(session):
            return None
        channel_ptr, session_ptr = _field(channel, 0), _field(session, 0)
        if not channel_ptr or not session_ptr:
            return None
        name = ctypes.c_void_p()
        length = ctypes.c_size_t()
        if get_signal(channel_ptr, ctypes.byref(name), ctypes.byref(length),
                      None, None, None, None) != 0 or not name.value:
            return None
        try:
            return ctypes.string_at(name.value, length.value)
        finally:
            free(session_ptr, name)

    return exit_signal


#: ``exit_signal(channel)`` -> the signal name as bytes, or None; None itself
#: if libssh2 could not be reached.
exit_signal = _load()
