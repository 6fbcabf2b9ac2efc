"""Serving forwarded agent channels: what both backends do the same way.

With agent forwarding on, the server opens an ``auth-agent@openssh.com``
channel to us each time a program on the remote host talks to its
``SSH_AUTH_SOCK``. Each backend learns of such a channel in its own way (a
callback registered with its library through ctypes, see
``pssh.clients.native._agent_forward`` and ``pssh.clients.ssh._agent_forward``)
and hands it to :meth:`AgentRelay._start`. From there the work is the same: a
greenlet connects to the local agent (``$SSH_AUTH_SOCK`` at that moment) and
copies bytes both ways, waiting on the session's
:class:`~pssh.clients.base._io.SessionIO` like every other channel reader,
then ends and frees the channel. A backend subclass supplies the few
operations on its library's channel (the ``_read``, ``_write`` ... methods
below), each one small.
"""
import ctypes
import os
import socket
from abc import ABC, abstractmethod
from typing import Any, Callable, Dict, Optional

import gevent
from gevent import socket as gsocket

from ... import logger
from ._io import SessionIO, call_until_done

__all__ = ['AgentRelay']

#: Seconds the agent gets to finish answering after the remote client hung up.
_LINGER = 30.0


class AgentRelay(ABC):
    """Serves the forwarded-agent channels of one session, one greenlet each.

    ``channel`` below is whatever the backend hands to :meth:`_start` for a
    channel; only the backend's own methods look into it.

    :param io: the session's relay.
    :param label: ``host:port`` for log messages.
    :param timeout: seconds allowed for each library call that has to wait
      (closing a channel, sending end-of-file...).
    """

    #: Bytes read at a time, from the channel and from the agent.
    chunk = 32 * 1024
    #: What the library's calls return when they would block.
    again = -1
    #: The library's name, for error messages.
    library = 'the SSH library'

    def __init__(self, io: SessionIO, label: str, timeout: Optional[float]) -> None:
        self._io = io
        self._label = label
        self._timeout = timeout
        # The serving greenlets, by a key of the backend's choosing.
        self._greenlets: Dict[Any, gevent.Greenlet] = {}

    @property
    def active(self) -> int:
        """Agent channels being served."""
        return len(self._greenlets)

    def _start(self, key: Any, channel: Any) -> None:
        """Serve ``channel`` in a greenlet of its own, known by ``key`` until it ends."""
        greenlet = gevent.spawn(self._serve, channel)
        self._greenlets[key] = greenlet
        greenlet.link(lambda _g, key=key: self._greenlets.pop(key, None))

    # ------------------------------------------------------------------
    # What a backend supplies.

    @abstractmethod
    def _directions(self, channel: Any) -> int:
        """What the library waits for (as the driver's ``block_directions``)."""

    def _check_open(self) -> None:
        """:raises OSError: the connection is gone: the library must not be
        called (by default the library's calls are left to fail)."""
        return None

    def _servable(self, channel: Any) -> bool:
        """Whether to copy bytes on ``channel`` now that the agent is reached
        (False: end it at once)."""
        return True

    @abstractmethod
    def _read(self, channel: Any, buf: Any) -> Optional[int]:
        """Read what the channel has into ``buf`` (of :attr:`chunk` bytes): how
        many bytes, 0 at its end, None when nothing came yet.

        :raises OSError: the library failed.
        """

    @abstractmethod
    def _write(self, channel: Any, data: memoryview) -> Optional[int]:
        """Send the first bytes of ``data``, waiting if need be: how many went
        (0: try again), None if the channel has closed meanwhile."""

    @abstractmethod
    def _send_eof(self, channel: Any) -> None:
        """Tell the remote client that the agent has said all it had to say."""

    @abstractmethod
    def _end(self, channel: Any, served: bool) -> None:
        """End the channel once serving it is over (``served``: the agent
        was reached and bytes were copied; else at once, so that the remote
        client sees there is no agent)."""

    @abstractmethod
    def _free(self, channel: Any) -> None:
        """Give the channel back to the library (it had no connection failure)."""

    # ------------------------------------------------------------------
    # Serving a channel.

    def _serve(self, channel: Any) -> None:
        agent = self._connect_agent()
        pump = None
        freeable = True
        try:
            if agent is not None and self._servable(channel):
                pump = gevent.spawn(self._agent_to_channel, agent, channel)
                self._channel_to_agent(channel, agent)
                # The remote client is done asking: let the agent finish its
                # answer and hang up (it does at end of input).
                try:
                    agent.shutdown(socket.SHUT_WR)
                except OSError:  # it hung up already
                    pass
                pump.join(self._timeout if self._timeout is not None else _LINGER)
            self._end(channel, served=pump is not None)
        except Exception as exc:
            # The connection went away: the library frees the channel with the session.
            freeable = False
            logger.debug('%s: forwarded agent channel ended: %s', self._label, exc)
        finally:
            if pump is not None:
                pump.kill()
            if agent is not None:
                agent.close()
        if freeable:
            self._free(channel)

    def _connect_agent(self) -> Optional[Any]:
        path = os.environ.get('SSH_AUTH_SOCK')
        if not path:
            logger.debug('%s: the server asked for our agent, but SSH_AUTH_SOCK is not set',
                         self._label)
            return None
        sock = gsocket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.connect(path)
        except OSError as exc:
            sock.close()
            logger.debug('%s: cannot reach the agent at %s: %s', self._label, path, exc)
            return None
        return sock

    def _until_done(self, channel: Any, func: Callable[[], int]) -> int:
        """Call ``func`` (a library call on ``channel``) until it does not block.

        :raises OSError: it failed, or the connection is gone.
        """
        self._check_open()

        def call() -> int:
            self._check_open()
            return int(func())

        rc: int = call_until_done(self._io, call, lambda rc: rc == self.again,
                                  lambda: self._directions(channel), self._timeout)
        if rc < 0:
            raise OSError('%s error %s' % (self.library, rc))
        return rc

    def _channel_to_agent(self, channel: Any, agent: Any) -> None:
        """Copy what the remote client sends to the agent, until its end."""
        io = self._io
        buf = ctypes.create_string_buffer(self.chunk)
        while True:
            before = io.unread()
            try:
                got = self._read(channel, buf)
            finally:
                io.settle(before)
            if got is None:
                io.wait_for(lambda: self._directions(channel))
            elif got == 0:
                return  # the remote end sent EOF or closed
            else:
                try:
                    agent.sendall(buf.raw[:got])
                except OSError as exc:
                    # The agent hung up: the channel ends once its answers
                    # (if any) are sent.
                    logger.debug('%s: the agent hung up: %s', self._label, exc)
                    return

    def _agent_to_channel(self, agent: Any, channel: Any) -> None:
        """Copy the agent's answers to the channel; EOF on the channel when it hangs up."""
        try:
            while True:
                try:
                    data = agent.recv(self.chunk)
                except OSError as exc:
                    # The agent hung up on us: end the channel as at its EOF.
                    logger.debug('%s: the agent hung up: %s', self._label, exc)
                    data = b''
                if not data:
                    break
                view = memoryview(data)
                while view:
                    written = self._write(channel, view)
                    if written is None:
                        return  # the remote client went away meanwhile
                    view = view[written:]
            self._send_eof(channel)
        except Exception as exc:
            logger.debug('%s: forwarding the agent\'s answers stopped: %s', self._label, exc)
