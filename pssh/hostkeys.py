"""Server host-key verification: OpenSSH ``known_hosts`` files, policies and pins.

Every client checks the key a server presents during the handshake, before any
credential is sent. What is accepted depends on three settings, all available
on the clients and per host in :class:`~pssh.config.HostConfig`:

``host_key_policy``
    What to do with a host that has no key in the known-hosts files:

    * ``'accept-unknown'`` (the default) - connect, log a warning with the
      key's fingerprint, and remember the key for the life of the client, so a
      reconnection to a different key is refused. Nothing is written.
    * ``'accept-new'`` - connect and append the key to the first known-hosts
      file (OpenSSH's ``StrictHostKeyChecking accept-new``).
    * ``'strict'`` - refuse with :class:`~pssh.exceptions.UnknownHostKeyError`.
    * ``'no'`` - no checking at all (what parallel-ssh does). Pinned keys are
      still checked.

    Under every policy but ``'no'``, a host whose known key differs from the
    one it presents is refused with :class:`~pssh.exceptions.HostKeyMismatchError`,
    and a key marked ``@revoked`` always is (:class:`~pssh.exceptions.RevokedHostKeyError`).
    OpenSSH's own words are accepted too: ``'yes'``/``'ask'`` mean ``'strict'``,
    ``'off'`` means ``'no'``.

``known_hosts``
    A path or a list of paths of known-hosts files. The default is OpenSSH's:
    ``~/.ssh/known_hosts``, ``~/.ssh/known_hosts2``, ``/etc/ssh/ssh_known_hosts``
    and ``/etc/ssh/ssh_known_hosts2``. Missing files count as empty. New keys
    (``'accept-new'``) go to the first file of the list.

``host_key``
    Keys pinned for the host, which then replace the known-hosts files as the
    source of truth: a fingerprint (``'SHA256:...'`` as printed by
    ``ssh-keygen -lf``, or ``'MD5:..:..'``), a public key line
    (``'ssh-ed25519 AAAA...'``), a known-hosts line, the raw key blob as
    ``bytes``, or a list of these. Any one of them matching is enough.

Known-hosts files are read as OpenSSH reads them: comma-separated host
patterns with ``*``, ``?`` and ``!`` negation, ``[host]:port`` entries for
servers on other ports than 22, hashed entries (``|1|salt|hash``), and the
``@revoked`` marker. ``@cert-authority`` lines are skipped: host certificates
are not used by our clients.
"""
import base64
import binascii
import hashlib
import hmac
import os
import re
import struct
from typing import Any, Dict, Iterable, List, NamedTuple, Optional, Sequence, Set, Tuple, Union

from . import logger
from .exceptions import (
    HostKeyMismatchError, InvalidAPIUseError, RevokedHostKeyError, UnknownHostKeyError)

__all__ = [
    'POLICIES', 'DEFAULT_POLICY', 'DEFAULT_KNOWN_HOSTS', 'KnownHostEntry', 'KnownHosts',
    'fingerprint', 'md5_fingerprint', 'key_type', 'known_hosts_name', 'normalise_policy',
    'HostKeyChecker', 'check_settings',
]

#: The policies, by their canonical names.
POLICIES = ('strict', 'accept-new', 'accept-unknown', 'no')
#: The policy used when none is given.
DEFAULT_POLICY = 'accept-unknown'
#: The files read when ``known_hosts`` is not given; user files first.
DEFAULT_KNOWN_HOSTS: Tuple[str, ...] = (
    '~/.ssh/known_hosts', '~/.ssh/known_hosts2',
    '/etc/ssh/ssh_known_hosts', '/etc/ssh/ssh_known_hosts2')

_POLICY_WORDS = {
    'strict': 'strict', 'yes': 'strict', 'ask': 'strict', 'reject': 'strict',
    'accept-new': 'accept-new',
    'accept-unknown': 'accept-unknown',
    'no': 'no', 'off': 'no', 'ignore': 'no',
}

