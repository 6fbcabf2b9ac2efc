"""Agent forwarding (``forward_ssh_agent=True``): commands use our local agent.

It works on both clients: the native one through libssh2's agent callback, the
libssh one through libssh's; where that callback cannot be reached, the client
refuses at construction with a clear error (the last tests).

The client logs in with the server's own key (never the agent); the private
agent holds a second key that only a second server accepts, so a remote
``ssh -A`` to that server can log in only through the forwarded agent.
"""
import gc
import importlib
import os
import socket
import subprocess
import sys

import gevent
import pytest
from gevent import socket as gsocket
from gevent.server import StreamServer

from pssh.config import HostConfig
from pssh.exceptions import InvalidAPIUseError
from pssh.testing import OpenSSHServer

#: The backends a test here runs on when it asks for the backend fixture (see conftest).
BACKENDS = ('native', 'ssh')

#: Where each backend serves forwarded agent channels.
_AGENT_MODULES = {'native': 'pssh.clients.native._agent_forward',
                  'ssh': 'pssh.clients.ssh._agent_forward'}

# A remote agent client that asks the agent for its keys, reports how many
# bytes of the answer's length it got, then holds the connection (and so the
# forwarded channel) open until a line comes on stdin.
_HOLD_AGENT = ('python3 -c "import os, socket, sys; s = socket.socket(socket.AF_UNIX); '
               's.connect(os.environ[\'SSH_AUTH_SOCK\']); s.sendall(bytes([0, 0, 0, 1, 11])); '
               'print(len(s.recv(4)), flush=True); sys.stdin.readline()"')

# The remote ssh uses nothing but the forwarded agent: no config, no key files,
# no known hosts, no prompts.
_REMOTE_SSH = ('ssh -A -F /dev/null -o BatchMode=yes -o StrictHostKeyChecking=no '
               '-o UserKnownHostsFile=/dev/null -o IdentitiesOnly=no -o IdentityFile=/dev/null '
               '-o LogLevel=ERROR')


@pytest.fixture(scope='module')
def agent_key(tmp_path_factory):
    """A key pair only the agent holds: (private key path, public key line)."""
    path = str(tmp_path_factory.mktemp('agent-key') / 'id_agent')
    subprocess.run(['ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-C', 'forwarded-key',
                    '-f', path], check=True, capture_output=True, timeout=30)
    with open(path + '.pub') as pub:
        return path, pub.read().strip()


@pytest.fixture
def loaded_agent(agent_sock, agent_key):
    subprocess.run(['ssh-add', agent_key[0]], check=True, capture_output=True, timeout=10)
    return agent_sock


@pytest.fixture(scope='module')
def second_server(server, agent_key):
    """A server that accepts the agent's key (and the first server's)."""
    with OpenSSHServer(user_key=server.user_key) as srv:
        srv.add_authorized_key(agent_key[1])
        yield srv


def _fingerprint(pub_line):
    out = subprocess.run(['ssh-keygen', '-l', '-f', '-'], input=pub_line, text=True,
                         check=True, capture_output=True, timeout=10).stdout
    return out.split()[1]


def _run(client, command):
    host_out = client.run_command(command)
    client.wait_finished(host_out, timeout=20)
    return list(host_out.stdout), list(host_out.stderr), host_out.exit_code


@pytest.mark.timeout(60)
def test_remote_ssh_add_lists_our_agent_keys(backend, server, client_kwargs, loaded_agent, agent_key):
    with backend.SSHClient(server.host, forward_ssh_agent=True, **client_kwargs) as client:
        stdout, stderr, code = _run(client, 'test -S "$SSH_AUTH_SOCK" && ssh-add -l')
        assert code == 0, stderr
        assert len(stdout) == 1 and _fingerprint(agent_key[1]) in stdout[0]
        assert stdout[0].endswith('forwarded-key (ED25519)')
        # The public key itself comes through too, byte for byte.
        stdout, _, code = _run(client, 'ssh-add -L')
        assert code == 0 and stdout == [agent_key[1]]


@pytest.mark.timeout(60)
def test_remote_ssh_logs_in_to_a_second_server_with_the_forwarded_agent(
        backend, server, second_server, client_kwargs, loaded_agent):
    hop = '%s -p %s %s@%s echo hop from $(whoami)' % (
        _REMOTE_SSH, second_server.port, second_server.user, second_server.host)
    with backend.SSHClient(server.host, forward_ssh_agent=True, **client_kwargs) as client:
        stdout, stderr, code = _run(client, hop)
        assert (stdout, code) == (['hop from %s' % second_server.user], 0), stderr
    # Without forwarding the same command cannot log in: the key is only in the agent.
    with backend.SSHClient(server.host, **client_kwargs) as client:
        stdout, stderr, code = _run(client, hop + ' </dev/null')
        assert code == 255 and stdout == []


