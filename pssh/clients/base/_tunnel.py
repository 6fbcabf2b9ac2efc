"""Connections through bastion hosts, with SSH's own TCP forwarding.

A target behind a bastion is reached through a ``direct-tcpip`` channel of the
bastion's session. :class:`ChannelTransport` makes that channel look like a
socket to :class:`~pssh.clients.base._io.SessionIO`, so the target's session
runs over it exactly as it would over TCP: same relay, same waiting, no extra
threads, processes or event loops. A chain of bastions is the same thing
repeated: each hop's session runs over a channel of the previous hop.

Targets that go through the same bastion share one connection to it, kept in a
:class:`ProxyPool` (one per ParallelSSHClient, or per SSHClient).
"""
import os
import re
import time
from collections import deque
from typing import Any, Callable, Deque, Dict, List, NamedTuple, Optional, Sequence

import gevent
from gevent.event import AsyncResult, Event

from ... import _checks, logger
from ...exceptions import InvalidAPIUseError, ProxyError, PsshError, Timeout
from ._connection import Connection

__all__ = ['Hop', 'hops_for', 'ChannelTransport', 'ProxyPool']


class Hop(NamedTuple):
    """One bastion of a chain."""

    host: str
    port: Optional[int] = None   # None: from ssh config, else 22
    user: Optional[str] = None
    password: Optional[str] = None
    pkey: Any = None

    def __repr__(self) -> str:  # no password or key in logs and messages
        return 'Hop(%s@%s:%s)' % (self.user, self.host, self.port)


_HOP_TEXT = re.compile(r'^(?:(?P<user>[^@]+)@)?(?P<host>\[[^\]]+\]|[^:@]+)(?::(?P<port>\d+))?$')


def _parse_hop(spec: Any) -> Hop:
    if isinstance(spec, Hop):
        return _check_hop(spec)
    if isinstance(spec, str):
        match = _HOP_TEXT.match(spec.strip())
        if not match:
            raise InvalidAPIUseError('Cannot read proxy hop %r: expected [user@]host[:port]', spec)
        host = match.group('host').strip('[]')
        port = int(match.group('port')) if match.group('port') else None
        return _check_hop(Hop(host, port, match.group('user')))
    if isinstance(spec, dict):
        unknown = set(spec) - {'host', 'port', 'user', 'password', 'pkey', 'private_key'}
        if unknown or 'host' not in spec:
            raise InvalidAPIUseError(
                'A proxy hop dict needs "host" and may have port, user, password, pkey; got %s',
                sorted(spec))
        port = spec.get('port')
        hop = Hop(spec['host'], port, spec.get('user'),
                  spec.get('password'), spec.get('pkey', spec.get('private_key')))
        _check_hop(hop)
        return hop
    raise InvalidAPIUseError('A proxy hop is "[user@]host[:port]", a dict or a Hop, not %s',
                             type(spec).__name__)


def _check_hop(hop: Hop) -> Hop:
    owner = 'proxy hop'
    _checks.text('host', hop.host, owner, optional=False, empty=False)
    if hop.port is not None:
        _checks.port('port', hop.port, owner, hop.host)
    _checks.text('user', hop.user, owner, hop.host)
    _checks.text('password', hop.password, owner, hop.host)
    if hop.pkey is not None and not isinstance(hop.pkey, (str, bytes, os.PathLike)):
        raise TypeError('proxy hop for %s: pkey must be a path or bytes, got %s'
                        % (hop.host, type(hop.pkey).__name__))
    return hop


def hops_for(proxy_host: Optional[str], proxy_port: Optional[int], proxy_user: Optional[str],
             proxy_password: Optional[str], proxy_pkey: Any,
             proxy_jump: Optional[Sequence[Any]]) -> List[Hop]:
    """The chain of bastions to go through, nearest first.

    A hop's port is None where none was given: the client fills it in (from
    the hop's ssh config entry, else the target's port for ``proxy_host``, 22
    for ``proxy_jump``).
    """
    if proxy_jump is not None and proxy_host is not None:
        raise InvalidAPIUseError('Give proxy_host or proxy_jump, not both')
    if proxy_host is not None:
        return [_check_hop(Hop(proxy_host, proxy_port, proxy_user, proxy_password,
                               proxy_pkey))]
    if proxy_jump is None:
        return []
    if isinstance(proxy_jump, (str, dict, Hop)):
        proxy_jump = [proxy_jump]
    if not isinstance(proxy_jump, (list, tuple)):
        raise InvalidAPIUseError('proxy_jump is a hop or a list of hops ("[user@]host[:port]", '
                                 'dicts or Hops), not %s', type(proxy_jump).__name__)
    return [_parse_hop(spec) for spec in proxy_jump]


