"""Per-host configuration, and the one place where host and client settings merge."""
import inspect
import os
from typing import Any, Dict, FrozenSet, Optional, Tuple, Union

from . import _checks, hostkeys
from .constants import DEFAULT_RETRIES, RETRY_DELAY
from .exceptions import InvalidAPIUseError

__all__ = ['HostConfig']


class _Unset:
    """Marks a setting that was not given, so that ``False`` and ``0`` are real values."""

    _instance = None

    def __new__(cls) -> '_Unset':
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return 'UNSET'

    def __bool__(self) -> bool:
        return False


UNSET: Any = _Unset()

_STR = (str,)
_INT = (int,)
_NUM = (int, float)
_BOOL = (bool,)
_KEY = (str, bytes, os.PathLike)

# name -> (accepted types, public default)
_FIELDS: Dict[str, Tuple[tuple, Any]] = {
    'user': (_STR, None),
    'port': (_INT, None),
    'password': (_STR, None),
    'private_key': (_KEY, None),
    'allow_agent': (_BOOL, None),
    'alias': (_STR, None),
    'num_retries': (_INT, None),
    'retry_delay': (_NUM, None),
    'timeout': (_NUM, None),
    'identity_auth': (_BOOL, None),
    'proxy_host': (_STR, None),
    'proxy_port': (_INT, None),
    'proxy_user': (_STR, None),
    'proxy_password': (_STR, None),
    'proxy_pkey': (_KEY, None),
    'keepalive_seconds': (_INT, None),
    'ipv6_only': (_BOOL, None),
    'cert_file': (_KEY, None),
    'auth_thread_pool': (_BOOL, True),
    'gssapi_auth': (_BOOL, False),
    'gssapi_server_identity': (_STR, None),
    'gssapi_client_identity': (_STR, None),
    'gssapi_delegate_credentials': (_BOOL, False),
    'forward_ssh_agent': (_BOOL, False),
    'compress': (_BOOL, False),
    'keyboard_interactive': (_BOOL, False),
    # Ours: a chain of bastions for this host (see ParallelSSHClient's proxy_jump).
    'proxy_jump': ((list, tuple, str, dict), None),
    # Ours: host key checking for this host (see pssh.hostkeys).
    'host_key_policy': (_STR, None),
    'known_hosts': ((str, os.PathLike, list, tuple), None),
    'host_key': ((str, bytes, list, tuple), None),
    # Ours: the address to connect to (an ssh config HostName), and the
    # identity files tried instead of the default ones.
    'hostname': (_STR, None),
    'identity_files': ((str, os.PathLike, list, tuple), None),
    # Ours: algorithm lists by kind (see the clients' algorithms).
    'algorithms': ((dict,), None),
}

_OURS = ('proxy_jump', 'host_key_policy', 'known_hosts', 'host_key', 'hostname',
         'identity_files', 'algorithms')
# The contract's fields, in its order; the rest are ours and keyword-only.
_POSITIONAL = tuple(name for name in _FIELDS if name not in _OURS)

_SECRETS = frozenset(('password', 'proxy_password'))
_PORTS = frozenset(('port', 'proxy_port'))
_NON_NEGATIVE = frozenset(('num_retries', 'retry_delay', 'timeout', 'keepalive_seconds'))


# Keys of a proxy hop dict (or any nested setting) whose values are never shown.
_SECRET_KEYS = frozenset(('password', 'proxy_password', 'passphrase', 'pkey', 'private_key',
                          'proxy_pkey'))


def _safe_repr(value: Any) -> str:
    """repr of a setting, with passwords and key bytes nested in it left out."""
    if isinstance(value, bytes):
        return '<hidden>'
    if isinstance(value, dict):
        return '{%s}' % ', '.join(
            '%r: %s' % (key, '<hidden>' if key in _SECRET_KEYS and item is not None
                        else _safe_repr(item))
            for key, item in value.items())
    if isinstance(value, (list, tuple)) and type(value) in (list, tuple):
        inner = ', '.join(_safe_repr(item) for item in value)
        if isinstance(value, list):
            return '[%s]' % inner
        return '(%s%s)' % (inner, ',' if len(value) == 1 else '')
    return repr(value)  # a Hop's repr shows no secrets


