"""Local port forwarding through a connected client (``ssh -L``).

:class:`TunnelServer` listens on a local port and carries every TCP
connection it accepts to ``host:port`` as seen from the SSH server, through a
``direct-tcpip`` channel of a connected :class:`~pssh.clients.native.SSHClient`.
The channel is the same one that takes a client to a host behind a bastion
(:class:`pssh.clients.base._tunnel.ChannelTransport`), so the bytes go through
the client's own session, in the caller's gevent hub: no thread, no process.

:class:`LocalForwarder` keeps a set of such servers, as parallel-ssh's class of
that name does, but runs them in the hub of the thread that uses it rather than
in a thread of its own (a client's session belongs to one hub and cannot be
used from another). Nothing here runs at import: the module-level
``FORWARDER`` is made the first time it is looked up.
"""
import errno
import logging
import socket
from typing import Any, Dict, List, Optional, Tuple

import gevent
from gevent.event import Event
from gevent.pool import Pool
from gevent.queue import Queue
from gevent.server import StreamServer

from ... import _checks
from ...constants import DEFAULT_RETRIES
from ..base._tunnel import ChannelTransport

__all__ = ['TunnelServer', 'LocalForwarder']

logger = logging.getLogger(__name__)

_CHUNK = 256 * 1024
#: Seconds before the first retry of opening a channel; doubled for each next one.
_FIRST_RETRY_DELAY = 0.1
#: Seconds that stop() gives the tunnels to close before it abandons them.
_STOP_GRACE = 2.0


class TunnelServer(StreamServer):
    """A local TCP server whose connections are forwarded to ``host:port``
    from the SSH server ``client`` is connected to.

    Once :meth:`start`\\ ed, it listens on a free port of ``bind_address``
    (:attr:`listen_port`). Each connection it accepts gets a ``direct-tcpip``
    channel of ``client`` to ``host:port``; bytes are carried both ways until
    both sides have finished sending. When one side ends its sending (end of
    file), the other side is told so and may still answer. :meth:`stop` closes
    the listening socket and every forwarded connection.

    As any gevent server, it is stopped on leaving a ``with`` block.

    :param client: a connected :class:`~pssh.clients.native.SSHClient` (a client
      of the libssh backend works as well).
    :param host: the destination, resolved and connected to by the SSH server.
    :param port: the destination port.
    :param bind_address: local address to listen on; an IPv6 address works too.
    :param num_retries: attempts at opening the channel for a connection before
      giving up on it. A connection whose channel cannot be opened (the server
      cannot reach the destination, or refuses to forward) is closed, and the
      error is logged at ERROR level on logger ``pssh.clients.native.tunnel`` and
      kept in :attr:`exception`; the server goes on accepting connections.
    :raises TypeError: ``host`` is not a string, or ``port``/``num_retries`` not an int.
    :raises ValueError: ``port`` out of range, or ``num_retries`` below 1.
    """

    def __init__(self, client: Any, host: str, port: int, bind_address: str = '127.0.0.1',
                 num_retries: int = DEFAULT_RETRIES) -> None:
        owner = 'TunnelServer'
        _checks.text('host', host, owner, optional=False, empty=False)
        _checks.port('port', port, owner, host)
        _checks.text('bind_address', bind_address, owner, host, optional=False, empty=False)
        _checks.count('num_retries', num_retries, owner, host, minimum=1)
        self.client = client
        self.host = host
        self.port = port
        self.bind_address = bind_address
        self.num_retries = num_retries
        #: The last error met when opening a channel for a connection, if any.
        self.exception: Optional[BaseException] = None
        self._pool = Pool()
        super().__init__((bind_address, 0), self._forward, spawn=self._pool)

    @property
    def session(self) -> Any:
        """The SSH library session the channels are opened on."""
        return self.client.session

    @property
    def listen_port(self) -> Optional[int]:
        """The local port connections are accepted on; None until started and after stopped."""
        sock = self.__dict__.get('socket')
        if sock is None:
            return None
        try:
            return int(sock.getsockname()[1])
        except OSError:  # closed
            return None

    def __repr__(self) -> str:
        return '<TunnelServer %s:%s -> %s:%s via %s>' % (
            self.bind_address, self.listen_port, self.host, self.port,
            getattr(self.client, 'host', self.client))

    # One forwarded connection.

    def _open_channel(self) -> ChannelTransport:
        delay = _FIRST_RETRY_DELAY
        for attempt in range(1, self.num_retries + 1):
            try:
                return ChannelTransport(self.client.connection, self.host, self.port)
            except Exception as exc:
                client = self.client
                if (attempt == self.num_retries or getattr(client, 'session', None) is None
                        or getattr(client, 'connection_lost', False)):
                    raise
                logger.debug('Opening a channel to %s:%s through %s failed (attempt %s of %s): '
                             '%s', self.host, self.port, getattr(client, 'host', client),
                             attempt, self.num_retries, exc)
            gevent.sleep(delay)  # a retry delay, not synchronisation
            delay *= 2
        raise AssertionError('unreachable')  # pragma: no cover

    def _forward(self, local: socket.socket, address: Tuple[Any, ...]) -> None:
        try:
            channel = self._open_channel()
        except Exception as exc:
            self.exception = exc
            logger.error('Could not forward a connection from %s:%s to %s:%s through %s: %s',
                         address[0], address[1], self.host, self.port,
                         getattr(self.client, 'host', self.client), exc)
            return  # the server closes ``local``
        logger.debug('Forwarding %s:%s to %s:%s', address[0], address[1], self.host, self.port)
        # Each direction returns the error that stopped it, if any, rather than
        # raising it: a reset connection is an ordinary end, not a crash for
        # gevent to print.
        outbound = gevent.spawn(_run, self._local_to_channel, local, channel)
        inbound = gevent.spawn(_run, self._channel_to_local, channel, local)
        try:
            for finished in gevent.iwait((outbound, inbound)):
                if finished.value is not None:
                    logger.debug('Forwarded connection from %s:%s to %s:%s ended: %s',
                                 address[0], address[1], self.host, self.port, finished.value)
                    break
        finally:
            gevent.killall((outbound, inbound), block=True, timeout=_STOP_GRACE)
            channel.close()

    @staticmethod
    def _local_to_channel(local: socket.socket, channel: ChannelTransport) -> None:
        while True:
            data = local.recv(_CHUNK)
            if not data:
                channel.send_eof()
                return
            channel.sendall(data)

    @staticmethod
    def _channel_to_local(channel: ChannelTransport, local: socket.socket) -> None:
        while True:
            data = channel.recv(_CHUNK)
            if not data:
                try:
                    local.shutdown(socket.SHUT_WR)
                except OSError as exc:  # the local side has gone already
                    if exc.errno != errno.ENOTCONN:
                        raise
                return
            local.sendall(data)

    def stop(self, timeout: Optional[float] = None) -> None:
        """Stop accepting connections and close every forwarded one.

        Safe to call more than once.
        """
        self.close()
        self._pool.kill(block=True, timeout=_STOP_GRACE if timeout is None else timeout)
        super().stop(timeout=0)


