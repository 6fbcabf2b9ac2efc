"""File copies over SFTP and SCP, written once for every backend.

The functions here take a :class:`Remote` (the host's name, and a way to open
channels on its connection) and work on :class:`~pssh.clients.base._channel.Channel`
objects alone (SFTP through our own client in ``_sftp``, SCP through the remote
``scp`` program), so every wait is on the session's socket, every backend
behaves the same, and every error arrives as one of ours, naming the host.

Files stream in fixed-size blocks, so memory stays flat whatever their size.
Both directions write to a temporary name beside the destination and rename
it into place only when complete: a failed copy never leaves a truncated file
under the final name.

Trees are walked by :mod:`._tree`, the same way in both directions. A
special file named directly as the file to copy is refused.
"""
import errno
import os
import posixpath
import secrets
import stat
import tempfile
from typing import IO, Any, Callable, Iterator, List, Optional, Protocol, Tuple

import gevent
from gevent.pool import Pool

from ...exceptions import PsshError, SCPError, SFTPIOError
from ._channel import Channel
from ._sftp import RemoteStat, SFTPSession

__all__ = ['RemoteStat', 'Progress']

#: Bytes per SCP read and write.
SCP_BLOCK = 1024 * 1024

#: ``progress(bytes_done, bytes_total)``, called as a transfer advances.
Progress = Callable[[int, int], Any]


class Remote(Protocol):
    """What the copies need of the host: its name, and channels on its connection."""

    host: str

    def open_session(self) -> Channel: ...


def _local_error(client: Remote, exc: OSError, path: str, action: str) -> OSError:
    """The same kind of OSError, its message naming the host and the path."""
    message = '%s (%s %s on host %s)' % (exc.strerror or exc, action, path, client.host)
    new = type(exc)(exc.errno or errno.EIO, message, path)
    return new


# ----------------------------------------------------------------------
# SFTP building blocks, on our own SFTP client (see _sftp).

def open_sftp(client: Remote) -> SFTPSession:
    """Start an SFTP session on the client's connection.

    :raises SFTPError: the server has no SFTP subsystem or refused it.
    """
    return SFTPSession(client.open_session())


def remote_stat(client: Remote, sftp: SFTPSession, path: str) -> Optional[RemoteStat]:
    """Size and mode of ``path`` on the server, or None if it does not exist."""
    return sftp.stat(path)


def make_remote_dirs(client: Remote, sftp: SFTPSession, directory: str, mode: int = 0o755) -> None:
    """Create ``directory`` and any missing parents on the server (like ``mkdir -p``)."""
    directory = directory.rstrip('/')
    if not directory or directory == '.':
        return
    existing = sftp.stat(directory)
    if existing is not None:
        if not existing.is_dir:
            raise SFTPIOError('Cannot create directory %s on %s: a file is in the way',
                              directory, client.host)
        return
    make_remote_dirs(client, sftp, posixpath.dirname(directory), mode)
    try:
        sftp.mkdir(directory, mode)
    except SFTPIOError:
        # Somebody else (another connection to the same machine) may have made
        # it meanwhile; that is as good as making it ourselves.
        existing = sftp.stat(directory)
        if existing is None or not existing.is_dir:
            raise


def open_local_source(client: Remote, local_file: str) -> Tuple[IO[bytes], os.stat_result]:
    """``local_file`` opened for reading, and its status, if it is a regular file.

    It is opened without blocking, so that a FIFO cannot hang the process, and
    checked through the open descriptor.

    :raises OSError: it cannot be opened, or is not a regular file (message
      names the host and the path).
    """
    flags = os.O_RDONLY | getattr(os, 'O_NONBLOCK', 0) | getattr(os, 'O_CLOEXEC', 0)
    try:
        fd = os.open(local_file, flags)
    except OSError as exc:
        raise _local_error(client, exc, local_file, 'reading') from None
    try:
        info = os.fstat(fd)
        if stat.S_ISDIR(info.st_mode):
            raise _local_error(client, OSError(errno.EISDIR, 'Is a directory'), local_file,
                               'reading')
        if not stat.S_ISREG(info.st_mode):
            raise _local_error(client, OSError(errno.EINVAL, 'Not a regular file'),
                               local_file, 'reading')
        os.set_blocking(fd, True)
        return os.fdopen(fd, 'rb'), info
    except BaseException:
        os.close(fd)
        raise


