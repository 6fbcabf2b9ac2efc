"""Read OpenSSH client configuration files (``~/.ssh/config``, ``/etc/ssh/ssh_config``).

Private module: the clients use it for their opt-in ``ssh_config`` support.
Standard library only.

What is read
------------
:func:`lookup` (or :meth:`SSHConfig.lookup` on files parsed once) resolves the
options for one host the way ``ssh`` (OpenSSH 9.x) does, for the keywords that
matter to pssh: ``HostName``, ``User``, ``Port``, ``IdentityFile``,
``CertificateFile``, ``ProxyJump`` (and ``ProxyCommand``, only because the two
compete), ``ConnectTimeout``, ``ServerAliveInterval``, ``UserKnownHostsFile``,
``StrictHostKeyChecking``, ``Compression``, plus ``HostKeyAlias`` and ``Tag``
which feed tokens and ``Match tagged``. Every other keyword is kept unparsed in
:attr:`SSHConfigEntry.options` (first value wins).

The rules followed
------------------
* Keywords are case-insensitive; ``Keyword value``, ``Keyword=value`` and
  ``Keyword = value`` all work; arguments may be quoted with ``"`` or ``'`` and
  ``\\`` escapes a quote, a backslash or (outside quotes) a space; ``#`` at the
  start of a word ends the line.
* For each keyword the first value obtained wins; ``IdentityFile`` and
  ``CertificateFile`` accumulate (duplicates dropped). The user file is read
  first, then the system file.
* ``Host`` patterns (``*``, ``?``, several per line, ``!`` negation: a matching
  negated pattern makes the whole line fail) are matched case-sensitively
  against the host name as given.
* ``Match`` criteria ``all``, ``host``, ``originalhost``, ``user``,
  ``localuser``, ``canonical``, ``final``, ``exec``, ``tagged``, each negatable
  with ``!``, each taking a comma-separated pattern list (with ``!`` entries).
  ``host`` matches the name after ``HostName`` so far, ``originalhost`` the name
  as given (both case-insensitive); ``user`` the ``User`` so far (else the local
  user). As in ssh, ``Match final`` asks for a second pass over the files in
  which ``canonical`` and ``final`` match and ``Host`` lines are matched against
  the resolved host name. We never canonicalize host names
  (``CanonicalizeHostname`` is not performed), so only ``Match final`` starts
  that second pass. ``Match exec`` runs its command (tokens expanded) with the
  user's ``$SHELL`` (else ``/bin/sh``), exit status 0 meaning a match, only
  when ``match_exec=True`` is passed; otherwise a ``Match`` line whose ``exec``
  would have to run is taken as not matching. ``localnetwork`` is refused.
* ``Include`` takes paths and globs (sorted); a relative path is relative to
  ``~/.ssh`` when reached from the user file and to ``/etc/ssh`` from the system
  file; an included file is read even inside a non-matching block (to check it)
  but then applies nothing; at most 16 levels of nesting. A glob matching
  nothing is not an error. File permissions are not checked.
* ``HostName`` expands ``%h`` (the name as given) and ``%%``; the result is
  lowercased, as ssh does. ``IdentityFile``, ``CertificateFile`` and
  ``UserKnownHostsFile`` paths expand ``~`` and ``~user``, ``${ENV}`` and
  ``%% %C %d %h %i %k %L %l %n %p %r %u`` (OpenSSH 9.2's set; ``%C`` is the
  SHA1 of ``%l%h%p%r``), with the final host name, port and user.

Deliberate differences from ssh
-------------------------------
* Unknown keywords are kept in :attr:`SSHConfigEntry.options` instead of
  failing (newer OpenSSH releases keep adding keywords).
* ``~`` and ``%d`` use ``$HOME`` (:func:`os.path.expanduser`), like the rest of
  pssh; ssh uses the home directory from the password database.
* An explicitly given config path that does not exist is an error; the
  default ``~/.ssh/config`` and the system file may be missing.

Errors
------
A file that cannot be read or parsed, a bad value (port, time, yes/no...), an
unknown ``%`` token or unset ``${ENV}`` raises
:class:`pssh.exceptions.HostConfigError` whose message names the file and line.
Values are checked on every line, inside non-matching blocks too, as ssh does.
"""
import glob
import hashlib
import os
import re
import socket
import subprocess
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Mapping, NamedTuple, Optional, Tuple, Union