class ChannelTransport:
    """A ``direct-tcpip`` channel of a bastion's connection, used as a socket."""

    def __init__(self, bastion: Connection, host: str, port: int, locked: bool = False) -> None:
        """Open the channel.

        :param locked: the caller holds ``bastion``'s open lock (as
          :meth:`ProxyPool.tunnel` does); it is given back here.
        """
        self.bastion = bastion
        self.host = host
        self.port = port
        self.raw = bastion.open_channel(bastion.driver.open_direct_tcpip, host, port,
                                        locked=locked,
                                        what='opening a tunnel to %s:%s' % (host, port))
        self._closed = False

    def recv(self, size: int) -> bytes:
        bastion = self.bastion
        try:
            data: bytes = bastion.call(bastion.driver.read, self.raw, False, size,
                                       what='reading the tunnel to %s:%s' % (self.host, self.port))
            return data
        except PsshError as exc:
            raise self._failed(exc) from exc

    def sendall(self, data: bytes) -> None:
        try:
            self.bastion.write_all(self.raw, data)
        except PsshError as exc:
            raise self._failed(exc) from exc

    def send_eof(self) -> None:
        """Tell the far end that nothing more will be sent (TCP's half-close)."""
        bastion = self.bastion
        try:
            bastion.call(bastion.driver.send_eof, self.raw, timeout=bastion.timeout,
                         what='ending the tunnel to %s:%s' % (self.host, self.port))
        except PsshError as exc:
            raise self._failed(exc) from exc

    def _failed(self, exc: PsshError) -> ProxyError:
        # Becomes the reason the target's connection was lost: say it was the tunnel.
        bastion = self.bastion
        return ProxyError('tunnel through proxy %s:%s failed: %s', bastion.host, bastion.port,
                          exc)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        # May run from a finalizer: do the network part in a greenlet of its own.
        gevent.spawn(self._close_channel)

    def _close_channel(self) -> None:
        bastion = self.bastion
        if bastion.io is None:
            return
        try:
            bastion.call(bastion.driver.send_eof, self.raw, timeout=bastion.timeout)
            bastion.call(bastion.driver.close, self.raw, timeout=bastion.timeout)
        except Exception as exc:
            logger.debug('closing tunnel to %s:%s: %s', self.host, self.port, exc)


