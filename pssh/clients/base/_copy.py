"""The copy operations of a client, on a :class:`~pssh.clients.base._transfer.Remote`.

What :meth:`BaseSSHClient.copy_file` and its siblings do: check the paths,
start (or reuse) an SFTP session, and send one file or walk a tree, over SFTP
or SCP. The protocols themselves are in :mod:`._transfer` and :mod:`._sftp`.
"""
import contextlib
import functools
import os
import posixpath
from typing import Any, Callable, Iterator, Optional

from ... import _checks
from ...exceptions import SCPError, SFTPIOError
from . import _transfer, _tree
from ._channel import Channel
from ._transfer import Progress, Remote

__all__ = ['copy_file', 'copy_remote_file', 'scp_send', 'scp_recv', 'sftp_session']

#: Files of a tree uploaded over SFTP at the same time (one session).
UPLOAD_WORKERS = 32


@contextlib.contextmanager
def sftp_session(remote: Remote, sftp: Any) -> Iterator[Any]:
    """``sftp`` if given, else a new session ended afterwards."""
    if sftp is not None:
        yield sftp
        return
    sftp = _transfer.open_sftp(remote)
    try:
        yield sftp
    finally:
        sftp.end()


def check_local_source(remote: Remote, local_file: str, recurse: bool) -> bool:
    """True if ``local_file`` is a directory to copy; raises if it cannot be."""
    if os.path.isdir(local_file):
        if not recurse:
            raise ValueError('%s is a directory: use recurse=True to copy it to %s'
                             % (local_file, remote.host))
        return True
    if not os.path.exists(local_file):
        raise _transfer._local_error(
            remote, FileNotFoundError(2, 'No such file or directory'), local_file, 'reading')
    return False


def copy_file(remote: Remote, local_file: str, remote_file: str, recurse: bool, sftp: Any,
              progress: Optional[Progress], workers: int = UPLOAD_WORKERS) -> None:
    """Upload over SFTP (see :meth:`BaseSSHClient.copy_file`)."""
    _checks.copy_paths('copy_file', remote.host, local_file, remote_file)
    is_dir = check_local_source(remote, local_file, recurse)
    with sftp_session(remote, sftp) as sftp:
        upload(remote, sftp, local_file, remote_file, is_dir, _transfer.sftp_upload, progress,
               workers)


def upload(remote: Remote, sftp: Any, local_file: str, remote_file: str, is_dir: bool,
           send: Callable[..., None], progress: Optional[Progress],
           workers: int = UPLOAD_WORKERS) -> None:
    """Send a file, or a tree, with ``send`` (SFTP's or SCP's upload)."""
    if not is_dir:
        _transfer.make_remote_dirs(remote, sftp, posixpath.dirname(remote_file))
        send(remote, sftp, local_file, remote_file, progress)
        return
    _transfer.make_remote_dirs(remote, sftp, remote_file)

    def jobs() -> Iterator[Callable[[], None]]:
        for entry in _tree.walk_tree(_tree.LocalTree(remote), local_file):
            target = posixpath.join(remote_file, *entry.relative)
            if entry.is_dir:
                _transfer.make_remote_dirs(remote, sftp, target)
            else:
                yield functools.partial(send, remote, sftp, entry.path, target, progress)

    # Many files at once over one SFTP session hide the round trips of each
    # (open, write, close, rename). SCP opens a channel per file and a
    # progress callback reports one file at a time: those go one by one.
    if send is not _transfer.sftp_upload or progress is not None:
        workers = 1
    _transfer.run_concurrently(jobs(), workers)


