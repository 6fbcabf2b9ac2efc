"""Every code example of the seed document (the 1.x "Advanced Usage" page,
/work/shared/seed/000_f73e24475013d9a8.txt), run against real OpenSSH servers.

Each test holds one example as the document writes it; only hosts, ports, key
paths, user names and the ``<..>``/``..`` placeholders are substituted, and
every substitution is named in a comment. A few settings are added to the
constructors so that a broken setup fails fast rather than retrying for
minutes: ``num_retries=1, timeout=15`` (``FAST``). Then the test checks what the
document says the example does.

Examples using a 1.x name run inside ``pytest.warns(DeprecationWarning)``
(warnings are errors in this suite). Where the document's code has an obvious
typo, a comment says so and the test runs the evident intent.

Remote relative SFTP paths: the servers give sessions a clean ``$HOME``
(``server.home``), but SFTP resolves relative paths against the login
directory, which is the user's passwd home (``/root`` here), not ``$HOME``:
``copy_file(..., 'test_dir/test')`` against a plain test server writes
``/root/test_dir/test`` (checked while writing these tests). To run the SFTP
examples with their relative remote paths unchanged and without touching
``/root``, their servers start ``internal-sftp -d <own directory>``, so each
SFTP session starts in a private directory of the test.
"""
import contextlib
import importlib.util
import os
import select
import shutil
import subprocess
import sys

import gevent
import gevent.monkey
import pytest

from pssh.clients.native import ParallelSSHClient as NativeParallelSSHClient
from pssh.config import HostConfig
from pssh.exceptions import Timeout
from pssh.testing import OpenSSHServer, start_servers

_SSH_SPEC = importlib.util.find_spec('pssh.clients.ssh')
# pssh/clients/ssh is an empty directory until the libssh backend is written,
# which find_spec reports as a namespace package (origin None): not built.
LIBSSH_BUILT = _SSH_SPEC is not None and _SSH_SPEC.origin is not None
needs_libssh = pytest.mark.skipif(not LIBSSH_BUILT,
                                  reason='libssh backend not built yet (issue 6)')

#: Added to every client: fail fast instead of retrying when the setup is broken.
FAST = dict(num_retries=1, timeout=15)

UNAME = os.uname().sysname  # the servers run on this machine


def forget(*names):
    """Drop modules from sys.modules so that importing them runs their body
    (and its deprecation warning) again."""
    for name in names:
        sys.modules.pop(name, None)
        parent, _, child = name.rpartition('.')
        if parent in sys.modules:
            sys.modules[parent].__dict__.pop(child, None)


def keygen(path, passphrase=''):
    """An RSA key in PEM format at ``path`` (public key at ``path + '.pub'``)."""
    subprocess.run(['ssh-keygen', '-q', '-t', 'rsa', '-b', '2048', '-m', 'PEM',
                    '-N', passphrase, '-f', str(path)],
                   check=True, stdin=subprocess.DEVNULL, capture_output=True, timeout=60)
    return str(path)


def keygen_short_passphrase(path, passphrase):
    """An encrypted RSA key whose passphrase is too short for ssh-keygen (the
    seed's ``'pass'``): made with openssl, public key derived with ssh-keygen."""
    if shutil.which('openssl') is None:
        pytest.skip('openssl is needed to make a key with the passphrase %r' % passphrase)
    subprocess.run(['openssl', 'genrsa', '-aes128', '-traditional',
                    '-passout', 'pass:' + passphrase, '-out', str(path), '2048'],
                   check=True, stdin=subprocess.DEVNULL, capture_output=True, timeout=60)
    os.chmod(str(path), 0o600)
    pub = subprocess.run(['ssh-keygen', '-y', '-P', passphrase, '-f', str(path)],
                         check=True, stdin=subprocess.DEVNULL, capture_output=True,
                         timeout=60).stdout
    with open(str(path) + '.pub', 'wb') as out:
        out.write(pub)
    return str(path)


@pytest.fixture(scope='module')
def group():
    """Three sshd on 127.0.0.1 sharing one user key."""
    with start_servers(3, reexec=False) as servers:
        yield servers


