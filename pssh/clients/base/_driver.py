"""The backend contract: what the shared client needs from an SSH library.

A driver wraps one library session (ssh2-python's or ssh-python's) for one
connection attempt. Every method either finishes or returns :data:`AGAIN` when
the library would block; the caller (:meth:`BaseSSHClient._call`) waits on the
relay in the directions :meth:`Driver.block_directions` names and calls again.
Drivers never wait, never call back into the client, and never raise anything
but their library's own exceptions or ours (``pssh.exceptions``);
:meth:`Driver.translate` turns the library's into ours, and the client decides
what a lost connection or a timeout means around that.

``raw`` arguments are the library's channel objects, typed ``Any`` on purpose:
they are the one thing the shared code passes through without looking inside.
"""
import enum
from dataclasses import dataclass, field
from typing import (
    Any, Callable, Final, Iterator, Mapping, NamedTuple, Optional, Protocol, Sequence, Union)

from ._io import SessionIO

__all__ = ['AGAIN', 'Again', 'Driver', 'ExitStatus', 'SessionPrefs']


class Again(enum.Enum):
    """The type of :data:`AGAIN`."""

    AGAIN = 'AGAIN'

    def __repr__(self) -> str:
        return 'AGAIN'


#: What a driver method returns when its library would block.
AGAIN: Final = Again.AGAIN


class ExitStatus(NamedTuple):
    """How a command ended: its exit status (None if the server sent none) and
    the name of the signal that ended it (None if none did)."""

    code: Optional[int]
    signal: Optional[str]


@dataclass(frozen=True)
class SessionPrefs:
    """What a driver needs to know to set up its library session, resolved by the client."""

    host: str
    port: int
    hostname: str
    user: str
    timeout: Optional[float] = None
    compress: bool = False
    #: The algorithm lists the caller gave, by kind (``kex``, ``hostkey``,
    #: ``cipher``, ``mac``); the driver offers its own for the other kinds.
    algorithms: Mapping[str, str] = field(default_factory=dict)
    #: Host key algorithms of keys we already hold, to ask for first.
    known_key_algorithms: Optional[Sequence[str]] = None
    forward_ssh_agent: bool = False
    # libssh only.
    gssapi_server_identity: Optional[str] = None
    gssapi_client_identity: Optional[str] = None
    gssapi_delegate_credentials: bool = False


class Driver(Protocol):
    """One SSH library session, driven without blocking."""

    #: The largest whole packet the library accepts (the relay's guard refuses more).
    max_packet: int
    #: The library's own "would block" return code (for the public ``eagain``).
    library_again: int
    #: Whether the library can do GSS-API authentication.
    has_gssapi: bool
    #: The library's session object (None before :meth:`start` and after :meth:`release`).
    session: Any
    #: What serves the server's forwarded-agent channels (None without forwarding).
    agent_forwarding: Any

    # Results typed ``object`` are AGAIN or whatever the library returned
    # (ignored); ``Any`` is kept for the library's own session and channels.

    # The session.

    def start(self, io: SessionIO) -> Any:
        """Make the library session on the relay ``io`` and return it."""

    def handshake(self) -> object:
        """Advance the key exchange (``AGAIN`` until done)."""

    def host_key(self) -> bytes:
        """The public key blob the server presented (raises before the key exchange)."""

    def block_directions(self) -> int:
        """Directions (``_io.READ``/``WRITE`` bits) the library waits on."""

    def keepalive_config(self, seconds: int) -> None:
        """Tell the library the keepalive interval (the client sends them)."""

    def keepalive_send(self) -> object:
        """Send a keepalive the server answers, without waiting for the answer."""

    def disconnect(self) -> object:
        """Say goodbye to the server."""

    def release(self) -> None:
        """Drop the library session (the connection is closed)."""

    def translate(self, exc: BaseException) -> Optional[BaseException]:
        """Our exception for one of the library's, None for anything else."""

    # Logging in.

    def auth_key(self, key: bytes, passphrase: str, cert_file: Optional[str] = None) -> object:
        """Public key authentication with the private key ``key``."""

    def agent_attempts(self) -> Iterator[Callable[[], object]]:
        """One call per agent key to try (each like :meth:`auth_key`); none without an agent."""

    def auth_password(self, password: str) -> object: ...

    def auth_keyboard_interactive(self, password: str) -> object: ...

    def auth_gssapi(self) -> object: ...

    # Channels.

    def open_session(self) -> Any:
        """A new session channel."""

    def open_direct_tcpip(self, host: str, port: int) -> Any:
        """A channel to ``host:port`` made by the server (for tunnels)."""

    def request_pty(self, raw: Any) -> object: ...

    def request_exec(self, raw: Any, command: Union[str, bytes]) -> object: ...

    def request_shell(self, raw: Any) -> object: ...

    def request_subsystem(self, raw: Any, name: str) -> object: ...

    def request_agent_forwarding(self, raw: Any) -> object: ...

    def read(self, raw: Any, stderr: bool, size: int) -> Union[bytes, Again]:
        """Bytes read, ``b''`` at end of stream, or ``AGAIN``."""

    def write(self, raw: Any, data: bytes) -> Union[int, Again]:
        """Number of bytes accepted (possibly fewer than given), or ``AGAIN``."""

    def send_eof(self, raw: Any) -> object: ...

    def eof(self, raw: Any) -> bool:
        """Whether the server sent end-of-file on the channel."""

    def close(self, raw: Any) -> object: ...

    def wait_closed(self, raw: Any) -> object:
        """``AGAIN`` until the channel has closed, then its :class:`ExitStatus`."""
