"""What code written for the 1.x API still gets, with a DeprecationWarning.

Everything here warns through :mod:`pssh._deprecation`, pointing at the
caller's line. The clients hand their results and arguments to these helpers;
they hold no 1.x logic of their own.
"""
import warnings
from typing import Any, Dict, Iterator, List, Mapping, Optional, Tuple

from ._deprecation import warn

__all__ = ['OutputList', 'legacy_run_kwargs', 'host_config_from_dict', 'HostClients']

UNSET: Any = object()


class OutputList(list):
    """The list of HostOutput returned by ``run_command``.

    A real ``list``. For 1.x code it also answers the dict-style uses of the old
    output dict, each with a DeprecationWarning: ``output['host']`` (that host's
    first output), ``output[host_output]`` (the output itself), ``items()``,
    ``keys()`` and ``values()`` (in host order).
    """

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, (int, slice)):
            return list.__getitem__(self, key)
        warn('Indexing run_command output by host is deprecated: the output is a list '
             'of HostOutput in host order', stacklevel=2)
        if isinstance(key, str):
            for host_out in self:
                if host_out.host == key:
                    return host_out
            raise KeyError(key)
        for host_out in self:
            if host_out is key:
                return host_out
        raise KeyError(key)

    def items(self) -> List[Tuple[str, Any]]:
        warn('output.items() is deprecated: iterate over the list of HostOutput',
             stacklevel=2)
        return [(host_out.host, host_out) for host_out in self]

    def keys(self) -> List[str]:
        warn('output.keys() is deprecated: use [o.host for o in output]', stacklevel=2)
        return [host_out.host for host_out in self]

    def values(self) -> List[Any]:
        warn('output.values() is deprecated: the output is already a list', stacklevel=2)
        return list(self)


def legacy_run_kwargs(return_list: Any, timeout: Any, read_timeout: Optional[float]
                      ) -> Optional[float]:
    """Warn about 1.x run_command arguments; returns the read timeout to use."""
    if return_list is not UNSET:
        warn('run_command(return_list=...) is deprecated: output is always a list',
             stacklevel=3)
    if timeout is not UNSET:
        warn('run_command(timeout=...) is deprecated: use read_timeout', stacklevel=3)
        if read_timeout is None:
            return timeout
    return read_timeout


def host_config_from_dict(host_config: Mapping[str, Any], hosts: List[str]) -> List[Any]:
    """A 1.x ``{host: {'user':..., 'port':..., 'password':..., 'private_key':...}}``
    as the list of HostConfig the clients take.

    A host's settings may use any HostConfig field name (1.x read only ``user``,
    ``port``, ``password`` and ``private_key``), or be a HostConfig. Other keys,
    which 1.x ignored, are ignored with a UserWarning naming the host and key.
    """
    from .config import _FIELDS, HostConfig
    from .exceptions import HostConfigError, InvalidAPIUseError
    warn('A dict host_config is deprecated: pass a list of HostConfig, one per host',
         stacklevel=5)
    configs = []
    warned = set()
    for host in hosts:
        settings = host_config.get(host)
        if isinstance(settings, HostConfig):
            configs.append(settings)
            continue
        if settings is None:
            settings = {}
        if not isinstance(settings, Mapping):
            raise HostConfigError('host_config[%r] must be a dict of settings or a HostConfig, '
                                  'got %s', host, type(settings).__name__)
        used = {}
        for key, value in settings.items():
            if key in _FIELDS:
                used[key] = value
            elif (host, key) not in warned:
                warned.add((host, key))
                warnings.warn('host_config[%r]: ignoring unknown setting %r (HostConfig has '
                              'no such field)' % (host, key), UserWarning, stacklevel=5)
        try:
            configs.append(HostConfig(**used))
        except (TypeError, ValueError, InvalidAPIUseError) as exc:
            raise HostConfigError('host_config[%r]: %s', host, exc) from None
    return configs


class HostClients(Mapping):
    """``client.host_clients[host]``: the connected client of a host's first position."""

    def __init__(self, clients: Dict[Tuple[int, str], Any]) -> None:
        self._clients = clients

    def _by_host(self) -> Dict[str, Any]:
        result: Dict[str, Any] = {}
        for (_index, host), client in sorted(self._clients.items()):
            result.setdefault(host, client)
        return result

    def __getitem__(self, host: str) -> Any:
        return self._by_host()[host]

    def __iter__(self) -> Iterator[str]:
        return iter(self._by_host())

    def __len__(self) -> int:
        return len(self._by_host())