@pytest.mark.timeout(60)
def test_several_commands_use_the_agent_at_once_on_one_session(
        backend, server, client_kwargs, loaded_agent, agent_key):
    fingerprint = _fingerprint(agent_key[1])
    with backend.SSHClient(server.host, forward_ssh_agent=True, **client_kwargs) as client:
        # Each command asks the agent several times, all of them started
        # before any is read, gated on stdin so that they overlap.
        outputs = [client.run_command('read go; for i in 1 2 3; do ssh-add -l; done')
                   for _ in range(6)]
        for host_out in outputs:
            host_out.stdin.write('go\n')
            host_out.stdin.flush()
        for host_out in outputs:
            client.wait_finished(host_out, timeout=20)
            lines = list(host_out.stdout)
            assert host_out.exit_code == 0, list(host_out.stderr)
            assert len(lines) == 3 and all(fingerprint in line for line in lines)
        # Every agent channel was closed and freed once its client hung up;
        # the session keeps working.
        assert _run(client, 'echo still here') == (['still here'], [], 0)


@pytest.mark.timeout(60)
def test_one_command_opens_many_agent_connections_at_once(backend, server, client_kwargs, loaded_agent,
                                                          agent_key):
    fingerprint = _fingerprint(agent_key[1])
    command = 'for i in 1 2 3 4 5 6 7 8 9 10; do ssh-add -l & done; wait'
    with backend.SSHClient(server.host, forward_ssh_agent=True, **client_kwargs) as client:
        stdout, stderr, code = _run(client, command)
        assert code == 0 and len(stdout) == 10, stderr
        assert all(fingerprint in line for line in stdout)
        assert _served_to_the_end(client._agent_forwarding)


@pytest.mark.timeout(60)
def test_parallel_client_forwards_the_agent_to_every_host(
        backend, server, second_server, client_kwargs, loaded_agent, agent_key):
    kwargs = dict(client_kwargs)
    del kwargs['port']
    ports = [server.port, second_server.port, server.port]
    client = backend.ParallelSSHClient([server.host] * 3, host_config=[HostConfig(port=port)
                                                                       for port in ports],
                                       forward_ssh_agent=True, **kwargs)
    try:
        output = client.run_command('ssh-add -l')
        client.join(output, timeout=20)
        fingerprint = _fingerprint(agent_key[1])
        for host_out in output:
            lines = list(host_out.stdout)
            assert host_out.exit_code == 0 and len(lines) == 1 and fingerprint in lines[0]
    finally:
        client.close()


@pytest.mark.timeout(60)
def test_without_a_local_agent_commands_run_without_one(backend, server, client_kwargs, monkeypatch):
    monkeypatch.delenv('SSH_AUTH_SOCK', raising=False)
    with backend.SSHClient(server.host, forward_ssh_agent=True, **client_kwargs) as client:
        stdout, _, code = _run(client, 'echo "[$SSH_AUTH_SOCK]"; ssh-add -l')
        # ssh-add: 2 is "could not open a connection to your authentication agent".
        assert (stdout[:1], code) == (['[]'], 2)


@pytest.mark.timeout(60)
def test_an_unreachable_local_agent_fails_the_remote_client_not_the_session(
        backend, server, client_kwargs, tmp_path, monkeypatch):
    monkeypatch.setenv('SSH_AUTH_SOCK', str(tmp_path / 'no-agent-here.sock'))
    with backend.SSHClient(server.host, forward_ssh_agent=True, **client_kwargs) as client:
        stdout, _, code = _run(client, 'test -S "$SSH_AUTH_SOCK" && echo socket; ssh-add -l')
        assert stdout[:1] == ['socket'] and code not in (0, None)
        assert _run(client, 'echo still here') == (['still here'], [], 0)


@pytest.mark.timeout(60)
def test_server_refusing_forwarding_still_runs_the_command(backend, loaded_agent, tmp_path):
    with OpenSSHServer(extra_config={'AllowAgentForwarding': 'no'}) as srv:
        with backend.SSHClient(srv.host, port=srv.port, user=srv.user, pkey=srv.user_key,
                               num_retries=1, timeout=10, allow_agent=False, identity_auth=False,
                               forward_ssh_agent=True) as client:
            stdout, _, code = _run(client, 'echo "[$SSH_AUTH_SOCK]"; ssh-add -l')
            assert (stdout[:1], code) == (['[]'], 2)