def copy_remote_file(remote: Remote, remote_file: str, local_file: str, recurse: bool,
                     sftp: Any, encoding: str, progress: Optional[Progress]) -> None:
    """Download over SFTP (see :meth:`BaseSSHClient.copy_remote_file`)."""
    _checks.copy_paths('copy_remote_file', remote.host, local_file, remote_file)
    _checks.encoding(encoding)
    with sftp_session(remote, sftp) as sftp:
        found = _transfer.remote_stat(remote, sftp, remote_file)
        if found is None:
            raise SFTPIOError('Remote file %s does not exist on %s', remote_file, remote.host)
        if not found.is_dir:
            _transfer.sftp_download(remote, sftp, remote_file, local_file, found, progress)
            return
        if not recurse:
            raise ValueError('%s on %s is a directory: use recurse=True to copy it'
                             % (remote_file, remote.host))
        download_tree(remote, sftp, remote_file, local_file, progress)


def download_tree(remote: Remote, sftp: Any, remote_dir: str, local_dir: str,
                  progress: Optional[Progress], scp: bool = False) -> None:
    """Fetch the tree ``remote_dir`` (files over SCP if ``scp``) into ``local_dir``."""
    _make_local_dir(remote, local_dir)
    for entry in _tree.walk_tree(_tree.RemoteTree(remote, sftp, scp), remote_dir):
        target = os.path.join(local_dir, *entry.relative)
        if entry.is_dir:
            _make_local_dir(remote, target)
        elif scp:
            _transfer.scp_download(remote, entry.path, target, progress)
        else:
            _transfer.sftp_download(remote, sftp, entry.path, target, entry.info, progress)


def _make_local_dir(remote: Remote, directory: str) -> None:
    try:
        os.makedirs(directory, exist_ok=True)
    except OSError as exc:
        raise _transfer._local_error(remote, exc, directory, 'writing') from None


def scp_send(remote: Remote, local_file: str, remote_file: str, recurse: bool, sftp: Any,
             progress: Optional[Progress]) -> None:
    """Upload over SCP (see :meth:`BaseSSHClient.scp_send`)."""
    _checks.copy_paths('scp_send', remote.host, local_file, remote_file)
    is_dir = check_local_source(remote, local_file, recurse)
    if remote_file.endswith('/'):
        remote_file = remote_file + os.path.basename(os.path.normpath(local_file))
    with sftp_session(remote, sftp) as sftp:
        if not is_dir:
            existing = _transfer.remote_stat(remote, sftp, remote_file)
            if existing is not None and existing.is_dir:
                # Where the remote scp puts it (and so parallel-ssh): into
                # that directory, under the last part of remote_file.
                remote_file = posixpath.join(remote_file, posixpath.basename(remote_file)
                                             or os.path.basename(local_file))
        upload(remote, sftp, local_file, remote_file, is_dir, _transfer.scp_upload, progress)


def scp_recv(remote: Remote, remote_file: str, local_file: str, recurse: bool, sftp: Any,
             encoding: str, progress: Optional[Progress]) -> None:
    """Download over SCP (see :meth:`BaseSSHClient.scp_recv`)."""
    _checks.copy_paths('scp_recv', remote.host, local_file, remote_file)
    _checks.encoding(encoding)
    if local_file.endswith(os.sep) or local_file.endswith('/'):
        local_file = os.path.join(local_file, posixpath.basename(remote_file.rstrip('/')))
    if not recurse:
        _transfer.scp_download(remote, remote_file, local_file, progress)
        return
    with sftp_session(remote, sftp) as sftp:
        found = _transfer.remote_stat(remote, sftp, remote_file)
        if found is None:
            raise SCPError('Remote file %s does not exist on %s', remote_file, remote.host)
        if found.is_dir:
            download_tree(remote, sftp, remote_file, local_file, progress, scp=True)
        else:
            _transfer.scp_download(remote, remote_file, local_file, progress)