from .exceptions import HostConfigError

__all__ = ['SSHConfig', 'SSHConfigEntry', 'JumpHost', 'lookup', 'to_host_config_kwargs',
           'DEFAULT_USER_PATH', 'DEFAULT_SYSTEM_PATH']

PathArg = Union[str, 'os.PathLike[str]']

DEFAULT_USER_PATH = '~/.ssh/config'
DEFAULT_SYSTEM_PATH = '/etc/ssh/ssh_config'
_SYSTEM_DIR = '/etc/ssh'
_MAX_INCLUDE_DEPTH = 16
_DEFAULT_PORT = 22


class JumpHost(NamedTuple):
    """One hop of a ``ProxyJump`` list: ``[user@]host[:port]``."""

    user: Optional[str]
    host: str
    port: Optional[int]

    def __str__(self) -> str:
        host = '[%s]' % self.host if ':' in self.host else self.host
        return '%s%s%s' % ('%s@' % self.user if self.user else '', host,
                           ':%d' % self.port if self.port else '')


@dataclass
class SSHConfigEntry:
    """The options that apply to one host.

    ``None`` means the files did not set the option (for ``user`` and ``port``:
    nor did the caller). Paths are as written in the file; use
    :meth:`identity_file_paths` and :meth:`known_hosts_paths` for the expanded
    ones.
    """

    host: str
    """The host name (alias) asked for, as given."""
    hostname: Optional[str] = None
    """``HostName`` with ``%h`` expanded, lowercased; ``None`` if not set."""
    user: Optional[str] = None
    port: Optional[int] = None
    identity_files: List[str] = field(default_factory=list)
    certificate_files: List[str] = field(default_factory=list)
    proxy_jump: Optional[List[JumpHost]] = None
    """The hops in order; ``[]`` for ``ProxyJump none``; ``None`` if not set."""
    proxy_command: Optional[str] = None
    """``ProxyCommand`` (unexpanded) when it won over ``ProxyJump``; not supported by pssh."""
    connect_timeout: Optional[int] = None
    server_alive_interval: Optional[int] = None
    user_known_hosts_files: Optional[List[str]] = None
    """The files; ``[]`` for ``UserKnownHostsFile none``."""
    strict_host_key_checking: Optional[str] = None
    """One of ``'yes' 'no' 'ask' 'accept-new'`` (``off`` and ``false`` read as ``'no'``)."""
    compression: Optional[bool] = None
    options: Dict[str, Tuple[str, ...]] = field(default_factory=dict)
    """Every keyword (lowercase) that applied, with the arguments of its first line
    (all lines' for ``identityfile`` and ``certificatefile``)."""
    _tokens: Dict[str, str] = field(default_factory=dict, repr=False, compare=False)
    _origins: Dict[str, Tuple[str, int]] = field(default_factory=dict, repr=False, compare=False)

    @property
    def address(self) -> str:
        """The name ssh would connect to: ``hostname``, else the host lowercased."""
        return self.hostname if self.hostname is not None else self.host.lower()

    def expand_path(self, path: str, keyword: str = 'identityfile') -> str:
        """Expand ``~``, ``${ENV}`` and ``%`` tokens in ``path`` for this host.

        ``keyword`` only names the option in an error message.
        """
        where = self._origins.get(keyword, ('<config>', 0))
        return _expand_path(path, self._tokens, where)

    def identity_file_paths(self) -> List[str]:
        """``IdentityFile`` paths expanded, in order; existing or not."""
        return [self.expand_path(p, 'identityfile') for p in self.identity_files]

    def certificate_file_paths(self) -> List[str]:
        """``CertificateFile`` paths expanded, in order; existing or not."""
        return [self.expand_path(p, 'certificatefile') for p in self.certificate_files]

    def known_hosts_paths(self) -> Optional[List[str]]:
        """``UserKnownHostsFile`` expanded; ``[]`` for ``none``; ``None`` if not set."""
        if self.user_known_hosts_files is None:
            return None
        return [self.expand_path(p, 'userknownhostsfile') for p in self.user_known_hosts_files]


