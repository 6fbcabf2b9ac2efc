"""pssh: run commands and copy files on many hosts at once over SSH.

Importing the package has no side effects beyond creating two loggers, each with
a single :class:`logging.NullHandler`: ``pssh`` (library diagnostics) and
``pssh.host_logger`` (one record per line of remote output, when enabled).
"""
import logging
from typing import Any, Dict

__version__ = '0.1.0'

logger = logging.getLogger('pssh')
host_logger = logging.getLogger('pssh.host_logger')

for _log in (logger, host_logger):
    if not any(isinstance(h, logging.NullHandler) for h in _log.handlers):
        _log.addHandler(logging.NullHandler())
del _log

__all__ = ['__version__', 'logger', 'host_logger', 'security_report']


def security_report() -> Dict[str, Any]:
    """What protects this installation against hostile servers.

    :returns: a dict: ``'libssh2'`` and ``'libssh'`` each hold the ``'version'``
      of the library that is loaded and the published ``'advisories'`` that
      affect it (``id``, ``summary``, and ``mitigated_by``, the defence of
      ours that answers it); ``'mitigations'`` says which of those defences
      are active. See :doc:`/security`.
    """
    from ._security import report
    return report()

_OLD_EXCEPTION_NAMES = ('UnknownHostException', 'AuthenticationException',
                        'ConnectionErrorException', 'SSHException')


_OLD_CLIENT_NAMES = ('ParallelSSHClient', 'SSHClient')

#: Current modules reachable after a bare ``import pssh`` (``pssh.utils``).
#: Importing :mod:`pssh.clients` used to import most of them as a side effect.
_SUBMODULES = ('clients', 'config', 'constants', 'exceptions', 'hostkeys', 'output', 'utils')


def __getattr__(name: str) -> Any:
    # 1.x code imported exceptions and the clients from the package itself.
    # Resolved lazily, so that importing pssh stays free of gevent and the SSH
    # libraries. For "from pssh import X" the lookup comes from importlib, whose
    # frames the warnings module skips, so each warning points at the importing line.
    from ._deprecation import warn
    if name in _OLD_EXCEPTION_NAMES:
        from . import exceptions
        warn('Importing %s from pssh is deprecated: use pssh.exceptions' % name)
        value = getattr(exceptions, name)
    elif name in _OLD_CLIENT_NAMES:
        from .clients import native
        # Both names at once, so that the 1.x line importing the two warns once.
        warn('Importing %s from pssh is deprecated: use "from pssh.clients import %s"'
             % (' and '.join(_OLD_CLIENT_NAMES), ', '.join(_OLD_CLIENT_NAMES)))
        for client_name in _OLD_CLIENT_NAMES:
            globals()[client_name] = getattr(native, client_name)
        return globals()[name]
    elif name in _SUBMODULES:
        import importlib
        return importlib.import_module('.' + name, __name__)
    else:
        raise AttributeError('module %r has no attribute %r' % (__name__, name))
    globals()[name] = value  # warn once
    return value