class CopyMixIn:
    """The file-copy methods of :class:`~pssh.clients.base.single.BaseSSHClient`
    (a client is the :class:`~pssh.clients.base._transfer.Remote` they copy to
    and from)."""

    host: str
    open_session: Callable[[], Channel]

    def _make_sftp(self) -> Any:
        """Start an SFTP session; pass it as ``sftp`` to reuse it across copies.

        :raises SFTPError: the server has no SFTP subsystem or refused it.
        """
        return _transfer.open_sftp(self)

    def mkdir(self, sftp: Any, directory: str) -> None:
        """Create ``directory`` on the server, with any missing parents."""
        _transfer.make_remote_dirs(self, sftp, directory)

    def sftp_put(self, sftp: Any, local_file: str, remote_file: str, *,
                 progress: Optional[_transfer.Progress] = None) -> None:
        """Upload one file over an open SFTP session (no parent directories made)."""
        _transfer.sftp_upload(self, sftp, local_file, remote_file, progress)

    def sftp_get(self, sftp: Any, remote_file: str, local_file: str, *,
                 progress: Optional[_transfer.Progress] = None) -> None:
        """Download one file over an open SFTP session."""
        _transfer.sftp_download(self, sftp, remote_file, local_file, progress=progress)

    def copy_file(self, local_file: str, remote_file: str, recurse: bool = False,
                  sftp: Any = None, *, progress: Optional[_transfer.Progress] = None) -> None:
        """Upload ``local_file`` to ``remote_file`` over SFTP.

        Missing remote parent directories are created. Permission bits are kept.

        :param recurse: copy a directory tree (nested and empty directories too).
        :param sftp: an SFTP session from :meth:`_make_sftp` to reuse.
        :param progress: ``progress(bytes_done, bytes_total)`` called per file as
          it is sent.
        :raises ValueError: ``local_file`` is a directory and ``recurse`` is False.
        :raises OSError: ``local_file`` cannot be read (message names host and path).
        :raises SFTPError: SFTP could not be started.
        :raises SFTPIOError: a remote file or directory could not be written.
        """
        copy_file(self, local_file, remote_file, recurse, sftp, progress,
                        self._UPLOAD_WORKERS)

    #: Files of a tree uploaded over SFTP at the same time (one session).
    _UPLOAD_WORKERS = UPLOAD_WORKERS

    def copy_remote_file(self, remote_file: str, local_file: str, recurse: bool = False,
                         sftp: Any = None, encoding: str = 'utf-8', *,
                         progress: Optional[_transfer.Progress] = None) -> None:
        """Download ``remote_file`` to ``local_file`` over SFTP.

        Missing local parent directories are created; permission bits are kept. A
        failed download leaves nothing under ``local_file``.

        :param recurse: copy a directory tree.
        :param encoding: kept for compatibility; paths are sent as UTF-8.
        :raises ValueError: ``remote_file`` is a directory and ``recurse`` is False.
        :raises SFTPIOError: ``remote_file`` does not exist or cannot be read.
        :raises OSError: ``local_file`` cannot be written.
        :raises LookupError: unknown ``encoding``.
        """
        copy_remote_file(self, remote_file, local_file, recurse, sftp, encoding, progress)

    def scp_send(self, local_file: str, remote_file: str, recurse: bool = False,
                 sftp: Any = None, *, progress: Optional[_transfer.Progress] = None) -> None:
        """Upload ``local_file`` to ``remote_file`` over SCP.

        A ``remote_file`` ending in ``/`` means "into this directory". Missing
        remote directories are created (over SFTP).

        :raises ValueError: ``local_file`` is a directory and ``recurse`` is False.
        :raises SCPError: the transfer failed.
        :raises OSError: ``local_file`` cannot be read.
        """
        scp_send(self, local_file, remote_file, recurse, sftp, progress)

    def scp_recv(self, remote_file: str, local_file: str, recurse: bool = False,
                 sftp: Any = None, encoding: str = 'utf-8', *,
                 progress: Optional[_transfer.Progress] = None) -> None:
        """Download ``remote_file`` to ``local_file`` over SCP.

        A ``local_file`` ending in ``/`` means "into this directory" (an existing
        directory named without the slash is an error, as with ``cp``). With
        ``recurse``, directories are listed over SFTP and their files fetched
        over SCP.

        :raises SCPError: the remote file is missing or the transfer failed.
        :raises ValueError: it is a directory and ``recurse`` is False.
        :raises LookupError: unknown ``encoding``.
        """
        scp_recv(self, remote_file, local_file, recurse, sftp, encoding, progress)
