"""The relay's guard against crafted packet lengths (issue 14, section 1),
against a real sshd behind a proxy that rewrites one length, on both backends.
"""
import subprocess

import pytest

from pssh.clients.base import _connection as base_connection
from pssh.exceptions import NoCommonAlgorithmError, PacketLengthError, UnknownHostKeyError

from peers.rewriting_proxy import RewritingProxy

BACKENDS = ('native', 'ssh')


def connect(backend, host, port, srv, **kwargs):
    options = dict(user=srv.user, pkey=srv.user_key, num_retries=1, timeout=10,
                   allow_agent=False, identity_auth=False)
    options.update(kwargs)
    return backend.SSHClient(host, port=port, **options)


#: The largest whole packet each backend's library takes.
LIMITS = {'native': 40000, 'ssh': 256 * 1024}


@pytest.mark.parametrize('length, problem', [
    (0xffffffff, 'too large'),
    (300000, 'too large'),
    (5, 'too small'),            # shorter than one cipher block
    (0, 'too small'),
    (40, 'not a whole number of 16-byte blocks'),
])
def test_length_after_newkeys_is_refused_before_the_library_reads_it(server, backend, length,
                                                                     problem):
    with RewritingProxy(server.host, server.port, length) as proxy:
        with pytest.raises(PacketLengthError) as info:
            connect(backend, proxy.host, proxy.port, server)
        assert proxy.rewritten.is_set()
    if problem == 'too large':
        problem = 'too large (a whole packet over %s bytes)' % LIMITS[backend.name]
    assert info.value.args[1:] == (proxy.host, proxy.port, length, problem)
    assert str(length) in str(info.value)


@pytest.fixture(scope='module')
def big_banner_server(tmp_path_factory):
    """A server whose banner (36 KB) is one packet larger than RFC 4253's 35000."""
    from pssh.testing import OpenSSHServer
    banner = tmp_path_factory.mktemp('banner') / 'banner'
    banner.write_text(('%s\n' % ('x' * 99)) * 360)
    with OpenSSHServer(extra_config={'Banner': str(banner)}) as srv:
        yield srv


def test_large_packets_the_library_accepts_pass(backend, big_banner_server):
    srv = big_banner_server
    with connect(backend, srv.host, srv.port, srv) as client:
        output = client.run_command('echo big banner')
        client.wait_finished(output)
        assert list(output.stdout) == ['big banner']


@pytest.mark.parametrize('length', [0xffffffff, 3, 1001])
def test_length_before_newkeys_is_refused(backend, server, length):
    with RewritingProxy(server.host, server.port, length, after_newkeys=False) as proxy:
        with pytest.raises(PacketLengthError) as info:
            connect(backend, proxy.host, proxy.port, server)
    assert info.value.args[1:4] == (proxy.host, proxy.port, length)


def test_the_client_still_works_after_a_refused_server(backend, server):
    with RewritingProxy(server.host, server.port, 0xffffffff) as proxy:
        with pytest.raises(PacketLengthError):
            connect(backend, proxy.host, proxy.port, server)
    with connect(backend, server.host, server.port, server) as client:
        output = client.run_command('echo fine')
        client.wait_finished(output)
        assert list(output.stdout) == ['fine']
        assert client._io.guard.opaque is False


def test_refused_host_key_means_no_encrypted_byte_reached_the_library(backend, server, sessions,
                                                                      tmp_path):
    with pytest.raises(UnknownHostKeyError):
        connect(backend, server.host, server.port, server, host_key_policy='strict',
                known_hosts=str(tmp_path / 'empty'))
    io, = sessions
    assert io.guard.newkeys_end is not None
    assert io.delivered == io.guard.newkeys_end


def test_accepted_host_key_releases_the_connection(backend, server, sessions):
    with open(server.host_key_pub) as fh:
        key_line = fh.read()
    with connect(backend, server.host, server.port, server, host_key=key_line) as client:
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