def _check(name: str, value: Any) -> None:
    types = _FIELDS[name][0]
    if types is not _BOOL and isinstance(value, bool):
        raise ValueError('HostConfig %s must be %s, not a bool' % (
            name, ' or '.join(t.__name__ for t in types)))
    if not isinstance(value, types):
        raise ValueError('HostConfig %s must be %s, got %s' % (
            name, ' or '.join(t.__name__ for t in types), type(value).__name__))
    if name in _PORTS and not 0 < value < 65536:
        raise ValueError('HostConfig %s must be between 1 and 65535, got %r' % (name, value))
    if name in _NON_NEGATIVE and value < 0:
        raise ValueError('HostConfig %s must not be negative, got %r' % (name, value))
    if name in _NO_NUL and '\0' in value:
        raise ValueError('HostConfig %s must not contain a NUL byte' % (name,))
    if name == 'algorithms':
        try:
            _checks.algorithms(value, 'HostConfig')
        except TypeError as exc:
            raise ValueError(str(exc)) from None
    if name in _HOST_KEY_FIELDS:
        try:
            hostkeys.check_settings(**{name: value})
        except InvalidAPIUseError as exc:
            raise ValueError('HostConfig %s: %s' % (name, exc)) from None


#: Names that C code would cut short at a NUL.
_NO_NUL = frozenset(('user', 'proxy_host', 'proxy_user', 'hostname'))

_HOST_KEY_FIELDS = frozenset(('host_key_policy', 'known_hosts', 'host_key'))