@pytest.fixture(scope='module')
def sftp_group(group, tmp_path_factory):
    """Two sshd whose SFTP sessions start in a private directory (see the module
    docstring); yields ``(servers, directories)``."""
    base = tmp_path_factory.mktemp('sftp-start')
    dirs = [base / ('server%d' % index) for index in range(2)]
    with contextlib.ExitStack() as stack:
        servers = []
        for directory in dirs:
            directory.mkdir()
            servers.append(stack.enter_context(OpenSSHServer(
                user_key=group.user_key,
                extra_config={'Subsystem': 'sftp internal-sftp -d %s' % directory})))
        yield servers, dirs


def on(servers, hosts, **kwargs):
    """Connection settings standing in for the document's real hosts: host ``i``
    goes to ``servers[i]``, logging in with the shared test key."""
    settings = dict(user=servers[0].user, pkey=servers[0].user_key,
                    host_config=[HostConfig(port=servers[index].port)
                                 for index in range(len(hosts))])
    settings.update(FAST)
    settings.update(kwargs)
    return settings


@pytest.fixture
def closing():
    """Close the clients handed to it after the test."""
    clients = []

    def track(client):
        clients.append(client)
        return client

    yield track
    for client in clients:
        client.close()


def connected_port(host_out):
    """The server port of ``$SSH_CONNECTION`` as printed by a finished command."""
    return int(list(host_out.stdout)[0].split()[3])


# ---------------------------------------------------------------------------
# Agents and Private Keys: Programmatic Private Keys


@pytest.mark.timeout(60)
def test_programmatic_private_key(group, closing, tmp_path, monkeypatch):
    # "~/.ssh/my_key" is kept: HOME points at a temporary directory holding the
    # test key as .ssh/my_key.
    monkeypatch.setenv('HOME', str(tmp_path))
    (tmp_path / '.ssh').mkdir()
    shutil.copy(group.user_key, str(tmp_path / '.ssh' / 'my_key'))
    hosts = ['127.0.0.1', 'localhost']
    ports = [HostConfig(port=group.ports[0]), HostConfig(port=group.ports[1])]

    from pssh.clients import ParallelSSHClient

    client = closing(ParallelSSHClient(hosts, pkey=os.path.expanduser("~/.ssh/my_key"),
                                       host_config=ports, **FAST))

    output = client.run_command('echo $SSH_CONNECTION')
    client.join(output)
    assert [connected_port(host_out) for host_out in output] == group.ports[:2]


# ---------------------------------------------------------------------------
# Native clients


@pytest.mark.timeout(60)
def test_ssh2_python_client_return_list(group, closing, capsys):
    from pssh.clients import ParallelSSHClient

    hosts = ['127.0.0.1', 'localhost']  # were 'my_host', 'my_other_host'
    client = closing(ParallelSSHClient(hosts, **on(group, hosts)))

    with pytest.warns(DeprecationWarning, match='return_list'):
        output = client.run_command('uname', return_list=True)
    for host_out in output:
        for line in host_out.stdout:
            print(line)

    assert isinstance(output, list)
    assert [host_out.host for host_out in output] == hosts
    assert capsys.readouterr().out == '%s\n%s\n' % (UNAME, UNAME)
    client.join(output)
    assert [host_out.exit_code for host_out in output] == [0, 0]


@needs_libssh
@pytest.mark.timeout(60)
def test_ssh_python_libssh_client(group, closing, capsys):
    forget('pssh.clients.ssh_lib')
    with pytest.warns(DeprecationWarning):
        from pssh.clients.ssh_lib import ParallelSSHClient

    hosts = ['localhost', 'localhost']
    client = closing(ParallelSSHClient(hosts, **on(group, hosts)))

    with pytest.warns(DeprecationWarning, match='return_list'):
        output = client.run_command('uname', return_list=True)
    client.join(output)
    for host_out in output:
        for line in host_out.stdout:
            print(line)

    assert capsys.readouterr().out == '%s\n%s\n' % (UNAME, UNAME)
    assert [host_out.exit_code for host_out in output] == [0, 0]


