"""The relay's guard against crafted packet lengths (issue 14, section 1),
against a real sshd behind a proxy that rewrites one length, on both backends.
"""
import pytest

from pssh.clients.base import single as base_single
from pssh.clients.base._guard import MAX_PACKET_LENGTH
from pssh.clients.native import SSHClient
from pssh.exceptions import NoCommonAlgorithmError, PacketLengthError, UnknownHostKeyError

from peers.rewriting_proxy import RewritingProxy

BOTH_BACKENDS = True


def connect(host, port, srv, **kwargs):
    options = dict(user=srv.user, pkey=srv.user_key, num_retries=1, timeout=10,
                   allow_agent=False, identity_auth=False)
    options.update(kwargs)
    return SSHClient(host, port=port, **options)


@pytest.mark.parametrize('length, problem', [
    (0xffffffff, 'too large (over %s)' % MAX_PACKET_LENGTH),
    (MAX_PACKET_LENGTH + 16, 'too large (over %s)' % MAX_PACKET_LENGTH),
    (5, 'too small'),            # shorter than one cipher block
    (0, 'too small'),
    (40, 'not a whole number of 16-byte blocks'),
])
def test_length_after_newkeys_is_refused_before_the_library_reads_it(server, length, problem):
    with RewritingProxy(server.host, server.port, length) as proxy:
        with pytest.raises(PacketLengthError) as info:
            connect(proxy.host, proxy.port, server)
        assert proxy.rewritten.is_set()
    assert info.value.args[1:] == (proxy.host, proxy.port, length, problem)
    assert str(length) in str(info.value)


@pytest.mark.parametrize('length', [0xffffffff, 3, 1001])
def test_length_before_newkeys_is_refused(server, length):
    with RewritingProxy(server.host, server.port, length, after_newkeys=False) as proxy:
        with pytest.raises(PacketLengthError) as info:
            connect(proxy.host, proxy.port, server)
    assert info.value.args[1:4] == (proxy.host, proxy.port, length)


def test_the_client_still_works_after_a_refused_server(server):
    with RewritingProxy(server.host, server.port, 0xffffffff) as proxy:
        with pytest.raises(PacketLengthError):
            connect(proxy.host, proxy.port, server)
    with connect(server.host, server.port, server) as client:
        output = client.run_command('echo fine')
        client.wait_finished(output)
        assert list(output.stdout) == ['fine']
        assert client._io.guard.opaque is False


@pytest.fixture
def sessions(monkeypatch):
    """Every SessionIO the clients make during the test."""
    made = []

    class Recorded(base_single.SessionIO):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            made.append(self)

    monkeypatch.setattr(base_single, 'SessionIO', Recorded)
    return made


def test_refused_host_key_means_no_encrypted_byte_reached_the_library(server, sessions,
                                                                      tmp_path):
    with pytest.raises(UnknownHostKeyError):
        connect(server.host, server.port, server, host_key_policy='strict',
                known_hosts=str(tmp_path / 'empty'))
    io, = sessions
    assert io.guard.newkeys_end is not None
    assert io.delivered == io.guard.newkeys_end


def test_accepted_host_key_releases_the_connection(server, sessions):
    with open(server.host_key_pub) as fh:
        key_line = fh.read()
    with connect(server.host, server.port, server, host_key=key_line) as client:
        output = client.run_command('echo released')
        client.wait_finished(output)
        assert list(output.stdout) == ['released']
    io, = sessions
    assert io.delivered > io.guard.newkeys_end


# ----------------------------------------------------------------------
# Servers that hide packet lengths (no encrypt-then-MAC MAC)

@pytest.fixture(scope='module')
def no_etm_server():
    from pssh.testing import OpenSSHServer
    with OpenSSHServer(extra_config={'MACs': 'hmac-sha2-256,hmac-sha2-512',
                                     'Ciphers': 'aes128-ctr,aes256-ctr'}) as srv:
        yield srv


