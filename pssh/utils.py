"""Logging helpers."""
import logging

from . import host_logger, logger

_package_logger = logger

__all__ = ['enable_logger', 'enable_host_logger', 'enable_debug_logger',
           'logger', 'host_logger']

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
