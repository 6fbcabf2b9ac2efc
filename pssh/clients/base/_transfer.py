"""File copies over SFTP and SCP, written once for every backend.

The functions here take a client and use only its channel primitives through
``client._call`` (SFTP through our own client in ``_sftp``, SCP through the
remote ``scp`` program), so every wait is on the session's socket, every
backend behaves the same, and every error arrives as one of ours, naming the
host.

Files stream in fixed-size blocks, so memory stays flat whatever their size.
Downloads go to a temporary name beside the destination and are renamed into
place only when complete: a failed copy never leaves a truncated file under the
final name.
"""
import errno
import os
import posixpath
import stat
import tempfile
from typing import Any, Callable, Iterator, List, Optional, Tuple

from ...exceptions import PsshError, SCPError, SFTPIOError
from ._sftp import RemoteStat, SFTPSession

__all__ = ['RemoteStat', 'Progress']

#: Bytes per SCP read and write.
SCP_BLOCK = 1024 * 1024

#: ``progress(bytes_done, bytes_total)``, called as a transfer advances.
Progress = Callable[[int, int], Any]


def _local_error(client: Any, exc: OSError, path: str, action: str) -> OSError:
    """The same kind of OSError, its message naming the host and the path."""
    message = '%s (%s %s on host %s)' % (exc.strerror or exc, action, path, client.host)
    new = type(exc)(exc.errno or errno.EIO, message, path)
    return new


def _remote_join(directory: str, name: str) -> str:
    return posixpath.join(directory, name) if directory else name


# ----------------------------------------------------------------------
# SFTP building blocks, on our own SFTP client (see _sftp).

def open_sftp(client: Any) -> SFTPSession:
    """Start an SFTP session on the client's connection.

    :raises SFTPError: the server has no SFTP subsystem or refused it.
    """
    return SFTPSession(client)


def remote_stat(client: Any, sftp: SFTPSession, path: str) -> Optional[RemoteStat]:
    """Size and mode of ``path`` on the server, or None if it does not exist."""
    return sftp.stat(path)


def make_remote_dirs(client: Any, sftp: SFTPSession, directory: str, mode: int = 0o755) -> None:
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


def sftp_upload(client: Any, sftp: SFTPSession, local_file: str, remote_file: str,
                progress: Optional[Progress] = None) -> None:
    """Upload one regular file, keeping its permission bits."""
    try:
        local = open(local_file, 'rb')
    except OSError as exc:
        raise _local_error(client, exc, local_file, 'reading') from None
    with local:
        info = os.fstat(local.fileno())

        def read(size: int) -> bytes:
            try:
                return local.read(size)
            except OSError as exc:
                raise _local_error(client, exc, local_file, 'reading') from None

        try:
            sftp.upload(read, remote_file, stat.S_IMODE(info.st_mode), info.st_size, progress)
        except SFTPIOError as exc:
            try:
                existing = sftp.stat(remote_file)
            except PsshError:
                raise exc from None
            if existing is None or not existing.is_dir:
                raise
            # (The server's own word for it is a bare "failure".)
            raise SFTPIOError('Cannot copy %s to %s on %s: %s is an existing directory; name '
                              'the file to create in it', local_file, remote_file, client.host,
                              remote_file) from None


class _PartialFile:
    """A local file written under a temporary name and renamed when complete."""

    def __init__(self, client: Any, path: str) -> None:
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


def sftp_upload_to(sftp: SFTPSession) -> Callable[..., None]:
    """``send(client, local_file, remote_file, progress)`` over ``sftp``."""
    def send(client: Any, local_file: str, remote_file: str,
             progress: Optional[Progress]) -> None:
        sftp_upload(client, sftp, local_file, remote_file, progress)
    return send


def sftp_download(client: Any, sftp: SFTPSession, remote_file: str, local_file: str,
                  remote: Optional[RemoteStat] = None,
                  progress: Optional[Progress] = None) -> None:
    """Download one remote file, keeping its permission bits."""
    if remote is None:
        remote = sftp.stat(remote_file)
        if remote is None:
            raise SFTPIOError('Remote file %s does not exist on %s', remote_file, client.host)
    target = _PartialFile(client, local_file)
    try:
        sftp.download(remote_file, target.write_at, remote.size, progress)
    except BaseException:
        target.discard()
        raise
    target.commit(stat.S_IMODE(remote.mode))


