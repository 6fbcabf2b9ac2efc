"""An SFTP (version 3) client spoken over an ordinary channel of our session.

Why our own: the SSH libraries' SFTP calls either cannot keep enough requests
in flight when driven without blocking (libssh2 drains its pipeline at the end
of every buffer it is given, which caps uploads at about half of OpenSSH's
rate) or are not usable without blocking at all (libssh). Speaking the protocol
here gives every backend the same behaviour, keeps a deep pipeline of reads and
writes in flight, and reports the server's own status messages.

Requests are matched to responses by id: one reader greenlet per SFTP session
reads the channel and resolves each request's :class:`AsyncResult`, so several
greenlets may use one session at once.
"""
import functools
import stat
import struct
from typing import Any, Callable, Dict, List, NamedTuple, Optional, Tuple, TypeVar, cast

import gevent
from gevent.event import AsyncResult

from ...exceptions import SFTPError, SFTPIOError, Timeout
from ._channel import Channel

__all__ = ['SFTPSession', 'RemoteStat']


class RemoteStat(NamedTuple):
    """What a transfer needs to know about a remote path."""

    size: int
    mode: int

    @property
    def is_dir(self) -> bool:
        return stat.S_ISDIR(self.mode)

    @property
    def is_file(self) -> bool:
        return stat.S_ISREG(self.mode)

    @property
    def is_link(self) -> bool:
        return stat.S_ISLNK(self.mode)

# Packet types (draft-ietf-secsh-filexfer-02).
_INIT, _VERSION = 1, 2
_OPEN, _CLOSE, _READ, _WRITE, _LSTAT, _FSTAT, _SETSTAT, _FSETSTAT = 3, 4, 5, 6, 7, 8, 9, 10
_OPENDIR, _READDIR, _REMOVE, _MKDIR, _RMDIR, _REALPATH, _STAT = 11, 12, 13, 14, 15, 16, 17
_STATUS, _HANDLE, _DATA, _NAME, _ATTRS = 101, 102, 103, 104, 105

_FX_OK, _FX_EOF, _FX_NO_SUCH_FILE = 0, 1, 2
_STATUS_TEXT = {
    1: 'end of file', 2: 'no such file or directory', 3: 'permission denied',
    4: 'failure', 5: 'bad message', 6: 'no connection', 7: 'connection lost',
    8: 'operation unsupported',
}

# Open flags.
_READ_FLAG, _WRITE_FLAG, _CREAT, _TRUNC = 0x01, 0x02, 0x08, 0x10
# Attribute flags.
_ATTR_SIZE, _ATTR_UIDGID, _ATTR_PERMISSIONS, _ATTR_ACMODTIME = 0x1, 0x2, 0x4, 0x8
_ATTR_EXTENDED = 0x80000000

#: Bytes per read or write request when the server does not say what it takes.
CHUNK = 64 * 1024
#: The most a request asks for even when the server allows more: OpenSSH
#: takes 255 KiB (it says so through the ``limits@openssh.com`` extension).
#: Bigger requests mean fewer of them to build, send and match up.
MAX_CHUNK = 255 * 1024
#: Bytes of requests kept in flight: OpenSSH's channel window (2 MiB).
IN_FLIGHT_BYTES = 2 * 1024 * 1024

_RENAME = 18
_EXTENDED, _EXTENDED_REPLY = 200, 201
_LIMITS = b'limits@openssh.com'
_POSIX_RENAME = b'posix-rename@openssh.com'

_U32 = struct.Struct('>I')
_U64 = struct.Struct('>Q')
_HEADER = struct.Struct('>IBI')  # length, type, request id


def _string(data: bytes) -> bytes:
    return _U32.pack(len(data)) + data


def _path(path: str) -> bytes:
    return _string(path.encode('utf-8', 'surrogateescape'))


class _Reader:
    """Reads fields out of one response payload."""

    __slots__ = ('data', 'pos')

    def __init__(self, data: bytes, pos: int = 0) -> None:
        self.data = data
        self.pos = pos

    def u32(self) -> int:
        value = _U32.unpack_from(self.data, self.pos)[0]
        self.pos += 4
        return value

    def u64(self) -> int:
        value = _U64.unpack_from(self.data, self.pos)[0]
        self.pos += 8
        return value

    def string(self) -> bytes:
        length = self.u32()
        if self.pos + length > len(self.data):
            raise struct.error('a string of %d bytes runs past the end of the reply' % length)
        value = self.data[self.pos:self.pos + length]
        self.pos += length
        return value

    def attrs(self) -> RemoteStat:
        flags = self.u32()
        size = self.u64() if flags & _ATTR_SIZE else 0
        if flags & _ATTR_UIDGID:
            self.pos += 8
        mode = self.u32() if flags & _ATTR_PERMISSIONS else 0
        if flags & _ATTR_ACMODTIME:
            self.pos += 8
        if flags & _ATTR_EXTENDED:
            for _ in range(self.u32()):
                self.string()
                self.string()
        return RemoteStat(size, mode)