class HostConfig:
    """Settings for one host of a :class:`~pssh.clients.ParallelSSHClient`.

    Pass a list of these as ``host_config``, one per host and in the same order.
    Every setting given here overrides the client's value for that host, even when
    it is ``False`` or ``0``; settings left out fall back to the client's.

    ``private_key`` and ``proxy_pkey`` are a path to a key file or the key itself
    as ``bytes``. ``password`` is also the passphrase of ``private_key``.

    :raises ValueError: a value of the wrong type, or a port out of range.
    :raises pssh.exceptions.InvalidAPIUseError: ``keyboard_interactive`` without
      a password.
    """

    __slots__ = tuple(_FIELDS) + ('_given',)

    # The fields of _FIELDS, for type checkers: __init__ sets every one.
    user: Optional[str]
    port: Optional[int]
    password: Optional[str]
    private_key: Any
    allow_agent: Optional[bool]
    alias: Optional[str]
    num_retries: Optional[int]
    retry_delay: Optional[float]
    timeout: Optional[float]
    identity_auth: Optional[bool]
    proxy_host: Optional[str]
    proxy_port: Optional[int]
    proxy_user: Optional[str]
    proxy_password: Optional[str]
    proxy_pkey: Any
    keepalive_seconds: Optional[int]
    ipv6_only: Optional[bool]
    cert_file: Any
    auth_thread_pool: bool
    gssapi_auth: bool
    gssapi_server_identity: Optional[str]
    gssapi_client_identity: Optional[str]
    gssapi_delegate_credentials: bool
    forward_ssh_agent: bool
    compress: bool
    keyboard_interactive: bool
    proxy_jump: Any
    host_key_policy: Optional[str]
    known_hosts: Any
    host_key: Any
    hostname: Optional[str]
    identity_files: Any
    algorithms: Optional[Dict[str, Any]]
    _given: FrozenSet[str]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        if len(args) > len(_POSITIONAL):
            raise TypeError('HostConfig takes at most %d positional arguments (%d given)'
                            % (len(_POSITIONAL), len(args)))
        for name, value in zip(_POSITIONAL, args):
            if name in kwargs:
                raise TypeError('HostConfig got multiple values for argument %r' % (name,))
            kwargs[name] = value
        unknown = set(kwargs) - set(_FIELDS)
        if unknown:
            raise TypeError('HostConfig got unexpected argument(s): %s' % ', '.join(sorted(unknown)))
        given = set()
        for name, (_types, default) in _FIELDS.items():
            value = kwargs.get(name, UNSET)
            if value is UNSET or (value is None and default is None):
                object.__setattr__(self, name, default)
                continue
            if value is None:
                raise ValueError('HostConfig %s must not be None' % (name,))
            _check(name, value)
            object.__setattr__(self, name, value)
            given.add(name)
        object.__setattr__(self, '_given', frozenset(given))
        if self.keyboard_interactive and not self.password:
            raise InvalidAPIUseError(
                'keyboard_interactive=True needs a password to answer the prompt')

    def __setattr__(self, name: str, value: Any) -> None:
        if name not in _FIELDS:
            raise AttributeError('HostConfig has no setting %r' % (name,))
        if value is not None:
            _check(name, value)
        object.__setattr__(self, name, value)
        given = set(self._given)
        if value is None:
            given.discard(name)
        else:
            given.add(name)
        object.__setattr__(self, '_given', frozenset(given))

    @classmethod
    def from_ssh_config(cls, host: str, path: Union[None, str, 'os.PathLike[str]'] = None, *,
                        user: Optional[str] = None, **overrides: Any) -> 'HostConfig':
        """The settings OpenSSH's client configuration gives ``host``.

        Reads ``path`` alone, like ``ssh -F path``; by default ``~/.ssh/config``
        (if it exists) and then ``/etc/ssh/ssh_config``. Only what the files set
        is set (see :doc:`/ssh_config` for the keywords used); ``overrides`` are
        further HostConfig settings, which win.

        :param user: the user to look up as (``Match user``), like ``ssh -l``.
        :raises HostConfigError: a file is missing (``path`` given) or invalid.
        """
        settings = ssh_config_settings(host, True if path is None else path, user=user)
        settings.update(overrides)
        return cls(**settings)

    def is_set(self, name: str) -> bool:
        """True when ``name`` was given a value (other than None) for this host."""
        return name in self._given

    def settings(self) -> Dict[str, Any]:
        """The settings given for this host, as a dict."""
        return {name: getattr(self, name) for name in self._given}

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, HostConfig):
            return NotImplemented
        return all(getattr(self, n) == getattr(other, n) for n in _FIELDS)

    def __repr__(self) -> str:
        shown = []
        for name in _FIELDS:
            if name not in self._given:
                continue
            value = getattr(self, name)
            hidden = name in _SECRETS or isinstance(value, bytes)
            shown.append('%s=<hidden>' % name if hidden else '%s=%s' % (name, _safe_repr(value)))
        return 'HostConfig(%s)' % ', '.join(shown)

    __str__ = __repr__


# The public signature lists the documented defaults; "not given" is tracked
# internally so that an explicit False or 0 still overrides the client. Our own
# additions are keyword-only.
HostConfig.__init__.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
    [inspect.Parameter('self', inspect.Parameter.POSITIONAL_OR_KEYWORD)]
    + [inspect.Parameter(name, inspect.Parameter.POSITIONAL_OR_KEYWORD,
                         default=_FIELDS[name][1]) for name in _POSITIONAL]
    + [inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=_FIELDS[name][1])
       for name in _FIELDS if name not in _POSITIONAL])


KeyType = Union[str, bytes, os.PathLike, None]


