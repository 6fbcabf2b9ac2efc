"""Fan-out over many hosts, whatever SSH library is underneath.

:class:`BaseParallelSSHClient` keeps one single-host client per position in
``hosts`` and runs each host's work in a greenlet of a bounded pool. It knows
nothing of the SSH library: a backend names its single-host client class in
``_client_class`` and may add constructor settings in ``_extra_settings``.
"""
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple, Union

import gevent
from gevent.event import AsyncResult
from gevent.lock import BoundedSemaphore
from gevent.pool import Pool

from ... import _checks, _compat, _deprecation, hostkeys, logger
from ..._keys import check_private_key
from ...config import (
    CLIENT_DEFAULTS, ClientSettings, HostConfig, open_ssh_config)
from ...constants import DEFAULT_RETRIES, RETRY_DELAY
from ...exceptions import (
    HostArgumentError, HostConfigError, InvalidAPIUseError, PKeyFileError, Timeout)
from ...output import HostOutput
from ._io import clock as _clock
from ._tunnel import Hop, ProxyPool, hops_for
from ._parallel_extras import (
    ParallelCopyMixIn, ParallelShellMixIn, _describe, _format_error, _materialise_hosts,
    _per_host_sequence)
from .single import BaseSSHClient, key_name, load_private_key

__all__ = ['BaseParallelSSHClient']

# Client argument name -> HostConfig field, where they differ.
_FIELD_NAMES = {'pkey': 'private_key'}


