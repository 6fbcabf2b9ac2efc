"""Checks of the arguments the clients take.

A bad argument fails at the call that takes it, with an error naming the
setting (and the host, where there is one), never later inside a greenlet or as
an error of the SSH library. The rule: a value of the wrong type raises
:class:`TypeError`, a value of the right type out of range raises
:class:`ValueError` (:class:`~pssh.config.HostConfig` raises ValueError for both,
as its contract says). Messages never echo the value of a secret (password,
passphrase, key): only its type.
"""
import codecs
from typing import Any, Optional

_NUMBER = (int, float)


def _where(owner: str, host: Optional[str]) -> str:
    return '%s for %s' % (owner, host) if host else owner


def _is_number(value: Any) -> bool:
    return isinstance(value, _NUMBER) and not isinstance(value, bool)


def port(name: str, value: Any, owner: str = '', host: Optional[str] = None,
         optional: bool = False) -> None:
    """``value`` is a TCP port, 1 to 65535 (or None when ``optional``)."""
    if value is None and optional:
        return
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError('%s: %s must be an int between 1 and 65535, got %s' % (
            _where(owner, host), name, type(value).__name__))
    if not 0 < value < 65536:
        raise ValueError('%s: %s must be between 1 and 65535, got %r' % (
            _where(owner, host), name, value))


def seconds(name: str, value: Any, owner: str = '', host: Optional[str] = None,
            optional: bool = True) -> None:
    """``value`` is a non-negative number of seconds (or None when ``optional``)."""
    if value is None and optional:
        return
    if not _is_number(value):
        raise TypeError('%s: %s must be a number of seconds%s, got %s' % (
            _where(owner, host), name, ' or None' if optional else '', type(value).__name__))
    if not value >= 0:  # also refuses NaN
        raise ValueError('%s: %s must not be negative, got %r' % (_where(owner, host), name,
                                                                  value))


def read_timeout(value: Any, owner: str = '', host: Optional[str] = None) -> Optional[float]:
    """Check a ``read_timeout`` and return it with 0 as None: both mean no
    timeout, as in parallel-ssh."""
    seconds('read_timeout', value, owner, host)
    return value or None


def copy_paths(owner: str, host: Optional[str], local_file: Any, remote_file: Any) -> None:
    """The two paths of a copy hold no NUL."""
    no_nul('local_file', local_file, owner, host)
    no_nul('remote_file', remote_file, owner, host)


def count(name: str, value: Any, owner: str = '', host: Optional[str] = None,
          minimum: int = 0, optional: bool = False) -> None:
    """``value`` is an int of at least ``minimum`` (or None when ``optional``)."""
    if value is None and optional:
        return
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError('%s: %s must be an int, got %s' % (_where(owner, host), name,
                                                          type(value).__name__))
    if value < minimum:
        raise ValueError('%s: %s must be at least %s, got %r' % (_where(owner, host), name,
                                                                minimum, value))


def text(name: str, value: Any, owner: str = '', host: Optional[str] = None,
         optional: bool = True, empty: bool = True) -> None:
    """``value`` is a str (or None when ``optional``). Its value is never shown:
    this also checks passwords."""
    if value is None and optional:
        return
    if not isinstance(value, str):
        raise TypeError('%s: %s must be a str%s, got %s' % (
            _where(owner, host), name, ' or None' if optional else '', type(value).__name__))
    if not empty and not value:
        raise ValueError('%s: %s must not be empty' % (_where(owner, host), name))


def no_nul(name: str, value: Any, owner: str = '', host: Optional[str] = None) -> None:
    """``value`` (a str or bytes, or anything else, which is not checked here) holds
    no NUL: C code would end the string there, so that a command, a name or a path
    would silently mean something shorter (as :mod:`subprocess` refuses too)."""
    if (isinstance(value, str) and '\0' in value) or (isinstance(value, bytes)
                                                         and b'\0' in value):
        raise ValueError('%s: %s must not contain a NUL byte' % (_where(owner, host), name))


#: The kinds of algorithm lists a caller may set.
ALGORITHM_KINDS = ('kex', 'hostkey', 'cipher', 'mac')


def algorithms(value: Any, owner: str = '', host: Optional[str] = None) -> Optional[dict]:
    """``algorithms``: None, or a mapping of kinds to algorithm names (a
    comma-separated str or a sequence of str). Returns the lists as
    comma-separated strs.

    :raises TypeError: not a mapping, or a list of the wrong type.
    :raises ValueError: an unknown kind, or an empty list.
    """
    if value is None:
        return None
    if not hasattr(value, 'items'):
        raise TypeError('%s: algorithms must be a dict of %s to algorithm names, got %s' % (
            _where(owner, host), ', '.join(ALGORITHM_KINDS), type(value).__name__))
    lists = {}
    for kind, names in value.items():
        if kind not in ALGORITHM_KINDS:
            raise ValueError('%s: algorithms: unknown kind %r, expected one of %s' % (
                _where(owner, host), kind, ', '.join(ALGORITHM_KINDS)))
        if isinstance(names, str):
            names = names.split(',')
        if not isinstance(names, (list, tuple)) or not all(
                isinstance(name, str) for name in names):
            raise TypeError('%s: algorithms[%r] must be a str or a list of str, got %s' % (
                _where(owner, host), kind, type(names).__name__))
        names = [name.strip() for name in names if name.strip()]
        if not names:
            raise ValueError('%s: algorithms[%r] is empty' % (_where(owner, host), kind))
        for name in names:
            no_nul('algorithms[%r]' % (kind,), name, owner, host)
        lists[kind] = ','.join(names)
    return lists


def keepalive(value: Any, owner: str = '', host: Optional[str] = None) -> None:
    """``keepalive_seconds``: None, False, or a non-negative int."""
    if value is None or value is False:
        return
    count('keepalive_seconds', value, owner, host)


def encoding(value: Any) -> None:
    """``value`` names a codec.

    :raises TypeError: it is not a str.
    :raises LookupError: no codec has that name.
    """
    if not isinstance(value, str):
        raise TypeError('encoding must be the name of a codec such as "utf-8", got %s'
                        % type(value).__name__)
    codecs.lookup(value)


def settings(owner: str, host: Optional[str] = None, **values: Any) -> None:
    """Check the connection settings both clients take, those given in ``values``."""
    if 'port' in values:
        port('port', values['port'], owner, host)
    if 'proxy_port' in values:
        port('proxy_port', values['proxy_port'], owner, host, optional=True)
    for name in ('timeout', 'retry_delay'):
        if name in values:
            seconds(name, values[name], owner, host)
    if 'num_retries' in values:
        count('num_retries', values['num_retries'], owner, host, optional=True)
    if 'keepalive_seconds' in values:
        keepalive(values['keepalive_seconds'], owner, host)
    for name in ('user', 'password', 'alias', 'proxy_user', 'proxy_password'):
        if name in values:
            text(name, values[name], owner, host)
    if 'proxy_host' in values:
        text('proxy_host', values['proxy_host'], owner, host, empty=False)
    for name in ('user', 'proxy_user', 'proxy_host'):
        if name in values:
            no_nul(name, values[name], owner, host)
