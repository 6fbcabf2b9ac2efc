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
from typing import Any, Callable, Deque, Dict, List, NamedTuple, Optional, Sequence, Tuple

import gevent
from gevent.event import AsyncResult, Event

from ... import _checks, logger
from ..._keys import check_private_key
from ...config import ClientSettings, ssh_config_settings
from ...exceptions import (
    HostConnectionError, HostKeyError, InvalidAPIUseError, ProxyError, PsshError, SSHError,
    Timeout)
from ._auth import key_name, load_private_key
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
            conns: List[Connection] = [client.connection for client in clients]
            for conn in conns:
                if not conn.open_lock.locked():
                    conn.open_lock.acquire()   # free: does not wait
                    return ChannelTransport(conn, host, port, locked=True)
            now = time.monotonic()
            waited = now - since
            # How long until each open in progress has had its lease.
            left = [self.lease - (now - conn.open_since) for conn in conns
                    if conn.open_since is not None]
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
        client.connection.open_watchers.append(lambda: self._wake(key))

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


class BastionChain:
    """The bastions a client reaches its host through, made from its settings.

    Each hop of the chain (``proxy_host`` or ``proxy_jump``) gets what it leaves
    out from its own ssh config entry (user, port), then from the target's
    settings (user, password, key). A hop's connection is a client of the
    target's class, made through the shared :class:`ProxyPool` so that targets
    behind the same bastion share it; its host key is checked as the caller
    asked for the target, else as the hop's own entry says, else as for the
    target.

    :param make_client: makes a connected client of the target's class (bastions
      are of the same) from its settings, over the connected bastion ``via``
      (None: over TCP).
    :param settings: the target's resolved settings.
    :param user: the target's user (the local user when none was given).
    :param pkey_data: the target's private key bytes (None without).
    :param identities: the target's identity files.
    :param ssh_config: the parsed ssh config files (None without).
    :param keys_held: where the keys of hops are kept while the target lives.
    :param hops: False for a client that is itself a bastion (no chain).
    """

    def __init__(self, make_client: Callable[..., Any], settings: Any, user: str,
                 pkey_data: Optional[bytes], identities: Sequence[str], ssh_config: Any,
                 pool: 'ProxyPool', keys_held: List[Any], hops: bool = True) -> None:
        self._make_client = make_client
        self._settings = settings
        self._user = user
        self._pkey_data = pkey_data
        self._identities = identities
        self._ssh_config = ssh_config
        self._pool = pool
        self._keys_held = keys_held
        s = settings
        # The hops with our defaults filled in: what is actually used to log in
        # to each bastion, and so what tells two bastion connections apart.
        self.hops: List[Hop] = [
            # proxy_host without proxy_port: the proxy listens where the target does.
            self._with_defaults(hop, s.password, s.port if s.proxy_host is not None else 22)
            for hop in hops_for(s.proxy_host, s.proxy_port, s.proxy_user, s.proxy_password,
                                s.proxy_pkey, s.proxy_jump)] if hops else []

    def _config_entry(self, hop: Hop) -> Dict[str, Any]:
        """The settings of ``hop``'s own entry in the ssh config files ({} without)."""
        if self._ssh_config is None:
            return {}
        return ssh_config_settings(hop.host, self._ssh_config, user=hop.user)

    def _with_defaults(self, hop: Hop, password: Optional[str], port: int = 22) -> Hop:
        found = self._config_entry(hop)
        port = hop.port if hop.port is not None else found.get('port', port)
        user = hop.user or found.get('user') or self._user
        password = hop.password if hop.password is not None else password
        pkey = self._pkey_data
        if hop.pkey is not None:
            pkey = load_private_key(hop.pkey)
            self._keys_held.append(check_private_key(
                pkey, password, key_name(hop.pkey), 'proxy %s on the way to %s' % (
                    hop.host, self._settings.host)))
        return Hop(hop.host, port, user, password, pkey)

    def bastion(self, depth: int) -> Any:
        """The connected client of hop ``depth`` (1 = nearest) of the chain."""
        return self._pool.get(*self.entry(depth))

    def entry(self, depth: int) -> Tuple[Any, Callable[[], Any]]:
        """The proxy pool's key for hop ``depth``, and how to connect to it."""
        s = self._settings
        chain = tuple(self.hops[:depth])
        hop = chain[-1]
        entry = self._config_entry(hop)
        # Its key is checked as the caller said (for the target), else as its
        # own entry says (as ssh does for a ProxyJump hop), else as for the
        # target - never as the target's entry alone said, where the bastion's
        # own entry says otherwise.
        policy, known_hosts = s.bastion_host_keys()
        if policy is None:
            policy = entry.get('host_key_policy', s.host_key_policy)
        if known_hosts is None:
            known_hosts = entry.get('known_hosts', s.known_hosts)

        def connect() -> Any:
            via = self.bastion(depth - 1) if depth > 1 else None
            # A hop's own IdentityFile lines win over ours; its own ProxyJump
            # is not followed (the chain is the one the target names, as given).
            identities = None if entry.get('identity_files') else self._identities
            try:
                return self._make_client(ClientSettings.from_arguments(hop.host, dict(
                    user=hop.user, port=hop.port, password=hop.password, pkey=hop.pkey,
                    num_retries=s.num_retries, retry_delay=s.retry_delay,
                    allow_agent=s.allow_agent, timeout=s.timeout,
                    keepalive_seconds=s.keepalive_seconds, identity_auth=s.identity_auth,
                    ipv6_only=s.ipv6_only, host_key_policy=policy,
                    known_hosts=known_hosts, identity_files=identities,
                    ssh_config=self._ssh_config, proxy_jump=[])), via=via)
            except HostKeyError:
                raise
            except Exception as exc:
                raise ProxyError('Could not connect to proxy %s:%s (on the way to %s): %s',
                                 hop.host, hop.port, s.host, exc) from exc

        # Targets share a bastion connection only if it checked the key as each wants.
        hashable = tuple(known_hosts) if isinstance(known_hosts, list) else known_hosts
        return (chain, policy, hashable), connect

    def tunnel(self, hostname: str, port: int) -> ChannelTransport:
        """A tunnel to ``hostname:port`` through the last bastion of the chain."""
        key, connect = self.entry(len(self.hops))
        hop = self.hops[-1]
        try:
            return self._pool.tunnel(key, connect, hostname, port)
        except (SSHError, Timeout) as exc:
            raise HostConnectionError('Could not reach %s:%s through proxy %s:%s: %s',
                                      self._settings.host, port, hop.host, hop.port,
                                      exc) from None
