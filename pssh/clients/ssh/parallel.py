"""The many-host client on libssh."""
from typing import Any, Iterable, List, Mapping, Optional

from ...config import HostConfig
from ...constants import DEFAULT_RETRIES, RETRY_DELAY
from ..base.parallel import BaseParallelSSHClient
from .single import SSHClient

__all__ = ['ParallelSSHClient']


class ParallelSSHClient(BaseParallelSSHClient):
    """Runs commands on many hosts at once over SSH, with libssh.

    Takes the arguments of :class:`pssh.clients.native.ParallelSSHClient`, plus
    the libssh extras of :class:`pssh.clients.ssh.SSHClient` (``cert_file`` and
    the ``gssapi_*`` settings), which :class:`~pssh.config.HostConfig` can also
    set per host.
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
                 keyboard_interactive: bool = False, cert_file: Any = None,
                 gssapi_auth: bool = False, gssapi_server_identity: Optional[str] = None,
                 gssapi_client_identity: Optional[str] = None,
                 gssapi_delegate_credentials: bool = False, *,
                 proxy_jump: Any = None,
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
            algorithms=algorithms,
            cert_file=cert_file, gssapi_auth=gssapi_auth,
            gssapi_server_identity=gssapi_server_identity,
            gssapi_client_identity=gssapi_client_identity,
            gssapi_delegate_credentials=gssapi_delegate_credentials)