@needs_libssh
@pytest.mark.timeout(60)
def test_gssapi_authentication(group, closing, capsys):
    # No Kerberos realm here: GSS-API authentication is tried first and fails,
    # then the key (substituted) logs in. The example must accept the options.
    forget('pssh.clients.ssh_lib')
    with pytest.warns(DeprecationWarning):
        from pssh.clients.ssh_lib import ParallelSSHClient

    hosts = ['127.0.0.1', 'localhost']
    client = closing(ParallelSSHClient(hosts, gssapi_auth=True,
                                       gssapi_server_identity='gss_server_id',
                                       **on(group, hosts)))

    # Typo in the document: run_command('id', return_list) passes the name
    # return_list positionally (it would be sudo); the intent is return_list=True.
    with pytest.warns(DeprecationWarning, match='return_list'):
        output = client.run_command('id', return_list=True)
    client.join(output)
    for host_out in output:
        # Typo in the document: "for line in output.stdout"; the intent is
        # the host's output.
        for line in host_out.stdout:
            print(line)

    printed = capsys.readouterr().out.splitlines()
    assert len(printed) == 2
    assert all(line.startswith('uid=%d(' % os.getuid()) for line in printed)


# ---------------------------------------------------------------------------
# Tunneling


@pytest.mark.timeout(60)
def test_tunnel_through_proxy_host(group, closing):
    # 'bastion' is an sshd on 127.0.0.1 logging at DEBUG1, so that its log shows
    # the forwarded connection; it accepts the same key as the target.
    with OpenSSHServer(user_key=group.user_key,
                       extra_config={'LogLevel': 'DEBUG1'}) as bastion:
        hosts = ['127.0.0.1']
        client = closing(NativeParallelSSHClient(
            hosts, proxy_host='127.0.0.1', proxy_port=bastion.port, **on(group, hosts)))

        output = client.run_command('echo $SSH_CONNECTION')
        client.join(output)
        assert connected_port(output[0]) == group.ports[0]
        assert output[0].exit_code == 0
        log = bastion.read_log()
    assert 'direct_tcpip: originator' in log
    assert 'target 127.0.0.1 port %d' % group.ports[0] in log


@pytest.mark.timeout(60)
def test_tunnel_with_proxy_user_port_and_key(group, closing, tmp_path, monkeypatch):
    # 'proxy.key' is a relative file name as in the document (the test runs in
    # tmp_path); the bastion accepts only that key and the target only its own
    # key, so each connection must use its own credentials.
    monkeypatch.chdir(tmp_path)
    keygen(tmp_path / 'proxy.key')
    with OpenSSHServer(user_key=str(tmp_path / 'proxy.key'),
                       extra_config={'LogLevel': 'DEBUG1'}) as bastion:
        hosts = ['127.0.0.1']
        client = closing(NativeParallelSSHClient(
            hosts, user=group.user,  # was 'target_host_user'
            proxy_host='127.0.0.1',  # was 'bastion'
            proxy_user=bastion.user,  # was 'my_proxy_user'
            proxy_port=bastion.port,  # was 2222
            proxy_pkey='proxy.key',
            pkey=group.user_key, port=group.ports[0], **FAST))

        output = client.run_command('echo $SSH_CONNECTION')
        client.join(output)
        assert connected_port(output[0]) == group.ports[0]
        log = bastion.read_log()
    assert 'target 127.0.0.1 port %d' % group.ports[0] in log


# ---------------------------------------------------------------------------
# Join and Output Timeouts


@pytest.mark.waits(5)
@pytest.mark.timeout(60)
def test_join_timeout(group, closing):
    hosts = ['127.0.0.1', 'localhost']
    client = closing(NativeParallelSSHClient(hosts, **on(group, hosts)))
    raised = []

    from pssh.exceptions import Timeout

    # "..": a command that does not finish by itself (head waits for a line).
    output = client.run_command('head -n 1')
    try:
        client.join(output, timeout=5)
    except Timeout as exc:
        raised.append(exc)
        pass

    assert len(raised) == 1
    _msg, timeout, finished, unfinished = raised[0].args
    assert timeout == 5
    assert finished == [] and unfinished == output
    assert not client.finished(output)
    # The commands keep running; let them finish and join again.
    for host_out in output:
        host_out.stdin.write('end\n')
    client.join(output)
    assert [list(host_out.stdout) for host_out in output] == [['end'], ['end']]
    assert [host_out.exit_code for host_out in output] == [0, 0]