# ----------------------------------------------------------------------
# Lexing


def _split_args(text: str, where: Tuple[str, int]) -> List[str]:
    """Split the arguments of a line: quotes, backslash escapes, ``#`` comments."""
    args: List[str] = []
    i, n = 0, len(text)
    while i < n:
        if text[i] in ' \t\r\n\f':
            i += 1
            continue
        if text[i] == '#':
            break
        quote = ''
        word: List[str] = []
        while i < n:
            ch = text[i]
            if ch == '\\' and i + 1 < n and (text[i + 1] in '\'"\\' or
                                             (not quote and text[i + 1] == ' ')):
                word.append(text[i + 1])
                i += 2
                continue
            if not quote and ch in ' \t\r\n\f':
                break
            if not quote and ch in '"\'':
                quote = ch
            elif quote and ch == quote:
                quote = ''
            else:
                word.append(ch)
            i += 1
        if quote:
            raise _error(where, 'unterminated quote')
        args.append(''.join(word))
    return args


_KEYWORD = re.compile(r'[ \t]*([^ \t=]+)[ \t]*(?:=[ \t]*)?(.*)\Z', re.S)


def _error(where: Tuple[str, int], message: str, *values: Any) -> HostConfigError:
    return HostConfigError('%s line %d: ' + message, where[0], where[1], *values)


# ----------------------------------------------------------------------
# Value parsers (each checks one argument and gives the typed value)

_TIME = re.compile(r'(\d+)([sSmMhHdDwW]?)')
_TIME_UNITS = {'': 1, 's': 1, 'm': 60, 'h': 3600, 'd': 86400, 'w': 604800}


def _parse_time(value: str, where: Tuple[str, int]) -> Optional[int]:
    """OpenSSH time format: ``90``, ``1m30s``, ``2h``...; ``none`` is no value."""
    if value.lower() == 'none':
        return None
    pos, total = 0, 0
    while pos < len(value):
        m = _TIME.match(value, pos)
        if m is None:
            break
        total += int(m.group(1)) * _TIME_UNITS[m.group(2).lower()]
        pos = m.end()
    if not value or pos != len(value) or total > 2 ** 31 - 1:
        raise _error(where, 'invalid time value %r', value)
    return total


def _parse_port(value: str, where: Tuple[str, int]) -> int:
    """A port number 1-65535 or a TCP service name."""
    if value.isdigit():
        port = int(value)
    else:
        try:
            port = socket.getservbyname(value, 'tcp')
        except (OSError, ValueError):
            port = 0
    if not 0 < port <= 65535:
        raise _error(where, 'bad port %r', value)
    return port


def _parse_yes_no(value: str, where: Tuple[str, int]) -> bool:
    choice = value.lower()
    if choice not in ('yes', 'no'):
        raise _error(where, 'expected yes or no, not %r', value)
    return choice == 'yes'


_STRICT = {'yes': 'yes', 'true': 'yes', 'no': 'no', 'false': 'no', 'off': 'no',
           'ask': 'ask', 'accept-new': 'accept-new'}


def _parse_strict(value: str, where: Tuple[str, int]) -> str:
    try:
        return _STRICT[value.lower()]
    except KeyError:
        raise _error(where, 'bad StrictHostKeyChecking value %r', value) from None


_HOST_PORT = re.compile(r'(?:\[([^\]\s/@]+)\]|([^:\[\]\s/@]+))(?::([^:\s/@]+))?\Z')


def _parse_jump(value: str, where: Tuple[str, int]) -> List[JumpHost]:
    """``none`` (-> ``[]``) or comma-separated ``[user@]host[:port]`` / ``ssh://`` hops."""
    if value == 'none':
        return []
    hops = []
    for item in value.split(','):
        text = item
        if text.lower().startswith('ssh://'):
            text = text[6:]
            if text.endswith('/'):
                text = text[:-1]
        user, _, hostport = text.rpartition('@')
        m = _HOST_PORT.match(hostport)
        if not item or (user == '' and '@' in text) or m is None:
            raise _error(where, 'invalid ProxyJump %r', value)
        port = _parse_port(m.group(3), where) if m.group(3) is not None else None
        hops.append(JumpHost(user or None, m.group(1) or m.group(2), port))
    return hops


