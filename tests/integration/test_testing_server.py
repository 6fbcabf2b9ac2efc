"""Tests of pssh.testing: a real OpenSSH sshd driven by the OpenSSH client."""
import gc
import os
import socket
import subprocess
import sys
import textwrap

import pytest

from pssh.testing import (
    SSHD_PATH,
    OpenSSHServer,
    OpenSSHServerGroup,
    SSHDNotFoundError,
    SSHDStartError,
    start_servers,
)
from pssh.testing._server import _sshd_version

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run_ssh(server, command, extra_args=(), key=None):
    argv = server.ssh_command(command, extra_args=extra_args)
    if key is not None:
        argv[argv.index('-i') + 1] = key
    return subprocess.run(argv, capture_output=True, text=True, timeout=30,
                          stdin=subprocess.DEVNULL, check=False)


def assert_ssh_output(server, command, expected, **kwargs):
    res = run_ssh(server, command, **kwargs)
    assert res.returncode == 0, (res.stderr, server.read_log())
    assert res.stdout == expected
    return res


def pid_alive(pid):
    try:
        with open(f'/proc/{pid}/stat') as stat:
            return stat.read().rsplit(')', 1)[1].split()[0] != 'Z'
    except OSError:
        return False


def connect_refused(host, port):
    try:
        with socket.create_connection((host, port), timeout=5):
            return False
    except ConnectionRefusedError:
        return True


def ipv6_loopback():
    if not socket.has_ipv6:
        return False
    try:
        with socket.socket(socket.AF_INET6) as sock:
            sock.bind(('::1', 0))
    except OSError:
        return False
    return True


@pytest.fixture
def server():
    srv = OpenSSHServer().start()
    yield srv
    srv.stop()


@pytest.mark.timeout(60)
def test_ssh_echo(server):
    assert server.running
    assert server.host == '127.0.0.1'
    assert isinstance(server.port, int) and server.port > 0
    assert_ssh_output(server, 'echo hello', 'hello\n')
    assert f'Accepted publickey for {server.user}' in server.read_log()


@pytest.mark.timeout(60)
def test_clean_home(server):
    assert os.path.isdir(server.home)
    assert server.home.startswith(server.workdir + os.sep)
    assert_ssh_output(server, 'echo $HOME', server.home + '\n')


@pytest.mark.timeout(60)
def test_sftp_subsystem(server, tmp_path):
    src = tmp_path / 'src.bin'
    payload = os.urandom(70000)
    src.write_bytes(payload)
    back = tmp_path / 'back.bin'
    remote = os.path.join(server.home, 'uploaded.bin')
    batch = tmp_path / 'batch'
    batch.write_text(f'put {src} {remote}\nget {remote} {back}\n')
    res = subprocess.run(server.sftp_command(str(batch)), capture_output=True,
                         text=True, timeout=30, stdin=subprocess.DEVNULL, check=False)
    assert res.returncode == 0, (res.stdout, res.stderr, server.read_log())
    with open(remote, 'rb') as uploaded:
        assert uploaded.read() == payload
    assert back.read_bytes() == payload


@pytest.mark.timeout(60)
def test_stop_kills_process_and_removes_files():
    server = OpenSSHServer().start()
    pid, port, workdir = server.pid, server.port, server.workdir
    assert pid_alive(pid)
    # an open connection: its handler runs in its own session and must go too
    with subprocess.Popen(server.ssh_command('echo up; exec cat'),
                          stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                          stderr=subprocess.DEVNULL) as session:
        try:
            assert session.stdout.readline() == b'up\n'
            server.stop()
            assert not server.running
            assert server.pid is None
            assert not pid_alive(pid)
            assert not os.path.exists(workdir)
            assert connect_refused('127.0.0.1', port)
            # the client notices that its server went away
            assert session.wait(timeout=30) != 0
        finally:
            if session.poll() is None:
                session.kill()
    server.stop()  # again: no error


@pytest.mark.timeout(60)
def test_two_servers_different_ports():
    with OpenSSHServer() as one, OpenSSHServer() as two:
        assert one.port != two.port
        assert one.pid != two.pid
        assert one.workdir != two.workdir
        assert one.user_key_bytes != two.user_key_bytes
        assert_ssh_output(one, 'echo one', 'one\n')
        assert_ssh_output(two, 'echo two', 'two\n')
        # each server only accepts its own key
        res = run_ssh(one, 'echo nope', key=two.user_key)
        assert res.returncode == 255
        assert res.stdout == ''


