"""Commands on a channel: the command line, the reader greenlet, stdin, shells.

Everything here works on a :class:`~pssh.clients.base._channel.Channel` and
its connection. The reader greenlet moves a command's output into its two
buffers as it comes (the bulk read path: large reads, a wait on the session's
socket only when neither stream has anything), and records the exit status
once both streams have ended; :func:`write_stdin` feeds the command for as long
as it runs.
"""
import shlex
import signal
from typing import Any, Iterator, Optional, Union

import gevent

from ... import logger
from ...exceptions import SessionError, ShellError, SSHError
from ...output import BufferData, HostOutput, HostOutputBuffers
from ..reader import ConcurrentRWBuffer
from ._channel import Channel
from ._connection import WRITE_PIECE as _WRITE_PIECE
from ._driver import AGAIN
from ._transfer import shell_quote

__all__ = ['InteractiveShell', 'Stdin', 'build_command', 'command_encoding', 'make_output',
           'read_channel', 'signal_exit_code', 'write_stdin']

_READ_SIZE = 256 * 1024


def command_encoding(encoding: str) -> str:
    """The codec a command line is sent in when output is decoded with ``encoding``.

    That codec, if it writes ASCII as ASCII (as the shell on the other side
    expects); else (UTF-16, UTF-32) UTF-8.
    """
    try:
        if 'sh -c\n%$'.encode(encoding) == b'sh -c\n%$':
            return encoding
    except (UnicodeError, LookupError):
        pass
    return 'utf-8'


def build_command(command: str, sudo: bool = False, user: Optional[str] = None,
                  shell: Optional[str] = None) -> str:
    """The command line sent to the server for ``command`` and these options."""
    if not (sudo or user or shell):
        return command
    line = '%s %s' % (shell or '$SHELL -c', shell_quote(command))
    if user:
        # Quoted where needed: a user name is not shell syntax.
        return 'sudo -u %s -S %s' % (shlex.quote(user), line)
    if sudo:
        return 'sudo -S ' + line
    return line


def signal_exit_code(name: Optional[str]) -> Optional[int]:
    """Minus the number of signal ``name`` (``'KILL'`` -> -9), or None if unknown."""
    if not name:
        return None
    try:
        return -signal.Signals['SIG' + name.upper()].value
    except KeyError:
        return None


class Stdin:
    """The standard input of a remote command."""

    __slots__ = ('_channel', '_client')

    def __init__(self, channel: Channel, client: Any) -> None:
        self._channel = channel
        self._client = client

    def write(self, data: Union[str, bytes]) -> None:
        """Send ``data`` (``str`` is sent as UTF-8); returns once all of it is sent.

        Waits for as long as the command takes to accept the data. Data for a
        command that has ended (or whose channel was closed) is dropped, with a
        debug log line: a password written to every host's ``sudo`` must not fail
        on the hosts where sudo did not ask and the command is already over.

        :raises SessionError: :meth:`close` sent end-of-file already and the
          command still runs.
        :raises SSHError: the connection was lost.
        """
        if isinstance(data, str):
            data = data.encode('utf-8')
        # The command may need its output read to take in more input: while
        # this write waits, a buffer_limit does not pause it.
        buffers = self._channel._buffers
        for buffer in buffers:
            buffer.hold_open()
        try:
            write_stdin(self._channel, data)
        finally:
            for buffer in buffers:
                buffer.release()

    def flush(self) -> None:
        """Nothing to do: :meth:`write` returns only once its data is sent."""

    def close(self) -> None:
        """Send end-of-file: the command sees its standard input close.

        Nothing is sent once the channel is closed (the command has ended): a
        server drops the whole connection over a packet for a channel it has
        freed.
        """
        channel = self._channel
        if channel.closed:
            logger.debug('%s: stdin of an ended command: end-of-file not sent',
                         channel.conn.host)
            return
        channel.end_input()


class InteractiveShell:
    """A login shell on one host, fed with :meth:`run` and read through :attr:`output`.

    Used as a context manager, leaving the block closes the shell and waits for
    it to exit, after which all its output can be read.
    """

    def __init__(self, channel: Channel, client: Any, encoding: str = 'utf-8',
                 read_timeout: Optional[float] = None) -> None:
        self._chan = channel
        self._client = client
        self.output = make_output(client, channel, encoding, read_timeout, None)

    @property
    def stdout(self) -> Optional[Iterator[str]]:
        return self.output.stdout

    @property
    def stderr(self) -> Optional[Iterator[str]]:
        return self.output.stderr

    @property
    def stdin(self) -> Optional[Stdin]:
        return self.output.stdin

    @property
    def exit_code(self) -> Optional[int]:
        return self.output.exit_code

    def run(self, cmd: str) -> None:
        """Send ``cmd`` and a newline to the shell, encoded with the shell's encoding
        (UTF-8 if that encoding does not write ASCII as ASCII, as UTF-16 does not).

        :raises UnicodeEncodeError: ``cmd`` has characters the encoding cannot represent.
        :raises ShellError: the shell is closed or the write failed.
        """
        data = (cmd + '\n').encode(command_encoding(self.output.encoding))
        if self._chan.done or self._chan.closed:
            # (Stdin.write would drop it: a shell's commands must not vanish.)
            raise ShellError('Could not send command to shell on %s: the shell has %s',
                             self._client.host, 'exited' if self._chan.done else 'been closed')
        try:
            self.output.stdin.write(data)
        except Exception as exc:
            raise ShellError('Could not send command to shell on %s: %s',
                             self._client.host, exc) from exc

    def close(self) -> None:
        """Send end-of-file to the shell and wait for it to exit."""
        self.output.stdin.close()
        self._client.wait_finished(self.output)

    def __enter__(self) -> 'InteractiveShell':
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()