def open_ssh_config(ssh_config: Any) -> Any:
    """The parsed config files for a client's ``ssh_config`` argument, or None.

    ``True`` reads ``~/.ssh/config`` and ``/etc/ssh/ssh_config`` as ``ssh`` does;
    a path reads that file alone, like ``ssh -F``.

    :raises HostConfigError: the file is missing or invalid.
    :raises InvalidAPIUseError: ``ssh_config`` is neither a bool nor a path.
    """
    from . import _ssh_config
    if ssh_config is None or ssh_config is False:
        return None
    if ssh_config is True:
        return _ssh_config.SSHConfig()
    if isinstance(ssh_config, (str, os.PathLike)):
        return _ssh_config.SSHConfig(ssh_config, system_path=None)
    if isinstance(ssh_config, _ssh_config.SSHConfig):
        return ssh_config
    raise InvalidAPIUseError('ssh_config must be True or the path of a config file, not %s',
                             type(ssh_config).__name__)


def ssh_config_settings(host: str, ssh_config: Any, user: Optional[str] = None) -> Dict[str, Any]:
    """Client settings for ``host`` from an ssh config (see :func:`open_ssh_config`)."""
    from . import _ssh_config
    config = open_ssh_config(ssh_config)
    if config is None:
        return {}
    found = _ssh_config.to_host_config_kwargs(config.lookup(host, user=user))
    if found.get('proxy_jump', ()) is None:     # "ProxyJump none"
        del found['proxy_jump']
    return found


#: A single-host client's settings and their defaults (the backends add their own).
CLIENT_DEFAULTS: Dict[str, Any] = {
    'user': None, 'password': None, 'port': None, 'pkey': None, 'alias': None,
    'num_retries': DEFAULT_RETRIES, 'retry_delay': RETRY_DELAY, 'allow_agent': True,
    'timeout': None,
    'proxy_host': None, 'proxy_port': None, 'proxy_pkey': None, 'proxy_user': None,
    'proxy_password': None, 'forward_ssh_agent': False, 'keepalive_seconds': 60,
    'identity_auth': True, 'ipv6_only': False, 'compress': False,
    'keyboard_interactive': False, 'proxy_jump': None, 'host_key_policy': None,
    'known_hosts': None, 'host_key': None, 'hostname': None, 'identity_files': None,
    'ssh_config': None, 'algorithms': None,
}


