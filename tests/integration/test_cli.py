"""The ``pssh`` command, run as a console script in a subprocess against a real
sshd (several host names point at it through an ssh_config given with -F),
and through a real terminal (tmux) for colours, the progress line and Ctrl-C.
"""
import json
import os
import re
import shutil
import stat
import subprocess
import sys
import textwrap
import time
import uuid

import pytest

from pssh.cli.nodeset import expand
from pssh.testing import OpenSSHServer

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SUDO_PASSWORD = 'open sesame'

# A stand-in for sudo on the server's PATH: asks on stderr with the prompt of
# -p, reads a line of stdin, runs the command if it is the password.
FAKE_SUDO = textwrap.dedent('''\
    #!/bin/sh
    prompt='Password: '
    while [ $# -gt 0 ]; do
      case "$1" in
        -S) shift ;;
        -p) prompt=$2; shift 2 ;;
        --) shift; break ;;
        -*) shift ;;
        *) break ;;
      esac
    done
    tries=0
    while [ $tries -lt 3 ]; do
      printf '%%s' "$prompt" >&2
      IFS= read -r pw || { echo 'sudo: no password was provided' >&2; exit 1; }
      if [ "$pw" = '%s' ]; then
        SUDO_OK=yes; export SUDO_OK
        exec "$@"
      fi
      echo 'Sorry, try again.' >&2
      tries=$((tries + 1))
    done
    exit 1
    ''') % SUDO_PASSWORD


def _console_script(tmp_dir):
    """The ``pssh`` script as pip would write it from setup.py's entry point."""
    with open(os.path.join(REPO, 'setup.py')) as handle:
        match = re.search(r"'console_scripts': \['pssh = ([\w.]+):(\w+)'\]", handle.read())
    assert match, 'setup.py declares no pssh console script'
    module, function = match.groups()
    path = os.path.join(tmp_dir, 'pssh')
    with open(path, 'w') as handle:
        handle.write('#!%s\nimport sys\nfrom %s import %s\nsys.exit(%s())\n'
                     % (sys.executable, module, function, function))
    os.chmod(path, 0o755)
    return path


class Env:
    """What the tests need: the console script, the -F config, a gate."""

    def __init__(self, server, workdir):
        self.server = server
        self.workdir = workdir
        self.script = _console_script(workdir)
        self.known_hosts = os.path.join(workdir, 'known_hosts')
        self.config = os.path.join(workdir, 'ssh_config')
        with open(self.config, 'w') as handle:
            handle.write(textwrap.dedent('''\
                Host web* db* bastion*
                  HostName 127.0.0.1
                  Port %d
                  IdentityFile %s
                  UserKnownHostsFile %s
                  StrictHostKeyChecking accept-new
                Host down*
                  HostName 127.0.0.1
                  Port 1
                ''') % (server.port, server.user_key, self.known_hosts))
        self.environ = dict(os.environ, PYTHONPATH=REPO, NO_COLOR='', TERM='dumb')
        self.environ.pop('NO_COLOR')

    def argv(self, *args):
        return [self.script, '-F', self.config] + list(args)

    def run(self, *args, stdin=b'', timeout=30):
        proc = subprocess.run(self.argv(*args), input=stdin, capture_output=True,
                              timeout=timeout, env=self.environ, cwd=self.workdir)
        return proc.returncode, proc.stdout.decode(), proc.stderr.decode()


@pytest.fixture(scope='module')
def env(tmp_path_factory):
    workdir = str(tmp_path_factory.mktemp('cli'))
    fake_bin = os.path.join(workdir, 'bin')
    os.mkdir(fake_bin)
    sudo = os.path.join(fake_bin, 'sudo')
    with open(sudo, 'w') as handle:
        handle.write(FAKE_SUDO)
    os.chmod(sudo, 0o755)
    os.chmod(workdir, 0o755)
    path = '%s:/usr/local/bin:/usr/bin:/bin' % fake_bin
    with OpenSSHServer(extra_config={'SetEnv': 'PATH=%s' % path}, reexec=False) as server:
        yield Env(server, workdir)


def _lines(text):
    return text.splitlines()


# ----------------------------------------------------------------------
# Start-up, help, version

