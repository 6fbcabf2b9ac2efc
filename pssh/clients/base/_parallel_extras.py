"""The copy and shell methods of a parallel client: one greenlet per host, each
through that host's single-host client (copies with per-host paths from
``copy_args``)."""
import os
from typing import Any, Callable, List, Mapping, Optional, Sequence, Tuple, Union

import gevent
from gevent.pool import Pool

from ... import _checks
from ...exceptions import HostArgumentError, ShellError, Timeout
from .single import InteractiveShell

__all__ = ['ParallelCopyMixIn', 'ParallelShellMixIn']


def _per_host_sequence(name: str, values: Any) -> Sequence[Any]:
    """``host_args``/``copy_args`` as a sequence indexed by host position."""
    if isinstance(values, (str, bytes, Mapping)):
        raise HostArgumentError('%s must be a sequence with one item per host, not a %s',
                                name, type(values).__name__)
    if isinstance(values, Sequence):
        return values
    try:
        return list(values)
    except TypeError:
        raise HostArgumentError('%s must be a sequence with one item per host, got %s',
                                name, type(values).__name__) from None


class _HostArgumentTypeError(HostArgumentError, TypeError):
    """A host_args item of the wrong type or count for the command's format."""


class _HostArgumentKeyError(HostArgumentError, KeyError):
    """A host_args dict without a key the command's format names."""

    __str__ = HostArgumentError.__str__


class _HostArgumentValueError(HostArgumentError, ValueError):
    """The command's format is invalid."""


def _format_error(exc: Exception) -> type:
    """Our error for a failed ``command % item``: a HostArgumentError that is
    also what the formatting raised (TypeError, KeyError or ValueError)."""
    if isinstance(exc, KeyError):
        return _HostArgumentKeyError
    if isinstance(exc, TypeError):
        return _HostArgumentTypeError
    return _HostArgumentValueError


def _describe(exc: Exception) -> str:
    if isinstance(exc, KeyError):
        return 'no key %s' % (exc,)
    return str(exc)


def _materialise_hosts(hosts: Any) -> List[str]:
    if hosts is None:
        raise ValueError('hosts must be an iterable of host names, not None')
    if isinstance(hosts, (str, bytes)):
        raise TypeError('hosts must be an iterable of host names, not a single %s %r; '
                        'use [%r]' % (type(hosts).__name__, hosts, hosts))
    try:
        hosts = list(hosts)
    except TypeError:
        raise TypeError('hosts must be an iterable of host names, got %s'
                        % type(hosts).__name__) from None
    for index, host in enumerate(hosts):
        # ValueError for a wrong type too, as the single client has always done.
        if not isinstance(host, str) or not host:
            raise ValueError('hosts[%d] must be a non-empty host name string, got %s %r'
                             % (index, type(host).__name__, host))
        _checks.no_nul('hosts[%d]' % index, host)
    return hosts


