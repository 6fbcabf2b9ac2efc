"""One SSH channel, as commands, shells, SCP, SFTP and tunnels all use it.

:class:`Channel` wraps the library's channel object and its
:class:`~pssh.clients.base._connection.Connection`: every operation goes
through the connection's :meth:`~pssh.clients.base._connection.Connection.call`,
so it waits on the session's socket and fails with one of ours. Attributes it
does not define are looked up on the library's channel, so code written for
parallel-ssh, which handed out the library's channel itself, keeps working:
the methods here have names the libraries' channels do not use.
"""
from typing import Any, Optional, Tuple

from gevent.event import Event

from ..reader import ConcurrentRWBuffer
from ._connection import Connection
from ._driver import ExitStatus

__all__ = ['Channel']

#: A channel request by name: what the driver calls it.
_REQUESTS = {
    'pty': 'request_pty', 'exec': 'request_exec', 'shell': 'request_shell',
    'subsystem': 'request_subsystem', 'agent': 'request_agent_forwarding',
}


class Channel:
    """A channel of a session, with what has been learnt about its command.

    Wraps the SSH library's channel object (attributes not defined here are
    looked up on it, so code that used the library's channel directly keeps
    working).
    """

    __slots__ = ('raw', 'conn', 'exit_code', 'exit_signal', 'error', 'closed', '_done',
                 '_output_ended', '_cut', 'eof_sent', '_buffers', '__weakref__')

    def __init__(self, raw: Any, conn: Connection) -> None:
        self.raw = raw
        #: The connection the channel belongs to.
        self.conn = conn
        #: Exit status; minus the signal number when killed by a signal.
        self.exit_code: Optional[int] = None
        #: Name of the signal that ended the command (``'KILL'``...), if any.
        self.exit_signal: Optional[str] = None
        #: What stopped reading this channel early, if anything did.
        self.error: Optional[BaseException] = None
        self.closed = False
        #: End-of-file was sent to the command's stdin (nothing more may be written).
        self.eof_sent = False
        self._done = Event()
        # The reader has seen the end of both output streams.
        self._output_ended = False
        # We closed the channel before that: the command's status is unknown.
        self._cut = False
        # The command's stdout and stderr buffers, once it has output.
        self._buffers: Tuple[ConcurrentRWBuffer, ...] = ()

    def __del__(self) -> None:
        # Freed in another thread than its session's (pssh.aio): the library
        # channel is freed by the session's own thread instead. It is taken
        # from this object, so that what the collector frees here afterwards
        # cannot hold its last reference.
        try:
            raw = object.__getattribute__(self, 'raw')
            owner = object.__getattribute__(self, 'conn').owner
        except AttributeError:  # made in part only
            return
        if raw is not None and owner.hand_over(raw):
            self.raw = None

    # ------------------------------------------------------------------
    # Operations, each waiting as long as the library needs.

    def request(self, kind: str, *args: Any, what: Optional[str] = None) -> None:
        """Ask the server for ``kind``: ``'pty'``, ``'exec'`` (a command line),
        ``'shell'``, ``'subsystem'`` (a name) or ``'agent'`` (forwarding)."""
        conn = self.conn
        conn.call(getattr(conn.driver, _REQUESTS[kind]), self.raw, *args, timeout=conn.timeout,
                  what=what or 'requesting %s' % kind)

    def recv(self, size: int, stderr: bool = False, what: str = 'reading',
             bounded: bool = True) -> bytes:
        """Up to ``size`` bytes of output (stderr's if ``stderr``); ``b''`` at its end.

        :param bounded: wait at most the connection's timeout (else for ever:
          for readers that wait on a peer with nothing to say).
        """
        conn = self.conn
        data: bytes = conn.call(conn.driver.read, self.raw, stderr, size,
                                timeout=conn.timeout if bounded else None, what=what)
        return data

    def write_all(self, data: bytes, what: str = 'writing') -> None:
        """Send all of ``data``."""
        self.conn.write_all(self.raw, data, what)

    def end_input(self, what: str = 'sending end-of-file') -> None:
        """Send end-of-file (once): the other side reads no more from us."""
        if self.eof_sent:
            return
        conn = self.conn
        conn.call(conn.driver.send_eof, self.raw, timeout=conn.timeout, what=what)
        self.eof_sent = True

    def wait_exit(self, what: str = 'waiting for the channel to close') -> ExitStatus:
        """Wait for the channel to close; the command's exit status and signal."""
        conn = self.conn
        status: ExitStatus = conn.call(conn.driver.wait_closed, self.raw, what=what)
        return status

    def shut(self, what: str = 'closing a channel') -> None:
        """Close the channel (once); nothing to do on a closed connection."""
        if self.closed:
            return
        self.closed = True
        conn = self.conn
        if conn.io is None:
            return
        conn.call(conn.driver.close, self.raw, timeout=conn.timeout, what=what)

    def discard(self) -> None:
        """Close the channel after a failure, whose own error matters more."""
        try:
            self.shut()
        except Exception:  # the original error matters more
            pass

    # ------------------------------------------------------------------
    # The command's end.

    @property
    def done(self) -> bool:
        """True once the command's output has ended and its status is recorded."""
        return self._done.is_set()

    def unpause(self) -> None:
        """Somebody waits for the command's end: a ``buffer_limit`` no longer
        pauses it, so that the end can come without the output being read."""
        for buffer in self._buffers:
            buffer.allow_unbounded()

    def wait_done(self, timeout: Optional[float] = None) -> bool:
        return self._done.wait(timeout)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.raw, name)

    def __repr__(self) -> str:
        return '<Channel of %s exit_code=%r%s>' % (
            self.conn.host, self.exit_code,
            ' signal=%s' % self.exit_signal if self.exit_signal else '')