# Host key algorithms a client may ask for, per key type found in known_hosts.
_ALGORITHMS_FOR_TYPE = {
    'ssh-rsa': ('rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'),
}
_STANDARD_ALGORITHMS = (
    'ssh-ed25519', 'ecdsa-sha2-nistp256', 'ecdsa-sha2-nistp384', 'ecdsa-sha2-nistp521',
    'rsa-sha2-512', 'rsa-sha2-256')


def normalise_policy(policy: Any) -> str:
    """The canonical name of ``policy`` (None gives :data:`DEFAULT_POLICY`).

    :raises InvalidAPIUseError: not a policy we know.
    """
    if policy is None:
        return DEFAULT_POLICY
    if isinstance(policy, str) and policy.strip().lower() in _POLICY_WORDS:
        return _POLICY_WORDS[policy.strip().lower()]
    raise InvalidAPIUseError('Unknown host_key_policy %r: use one of %s', policy,
                             ', '.join(POLICIES))


def _ssh_string(data: bytes, offset: int = 0) -> Tuple[bytes, int]:
    if len(data) < offset + 4:
        raise ValueError('truncated key blob')
    (length,) = struct.unpack_from('>I', data, offset)
    end = offset + 4 + length
    if len(data) < end:
        raise ValueError('truncated key blob')
    return data[offset + 4:end], end


def key_type(blob: bytes) -> str:
    """The key type named inside a public key blob (``'ssh-ed25519'``...)."""
    try:
        name, _ = _ssh_string(blob)
        return name.decode('ascii')
    except (ValueError, UnicodeDecodeError):
        return 'unknown'


def fingerprint(blob: bytes) -> str:
    """OpenSSH's SHA256 fingerprint of a public key blob: ``'SHA256:...'``."""
    digest = base64.b64encode(hashlib.sha256(blob).digest()).decode('ascii').rstrip('=')
    return 'SHA256:' + digest


def md5_fingerprint(blob: bytes) -> str:
    """The older MD5 fingerprint of a public key blob: ``'MD5:aa:bb:...'``."""
    digest = hashlib.md5(blob, usedforsecurity=False).hexdigest()
    return 'MD5:' + ':'.join(digest[i:i + 2] for i in range(0, len(digest), 2))


def known_hosts_name(host: str, port: int) -> str:
    """How ``host`` is written in known_hosts: ``host``, or ``[host]:port`` off port 22."""
    host = host.lower()
    return host if port == 22 else '[%s]:%s' % (host, port)


class KnownHostEntry(NamedTuple):
    """One key line of a known-hosts file."""

    marker: Optional[str]   # None or 'revoked'
    hosts: str              # the host field as written
    key_type: str
    blob: bytes
    path: str
    line: int

    def matches(self, names: Sequence[str]) -> bool:
        """True when the line's host field covers one of ``names`` (lower case)."""
        if self.hosts.startswith('|1|'):
            return any(_hashed_match(self.hosts, name) for name in names)
        positive = False
        for pattern in self.hosts.split(','):
            pattern = pattern.strip().lower()
            if not pattern:
                continue
            negated = pattern.startswith('!')
            if negated:
                pattern = pattern[1:]
            if any(_pattern_match(pattern, name) for name in names):
                if negated:
                    return False
                positive = True
        return positive

    @property
    def source(self) -> str:
        return '%s:%s' % (self.path, self.line)


def _pattern_match(pattern: str, name: str) -> bool:
    if '*' in pattern or '?' in pattern:
        # fnmatch would also read [...] as a character class; OpenSSH has none.
        regex = ''.join('.*' if c == '*' else '.' if c == '?' else re.escape(c)
                        for c in pattern)
        return re.fullmatch(regex, name) is not None
    return pattern == name


def _hashed_match(field: str, name: str) -> bool:
    parts = field.split('|')
    if len(parts) != 4:
        return False
    try:
        salt = base64.b64decode(parts[2], validate=True)
        expected = base64.b64decode(parts[3], validate=True)
    except (binascii.Error, ValueError):
        return False
    actual = hmac.new(salt, name.encode('utf-8'), hashlib.sha1).digest()
    return hmac.compare_digest(actual, expected)