# ----------------------------------------------------------------------
# Parsed file structure


@dataclass
class _Option:
    keyword: str
    args: Tuple[str, ...]
    value: Any
    where: Tuple[str, int]


@dataclass
class _Host:
    patterns: List[Tuple[bool, str]]
    where: Tuple[str, int]


@dataclass
class _Criterion:
    negate: bool
    name: str
    arg: Optional[str]


@dataclass
class _Match:
    criteria: List[_Criterion]
    where: Tuple[str, int]


@dataclass
class _Include:
    files: List[List[Any]]
    where: Tuple[str, int]


_MATCH_WITH_ARG = ('host', 'originalhost', 'user', 'localuser', 'exec', 'tagged')
_MATCH_NO_ARG = ('all', 'canonical', 'final')

_SINGLE_VALUED: Dict[str, Callable[[str, Tuple[str, int]], Any]] = {
    'hostname': lambda v, w: v,
    'user': lambda v, w: v,
    'port': _parse_port,
    'connecttimeout': _parse_time,
    'serveraliveinterval': _parse_time,
    'stricthostkeychecking': _parse_strict,
    'compression': _parse_yes_no,
    'hostkeyalias': lambda v, w: v,
    'tag': lambda v, w: v,
    'identityfile': lambda v, w: v,
    'certificatefile': lambda v, w: v,
}


def _parse_match(args: List[str], where: Tuple[str, int]) -> _Match:
    criteria: List[_Criterion] = []
    i = 0
    while i < len(args):
        word = args[i]
        negate = word.startswith('!')
        name = (word[1:] if negate else word).lower()
        i += 1
        if name in _MATCH_NO_ARG:
            if name == 'all' and (i < len(args) or any(
                    c.name not in ('canonical', 'final') for c in criteria)):
                raise _error(where, "'all' cannot be combined with other Match attributes")
            criteria.append(_Criterion(negate, name, None))
        elif name in _MATCH_WITH_ARG:
            if i >= len(args) or args[i] == '':
                raise _error(where, 'Match %s needs an argument', name)
            criteria.append(_Criterion(negate, name, args[i]))
            i += 1
        elif name == 'localnetwork':
            raise _error(where, 'Match localnetwork is not supported')
        else:
            raise _error(where, 'unsupported Match attribute %r', word)
    return _Match(criteria, where)


def _parse_file(path: str, user_conf: bool, depth: int, must_exist: bool,
                where: Optional[Tuple[str, int]] = None) -> List[Any]:
    """Read one file into a list of _Option/_Host/_Match/_Include items."""
    if depth > _MAX_INCLUDE_DEPTH:
        raise _error(where or (path, 0), 'too many nested Include levels (more than %d)',
                     _MAX_INCLUDE_DEPTH)
    try:
        with open(path, encoding='utf-8', errors='surrogateescape') as fh:
            text = fh.read()
    except FileNotFoundError:
        if not must_exist:
            return []
        if where is None:
            raise HostConfigError('%s: no such ssh config file', path) from None
        raise _error(where, 'cannot read included file %s', path) from None
    except (OSError, ValueError) as exc:
        if where is None:
            raise HostConfigError('%s: cannot read ssh config file: %s', path,
                                  getattr(exc, 'strerror', None) or exc) from None
        raise _error(where, 'cannot read included file %s: %s', path,
                     getattr(exc, 'strerror', None) or exc) from None
    items: List[Any] = []
    for lineno, line in enumerate(text.splitlines(), 1):
        item = _parse_line(line, (path, lineno), user_conf, depth)
        if item is not None:
            items.append(item)
    return items


