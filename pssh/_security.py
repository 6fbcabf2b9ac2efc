"""What :func:`pssh.security_report` tells: the SSH libraries loaded, the
published advisories that affect them, and which of our defences are active."""
import ctypes
import sys
from typing import Any, Dict, List, Optional, Tuple

#: (advisory, library, versions affected up to and including, summary). No
#: release of libssh2 up to 1.11.1 has fixes for these; each is reachable from
#: the server's side of a connection.
ADVISORIES: Tuple[Tuple[str, str, Tuple[int, ...], str], ...] = (
    ('CVE-2026-55200', 'libssh2', (1, 11, 1),
     'packet_length of encrypted packets not bounded: heap overflow (CVSS 9.2)'),
    ('CVE-2026-66035', 'libssh2', (1, 11, 1),
     'ETM decryption of a packet shorter than one cipher block: heap overflow'),
    ('CVE-2026-66033', 'libssh2', (1, 11, 1),
     'AES-GCM: out-of-bounds read and write'),
    ('GHSA-x4g5-mgfc-cxvv', 'libssh2', (1, 11, 1),
     'chacha20-poly1305 packets with a length of 1-3: length underflow'),
)

#: Which of our defences answers each advisory.
_DEFENCES = {
    'CVE-2026-55200': 'packet_length_guard',
    'CVE-2026-66035': 'packet_length_guard',
    'CVE-2026-66033': 'no_aes_gcm',
    'GHSA-x4g5-mgfc-cxvv': 'no_chacha20_poly1305',
}


def _version_tuple(text: Optional[str]) -> Optional[Tuple[int, ...]]:
    if not text:
        return None
    parts = []
    for piece in text.split('.'):
        digits = ''.join(ch for ch in piece if ch.isdigit())
        if not digits:
            break
        parts.append(int(digits))
    return tuple(parts) or None


def _libssh2_version() -> Optional[str]:
    try:
        from ssh2.utils import version
    except ImportError:
        return None
    value = version()
    return value.decode() if isinstance(value, bytes) else str(value)


def _libssh_version() -> Optional[str]:
    try:
        from .clients.ssh import _libssh
    except ImportError:
        return None
    lib = _libssh._library()
    if lib is None:
        return None
    func = lib.ssh_version
    func.argtypes = [ctypes.c_int]
    func.restype = ctypes.c_char_p
    value = func(0)
    return value.decode() if value else None


def _affected(library: str, version: Optional[str]) -> List[Dict[str, str]]:
    found = _version_tuple(version)
    if found is None:
        return []
    return [dict(id=ident, summary=summary, mitigated_by=_DEFENCES[ident])
            for ident, lib, upto, summary in ADVISORIES if lib == library and found <= upto]


def _setting(module: str, owner: str, name: str, default: Any) -> Any:
    """A class attribute users may change, read from the class when its module
    is loaded; when it is not, nobody can have changed it: ``default``."""
    return getattr(getattr(sys.modules.get(module), owner, None), name, default)


def report() -> Dict[str, Any]:
    # Only light modules: the guard's constants, the default algorithms and the
    # agent-forwarding checks, not the clients (pssh --version runs this).
    from .clients.base import _guard
    from .clients.native import _agent_forward, _algorithms
    from .clients.ssh import _agent_forward as _ssh_agent_forward

    algorithms = _setting('pssh.clients.native.single', 'SSHClient', 'ALGORITHMS',
                          _algorithms.ALGORITHMS)
    allow_unchecked = _setting('pssh.clients.base.single', 'BaseSSHClient',
                               'ALLOW_UNCHECKED_LENGTHS', _guard.ALLOW_UNCHECKED_LENGTHS)
    ciphers = algorithms['cipher'].split(',')
    macs = algorithms['mac'].split(',')
    libssh2, libssh = _libssh2_version(), _libssh_version()
    mitigations = {
        # Every connection's relay checks the server's packet lengths.
        'packet_length_guard': True,
        'max_packet_libssh2': _guard.LIBSSH2_MAX_PACKET,
        # The server's encrypted bytes wait for the host key to be accepted.
        'host_key_before_encrypted_bytes': True,
        'etm_macs_first': macs[0].endswith('-etm@openssh.com'),
        'no_aes_gcm': not any('gcm' in name for name in ciphers),
        'no_chacha20_poly1305': not any('chacha20' in name for name in ciphers),
        'unverified_hosts_with_hidden_lengths':
            'allowed, with a warning' if allow_unchecked else 'refused',
        'agent_forwarding_native': _agent_forward.unavailable_reason() or 'available',
        'agent_forwarding_ssh': _ssh_agent_forward.unavailable_reason() or 'available',
    }
    return {
        'libssh2': {'version': libssh2, 'advisories': _affected('libssh2', libssh2)},
        'libssh': {'version': libssh, 'advisories': _affected('libssh', libssh)},
        'mitigations': mitigations,
    }