def list_remote_dir(client: Any, sftp: SFTPSession, directory: str) -> List[Tuple[str, RemoteStat]]:
    """Entries of a remote directory, without ``.`` and ``..``."""
    return sftp.listdir(directory)


def _separators() -> Tuple[str, ...]:
    return tuple(sep for sep in ('/', os.sep, os.altsep) if sep)


def check_entry_name(client: Any, name: str, directory: str, scp: bool = False) -> None:
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


def walk_local(local_dir: str) -> Iterator[Tuple[str, List[str], List[str]]]:
    """os.walk that raises instead of skipping directories it cannot read."""
    def fail(exc: OSError) -> None:
        raise exc
    return os.walk(local_dir, onerror=fail)


# ----------------------------------------------------------------------
# SCP: the classic rcp protocol, spoken by us to the server's ``scp -t``/``scp -f``
# over an ordinary exec channel. Doing it ourselves (rather than through the SSH
# library's SCP calls) gives every backend the same code, reads in large blocks,
# and turns the server's error messages into clear exceptions: libssh2's own
# SCP receive spins for ever when the server reports an error.

class _SCPChannel:
    """An exec channel running the remote ``scp``, with buffered reads."""

    def __init__(self, client: Any, command: str, what: str) -> None:
        self.client = client
        self.what = what
        self.channel = client.open_session()
        self.raw = self.channel.raw
        self._buffer = b''
        try:
            client._call(client._b_execute, self.raw, command, timeout=client.timeout,
                         what='starting scp')
        except BaseException:
            client._discard_channel(self.channel)
            raise

    def _read_some(self, size: int) -> bytes:
        client = self.client
        data = client._call(client._b_read, self.raw, False, size, timeout=client.timeout,
                            what=self.what)
        if not data:
            raise SCPError('%s: the connection ended early on %s', self.what, client.host)
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
        self.client.eagain_write(self.raw, data)

    def finish(self) -> None:
        client = self.client
        try:
            client._call(client._b_send_eof, self.raw, timeout=client.timeout, what=self.what)
        except Exception:  # the transfer itself already succeeded or failed
            pass
        _close_quietly(client, self.raw)


def shell_quote(text: str) -> str:
    """``text`` in single quotes for a POSIX shell, quotes inside escaped."""
    return "'" + text.replace("'", "'\\''") + "'"


def scp_upload(client: Any, local_file: str, remote_file: str,
               progress: Optional[Progress] = None) -> None:
    """Send one regular file over SCP, keeping its permission bits."""
    try:
        local = open(local_file, 'rb')
    except OSError as exc:
        raise _local_error(client, exc, local_file, 'reading') from None
    with local:
        info = os.fstat(local.fileno())
        total = info.st_size
        # -p: the receiving scp then sets the mode exactly (also of an existing
        # file, and without its umask), as SFTP uploads do.
        name = posixpath.basename(remote_file) or os.path.basename(local_file)
        if '\n' in name:
            # The name would end the C line early (the rest becoming file data).
            raise SCPError('SCP cannot send %s to %s on %s: the file name contains a newline '
                           '(copy it with copy_file, over SFTP)', local_file, remote_file,
                           client.host)
        # "--": a path starting with "-" is not an option of scp.
        scp = _SCPChannel(client, 'scp -p -t -- %s' % shell_quote(remote_file),
                          'SCP of %s to %s' % (local_file, remote_file))
        try:
            scp.expect_ok()
            scp.write(('T%d 0 %d 0\n' % (int(info.st_mtime), int(info.st_atime))).encode())
            scp.expect_ok()
            scp.write(('C%04o %d %s\n' % (stat.S_IMODE(info.st_mode), total, name)).encode('utf-8'))
            scp.expect_ok()
            done = 0
            if progress is not None and not total:
                progress(0, 0)
            while done < total:
                try:
                    block = local.read(min(SCP_BLOCK, total - done))
                except OSError as exc:
                    raise _local_error(client, exc, local_file, 'reading') from None
                if not block:
                    raise SCPError('%s shrank while being sent to %s', local_file, client.host)
                scp.write(block)
                done += len(block)
                if progress is not None:
                    progress(done, total)
            scp.write(b'\0')
            scp.expect_ok()
        finally:
            scp.finish()


def scp_download(client: Any, remote_file: str, local_file: str,
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


def _close_quietly(client: Any, raw: Any) -> None:
    try:
        client._call(client._b_close, raw, timeout=client.timeout, what='closing SCP channel')
    except Exception:  # the transfer's own outcome is what matters
        pass