@pytest.mark.timeout(60)
def test_context_manager():
    server = OpenSSHServer()
    assert not server.running and server.pid is None
    with server as entered:
        assert entered is server
        assert server.running
        pid, workdir = server.pid, server.workdir
        assert_ssh_output(server, 'echo ctx', 'ctx\n')
    assert not server.running
    assert not pid_alive(pid)
    assert not os.path.exists(workdir)


@pytest.mark.timeout(60)
def test_garbage_collected_server_is_stopped():
    server = OpenSSHServer().start()
    pid, workdir = server.pid, server.workdir
    del server
    gc.collect()
    assert not pid_alive(pid)
    assert not os.path.exists(workdir)


@pytest.mark.timeout(60)
def test_restart_keeps_port_and_keys():
    with OpenSSHServer() as server:
        port, host_line, pid = server.port, server.known_hosts_line(), server.pid
        server.stop(cleanup=False)
        assert not pid_alive(pid)
        assert os.path.isfile(server.user_key)
        server.start()
        assert server.pid != pid
        assert server.port == port
        assert server.known_hosts_line() == host_line
        assert_ssh_output(server, 'echo again', 'again\n')


@pytest.mark.timeout(60)
def test_missing_sshd_is_reported(tmp_path):
    with pytest.raises(SSHDNotFoundError) as err:
        OpenSSHServer(sshd_path=str(tmp_path / 'no-such-sshd'))
    assert isinstance(err.value, RuntimeError)
    assert 'openssh-server' in str(err.value)
    assert 'apt-get install -y openssh-server' in str(err.value)
    with pytest.raises(SSHDNotFoundError, match='ssh-keygen'):
        OpenSSHServer(ssh_keygen_path=str(tmp_path / 'no-such-keygen'))
    assert list(tmp_path.iterdir()) == []


@pytest.mark.timeout(60)
def test_sshd_start_failure_has_log():
    server = OpenSSHServer(extra_config=['NoSuchKeyword yes'])
    workdir = server.workdir
    with pytest.raises(SSHDStartError) as err:
        server.start()
    assert 'NoSuchKeyword' in str(err.value)
    assert 'NoSuchKeyword' in err.value.log
    assert not server.running
    server.stop()
    assert not os.path.exists(workdir)


@pytest.mark.timeout(60)
def test_fixed_port_in_use_is_reported():
    with socket.socket() as taken:
        taken.bind(('127.0.0.1', 0))
        taken.listen()
        server = OpenSSHServer(port=taken.getsockname()[1])
        try:
            with pytest.raises(SSHDStartError, match='could not listen'):
                server.start()
        finally:
            server.stop()


@pytest.mark.timeout(60)
def test_rsa_key_type():
    with OpenSSHServer(key_type='rsa') as server:
        assert server.user_key.endswith('id_rsa')
        assert server.user_key_bytes.startswith(b'-----BEGIN RSA PRIVATE KEY-----')
        assert_ssh_output(server, 'echo rsa', 'rsa\n')
        assert f'Accepted publickey for {server.user} from 127.0.0.1' in server.read_log()
        assert ': RSA SHA256:' in server.read_log()
    with pytest.raises(ValueError):
        OpenSSHServer(key_type='dsa')


@pytest.mark.timeout(60)
@pytest.mark.skipif(not ipv6_loopback(), reason='no IPv6 loopback')
def test_ipv6_loopback(tmp_path):
    with OpenSSHServer('::1') as server:
        assert server.host == '::1'
        assert_ssh_output(server, 'echo v6', 'v6\n')
        assert server.known_hosts_line().startswith(f'[::1]:{server.port} ssh-ed25519 ')
        batch = tmp_path / 'batch'
        batch.write_text('ls\n')
        res = subprocess.run(server.sftp_command(str(batch)), capture_output=True,
                             text=True, timeout=30, stdin=subprocess.DEVNULL, check=False)
        assert res.returncode == 0, res.stderr


