"""pssh: run commands and copy files on many hosts at once over SSH.

Importing the package has no side effects beyond creating two loggers, each with
a single :class:`logging.NullHandler`: ``pssh`` (library diagnostics) and
``pssh.host_logger`` (one record per line of remote output, when enabled).
"""
import logging

__version__ = '0.1.0'

logger = logging.getLogger('pssh')
host_logger = logging.getLogger('pssh.host_logger')

for _log in (logger, host_logger):
    if not any(isinstance(h, logging.NullHandler) for h in _log.handlers):
        _log.addHandler(logging.NullHandler())
del _log

__all__ = ['__version__', 'logger', 'host_logger']
