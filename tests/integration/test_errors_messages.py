"""Errors and their messages (issue 15, section 5): keyboard-interactive login
through a server that really prompts (PAM); no raw exception types (long host
labels, malformed SFTP replies, a killed connecting greenlet, the client closed
mid-copy); messages that say what happened (a connection closed by this
client, writing after end-of-file, a refused session, copying onto a
directory).

Every test runs against both backends, on real OpenSSH servers.
"""
import os
import shutil
import sys
import uuid

import gevent
import pytest

from pssh.exceptions import (
    AuthenticationError, SFTPError, SFTPIOError, SessionError, Timeout, UnknownHostError)
from pssh.testing import SSHD_PATH, FaultProxy, OpenSSHServer

from conftest import ALL_BACKENDS

#: The backends a test here runs on when it asks for the backend fixture (see conftest).
BACKENDS = ALL_BACKENDS

PAM_DIR = '/etc/pam.d'
PAM_PASSWORD = 'kbd-secret-5d2e'


def _pam_exec_available():
    for directory in ('/lib/x86_64-linux-gnu/security', '/lib/security', '/usr/lib/security',
                      '/lib64/security', '/usr/lib/x86_64-linux-gnu/security',
                      '/lib/aarch64-linux-gnu/security', '/usr/lib64/security'):
        if os.path.exists(os.path.join(directory, 'pam_exec.so')):
            return True
    return False


def _pam_skip_reason():
    if os.geteuid() != 0:
        return 'a PAM service file can only be added as root'
    if not os.access(PAM_DIR, os.W_OK):
        return '%s is not writable' % PAM_DIR
    if not _pam_exec_available():
        return 'pam_exec.so is not installed'
    return None


@pytest.fixture(scope='module')
def pam_server(tmp_path_factory):
    """An sshd that logs in through PAM with keyboard-interactive only, asking
    for a password that a script of the test's own checks.

    sshd names its PAM service after the name it was started as: a link to
    sshd under a fresh name gets a service file of its own in /etc/pam.d,
    removed afterwards; the system's sshd service is not touched.
    """
    reason = _pam_skip_reason()
    if reason:
        pytest.skip('no PAM test server: ' + reason)
    work = tmp_path_factory.mktemp('pam')
    service = 'pssh-test-kbdint-%s' % uuid.uuid4().hex[:12]
    link = work / service
    os.symlink(SSHD_PATH, str(link))
    seen = work / 'answers'
    check = work / 'check-password'
    # pam_exec hands the answer to the prompt on stdin (with a trailing NUL).
    check.write_text(
        '#!%s\n'
        'import sys\n'
        'answer = sys.stdin.buffer.read().rstrip(b"\\0").rstrip(b"\\n")\n'
        'with open(%r, "ab") as seen:\n'
        '    seen.write(answer + b"\\n")\n'
        'sys.exit(0 if answer == %r else 1)\n' % (sys.executable, str(seen),
                                                   PAM_PASSWORD.encode()))
    check.chmod(0o755)
    pam_file = os.path.join(PAM_DIR, service)
    with open(pam_file, 'w') as fh:
        fh.write('auth required pam_exec.so expose_authtok quiet %s\n'
                 # pam_exec has no credentials to set: something must succeed there.
                 'auth required pam_permit.so\n'
                 'account required pam_permit.so\n'
                 'session required pam_permit.so\n'
                 'password required pam_deny.so\n' % check)
    try:
        with OpenSSHServer(sshd_path=str(link), extra_config={
                'UsePAM': 'yes', 'PasswordAuthentication': 'no',
                'KbdInteractiveAuthentication': 'yes',
                'AuthenticationMethods': 'keyboard-interactive'}) as srv:
            srv.answers_path = str(seen)
            yield srv
    finally:
        os.unlink(pam_file)


def test_keyboard_interactive_through_pam(backend, pam_server):
    client = backend.SSHClient(pam_server.host, port=pam_server.port, user=pam_server.user,
                               password=PAM_PASSWORD, keyboard_interactive=True, allow_agent=False,
                               identity_auth=False, num_retries=1, timeout=10)
    with client:
        output = client.run_command('echo "$SSH_CONNECTION"')
        client.wait_finished(output)
        lines = list(output.stdout)
        assert output.exit_code == 0
        assert lines[0].split()[2:] == [pam_server.host, str(pam_server.port)]
    with open(pam_server.answers_path, 'rb') as fh:
        assert PAM_PASSWORD.encode() in fh.read().splitlines()


def test_keyboard_interactive_wrong_answer_is_refused(backend, pam_server):
    with pytest.raises(AuthenticationError) as caught:
        backend.SSHClient(pam_server.host, port=pam_server.port, user=pam_server.user,
                          password='not-' + PAM_PASSWORD, keyboard_interactive=True, allow_agent=False,
                          identity_auth=False, num_retries=1, timeout=10)
    assert caught.value.args[1:3] == (pam_server.host, pam_server.port)
    assert 'keyboard-interactive' in str(caught.value)
    with open(pam_server.answers_path, 'rb') as fh:
        assert b'not-' + PAM_PASSWORD.encode() in fh.read().splitlines()