def _parse_line(text: str, path: str, number: int) -> Optional[KnownHostEntry]:
    fields = text.split()
    if not fields or fields[0].startswith('#'):
        return None
    marker = None
    if fields[0].startswith('@'):
        marker = fields[0][1:].lower()
        fields = fields[1:]
        if marker not in ('revoked', 'cert-authority'):
            logger.debug('%s:%s: unknown marker @%s, line skipped', path, number, marker)
            return None
    if len(fields) < 3:
        return None
    try:
        blob = base64.b64decode(fields[2], validate=True)
    except (binascii.Error, ValueError):
        logger.debug('%s:%s: key is not base64, line skipped', path, number)
        return None
    if marker == 'cert-authority':
        return None
    return KnownHostEntry(marker, fields[0], fields[1], blob, path, number)


# Unknown hosts already warned about, as (host, port, key blob).
_WARNED: Set[Tuple[str, int, bytes]] = set()

# Parsed files by path, with the (mtime, size) they were read at.
_FILE_CACHE: Dict[str, Tuple[Tuple[int, int], List[KnownHostEntry]]] = {}


def _read_file(path: str) -> List[KnownHostEntry]:
    try:
        info = os.stat(path)
    except OSError:
        return []
    stamp = (info.st_mtime_ns, info.st_size)
    cached = _FILE_CACHE.get(path)
    if cached is not None and cached[0] == stamp:
        return cached[1]
    entries = []
    try:
        with open(path, encoding='utf-8', errors='replace') as fh:
            for number, text in enumerate(fh, 1):
                entry = _parse_line(text, path, number)
                if entry is not None:
                    entries.append(entry)
    except OSError as exc:
        logger.warning('Cannot read known hosts file %s: %s', path, exc.strerror or exc)
        return []
    _FILE_CACHE[path] = (stamp, entries)
    return entries


def _expand_paths(paths: Union[None, str, 'os.PathLike[str]', Iterable[Any]]) -> List[str]:
    if paths is None:
        paths = DEFAULT_KNOWN_HOSTS
    elif isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    result = []
    for path in paths:
        if not isinstance(path, (str, os.PathLike)):
            raise InvalidAPIUseError('known_hosts must be a path or a list of paths, got %s',
                                     type(path).__name__)
        result.append(os.path.expanduser(os.fspath(path)))
    return result


class KnownHosts:
    """The keys of a set of known-hosts files.

    Files are read when looked up, and read again only when they change.

    :param paths: a path, a list of paths, or None for :data:`DEFAULT_KNOWN_HOSTS`.
    """

    def __init__(self, paths: Union[None, str, 'os.PathLike[str]', Iterable[Any]] = None) -> None:
        self.paths = _expand_paths(paths)

    def entries(self) -> List[KnownHostEntry]:
        """Every key line of the files, in order."""
        result: List[KnownHostEntry] = []
        for path in self.paths:
            result.extend(_read_file(path))
        return result

    def lookup(self, host: str, port: int = 22) -> List[KnownHostEntry]:
        """The lines that apply to ``host`` on ``port``, revoked ones included."""
        names = [known_hosts_name(host, port)]
        return [entry for entry in self.entries() if entry.matches(names)]

    def add(self, host: str, port: int, blob: bytes) -> str:
        """Append the key ``blob`` for ``host`` to the first file; returns its path.

        The directory is created (mode 0700) if missing, the file with mode 0600.
        """
        if not self.paths:
            raise InvalidAPIUseError('No known hosts file to add %s to', host)
        path = self.paths[0]
        directory = os.path.dirname(path)
        if directory and not os.path.isdir(directory):
            os.makedirs(directory, mode=0o700, exist_ok=True)
        line = '%s %s %s\n' % (known_hosts_name(host, port), key_type(blob),
                               base64.b64encode(blob).decode('ascii'))
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            # Start on a fresh line even if the file's last line has no newline.
            size = os.fstat(fd).st_size
            if size:
                with open(path, 'rb') as fh:
                    fh.seek(size - 1)
                    if fh.read(1) != b'\n':
                        line = '\n' + line
            os.write(fd, line.encode('ascii'))
        finally:
            os.close(fd)
        return path