def remote_temp_name(remote_file: str) -> str:
    """A hidden name beside ``remote_file`` for an upload in progress."""
    directory, name = posixpath.split(remote_file)
    # Leave room for the additions within the usual 255-byte name limit.
    while len(name.encode('utf-8', 'surrogateescape')) > 200:
        name = name[:-1]
    return posixpath.join(directory, '.%s.%s.part' % (name, secrets.token_hex(4)))


def _remove_quietly(sftp: SFTPSession, path: str) -> None:
    """Remove a partial upload, if the session still can."""
    try:
        with gevent.Timeout(sftp.timeout or 10, False):
            sftp.remove(path)
    except Exception:  # the transfer's own error is what the caller needs
        pass


def _shrank(client: Remote, error: type, local_file: str, remote_file: str, sent: int,
            expected: int) -> Exception:
    return error('%s shrank while being sent to %s on %s (%d of %d bytes read): the upload '
                 'was abandoned and %s left as it was', local_file, remote_file, client.host,
                 sent, expected, remote_file)


def sftp_upload(client: Remote, sftp: SFTPSession, local_file: str, remote_file: str,
                progress: Optional[Progress] = None) -> None:
    """Upload one regular file, keeping its permission bits.

    It is written under a temporary name and renamed over ``remote_file`` once
    complete: a failure leaves ``remote_file`` as it was.
    """
    local, info = open_local_source(client, local_file)
    with local:
        def read(size: int) -> bytes:
            try:
                return local.read(size)
            except OSError as exc:
                raise _local_error(client, exc, local_file, 'reading') from None

        temp = remote_temp_name(remote_file)
        try:
            try:
                sent = sftp.upload(read, temp, stat.S_IMODE(info.st_mode), info.st_size,
                                   progress)
            except SFTPIOError as exc:
                raise SFTPIOError('Upload of %s to %s on %s failed: %s', local_file,
                                  remote_file, client.host, exc) from None
            if sent < info.st_size:
                raise _shrank(client, SFTPIOError, local_file, remote_file, sent,
                              info.st_size)
            try:
                sftp.replace(temp, remote_file)
            except SFTPIOError as exc:
                try:
                    existing = sftp.stat(remote_file)
                except PsshError:
                    raise exc from None
                if existing is None or not existing.is_dir:
                    raise
                # (The server's own word for it is a bare "failure".)
                raise SFTPIOError('Cannot copy %s to %s on %s: %s is an existing directory; '
                                  'name the file to create in it', local_file, remote_file,
                                  client.host, remote_file) from None
        except BaseException:
            _remove_quietly(sftp, temp)
            raise


class _PartialFile:
    """A local file written under a temporary name and renamed when complete."""

    def __init__(self, client: Remote, path: str) -> None:
        self.client = client
        self.path = path
        directory = os.path.dirname(os.path.abspath(path))
        try:
            os.makedirs(directory, exist_ok=True)
            fd, self.temp = tempfile.mkstemp(prefix='.%s.' % os.path.basename(path),
                                             suffix='.part', dir=directory)
        except OSError as exc:
            raise _local_error(client, exc, path, 'writing') from None
        self.file = os.fdopen(fd, 'wb')

    def write(self, data: bytes) -> None:
        try:
            self.file.write(data)
        except OSError as exc:
            raise _local_error(self.client, exc, self.path, 'writing') from None

    def write_at(self, offset: int, data: bytes) -> None:
        try:
            view = memoryview(data)
            while view:
                written = os.pwrite(self.file.fileno(), view, offset)
                view, offset = view[written:], offset + written
        except OSError as exc:
            raise _local_error(self.client, exc, self.path, 'writing') from None

    def commit(self, mode: Optional[int]) -> None:
        try:
            self.file.close()
            if mode is not None:
                os.chmod(self.temp, mode)
            os.replace(self.temp, self.path)
        except OSError as exc:
            self.discard()
            raise _local_error(self.client, exc, self.path, 'writing') from None

    def discard(self) -> None:
        try:
            self.file.close()
        except OSError:  # pragma: no cover
            pass
        try:
            os.unlink(self.temp)
        except OSError:
            pass