def make_output(client: Any, channel: Channel, encoding: str, read_timeout: Optional[float],
                fully_qualified_command: Optional[bytes],
                buffer_limit: Optional[int] = None) -> HostOutput:
    """The HostOutput of a command or shell started on ``channel``, with the
    reader greenlet that fills its buffers. ``client`` is only handed on to
    the HostOutput (its ``host`` and ``alias`` name it)."""
    out, err = ConcurrentRWBuffer(buffer_limit), ConcurrentRWBuffer(buffer_limit)
    out.peers, err.peers = (err,), (out,)
    channel._buffers = (out, err)
    reader = gevent.spawn(read_channel, channel, out, err)
    buffers = HostOutputBuffers(BufferData(reader, out), BufferData(reader, err))
    return HostOutput(client.host, channel, Stdin(channel, client), client, alias=client.alias,
                      encoding=encoding, read_timeout=read_timeout, buffers=buffers,
                      fully_qualified_command=fully_qualified_command)


def read_channel(channel: Channel, out: ConcurrentRWBuffer, err: ConcurrentRWBuffer) -> None:
    """Reader greenlet: move a channel's output into its buffers until it ends."""
    conn = channel.conn
    raw, read = channel.raw, conn.driver.read
    io = conn.io
    try:
        streams = [(out, False), (err, True)]
        while streams:
            progressed = False
            before = io.unread() if io is not None else 0
            for stream in list(streams):
                buffer, is_err = stream
                while True:
                    buffer.wait_writable()
                    data = read(raw, is_err, _READ_SIZE)
                    if data is AGAIN:
                        break
                    if not data:
                        # The stream's end is announced to readers only once
                        # the exit status is known too (below), so that code
                        # reading all output can then read exit_code.
                        streams.remove(stream)
                        channel._output_ended = not streams
                        break
                    buffer.write(data)
                    progressed = True
            if io is None or conn.io is not io:
                closing = io.closing if io is not None else conn.closed_here
                if closing is not None:
                    raise conn.closed_here_error(closing, 'reading output')
                raise SSHError('Session to %s:%s was closed', conn.host, conn.port)
            # Bytes taken off the socket by one stream's read may hold the
            # other stream's data, or another channel's: look again first.
            if io.settle(before) or progressed or not streams:
                continue
            io.wait_for(conn.driver.block_directions)
        status = channel.wait_exit()
        if not channel._cut:
            # (A channel we closed while its command ran has no status of
            # its own: what the library reports then is made up.)
            channel.exit_code, channel.exit_signal = status
        # Answer the server's close, so that it frees the session (servers
        # allow only so many per connection).
        channel.shut()
    except Exception as exc:
        error = conn.error_for(exc, io, 'reading output', None)
        if channel._cut and (io is None or io.closed_reason is None):
            # Reading a channel we closed ourselves may fail: that is no
            # error of the command's.
            logger.debug('%s: reading a closed channel stopped: %s', conn.host, error)
        else:
            channel.error = error
            logger.debug('%s: reading output stopped: %s', conn.host, channel.error)
    finally:
        out.set_eof()
        err.set_eof()
        channel._done.set()
        if io is not None:
            io.notify()  # a writer waiting to feed this command's stdin


def write_stdin(channel: Channel, data: bytes) -> None:
    """Write all of ``data`` to a command's channel, for as long as it runs."""
    conn = channel.conn
    io = conn.io
    if io is None:
        raise conn.not_connected('writing to the command')
    raw = channel.raw
    view = memoryview(data)
    while view:
        if io.closing is not None:
            # Not a command that ended: the data cannot be sent.
            raise conn.closed_here_error(io.closing, 'writing to the command')
        if channel.done or channel.closed:
            _drop_input(channel, len(view))
            return
        if channel.eof_sent:
            raise SessionError("Cannot write to the command's stdin on %s:%s: end-of-file "
                               'was sent already (stdin.close())', conn.host, conn.port)
        piece = bytes(view[:_WRITE_PIECE])
        before = io.unread()
        try:
            sent = conn.driver.write(raw, piece)
            io.settle(before)
            if sent is AGAIN:
                # Woken by the socket, or by the command ending (reader greenlet).
                io.wait_for(conn.driver.block_directions)
                continue
        except Exception as exc:
            if io.closed_reason is None and _input_refused(channel):
                _drop_input(channel, len(view))
                return
            raise conn.error_for(exc, io, 'writing to the command', None) from exc
        view = view[sent:]

def _input_refused(channel: Channel) -> bool:
    """After a failed write: has the command's side of the channel ended (the
    write failed for that reason, not for the connection)?"""
    if channel.done or channel.closed:
        return True
    try:
        return bool(channel.conn.driver.eof(channel.raw))
    except Exception:  # the write's own error is the one to report
        return False

def _drop_input(channel: Channel, size: int) -> None:
    logger.debug('%s: command has ended; %s bytes written to its stdin dropped',
                 channel.conn.host, size)