class _Pin(NamedTuple):
    text: str        # as given, for messages
    blob: Optional[bytes]
    sha256: Optional[str]
    md5: Optional[str]

    def matches(self, blob: bytes) -> bool:
        if self.blob is not None:
            return self.blob == blob
        if self.sha256 is not None:
            return hmac.compare_digest(self.sha256, fingerprint(blob))
        return self.md5 is not None and self.md5 == md5_fingerprint(blob)

    @property
    def shown(self) -> str:
        return fingerprint(self.blob) if self.blob is not None else (self.sha256 or self.md5 or '')


def _parse_pin(value: Any) -> _Pin:
    if isinstance(value, (bytes, bytearray)):
        return _Pin('<key blob>', bytes(value), None, None)
    if not isinstance(value, str):
        raise InvalidAPIUseError('host_key must be a fingerprint, a public key line or bytes, '
                                 'not %s', type(value).__name__)
    text = value.strip()
    if text.startswith('SHA256:'):
        body = text[7:].rstrip('=')
        try:
            if len(base64.b64decode(body + '=' * (-len(body) % 4), validate=True)) != 32:
                raise ValueError
        except (binascii.Error, ValueError):
            raise InvalidAPIUseError('host_key %r is not a SHA256 fingerprint', text) from None
        return _Pin(text, None, 'SHA256:' + body, None)
    if text.upper().startswith('MD5:'):
        body = text[4:].lower()
        if not re.fullmatch(r'[0-9a-f]{2}(:[0-9a-f]{2}){15}', body):
            raise InvalidAPIUseError('host_key %r is not an MD5 fingerprint', text)
        return _Pin(text, None, None, 'MD5:' + body)
    fields = text.split()
    # "type base64 [comment]" or a known_hosts line "hosts type base64 [comment]".
    for index in (1, 2):
        if len(fields) > index:
            try:
                blob = base64.b64decode(fields[index], validate=True)
            except (binascii.Error, ValueError):
                continue
            if key_type(blob) == fields[index - 1]:
                return _Pin(text, blob, None, None)
    raise InvalidAPIUseError('Cannot read host_key %r: expected "SHA256:...", "MD5:..." or '
                             'a public key line like "ssh-ed25519 AAAA..."', text)


def parse_pins(value: Any) -> Optional[List[_Pin]]:
    """Pinned keys from a ``host_key`` setting (None when nothing is pinned)."""
    if value is None:
        return None
    if not isinstance(value, (list, tuple)):
        value = [value]
    pins = [_parse_pin(item) for item in value]
    if not pins:
        raise InvalidAPIUseError('host_key is an empty list: no key could ever match')
    return pins


def check_settings(host_key_policy: Any = None, known_hosts: Any = None,
                   host_key: Any = None) -> None:
    """Fail now for host key settings that could never work.

    ``host_key`` may also be a dict of pins by host name (the parallel client's form).

    :raises InvalidAPIUseError: an unknown policy, a bad path list or an unreadable pin.
    """
    normalise_policy(host_key_policy)
    KnownHosts(known_hosts)
    for value in host_key.values() if isinstance(host_key, dict) else [host_key]:
        parse_pins(value)