@pytest.mark.timeout(60)
def test_known_hosts_line_verifies_host_key(server, tmp_path):
    line = server.known_hosts_line()
    assert line.startswith(f'[127.0.0.1]:{server.port} ssh-ed25519 AAAA')
    with open(server.host_key_pub) as pub:
        assert line.split()[2] == pub.read().split()[1]
    known = tmp_path / 'known_hosts'
    known.write_text(line + '\n')
    strict = ['-o', 'StrictHostKeyChecking=yes', '-o', f'UserKnownHostsFile={known}']
    assert_ssh_output(server, 'echo trusted', 'trusted\n', extra_args=strict)
    # a different key for the same name is refused
    with OpenSSHServer() as other:
        known.write_text(other.known_hosts_line().replace(
            str(other.port), str(server.port)) + '\n')
    res = run_ssh(server, 'echo trusted', extra_args=strict)
    assert res.returncode == 255
    assert 'HOST IDENTIFICATION HAS CHANGED' in res.stderr


@pytest.mark.timeout(60)
def test_add_authorized_key(server, tmp_path):
    key = tmp_path / 'extra_key'
    subprocess.run(['ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-f', str(key)],
                   check=True, stdin=subprocess.DEVNULL)
    assert run_ssh(server, 'echo x', key=str(key)).returncode == 255
    server.add_authorized_key(str(key) + '.pub')
    assert_ssh_output(server, 'echo $HOME', server.home + '\n', key=str(key))
    # as text, with another HOME
    key2 = tmp_path / 'extra_key2'
    subprocess.run(['ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-f', str(key2)],
                   check=True, stdin=subprocess.DEVNULL)
    other_home = tmp_path / 'home2'
    other_home.mkdir()
    server.add_authorized_key((tmp_path / 'extra_key2.pub').read_text(),
                              home=str(other_home))
    assert_ssh_output(server, 'echo $HOME', f'{other_home}\n', key=str(key2))


@pytest.mark.timeout(60)
def test_extra_config_overrides_defaults_and_match_goes_last():
    extra = {'MaxAuthTries': 3, 'X11Forwarding': False, 'ClientAliveInterval': None}
    with OpenSSHServer(extra_config=extra) as server:
        effective = subprocess.run(
            ['/usr/sbin/sshd', '-T', '-f', server.config_path], capture_output=True,
            text=True, timeout=30, check=True).stdout.splitlines()
        assert 'maxauthtries 3' in effective
        assert 'x11forwarding no' in effective
        assert 'maxsessions 1000' in effective
        with open(server.config_path) as config:
            text = config.read()
        assert 'MaxAuthTries 50' not in text
        assert 'ClientAliveInterval' not in text
        assert text.index('MaxAuthTries 3') < text.index('StrictModes no')
        assert_ssh_output(server, 'echo ok', 'ok\n')
    # a Match block given first still ends up after the defaults
    lines = [f'Match User {server.user}', '    ForceCommand echo forced']
    with OpenSSHServer(extra_config=lines) as server:
        assert_ssh_output(server, 'echo not-forced', 'forced\n')
    # a caller Subsystem replaces the default instead of clashing with it
    with OpenSSHServer(extra_config=['Subsystem sftp internal-sftp -l INFO']) as server, \
            open(server.config_path) as config:
        assert config.read().count('Subsystem') == 1
    with pytest.raises(ValueError, match='port'):
        OpenSSHServer(extra_config={'Port': 2222})


@pytest.mark.timeout(60)
def test_start_servers_share_one_key():
    group = start_servers(3)
    try:
        assert isinstance(group, OpenSSHServerGroup) and isinstance(group, list)
        assert len(group) == 3
        assert len(set(group.ports)) == 3
        assert group.hosts == ['127.0.0.1'] * 3
        for index, server in enumerate(group):
            assert server.running
            assert server.user_key == group.user_key
            res = run_ssh(server, f'echo server-{index}', key=group.user_key)
            assert res.returncode == 0, res.stderr
            assert res.stdout == f'server-{index}\n'
        pids = [server.pid for server in group]
        keydir = os.path.dirname(group.user_key)
    finally:
        group.stop()
    assert not any(pid_alive(pid) for pid in pids)
    assert not os.path.exists(keydir)