class ProxyPool:
    """Connected bastion clients, by chain (and way of checking the bastion's
    key), shared by their targets.

    A bastion connection opens one channel at a time (see
    :meth:`~pssh.clients.base._connection.Connection.open_channel`), and an open
    waits for the bastion's TCP connect to the target. So that a target slow to
    accept does not hold up the others, an open that has not been answered
    within :attr:`lease` seconds no longer makes other targets wait: they go
    through another connection to the same bastion, made then if none is free.
    Without slow targets, a chain uses one connection.
    """

    #: Seconds an open may keep a bastion connection to itself before other
    #: targets' opens move to another connection.
    lease = 1.0

    def __init__(self) -> None:
        # The first connection of each chain; more, made while opens were slow.
        self._clients: Dict[Any, AsyncResult] = {}
        self._more: Dict[Any, List[Any]] = {}
        self._adding: Dict[Any, AsyncResult] = {}
        # Opens waiting for a connection of their chain to be free, in order.
        self._waiting: Dict[Any, Deque[Event]] = {}

    def get(self, key: Any, connect: Callable[[], Any]) -> Any:
        """The client for ``key`` (the hops of a chain, and how the last one's
        key is checked), connecting it if needed.

        Greenlets asking for the same key at once share one connection attempt.
        """
        result = self._clients.get(key)
        if result is not None and result.ready():
            if not result.successful() or result.value.connection_lost:
                if result.successful():
                    # Its connection dropped: targets must not be sent through it.
                    try:
                        result.value.close()
                    except Exception as exc:  # pragma: no cover - best effort
                        logger.debug('closing lost proxy: %s', exc)
                result = None
        if result is None:
            result = AsyncResult()
            self._clients[key] = result
            try:
                client = connect()
                self._watch(key, client)
                result.set(client)
            except BaseException as exc:
                result.set_exception(exc)
                if self._clients.get(key) is result:
                    del self._clients[key]
                raise
        return result.get()

    def tunnel(self, key: Any, connect: Callable[[], Any], host: str,
               port: int) -> ChannelTransport:
        """A tunnel to ``host:port`` through the last bastion of ``key``."""
        since = time.monotonic()
        can_add = True
        woken = False
        while True:
            first = self.get(key, connect)
            clients = [first] + [client for client in self._more.get(key, ())
                                 if not client.connection_lost]
            for conn in [client._conn for client in clients]:
                if not conn.open_lock.locked():
                    conn.open_lock.acquire()   # free: does not wait
                    return ChannelTransport(conn, host, port, locked=True)
            now = time.monotonic()
            waited = now - since
            # How long until each open in progress has had its lease.
            left = [self.lease - (now - client._conn.open_since) for client in clients
                    if client._conn.open_since is not None]
            stale = [seconds for seconds in left if seconds <= 0]
            if can_add and (len(stale) == len(left) or (waited >= self.lease and stale)):
                # Every connection waits for a slow target, or we have waited
                # a lease behind one that does: open through another one.
                try:
                    self._add(key, connect)
                except Exception as exc:
                    # Then wait for one of those we have.
                    logger.debug('Another connection to proxy %s:%s failed: %s', first.host,
                                 first.port, exc)
                    can_add = False
                continue
            if not can_add and first.timeout is not None and waited >= first.timeout:
                raise Timeout('opening a tunnel to %s:%s on %s:%s did not finish within %s '
                              'seconds: every connection to the proxy is waiting for a '
                              'target slow to accept', host, port, first.host, first.port,
                              first.timeout)
            waits = [seconds for seconds in left if seconds > 0]
            if can_add and stale:
                waits.append(self.lease - waited)
            if not can_add and first.timeout is not None:
                waits.append(first.timeout - waited)
            # Woken but beaten to the free connection: first in line again.
            woken = self._wait(key, min(waits) if waits else None, first_in_line=woken)

    def _wait(self, key: Any, seconds: Optional[float], first_in_line: bool) -> bool:
        """Wait in line until a connection of ``key`` is free or ``seconds`` pass;
        True if woken."""
        event = Event()
        line = self._waiting.setdefault(key, deque())
        if first_in_line:
            line.appendleft(event)
        else:
            line.append(event)
        try:
            return event.wait(seconds)
        finally:
            if event in line:
                line.remove(event)
            if not line and self._waiting.get(key) is line:
                del self._waiting[key]

    def _watch(self, key: Any, client: Any) -> None:
        client._conn.open_watchers.append(lambda: self._wake(key))

    def _wake(self, key: Any) -> None:
        """Wake the first open waiting for a connection of ``key``."""
        line = self._waiting.get(key)
        if line:
            line.popleft().set()

    def _add(self, key: Any, connect: Callable[[], Any]) -> None:
        """Connect to the bastion of ``key`` once more (one attempt at a time)."""
        adding = self._adding.get(key)
        if adding is not None:
            adding.get()
            return
        adding = self._adding[key] = AsyncResult()
        try:
            client = connect()
        except BaseException as exc:
            adding.set_exception(exc)
            raise
        finally:
            del self._adding[key]
        self._watch(key, client)
        self._more.setdefault(key, []).append(client)
        adding.set(client)
        logger.debug('Another connection to proxy %s:%s: the others wait for targets slow '
                     'to accept', client.host, client.port)

    def close(self) -> None:
        results, self._clients = self._clients, {}
        more, self._more = self._more, {}
        clients = [result.value for result in results.values()
                   if result.ready() and result.successful()]
        clients += [client for extra in more.values() for client in extra]
        for client in reversed(clients):
            try:
                client.close()
            except Exception as exc:  # pragma: no cover - best effort
                logger.debug('closing proxy: %s', exc)
