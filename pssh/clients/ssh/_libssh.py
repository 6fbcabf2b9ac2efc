"""Two libssh calls made directly, because ssh-python 1.2 leaks memory in them.

- ``Session.get_server_publickey()`` wraps the key libssh hands back with
  ``SSHKey.from_ptr``, which first allocates a key of its own in ``__cinit__``
  and then overwrites the pointer to it: one lost key structure per
  connection, and the host-key check asks for the key on every connection.
- ``Channel.get_exit_state()`` hands libssh a buffer for the signal name that
  libssh replaces with one of its own: 32 bytes lost per command.

Both functions here call the same libssh that ssh-python loaded, through
ctypes, after checking that the Python objects are laid out as ssh-python's
``.pxd`` files say (``Session``: ``ssh_session _session`` first; ``Channel``:
``ssh_channel _channel`` then ``Session _session``, after Cython's table of C
methods). Where the layout does not match, the functions answer None and the
client uses ssh-python's calls; where libssh cannot be loaded, they are None.
"""
import ctypes
import glob
import os
from typing import Any, Callable, Optional, Tuple

import ssh
from ssh.channel import Channel
from ssh.session import Session

_PTR = ctypes.sizeof(ctypes.c_void_p)
# PyObject_HEAD is a reference count and a type pointer; the cdef fields follow.
_FIRST_FIELD = ctypes.sizeof(ctypes.c_ssize_t) + _PTR
_SSH_OK = 0
_SSH_AGAIN = -2


def _field(obj: Any, index: int) -> int:
    return ctypes.c_void_p.from_address(id(obj) + _FIRST_FIELD + index * _PTR).value or 0


def _library() -> Optional[ctypes.CDLL]:
    base = os.path.dirname(os.path.dirname(os.path.abspath(ssh.__file__)))
    paths = sorted(glob.glob(os.path.join(base, 'ssh_python.libs', 'libssh-*.so*')))
    if len(paths) != 1:
        return None
    try:
        return ctypes.CDLL(paths[0])
    except OSError:
        return None


def _session_pointer(session: Any) -> int:
    if not isinstance(session, Session):
        return 0
    return _field(session, 0)


def _load() -> Tuple[Optional[Callable[[Any], Optional[bytes]]],
                     Optional[Callable[[Any], Optional[Tuple[int, bytes, bool]]]]]:
    lib = _library()
    if lib is None:
        return None, None
    try:
        get_key = lib.ssh_get_server_publickey
        export = lib.ssh_pki_export_pubkey_base64
        key_free = lib.ssh_key_free
        free_char = lib.ssh_string_free_char
        get_state = lib.ssh_channel_get_exit_state
    except AttributeError:
        return None, None
    voidp = ctypes.c_void_p
    get_key.argtypes = [voidp, ctypes.POINTER(voidp)]
    get_key.restype = ctypes.c_int
    export.argtypes = [voidp, ctypes.POINTER(voidp)]
    export.restype = ctypes.c_int
    key_free.argtypes = [voidp]
    key_free.restype = None
    free_char.argtypes = [voidp]
    free_char.restype = None
    get_state.argtypes = [voidp, ctypes.POINTER(ctypes.c_uint32), ctypes.POINTER(voidp),
                          ctypes.POINTER(ctypes.c_int)]
    get_state.restype = ctypes.c_int

    def server_key_base64(session: Any) -> Optional[bytes]:
        """The server's public key blob, base64-encoded, or None."""
        session_ptr = _session_pointer(session)
        if not session_ptr:
            return None
        key = voidp()
        if get_key(session_ptr, ctypes.byref(key)) != _SSH_OK or not key.value:
            return None
        try:
            text = voidp()
            if export(key, ctypes.byref(text)) != _SSH_OK or not text.value:
                return None
            try:
                return ctypes.string_at(text.value)
            finally:
                free_char(text)
        finally:
            key_free(key)

    def exit_state(channel: Any) -> Optional[Tuple[int, bytes, bool]]:
        """(rc or exit status, signal name, core dumped), like ssh-python's
        ``get_exit_state()``: the first item is SSH_AGAIN while nothing came."""
        if not isinstance(channel, Channel):
            return None
        session = channel.session
        if not isinstance(session, Session) or not _session_pointer(session):
            return None
        # Cython puts a pointer to the class's C method table first.
        for index in (1, 0):
            if _field(channel, index + 1) == id(session):
                channel_ptr = _field(channel, index)
                break
        else:
            return None
        if not channel_ptr:
            return None
        code = ctypes.c_uint32()
        signal = voidp()
        core = ctypes.c_int()
        rc = get_state(channel_ptr, ctypes.byref(code), ctypes.byref(signal), ctypes.byref(core))
        name = b''
        if signal.value:
            try:
                name = ctypes.string_at(signal.value)
            finally:
                free_char(signal)
        if rc == _SSH_AGAIN:
            return _SSH_AGAIN, b'', False
        if rc != _SSH_OK:
            return None
        # libssh keeps "no exit status" (a signal came instead) as (uint32_t)-1.
        value = code.value if code.value < 1 << 31 else code.value - (1 << 32)
        return value, name, bool(core.value)

    return server_key_base64, exit_state


#: ``server_key_base64(session)`` and ``exit_state(channel)``, or None each
#: when libssh could not be reached as expected.
server_key_base64, exit_state = _load()