def test_unknown_server_hiding_lengths_is_accepted_with_one_warning(no_etm_server, caplog,
                                                                   monkeypatch):
    srv = no_etm_server
    monkeypatch.setattr(base_single, '_WARNED_UNCHECKED', set())  # once per process
    caplog.set_level('WARNING', logger='pssh')
    for _ in range(2):
        with connect(srv.host, srv.port, srv) as client:
            output = client.run_command('echo hidden')
            client.wait_finished(output)
            assert list(output.stdout) == ['hidden']
            guard = client._io.guard
            assert (guard.opaque, guard.mac) == (True, 'hmac-sha2-256')
    warned = [r.getMessage() for r in caplog.records if 'hide packet lengths' in r.getMessage()]
    assert warned == ['Host %s:%s is not known and encrypts with aes128-ctr and hmac-sha2-256, '
                      'which hide packet lengths: the guard against crafted lengths cannot '
                      'check this connection' % (srv.host, srv.port)]


def test_unknown_server_hiding_lengths_can_be_refused(no_etm_server, monkeypatch, sessions):
    srv = no_etm_server
    monkeypatch.setattr(SSHClient, 'ALLOW_UNCHECKED_LENGTHS', False)
    with pytest.raises(UnknownHostKeyError) as info:
        connect(srv.host, srv.port, srv)
    assert info.value.args[1:] == (srv.host, srv.port, 'aes128-ctr', 'hmac-sha2-256')
    # Refused before any encrypted byte reached the library (libssh2 waits for
    # them inside its handshake; libssh finishes the key exchange first).
    io, = sessions
    assert io.delivered == io.guard.newkeys_end


def test_known_server_hiding_lengths_connects_quietly(no_etm_server, monkeypatch, caplog):
    srv = no_etm_server
    monkeypatch.setattr(SSHClient, 'ALLOW_UNCHECKED_LENGTHS', False)
    caplog.set_level('WARNING', logger='pssh')
    with open(srv.host_key_pub) as fh:
        key_line = fh.read()
    with connect(srv.host, srv.port, srv, host_key=key_line) as client:
        output = client.run_command('echo pinned')
        client.wait_finished(output)
        assert list(output.stdout) == ['pinned']
    assert not [r for r in caplog.records if 'packet lengths' in r.getMessage()]


def test_security_report_names_libraries_advisories_and_defences():
    import pssh
    report = pssh.security_report()
    assert report['libssh2']['version'] == '1.11.1'
    ids = [item['id'] for item in report['libssh2']['advisories']]
    assert ids == ['CVE-2026-55200', 'CVE-2026-66035', 'CVE-2026-66033', 'GHSA-x4g5-mgfc-cxvv']
    assert report['libssh']['version'].startswith('0.')
    mitigations = report['mitigations']
    assert mitigations['packet_length_guard'] is True
    assert mitigations['host_key_before_encrypted_bytes'] is True
    assert mitigations['no_aes_gcm'] and mitigations['no_chacha20_poly1305']
    assert mitigations['etm_macs_first'] is True
    for item in report['libssh2']['advisories']:
        assert mitigations[item['mitigated_by']] is True


@pytest.fixture(scope='module')
def chacha_only_server():
    from pssh.testing import OpenSSHServer
    with OpenSSHServer(extra_config={'Ciphers': 'chacha20-poly1305@openssh.com'}) as srv:
        yield srv


@pytest.mark.native_only
def test_no_common_cipher_names_both_lists(chacha_only_server):
    srv = chacha_only_server
    with pytest.raises(NoCommonAlgorithmError) as info:
        connect(srv.host, srv.port, srv, num_retries=3, retry_delay=60)
    assert info.value.args[1:] == (
        srv.host, srv.port, 'cipher', 'aes128-ctr,aes256-ctr,aes192-ctr',
        'chacha20-poly1305@openssh.com', ['aes128-ctr', 'aes256-ctr', 'aes192-ctr'],
        ['chacha20-poly1305@openssh.com'])
    assert 'chacha20-poly1305@openssh.com' in str(info.value)


def test_chacha_only_server_with_libssh_lists(chacha_only_server, backend):
    """The libssh clients keep chacha20-poly1305 (after CTR): libssh is not
    affected by libssh2's bugs."""
    if backend == 'native':
        pytest.skip('the native client refuses chacha20-poly1305 (above)')
    srv = chacha_only_server
    with connect(srv.host, srv.port, srv) as client:
        assert client._io.guard.cipher == 'chacha20-poly1305@openssh.com'
        assert client._io.guard.opaque is True
