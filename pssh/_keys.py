"""Private keys: reading them once, and telling at the call when one cannot work.

Both backends find out that a key is corrupt or that its passphrase is wrong
only when they log in, inside a host's greenlet, and each says it differently.
:func:`check_private_key` finds out before: it imports the key with libssh
(ssh-python is a dependency of pssh whichever backend is used) and, if that
fails, reads the key's armour to say why. Imported keys are shared while a
client holds them (:func:`import_private_key`): a parallel client's hosts, and
the libssh backend's logins, use one import of each key.
"""
import base64
import binascii
import re
import weakref
from typing import Any, Optional, Tuple

from ssh import exceptions as ssh_exc
from ssh import key as ssh_key

from .exceptions import PKeyFileError

__all__ = ['SharedKey', 'import_private_key', 'check_private_key']

_ARMOUR = re.compile(rb'-----BEGIN ([A-Z0-9 ]*)PRIVATE KEY-----(.*?)-----END \1PRIVATE KEY-----',
                     re.S)
_OPENSSH_MAGIC = b'openssh-key-v1\x00'


class SharedKey:
    """An imported private key, shared by the clients that use it."""

    __slots__ = ('key', '__weakref__')

    def __init__(self, key: Any) -> None:
        self.key = key

    def __repr__(self) -> str:
        return '<imported private key>'


#: (key data, passphrase) -> SharedKey, for as long as a client holds it.
_shared: 'weakref.WeakValueDictionary[Tuple[bytes, str], SharedKey]' = \
    weakref.WeakValueDictionary()


def import_private_key(data: bytes, passphrase: str, shared: bool = True) -> SharedKey:
    """The private key in ``data``, imported once for all live holders of it.

    ssh-python loses a small libssh structure with every key it imports (its
    ``SSHKey.from_ptr`` overwrites the pointer to the key it made first), so
    the same key is not imported again while some client holds it. A key a
    certificate gets attached to must not be shared (``shared=False``).

    :raises ssh.exceptions.KeyImportError: libssh cannot read the key.
    """
    if not shared:
        return SharedKey(ssh_key.import_privkey_base64(data, passphrase=passphrase.encode()))
    data = bytes(data)
    entry = _shared.get((data, passphrase))
    if entry is None:
        entry = SharedKey(ssh_key.import_privkey_base64(data, passphrase=passphrase.encode()))
        _shared[(data, passphrase)] = entry
    return entry


def _describe(data: bytes) -> Tuple[Optional[str], bool]:
    """(key kind, encrypted) from the key's armour; kind None: not a key at all."""
    match = _ARMOUR.search(data)
    if match is None:
        return None, False
    label = match.group(1).decode('ascii').strip()
    body = match.group(2)
    if label == 'OPENSSH':
        try:
            raw = base64.b64decode(b''.join(line for line in body.split()
                                            if b':' not in line), validate=True)
        except (binascii.Error, ValueError):
            return None, False
        if not raw.startswith(_OPENSSH_MAGIC):
            return None, False
        offset = len(_OPENSSH_MAGIC)
        cipher_length = int.from_bytes(raw[offset:offset + 4], 'big')
        cipher = raw[offset + 4:offset + 4 + cipher_length]
        kind = 'DSA' if b'ssh-dss' in raw[:400] else 'OPENSSH'
        return kind, cipher not in (b'', b'none')
    encrypted = label == 'ENCRYPTED' or b'ENCRYPTED' in body[:200]
    return label or 'PKCS8', encrypted


def check_private_key(data: Optional[bytes], passphrase: Optional[str], name: str,
                      host: Optional[str] = None) -> Optional[SharedKey]:
    """Make sure ``data`` is a private key that ``passphrase`` opens.

    Returns the imported key, to be held by the caller for as long as it may
    use the key (so that later checks and logins reuse the import), or None
    for no key or a key libssh cannot import but libssh2 may (DSA).

    :raises PKeyFileError: naming the key (``name``, never its bytes) and
      ``host``: not a private key, encrypted without a passphrase, wrong
      passphrase, or corrupt.
    """
    if data is None:
        return None
    passphrase = passphrase or ''
    kind, encrypted = _describe(data)
    if kind == 'DSA':
        return None     # libssh no longer reads DSA keys; libssh2 may
    try:
        return import_private_key(data, passphrase)
    except ssh_exc.KeyImportError:
        pass
    where = ' for %s' % host if host else ''
    if kind is None:
        raise PKeyFileError('Private key %s%s is not a private key (no readable -----BEGIN '
                            '... PRIVATE KEY----- block)', name, where)
    if encrypted and not passphrase:
        raise PKeyFileError('Private key %s%s is encrypted and no passphrase was given '
                            '(pass it as password=)', name, where)
    if encrypted:
        raise PKeyFileError('Private key %s%s could not be decrypted: wrong passphrase',
                            name, where)
    raise PKeyFileError('Private key %s%s is corrupt or of an unsupported type', name, where)