# ----------------------------------------------------------------------
# No raw exception types.

def test_host_label_over_63_characters(backend, client_kwargs):
    host = 'a' * 64 + '.example'
    with pytest.raises(UnknownHostError) as caught:
        backend.SSHClient(host, **client_kwargs)
    assert caught.value.args[1] == host
    assert 'not a valid host name' in str(caught.value)


def test_host_label_over_63_characters_parallel(backend, client_kwargs):
    host = 'b' * 70
    client = backend.ParallelSSHClient([host], **client_kwargs)
    output = client.run_command('echo never', stop_on_errors=False)
    assert isinstance(output[0].exception, UnknownHostError)
    assert output[0].exception.args[1] == host


#: A stand-in SFTP server: a proper VERSION, then replies cut short.
_FAKE_SFTP = r'''
import struct, sys
inp, out = sys.stdin.buffer, sys.stdout.buffer

def reply(kind, request_id, payload):
    body = bytes([kind]) + (struct.pack('>I', request_id) if request_id is not None else b'')
    body += payload
    out.write(struct.pack('>I', len(body)) + body)
    out.flush()

while True:
    head = inp.read(4)
    if len(head) < 4:
        break
    packet = inp.read(struct.unpack('>I', head)[0])
    kind = packet[0]
    if kind == 1:  # INIT
        reply(2, None, struct.pack('>I', 3))
        continue
    request_id = struct.unpack('>I', packet[1:5])[0]
    if kind in (7, 17):  # LSTAT, STAT: attributes promising a size, without it
        reply(105, request_id, struct.pack('>I', 1) + b'\0\0')
    elif kind == 3:  # OPEN: a handle longer than the packet
        reply(102, request_id, struct.pack('>I', 100) + b'abc')
    else:  # a status without its code
        reply(101, request_id, b'\0\0')
'''


@pytest.fixture(scope='module')
def bad_sftp_server(tmp_path_factory):
    script = tmp_path_factory.mktemp('fake-sftp') / 'sftp.py'
    script.write_text(_FAKE_SFTP)
    with OpenSSHServer(extra_config={
            'Subsystem': 'sftp %s %s' % (sys.executable, script)}) as srv:
        yield srv


def _kwargs_for(srv):
    return dict(port=srv.port, user=srv.user, pkey=srv.user_key, num_retries=1, timeout=10,
                allow_agent=False, identity_auth=False)


def test_malformed_sftp_attributes(backend, bad_sftp_server, tmp_path):
    with backend.SSHClient(bad_sftp_server.host, **_kwargs_for(bad_sftp_server)) as client:
        with pytest.raises(SFTPError) as caught:
            client.copy_remote_file('/etc/hostname', str(tmp_path / 'copy'))
    message = str(caught.value)
    assert 'malformed reply' in message
    assert '%s:%s' % (bad_sftp_server.host, bad_sftp_server.port) in message
    assert '/etc/hostname' in message
    assert not os.path.exists(tmp_path / 'copy')


def test_malformed_sftp_handle(backend, bad_sftp_server, tmp_path):
    local = tmp_path / 'up'
    local.write_bytes(b'data')
    with backend.SSHClient(bad_sftp_server.host, **_kwargs_for(bad_sftp_server)) as client:
        with pytest.raises(SFTPError) as caught:
            client.copy_file(str(local), 'pssh-never-written-%s' % uuid.uuid4().hex)
    assert 'malformed reply' in str(caught.value)
    assert 'open' in str(caught.value)


# greenlet_timeout is a deprecated argument the asyncio clients do not take.
@pytest.mark.backends('native', 'ssh')
def test_killed_connect_is_not_another_runs_error(backend, server, client_kwargs):
    """A run given up after greenlet_timeout kills the greenlet connecting to a
    host; another run waiting for that same connection connects again itself."""
    with FaultProxy(server.host, server.port) as proxy:
        proxy.stall()
        client = backend.ParallelSSHClient([proxy.host], **dict(client_kwargs, port=proxy.port))
        with pytest.warns(DeprecationWarning, match='greenlet_timeout'):
            first = gevent.spawn(client.run_command, 'echo first', stop_on_errors=False,
                                 greenlet_timeout=0.5)
            second = gevent.spawn(client.run_command, 'echo second', stop_on_errors=False)
            given_up = first.get(timeout=20)
        assert isinstance(given_up[0].exception, Timeout)
        proxy.resume()
        output = second.get(timeout=20)
        assert output[0].exception is None
        client.join(output)
        assert list(output[0].stdout) == ['second']
        assert output[0].exit_code == 0
        client.close()


