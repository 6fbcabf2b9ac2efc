"""The algorithms the native clients offer by default.

Its own module so that :func:`pssh.security_report` can tell what they are
without importing the clients.
"""
from typing import Dict

__all__ = ['ALGORITHMS']

# Only algorithms without known weaknesses. AES-CTR (with an encrypt-then-MAC
# MAC; strict key exchange guards against Terrapin) comes first for ciphers:
# libssh2 decrypts it about twice as fast as chacha20-poly1305 (the choice it
# would otherwise negotiate with OpenSSH), as fast as AES-GCM, and unlike AES-GCM
# it does not leak: with AES-GCM, the bundled libssh2 1.11.1 driven non-blocking
# keeps about 3 KiB per connection after the session is freed (measured by
# tests/integration/test_scale.py's leak test), so AES-GCM is last. Users may change these
# per class or per instance through ``SSHClient.ALGORITHMS`` before connecting.
ALGORITHMS: Dict[str, str] = {
    'kex': ','.join((
        'curve25519-sha256', 'curve25519-sha256@libssh.org', 'ecdh-sha2-nistp256',
        'ecdh-sha2-nistp384', 'ecdh-sha2-nistp521', 'diffie-hellman-group-exchange-sha256',
        'diffie-hellman-group16-sha512', 'diffie-hellman-group18-sha512',
        'diffie-hellman-group14-sha256', 'ext-info-c', 'kex-strict-c-v00@openssh.com')),
    'hostkey': ','.join((
        'ssh-ed25519', 'ecdsa-sha2-nistp256', 'ecdsa-sha2-nistp384', 'ecdsa-sha2-nistp521',
        'rsa-sha2-512', 'rsa-sha2-256', 'ssh-ed25519-cert-v01@openssh.com',
        'ecdsa-sha2-nistp256-cert-v01@openssh.com', 'rsa-sha2-512-cert-v01@openssh.com',
        'rsa-sha2-256-cert-v01@openssh.com')),
    # No chacha20-poly1305 or AES-GCM: libssh2 1.11.1 mishandles crafted
    # packets with both (GHSA-x4g5-mgfc-cxvv, CVE-2026-66033) and keeps memory
    # per connection with AES-GCM. With CTR and an ETM MAC every packet length
    # stays visible to the relay's guard.
    'cipher': ','.join(('aes128-ctr', 'aes256-ctr', 'aes192-ctr')),
    'mac': ','.join((
        'hmac-sha2-256-etm@openssh.com', 'hmac-sha2-512-etm@openssh.com', 'hmac-sha2-256',
        'hmac-sha2-512')),
}
