"""One tree walk for recursive copies in both directions.

:func:`walk_tree` walks a :class:`LocalTree` (uploads) or a :class:`RemoteTree`
(downloads, over SFTP) the same way: depth first, in name order, symbolic links
followed, loops and what cannot be copied left out with the same warnings, and
every name a server lists checked before it is joined onto a local path.
"""
import errno
import logging
import os
import posixpath
import stat
from typing import Any, Iterator, List, NamedTuple, Set, Tuple

from ...exceptions import SCPError, SFTPIOError
from ._sftp import SFTPSession
from ._transfer import Remote, _local_error

logger = logging.getLogger('pssh.copy')

__all__ = ['LocalTree', 'RemoteTree', 'TreeEntry', 'check_entry_name', 'walk_tree']


def _separators() -> Tuple[str, ...]:
    return tuple(sep for sep in ('/', os.sep, os.altsep) if sep)


def check_entry_name(client: Remote, name: str, directory: str, scp: bool = False) -> None:
    """Refuse a name that a server listed in ``directory`` if it is not a plain
    file name: joined onto a local directory, it would reach outside it.

    :raises SFTPIOError: (:class:`SCPError` for ``scp``) ``name`` is empty,
      ``.`` or ``..``, absolute, holds a path separator or a NUL.
    """
    problem = None
    if name in ('', '.', '..'):
        problem = 'is not a file name'
    elif '\0' in name:
        problem = 'contains a NUL byte'
    elif any(sep in name for sep in _separators()) or os.path.isabs(name):
        problem = 'contains a path separator'
    if problem is not None:
        error = SCPError if scp else SFTPIOError
        raise error('Refusing entry %r listed in %s by %s: the name %s; nothing was written '
                    'for it', name, directory, client.host, problem)


def _skip(client: Remote, path: str, where: str, reason: str) -> None:
    logger.warning('Skipped %s (%s) while copying a tree with %s: %s', path, where,
                   client.host, reason)


class TreeEntry(NamedTuple):
    """One file or directory met walking a tree (see :func:`walk_tree`)."""

    #: Its path in the tree walked.
    path: str
    #: Its path below the tree's top, as parts (to join onto the destination).
    relative: Tuple[str, ...]
    is_dir: bool
    #: What the tree knows of it (a RemoteStat on the server; None locally).
    info: Any


class LocalTree:
    """The local file system, for :func:`walk_tree`. A directory is known by
    its device and inode numbers."""

    join = staticmethod(os.path.join)
    where = 'local'

    def __init__(self, client: Remote) -> None:
        self.client = client

    def top(self, root: str) -> Any:
        try:
            info = os.stat(root)
        except OSError as exc:
            raise _local_error(self.client, exc, root, 'reading') from None
        return (info.st_dev, info.st_ino)

    def entries(self, directory: str, here: Any,
                ancestors: Set[Any]) -> List[Tuple[str, bool, Any, Any]]:
        client = self.client
        try:
            with os.scandir(directory) as scan:
                found = sorted(scan, key=lambda entry: entry.name)
        except OSError as exc:
            raise _local_error(client, exc, directory, 'reading') from None
        chosen: List[Tuple[str, bool, Any, Any]] = []
        for entry in found:
            try:
                info = entry.stat(follow_symlinks=True)
            except OSError as exc:
                if entry.is_symlink():
                    reason = ('a symbolic link loop' if exc.errno == errno.ELOOP
                              else 'a symbolic link to nothing (%s)' % (exc.strerror or exc))
                    _skip(client, entry.path, 'local', reason)
                    continue
                raise _local_error(client, exc, entry.path, 'reading') from None
            if stat.S_ISDIR(info.st_mode):
                identity = (info.st_dev, info.st_ino)
                if identity in ancestors:
                    _skip(client, entry.path, 'local', _LOOP)
                    continue
                chosen.append((entry.name, True, identity, None))
            elif stat.S_ISREG(info.st_mode):
                chosen.append((entry.name, False, None, None))
            else:
                _skip(client, entry.path, 'local', 'not a regular file or directory')
        return chosen


class RemoteTree:
    """The server's file system over SFTP, for :func:`walk_tree`. SFTP version 3
    reports no inode numbers: a directory is known by its canonical path, asked
    of the server for a link and derived for a plain subdirectory.

    :param scp: names refused are reported as :class:`SCPError` (the files are
      fetched over SCP).
    """

    join = staticmethod(posixpath.join)
    where = 'remote'

    def __init__(self, client: Remote, sftp: SFTPSession, scp: bool = False) -> None:
        self.client, self.sftp, self.scp = client, sftp, scp

    def top(self, root: str) -> Any:
        return self.sftp.realpath(root)

    def entries(self, directory: str, here: Any,
                ancestors: Set[Any]) -> List[Tuple[str, bool, Any, Any]]:
        client, sftp = self.client, self.sftp
        listed = sftp.listdir(directory)
        # The server chooses these names: none may lead out of the local directory.
        for name, _info in listed:
            check_entry_name(client, name, directory, self.scp)
        chosen: List[Tuple[str, bool, Any, Any]] = []
        for name, info in sorted(listed):
            path = posixpath.join(directory, name)
            canonical = None
            if not info.is_dir and not info.is_file:
                # A link, or a server that gave no file type: look at what it is.
                try:
                    followed = sftp.stat(path)
                except SFTPIOError as exc:
                    _skip(client, path, 'remote', 'a symbolic link that cannot be followed (%s)'
                          % exc)
                    continue
                if followed is None:
                    _skip(client, path, 'remote', 'a symbolic link to nothing')
                    continue
                info = followed
                if info.is_dir:
                    canonical = sftp.realpath(path)
                    if canonical in ancestors:
                        _skip(client, path, 'remote', _LOOP)
                        continue
            if info.is_dir:
                chosen.append((name, True, canonical or posixpath.join(here, name), info))
            elif info.is_file:
                chosen.append((name, False, None, info))
            else:
                _skip(client, path, 'remote', 'not a regular file or directory')
        return chosen


_LOOP = 'a symbolic link to a directory that contains it (a loop)'


def walk_tree(tree: Any, root: str) -> Iterator[TreeEntry]:
    """Every directory and regular file under ``root`` in ``tree`` (a
    :class:`LocalTree` or a :class:`RemoteTree`), depth first in name order, a
    directory before what it holds; symbolic links followed.

    Links that cannot be followed, links to a directory being walked already
    (loops) and entries that are neither regular files nor directories are
    left out, with a warning on the ``pssh.copy`` logger; a directory that
    cannot be read raises.
    """
    top = tree.top(root)
    return _walk(tree, root, (), top, {top})


def _walk(tree: Any, directory: str, relative: Tuple[str, ...], here: Any,
          ancestors: Set[Any]) -> Iterator[TreeEntry]:
    for name, is_dir, identity, info in tree.entries(directory, here, ancestors):
        path = tree.join(directory, name)
        below = relative + (name,)
        yield TreeEntry(path, below, is_dir, info)
        if is_dir:
            yield from _walk(tree, path, below, identity, ancestors | {identity})