@pytest.mark.timeout(60)
@pytest.mark.parametrize('reexec', [True, False])
def test_reexec_mode(reexec):
    with start_servers(2, reexec=reexec) as group:
        for index, server in enumerate(group):
            with open('/proc/%d/cmdline' % server.pid, 'rb') as fh:
                # sshd writes its arguments into its process title.
                title = b' '.join(fh.read().split(b'\0'))
            version = _sshd_version(SSHD_PATH)
            assert (b' -r ' in title) == (not reexec and (0, 0) < version < (9, 8)), title
            # Either way, sessions work, and again after the first.
            for _ in range(2):
                assert_ssh_output(server, 'echo %s-%s' % (reexec, index),
                                  '%s-%s\n' % (reexec, index), key=group.user_key)


@pytest.mark.timeout(60)
def test_ssh2_python_client_logs_in(server):
    session_mod = pytest.importorskip('ssh2.session')
    sock = socket.create_connection((server.host, server.port), timeout=30)
    try:
        session = session_mod.Session()
        session.handshake(sock)
        session.userauth_publickey_frommemory(server.user, server.user_key_bytes)
        assert session.userauth_authenticated()
        channel = session.open_session()
        channel.execute('echo $HOME')
        size, data = channel.read()
        chunks = []
        while size > 0:
            chunks.append(data)
            size, data = channel.read()
        channel.wait_eof()
        channel.close()
        channel.wait_closed()
        assert b''.join(chunks) == (server.home + '\n').encode()
        assert channel.get_exit_status() == 0
        session.disconnect()
    finally:
        sock.close()


PLUGIN_TESTS = '''
import json
import os
import subprocess

import pytest

RECORD = os.environ['PSSH_PLUGIN_RECORD']


def record(server):
    with open(RECORD, 'a') as out:
        out.write(json.dumps([server.pid, server.workdir]) + '\\n')


def ssh_echo(server, word):
    return subprocess.run(server.ssh_command('echo ' + word), capture_output=True,
                          text=True, timeout=30, stdin=subprocess.DEVNULL).stdout


def test_sshd_server(sshd_server):
    assert sshd_server.running
    assert ssh_echo(sshd_server, 'fixture') == 'fixture\\n'
    record(sshd_server)


def test_sshd_server_factory(sshd_server_factory):
    one = sshd_server_factory()
    two = sshd_server_factory(key_type='rsa')
    assert one.port != two.port
    assert ssh_echo(one, 'one') == 'one\\n'
    assert ssh_echo(two, 'two') == 'two\\n'
    record(one)
    record(two)


def test_zz_previous_servers_were_stopped():
    with open(RECORD) as rec:
        entries = [json.loads(line) for line in rec]
    assert len(entries) == 3
    for pid, workdir in entries:
        assert not os.path.exists('/proc/%d' % pid) or open(
            '/proc/%d/stat' % pid).read().rsplit(')', 1)[1].split()[0] == 'Z'
        assert not os.path.exists(workdir)
'''


@pytest.mark.timeout(60)
def test_pytest_plugin_fixtures(tmp_path):
    (tmp_path / 'test_plugin_fixtures.py').write_text(textwrap.dedent(PLUGIN_TESTS))
    record = tmp_path / 'record.jsonl'
    env = dict(os.environ)
    env['PSSH_PLUGIN_RECORD'] = str(record)
    # only the plugin under test: no auto-loaded plugins (the project may
    # register this same plugin as an entry point)
    env['PYTEST_DISABLE_PLUGIN_AUTOLOAD'] = '1'
    env['PYTHONPATH'] = os.pathsep.join(
        [REPO_ROOT] + ([env['PYTHONPATH']] if env.get('PYTHONPATH') else []))
    res = subprocess.run(
        [sys.executable, '-m', 'pytest', '-p', 'pssh.testing.pytest_plugin',
         '-p', 'no:cacheprovider', '-q', '--rootdir', str(tmp_path),
         'test_plugin_fixtures.py'],
        cwd=str(tmp_path), env=env, capture_output=True, text=True, timeout=50,
        stdin=subprocess.DEVNULL, check=False)
    assert res.returncode == 0, res.stdout + res.stderr
    assert '3 passed' in res.stdout
    assert len(record.read_text().splitlines()) == 3
