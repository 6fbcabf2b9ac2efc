"""Clients on libssh2, through ssh2-python.

The clients are imported on first use of their names.
"""
from typing import TYPE_CHECKING, Any, List

from ..._lazy import names, resolve

if TYPE_CHECKING:  # pragma: no cover
    from .parallel import ParallelSSHClient
    from .single import SSHClient

__all__ = ['ParallelSSHClient', 'SSHClient']

_EXPORTS = {'ParallelSSHClient': '.parallel', 'SSHClient': '.single'}
_SUBMODULES = ('parallel', 'single', 'tunnel')


def __getattr__(name: str) -> Any:
    return resolve(globals(), name, _EXPORTS, _SUBMODULES)


def __dir__() -> List[str]:
    return names(globals(), _EXPORTS, _SUBMODULES)
