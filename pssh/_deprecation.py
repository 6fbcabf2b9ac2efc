"""The one helper through which every deprecated name or use warns."""
import functools
import sys
import warnings
from types import FrameType
from typing import Any, Callable, Optional, TypeVar

F = TypeVar('F', bound=Callable[..., Any])


def warn(message: str, stacklevel: int = 2) -> None:
    """Issue a :class:`DeprecationWarning` pointing ``stacklevel`` frames up
    from the caller of this function (2 = the caller's caller)."""
    warnings.warn(message, DeprecationWarning, stacklevel=stacklevel + 1)


def warn_on_import(message: str) -> None:
    """Issue a :class:`DeprecationWarning` from a module's top level, pointing at
    the line that imported it.

    Between the importing line and the module lie the import system's frames,
    and sometimes a third-party importer's (pytest loads the modules of packages
    that register a plugin through its own ``exec_module``), so the caller is
    found by walking out of those rather than by a fixed ``stacklevel``.
    """
    frame: Optional[FrameType] = sys._getframe(2)  # above the deprecated module's own frame
    while frame is not None and (
            'importlib' in frame.f_code.co_filename
            or frame.f_code.co_name in ('exec_module', '_call_with_frames_removed')):
        frame = frame.f_back
    if frame is None:  # pragma: no cover - imported from nowhere
        warnings.warn(message, DeprecationWarning, stacklevel=3)
        return
    registry = frame.f_globals.setdefault('__warningregistry__', {})
    warnings.warn_explicit(message, DeprecationWarning, frame.f_code.co_filename,
                           frame.f_lineno, module=frame.f_globals.get('__name__'),
                           registry=registry)


def deprecated(advice: str) -> Callable[[F], F]:
    """Decorate a function so that calling it warns, pointing at the caller's line."""
    def decorate(func: F) -> F:
        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            warn('%s is deprecated: %s' % (func.__qualname__, advice), stacklevel=2)
            return func(*args, **kwargs)
        return wrapper  # type: ignore[return-value]
    return decorate