def test_help_reads_like_a_man_page_and_imports_no_network_code(env):
    code = ('import sys\nfrom pssh.cli import main\ntry:\n    main(["--help"])\n'
            'except SystemExit as e:\n    assert e.code == 0\n'
            'print(sorted(m for m in ("gevent", "ssh2", "ssh") if m in sys.modules))')
    proc = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                          env=env.environ, timeout=30)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.rstrip().endswith('[]')
    for words in ('usage: pssh [OPTIONS] TARGETS [--] COMMAND...', 'exit status:',
                  '--fold', '--json', '--sudo', '--put LOCAL REMOTE', 'Ctrl-C'):
        assert words in proc.stdout


#: What --version must not import: the clients and what only they use.
CLIENT_MODULES = (
    'pssh.clients.native.single', 'pssh.clients.native.parallel', 'pssh.clients.ssh.single',
    'pssh.clients.ssh.parallel', 'pssh.clients.base.single', 'pssh.clients.base.parallel',
    'pssh.clients.base._connection', 'pssh.config', 'pssh.hostkeys', 'pssh._ssh_config',
    'pssh.output', 'pssh.cli._run')


def test_version_imports_the_libraries_not_the_clients(env):
    code = ('import json, sys\nfrom pssh.cli import main\nassert main(["--version"]) == 0\n'
            'print(json.dumps(sorted(m for m in sys.modules if m.split(".")[0] in '
            '("pssh", "ssh2", "ssh"))))')
    proc = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                          env=env.environ, timeout=30)
    assert proc.returncode == 0, proc.stderr
    loaded = set(json.loads(proc.stdout.splitlines()[-1]))
    assert {'ssh2', 'ssh2.utils', 'ssh', 'pssh.clients.base._guard'} <= loaded
    assert loaded.isdisjoint(CLIENT_MODULES), sorted(loaded.intersection(CLIENT_MODULES))
    # The lazy package names still give the clients afterwards.
    code = ('from pssh.cli import main\nmain(["--version"])\nimport pssh.clients.native\n'
            'from pssh.clients import ParallelSSHClient, SSHClient\n'
            'from pssh.clients.native.single import SSHClient as Single\n'
            'assert SSHClient is Single is pssh.clients.native.SSHClient\n'
            'assert ParallelSSHClient is pssh.clients.native.parallel.ParallelSSHClient\n'
            'import pssh.clients.ssh\nassert pssh.clients.ssh.SSHClient.__module__ == '
            '"pssh.clients.ssh.single"\nprint("ok")')
    proc = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                          env=env.environ, timeout=30)
    assert (proc.returncode, proc.stdout.splitlines()[-1:]) == (0, ['ok']), proc.stderr


def test_version_says_what_security_report_says(env):
    proc = subprocess.run([env.script, '--version'], capture_output=True, text=True,
                          env=env.environ, timeout=30)
    assert proc.returncode == 0, proc.stderr
    import pssh
    report = pssh.security_report()
    lines = proc.stdout.splitlines()
    assert lines[0].startswith('pssh %s (Python ' % pssh.__version__)
    assert 'libssh2 %s' % report['libssh2']['version'] in lines
    for advisory in report['libssh2']['advisories']:
        assert any(line.strip().startswith(advisory['id'] + ':') for line in lines)
    for name, value in report['mitigations'].items():
        assert '  %s: %s' % (name, value) in lines


def test_python_dash_m_pssh_is_the_same_command(env):
    proc = subprocess.run([sys.executable, '-m', 'pssh', '-F', env.config, '-H', 'web01',
                           '--', 'echo', 'hi'], capture_output=True, text=True,
                          env=env.environ, timeout=30, cwd=env.workdir)
    assert (proc.returncode, proc.stdout) == (0, 'web01: hi\n')


# ----------------------------------------------------------------------
# Targets

def test_live_lines_prefixed_padded_stderr_apart(env):
    rc, out, err = env.run('-H', 'web[01-02] db1', '--',
                           'echo out1; echo err1 >&2; printf "no newline"')
    assert rc == 0
    assert sorted(_lines(out)) == sorted(['web01: out1', 'web01: no newline',
                                         'web02: out1', 'web02: no newline',
                                         'db1:   out1', 'db1:   no newline'])
    # Each host's own lines in order; no colours when piped.
    assert [line for line in _lines(out) if line.startswith('web01')] == [
        'web01: out1', 'web01: no newline']
    assert '\x1b[' not in out + err
    assert sorted(line for line in _lines(err) if 'err1' in line) == [
        'db1:   err1', 'web01: err1', 'web02: err1']
    assert _lines(err)[-1] == '3 ok'