@pytest.mark.waits(10)
@pytest.mark.timeout(60)
def test_output_read_timeout(group, closing):
    hosts = ['127.0.0.1', 'localhost']
    client = closing(NativeParallelSSHClient(hosts, **on(group, hosts)))
    timed_out = []

    with pytest.warns(DeprecationWarning):
        # "..": a command that does not finish by itself.
        output = client.run_command('head -n 1', timeout=5)
        for host, host_out in output.items():
            try:
                for line in host_out.stdout:
                    pass
                for line in host_out.stderr:
                    pass
            except Timeout:
                timed_out.append(host)
                pass

    assert timed_out == hosts
    for host_out in output:
        host_out.stdin.write('end\n')
    client.join(output)
    assert [list(host_out.stdout) for host_out in output] == [['end'], ['end']]


def _pids_running(argv):
    """Pids of local processes whose command line is exactly ``argv``."""
    wanted = ('\0'.join(argv) + '\0').encode()
    pids = []
    for entry in os.listdir('/proc'):
        if not entry.isdigit():
            continue
        try:
            with open('/proc/%s/cmdline' % entry, 'rb') as cmdline:
                if cmdline.read() == wanted:
                    pids.append(int(entry))
        except OSError:
            continue
    return pids


def _wait_exited(pids, timeout):
    """Wait (on pidfds, no polling) until every pid has exited; returns the
    pids still running after ``timeout`` seconds."""
    fds = {}
    for pid in pids:
        try:
            fds[os.pidfd_open(pid)] = pid
        except ProcessLookupError:
            continue
    try:
        while fds:
            ready, _, _ = select.select(list(fds), [], [], timeout)
            if not ready:
                break
            for fd in ready:
                fds.pop(fd)
                os.close(fd)
        return sorted(fds.values())
    finally:
        for fd in fds:
            os.close(fd)


@pytest.mark.waits(4)
@pytest.mark.timeout(60)
def test_partial_output_of_command_that_does_not_terminate(group, closing, tmp_path):
    # /var/log/messages is replaced by a file of our own.
    messages = tmp_path / 'messages'
    messages.write_text('first message\nsecond message\nthird message\n')
    hosts = ['127.0.0.1', 'localhost']  # distinct names: host_clients is by name
    client = closing(NativeParallelSSHClient(hosts, **on(group, hosts)))

    with pytest.warns(DeprecationWarning):
        output = client.run_command('tail -f %s' % messages, use_pty=True, timeout=1)

        # Read as many lines of output as server has sent before the timeout
        stdout = []
        # The document repeats the loop header (likely a pasted line); kept as
        # written: each host is read twice, the second read finds no new
        # line and times out.
        for host, host_out in output.items():
            for host, host_out in output.items():
                try:
                    for line in host_out.stdout:
                        stdout.append(line)
                except Timeout:
                    pass

        tails = _pids_running(['tail', '-f', str(messages)])

        # Closing channel which has PTY has the effect of terminating
        # any running processes started on that channel.
        for host, host_out in output.items():
            client.host_clients[host].close_channel(host_out.channel)
    # Join is not strictly needed here as channel has already been closed and
    # command has finished, but is safe to use regardless.
    client.join(output)

    assert stdout == ['first message', 'second message', 'third message'] * 2
    assert client.finished(output)
    assert len(tails) == 2
    assert _wait_exited(tails, 15) == []


@pytest.mark.timeout(60)
def test_reset_output_generators_after_timeout(group, closing):
    hosts = ['127.0.0.1', 'localhost']
    client = closing(NativeParallelSSHClient(hosts, **on(group, hosts)))
    reset = []

    with pytest.warns(DeprecationWarning):
        # "<..>": a command that does not finish by itself.
        output = client.run_command('head -n 1', timeout=1)
        for host, host_out in output.items():
            try:
                stdout = list(host_out.stdout)
            except Timeout:
                client.reset_output_generators(host_out)
                reset.append(host)

    assert reset == hosts
    # Output sent after the timeout is read by a later generator, and join
    # needs no reset either.
    for host_out in output:
        host_out.stdin.write('after the timeout\n')
    client.join(output)
    stdout = [list(host_out.stdout) for host_out in output]
    assert stdout == [['after the timeout'], ['after the timeout']]


# ---------------------------------------------------------------------------
# Per-Host Configuration