def _parse_line(line: str, where: Tuple[str, int], user_conf: bool, depth: int) -> Any:
    line = line.rstrip(' \t\r\n\f')
    m = _KEYWORD.match(line)
    if m is None or m.group(1).startswith('#'):
        return None
    keyword, rest = m.group(1).lower(), m.group(2)
    if rest.strip(' \t') == '':
        raise _error(where, 'no argument after keyword %r', keyword)
    if keyword == 'proxyjump':
        # ProxyJump takes the rest of the line as one value, as ssh does.
        args = [' '.join(_split_args(rest, where))]
        return _Option(keyword, tuple(args), _parse_jump(args[0], where), where)
    if keyword == 'proxycommand':
        return _Option(keyword, (rest,), rest, where)
    args = _split_args(rest, where)
    if not args:
        raise _error(where, 'no argument after keyword %r', keyword)
    if keyword == 'host':
        patterns = []
        for arg in args:
            if arg == '':
                raise _error(where, 'empty Host pattern')
            patterns.append((arg.startswith('!'), arg[1:] if arg.startswith('!') else arg))
        return _Host(patterns, where)
    if keyword == 'match':
        return _parse_match(args, where)
    if keyword == 'include':
        return _parse_include(args, where, user_conf, depth)
    if keyword == 'userknownhostsfile':
        if any(a == '' for a in args):
            raise _error(where, 'empty UserKnownHostsFile')
        value = [] if args == ['none'] else list(args)
        return _Option(keyword, tuple(args), value, where)
    parser = _SINGLE_VALUED.get(keyword)
    if parser is None:
        return _Option(keyword, tuple(args), None, where)
    if len(args) > 1:
        raise _error(where, 'keyword %s has extra arguments at end of line', keyword)
    return _Option(keyword, tuple(args), parser(args[0], where), where)


def _parse_include(args: List[str], where: Tuple[str, int], user_conf: bool,
                   depth: int) -> _Include:
    files: List[List[Any]] = []
    for arg in args:
        if arg.startswith('~') and not user_conf:
            raise _error(where, 'bad Include path %s (no ~ in system files)', arg)
        if not os.path.isabs(arg) and not arg.startswith('~'):
            pattern = os.path.join('~/.ssh' if user_conf else _SYSTEM_DIR, arg)
        else:
            pattern = arg
        try:
            names = sorted(glob.glob(os.path.expanduser(pattern)))
        except ValueError as exc:
            raise _error(where, 'bad Include path %r: %s', arg, exc) from None
        for name in names:
            files.append(_parse_file(name, user_conf, depth + 1, True, where))
    return _Include(files, where)


# ----------------------------------------------------------------------
# Matching

_PATTERNS: Dict[str, 're.Pattern[str]'] = {}


def _match_pattern(text: str, pattern: str) -> bool:
    """OpenSSH wildcard match: ``*`` any run, ``?`` one character, nothing else special."""
    regex = _PATTERNS.get(pattern)
    if regex is None:
        regex = re.compile(''.join('.*' if c == '*' else '.' if c == '?' else re.escape(c)
                                   for c in pattern), re.S)
        _PATTERNS[pattern] = regex
    return regex.fullmatch(text) is not None


def _match_list(text: str, patterns: str, lower: bool) -> bool:
    """A comma-separated list: true if some pattern matches and no ``!pattern`` does."""
    if lower:
        text, patterns = text.lower(), patterns.lower()
    found = False
    for pattern in patterns.split(','):
        negate = pattern.startswith('!')
        if _match_pattern(text, pattern[1:] if negate else pattern):
            if negate:
                return False
            found = True
    return found


def _expand_tokens(text: str, tokens: Mapping[str, str], where: Tuple[str, int],
                   dollar: bool) -> str:
    """Expand ``%x`` tokens (and ``${ENV}`` if ``dollar``) in one pass."""
    out: List[str] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch == '%':
            if i + 1 >= n:
                raise _error(where, 'lone %% at end of %r', text)
            key = text[i + 1]
            if key == '%':
                out.append('%')
            elif key in tokens:
                out.append(tokens[key])
            else:
                raise _error(where, 'unknown token %%%s in %r', key, text)
            i += 2
        elif dollar and ch == '$' and text.startswith('${', i):
            end = text.find('}', i + 2)
            if end <= i + 2:
                raise _error(where, 'bad ${...} in %r', text)
            name = text[i + 2:end]
            value = os.environ.get(name)
            if value is None:
                raise _error(where, 'environment variable %s is not set (in %r)', name, text)
            out.append(value)
            i = end + 1
        else:
            out.append(ch)
            i += 1
    return ''.join(out)