def test_hosts_file_comments_user_port_exclusion_and_duplicates(env, tmp_path):
    hosts = tmp_path / 'hosts'
    hosts.write_text('# web servers\nweb[01-04]  # four of them\n\n%s@db1:%d\nweb02\n'
                     % (env.server.user, env.server.port))
    rc, out, err = env.run('-h', str(hosts), '-H', 'web01', '-x', 'web03', '--',
                           'echo $USER')
    assert rc == 0, err
    names = sorted(line.split(':')[0] for line in _lines(out))
    assert names == ['db1', 'web01', 'web02', 'web04']
    assert _lines(err)[-1] == '4 ok'


def test_bad_node_set_is_exit_2_with_the_position(env):
    rc, out, err = env.run('-H', 'web[01-03', '--', 'true')
    assert (rc, out) == (2, '')
    assert err == "pssh: bad node set: '[' is never closed at column 4:\n  web[01-03\n     ^\n"


@pytest.mark.parametrize('args, message', [
    (['-H', 'web01'], 'no command'),
    (['--', 'true'], 'no hosts'),
    (['-H', 'web01:99999', '--', 'true'], "'99999' is not a port number"),
    (['-H', 'web01', '-o', 'Ciphers=aes128-ctr', '--', 'true'], 'not an option pssh uses'),
    (['-H', 'web01', '--put', 'missing-file', '/tmp/x'], 'no such file'),
    (['-H', 'web01', '--json', '-b', '--', 'true'], 'choose one'),
])
def test_usage_errors_exit_2(env, args, message):
    rc, out, err = env.run(*args)
    assert rc == 2
    assert message in err
    assert out == ''


def test_dash_o_options_and_identity_without_config_file(env, tmp_path):
    known = tmp_path / 'kh'
    argv = [env.script, '-F', 'none', '-i', env.server.user_key,
            '-o', 'Port=%d' % env.server.port, '-o', 'UserKnownHostsFile=%s' % known,
            '--accept-new', '-H', '127.0.0.1', '--', 'echo', 'ok']
    proc = subprocess.run(argv, capture_output=True, text=True, env=env.environ, timeout=30)
    assert (proc.returncode, proc.stdout) == (0, '127.0.0.1: ok\n'), proc.stderr
    assert known.read_text().startswith('[127.0.0.1]:%d ssh-ed25519 ' % env.server.port)


def _has_ipv6_loopback():
    import socket
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as sock:
            sock.bind(('::1', 0))
        return True
    except OSError:
        return False


@pytest.mark.skipif(not _has_ipv6_loopback(), reason='no IPv6 loopback')
def test_ipv6_address_with_a_port_and_user(env, tmp_path):
    with OpenSSHServer(address='::1', user_key=env.server.user_key) as server6:
        argv = [env.script, '-F', 'none', '-i', env.server.user_key, '--accept-new',
                '-o', 'UserKnownHostsFile=%s' % (tmp_path / 'kh'),
                '-H', '%s@[::1]:%d' % (server6.user, server6.port), '--', 'echo', 'v6']
        proc = subprocess.run(argv, capture_output=True, text=True, env=env.environ,
                              timeout=30)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == '[::1]:%d: v6\n' % server6.port


def test_strict_refuses_an_unknown_host_key(env, tmp_path):
    config = tmp_path / 'config'
    config.write_text('Host new1\n  HostName 127.0.0.1\n  Port %d\n  IdentityFile %s\n'
                      '  UserKnownHostsFile %s\n' % (env.server.port, env.server.user_key,
                                                     tmp_path / 'empty_known_hosts'))
    proc = subprocess.run([env.script, '-F', str(config), '--strict', '-H', 'new1', '--',
                           'true'], capture_output=True, text=True, env=env.environ,
                          timeout=30)
    assert proc.returncode == 255
    assert proc.stderr.splitlines()[-1] == '0 ok, 1 failed: new1 host key unknown'


def test_jump_through_two_bastions_and_a_bastion_that_is_down(env):
    rc, out, err = env.run('-J', 'bastion1,bastion2', '-H', 'web01', '--', 'echo far')
    assert (rc, out) == (0, 'web01: far\n'), err
    log = env.server.read_log()
    assert log.count('Accepted publickey') >= 3
    rc, out, err = env.run('-J', 'down1', '-H', 'web01', '--', 'echo far')
    assert (rc, out) == (255, '')
    assert _lines(err)[-1].startswith('0 ok, 1 failed: web01 ')