@pytest.mark.timeout(60)
def test_per_host_config(group, closing, tmp_path, monkeypatch):
    # Two keys with the document's file names and passphrase 'pass', each
    # accepted by one server only. Users 'user1'/'user2' are the test user (the
    # servers log in one user); ports 2222/2223 are the two servers' ports.
    monkeypatch.chdir(tmp_path)
    keygen_short_passphrase(tmp_path / 'my_pkey.pem', 'pass')
    keygen_short_passphrase(tmp_path / 'my_other_key.pem', 'pass')
    group[0].add_authorized_key(str(tmp_path / 'my_pkey.pem.pub'))
    group[1].add_authorized_key(str(tmp_path / 'my_other_key.pem.pub'))
    ParallelSSHClient = NativeParallelSSHClient

    from pssh.config import HostConfig

    hosts = ['localhost', 'localhost']
    host_config = [
        HostConfig(port=group.ports[0], user=group.user, password='pass', private_key='my_pkey.pem'),
        HostConfig(port=group.ports[1], user=group.user, password='pass', private_key='my_other_key.pem')
    ]

    client = closing(ParallelSSHClient(hosts, host_config=host_config, **FAST))
    output = client.run_command('uname')

    client.join(output)
    assert [list(host_out.stdout) for host_out in output] == [[UNAME], [UNAME]]
    output = client.run_command('echo $SSH_CONNECTION')
    client.join(output)
    assert [connected_port(host_out) for host_out in output] == group.ports[:2]
    # Each server accepts only its own key (besides the shared test key, which
    # this client is not given): both logins show each host used its own key.


@pytest.mark.timeout(60)
def test_deprecated_dict_host_config(group, closing, tmp_path, monkeypatch):
    # 'host1'/'host2' are 127.0.0.1 and localhost; 'user1'/'user2' the test
    # user; 2222/2223 the two servers' ports; my_key.pem and my_other_key.pem
    # keys with passphrase 'pass', each accepted by one server only.
    monkeypatch.chdir(tmp_path)
    keygen_short_passphrase(tmp_path / 'my_key.pem', 'pass')
    keygen_short_passphrase(tmp_path / 'my_other_key.pem', 'pass')
    group[0].add_authorized_key(str(tmp_path / 'my_key.pem.pub'))
    group[1].add_authorized_key(str(tmp_path / 'my_other_key.pem.pub'))
    ParallelSSHClient = NativeParallelSSHClient

    host_config = {'127.0.0.1' : {'user': group.user, 'password': 'pass',
                                  'port': group.ports[0],
                                  'private_key': 'my_key.pem'},
                   'localhost' : {'user': group.user, 'password': 'pass',
                                  'port': group.ports[1],
                                  'private_key': 'my_other_key.pem'},
                   }
    hosts = host_config.keys()

    with pytest.warns(DeprecationWarning, match='host_config'):
        client = closing(ParallelSSHClient(hosts, host_config=host_config, **FAST))
    output = client.run_command('uname')

    client.join(output)
    assert [host_out.host for host_out in output] == ['127.0.0.1', 'localhost']
    assert [list(host_out.stdout) for host_out in output] == [[UNAME], [UNAME]]
    output = client.run_command('echo $SSH_CONNECTION')
    client.join(output)
    assert [connected_port(host_out) for host_out in output] == group.ports[:2]


# ---------------------------------------------------------------------------
# Per-Host Command substitution


@pytest.fixture
def client3(group, closing):
    hosts = ['127.0.0.1', 'localhost', '127.0.0.1']
    return closing(NativeParallelSSHClient(hosts, **on(group, hosts)))


@pytest.mark.timeout(60)
def test_host_args_one_value_per_host(client3):
    client = client3

    output = client.run_command('%s', host_args=('host1_cmd',
                                                 'host2_cmd',
                                                 'host3_cmd',))

    client.join(output)
    assert [host_out.fully_qualified_command for host_out in output] == [
        b'host1_cmd', b'host2_cmd', b'host3_cmd']
    # The remote shells ran exactly those (non-existent) commands.
    for index, host_out in enumerate(output, 1):
        assert host_out.exit_code == 127
        stderr = list(host_out.stderr)
        assert len(stderr) == 1 and 'host%d_cmd' % index in stderr[0]


@pytest.mark.timeout(60)
def test_host_args_several_values_per_host(client3):
    client = client3

    output = client.run_command(
                 '%s %s',
                 host_args=(('host1_cmd1', 'host1_cmd2'),
                            ('host2_cmd1', 'host2_cmd2'),
                            ('host3_cmd1', 'host3_cmd2'),))

    client.join(output)
    assert [host_out.fully_qualified_command for host_out in output] == [
        b'host1_cmd1 host1_cmd2', b'host2_cmd1 host2_cmd2', b'host3_cmd1 host3_cmd2']
    for index, host_out in enumerate(output, 1):
        assert host_out.exit_code == 127
        assert 'host%d_cmd1' % index in list(host_out.stderr)[0]