def _run(func: Any, *args: Any) -> Optional[Exception]:
    try:
        func(*args)
    except Exception as exc:
        return exc
    return None


class LocalForwarder:
    """A set of :class:`TunnelServer`\\ s, handed out by local port.

    ``enqueue(client, host, port)`` starts a server forwarding to ``host:port``
    through ``client`` and puts its local port on :attr:`out_q`, to be taken
    with ``out_q.get()``.

    Unlike parallel-ssh's class of the same name, which is a thread running its
    own gevent hub, this one runs in the caller's hub: a client's session can
    only be used from the hub it was made in, so the servers must run there too.
    Use a forwarder from the thread its clients belong to. :meth:`start` is kept
    for code that calls it and sets :attr:`started`; tunnels work without it.
    """

    def __init__(self) -> None:
        #: Set by :meth:`start`, cleared by :meth:`shutdown`.
        self.started = Event()
        #: The local port of each tunnel asked for with :meth:`enqueue`, in order.
        self.out_q: 'Queue[Optional[int]]' = Queue()
        self._servers: Dict[Any, List[TunnelServer]] = {}

    def start(self) -> None:
        """Mark the forwarder started. Nothing else to do: it has no thread."""
        self.started.set()

    def enqueue(self, client: Any, host: str, port: int) -> None:
        """Start a tunnel to ``host:port`` through ``client``; its local port
        comes out of :attr:`out_q`.

        Servers of clients that have since been closed are stopped first.

        :raises TypeError: ``host`` or ``port`` of the wrong type.
        :raises ValueError: ``port`` out of range.
        :raises OSError: no local port could be bound.
        """
        self._stop_servers_of_closed_clients()
        server = TunnelServer(client, host, port)
        server.start()
        self._servers.setdefault(client, []).append(server)
        self.out_q.put(server.listen_port)

    def cleanup_server(self, client: Any) -> None:
        """Stop the tunnels through ``client`` and forget them (nothing to do
        if there are none)."""
        for server in self._servers.pop(client, ()):
            _stop_quietly(server)

    def _stop_servers_of_closed_clients(self) -> None:
        for client in list(self._servers):
            if getattr(client, 'session', None) is None:
                self.cleanup_server(client)

    def shutdown(self) -> None:
        """Stop every tunnel. Safe to call any number of times; never raises.

        The forwarder can be used again afterwards.
        """
        servers, self._servers = self._servers, {}
        for client_servers in servers.values():
            for server in client_servers:
                _stop_quietly(server)
        self.started.clear()


def _stop_quietly(server: TunnelServer) -> None:
    try:
        server.stop()
    except Exception as exc:  # shutdown must not raise
        logger.debug('Stopping %r: %s', server, exc)


_forwarder: Optional[LocalForwarder] = None


def __getattr__(name: str) -> Any:
    # FORWARDER is made on first use, never at import.
    if name == 'FORWARDER':
        global _forwarder
        if _forwarder is None:
            _forwarder = LocalForwarder()
        return _forwarder
    raise AttributeError('module %r has no attribute %r' % (__name__, name))