# ----------------------------------------------------------------------
# Exit status

def _claims(directory, statuses):
    """A script giving each host the next unclaimed status of ``statuses``."""
    return ('for s in %s; do mkdir %s/claim.$s 2>/dev/null && exit $s; done; exit 99'
            % (' '.join(map(str, statuses)), directory))


def _unclaim(directory, statuses):
    for status in statuses:
        os.rmdir(os.path.join(directory, 'claim.%d' % status))


def test_exit_status_is_the_largest_remote_status(env, tmp_path):
    rc, out, err = env.run('-H', 'web[01-03]', '--', _claims(tmp_path, (0, 5, 2)))
    _unclaim(tmp_path, (0, 5, 2))
    assert rc == 5
    summary = _lines(err)[-1]
    assert re.fullmatch(r'1 ok, 2 failed: web0\d exit [25]; web0\d exit [25]', summary), err
    assert 'exit 5' in summary and 'exit 2' in summary
    rc, out, err = env.run('-H', 'web[01-03]', '--', 'exit 0')
    assert (rc, _lines(err)) == (0, ['3 ok'])


def test_any_rc_is_0_when_one_host_succeeded(env, tmp_path):
    rc, out, err = env.run('--any-rc', '-H', 'web[01-03]', '--', _claims(tmp_path, (3, 0, 4)))
    _unclaim(tmp_path, (3, 0, 4))
    assert rc == 0
    rc, out, err = env.run('--any-rc', '-H', 'web[01-02]', '--', 'exit 3')
    assert rc == 3


def test_unreachable_host_is_255_and_named_in_the_summary(env):
    rc, out, err = env.run('-H', 'web01 down1', '--', 'exit 7')
    assert rc == 255
    assert _lines(err)[-1] == '0 ok, 2 failed: web01 exit 7; down1 connection refused'
    assert 'pssh: down1: Connection to down1:1 refused' in err


def test_command_timeout_stops_the_host_with_124(env):
    started = time.monotonic()
    rc, out, err = env.run('-T', '1', '-H', 'web01,web02', '--', 'echo begun; exec sleep 30')
    assert time.monotonic() - started < 15
    assert rc == 124
    assert sorted(_lines(out)) == ['web01: begun', 'web02: begun']
    assert _lines(err)[-1] == '0 ok, 2 failed: web[01-02] timed out after 1s'


def test_fail_fast_stops_the_others(env):
    started = time.monotonic()
    rc, out, err = env.run('--fail-fast', '-H', 'web01 web02 web03', '--',
                           'if mkdir %s/first 2>/dev/null; then exit 4; fi; exec sleep 30'
                           % env.workdir)
    os.rmdir(os.path.join(env.workdir, 'first'))
    assert time.monotonic() - started < 15
    assert rc == 4
    summary = _lines(err)[-1]
    head, reasons = summary.split(': ', 1)
    assert head == '0 ok, 3 failed'
    parts = sorted(reasons.split('; '), key=lambda part: part.endswith('stopped'))
    assert re.fullmatch(r'web0\d exit 4', parts[0]), summary
    assert re.fullmatch(r'web\S+ stopped', parts[1]), summary
    assert len(expand(parts[1].split()[0])) == 2


# ----------------------------------------------------------------------
# Output modes

def test_fold_groups_identical_output_under_node_sets(env):
    script = ('case "$(cat)" in *) ;; esac; '
              'if mkdir %s/odd 2>/dev/null; then echo different; else echo same; fi; echo end'
              % env.workdir)
    rc, out, err = env.run('-b', '-H', 'web[01-04] db1 down1', '--', script)
    os.rmdir(os.path.join(env.workdir, 'odd'))
    assert rc == 255
    blocks = out.split('---------------\n')
    assert blocks[0] == ''
    header_big, body_big, header_small, body_small = blocks[1:]
    names_big = expand(header_big.split(' (')[0])
    names_small = expand(header_small.split(' (')[0])
    assert header_big.endswith(' (4)\n') and header_small.endswith(' (1)\n')
    assert sorted(names_big + names_small) == ['db1', 'web01', 'web02', 'web03', 'web04']
    assert (body_big, body_small) == ('same\nend\n', 'different\nend\n')
    assert _lines(err)[-1] == '5 ok, 1 failed: down1 connection refused'


