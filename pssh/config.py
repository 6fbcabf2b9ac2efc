"""Per-host configuration, and the one place where host and client settings merge."""
import inspect
import os
from typing import Any, Dict, Optional, Tuple, Union

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
}

# The contract's fields, in its order; the rest are ours and keyword-only.
_POSITIONAL = tuple(name for name in _FIELDS if name != 'proxy_jump')

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


def merge(client_values: Dict[str, Any], host_config: Optional[HostConfig],
          mapping: Optional[Dict[str, str]] = None) -> Dict[str, Any]:
    """Settings for one host: the client's values, overridden by what the host sets.

    :param client_values: the client's settings, keyed by client argument name.
    :param host_config: the host's :class:`HostConfig`, or None.
    :param mapping: client argument name -> HostConfig field name where they
      differ (``pkey`` -> ``private_key``).
    """
    result = dict(client_values)
    if host_config is None:
        return result
    mapping = mapping or {}
    for arg in client_values:
        field = mapping.get(arg, arg)
        if field in _FIELDS and host_config.is_set(field):
            result[arg] = getattr(host_config, field)
    return result


KeyType = Union[str, bytes, os.PathLike, None]