def _served_to_the_end(forwarding):
    """Wait (5 s at most) for every agent channel of ``forwarding`` to be
    closed and freed; True when none is left."""
    gevent.joinall(list(forwarding._greenlets.values()), timeout=5)
    return forwarding.active == 0


@pytest.mark.timeout(60)
def test_remote_client_hanging_up_mid_request_ends_its_channel(backend, server, client_kwargs,
                                                               loaded_agent, agent_key):
    # Half a request (a length of 5, one byte of body), then the remote
    # client goes away: the channel ends from the server's side.
    half = ('python3 -c "import os, socket; s = socket.socket(socket.AF_UNIX); '
            's.connect(os.environ[\'SSH_AUTH_SOCK\']); s.sendall(bytes([0, 0, 0, 5, 11])); '
            'print(\'sent\')"')
    with backend.SSHClient(server.host, forward_ssh_agent=True, **client_kwargs) as client:
        for _ in range(3):
            assert _run(client, half) == (['sent'], [], 0)
        assert _served_to_the_end(client._agent_forwarding)
        stdout, _, code = _run(client, 'ssh-add -l')
        assert code == 0 and _fingerprint(agent_key[1]) in stdout[0]


@pytest.mark.timeout(60)
def test_local_agent_hanging_up_ends_the_channel_not_the_session(
        backend, server, client_kwargs, tmp_path, monkeypatch):
    # A local "agent" that takes the first bytes of a request and hangs up:
    # the channel ends from our side.
    path = str(tmp_path / 'rude-agent.sock')
    listener = gsocket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    listener.listen(16)
    taken = []

    def hang_up(sock, _address):
        taken.append(sock.recv(4))
        sock.close()

    rude_agent = StreamServer(listener, hang_up)
    rude_agent.start()
    monkeypatch.setenv('SSH_AUTH_SOCK', path)
    try:
        with backend.SSHClient(server.host, forward_ssh_agent=True, **client_kwargs) as client:
            stdout, stderr, code = _run(client, 'ssh-add -l; echo "code $?"')
            assert code == 0 and stdout[-1] not in ('code 0', 'code 2'), (stdout, stderr)
            assert taken and taken[0] == b'\0\0\0\x01'
            assert _served_to_the_end(client._agent_forwarding)
            assert _run(client, 'echo still here') == (['still here'], [], 0)
    finally:
        rude_agent.stop()


@pytest.mark.timeout(60)
def test_client_closed_while_agent_channels_are_open(backend, server, client_kwargs, loaded_agent):
    client = backend.SSHClient(server.host, forward_ssh_agent=True, **client_kwargs)
    forwarding = client._agent_forwarding
    outputs = [client.run_command(_HOLD_AGENT) for _ in range(3)]
    # Each remote client got the length of the agent's answer through its channel.
    assert [next(host_out.stdout) for host_out in outputs] == ['4'] * 3
    assert forwarding.active == 3
    greenlets = list(forwarding._greenlets.values())
    client.close()
    # Every channel's greenlet ends at once, without touching the freed
    # session; the commands' output ends.
    gevent.joinall(greenlets, timeout=5)
    assert all(greenlet.dead for greenlet in greenlets) and forwarding.active == 0
    for host_out in outputs:
        assert list(host_out.stdout) == []
    del client, outputs, greenlets, host_out
    gc.collect()  # the session is freed with the channels libssh still held
    # The process carries on: a new client forwards the agent.
    with backend.SSHClient(server.host, forward_ssh_agent=True, **client_kwargs) as client:
        stdout, _, code = _run(client, 'ssh-add -l >/dev/null && echo agent')
        assert (stdout, code) == (['agent'], 0)


