"""The client against a hostile SSH server (issue 14, section 1, "Tests").

The server (tests/peers/hostile_server.py) is paramiko in server mode: a real
key exchange, real encryption and MACs, with hooks that write crafted bytes
where encryption starts, or probe whether the client's library parsed an
encrypted packet. Unlike the rewriting proxy in front of sshd
(test_packet_guard.py), it can craft any packet of the session, not only the
first after NEWKEYS, and record what the client's library answered.
"""
import gevent
import pytest

from pssh.exceptions import (NoCommonAlgorithmError, PacketLengthError, SSHError,
                             UnknownHostKeyError)
from pssh.hostkeys import fingerprint

from peers.hostile_server import HostileServer

BACKENDS = ('native', 'ssh')

pytestmark = pytest.mark.timeout(30)

#: The largest whole packet each backend's library takes.
LIMITS = {'native': 40000, 'ssh': 256 * 1024}


@pytest.fixture(scope='module')
def user_key(tmp_path_factory, make_key):
    return make_key(tmp_path_factory.mktemp('hostile') / 'id_ed25519')


def connect(backend, srv, user_key, **kwargs):
    options = dict(port=srv.port, user='anyone', pkey=user_key, num_retries=1, timeout=5,
                   allow_agent=False, identity_auth=False, host_key=srv.host_key_line)
    options.update(kwargs)
    return backend.SSHClient(srv.host, **options)


def wait_for(event, timeout=10):
    """Wait for a threading.Event of the server without blocking the gevent
    hub (the client's relay must keep running meanwhile)."""
    return gevent.get_hub().threadpool.apply(event.wait, (timeout,))


def too_large(backend):
    return 'too large (a whole packet over %s bytes)' % LIMITS[backend.name]


def assert_benign_server_works(backend, user_key):
    """The process survived: a well-behaved server is served as usual."""
    with HostileServer() as srv:
        with connect(backend, srv, user_key) as client:
            output = client.run_command('still alive')
            client.wait_finished(output)
            assert list(output.stdout) == ['still alive']
            assert output.exit_code == 0
        assert srv.errors == []


# ----------------------------------------------------------------------
# 1. A crafted packet length right after NEWKEYS, under an ETM MAC

@pytest.mark.parametrize('length, problem', [
    (0xffffffff, None),  # too large: the limit depends on the backend
    (5, 'too small'),
    (40, 'not a whole number of 16-byte blocks'),
])
def test_crafted_length_after_newkeys_is_refused(user_key, sessions, backend, length, problem):
    with HostileServer(craft_length=length) as srv:
        with pytest.raises(PacketLengthError) as info:
            connect(backend, srv, user_key)
        assert wait_for(srv.crafted_sent)
        assert srv.errors == []
    assert info.value.args[1:] == (srv.host, srv.port, length, problem or too_large(backend))
    assert str(length) in str(info.value)
    io, = sessions
    guard = io.guard
    assert (guard.cipher, guard.mac) == ('aes128-ctr', 'hmac-sha2-256-etm@openssh.com')
    # The crafted packet is the first after NEWKEYS; the library got every
    # byte before it and none of it.
    assert srv.crafted_at == guard.newkeys_end
    assert io.delivered == srv.crafted_at
    assert_benign_server_works(backend, user_key)


# ----------------------------------------------------------------------
# 2. An unknown host key under the strict policy: no encrypted byte parsed