def sftp_download(client: Remote, sftp: SFTPSession, remote_file: str, local_file: str,
                  remote: Optional[RemoteStat] = None,
                  progress: Optional[Progress] = None) -> None:
    """Download one remote file, keeping its permission bits."""
    if remote is None:
        remote = sftp.stat(remote_file)
        if remote is None:
            raise SFTPIOError('Remote file %s does not exist on %s', remote_file, client.host)
    if not remote.is_file:
        # Reading a FIFO or a device would block the server's SFTP process.
        raise SFTPIOError('Refusing to copy %s from %s: not a regular file', remote_file,
                          client.host)
    target = _PartialFile(client, local_file)
    try:
        sftp.download(remote_file, target.write_at, remote.size, progress)
    except BaseException:
        target.discard()
        raise
    target.commit(stat.S_IMODE(remote.mode))


def run_concurrently(jobs: Iterator[Callable[[], None]], workers: int) -> None:
    """Run ``jobs`` with at most ``workers`` at a time. After a failure no new job
    starts; those running finish, and the first failure is raised."""
    if workers <= 1:
        for job in jobs:
            job()
        return
    pool = Pool(workers)
    failures: List[BaseException] = []

    def run(job: Callable[[], None]) -> None:
        if failures:
            return
        try:
            job()
        except Exception as exc:
            failures.append(exc)

    try:
        try:
            for job in jobs:
                if failures:
                    break
                pool.spawn(run, job)
        except Exception:
            pool.join()  # the files in flight finish before the error is raised
            raise
        pool.join()
    except BaseException:
        pool.kill()  # killed or timed out: stop at once
        raise
    if failures:
        raise failures[0]


# ----------------------------------------------------------------------
# SCP: the classic rcp protocol, spoken by us to the server's ``scp -t``/``scp -f``
# over an ordinary exec channel. Doing it ourselves (rather than through the SSH
# library's SCP calls) gives every backend the same code, reads in large blocks,
# and turns the server's error messages into clear exceptions: libssh2's own
# SCP receive spins for ever when the server reports an error.

class _SCPChannel:
    """An exec channel running the remote ``scp``, with buffered reads."""

    def __init__(self, client: Remote, command: str, what: str) -> None:
        self.client = client
        self.what = what
        self.channel = client.open_session()
        self._buffer = b''
        try:
            self.channel.request('exec', command, what='starting scp')
        except BaseException:
            self.channel.discard()
            raise

    def _read_some(self, size: int) -> bytes:
        data = self.channel.recv(size, what=self.what)
        if not data:
            raise SCPError('%s: the connection ended early on %s', self.what, self.client.host)
        return data

    def read_exact(self, size: int) -> bytes:
        if self._buffer:
            data, self._buffer = self._buffer[:size], self._buffer[size:]
            return data
        return self._read_some(size)

    def read_line(self) -> bytes:
        while b'\n' not in self._buffer:
            if len(self._buffer) > 65536:
                raise SCPError('%s: the server sent an overlong line', self.what)
            self._buffer += self._read_some(4096)
        line, self._buffer = self._buffer.split(b'\n', 1)
        return line

    def expect_ok(self) -> None:
        status = self.read_exact(1)
        if status == b'\0':
            return
        message = self.read_line().decode('utf-8', 'replace').strip()
        raise SCPError('%s failed on %s: %s', self.what, self.client.host,
                       message or 'status %r' % status)

    def write(self, data: bytes) -> None:
        self.channel.write_all(data)

    def finish(self) -> None:
        try:
            self.channel.end_input(what=self.what)
        except Exception:  # the transfer itself already succeeded or failed
            pass
        self.channel.discard()


def shell_quote(text: str) -> str:
    """``text`` in single quotes for a POSIX shell, quotes inside escaped."""
    return "'" + text.replace("'", "'\\''") + "'"