def _expand_path(path: str, tokens: Mapping[str, str], where: Tuple[str, int]) -> str:
    if path.startswith('~'):
        head, sep, tail = path.partition('/')
        if head == '~':
            home = tokens['d']
        else:
            home = os.path.expanduser(head)
            if home == head:
                raise _error(where, 'unknown user in %r', path)
        path = home.rstrip('/') + sep + tail if sep else home
    return _expand_tokens(path, tokens, where, dollar=True)


def _local_user() -> str:
    try:
        import pwd
        return pwd.getpwuid(os.getuid()).pw_name
    except (ImportError, KeyError, AttributeError):  # pragma: no cover - not POSIX
        import getpass
        return getpass.getuser()


class _State:
    """Options gathered while walking the files for one host."""

    def __init__(self, host: str, user: Optional[str], port: Optional[int],
                 match_exec: bool) -> None:
        self.host_arg = host
        self.target = host          # what Host lines match against
        self.post_canon = False
        self.want_final = False
        self.active = True
        self.match_exec = match_exec
        self.values: Dict[str, Any] = {}
        self.origins: Dict[str, Tuple[str, int]] = {}
        self.options: Dict[str, Tuple[str, ...]] = {}
        self.identity: List[str] = []
        self.certs: List[str] = []
        self.local_user = _local_user()
        self.local_host = socket.gethostname()
        self.home = os.path.expanduser('~')
        if user is not None:
            self.values['user'] = user
        if port is not None:
            self.values['port'] = port

    # -- Host / Match --

    def current_hostname(self, where: Tuple[str, int]) -> str:
        raw = self.values.get('hostname')
        if raw is None:
            return self.host_arg
        return _expand_tokens(raw, {'h': self.host_arg}, self.origins.get('hostname', where),
                              dollar=False)

    def tokens(self, hostname: str) -> Dict[str, str]:
        port = str(self.values.get('port') or _DEFAULT_PORT)
        user = self.values.get('user') or self.local_user
        local = self.local_host
        return {
            'h': hostname, 'n': self.host_arg, 'p': port, 'r': user, 'u': self.local_user,
            'l': local, 'L': local.split('.', 1)[0], 'd': self.home,
            'i': str(os.getuid()) if hasattr(os, 'getuid') else '',
            'k': self.values.get('hostkeyalias') or self.host_arg,
            'C': hashlib.sha1((local + hostname + port + user).encode()).hexdigest(),
        }

    def match_host(self, item: _Host) -> bool:
        found = False
        for negate, pattern in item.patterns:
            if _match_pattern(self.target, pattern):
                if negate:
                    return False
                found = True
        return found

    def match(self, item: _Match, never: bool) -> bool:
        result = True
        blocked = False  # an exec we may not run: the line does not match
        for c in item.criteria:
            if c.name in ('canonical', 'final'):
                if c.name == 'final':
                    self.want_final = True
                ok = self.post_canon
            elif c.name == 'all':
                ok = True
            elif c.name == 'exec':
                if not result or never:
                    continue
                if not self.match_exec:
                    blocked = True
                    continue
                ok = self.run_exec(c.arg or '', item.where)
            else:
                ok = self.match_value(c, item.where)
            if ok == c.negate:
                result = False
        return result and not blocked

    def match_value(self, c: _Criterion, where: Tuple[str, int]) -> bool:
        assert c.arg is not None
        if c.name == 'host':
            return _match_list(self.current_hostname(where), c.arg, True)
        if c.name == 'originalhost':
            return _match_list(self.host_arg, c.arg, True)
        if c.name == 'user':
            return _match_list(self.values.get('user') or self.local_user, c.arg, False)
        if c.name == 'localuser':
            return _match_list(self.local_user, c.arg, False)
        return _match_list(self.values.get('tag') or '', c.arg, False)  # tagged

    def run_exec(self, command: str, where: Tuple[str, int]) -> bool:
        cmd = _expand_tokens(command, self.tokens(self.current_hostname(where)), where,
                             dollar=False)
        shell = os.environ.get('SHELL') or '/bin/sh'
        try:
            done = subprocess.run([shell, '-c', cmd], stdin=subprocess.DEVNULL,
                                  stdout=subprocess.DEVNULL, check=False)
        except OSError as exc:
            raise _error(where, 'cannot run Match exec %r: %s', command, exc) from None
        return done.returncode == 0

    # -- walking --

    def walk(self, items: List[Any], never: bool) -> None:
        for item in items:
            if isinstance(item, _Host):
                self.active = not never and self.match_host(item)
            elif isinstance(item, _Match):
                matched = self.match(item, never)
                self.active = not never and matched
            elif isinstance(item, _Include):
                outer = self.active
                for included in item.files:
                    self.walk(included, never or not outer)
                    self.active = outer
            elif self.active:
                self.apply(item)

    def apply(self, opt: _Option) -> None:
        key = opt.keyword
        if key in ('identityfile', 'certificatefile'):
            target = self.identity if key == 'identityfile' else self.certs
            if opt.value not in target:
                target.append(opt.value)
                self.options[key] = self.options.get(key, ()) + opt.args
            self.origins.setdefault(key, opt.where)
            return
        if key == 'proxyjump':
            # ProxyJump and ProxyCommand compete: the first one seen wins, except
            # that "ProxyJump none" does not hold back a later ProxyCommand.
            if 'proxyjump' in self.values or 'proxycommand' in self.values:
                return
        elif key == 'proxycommand':
            if 'proxycommand' in self.values or self.values.get('proxyjump'):
                return
        elif key in ('connecttimeout', 'serveraliveinterval') and opt.value is None:
            return  # "none" leaves the option unset
        if key in self.options or key in self.values:
            return
        self.options[key] = opt.args
        if key in _TYPED:
            self.values[key] = opt.value
            self.origins[key] = opt.where