@pytest.mark.timeout(60)
def test_host_args_dicts(client3):
    client = client3

    host_args = [{'cmd': 'echo command-%s' % (i,)}
                 for i in range(len(client.hosts))]
    output = client.run_command('%(cmd)s', host_args=host_args)

    client.join(output)
    assert [host_out.fully_qualified_command for host_out in output] == [
        b'echo command-0', b'echo command-1', b'echo command-2']
    assert [list(host_out.stdout) for host_out in output] == [
        ['command-0'], ['command-1'], ['command-2']]


# ---------------------------------------------------------------------------
# Run with sudo


@pytest.mark.timeout(60)
def test_run_with_sudo(group, closing):
    hosts = ['127.0.0.1', 'localhost']
    client = closing(NativeParallelSSHClient(hosts, **on(group, hosts)))

    output = client.run_command('whoami', sudo=True)  # "<..>" is whoami
    client.join(output)

    for host_out in output:
        assert host_out.fully_qualified_command == b"sudo -S $SHELL -c 'whoami'"
        if shutil.which('sudo'):
            assert list(host_out.stdout) == [group.user]
            assert host_out.exit_code == 0
        else:
            # sudo is not installed: the shell ran the sudo command line and
            # did not find sudo.
            assert host_out.exit_code == 127
            assert 'sudo' in list(host_out.stderr)[0]


FAKE_SUDO = r"""#!/bin/sh
# Stands in for "sudo -S" asking for a password: reads one line from stdin,
# reports it on stderr, then runs the command.
[ "$1" = "-S" ] || { echo "fake sudo: expected -S, got $1" >&2; exit 2; }
shift
IFS= read -r password || { echo "fake sudo: no password" >&2; exit 1; }
echo "fake sudo: password $password" >&2
exec "$@"
"""


@pytest.fixture
def fake_sudo_server(group, tmp_path):
    """An sshd whose sessions find a fake ``sudo`` (FAKE_SUDO) first in PATH:
    real sudo is not installed here, and would not ask root for a password."""
    bindir = tmp_path / 'fake-sudo-bin'
    bindir.mkdir()
    (bindir / 'sudo').write_text(FAKE_SUDO)
    (bindir / 'sudo').chmod(0o755)
    with OpenSSHServer(user_key=group.user_key) as server:
        with open(server.user_pub_key) as pub:
            key = pub.read().strip()
        with open(server.authorized_keys_path, 'w') as keys:
            keys.write('environment="HOME=%s",environment="PATH=%s:/usr/bin:/bin" %s\n'
                       % (server.home, bindir, key))
        yield server


@pytest.mark.timeout(60)
def test_sudo_password_through_stdin(fake_sudo_server, closing):
    hosts = ['127.0.0.1', 'localhost']
    client = closing(NativeParallelSSHClient(
        hosts, **on([fake_sudo_server, fake_sudo_server], hosts)))

    output = client.run_command('whoami', sudo=True)  # "<..>" is whoami
    with pytest.warns(DeprecationWarning):
        for host in output:
            stdin = output[host].stdin
            stdin.write('my_password\n')
            stdin.flush()
    client.join(output)

    for host_out in output:
        assert host_out.fully_qualified_command == b"sudo -S $SHELL -c 'whoami'"
        assert list(host_out.stderr) == ['fake sudo: password my_password']
        assert list(host_out.stdout) == [fake_sudo_server.user]
        assert host_out.exit_code == 0


# ---------------------------------------------------------------------------
# Output encoding


@pytest.mark.timeout(60)
def test_output_encoding_utf16(group, closing):
    hosts = ['127.0.0.1', 'localhost']
    client = closing(NativeParallelSSHClient(hosts, **on(group, hosts)))
    # "<..>": printf writes UTF-16 (with its byte order mark) as octal escapes.
    text = 'héllo wörld\nzweite Zeile €\n'
    command = "printf '%s'" % ''.join('\\%03o' % byte for byte in text.encode('utf-16'))

    # Typo in the document: the output of run_command is not assigned, and
    # the next line reads "output"; the intent is output = client.run_command().
    output = client.run_command(command, encoding='utf-16')
    with pytest.warns(DeprecationWarning):
        stdout = list(output[client.hosts[0]].stdout)

    assert stdout == ['héllo wörld', 'zweite Zeile €']
    client.join(output)
    assert list(output[1].stdout) == ['héllo wörld', 'zweite Zeile €']