@pytest.mark.timeout(60)
def test_backend_that_cannot_serve_forwarding_refuses_at_construction(
        backend, server, client_kwargs, monkeypatch):
    # As with an SSH library whose callbacks or Python wrapper's layout we
    # cannot verify.
    monkeypatch.setattr(importlib.import_module(_AGENT_MODULES[backend.name]), '_UNAVAILABLE',
                        'its library is too old')
    kwargs = dict(client_kwargs)
    port = kwargs.pop('port')
    # Refused before any connection: the port given is closed.
    with pytest.raises(InvalidAPIUseError) as err:
        backend.SSHClient('host-a', port=1, forward_ssh_agent=True, **kwargs)
    message = str(err.value)
    assert 'forward_ssh_agent' in message and 'host-a' in message
    assert 'its library is too old' in message
    with pytest.raises(InvalidAPIUseError) as err:
        backend.ParallelSSHClient(['host-a', 'host-b'], port=1, forward_ssh_agent=True, **kwargs)
    assert 'host-a and 1 more' in str(err.value) and 'its library is too old' in str(err.value)
    # Asked for one host alone, through its HostConfig.
    with pytest.raises(InvalidAPIUseError) as err:
        backend.ParallelSSHClient(['host-a', 'host-b'], port=1, **kwargs, host_config=[
            HostConfig(), HostConfig(forward_ssh_agent=True)])
    assert 'host-b' in str(err.value) and 'host-a' not in str(err.value)
    # Without forwarding, the same client works.
    with backend.SSHClient(server.host, port=port, **kwargs) as client:
        assert _run(client, 'echo fine') == (['fine'], [], 0)


@pytest.fixture
def forget_checks(backend):
    """The backend's agent module; its cached checks are redone after the test."""
    module = importlib.import_module(_AGENT_MODULES[backend.name])
    yield module
    if backend.name == 'ssh':
        module._loaded.cache_clear()


_LIFECYCLE = """
import faulthandler, gc, sys
import gevent
faulthandler.enable()
from pssh.clients.{backend} import SSHClient
host, port, user, key, hold, half = sys.argv[1:]
for _round in range(4):
    client = SSHClient(host, port=int(port), user=user, pkey=key, num_retries=1, timeout=10,
                       allow_agent=False, identity_auth=False, forward_ssh_agent=True)
    forwarding = client._agent_forwarding
    held = [client.run_command(hold) for _ in range(2)]
    assert [next(out.stdout) for out in held] == ['4', '4']
    gone = client.run_command(half)
    client.wait_finished(gone, timeout=10)
    greenlets = list(forwarding._greenlets.values())
    client.close()
    gevent.joinall(greenlets, timeout=5)
    assert forwarding.active == 0, forwarding.active
    del client, held, gone, greenlets
    gc.collect()
print('survived')
"""

_HALF_REQUEST = ('python3 -c "import os, socket; s = socket.socket(socket.AF_UNIX); '
                 's.connect(os.environ[\'SSH_AUTH_SOCK\']); s.sendall(bytes([0, 0, 0, 5, 11]))"')


@pytest.mark.timeout(120)
def test_agent_channels_outliving_their_client_do_not_crash_the_process(
        backend, server, loaded_agent):
    # In a process of its own, so that a crash (a channel used after its
    # session freed it) shows as this test's failure: clients closed and
    # collected, round after round, with agent channels still open and others
    # closed by the remote end.
    script = _LIFECYCLE.replace('{backend}', backend.name)
    result = subprocess.run(
        [sys.executable, '-c', script, server.host, str(server.port), server.user,
         server.user_key, _HOLD_AGENT, _HALF_REQUEST],
        capture_output=True, text=True, timeout=100, cwd=os.path.dirname(os.path.dirname(
            os.path.dirname(os.path.abspath(__file__)))))
    assert (result.returncode, result.stdout) == (0, 'survived\n'), result.stderr


@pytest.mark.timeout(60)
def test_a_session_layout_we_do_not_recognise_is_refused(backend, forget_checks, monkeypatch,
                                                         client_kwargs):
    # As with a build of the Python wrapper whose Session object is laid out
    # differently: its fields are read one pointer off. The check sees it
    # before ever handing libssh (or libssh2) a pointer read from there.
    module = forget_checks
    monkeypatch.setattr(module, '_FIRST_FIELD', module._FIRST_FIELD - module._PTR)
    if backend.name == 'ssh':
        module._loaded.cache_clear()
    else:
        monkeypatch.setattr(module, '_UNAVAILABLE', module._check())
    assert 'lays out its Session differently' in module.unavailable_reason()
    with pytest.raises(InvalidAPIUseError) as err:
        backend.SSHClient('host-a', forward_ssh_agent=True, **dict(client_kwargs, port=1))
    assert 'host-a' in str(err.value) and 'lays out its Session differently' in str(err.value)


def test_both_backends_report_agent_forwarding_available():
    import pssh
    mitigations = pssh.security_report()['mitigations']
    assert mitigations['agent_forwarding_native'] == 'available'
    assert mitigations['agent_forwarding_ssh'] == 'available'