_TYPED = frozenset(_SINGLE_VALUED) | {'userknownhostsfile', 'proxyjump', 'proxycommand'}


class SSHConfig:
    """A user config file and the system one, parsed once, to look hosts up in.

    ``path``: the user file; ``None`` means ``~/.ssh/config``, which may be
    missing (an empty config); an explicitly given file must exist.
    ``system_path``: read after the user file, may be missing; ``None`` to skip
    it (as ``ssh -F`` does). ``match_exec``: allow ``Match exec`` to run its
    command (see the module documentation).

    Raises :class:`~pssh.exceptions.HostConfigError` for an unreadable or bad file.
    """

    def __init__(self, path: Optional[PathArg] = None, *,
                 system_path: Optional[PathArg] = DEFAULT_SYSTEM_PATH,
                 match_exec: bool = False) -> None:
        self.match_exec = match_exec
        must_exist = path is not None
        user_path = os.path.expanduser(os.fspath(path) if path is not None else DEFAULT_USER_PATH)
        self.path = user_path
        self.system_path = os.fspath(system_path) if system_path is not None else None
        self._user_items = _parse_file(user_path, True, 0, must_exist)
        self._system_items = (_parse_file(self.system_path, False, 0, False)
                              if self.system_path is not None else [])

    def lookup(self, host: str, *, user: Optional[str] = None,
               port: Optional[int] = None) -> SSHConfigEntry:
        """Resolve the options for ``host`` (an alias or name, as given to ``ssh``).

        ``user`` and ``port`` act like ``ssh -l`` and ``ssh -p``: they win over
        the files and are what ``Match user`` and the ``%r``/``%p`` tokens see.
        """
        if not isinstance(host, str) or not host:
            raise HostConfigError('ssh config lookup needs a host name, not %r', host)
        if port is not None and (isinstance(port, bool) or not isinstance(port, int)
                                 or not 0 < port <= 65535):
            raise HostConfigError('ssh config lookup: bad port %r', port)
        state = _State(host, user, port, self.match_exec)
        self._walk(state)
        hostname = state.current_hostname(('<config>', 0)).lower()
        if state.want_final:
            state.post_canon = True
            state.target = hostname
            self._walk(state)
            hostname = state.current_hostname(('<config>', 0)).lower()
        v = state.values
        jump = v.get('proxyjump')
        return SSHConfigEntry(
            host=host,
            hostname=hostname if 'hostname' in v else None,
            user=v.get('user'),
            port=v.get('port'),
            identity_files=list(state.identity),
            certificate_files=list(state.certs),
            proxy_jump=list(jump) if jump is not None else None,
            proxy_command=v.get('proxycommand') if not jump else None,
            connect_timeout=v.get('connecttimeout'),
            server_alive_interval=v.get('serveraliveinterval'),
            user_known_hosts_files=v.get('userknownhostsfile'),
            strict_host_key_checking=v.get('stricthostkeychecking'),
            compression=v.get('compression'),
            options=dict(state.options),
            _tokens=state.tokens(hostname),
            _origins=dict(state.origins),
        )

    def _walk(self, state: _State) -> None:
        for items in (self._user_items, self._system_items):
            state.active = True
            state.walk(items, False)