# ---------------------------------------------------------------------------
# Enabling use of pseudo terminal emulation


@pytest.mark.timeout(60)
def test_pty_merges_stderr_into_stdout(group, closing, capsys):
    hosts = ['127.0.0.1', 'localhost']
    client = closing(NativeParallelSSHClient(hosts, **on(group, hosts)))

    # Typo in the document: the output of run_command is not assigned; the
    # intent is output = client.run_command(...).
    output = client.run_command("echo 'asdf' >&2", use_pty=True)
    with pytest.warns(DeprecationWarning):
        for line in output[client.hosts[0]].stdout:
            print(line)

    assert capsys.readouterr().out == 'asdf\n'

    with pytest.warns(DeprecationWarning):
        for line in output[client.hosts[0]].stderr:
            print(line)

    assert capsys.readouterr().out == ''
    client.join(output)
    assert output[0].exit_code == 0


# ---------------------------------------------------------------------------
# SFTP and SCP


@pytest.mark.timeout(60)
def test_copy_file_to_hosts(sftp_group, closing, tmp_path, monkeypatch):
    servers, start_dirs = sftp_group
    # '../test' is relative to the working directory, as in the document.
    (tmp_path / 'cwd').mkdir()
    monkeypatch.chdir(tmp_path / 'cwd')
    (tmp_path / 'test').write_bytes(b'test file contents\n')
    hosts = ['127.0.0.1', 'localhost']

    from pssh.clients import ParallelSSHClient
    from gevent import joinall

    client = closing(ParallelSSHClient(hosts, **on(servers, hosts)))

    greenlets = client.copy_file('../test', 'test_dir/test')
    joinall(greenlets, raise_error=True)

    for start_dir in start_dirs:
        assert (start_dir / 'test_dir' / 'test').read_bytes() == b'test file contents\n'


@pytest.mark.timeout(60)
def test_copy_directory_recursively(sftp_group, closing, tmp_path, monkeypatch):
    servers, start_dirs = sftp_group
    monkeypatch.chdir(tmp_path)
    tree = {'a.txt': b'a\n', 'sub/b.txt': b'b\n', 'sub/deeper/c.bin': bytes(range(256))}
    for name, data in tree.items():
        path = tmp_path / 'my_dir' / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    (tmp_path / 'my_dir' / 'empty').mkdir()
    hosts = ['127.0.0.1', 'localhost']
    from gevent import joinall
    client = closing(NativeParallelSSHClient(hosts, **on(servers, hosts)))

    greenlets = client.copy_file('my_dir', 'my_dir', recurse=True)
    joinall(greenlets, raise_error=True)

    for start_dir in start_dirs:
        for name, data in tree.items():
            assert (start_dir / 'my_dir' / name).read_bytes() == data
        assert (start_dir / 'my_dir' / 'empty').is_dir()


@pytest.mark.timeout(60)
def test_copy_remote_files_in_parallel(sftp_group, closing, tmp_path, monkeypatch):
    servers, start_dirs = sftp_group
    monkeypatch.chdir(tmp_path)
    for index, start_dir in enumerate(start_dirs):
        (start_dir / 'remote.file').write_bytes(b'from server %d\n' % index)
    hosts = ['127.0.0.1', 'localhost']
    forget('pssh.pssh_client')

    with pytest.warns(DeprecationWarning, match='pssh_client'):
        from pssh.pssh_client import ParallelSSHClient
    from gevent import joinall

    client = closing(ParallelSSHClient(hosts, **on(servers, hosts)))

    greenlets = client.copy_remote_file('remote.file', 'local.file')
    joinall(greenlets, raise_error=True)

    # local.file_<host>, one per host
    assert (tmp_path / 'local.file_127.0.0.1').read_bytes() == b'from server 0\n'
    assert (tmp_path / 'local.file_localhost').read_bytes() == b'from server 1\n'