class BaseParallelSSHClient(ParallelCopyMixIn, ParallelShellMixIn):
    """Runs commands on many hosts at once. See the backends' ParallelSSHClient."""

    #: The single-host client class of the backend.
    _client_class: Any = BaseSSHClient

    def __init__(self, hosts: Iterable[str], user: Optional[str] = None,
                 password: Optional[str] = None, port: int = 22, pkey: Any = None,
                 num_retries: int = DEFAULT_RETRIES, timeout: Optional[float] = None,
                 pool_size: int = 100, allow_agent: bool = True,
                 host_config: Optional[List[HostConfig]] = None,
                 retry_delay: float = RETRY_DELAY, proxy_host: Optional[str] = None,
                 proxy_port: Optional[int] = None, proxy_user: Optional[str] = None,
                 proxy_password: Optional[str] = None, proxy_pkey: Any = None,
                 forward_ssh_agent: bool = False, keepalive_seconds: Optional[int] = 60,
                 identity_auth: bool = True, ipv6_only: bool = False, compress: bool = False,
                 keyboard_interactive: bool = False, **extra_settings: Any) -> None:
        if keyboard_interactive and not password:
            raise InvalidAPIUseError('keyboard_interactive=True needs a password')
        owner = type(self).__name__
        _checks.count('pool_size', pool_size, owner, minimum=1)
        _checks.settings(owner, port=port, proxy_port=proxy_port, timeout=timeout,
                         retry_delay=retry_delay, num_retries=num_retries,
                         keepalive_seconds=keepalive_seconds, user=user, password=password,
                         proxy_host=proxy_host, proxy_user=proxy_user,
                         proxy_password=proxy_password)
        # A bad bastion chain fails here, not once per host while connecting.
        hops = hops_for(proxy_host, proxy_port, proxy_user, proxy_password, proxy_pkey,
                        extra_settings.get('proxy_jump'))
        self._hosts: List[str] = []
        self._host_clients: Dict[Tuple[int, str], BaseSSHClient] = {}
        self._connecting: Dict[Tuple[int, str], AsyncResult] = {}
        self.hosts = hosts
        self.user = user
        self.password = password
        self.port = port
        self.pkey = pkey
        self.num_retries = num_retries
        self.timeout = timeout
        self.pool_size = pool_size
        self.allow_agent = allow_agent
        self.retry_delay = retry_delay
        self.proxy_host = proxy_host
        self.proxy_port = proxy_port
        self.proxy_user = proxy_user
        self.proxy_password = proxy_password
        self.proxy_pkey = proxy_pkey
        self.forward_ssh_agent = forward_ssh_agent
        self.keepalive_seconds = keepalive_seconds
        self.identity_auth = identity_auth
        self.ipv6_only = ipv6_only
        self.compress = compress
        self.keyboard_interactive = keyboard_interactive
        self._ssh_config = open_ssh_config(extra_settings.pop('ssh_config', None))
        if extra_settings.get('algorithms') is not None:
            extra_settings['algorithms'] = _checks.algorithms(extra_settings['algorithms'], owner)
        self._extra_settings = extra_settings
        # Bad host key settings fail here, not later in each host's greenlet.
        hostkeys.check_settings(extra_settings.get('host_key_policy'),
                                extra_settings.get('known_hosts'), extra_settings.get('host_key'))
        self.host_config = self._check_host_config(host_config)
        # At construction, not at the first connection: a backend that cannot
        # forward an agent says so before any host is tried.
        wanted = [host for index, host in enumerate(self._hosts)
                  if (self.host_config[index].forward_ssh_agent
                      if self.host_config is not None and index < len(self.host_config)
                      and self.host_config[index].is_set('forward_ssh_agent')
                      else forward_ssh_agent)]
        if wanted:
            self._client_class.check_agent_forwarding(
                wanted[0] if len(wanted) == 1 else '%s and %s more' % (
                    wanted[0], len(wanted) - 1))
        # Read key files once; every host shares the bytes.
        self._pkey_data = load_private_key(pkey)
        self._proxy_pkey_data = load_private_key(proxy_pkey)
        self._keys_held = self._check_keys(hops)
        self._proxy_pool = ProxyPool()
        self.pool = Pool(pool_size)
        self._slots = BoundedSemaphore(pool_size)
        self.cmds: Optional[List[gevent.Greenlet]] = None
        self._last_output: Optional[List[HostOutput]] = None

    # ------------------------------------------------------------------
    # Hosts and their settings.

    @property
    def hosts(self) -> List[str]:
        """The hosts, one client per position. Assigning a new iterable keeps the
        connections of positions whose host did not change and drops the rest."""
        return self._hosts

    @hosts.setter
    def hosts(self, hosts: Iterable[str]) -> None:
        new = _materialise_hosts(hosts)
        self._drop_clients_outside(new, 'hosts were reassigned without %s at position %s')
        self._hosts = new

    def _drop_clients_outside(self, hosts: List[str], why: str) -> None:
        """Close the clients of (position, host) pairs not in ``hosts``; ``why``
        is formatted with the host and its position."""
        keep = set(enumerate(hosts))
        for key in [key for key in self._host_clients if key not in keep]:
            self._close_client(self._host_clients.pop(key), why % key[::-1])

    def _check_host_config(self, host_config: Any) -> Optional[List[HostConfig]]:
        if host_config is None:
            return None
        if isinstance(host_config, dict):
            host_config = _compat.host_config_from_dict(host_config, self._hosts)
        if not isinstance(host_config, list):
            raise HostConfigError(
                'host_config must be a list of HostConfig, one per host, got %s',
                type(host_config).__name__)
        for index, config in enumerate(host_config):
            if not isinstance(config, HostConfig):
                raise HostConfigError('host_config[%s] must be a HostConfig, got %s',
                                      index, type(config).__name__)
            if config.is_set('proxy_jump'):
                try:
                    hops_for(None, None, None, None, None, config.proxy_jump)
                except (InvalidAPIUseError, TypeError, ValueError) as exc:
                    raise HostConfigError('host_config[%s] (host %s): %s', index,
                                          self._hosts[index] if index < len(self._hosts)
                                          else '?', exc) from None
        if len(host_config) != len(self._hosts):
            raise ValueError('host_config has %d entries for %d hosts' % (
                len(host_config), len(self._hosts)))
        return host_config

    def _check_keys(self, hops: List[Hop]) -> List[Any]:
        """Fail now for a client-wide key (ours, or a bastion's of ``hops``) that
        cannot work (corrupt, wrong or missing passphrase), rather than in every
        host's greenlet; hold the imports, which the hosts' clients then share.
        A HostConfig's key fails its own host only, when that host connects (as
        a missing file does)."""
        hosts = ', '.join(self._hosts[:3]) + (
            ' and %d more hosts' % (len(self._hosts) - 3) if len(self._hosts) > 3 else '')
        held = [check_private_key(self._pkey_data, self.password, key_name(self.pkey), hosts)]
        for hop in hops:
            if hop.pkey is None:
                continue
            where = 'proxy %s' % hop.host
            data = self._proxy_pkey_data if hop.pkey is self.proxy_pkey else hop.pkey
            try:
                data = load_private_key(data)
            except PKeyFileError as exc:
                raise PKeyFileError('%s (%s)', exc, where) from None
            passphrase = hop.password if hop.password is not None else self.password
            held.append(check_private_key(data, passphrase, key_name(hop.pkey), where))
        return held

    def _client_arguments(self) -> Dict[str, Any]:
        """The single-host client arguments this client passes on to every host."""
        arguments = dict(
            user=self.user, password=self.password, port=self.port, pkey=self._pkey_data,
            num_retries=self.num_retries, retry_delay=self.retry_delay,
            allow_agent=self.allow_agent, timeout=self.timeout, proxy_host=self.proxy_host,
            proxy_port=self.proxy_port, proxy_user=self.proxy_user,
            proxy_password=self.proxy_password, proxy_pkey=self._proxy_pkey_data,
            forward_ssh_agent=self.forward_ssh_agent, keepalive_seconds=self.keepalive_seconds,
            identity_auth=self.identity_auth, ipv6_only=self.ipv6_only, compress=self.compress,
            keyboard_interactive=self.keyboard_interactive, ssh_config=self._ssh_config)
        arguments.update(self._extra_settings)
        return arguments

    def _settings_for(self, index: int) -> ClientSettings:
        """The settings of host ``index``: this client's arguments, then what its
        HostConfig sets, then its ssh config entry for what neither gave."""
        config = None
        if self.host_config is not None and index < len(self.host_config):
            config = self.host_config[index]
        host = self._hosts[index]
        # The port this client defaults to is no port given: the ssh config's wins.
        settings = ClientSettings.from_arguments(
            host, self._client_arguments(), dict(CLIENT_DEFAULTS, port=22)).with_host_config(
                config, _FIELD_NAMES)
        if config is not None:
            # A host's own proxy replaces the client's, of either kind.
            if config.is_set('proxy_host'):
                settings = settings.replace(proxy_jump=None)
            elif config.is_set('proxy_jump'):
                settings = settings.replace(proxy_host=None)
            try:
                if config.is_set('private_key'):
                    settings = settings.replace(pkey=load_private_key(config.private_key))
                if config.is_set('proxy_pkey'):
                    settings = settings.replace(proxy_pkey=load_private_key(config.proxy_pkey))
            except PKeyFileError as exc:
                raise PKeyFileError('%s (host_config[%s], host %s)', exc, index, host) from None
        if isinstance(settings.host_key, dict):
            settings = settings.replace(host_key=settings.host_key.get(host))
        return settings

    def _make_client(self, index: int, host: str) -> BaseSSHClient:
        client: BaseSSHClient = self._client_class._with_settings(
            self._settings_for(index), proxy_pool=self._proxy_pool)
        return client

    def _get_client(self, index: int, host: str) -> BaseSSHClient:
        key = (index, host)
        client = self._host_clients.get(key)
        if client is not None:
            if not client.connection_lost:
                return client
            # Its connection dropped since: connect again rather than fail. The
            # old client is left to its outputs (their last bytes stay readable)
            # and closes when they are dropped.
            self._host_clients.pop(key, None)
        # Greenlets wanting the same position at once share one connection.
        pending = self._connecting.get(key)
        while pending is not None:
            client = pending.get()
            if client is not None:
                return client
            # The greenlet connecting was killed (a run given up after its
            # greenlet_timeout): that is no error of this run's; connect anew.
            pending = self._connecting.get(key)
        pending = self._connecting[key] = AsyncResult()
        try:
            client = self._make_client(index, host)
        except Exception as exc:
            pending.set_exception(exc)
            raise
        except BaseException:
            pending.set(None)
            raise
        finally:
            del self._connecting[key]
        pending.set(client)
        # The hosts may have been reassigned while we were connecting.
        if index < len(self._hosts) and self._hosts[index] == host:
            self._host_clients[key] = client
        return client

    def _forget_stale_clients(self) -> None:
        """Drop clients of positions whose host was changed in place."""
        self._drop_clients_outside(self._hosts,
                                   'hosts were changed: %s is no longer at position %s')

    def _prepare_run(self) -> List[str]:
        """The hosts to work on now, checked against host_config."""
        hosts = list(self._hosts)
        if self.host_config is not None and len(self.host_config) != len(hosts):
            raise HostConfigError('host_config has %s entries for %s hosts: give one per host',
                                  len(self.host_config), len(hosts))
        self._forget_stale_clients()
        return hosts

    # ------------------------------------------------------------------
    # Commands.

    def run_command(self, command: str, sudo: bool = False, user: Optional[str] = None,
                    stop_on_errors: bool = True, use_pty: bool = False,
                    host_args: Optional[Sequence[Any]] = None, shell: Optional[str] = None,
                    encoding: str = 'utf-8', read_timeout: Optional[float] = None, *,
                    return_list: Any = _compat.UNSET, timeout: Any = _compat.UNSET,
                    greenlet_timeout: Any = _compat.UNSET,
                    buffer_limit: Optional[int] = None) -> List[HostOutput]:
        """Start ``command`` on every host and return their outputs in host order.

        Returns once every host has started the command (or failed to), without
        waiting for the commands to finish; read the outputs, or :meth:`join`.

        :param host_args: per-host values: host ``i`` runs ``command % host_args[i]``
          (a tuple or a dict each).
        :param stop_on_errors: re-raise the first failed host's exception (in host
          order). With False a failed host gets a HostOutput whose ``exception`` is
          set, and the others run normally.
        :param buffer_limit: bytes of unread output each host keeps per stream
          before its command is paused, through SSH flow control, until that
          output is read (see the single client's ``run_command``). None (the
          default): keep all of it.
        :param return_list: ignored; output is always a list.

          .. deprecated:: 2.0
        :param timeout: the 1.x name of ``read_timeout``.

          .. deprecated:: 2.0
        :param greenlet_timeout: (1.x) seconds to wait, in all, for the hosts to
          start the command. A host still connecting or starting it by then is
          given up: its attempt is stopped, its connection (if any) closed, and
          its error is :class:`~pssh.exceptions.Timeout`, raised or put in its
          HostOutput as ``stop_on_errors`` says. None: no limit.

          .. deprecated:: 2.0
             Use ``timeout`` of the client, which bounds every connection
             attempt and network operation.
        :raises HostArgumentError: fewer ``host_args`` than hosts.
        :raises LookupError: unknown ``encoding``.
        """
        if return_list is not _compat.UNSET or timeout is not _compat.UNSET:
            read_timeout = _compat.legacy_run_kwargs(return_list, timeout, read_timeout)
        if greenlet_timeout is _compat.UNSET:
            greenlet_timeout = None
        else:
            _deprecation.warn('run_command(greenlet_timeout=...) is deprecated: set the '
                              "client's timeout, which bounds each connection and operation")
            _checks.seconds('greenlet_timeout', greenlet_timeout, 'run_command')
        _checks.encoding(encoding)
        read_timeout = _checks.read_timeout(read_timeout, 'run_command')
        _checks.text('user', user, 'run_command')
        _checks.text('shell', shell, 'run_command')
        _checks.no_nul('user', user, 'run_command')
        _checks.no_nul('shell', shell, 'run_command')
        _checks.count('buffer_limit', buffer_limit, 'run_command', minimum=1, optional=True)
        hosts = self._prepare_run()
        commands = self._per_host_commands(command, host_args, hosts)
        for index, line in enumerate(commands):
            _checks.no_nul('command', line, 'run_command', hosts[index])
        greenlets = [
            self.pool.spawn(self._run_command, index, host, commands[index], sudo, user,
                            use_pty, shell, encoding, read_timeout, buffer_limit)
            for index, host in enumerate(hosts)]
        self.cmds = greenlets
        try:
            gevent.joinall(greenlets, timeout=greenlet_timeout)
        except BaseException:
            # Killed while waiting (an asyncio caller was cancelled): nobody
            # will get these outputs, so stop the hosts still starting and end
            # the commands that started.
            self._abandon_run(greenlets)
            raise
        results = [greenlet.value if greenlet.ready()
                   else self._give_up(index, hosts[index], greenlet, greenlet_timeout)
                   for index, greenlet in enumerate(greenlets)]
        output = _compat.OutputList()
        for index, (greenlet, result) in enumerate(zip(greenlets, results)):
            if not isinstance(result, BaseException):
                result._cmd = greenlet
                output.append(result)
                continue
            exc = result
            if stop_on_errors:
                self._last_output = None
                raise exc
            output.append(HostOutput(hosts[index], None, None, None,
                                     alias=self._alias_for(index), exception=exc,
                                     encoding=encoding, read_timeout=read_timeout))
        self._last_output = output
        return output

    @staticmethod
    def _abandon_run(greenlets: List[gevent.Greenlet]) -> None:
        gevent.killall([greenlet for greenlet in greenlets if not greenlet.ready()])
        for greenlet in greenlets:
            result = greenlet.value
            if isinstance(result, HostOutput) and result.client is not None:
                result.client.close_channel(result.channel)

    def _give_up(self, index: int, host: str, greenlet: gevent.Greenlet,
                 greenlet_timeout: float) -> Timeout:
        """Stop a host that did not start its command within 1.x's
        ``greenlet_timeout``; returns its error. A connection it may have left
        halfway through opening a channel is not used again."""
        greenlet.kill(block=True)
        client = self._host_clients.pop((index, host), None)
        if client is not None:
            self._close_client(client, 'greenlet_timeout passed before the command started')
        return Timeout(
            'Host %s did not start the command within greenlet_timeout of %s seconds',
            host, greenlet_timeout)

    def _alias_for(self, index: int) -> Optional[str]:
        if self.host_config is not None and index < len(self.host_config):
            return self.host_config[index].alias
        return None

    def _per_host_commands(self, command: str, host_args: Optional[Sequence[Any]],
                           hosts: List[str]) -> List[str]:
        if not isinstance(command, str):
            raise TypeError('command must be a str, got %s' % type(command).__name__)
        if host_args is None:
            return [command] * len(hosts)
        host_args = _per_host_sequence('host_args', host_args)
        count = len(host_args)
        commands = []
        # In host order: the first host whose item is missing or does not fit
        # decides the error.
        for index, host in enumerate(hosts):
            if index >= count:
                raise HostArgumentError('Got %s host_args for %s hosts: none for %s (host %s)',
                                        count, len(hosts), host, index)
            item = host_args[index]
            try:
                commands.append(command % (item if isinstance(item, (tuple, dict)) else (item,)))
            except (TypeError, KeyError, ValueError) as exc:
                raise _format_error(exc)('Could not format %r with host_args[%s] for %s: %s',
                                         command, index, host, _describe(exc)) from exc
        return commands

    def _run_command(self, index: int, host: str, command: str, sudo: bool,
                     user: Optional[str], use_pty: bool, shell: Optional[str], encoding: str,
                     read_timeout: Optional[float],
                     buffer_limit: Optional[int] = None) -> Union[HostOutput, Exception]:
        # A failed host's error is returned, not raised, so that gevent does not
        # print a traceback for what run_command reports itself.
        try:
            client = self._get_client(index, host)
            return client.run_command(command, sudo=sudo, user=user, use_pty=use_pty,
                                      shell=shell, encoding=encoding, read_timeout=read_timeout,
                                      buffer_limit=buffer_limit)
        except Exception as exc:
            return exc

    def connect_auth(self) -> List[gevent.Greenlet]:
        """Connect and authenticate every host now, in parallel.

        :returns: one greenlet per host; join them (``gevent.joinall(...,
          raise_error=True)``) to see errors.
        """
        return [self.pool.spawn(self._get_client, index, host)
                for index, host in enumerate(self._hosts)]

    @property
    def host_clients(self) -> Mapping[str, BaseSSHClient]:
        """Connected clients by host name (a host's first position).

        .. deprecated:: 2.0
           Use the ``client`` attribute of each HostOutput.
        """
        _deprecation.warn('host_clients is deprecated: use HostOutput.client')
        return _compat.HostClients(self._host_clients)

    def reset_output_generators(self, host_out: HostOutput, *args: Any, **kwargs: Any) -> None:
        """Does nothing: output generators need no reset.

        .. deprecated:: 2.0
           Every access to ``stdout``/``stderr`` already gives a fresh generator
           that continues where the last one stopped.
        """
        _deprecation.warn('reset_output_generators is deprecated and does nothing: '
                          'each access to stdout/stderr gives a fresh generator')

    def get_exit_codes(self, output: List[HostOutput]) -> None:
        """Does nothing: every HostOutput's ``exit_code`` is always current.

        .. deprecated:: 2.0
           Read ``exit_code`` of each HostOutput (after :meth:`join`).
        """
        _deprecation.warn('get_exit_codes is deprecated: read exit_code of each HostOutput, '
                          'which is always current')
        if not isinstance(output, list):
            raise ValueError('output must be the list returned by run_command, got %s'
                             % type(output).__name__)

    def get_exit_code(self, host_output: HostOutput) -> Optional[int]:
        """``host_output.exit_code``: the exit status, or None while the command runs.

        .. deprecated:: 2.0
           Read ``host_output.exit_code``.
        """
        _deprecation.warn('get_exit_code is deprecated: read host_output.exit_code')
        if not isinstance(host_output, HostOutput):
            raise TypeError('get_exit_code takes a HostOutput, got %s'
                            % type(host_output).__name__)
        return host_output.exit_code

    def get_last_output(self, cmds: Any = None) -> Optional[List[HostOutput]]:
        """The output list of the last :meth:`run_command`, or None."""
        return self._last_output

    def finished(self, output: Optional[List[HostOutput]] = None) -> bool:
        """True when the command of every host in ``output`` (default: the last run)
        has finished."""
        if output is None:
            output = self._last_output
            if output is None:
                return True
        for host_out in output:
            if (host_out is not None and host_out.client is not None
                    and host_out.channel is not None
                    and not host_out.client.finished(host_out.channel)):
                return False
        return True

    def join(self, output: Optional[List[HostOutput]] = None, consume_output: bool = False,
             timeout: Optional[float] = None) -> None:
        """Wait for the commands of ``output`` (default: the last run) to finish.

        Output not read yet stays readable afterwards.

        :param consume_output: read and discard all output (each line still goes
          to the host logger).
        :param timeout: seconds to wait in all.
        :raises Timeout: ``Timeout(message, timeout, finished_output,
          unfinished_output)`` when commands are still running after ``timeout``;
          join may be called again.
        :raises ValueError: ``output`` is not a list.

        None items of ``output`` are skipped.
        """
        if output is None:
            output = self._last_output
            if output is None:
                return None
        if not isinstance(output, list):
            raise ValueError('output must be the list returned by run_command, got %s'
                             % type(output).__name__)
        _checks.seconds('timeout', timeout, 'join')
        # One deadline for all the hosts, not ``timeout`` each.
        deadline = None if timeout is None else _clock() + timeout
        finished: List[HostOutput] = []
        unfinished: List[HostOutput] = []
        for host_out in output:
            if host_out is None:
                continue
            client = host_out.client
            if client is None or host_out.channel is None:
                finished.append(host_out)
                continue
            remaining = None
            if deadline is not None:
                remaining = max(0.0, deadline - _clock())
            try:
                client.wait_finished(host_out, timeout=remaining)
            except Timeout:
                unfinished.append(host_out)
                continue
            except Exception as exc:
                # The connection was lost: the command is over for this host, and
                # host_out.exception says why. The other hosts go on.
                logger.debug('%s: %s', host_out.host, exc)
            finished.append(host_out)
            if consume_output:
                self._consume(host_out)
        if unfinished:
            raise Timeout('Timeout of %s sec(s) reached with commands still running',
                          timeout, finished, unfinished)
        return None

    @staticmethod
    def _consume(host_out: HostOutput) -> None:
        for stream in (host_out.stdout, host_out.stderr):
            if stream is not None:
                for _line in stream:
                    pass

    # ------------------------------------------------------------------
    # Shells.

    # ------------------------------------------------------------------
    # File copies. Each returns one greenlet per host at once; join them with
    # gevent.joinall(greenlets, raise_error=True) to see errors.

    def _spawn_limited(self, func: Any, *args: Any) -> gevent.Greenlet:
        """Start ``func`` now; it runs once one of ``pool_size`` slots is free."""
        def run() -> Any:
            with self._slots:
                return func(*args)
        return gevent.spawn(run)

    # ------------------------------------------------------------------

    @staticmethod
    def _close_client(client: BaseSSHClient, why: str) -> None:
        """Close ``client``, telling its users ``why``; a failure is only logged."""
        try:
            client._close(why)
        except Exception as exc:  # pragma: no cover - best effort
            logger.debug('closing %s: %s', client.host, exc)

    def close(self) -> None:
        """Disconnect every host, then the proxies they went through."""
        clients, self._host_clients = self._host_clients, {}
        for client in clients.values():
            self._close_client(client, 'the parallel client was closed')
        self._proxy_pool.close()

    def __enter__(self) -> 'BaseParallelSSHClient':
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        hosts = self._hosts
        shown = ', '.join(hosts[:5]) + (', ...' if len(hosts) > 5 else '')
        return '<%s of %d host%s [%s] as %s, port %s, %d connected>' % (
            type(self).__name__, len(hosts), '' if len(hosts) == 1 else 's', shown,
            self.user or 'the local user', self.port,
            sum(1 for client in self._host_clients.values() if not client.connection_lost))