class ClientSettings:
    """The settings of one single-host client, resolved once, remembering which
    of them the caller gave (an argument away from its default, or a field a
    :class:`HostConfig` set) as opposed to defaults and ssh config values.

    Immutable: each ``with_*`` method returns new settings. Read a setting as an
    attribute (``settings.port``).
    """

    __slots__ = ('host', '_values', 'given', '_config_applied')

    def __init__(self, host: str, values: Dict[str, Any], given: FrozenSet[str],
                 config_applied: bool = False) -> None:
        self.host = host
        self._values = values
        #: The settings the caller gave.
        self.given = given
        self._config_applied = config_applied

    @classmethod
    def from_arguments(cls, host: str, arguments: Dict[str, Any],
                       defaults: Optional[Dict[str, Any]] = None) -> 'ClientSettings':
        """Settings from a client's arguments (``defaults``: what counts as not given)."""
        defaults = CLIENT_DEFAULTS if defaults is None else defaults
        values = dict(CLIENT_DEFAULTS, **arguments)
        given = frozenset(name for name, value in arguments.items()
                          if name not in defaults or not _same(value, defaults[name]))
        return cls(host, values, given)

    def __getattr__(self, name: str) -> Any:
        try:
            return self._values[name]
        except KeyError:
            raise AttributeError(name) from None

    def get(self, name: str, default: Any = None) -> Any:
        return self._values.get(name, default)

    def replace(self, **values: Any) -> 'ClientSettings':
        """These settings with ``values`` changed (what they were given as is kept)."""
        return ClientSettings(self.host, dict(self._values, **values), self.given,
                              self._config_applied)

    def with_host_config(self, config: Optional[HostConfig],
                         mapping: Optional[Dict[str, str]] = None) -> 'ClientSettings':
        """These settings with what ``config`` sets, which counts as given."""
        if config is None:
            return self
        mapping = mapping or {}
        values = dict(self._values)
        given = set(self.given)
        for name in self._values:
            field = mapping.get(name, name)
            if field in _FIELDS and config.is_set(field):
                values[name] = getattr(config, field)
                given.add(name)
        return ClientSettings(self.host, values, frozenset(given), self._config_applied)

    def with_ssh_config(self) -> 'ClientSettings':
        """These settings with the ``ssh_config`` entry of the host filling in
        what was not given (as ``ssh``'s command line wins over its config; a
        ``proxy_host`` keeps the config's ProxyJump out). Applied once."""
        ssh_config = self._values.get('ssh_config')
        if self._config_applied or not ssh_config:
            return self
        found = ssh_config_settings(self.host, ssh_config, user=self._values.get('user'))
        values = dict(self._values)
        for name, value in found.items():
            if name in self.given:
                continue
            if name == 'proxy_jump' and values.get('proxy_host') is not None:
                continue
            values[name] = value
        return ClientSettings(self.host, values, self.given, True)

    def checked(self, owner: str) -> 'ClientSettings':
        """These settings with the ssh config applied, checked (raising a clear
        error naming ``owner`` and the host), and normalised: port 22 by
        default, a timeout of 0 meaning none, identity files as expanded paths.

        :raises ValueError: the host is not a non-empty string.
        :raises InvalidAPIUseError: a setting is out of range or contradictory.
        """
        host = self.host
        _checks.no_nul('host', host, owner)
        settings = self.with_ssh_config() if isinstance(host, str) and host else self
        if not isinstance(host, str) or not host:
            raise ValueError('host must be a non-empty host name string, got %s %r'
                             % (type(host).__name__, host))
        v = dict(settings._values)
        if v['port'] is None:
            v['port'] = 22
        _checks.settings(owner, host, **{name: v[name] for name in (
            'port', 'proxy_port', 'timeout', 'retry_delay', 'num_retries', 'keepalive_seconds',
            'user', 'password', 'alias', 'proxy_host', 'proxy_user', 'proxy_password')})
        if v['keyboard_interactive'] and not v['password']:
            raise InvalidAPIUseError(
                'keyboard_interactive=True needs a password to answer the prompt (host %s)', host)
        v['algorithms'] = _checks.algorithms(v['algorithms'], owner, host)
        v['num_retries'] = (max(1, int(v['num_retries'])) if v['num_retries'] is not None
                            else CLIENT_DEFAULTS['num_retries'])
        if v['retry_delay'] is None:
            v['retry_delay'] = CLIENT_DEFAULTS['retry_delay']
        # 0 means no timeout, as None does (a socket timeout of 0 would make
        # every connect fail at once).
        v['timeout'] = v['timeout'] or None
        files = v['identity_files']
        if files is not None:
            if isinstance(files, (str, bytes, os.PathLike)):
                files = [files]
            v['identity_files'] = tuple(os.path.expanduser(os.fspath(path)) for path in files)
        return ClientSettings(host, v, settings.given, True)

    def bastion_host_keys(self) -> Tuple[Any, Any]:
        """``(host_key_policy, known_hosts)`` as the caller gave them (None where
        not given): a bastion's key is checked so, else as its own ssh config
        entry says, never as the target's entry alone says."""
        values, given = self._values, self.given
        return (values.get('host_key_policy') if 'host_key_policy' in given else None,
                values.get('known_hosts') if 'known_hosts' in given else None)

    def __repr__(self) -> str:
        given = {name: value for name, value in self._values.items() if name in self.given}
        return '<ClientSettings %s given=%s>' % (self.host, _safe_repr(given))


def _same(value: Any, default: Any) -> bool:
    try:
        return bool(value is default or value == default)
    except Exception:  # noqa: BLE001 - an odd object compares as different
        return False