def _in_flight(chunk: int) -> int:
    """How many requests of ``chunk`` bytes to keep in flight."""
    return max(2, min(64, IN_FLIGHT_BYTES // chunk))


def version_extensions(payload: bytes) -> Dict[bytes, bytes]:
    """The extensions a server names in its VERSION reply (after the version);
    a list cut short ends at the last name that has a value."""
    reader = _Reader(payload, 4)
    extensions = {}
    try:
        while reader.pos < len(payload):
            name = reader.string()
            extensions[name] = reader.string()
    except struct.error:
        pass  # a truncated list: keep what was whole
    return extensions


_F = TypeVar('_F', bound=Callable[..., Any])


def _parses_replies(func: _F) -> _F:
    """Turn a reply too short for its fields (``struct.error``) into an
    :class:`SFTPError` naming the server and the operation."""
    @functools.wraps(func)
    def checked(self: 'SFTPSession', *args: Any, **kwargs: Any) -> Any:
        try:
            return func(self, *args, **kwargs)
        except struct.error as exc:
            path = next((arg for arg in args if isinstance(arg, str)), '')
            raise SFTPError('SFTP server on %s:%s sent a malformed reply to %s%s: %s',
                            self.host, self.port, func.__name__.strip('_'),
                            ' of %s' % path if path else '', exc) from None
    return cast(_F, checked)


class SFTPSession:
    """The SFTP subsystem on ``channel``, a session channel just opened.

    :raises SFTPError: the server refused the subsystem or the handshake failed.
    """

    def __init__(self, channel: Channel) -> None:
        conn = channel.conn
        self.host, self.port, self.timeout = conn.host, conn.port, conn.timeout
        self.channel = channel
        self._pending: Dict[int, AsyncResult] = {}
        self._next_id = 0
        self._closed: Optional[BaseException] = None
        self.extensions: Dict[bytes, bytes] = {}
        try:
            channel.request('subsystem', 'sftp', what='starting SFTP')
            self._write(_U32.pack(5) + bytes([_INIT]) + _U32.pack(3))
            kind, payload = self._read_packet_directly()
            if kind != _VERSION:
                raise SFTPError('SFTP on %s: unexpected first reply (type %s)', self.host, kind)
            extensions = version_extensions(payload)
            #: Extensions the server named in its version reply.
            self.extensions = extensions
        except SFTPError:
            self._discard()
            raise
        except Exception as exc:
            self._discard()
            raise SFTPError('Could not start SFTP on %s:%s: %s', self.host, self.port,
                            exc) from exc
        self._reader = gevent.spawn(self._read_responses)
        #: Bytes per read and per write request.
        self.read_chunk = self.write_chunk = CHUNK
        if _LIMITS in extensions:
            try:
                self._ask_limits()
            except BaseException as exc:
                self.end()
                if isinstance(exc, SFTPError) or not isinstance(exc, Exception):
                    raise
                raise SFTPError('Could not start SFTP on %s:%s: %s', self.host, self.port,
                                exc) from exc

    @_parses_replies
    def _ask_limits(self) -> None:
        """Size requests as the server allows (OpenSSH's ``limits`` extension)."""
        kind, payload = self._reply(self._send(_EXTENDED, _string(_LIMITS)), 'asking for',
                                    'its limits')
        if kind != _EXTENDED_REPLY or len(payload) < 24:
            return
        reader = _Reader(payload)
        max_packet, max_read, max_write = reader.u64(), reader.u64(), reader.u64()
        # 0 means "no limit given". Besides the data, a packet holds at most
        # 25 bytes of header and a handle (256 bytes at most).
        most = MAX_CHUNK if not max_packet else max(1, min(MAX_CHUNK, max_packet - 281))
        self.read_chunk = min(max_read or CHUNK, most)
        self.write_chunk = min(max_write or CHUNK, most)

    # Wire.

    def _write(self, data: bytes) -> None:
        self.channel.write_all(data)

    def _recv(self) -> bytes:
        return self.channel.recv(256 * 1024, what='reading SFTP replies', bounded=False)

    def _read_packet_directly(self) -> Tuple[int, bytes]:
        """Read one packet before the reader greenlet runs (the version reply)."""
        buffer = b''
        while len(buffer) < 4 or len(buffer) < 4 + _U32.unpack_from(buffer)[0]:
            data = self._recv()
            if not data:
                raise SFTPError('The SFTP server on %s closed the channel', self.host)
            buffer += data
        length = _U32.unpack_from(buffer)[0]
        if len(buffer) > 4 + length:
            raise SFTPError('SFTP on %s: unexpected data after the version reply', self.host)
        return buffer[4], buffer[5:4 + length]

    def _read_responses(self) -> None:
        # File data is handed on as views of the bytes read, not copied: the
        # only copy made here joins a packet split between two reads.
        leftover = b''
        try:
            while True:
                data = self._recv()
                if not data:
                    raise SFTPError('The SFTP server on %s closed the channel', self.host)
                if leftover:
                    data = leftover + data
                view = memoryview(data)
                start, end = 0, len(data)
                while end - start >= 4:
                    length = _U32.unpack_from(data, start)[0]
                    if length < 5:
                        raise SFTPError('SFTP server on %s:%s sent a malformed reply: a packet '
                                        'of %s bytes', self.host, self.port, length)
                    if end - start < 4 + length:
                        break
                    kind = data[start + 4]
                    request_id = _U32.unpack_from(data, start + 5)[0]
                    payload: Any = view[start + 9:start + 4 + length]
                    if kind != _DATA:
                        payload = bytes(payload)
                    start += 4 + length
                    result = self._pending.pop(request_id, None)
                    if result is not None:
                        result.set((kind, payload))
                leftover = data[start:] if start < end else b''
        except BaseException as exc:
            self._fail(exc if isinstance(exc, Exception) else SFTPError(
                'SFTP session on %s closed', self.host))

    def _fail(self, exc: BaseException) -> None:
        self._closed = exc
        pending, self._pending = self._pending, {}
        for result in pending.values():
            result.set_exception(exc if isinstance(exc, SFTPError) else SFTPError(
                'SFTP session on %s failed: %s', self.host, exc))

    def _send(self, kind: int, body: bytes) -> AsyncResult:
        if self._closed is not None:
            raise SFTPError('SFTP session on %s is closed: %s', self.host, self._closed)
        request_id = self._next_id = (self._next_id + 1) & 0xFFFFFFFF
        result = AsyncResult()
        self._pending[request_id] = result
        try:
            self._write(_HEADER.pack(len(body) + 5, kind, request_id) + body)
        except BaseException as exc:
            # Part of the packet may have gone out: whatever is sent next would
            # be read as the rest of it, and its reply would never come. The
            # session is unusable.
            error = SFTPError('SFTP session on %s failed while sending a request: %s',
                              self.host, exc)
            self._fail(error)
            if isinstance(exc, Exception):
                raise error from exc
            raise
        return result

    def _reply(self, result: AsyncResult, action: str, path: str) -> Tuple[int, bytes]:
        """The reply to a request, waiting at most the client's ``timeout``.

        :raises Timeout: no reply in time (the session stays usable: a late
          reply is matched to its request and dropped).
        """
        timeout = self.timeout
        if timeout is not None and not result.wait(timeout) and not result.ready():
            raise Timeout('SFTP %s %s on %s:%s: no reply within %s seconds', action, path,
                          self.host, self.port, timeout)
        return result.get()

    def _status_error(self, payload: bytes, action: str, path: str) -> SFTPIOError:
        reader = _Reader(payload)
        code = reader.u32()
        try:
            message = reader.string().decode('utf-8', 'replace')
        except struct.error:
            message = ''
        reason = _STATUS_TEXT.get(code) or message or 'status %s' % code
        if message and message.lower() != reason and code not in _STATUS_TEXT:
            reason = message
        return SFTPIOError('%s %s on %s failed: %s', action, path, self.host, reason)

    def _expect(self, result: AsyncResult, kind: int, action: str, path: str) -> bytes:
        got, payload = self._reply(result, action, path)
        if got == _STATUS:
            code = _U32.unpack_from(payload)[0]
            if code == _FX_OK and kind == _STATUS:
                return payload
            raise self._status_error(payload, action, path)
        if got == kind:
            return payload
        raise SFTPIOError('%s %s on %s: unexpected reply type %s', action, path, self.host, got)

    def _expect_ok(self, result: AsyncResult, action: str, path: str) -> None:
        self._expect(result, _STATUS, action, path)

    # Operations.

    @_parses_replies
    def stat(self, path: str) -> Optional[RemoteStat]:
        """Size and mode of ``path`` (links followed), or None if it does not exist."""
        kind, payload = self._reply(self._send(_STAT, _path(path)), 'stat of', path)
        if kind == _ATTRS:
            return _Reader(payload).attrs()
        if kind == _STATUS and _U32.unpack_from(payload)[0] == _FX_NO_SUCH_FILE:
            return None
        if kind == _STATUS:
            raise self._status_error(payload, 'stat of', path)
        raise SFTPIOError('stat of %s on %s: unexpected reply type %s', path, self.host, kind)

    @_parses_replies
    def realpath(self, path: str) -> str:
        """The server's canonical absolute form of ``path`` (OpenSSH resolves links)."""
        payload = self._expect(self._send(_REALPATH, _path(path)), _NAME, 'resolving', path)
        reader = _Reader(payload)
        if reader.u32() < 1:
            raise SFTPIOError('resolving %s on %s: no name in the reply', path, self.host)
        return reader.string().decode('utf-8', 'surrogateescape')

    @_parses_replies
    def remove(self, path: str) -> None:
        self._expect_ok(self._send(_REMOVE, _path(path)), 'removing', path)

    @_parses_replies
    def replace(self, source: str, target: str) -> None:
        """Rename ``source`` to ``target``, replacing a file already there.

        With OpenSSH's ``posix-rename`` extension the replacement is atomic;
        without it an existing ``target`` is removed first.
        """
        body = _path(source) + _path(target)
        if _POSIX_RENAME in self.extensions:
            self._expect_ok(self._send(_EXTENDED, _string(_POSIX_RENAME) + body), 'renaming',
                            '%s to %s' % (source, target))
            return
        if self.stat(target) is not None:
            self.remove(target)
        self._expect_ok(self._send(_RENAME, body), 'renaming', '%s to %s' % (source, target))

    @_parses_replies
    def mkdir(self, path: str, mode: int = 0o755) -> None:
        body = _path(path) + _U32.pack(_ATTR_PERMISSIONS) + _U32.pack(mode)
        self._expect_ok(self._send(_MKDIR, body), 'mkdir', path)

    @_parses_replies
    def open(self, path: str, writing: bool, mode: int = 0o644) -> bytes:
        """A handle for ``path``: for reading, or truncated/created for writing."""
        if writing:
            flags = _WRITE_FLAG | _CREAT | _TRUNC
            attrs = _U32.pack(_ATTR_PERMISSIONS) + _U32.pack(mode)
            action = 'opening for writing'
        else:
            flags, attrs, action = _READ_FLAG, _U32.pack(0), 'opening'
        payload = self._expect(self._send(_OPEN, _path(path) + _U32.pack(flags) + attrs),
                               _HANDLE, action, path)
        return _Reader(payload).string()

    @_parses_replies
    def close(self, handle: bytes, path: str = '') -> None:
        self._expect_ok(self._send(_CLOSE, _string(handle)), 'closing', path)

    @_parses_replies
    def set_mode(self, handle: bytes, mode: int, path: str = '') -> None:
        body = _string(handle) + _U32.pack(_ATTR_PERMISSIONS) + _U32.pack(mode)
        self._expect_ok(self._send(_FSETSTAT, body), 'setting the mode of', path)

    @_parses_replies
    def listdir(self, path: str) -> List[Tuple[str, RemoteStat]]:
        """Entries of a directory, without ``.`` and ``..``."""
        payload = self._expect(self._send(_OPENDIR, _path(path)), _HANDLE, 'listing', path)
        handle = _Reader(payload).string()
        entries = []
        try:
            while True:
                kind, payload = self._reply(self._send(_READDIR, _string(handle)), 'listing',
                                            path)
                if kind == _STATUS:
                    if _U32.unpack_from(payload)[0] == _FX_EOF:
                        break
                    raise self._status_error(payload, 'listing', path)
                if kind != _NAME:
                    raise SFTPIOError('listing %s on %s: unexpected reply type %s', path,
                                      self.host, kind)
                reader = _Reader(payload)
                for _ in range(reader.u32()):
                    name = reader.string().decode('utf-8', 'surrogateescape')
                    reader.string()  # long name
                    info = reader.attrs()
                    if name not in ('.', '..'):
                        entries.append((name, info))
        finally:
            self.close(handle, path)
        return entries

    @_parses_replies
    def upload(self, read: Callable[[int], bytes], path: str, mode: int, total: int,
               progress: Optional[Callable[[int, int], Any]] = None) -> int:
        """Write the bytes given by ``read(n)`` to ``path``, many writes in flight;
        returns how many bytes were written."""
        handle = self.open(path, writing=True, mode=mode)
        closed = False
        try:
            offset = 0
            in_flight: List[Tuple[AsyncResult, int]] = []
            prefix = _string(handle)
            done = 0
            if progress is not None and not total:
                progress(0, 0)
            chunk = self.write_chunk
            most = _in_flight(chunk)
            finish: List[Tuple[AsyncResult, str]] = []
            while True:
                block = read(chunk)
                if block:
                    body = prefix + _U64.pack(offset) + _U32.pack(len(block)) + block
                    in_flight.append((self._send(_WRITE, body), len(block)))
                    offset += len(block)
                else:
                    # All is sent: the mode (the server applied its umask on
                    # create) and the close go out behind the last writes,
                    # without waiting for their replies first.
                    body = prefix + _U32.pack(_ATTR_PERMISSIONS) + _U32.pack(mode)
                    finish.append((self._send(_FSETSTAT, body), 'setting the mode of'))
                    finish.append((self._send(_CLOSE, prefix), 'closing'))
                    closed = True
                while in_flight and (len(in_flight) >= most or not block):
                    result, size = in_flight.pop(0)
                    self._expect_ok(result, 'writing', path)
                    done += size
                    if progress is not None:
                        progress(done, total)
                if not block:
                    break
            for result, action in finish:
                self._expect_ok(result, action, path)
            return offset
        finally:
            if not closed:
                self._close_quietly(handle, path)

    @_parses_replies
    def download(self, path: str, write_at: Callable[[int, bytes], None], size: int,
                 progress: Optional[Callable[[int, int], Any]] = None) -> None:
        """Read ``path`` and hand each piece to ``write_at(offset, data)``."""
        handle = self.open(path, writing=False)
        try:
            prefix = _string(handle)
            requests: List[Tuple[AsyncResult, int, int]] = []
            next_offset = 0
            done = 0
            eof = False
            if progress is not None and not size:
                progress(0, 0)
            chunk = self.read_chunk
            most = _in_flight(chunk)
            while True:
                while not eof and len(requests) < most and (
                        next_offset < size or not requests):
                    body = prefix + _U64.pack(next_offset) + _U32.pack(chunk)
                    requests.append((self._send(_READ, body), next_offset, chunk))
                    next_offset += chunk
                if not requests:
                    break
                result, offset, length = requests.pop(0)
                kind, payload = self._reply(result, 'reading', path)
                if kind == _STATUS:
                    if _U32.unpack_from(payload)[0] == _FX_EOF:
                        eof = True
                        continue
                    raise self._status_error(payload, 'reading', path)
                if kind != _DATA:
                    raise SFTPIOError('reading %s on %s: unexpected reply type %s', path,
                                      self.host, kind)
                count = _U32.unpack_from(payload)[0]
                data = payload[4:4 + count]
                if data:
                    write_at(offset, data)
                    done += len(data)
                    if progress is not None:
                        progress(done, max(size, done))
                if len(data) < length:
                    if not data:
                        eof = True
                        continue
                    # A short read before the end: ask for the rest of that piece.
                    body = prefix + _U64.pack(offset + len(data)) + _U32.pack(length - len(data))
                    requests.insert(0, (self._send(_READ, body), offset + len(data),
                                        length - len(data)))
        finally:
            self._close_quietly(handle, path)

    def _close_quietly(self, handle: bytes, path: str) -> None:
        if self._closed is not None:
            return
        try:
            self.close(handle, path)
        except SFTPIOError:
            pass

    def _discard(self) -> None:
        self.channel.discard()

    def end(self) -> None:
        """Close the SFTP channel."""
        if self._closed is None:
            self._closed = SFTPError('SFTP session on %s was closed', self.host)
        reader = getattr(self, '_reader', None)
        if reader is not None:
            reader.kill(block=False)
        self._discard()
