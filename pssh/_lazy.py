"""Package attributes imported on first use (PEP 562 module ``__getattr__``).

The client packages name their classes without importing them, so that a
program importing only a light module under them (the command line's
``--version``, :func:`pssh.security_report`) does not pay for gevent and every
client module. ``from pssh.clients import ParallelSSHClient`` and
``pssh.clients.native.SSHClient`` work as before: the first use imports.
"""
import importlib
from typing import Any, Collection, Dict, List, Mapping


def resolve(namespace: Dict[str, Any], name: str, exports: Mapping[str, str],
            submodules: Collection[str] = ()) -> Any:
    """The attribute ``name`` of the package whose globals are ``namespace``.

    :param exports: names the package gives, each to the (relative) module
      that defines it.
    :param submodules: submodules reachable as attributes without importing
      them first, as when the package imported them itself.
    :raises AttributeError: ``name`` is neither.
    """
    package = namespace['__name__']
    if name in exports:
        value = getattr(importlib.import_module(exports[name], package), name)
    elif name in submodules:
        value = importlib.import_module('.' + name, package)
    else:
        raise AttributeError('module %r has no attribute %r' % (package, name))
    namespace[name] = value  # the next lookup does not come here
    return value


def names(namespace: Dict[str, Any], exports: Mapping[str, str],
          submodules: Collection[str] = ()) -> List[str]:
    """What ``dir()`` of the package lists: its globals and the lazy names."""
    return sorted(set(namespace) | set(exports) | set(submodules))
