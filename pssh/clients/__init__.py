"""The SSH clients. The libssh2-based native clients are the default.

The clients are imported on first use of their names (``from pssh.clients
import ParallelSSHClient`` does), not by ``import pssh.clients`` alone.
"""
from typing import TYPE_CHECKING, Any, List

from .._lazy import names, resolve

if TYPE_CHECKING:  # pragma: no cover
    from .native import ParallelSSHClient, SSHClient

__all__ = ['ParallelSSHClient', 'SSHClient']

_EXPORTS = {'ParallelSSHClient': '.native', 'SSHClient': '.native'}
_SUBMODULES = ('base', 'native', 'reader', 'ssh')


def __getattr__(name: str) -> Any:
    return resolve(globals(), name, _EXPORTS, _SUBMODULES)


def __dir__() -> List[str]:
    return names(globals(), _EXPORTS, _SUBMODULES)