def test_close_mid_copy(backend, server, client_kwargs, tmp_path):
    local = tmp_path / 'big'
    local.write_bytes(os.urandom(8 << 20))
    client = backend.SSHClient(server.host, **client_kwargs)

    def progress(done, total):
        if done >= 1 << 20:
            client.close()

    with pytest.raises(SFTPError) as caught:
        client.copy_file(str(local), os.path.join(server.home, 'big-%s' % uuid.uuid4().hex),
                         progress=progress)
    assert 'closed by this client (close() was called)' in str(caught.value)


def test_close_while_writing_stdin(backend, server, client_kwargs):
    client = backend.SSHClient(server.host, **client_kwargs)
    output = client.run_command('head -c 1 >/dev/null; echo got; exec sleep 30')
    # Far more than the channel's window: the writer waits for the command.
    writer = gevent.spawn(output.stdin.write, b'x' * (16 << 20))
    assert next(iter(output.stdout)) == 'got'
    client.close()
    with pytest.raises(SessionError) as caught:
        writer.get(timeout=10)
    assert caught.value.args[1:4] == (server.host, server.port, 'close() was called')
    assert 'closed by this client' in str(caught.value)


# ----------------------------------------------------------------------
# Messages that say what happened.

def test_output_after_close_says_closed_by_client(backend, server, client_kwargs):
    client = backend.SSHClient(server.host, **client_kwargs)
    output = client.run_command('read line; echo "$line"')
    client.close()
    assert list(output.stdout) == []
    error = output.exception
    assert isinstance(error, SessionError)
    assert error.args[1:4] == (server.host, server.port, 'close() was called')
    assert str(error) == ('Connection to %s:%s was closed by this client (close() was called) '
                          'while reading output' % (server.host, server.port))
    with pytest.raises(SessionError, match='closed by this client'):
        client.run_command('echo again')


def test_output_after_hosts_reassigned(backend, server, client_kwargs):
    client = backend.ParallelSSHClient([server.host], **client_kwargs)
    output = client.run_command('read line; echo "$line"')
    client.hosts = ['localhost']
    client.join(output)
    error = output[0].exception
    assert isinstance(error, SessionError)
    assert 'closed by this client (hosts were reassigned' in str(error)
    assert 'lost' not in str(error)
    client.close()


def test_write_after_eof(backend, server, client_kwargs, tmp_path):
    # The command goes on after its stdin ends, until the test writes a line
    # into the gate (a write to a command that has ended is dropped, not
    # refused). The test holds the FIFO open for reading and writing, so the
    # line waits in it for the command whenever that opens it, and no open()
    # here blocks the hub.
    gate = tmp_path / 'gate'
    os.mkfifo(gate)
    gate_fd = os.open(gate, os.O_RDWR)
    try:
        with backend.SSHClient(server.host, **client_kwargs) as client:
            output = client.run_command(
                'read line; echo "got $line"; read more; echo done; '
                'read go < %s' % gate)
            output.stdin.write('one\n')
            output.stdin.close()
            with pytest.raises(SessionError) as caught:
                output.stdin.write('two\n')
            assert caught.value.args[1:3] == (server.host, server.port)
            assert 'end-of-file was sent already' in str(caught.value)
            os.write(gate_fd, b'go\n')
            client.wait_finished(output)
            assert list(output.stdout) == ['got one', 'done']
            # A second close() sends nothing more and does not fail.
            output.stdin.close()
    finally:
        os.close(gate_fd)


@pytest.fixture(scope='module')
def one_session_server():
    with OpenSSHServer(extra_config={'MaxSessions': '1'}) as srv:
        yield srv


def test_max_sessions_refusal(backend, one_session_server):
    srv = one_session_server
    with backend.SSHClient(srv.host, **_kwargs_for(srv)) as client:
        first = client.run_command('read line; echo "$line"')
        with pytest.raises(SessionError) as caught:
            client.run_command('echo second')
        assert caught.value.args[1:3] == (srv.host, srv.port)
        assert 'refused to open another session' in str(caught.value)
        assert 'MaxSessions' in str(caught.value)
        # The connection is still good.
        first.stdin.write('still here\n')
        client.wait_finished(first)
        assert list(first.stdout) == ['still here']
        assert not client.connection_lost


def test_copy_file_onto_directory(backend, server, client_kwargs, tmp_path):
    local = tmp_path / 'file.txt'
    local.write_text('content\n')
    target = os.path.join(server.home, 'a-directory-%s' % uuid.uuid4().hex)
    os.makedirs(target)
    try:
        with backend.SSHClient(server.host, **client_kwargs) as client:
            with pytest.raises(SFTPIOError) as caught:
                client.copy_file(str(local), target)
            assert 'is an existing directory' in str(caught.value)
            assert caught.value.args[1:4] == (str(local), target, server.host)
            # A file in it works.
            client.copy_file(str(local), target + '/file.txt')
        with open(os.path.join(target, 'file.txt')) as fh:
            assert fh.read() == 'content\n'
    finally:
        shutil.rmtree(target, ignore_errors=True)