def test_fold_with_diff_against_the_largest_group(env):
    script = ('if mkdir %s/odd 2>/dev/null; then echo a; echo X; else echo a; echo b; fi; '
              'echo c' % env.workdir)
    rc, out, err = env.run('--diff', '-H', 'web[01-03]', '--', script)
    os.rmdir(os.path.join(env.workdir, 'odd'))
    assert rc == 0
    blocks = out.split('---------------\n')
    assert blocks[1].endswith(' (2)\n')
    assert blocks[2] == 'a\nb\nc\n'
    big = blocks[1].rstrip('\n')
    small = blocks[3].rstrip('\n')
    assert blocks[4].splitlines() == ['--- ' + big, '+++ ' + small, '@@ -1,3 +1,3 @@',
                                      ' a', '-b', '+X', ' c']


def test_json_one_object_per_host(env):
    rc, out, err = env.run('--json', '-H', 'web01 down1', '--',
                           'echo out; echo err >&2; exit 3')
    assert rc == 255
    objects = {obj['host']: obj for obj in map(json.loads, _lines(out))}
    assert set(objects) == {'web01', 'down1'}
    web = objects['web01']
    assert {k: web[k] for k in ('alias', 'exit_code', 'stdout', 'stderr', 'error')} == {
        'alias': 'web01', 'exit_code': 3, 'stdout': 'out\n', 'stderr': 'err\n', 'error': None}
    assert 0 < web['duration'] < 30
    down = objects['down1']
    assert down['exit_code'] is None and down['stdout'] == ''
    assert down['error']['type'] == 'HostConnectionRefusedError'
    assert 'refused' in down['error']['message']
    # stdout holds JSON only; the summary goes to stderr.
    assert _lines(err)[-1] == '0 ok, 2 failed: web01 exit 3; down1 connection refused'


def test_outdir_and_errdir_get_one_file_per_host(env, tmp_path):
    outdir, errdir = tmp_path / 'out', tmp_path / 'err'
    rc, out, err = env.run('--outdir', str(outdir), '-e', str(errdir), '-H', 'web[01-02]',
                           '--', 'echo to-out; echo to-err >&2')
    assert rc == 0
    assert out == ''
    assert sorted(os.listdir(outdir)) == sorted(os.listdir(errdir)) == ['web01', 'web02']
    assert (outdir / 'web01').read_text() == 'to-out\n'
    assert (errdir / 'web02').read_text() == 'to-err\n'
    assert _lines(err) == ['2 ok']


def test_closed_output_stops_the_run_with_141(env):
    proc = subprocess.Popen(env.argv('-H', 'web[01-02]', '--', 'seq 10000000'),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            stdin=subprocess.DEVNULL, env=env.environ)
    first = proc.stdout.readline()
    proc.stdout.close()     # as `| head -1` does
    _, err = proc.communicate(timeout=30)
    assert re.fullmatch(rb'web0[12]: 1\n', first)
    assert proc.returncode == 141
    assert err == b''