@pytest.mark.timeout(60)
def test_single_host_copy_remote_file(sftp_group, tmp_path, monkeypatch):
    servers, start_dirs = sftp_group
    monkeypatch.chdir(tmp_path)
    (start_dirs[1] / 'remote_filename').write_bytes(b'single host copy\n')

    from pssh.clients import SSHClient

    client = SSHClient('localhost', port=servers[1].port, pkey=servers[1].user_key, **FAST)
    try:
        client.copy_remote_file('remote_filename', 'local_filename')
    finally:
        client.close()

    # The original file name is kept: no host suffix.
    assert (tmp_path / 'local_filename').read_bytes() == b'single host copy\n'


# ---------------------------------------------------------------------------
# Hosts filtering and overriding
#
# h.find('dc1') is 0 -- false -- for a name starting with 'dc1' and -1 -- true
# -- for the others: the document's filters keep the hosts that do NOT start
# with 'dc1'. 'dc2.myhost2' (the host that is kept) is replaced by 127.0.0.1;
# 'dc1.myhost1' is dropped by the filter and never looked up.


@pytest.mark.timeout(60)
def test_hosts_from_list_comprehension(group, closing):
    ParallelSSHClient = NativeParallelSSHClient

    hosts = ['dc1.myhost1', '127.0.0.1']
    client = closing(ParallelSSHClient([h for h in hosts if h.find('dc1')],
                                       port=group.ports[0], pkey=group.user_key, **FAST))

    assert client.hosts == ['127.0.0.1']


@pytest.mark.timeout(60)
def test_hosts_from_generator(group, closing):
    ParallelSSHClient = NativeParallelSSHClient

    hosts = ['dc1.myhost1', '127.0.0.1']
    client = closing(ParallelSSHClient((h for h in hosts if h.find('dc1')),
                                       port=group.ports[0], pkey=group.user_key, **FAST))

    assert client.hosts == ['127.0.0.1']
    # The generator was read into a list: the hosts stay for later commands.
    for _ in range(2):
        output = client.run_command('uname')
        client.join(output)
        assert [list(host_out.stdout) for host_out in output] == [[UNAME]]


@pytest.mark.timeout(60)
def test_hosts_from_filter(group, closing):
    ParallelSSHClient = NativeParallelSSHClient

    hosts = ['dc1.myhost1', '127.0.0.1']
    client = closing(ParallelSSHClient(filter(lambda h: h.find('dc1'), hosts),
                                       port=group.ports[0], pkey=group.user_key, **FAST))
    output = client.run_command('uname')  # "<..>" is uname

    assert client.hosts == ['127.0.0.1']
    assert [host_out.host for host_out in output] == ['127.0.0.1']
    client.join(output)
    assert list(output[0].stdout) == [UNAME]


@pytest.mark.timeout(60)
def test_overriding_hosts_list(group, closing, capsys):
    client = closing(NativeParallelSSHClient(['127.0.0.1'], port=group.ports[0],
                                             pkey=group.user_key, **FAST))
    client.join(client.run_command('true'))

    client.hosts = ['localhost']  # was 'otherhost'
    print(client.run_command('exit 0'))

    printed = capsys.readouterr().out
    assert printed.count('host=') == 1
    assert 'host=localhost' in printed
    assert 'exit_code=' in printed
    output = client.get_last_output()
    assert [host_out.host for host_out in output] == ['localhost']
    client.join(output)
    assert output[0].exit_code == 0


# ---------------------------------------------------------------------------
# Paramiko based clients (pssh.clients.miko): the document says only those
# imports monkey patch; ours give the native clients and patch nothing.


@pytest.mark.timeout(60)
def test_old_client_imports_do_not_monkey_patch():
    forget('pssh.clients.miko', 'pssh.pssh_client', 'pssh.ssh_client')
    with pytest.warns(DeprecationWarning):
        from pssh.clients.miko import ParallelSSHClient as MikoParallelSSHClient
    with pytest.warns(DeprecationWarning):
        from pssh.pssh_client import ParallelSSHClient as OldParallelSSHClient
    with pytest.warns(DeprecationWarning):
        from pssh.ssh_client import SSHClient as OldSSHClient
    from pssh.clients.native import SSHClient
    assert MikoParallelSSHClient is OldParallelSSHClient is NativeParallelSSHClient
    assert OldSSHClient is SSHClient
    assert not gevent.monkey.is_anything_patched()
