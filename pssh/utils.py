"""Logging helpers, and the 1.x key and ssh config helpers."""
import logging
import os
from typing import IO, Any, Optional, Tuple, Union

from . import host_logger, logger
from ._deprecation import deprecated

_package_logger = logger

__all__ = ['enable_logger', 'enable_host_logger', 'enable_debug_logger',
           'logger', 'host_logger', 'load_private_key', 'read_openssh_config']

_FORMAT = '%(asctime)s %(levelname)-8s %(name)s: %(message)s'


def enable_logger(logger: logging.Logger, level: int = logging.INFO) -> None:
    """Send records of ``logger`` at ``level`` and above to standard error.

    Calling it again for the same logger does not add a second handler.
    """
    if not any(getattr(h, '_pssh_handler', False) for h in logger.handlers):
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter(_FORMAT))
        handler._pssh_handler = True  # type: ignore[attr-defined]
        logger.addHandler(handler)
    logger.setLevel(level)


def enable_host_logger() -> None:
    """Print every line of remote output as it is read, prefixed by its host."""
    if not any(getattr(h, '_pssh_handler', False) for h in host_logger.handlers):
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter('%(message)s'))
        handler._pssh_handler = True  # type: ignore[attr-defined]
        host_logger.addHandler(handler)
    host_logger.setLevel(logging.INFO)


def enable_debug_logger() -> None:
    """Show the library's own debug messages on standard error."""
    enable_logger(_package_logger, logging.DEBUG)


# ----------------------------------------------------------------------
# 1.x helpers. The imports they need are made when they are called, so that
# importing this module stays as light as importing pssh.


def _wrapped(armoured: bytes) -> bytes:
    """A PEM-style key with its base64 in lines of 70 characters, as ssh-keygen
    writes it: libssh writes one long line, which libssh2 cannot read."""
    lines = armoured.strip().split(b'\n')
    body = b''.join(line.strip() for line in lines[1:-1])
    return b'\n'.join([lines[0]] + [body[i:i + 70] for i in range(0, len(body), 70)]
                      + [lines[-1], b''])


def _decrypted(data: bytes, password: str, name: str) -> bytes:
    """``data``, an encrypted private key, as an unencrypted OpenSSH key.

    libssh imports the key and writes it out again, into an anonymous
    in-memory file where the system has them, else into a private directory
    that is removed at once.
    """
    from ._keys import check_private_key
    shared = check_private_key(data, password, name)
    if shared is None:  # a key libssh cannot read (DSA): left to the client
        return data
    if hasattr(os, 'memfd_create'):
        fd = os.memfd_create('pssh-key')
        try:
            shared.key.export_privkey_file('/proc/self/fd/%d' % fd)
            os.lseek(fd, 0, os.SEEK_SET)
            chunks = []
            while True:
                chunk = os.read(fd, 65536)
                if not chunk:
                    break
                chunks.append(chunk)
            return _wrapped(b''.join(chunks))
        finally:
            os.close(fd)
    import shutil
    import tempfile
    directory = tempfile.mkdtemp(prefix='pssh-key-')
    try:
        path = os.path.join(directory, 'key')
        shared.key.export_privkey_file(path)
        with open(path, 'rb') as fh:
            return _wrapped(fh.read())
    finally:
        shutil.rmtree(directory, ignore_errors=True)


@deprecated('pass the key file\'s path as pkey= (with its passphrase as password=)')
def load_private_key(path_or_file: Union[str, 'os.PathLike[str]', IO[Any]],
                     password: Optional[str] = None) -> bytes:
    """Read a private key, for ``pkey=`` of any client (1.x).

    :param path_or_file: the key file's path, or a file object open on it (text or
      binary; it is read, not closed).
    :param password: the key's passphrase. An encrypted key is returned
      decrypted, so that the client needs no passphrase for it.
    :returns: the key as ``bytes``, which every ``pkey=`` takes.
    :raises PKeyFileError: the file cannot be read, is not a private key, or
      ``password`` does not open it (1.x returned None).

    .. deprecated:: 2.0
       Give the path itself as ``pkey=``.
    """
    from ._keys import check_private_key
    from .exceptions import PKeyFileError
    if hasattr(path_or_file, 'read'):
        name = str(getattr(path_or_file, 'name', 'key file object'))
        try:
            data = path_or_file.read()
        except (OSError, ValueError) as exc:
            raise PKeyFileError('Cannot read private key from %s: %s', name, exc) from None
        if isinstance(data, str):
            data = data.encode('utf-8')
        if not isinstance(data, bytes):
            raise PKeyFileError('Reading private key from %s gave %s, not bytes or str',
                                name, type(data).__name__)
    elif isinstance(path_or_file, (str, os.PathLike)):
        name = os.path.expanduser(os.fspath(path_or_file))
        try:
            with open(name, 'rb') as fh:
                data = fh.read()
        except OSError as exc:
            raise PKeyFileError('Cannot read private key file %s: %s', name,
                                exc.strerror or exc) from None
    else:
        raise PKeyFileError('Private key must be a path or a file object, got %s',
                            type(path_or_file).__name__)
    if password:
        data = _decrypted(data, password, name)
    else:
        check_private_key(data, None, name)
    # Bytes whose repr names the file, never the key.
    from .clients.base.single import _KeyBytes
    key = _KeyBytes(data)
    key.path = name
    return key


@deprecated('use ssh_config= on the clients')
def read_openssh_config(host: str, config_file: Optional[str] = None
                        ) -> Optional[Tuple[str, Optional[str], int, Optional[str]]]:
    """``(hostname, user, port, identity_file)`` for ``host`` from an OpenSSH
    client config file, as 1.x gave it.

    :param config_file: the file to read; ``~/.ssh/config`` by default. Only
      this file is read (not the system one), as in 1.x.
    :returns: None when the file does not exist. Otherwise ``hostname`` is the
      ``HostName`` (else ``host``), ``user`` the ``User`` (else None), ``port``
      the ``Port`` (else 22) and ``identity_file`` the first ``IdentityFile``
      that exists, expanded (else None), a path that ``pkey=`` takes (1.x
      gave the loaded key).
    :raises HostConfigError: the file cannot be parsed.

    .. deprecated:: 2.0
       Pass ``ssh_config=`` to the clients, which apply the whole entry.
    """
    from ._ssh_config import SSHConfig
    path = os.path.expanduser(config_file if config_file is not None else '~/.ssh/config')
    if not os.path.isfile(path):
        return None
    entry = SSHConfig(path, system_path=None).lookup(host)
    identity_file = next((candidate for candidate in entry.identity_file_paths()
                          if os.path.isfile(candidate)), None)
    return (entry.hostname if entry.hostname is not None else host, entry.user,
            entry.port if entry.port is not None else 22, identity_file)
