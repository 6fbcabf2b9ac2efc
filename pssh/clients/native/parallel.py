"""The many-host client on libssh2."""
from typing import Any, Iterable, List, Mapping, Optional

from ...config import HostConfig
from ...constants import DEFAULT_RETRIES, RETRY_DELAY
from ..base.parallel import BaseParallelSSHClient
from .single import SSHClient

__all__ = ['ParallelSSHClient']


class ParallelSSHClient(BaseParallelSSHClient):
    """Runs commands on many hosts at once over SSH, with libssh2.

    Hosts connect when first used (or on :meth:`connect_auth`), all at once up
    to ``pool_size``; each keeps its connection for later commands.

    :param hosts: host names; any iterable (it is read once into a list).
      Duplicates are allowed and each position gets its own connection.
    :param user: user name; defaults to the local user.
    :param password: password, and the passphrase of ``pkey``.
    :param port: SSH port for every host (22).
    :param pkey: private key for every host: a path, read once, or the key's bytes.
    :param num_retries: connection attempts per host.
    :param timeout: seconds allowed for connecting and each network operation.
    :param pool_size: how many hosts are worked on at once.
    :param allow_agent: try keys of a running SSH agent.
    :param host_config: a list of :class:`~pssh.config.HostConfig`, one per host,
      whose settings override the ones here for that host (even ``False``/``0``).
    :param retry_delay: seconds between connection attempts.
    :param forward_ssh_agent: forward our SSH agent to commands.
    :param keepalive_seconds: keepalive interval (0 or None for none).
    :param identity_auth: try the default identity files in ``~/.ssh``.
    :param ipv6_only: connect over IPv6 only.
    :param compress: ask for compression.
    :param keyboard_interactive: answer keyboard-interactive prompts with the password.
    :param proxy_host: connect through this bastion host (SSH TCP forwarding, in
      process); ``proxy_port``, ``proxy_user``, ``proxy_password`` and
      ``proxy_pkey`` default to 22 and the target's user, password and key. All
      hosts going through one bastion share a single connection to it.
    :param proxy_jump: a chain of bastions, nearest first, like OpenSSH's
      ``ProxyJump``: each hop is ``'[user@]host[:port]'`` or a dict with ``host``
      and optionally ``port``, ``user``, ``password``, ``pkey``.
    :param host_key_policy: what to do with a server whose host key is in no
      known-hosts file: ``'accept-unknown'`` (default: connect and log a
      warning), ``'accept-new'`` (connect and add the key to the first file),
      ``'strict'`` (refuse) or ``'no'`` (no checking). A known host presenting
      another key is refused under every policy but ``'no'``. See :doc:`/security`.
    :param known_hosts: a known-hosts file or a list of them, instead of
      OpenSSH's defaults (``~/.ssh/known_hosts``, ``/etc/ssh/ssh_known_hosts``...).
    :param host_key: key(s) the hosts must present (fingerprints ``'SHA256:...'``,
      public key lines, or a list of them), or a dict of them by host name.
      :class:`~pssh.config.HostConfig` can set all three per host.
    :param ssh_config: read OpenSSH client configuration for each host:
      ``True`` for ``~/.ssh/config`` and ``/etc/ssh/ssh_config``, or the path of
      one file (like ``ssh -F``). Off by default. See :doc:`/ssh_config`.
    :param algorithms: algorithm lists for servers that need other ones than
      ours, by kind: ``{'cipher': 'aes256-ctr', 'mac': [...], 'kex': ...,
      'hostkey': ...}`` (comma-separated or lists, in order of preference);
      kinds left out keep our lists. Per host in ``HostConfig`` too; bastions
      keep ours. See :doc:`/security`.
    :raises ValueError: ``hosts`` is None, or host_config's length differs.
    :raises TypeError: ``hosts`` is a single string.
    :raises HostConfigError: ``host_config`` is not a list of HostConfig.
    :raises PKeyFileError: ``pkey`` is a path that cannot be read.
    """

    _client_class = SSHClient

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
                 keyboard_interactive: bool = False, *, proxy_jump: Any = None,
                 host_key_policy: Optional[str] = None, known_hosts: Any = None,
                 host_key: Any = None, ssh_config: Any = None,
                 algorithms: Optional[Mapping[str, Any]] = None) -> None:
        super().__init__(
            hosts, user=user, password=password, port=port, pkey=pkey,
            num_retries=num_retries, timeout=timeout, pool_size=pool_size,
            allow_agent=allow_agent, host_config=host_config, retry_delay=retry_delay,
            proxy_host=proxy_host, proxy_port=proxy_port, proxy_user=proxy_user,
            proxy_password=proxy_password, proxy_pkey=proxy_pkey,
            forward_ssh_agent=forward_ssh_agent, keepalive_seconds=keepalive_seconds,
            identity_auth=identity_auth, ipv6_only=ipv6_only, compress=compress,
            keyboard_interactive=keyboard_interactive, proxy_jump=proxy_jump,
            host_key_policy=host_key_policy,
            known_hosts=known_hosts, host_key=host_key, ssh_config=ssh_config,
            algorithms=algorithms)
