"""The relay's guard against crafted packet lengths (issue 14, section 1),
against a real sshd behind a proxy that rewrites one length, on both backends.
"""
import pytest

from pssh.clients.base import single as base_single
from pssh.clients.base._guard import MAX_PACKET_LENGTH
from pssh.clients.native import SSHClient
from pssh.exceptions import PacketLengthError, UnknownHostKeyError

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