def test_unknown_key_is_refused_before_the_library_parses_an_encrypted_packet(
        backend, user_key, sessions, tmp_path):
    """The server follows its NEWKEYS with a global request that wants a
    reply (before anything else it sends; see the hostile server's probe).
    A client library that parsed it answers REQUEST_FAILURE, which the server
    would record (test_the_probe_is_answered_by_a_library_that_reads_it shows
    it does with libssh2). The relay holds every server byte after NEWKEYS
    until the host key is accepted, so the refused client never answers, and
    its library was handed exactly the bytes up to NEWKEYS.

    (libssh answers no global request it has no handler for, so on that
    backend the byte count on the client's side is what can fail.)"""
    with HostileServer(probe=True) as srv:
        with pytest.raises(UnknownHostKeyError) as info:
            connect(backend, srv, user_key, host_key=None, host_key_policy='strict',
                    known_hosts=str(tmp_path / 'known_hosts'))
        assert wait_for(srv.finished)
        messages = list(srv.client_messages)
        assert srv.errors == []
    blob = srv.host_key.asbytes()
    assert info.value.args[1:5] == (srv.host, srv.port, 'ecdsa-sha2-nistp256',
                                    fingerprint(blob))
    assert messages[:3] == ['kexinit', 'kex30', 'newkeys']
    assert srv.probes_sent == 1
    assert 'request-failure' not in messages
    io, = sessions
    assert io.guard.newkeys_end is not None
    assert io.delivered == io.guard.newkeys_end
    assert_benign_server_works(backend, user_key)


@pytest.mark.native_only
def test_the_probe_is_answered_by_a_library_that_reads_it(backend, user_key):
    """The observation of the test above can fail: with the key accepted
    (pinned), the relay lets the server's bytes through, libssh2 parses the
    probe and answers. (paramiko's server then ends the connection: it takes
    any message of that kind from a client not yet logged in as an error.)"""
    with HostileServer(probe=True) as srv:
        with pytest.raises(SSHError):
            connect(backend, srv, user_key)
        assert wait_for(srv.finished)
        assert srv.probes_sent == 1
        assert 'request-failure' in srv.client_messages


# ----------------------------------------------------------------------
# 3. What the rewriting proxy cannot express

def test_crafted_length_of_a_later_packet_is_refused(user_key, sessions, backend):
    """The second encrypted packet: the guard follows the encrypted framing
    across the first (length, encrypted part and MAC) to find it."""
    with HostileServer(craft_length=0xffffffff, craft_after=1) as srv:
        with pytest.raises(PacketLengthError) as info:
            connect(backend, srv, user_key)
        assert wait_for(srv.crafted_sent)
    assert info.value.args[1:] == (srv.host, srv.port, 0xffffffff, too_large(backend))
    io, = sessions
    assert srv.crafted_at > io.guard.newkeys_end
    assert io.delivered == srv.crafted_at


def test_server_turning_hostile_after_login(user_key, sessions, backend):
    """A crafted length in answer to a command, long after the handshake."""
    with HostileServer(craft_length=0xffffffff, craft_on_exec=True) as srv:
        with connect(backend, srv, user_key) as client:
            with pytest.raises(PacketLengthError) as info:
                output = client.run_command('echo hello')
                client.wait_finished(output)
            assert wait_for(srv.crafted_sent)
            io = client._io
            assert io.delivered == srv.crafted_at
    assert info.value.args[1:] == (srv.host, srv.port, 0xffffffff, too_large(backend))
    assert_benign_server_works(backend, user_key)


def test_gcm_only_server(user_key, sessions, backend):
    """AES-GCM alone. The native client does not offer it (libssh2 1.11.1's
    GCM bugs): a clear error naming both lists. The libssh client does; GCM
    keeps the length in clear, and the guard checks it."""
    gcm = 'aes128-gcm@openssh.com'
    with HostileServer(ciphers=[gcm], craft_length=40) as srv:
        if backend.name == 'native':
            with pytest.raises(NoCommonAlgorithmError) as info:
                connect(backend, srv, user_key)
            assert info.value.args[1:4] == (srv.host, srv.port, 'cipher')
            assert info.value.args[5] == gcm
            assert gcm not in info.value.args[6]
            assert gcm in str(info.value)
            return
        with pytest.raises(PacketLengthError) as info:
            connect(backend, srv, user_key)
        assert wait_for(srv.crafted_sent)
    assert info.value.args[1:] == (srv.host, srv.port, 40,
                                   'not a whole number of 16-byte blocks')
    io, = sessions
    assert io.guard.cipher == gcm
    assert io.delivered == srv.crafted_at == io.guard.newkeys_end
