"""The one helper through which every deprecated name or use warns."""
import functools
import warnings
from typing import Any, Callable, TypeVar

F = TypeVar('F', bound=Callable[..., Any])


def warn(message: str, stacklevel: int = 2) -> None:
    """Issue a :class:`DeprecationWarning` pointing ``stacklevel`` frames up
    from the caller of this function (2 = the caller's caller)."""
    warnings.warn(message, DeprecationWarning, stacklevel=stacklevel + 1)


def deprecated(advice: str) -> Callable[[F], F]:
    """Decorate a function so that calling it warns, pointing at the caller's line."""
    def decorate(func: F) -> F:
        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            warn('%s is deprecated: %s' % (func.__qualname__, advice), stacklevel=2)
            return func(*args, **kwargs)
        return wrapper  # type: ignore[return-value]
    return decorate