def test_outputs_larger_than_the_buffer_limit_arrive_whole_and_in_order(env):
    """Each host prints several times BUFFER_LIMIT on both streams: whenever
    its output waits to be shown its command may be paused; nothing is lost."""
    from pssh.cli._run import BUFFER_LIMIT
    count = 4 * BUFFER_LIMIT // 7  # seq's lines average under 7 bytes here
    rc, out, err = env.run('-H', 'web[01-03]', '--',
                           'seq %d; seq %d >&2' % (count, count // 2), timeout=120)
    assert rc == 0, err[-500:]
    for name in ('web01', 'web02', 'web03'):
        mine = [line[len(name) + 2:] for line in out.split('\n') if line.startswith(name)]
        assert mine == [str(n) for n in range(1, count + 1)]
        mine = [line[len(name) + 2:] for line in err.split('\n') if line.startswith(name)]
        assert mine == [str(n) for n in range(1, count // 2 + 1)]
    assert _lines(err)[-1] == '3 ok'


def test_pump_hands_on_bounded_pieces_until_the_end():
    from pssh.cli._run import _pump
    from pssh.clients.reader import ConcurrentRWBuffer
    buffer = ConcurrentRWBuffer()
    data = [bytes([65 + n % 26]) * 100000 for n in range(30)]
    for piece in data:
        buffer.write(piece)
    buffer.set_eof()
    pieces = []
    _pump(buffer, pieces.append)
    assert b''.join(pieces) == b''.join(data)
    assert len(pieces) > 1 and max(len(p) for p in pieces) <= 256 * 1024


def test_quiet_has_no_summary(env):
    rc, out, err = env.run('-q', '-H', 'web01', '--', 'echo hi')
    assert (rc, out, err) == (0, 'web01: hi\n', '')


# ----------------------------------------------------------------------
# Standard input and sudo

def test_piped_stdin_goes_to_every_host(env):
    data = b''.join(b'line %d\n' % n for n in range(2000))
    rc, out, err = env.run('-b', '-H', 'web[01-03]', '--', 'sha256sum', stdin=data)
    import hashlib
    assert rc == 0
    assert out.split('---------------\n')[2] == '%s  -\n' % hashlib.sha256(data).hexdigest()
    assert 'web[01-03] (3)' in out


def test_no_stdin_flag_gives_commands_an_empty_input(env):
    rc, out, err = env.run('-n', '-H', 'web01', '--', 'wc -c', stdin=b'not sent\n')
    assert (rc, out) == (0, 'web01: 0\n')


def test_sudo_password_given_to_each_host_never_shown(env):
    stdin = (SUDO_PASSWORD + '\nfirst\nsecond\n').encode()
    rc, out, err = env.run('--sudo', '-H', 'web[01-03]', '--', 'echo sudo=$SUDO_OK; cat',
                           stdin=stdin)
    assert rc == 0, err
    for name in ('web01', 'web02', 'web03'):
        assert [line for line in _lines(out) if line.startswith(name)] == [
            name + ': sudo=yes', name + ': first', name + ': second']
    assert SUDO_PASSWORD not in out + err
    assert 'pssh-sudo' not in out + err and 'pssh-started' not in out + err
    assert _lines(err) == ['3 ok']


def test_sudo_wrong_password_fails_without_retrying_it(env):
    rc, out, err = env.run('--sudo', '-H', 'web01', '--', 'echo never', stdin=b'wrong\n')
    assert rc == 1
    assert out == ''
    assert _lines(err) == ['web01: Sorry, try again.', 'web01: sudo: no password was provided',
                           '0 ok, 1 failed: web01 exit 1']


# ----------------------------------------------------------------------
# Copies

def test_put_and_get_a_file(env, tmp_path):
    local = tmp_path / 'conf.txt'
    local.write_bytes(b'x' * 100000 + b'\n')
    remote = str(tmp_path / 'remote-conf.txt')
    rc, out, err = env.run('-H', 'web01', '--put', str(local), remote)
    assert (rc, _lines(err)) == (0, ['1 ok'])
    with open(remote, 'rb') as handle:
        assert handle.read() == local.read_bytes()
    got = tmp_path / 'got'
    got.mkdir()
    rc, out, err = env.run('-H', 'web[01-02] down1', '--get', remote, str(got))
    assert rc == 255
    assert sorted(os.listdir(got)) == ['remote-conf.txt_web01', 'remote-conf.txt_web02']
    assert (got / 'remote-conf.txt_web02').read_bytes() == local.read_bytes()
    assert _lines(err)[-1] == '2 ok, 1 failed: down1 connection refused'


def test_put_directory_recursive_over_scp_and_a_failed_get(env, tmp_path):
    tree = tmp_path / 'tree'
    (tree / 'sub').mkdir(parents=True)
    (tree / 'sub' / 'f').write_text('deep\n')
    rc, out, err = env.run('-H', 'web01', '--put', str(tree), str(tmp_path / 'copy'))
    assert rc == 2 and 'add -r' in err
    rc, out, err = env.run('-r', '--scp', '-H', 'web01', '--put', str(tree),
                           str(tmp_path / 'copy'))
    assert rc == 0, err
    assert (tmp_path / 'copy' / 'sub' / 'f').read_text() == 'deep\n'
    rc, out, err = env.run('-H', 'web01', '--get', '/nonexistent/file', str(tmp_path))
    assert rc == 1
    assert _lines(err)[-1] == '0 ok, 1 failed: web01 copy failed'


# ----------------------------------------------------------------------
# Through a terminal (tmux)

needs_tmux = pytest.mark.skipif(shutil.which('tmux') is None, reason='tmux is not installed')


class Terminal:
    """A tmux session of its own (own server socket) running one shell command."""

    def __init__(self, command, env):
        self.socket = 'pssh-test-%s' % uuid.uuid4().hex[:10]
        self.env = env
        # The shell outlives the command (to show its status) and keeps SIGINT for it.
        wrapped = "trap 'true' INT; %s; echo \"exit=$?\"; read never" % command
        self.tmux('new-session', '-d', '-x', '180', '-y', '50', 'sh', '-c', wrapped)

    def tmux(self, *args):
        return subprocess.run(['tmux', '-L', self.socket, '-f', '/dev/null'] + list(args),
                              capture_output=True, text=True, timeout=10, env=self.env,
                              check=True).stdout

    def screen(self, escapes=False):
        return self.tmux('capture-pane', '-p', *(['-e'] if escapes else []), '-J')

    def wait_for(self, pattern, escapes=False, timeout=20):
        deadline = time.monotonic() + timeout
        while True:
            text = self.screen(escapes)
            if re.search(pattern, text):
                return text
            if time.monotonic() > deadline:
                raise AssertionError('%r never showed up; screen:\n%s' % (pattern, text))
            time.sleep(0.05)  # polling the screen, not synchronising with the hosts

    def keys(self, *keys):
        self.tmux('send-keys', *keys)

    def close(self):
        subprocess.run(['tmux', '-L', self.socket, 'kill-server'], capture_output=True,
                       timeout=10)


@pytest.fixture
def terminal(env):
    opened = []

    def start(command):
        term = Terminal(command, dict(env.environ, TERM='xterm-256color'))
        opened.append(term)
        return term
    yield start
    for term in opened:
        term.close()


@pytest.fixture
def gate(env):
    """A FIFO the remote commands block on until the test releases them."""
    path = os.path.join(env.workdir, 'gate-%s' % uuid.uuid4().hex[:8])
    os.mkfifo(path)
    os.chmod(path, stat.S_IRUSR | stat.S_IWUSR | stat.S_IRGRP | stat.S_IROTH)

    def release():
        # Opening for writing waits for the readers; non-blocking so that a
        # gate nobody reads any more does not hang the test.
        try:
            fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK)
        except OSError:
            return
        os.write(fd, b'go\n')
        os.close(fd)
    yield path, release
    release()
    os.unlink(path)


def _cmd(env, args):
    import shlex
    return ' '.join(shlex.quote(a) for a in env.argv(*args))


@needs_tmux
def test_terminal_colours_progress_and_ctrl_c_once(env, terminal, gate):
    path, release = gate
    term = terminal(_cmd(env, ['-H', 'web[01-03]', '--', 'echo started; cat %s' % path]))
    term.wait_for(r'(started[\s\S]*){3}')
    screen = term.wait_for(r'running\]', escapes=True)
    # Host names in colour, one colour per host.
    assert re.search(r'\x1b\[3\dmweb01: \x1b\[(0|39)m', screen), screen
    assert len(set(re.findall(r'\x1b\[(3\d)mweb0\d', screen))) == 3
    assert '[0/3 done, 0 failed, 3 running]' in screen
    term.keys('C-c')
    screen = term.wait_for(r'still running')
    assert 'pssh: 3 host(s) still running: web[01-03] (Ctrl-C again to stop them)' in screen
    release()
    screen = term.wait_for(r'exit=\d+')
    assert 'exit=0' in screen
    assert re.search(r'^3 ok$', screen, re.M)
    # The progress line is gone at the end.
    assert 'running]' not in screen.split('still running')[-1]


@needs_tmux
def test_terminal_ctrl_c_twice_stops_with_130(env, terminal, gate):
    path, release = gate
    term = terminal(_cmd(env, ['-H', 'web[01-02] db1', '--', 'echo started; cat %s' % path]))
    term.wait_for(r'(started[\s\S]*){3}')
    term.keys('C-c')
    term.wait_for('still running')
    started = time.monotonic()
    term.keys('C-c')
    screen = term.wait_for(r'exit=\d+')
    assert time.monotonic() - started < 10
    assert 'exit=130' in screen
    assert re.search(r'^0 ok, 3 failed: db1,web\[01-02\] stopped$', screen, re.M), screen


@needs_tmux
def test_terminal_sudo_asks_once_without_echo(env, terminal):
    term = terminal(_cmd(env, ['--sudo', '-H', 'web[01-02]', '--', 'echo sudo=$SUDO_OK']))
    term.wait_for(r'\[pssh\] sudo password: ')
    term.keys('-l', SUDO_PASSWORD)
    term.keys('Enter')
    screen = term.wait_for(r'exit=\d+')
    assert 'exit=0' in screen
    assert SUDO_PASSWORD not in screen
    assert screen.count('password') == 1
    assert 'web01: sudo=yes' in screen and 'web02: sudo=yes' in screen


def test_setup_py_declares_the_console_script():
    with open(os.path.join(REPO, 'setup.py')) as handle:
        assert "'console_scripts': ['pssh = pssh.cli:_entry']" in handle.read()


# ----------------------------------------------------------------------
# Shell completion

@pytest.fixture(scope='module')
def completion(env):
    """The script ``pssh --completion bash`` prints, in a file."""
    proc = subprocess.run([env.script, '--completion', 'bash'], capture_output=True,
                          text=True, env=env.environ, timeout=30)
    assert (proc.returncode, proc.stderr) == (0, '')
    path = os.path.join(env.workdir, 'pssh-completion.bash')
    with open(path, 'w') as handle:
        handle.write(proc.stdout)
    return path


@pytest.fixture
def complete(completion, tmp_path):
    """Completions for a command line split into words as bash splits them
    (COMP_WORDS), the cursor on the last word, in a directory with a file and
    a directory."""
    import shlex
    (tmp_path / 'hosts.txt').write_text('web01\n')
    (tmp_path / 'logs').mkdir()

    def run(*words):
        script = ('source %s\nCOMP_WORDS=(%s)\nCOMP_CWORD=%d\n_pssh_complete\n'
                  'printf "%%s\\n" "${COMPREPLY[@]}"\n' % (
                      shlex.quote(completion), ' '.join(shlex.quote(w) for w in words),
                      len(words) - 1))
        proc = subprocess.run(['bash', '--norc', '--noprofile', '-c', script],
                              capture_output=True, text=True, cwd=str(tmp_path), timeout=30)
        assert (proc.returncode, proc.stderr) == (0, '')
        return [line for line in proc.stdout.splitlines() if line]
    return run


def test_completion_of_options_and_their_values(complete):
    assert complete('pssh', '--fo') == ['--fold']
    assert complete('pssh', '-H', 'web[01-02] db1', '--jso') == ['--json']
    assert complete('pssh', '-h', 'ho') == ['hosts.txt']
    assert complete('pssh', '-F', '') == ['hosts.txt', 'logs']
    assert complete('pssh', '--outdir', '') == ['logs']
    assert complete('pssh', '--put', 'h') == ['hosts.txt']
    assert complete('pssh', '--put', 'hosts.txt', '') == []  # REMOTE
    assert complete('pssh', '--get', '/var/log/syslog', 'l') == ['logs']
    assert complete('pssh', '--color', 'al') == ['always']
    assert complete('pssh', '--color', '=', 'n') == ['never']  # --color=n
    assert complete('pssh', '-o', 'Strict') == ['StrictHostKeyChecking=']
    assert complete('pssh', '-x', '--') == []  # a node set, not an option


def test_completion_stops_where_the_command_begins(complete):
    assert complete('pssh', '-H', 'web01', 'ls', '--fo') == []
    assert complete('pssh', '-H', 'web01', '--', '--fo') == []
    assert complete('pssh', '-b', '-f', '10', '--fo') == ['--fold']


@needs_tmux
def test_completion_in_an_interactive_bash(completion):
    """Through readline: bash splits the words itself (--color=al)."""
    term = Terminal('bash --norc --noprofile -i',
                    dict(os.environ, TERM='xterm-256color', PS1='$ '))
    try:
        term.keys('-l', 'source %s' % completion)
        term.keys('Enter')
        term.keys('-l', 'pssh -H web01 --fai')
        term.keys('Tab')
        term.wait_for(r'pssh -H web01 --fail-fast ')
        term.keys('-l', '--', '--color=al')
        term.keys('Tab')
        term.wait_for(r'--fail-fast --color=always ')
    finally:
        term.close()