class HostKeyChecker:
    """Decides whether one host's key is trusted; one per client.

    :param host: the name looked up in known_hosts.
    :param port: the server's port.
    :param policy: a policy name (see the module documentation).
    :param known_hosts: paths of known-hosts files, or None for the defaults.
    :param host_key: pinned keys, or None.
    """

    def __init__(self, host: str, port: int, policy: Any = None, known_hosts: Any = None,
                 host_key: Any = None) -> None:
        self.host = host
        self.port = port
        self.policy = normalise_policy(policy)
        self.known_hosts = KnownHosts(known_hosts)
        self.pins = parse_pins(host_key)
        # The key accepted at the first connection, for reconnections, and
        # whether it was verified then.
        self.accepted: Optional[bytes] = None
        self.verified = True

    def preferred_algorithms(self) -> Optional[List[str]]:
        """Host key algorithms to ask for, known types first; None for the library's choice.

        A server with several keys then shows the one we can check, as OpenSSH does.
        """
        if self.policy == 'no' and self.pins is None:
            return None
        blobs = [pin.blob for pin in self.pins or () if pin.blob is not None]
        if self.pins is None:
            blobs = [entry.blob for entry in self.known_hosts.lookup(self.host, self.port)
                     if entry.marker is None]
        if self.accepted is not None:
            blobs.insert(0, self.accepted)
        first: List[str] = []
        for blob in blobs:
            name = key_type(blob)
            for algorithm in _ALGORITHMS_FOR_TYPE.get(name, (name,)):
                if algorithm not in first:
                    first.append(algorithm)
        if not first:
            return None
        return first + [name for name in _STANDARD_ALGORITHMS if name not in first]

    def check(self, blob: bytes) -> bool:
        """Accept ``blob`` as the server's key, or raise.

        :returns: True if the key was verified (pinned, known, or the key
          this checker accepted before), False if it was accepted unverified
          (an unknown host under a lenient policy, or policy ``'no'``).

        :raises RevokedHostKeyError: the key is marked ``@revoked``.
        :raises HostKeyMismatchError: the host is known with other keys.
        :raises UnknownHostKeyError: the host is unknown and the policy is ``'strict'``.
        """
        ktype, shown = key_type(blob), fingerprint(blob)
        entries = self.known_hosts.lookup(self.host, self.port)
        for entry in entries:
            if entry.marker == 'revoked' and entry.blob == blob:
                raise RevokedHostKeyError(
                    'Host key of %s:%s is revoked: %s key %s (%s)', self.host, self.port,
                    ktype, shown, entry.source)
        if self.pins is not None:
            if any(pin.matches(blob) for pin in self.pins):
                self.accepted, self.verified = blob, True
                return True
            self._mismatch(ktype, shown, [pin.shown for pin in self.pins], 'host_key')
        if self.policy == 'no':
            return False
        known = [entry for entry in entries if entry.marker is None]
        if self.accepted is not None and self.accepted != blob and not any(
                entry.blob == blob for entry in known):
            self._mismatch(ktype, shown, [fingerprint(self.accepted)],
                           'the key accepted at the first connection')
        if any(entry.blob == blob for entry in known):
            self.accepted, self.verified = blob, True
            return True
        if known:
            self._mismatch(ktype, shown, ['%s %s' % (entry.key_type, fingerprint(entry.blob))
                                          for entry in known],
                           ', '.join(entry.source for entry in known))
        if self.accepted == blob:
            return self.verified
        if self.policy == 'strict':
            raise UnknownHostKeyError(
                'Host %s:%s offered %s key %s, but it is not in the known hosts files (%s)'
                ' and host_key_policy is strict', self.host, self.port, ktype, shown,
                ', '.join(self.known_hosts.paths) or 'none')
        if self.policy == 'accept-new' and self.known_hosts.paths:
            path = self.known_hosts.add(self.host, self.port, blob)
            logger.warning('Added %s key %s of %s:%s to %s', ktype, shown, self.host,
                           self.port, path)
        elif (self.host, self.port, blob) not in _WARNED:
            # Once per host and key in a process: a script connecting to the
            # same new hosts again and again is told once, not every time.
            _WARNED.add((self.host, self.port, blob))
            logger.warning('Host %s:%s is not known; accepted its %s key %s without checking',
                           self.host, self.port, ktype, shown)
        self.accepted = blob
        self.verified = False
        return False

    def _mismatch(self, ktype: str, shown: str, expected: List[str], source: str) -> None:
        raise HostKeyMismatchError(
            'HOST KEY MISMATCH for %s:%s: it offered %s key %s but %s is expected (from %s).'
            ' Someone may be impersonating the host, or its key was changed.',
            self.host, self.port, ktype, shown, ' or '.join(expected), source)