class ParallelCopyMixIn:
    """``copy_file``, ``copy_remote_file``, ``scp_send`` and ``scp_recv`` of
    :class:`~pssh.clients.base.parallel.BaseParallelSSHClient`."""

    _hosts: List[str]
    _get_client: Callable[[int, str], Any]
    _spawn_limited: Callable[..., gevent.Greenlet]

    def _per_host_paths(self, local_file: str, remote_file: str, copy_args: Any,
                        named: bool) -> List[Tuple[str, str]]:
        hosts = self._hosts
        if copy_args is None:
            return [(local_file, remote_file)] * len(hosts)
        copy_args = _per_host_sequence('copy_args', copy_args)
        count = len(copy_args)
        if count < len(hosts):
            raise HostArgumentError('Got %s copy_args for %s hosts', count, len(hosts))
        paths = []
        for index in range(len(hosts)):
            args = copy_args[index]
            try:
                if named:
                    if not isinstance(args, Mapping):
                        raise HostArgumentError(
                            'copy_args[%s] must be a dict with keys local_file and remote_file, '
                            'got %s', index, type(args).__name__)
                    paths.append((args['local_file'], args['remote_file']))
                else:
                    # A path without a placeholder is the same for every host.
                    paths.append((local_file % args if '%' in local_file else local_file,
                                  remote_file % args if '%' in remote_file else remote_file))
            except (TypeError, KeyError, ValueError) as exc:
                raise HostArgumentError('copy_args[%s] does not fit the paths: %s',
                                        index, exc) from None
        return paths

    @staticmethod
    def _check_upload_source(path: str, recurse: bool) -> None:
        if os.path.isdir(path) and not recurse:
            raise ValueError('%s is a directory: use recurse=True to copy it' % (path,))

    def _upload(self, method: str, local_file: str, remote_file: str, recurse: bool,
                copy_args: Any, named: bool) -> List[gevent.Greenlet]:
        paths = self._per_host_paths(local_file, remote_file, copy_args, named)
        for host, (local, remote) in zip(self._hosts, paths):
            _checks.copy_paths(method, host, local, remote)
        for local, _remote in paths:
            self._check_upload_source(local, recurse)

        def copy(index: int, host: str, local: str, remote: str) -> None:
            client = self._get_client(index, host)
            getattr(client, method)(local, remote, recurse=recurse)

        return [self._spawn_limited(copy, index, host, *paths[index])
                for index, host in enumerate(self._hosts)]

    def _download(self, method: str, remote_file: str, local_file: str, recurse: bool,
                  suffix_separator: str, copy_args: Any, named: bool,
                  **kwargs: Any) -> List[gevent.Greenlet]:
        if copy_args is None:
            paths = [(local_file + suffix_separator + host, remote_file) for host in self._hosts]
        else:
            paths = self._per_host_paths(local_file, remote_file, copy_args, named)
        for host, (local, remote) in zip(self._hosts, paths):
            _checks.copy_paths(method, host, local, remote)

        def copy(index: int, host: str, local: str, remote: str) -> None:
            client = self._get_client(index, host)
            getattr(client, method)(remote, local, recurse=recurse, **kwargs)

        return [self._spawn_limited(copy, index, host, *paths[index])
                for index, host in enumerate(self._hosts)]

    def copy_file(self, local_file: str, remote_file: str, recurse: bool = False,
                  copy_args: Optional[Sequence[Any]] = None) -> List[gevent.Greenlet]:
        """Upload ``local_file`` to ``remote_file`` on every host over SFTP.

        :param copy_args: per-host values: host ``i`` copies
          ``local_file % copy_args[i]`` to ``remote_file % copy_args[i]``.
        :returns: one greenlet per host, returned at once.
        :raises ValueError: ``local_file`` is a directory and ``recurse`` is False.
        :raises HostArgumentError: fewer ``copy_args`` than hosts.
        """
        return self._upload('copy_file', local_file, remote_file, recurse, copy_args, False)

    def copy_remote_file(self, remote_file: str, local_file: str, recurse: bool = False,
                         suffix_separator: str = '_', copy_args: Optional[Sequence[Any]] = None,
                         encoding: str = 'utf-8') -> List[gevent.Greenlet]:
        """Download ``remote_file`` from every host over SFTP, to
        ``local_file + suffix_separator + host`` (or, with ``copy_args``, to
        ``local_file % copy_args[i]`` with no suffix).

        :returns: one greenlet per host, returned at once.
        :raises LookupError: unknown ``encoding``.
        """
        _checks.encoding(encoding)
        return self._download('copy_remote_file', remote_file, local_file, recurse,
                              suffix_separator, copy_args, False, encoding=encoding)

    def scp_send(self, local_file: str, remote_file: str, recurse: bool = False,
                 copy_args: Optional[Sequence[Any]] = None) -> List[gevent.Greenlet]:
        """Upload over SCP; ``copy_args[i]`` is a dict with keys ``local_file`` and
        ``remote_file`` giving host ``i``'s paths.

        :returns: one greenlet per host, returned at once.
        """
        return self._upload('scp_send', local_file, remote_file, recurse, copy_args, True)

    def scp_recv(self, remote_file: str, local_file: str, recurse: bool = False,
                 copy_args: Optional[Sequence[Any]] = None,
                 suffix_separator: str = '_') -> List[gevent.Greenlet]:
        """Download over SCP to ``local_file + suffix_separator + host`` (or the
        paths in ``copy_args[i]``, a dict with keys ``local_file`` and ``remote_file``).

        :returns: one greenlet per host, returned at once.
        """
        return self._download('scp_recv', remote_file, local_file, recurse,
                              suffix_separator, copy_args, True)


class ParallelShellMixIn:
    """``open_shell``, ``run_shell_commands`` and ``join_shells`` of
    :class:`~pssh.clients.base.parallel.BaseParallelSSHClient`."""

    _hosts: List[str]
    _get_client: Callable[[int, str], Any]
    pool: Pool

    def open_shell(self, encoding: str = 'utf-8',
                   read_timeout: Optional[float] = None) -> List[InteractiveShell]:
        """Open an interactive shell on every host.

        :raises: the first host's error, in host order.
        :raises LookupError: unknown ``encoding``.
        """
        _checks.encoding(encoding)
        read_timeout = _checks.read_timeout(read_timeout, 'open_shell')

        def open_one(index: int, host: str) -> InteractiveShell:
            return self._get_client(index, host).open_shell(
                encoding=encoding, read_timeout=read_timeout)

        greenlets = [self.pool.spawn(open_one, index, host)
                     for index, host in enumerate(self._hosts)]
        gevent.joinall(greenlets)
        return [greenlet.get() for greenlet in greenlets]

    def run_shell_commands(self, shells: List[InteractiveShell],
                           commands: Union[str, List[str]]) -> None:
        """Send ``commands`` (one or a list) to every shell.

        :raises ShellError: a shell could not take a command.
        """
        if isinstance(commands, str):
            commands = [commands]
        for shell in shells:
            for command in commands:
                try:
                    shell.run(command)
                except (ShellError, UnicodeEncodeError):
                    raise
                except Exception as exc:
                    raise ShellError('Could not run %r in shell: %s', command, exc) from exc

    def join_shells(self, shells: List[InteractiveShell], timeout: Optional[float] = None) -> None:
        """Close every shell and wait for them to exit.

        :raises Timeout: ``Timeout(message, timeout, finished, unfinished)`` with the
          shells that did and did not exit within ``timeout`` seconds.
        """
        _checks.seconds('timeout', timeout, 'join_shells')
        greenlets = [self.pool.spawn(shell.close) for shell in shells]
        gevent.joinall(greenlets, timeout=timeout)
        finished = [shell for shell, greenlet in zip(shells, greenlets) if greenlet.ready()]
        unfinished = [shell for shell, greenlet in zip(shells, greenlets) if not greenlet.ready()]
        for greenlet in greenlets:
            if not greenlet.ready():
                greenlet.kill(block=False)
        if unfinished:
            raise Timeout('Timeout of %s sec(s) reached with shells still running',
                          timeout, finished, unfinished)
        for greenlet in greenlets:
            greenlet.get()