def test_unknown_server_hiding_lengths_is_accepted_with_one_warning(backend, no_etm_server, caplog,
                                                                   monkeypatch):
    srv = no_etm_server
    monkeypatch.setattr(base_connection, '_WARNED_UNCHECKED', set())  # once per process
    caplog.set_level('WARNING', logger='pssh')
    for _ in range(2):
        with connect(backend, srv.host, srv.port, srv) as client:
            output = client.run_command('echo hidden')
            client.wait_finished(output)
            assert list(output.stdout) == ['hidden']
            guard = client._io.guard
            assert (guard.opaque, guard.mac) == (True, 'hmac-sha2-256')
    warned = [r.getMessage() for r in caplog.records if 'hide packet lengths' in r.getMessage()]
    assert warned == ['Host %s:%s is not known and encrypts with aes128-ctr and hmac-sha2-256, '
                      'which hide packet lengths: the guard against crafted lengths cannot '
                      'check this connection' % (srv.host, srv.port)]


def test_unknown_server_hiding_lengths_can_be_refused(backend, no_etm_server, monkeypatch, sessions):
    srv = no_etm_server
    monkeypatch.setattr(backend.SSHClient, 'ALLOW_UNCHECKED_LENGTHS', False)
    with pytest.raises(UnknownHostKeyError) as info:
        connect(backend, srv.host, srv.port, srv)
    assert info.value.args[1:] == (srv.host, srv.port, 'aes128-ctr', 'hmac-sha2-256')
    # Refused before any encrypted byte reached the library (libssh2 waits for
    # them inside its handshake; libssh finishes the key exchange first).
    io, = sessions
    assert io.delivered == io.guard.newkeys_end


def test_known_server_hiding_lengths_connects_quietly(backend, no_etm_server, monkeypatch, caplog):
    srv = no_etm_server
    monkeypatch.setattr(backend.SSHClient, 'ALLOW_UNCHECKED_LENGTHS', False)
    caplog.set_level('WARNING', logger='pssh')
    with open(srv.host_key_pub) as fh:
        key_line = fh.read()
    with connect(backend, srv.host, srv.port, srv, host_key=key_line) as client:
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
def test_no_common_cipher_names_both_lists(backend, chacha_only_server):
    srv = chacha_only_server
    with pytest.raises(NoCommonAlgorithmError) as info:
        connect(backend, srv.host, srv.port, srv, num_retries=3, retry_delay=60)
    assert info.value.args[1:] == (
        srv.host, srv.port, 'cipher', 'aes128-ctr,aes256-ctr,aes192-ctr',
        'chacha20-poly1305@openssh.com', ['aes128-ctr', 'aes256-ctr', 'aes192-ctr'],
        ['chacha20-poly1305@openssh.com'])
    assert 'chacha20-poly1305@openssh.com' in str(info.value)


def test_chacha_only_server_with_libssh_lists(chacha_only_server, backend):
    """The libssh clients keep chacha20-poly1305 (after CTR): libssh is not
    affected by libssh2's bugs."""
    if backend.name == 'native':
        pytest.skip('the native client refuses chacha20-poly1305 (above)')
    srv = chacha_only_server
    with connect(backend, srv.host, srv.port, srv) as client:
        assert client._io.guard.cipher == 'chacha20-poly1305@openssh.com'
        assert client._io.guard.opaque is True


@pytest.fixture(scope='module')
def huge_banner_server(tmp_path_factory):
    """A server whose banner (41 KB) is a packet larger than libssh2 takes."""
    from pssh.testing import OpenSSHServer
    banner = tmp_path_factory.mktemp('banner') / 'banner'
    banner.write_text(('%s\n' % ('x' * 99)) * 410)
    with OpenSSHServer(extra_config={'Banner': str(banner)}) as srv:
        yield srv


@pytest.mark.native_only
def test_refusal_during_agent_login_is_not_an_authentication_error(backend, huge_banner_server,
                                                                   agent_sock):
    srv = huge_banner_server
    subprocess.run(['ssh-add', srv.user_key], check=True, capture_output=True, timeout=10)
    with pytest.raises(PacketLengthError) as info:
        backend.SSHClient(srv.host, port=srv.port, user=srv.user, num_retries=1, timeout=10,
                          allow_agent=True, identity_auth=False)
    assert info.value.args[1:3] == (srv.host, srv.port)
    assert info.value.args[3] > 40000