def scp_upload(client: Remote, sftp: SFTPSession, local_file: str, remote_file: str,
               progress: Optional[Progress] = None) -> None:
    """Send one regular file over SCP, keeping its permission bits.

    As over SFTP, it is written under a temporary name and renamed (over
    ``sftp``) into place once complete.
    """
    local, info = open_local_source(client, local_file)
    with local:
        total = info.st_size
        name = posixpath.basename(remote_file) or os.path.basename(local_file)
        if '\n' in name:
            # The name would end the C line early (the rest becoming file data).
            raise SCPError('SCP cannot send %s to %s on %s: the file name contains a newline '
                           '(copy it with copy_file, over SFTP)', local_file, remote_file,
                           client.host)
        temp = remote_temp_name(remote_file)
        # -p: the receiving scp then sets the mode exactly (also of an existing
        # file, and without its umask), as SFTP uploads do.
        # "--": a path starting with "-" is not an option of scp.
        scp = _SCPChannel(client, 'scp -p -t -- %s' % shell_quote(temp),
                          'SCP of %s to %s' % (local_file, remote_file))
        created = False
        try:
            scp.expect_ok()
            scp.write(('T%d 0 %d 0\n' % (int(info.st_mtime), int(info.st_atime))).encode())
            scp.expect_ok()
            scp.write(('C%04o %d %s\n' % (stat.S_IMODE(info.st_mode), total,
                                           posixpath.basename(temp))).encode('utf-8'))
            scp.expect_ok()
            created = True
            done = 0
            if progress is not None and not total:
                progress(0, 0)
            while done < total:
                try:
                    block = local.read(min(SCP_BLOCK, total - done))
                except OSError as exc:
                    raise _local_error(client, exc, local_file, 'reading') from None
                if not block:
                    raise _shrank(client, SCPError, local_file, remote_file, done, total)
                scp.write(block)
                done += len(block)
                if progress is not None:
                    progress(done, total)
            scp.write(b'\0')
            scp.expect_ok()
        except BaseException:
            scp.finish()
            if created:
                _remove_quietly(sftp, temp)
            raise
        scp.finish()
        try:
            sftp.replace(temp, remote_file)
        except BaseException:
            _remove_quietly(sftp, temp)
            raise


def scp_download(client: Remote, remote_file: str, local_file: str,
                 progress: Optional[Progress] = None) -> None:
    """Receive one remote file over SCP, keeping its permission bits."""
    scp = _SCPChannel(client, 'scp -f -- %s' % shell_quote(remote_file),
                      'SCP of %s from %s' % (remote_file, client.host))
    try:
        scp.write(b'\0')
        header = scp.read_exact(1)
        if header in (b'\1', b'\2'):
            message = scp.read_line().decode('utf-8', 'replace').strip()
            raise SCPError('SCP of %s failed on %s: %s', remote_file, client.host, message)
        line = (header + scp.read_line()).decode('utf-8', 'replace')
        if line.startswith('D'):
            raise ValueError('%s on %s is a directory: use recurse=True to copy it'
                             % (remote_file, client.host))
        try:
            kind, mode_text, size_text, _name = line[0], *line[1:].split(' ', 2)
            mode, size = int(mode_text, 8), int(size_text)
        except ValueError:
            raise SCPError('SCP of %s from %s: unexpected reply %r', remote_file,
                           client.host, line[:80]) from None
        if kind != 'C':
            raise SCPError('SCP of %s from %s: unexpected reply %r', remote_file,
                           client.host, line[:80])
        scp.write(b'\0')
        target = _PartialFile(client, local_file)
        try:
            done = 0
            if progress is not None and not size:
                progress(0, 0)
            while done < size:
                data = scp.read_exact(min(SCP_BLOCK, size - done))
                target.write(data)
                done += len(data)
                if progress is not None:
                    progress(done, size)
            scp.expect_ok()
        except BaseException:
            target.discard()
            raise
        scp.write(b'\0')
        target.commit(stat.S_IMODE(mode))
    finally:
        scp.finish()