def lookup(host: str, path: Optional[PathArg] = None, *, user: Optional[str] = None,
           port: Optional[int] = None, system_path: Optional[PathArg] = DEFAULT_SYSTEM_PATH,
           match_exec: bool = False) -> SSHConfigEntry:
    """Read the config files and resolve the options for ``host``.

    Same as ``SSHConfig(path, system_path=..., match_exec=...).lookup(host,
    user=..., port=...)``; use :class:`SSHConfig` to look up many hosts
    without reading the files again.
    """
    return SSHConfig(path, system_path=system_path, match_exec=match_exec).lookup(
        host, user=user, port=port)


_POLICY = {'yes': 'strict', 'ask': 'strict', 'accept-new': 'accept-new', 'no': 'accept-new'}


def to_host_config_kwargs(entry: SSHConfigEntry) -> Dict[str, Any]:
    """Keyword values for pssh's clients and HostConfig from ``entry``.

    Only what the config set is present, so that the client's own values apply
    to the rest:

    ``hostname``          address to connect to, when ``HostName`` differs from the alias
    ``user``, ``port``    (also when they came from :meth:`SSHConfig.lookup`'s arguments)
    ``identity_files``    ``IdentityFile`` paths expanded, in order, existing or not
    ``proxy_jump``        ``["[user@]host[:port]", ...]``; ``None`` for ``ProxyJump none``
    ``timeout``           ``ConnectTimeout`` seconds
    ``keepalive_seconds`` ``ServerAliveInterval`` seconds
    ``known_hosts``       ``UserKnownHostsFile`` paths expanded; ``[]`` for ``none``
    ``host_key_policy``   ``'strict'`` for ``yes``/``ask``; ``'accept-new'`` for
                          ``accept-new`` and for ``no``/``off`` (a changed key is
                          never accepted)
    ``compress``          ``Compression``

    A ``ProxyCommand`` (which won over ``ProxyJump``) is not mapped: pssh has no
    equivalent; see :attr:`SSHConfigEntry.proxy_command`.
    """
    out: Dict[str, Any] = {}
    if entry.hostname is not None and entry.hostname != entry.host.lower():
        out['hostname'] = entry.hostname
    if entry.user is not None:
        out['user'] = entry.user
    if entry.port is not None:
        out['port'] = entry.port
    if entry.identity_files:
        out['identity_files'] = entry.identity_file_paths()
    if entry.proxy_jump is not None:
        out['proxy_jump'] = [str(hop) for hop in entry.proxy_jump] or None
    if entry.connect_timeout is not None:
        out['timeout'] = entry.connect_timeout
    if entry.server_alive_interval is not None:
        out['keepalive_seconds'] = entry.server_alive_interval
    known = entry.known_hosts_paths()
    if known is not None:
        out['known_hosts'] = known
    if entry.strict_host_key_checking is not None:
        out['host_key_policy'] = _POLICY[entry.strict_host_key_checking]
    if entry.compression is not None:
        out['compress'] = entry.compression
    return out
