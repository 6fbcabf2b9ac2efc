"""Integration tests of the single-host native client against a real OpenSSH sshd.

Every test talks to the ``server`` fixture (a real ``sshd`` on loopback) or to
servers and sockets it starts itself on loopback addresses.
"""
import getpass
import itertools
import logging
import os
import shutil
import signal
import socket
import subprocess
import time

import gevent
import pytest

import pssh
from pssh.exceptions import (
    AuthenticationError, ConnectTimeoutError, HostConnectionError, InvalidAPIUseError,
    NoIPv6AddressFoundError, PKeyFileError, PsshError, SessionError, SSHError, Timeout,
    UnknownHostError)
from pssh.output import HostOutput
from pssh.testing import MisbehavingListener, OpenSSHServer

from _net import refused_port
from conftest import AIO_WHEN_ASKED

#: The backends a test here runs on when it asks for the backend fixture (see conftest).
BACKENDS = AIO_WHEN_ASKED


# ---------------------------------------------------------------------------
# helpers


def make_client(backend, server, client_kwargs, **overrides):
    kwargs = dict(client_kwargs)
    kwargs.update(overrides)
    return backend.SSHClient(server.host, **kwargs)


@pytest.fixture
def client(backend, server, client_kwargs):
    with make_client(backend, server, client_kwargs) as cli:
        yield cli


def run(client, command, **kwargs):
    """Run ``command``, wait for it, and return (stdout lines, stderr lines, output)."""
    output = client.run_command(command, **kwargs)
    client.wait_finished(output)
    return list(output.stdout), list(output.stderr), output


def keygen(tmp_path, name, key_type='ed25519', passphrase='', key_format=None):
    path = str(tmp_path / name)
    args = ['ssh-keygen', '-q', '-t', key_type, '-N', passphrase, '-C', name, '-f', path]
    if key_type == 'rsa':
        args += ['-b', '2048']
    if key_format:
        args += ['-m', key_format]
    subprocess.run(args, check=True, stdin=subprocess.DEVNULL, capture_output=True, timeout=60)
    return path


def free_port():
    """A loopback port with nothing listening on it (bound and held, never listening)."""
    return refused_port('127.0.0.1')


def ipv6_loopback_usable():
    if not socket.has_ipv6:
        return False
    try:
        with socket.socket(socket.AF_INET6) as sock:
            sock.bind(('::1', 0))
    except OSError:
        return False
    return True


def assert_names_host(exc, host):
    assert host in str(exc), 'str(%r) does not name host %s' % (exc, host)


# ---------------------------------------------------------------------------
# running commands


@pytest.mark.timeout(30)
def test_echo(client, server):
    output = client.run_command('echo hello world')
    assert isinstance(output, HostOutput)
    assert output.host == server.host
    assert list(output.stdout) == ['hello world']
    client.wait_finished(output)
    assert output.exit_code == 0
    assert output.exit_signal is None
    assert list(output.stderr) == []


@pytest.mark.timeout(30)
def test_stdout_and_stderr_are_separate(client):
    stdout, stderr, output = run(client, 'echo out1; echo err1 >&2; echo out2; echo err2 >&2')
    assert stdout == ['out1', 'out2']
    assert stderr == ['err1', 'err2']
    assert output.exit_code == 0


@pytest.mark.timeout(30)
@pytest.mark.parametrize('code', [0, 1, 2, 42, 127, 255])
def test_exit_codes(client, code):
    stdout, stderr, output = run(client, 'echo before; exit %d' % code)
    assert stdout == ['before']
    assert stderr == []
    assert output.exit_code == code
    assert client.get_exit_status(output.channel) == code
    assert client.finished(output.channel)


@pytest.mark.timeout(30)
def test_command_not_found_exit_code(client):
    stdout, stderr, output = run(client, 'no-such-command-pssh-test')
    assert stdout == []
    assert any('no-such-command-pssh-test' in line for line in stderr)
    assert output.exit_code == 127


@pytest.mark.timeout(30)
def test_exit_code_none_until_command_ends(client):
    output = client.run_command('cat')
    # The command waits for its stdin: its end cannot be known yet.
    assert output.exit_code is None
    assert output.exit_signal is None
    assert client.get_exit_status(output.channel) is None
    assert not client.finished(output.channel)
    with pytest.raises(Timeout):
        client.wait_finished(output, timeout=0.3)
    assert output.exit_code is None
    output.stdin.write('last line\n')
    output.stdin.close()
    client.wait_finished(output)
    assert client.finished(output.channel)
    assert output.exit_code == 0
    assert list(output.stdout) == ['last line']


@pytest.mark.timeout(60)
def test_exit_code_after_reading_all_output(client):
    """The documented single-client pattern: read the output, then look at
    exit_code, with no wait_finished in between."""
    codes = []
    for i in range(20):
        output = client.run_command('echo line %d; echo err >&2; exit 7' % i)
        assert list(output.stdout) == ['line %d' % i]
        assert list(output.stderr) == ['err']
        codes.append(output.exit_code)
        client.wait_finished(output)
        assert output.exit_code == 7
    # Never a made-up value, and known once all output has been read.
    assert codes == [7] * 20


@pytest.mark.timeout(30)
def test_exit_code_after_reading_stdout_only(client):
    for i in range(10):
        output = client.run_command('echo line %d; exit 9' % i)
        assert list(output.stdout) == ['line %d' % i]
        assert output.exit_code in (None, 9)
        client.wait_finished(output)
        assert output.exit_code == 9


@pytest.mark.timeout(30)
@pytest.mark.parametrize('name,number', [('KILL', 9), ('TERM', 15), ('USR1', 10), ('HUP', 1)])
def test_killed_by_signal(client, name, number):
    output = client.run_command('echo started; kill -%s $$; echo not reached' % name)
    client.wait_finished(output)
    assert list(output.stdout) == ['started']
    assert output.exit_signal == name
    assert output.exit_code == -number
    assert output.exit_code != 0
    assert client.get_exit_status(output.channel) == -number


@pytest.mark.timeout(30)
def test_second_read_of_a_stream_is_empty(client):
    stdout, stderr, output = run(client, 'echo a; echo b; echo c >&2')
    assert stdout == ['a', 'b']
    assert stderr == ['c']
    assert list(output.stdout) == []
    assert list(output.stderr) == []


@pytest.mark.timeout(30)
def test_header_then_rest_with_a_live_generator(client):
    """A line is given out once, even while an earlier generator is still alive."""
    output = client.run_command('printf "header\\n1\\n2\\n"')
    client.wait_finished(output)
    lines = output.stdout
    assert next(lines) == 'header'
    assert list(output.stdout) == ['1', '2']
    assert list(lines) == []


@pytest.mark.timeout(30)
def test_stdout_generators_share_one_position(client):
    output = client.run_command('printf "1\\n2\\n3\\n4\\n"')
    first = output.stdout
    assert next(first) == '1'
    assert next(first) == '2'
    first.close()
    assert list(output.stdout) == ['3', '4']


@pytest.mark.timeout(30)
def test_empty_lines_and_no_output(client):
    stdout, stderr, output = run(client, 'printf "\\n\\nx\\n\\n"')
    assert stdout == ['', '', 'x', '']
    stdout, stderr, output = run(client, 'true')
    assert stdout == [] and stderr == []
    assert output.exit_code == 0


@pytest.mark.timeout(30)
def test_unicode_output(client):
    stdout, _, output = run(
        client, "printf 'h\\303\\251llo \\342\\202\\254 \\360\\237\\230\\200\\n'")
    assert stdout == ['h\u00e9llo \u20ac \U0001F600']


@pytest.mark.timeout(30)
def test_fully_qualified_command(client):
    output = client.run_command('echo me')
    assert output.fully_qualified_command == b'echo me'
    client.wait_finished(output)

    output = client.run_command('echo me', sudo=True)
    assert output.fully_qualified_command == b"sudo -S $SHELL -c 'echo me'"
    client.wait_finished(output)

    output = client.run_command('echo me', user='nobody')
    assert output.fully_qualified_command == b"sudo -u nobody -S $SHELL -c 'echo me'"
    client.wait_finished(output)

    output = client.run_command('echo me', sudo=True, shell='bash -c')
    assert output.fully_qualified_command == b"sudo -S bash -c 'echo me'"
    client.wait_finished(output)


@pytest.mark.timeout(30)
def test_shell_runs_command_through_it(client):
    stdout, stderr, output = run(client, """echo "it's" $0""", shell='bash -c')
    assert output.fully_qualified_command == b"""bash -c 'echo "it'\\''s" $0'"""
    assert stdout == ["it's bash"]
    assert stderr == []
    assert output.exit_code == 0


@pytest.mark.timeout(30)
def test_host_output_repr(client, server):
    stdout, _, output = run(client, 'exit 3')
    text = repr(output)
    assert server.host in text
    assert 'exit_code=3' in text
    assert 'encoding=utf-8' in text
    assert 'fully_qualified_command' in text
    assert str(output) == text


@pytest.mark.timeout(30)
def test_run_command_after_unread_output(client):
    """Commands whose output is never read do not disturb later ones."""
    for i in range(5):
        client.run_command('echo ignored %d; echo ignored >&2' % i)
    stdout, _, output = run(client, 'echo wanted')
    assert stdout == ['wanted']


# ---------------------------------------------------------------------------
# stdin


@pytest.mark.timeout(30)
def test_stdin_round_trip_str(client):
    output = client.run_command('cat')
    output.stdin.write('line one\n')
    output.stdin.write('line two\n')
    output.stdin.flush()
    output.stdin.write('no newline')
    output.stdin.close()
    client.wait_finished(output)
    assert list(output.stdout) == ['line one', 'line two', 'no newline']
    assert output.exit_code == 0


@pytest.mark.timeout(30)
def test_stdin_round_trip_bytes(client):
    output = client.run_command('cat')
    output.stdin.write(b'bytes \xc3\xa9\n')
    output.stdin.write('str \u00e9\n')
    output.stdin.close()
    assert list(output.stdout) == ['bytes \u00e9', 'str \u00e9']
    client.wait_finished(output)
    assert output.exit_code == 0


@pytest.mark.timeout(30)
def test_stdin_read_while_running(client):
    """A line written is echoed back before stdin is closed."""
    output = client.run_command('cat')
    stdout = output.stdout
    for i in range(5):
        output.stdin.write('ping %d\n' % i)
        assert next(stdout) == 'ping %d' % i
    output.stdin.close()
    assert list(stdout) == []
    client.wait_finished(output)
    assert output.exit_code == 0


@pytest.mark.timeout(60)
def test_stdin_large_write(client):
    data = b'0123456789abcdef' * (5 * 1024 * 1024 // 16)  # 5 MiB
    output = client.run_command('wc -c')
    output.stdin.write(data)
    output.stdin.close()
    client.wait_finished(output)
    assert [line.strip() for line in output.stdout] == [str(len(data))]
    assert output.exit_code == 0


@pytest.mark.timeout(60)
def test_stdin_large_round_trip(client):
    line = 'y' * 99
    count = 20000  # 2 MB each way
    output = client.run_command('cat')
    output.stdin.write(('%s\n' % line) * count)
    output.stdin.close()
    lines = list(output.stdout)
    assert len(lines) == count
    assert all(item == line for item in lines)
    client.wait_finished(output)
    assert output.exit_code == 0


@pytest.mark.timeout(60)
def test_stdin_write_after_command_exited_returns_promptly(backend, server, client_kwargs):
    """Writing to a command that has ended drops the data at once instead of
    waiting for ever (or raising: see tests/integration/test_dropin_io.py)."""
    with make_client(backend, server, client_kwargs, timeout=None) as cli:
        output = cli.run_command('exit 0')
        cli.wait_finished(output)
        started = time.monotonic()
        with gevent.Timeout(15, AssertionError('stdin.write to an ended command hung')):
            output.stdin.write(b'x' * (5 * 1024 * 1024))
        assert time.monotonic() - started < 5
        assert output.exit_code == 0


@pytest.mark.waits(3)
@pytest.mark.timeout(60)
def test_stdin_write_to_slow_reader(backend, server, client_kwargs):
    """A command that reads its stdin late is not a timeout: the connection is fine."""
    data = b'z' * (5 * 1024 * 1024)
    with make_client(backend, server, client_kwargs, timeout=1) as cli:
        output = cli.run_command('sleep 3; wc -c')
        output.stdin.write(data)
        output.stdin.close()
        cli.wait_finished(output)
        assert [line.strip() for line in output.stdout] == [str(len(data))]
        assert output.exit_code == 0


# ---------------------------------------------------------------------------
# large outputs and line splitting


@pytest.mark.timeout(120)
def test_10mb_output_with_final_newline(client):
    output = client.run_command('yes "%s" | head -n 100000' % ('x' * 100))
    count = 0
    for line in output.stdout:
        assert line == 'x' * 100
        count += 1
    assert count == 100000
    client.wait_finished(output)
    assert output.exit_code == 0
    assert list(output.stderr) == []


@pytest.mark.timeout(120)
def test_10mb_output_without_final_newline(client):
    # 99,999 lines of 100 'x' then a last line of 50 'x' with no newline.
    output = client.run_command('yes "%s" | head -n 99999; printf %s' % ('x' * 100, 'x' * 50))
    lines = list(output.stdout)
    assert len(lines) == 100000
    assert all(line == 'x' * 100 for line in lines[:-1])
    assert lines[-1] == 'x' * 50
    client.wait_finished(output)
    assert output.exit_code == 0


@pytest.mark.timeout(120)
def test_single_5mb_line_without_newline(client):
    output = client.run_command("head -c 5000000 /dev/zero | tr '\\0' y")
    lines = list(output.stdout)
    assert len(lines) == 1
    assert len(lines[0]) == 5000000
    assert lines[0] == 'y' * 5000000
    client.wait_finished(output)
    assert output.exit_code == 0


@pytest.mark.timeout(120)
def test_20mb_output_read_after_wait_finished(client):
    output = client.run_command(
        "head -c 20000000 /dev/zero | tr '\\0' z | fold -w 200; echo done >&2")
    client.wait_finished(output)
    assert output.exit_code == 0
    count = 0
    for line in output.stdout:
        assert line == 'z' * 200
        count += 1
    assert count == 100000
    assert list(output.stderr) == ['done']


@pytest.mark.timeout(120)
def test_large_stdout_and_stderr_together(client):
    """Both streams large at once: reading one fully, then the other, works."""
    output = client.run_command(
        "(head -c 6000000 /dev/zero | tr '\\0' o | fold -w 100) & "
        "(head -c 6000000 /dev/zero | tr '\\0' e | fold -w 100 >&2); wait")
    with gevent.Timeout(60, AssertionError('reading stdout then stderr hung')):
        out = list(output.stdout)
        err = list(output.stderr)
    assert len(out) == 60000 and set(out) == {'o' * 100}
    assert len(err) == 60000 and set(err) == {'e' * 100}
    client.wait_finished(output)
    assert output.exit_code == 0


@pytest.mark.timeout(120)
def test_interleaved_reading_of_stdout_and_stderr(client):
    """Reading the two streams in turn, a line of each at a time, does not hang
    even when one stream has much more output than the other."""
    output = client.run_command(
        "head -c 10000000 /dev/zero | tr '\\0' o | fold -w 100; echo last-err >&2")
    with gevent.Timeout(30, AssertionError('interleaved reading hung')):
        pairs = list(itertools.zip_longest(output.stdout, output.stderr))
    assert len(pairs) == 100000
    assert pairs[0] == ('o' * 100, 'last-err')
    assert all(out == 'o' * 100 for out, _ in pairs)
    client.wait_finished(output)
    assert output.exit_code == 0


@pytest.mark.timeout(120)
def test_holding_a_partly_read_stdout_generator_does_not_block_stderr(client):
    output = client.run_command(
        "head -c 10000000 /dev/zero | tr '\\0' o | fold -w 100; echo the-end >&2")
    stdout = output.stdout
    assert next(stdout) == 'o' * 100
    with gevent.Timeout(30, AssertionError('stderr blocked by a suspended stdout reader')):
        assert list(output.stderr) == ['the-end']
    rest = list(stdout)
    assert len(rest) == 99999
    client.wait_finished(output)
    assert output.exit_code == 0


@pytest.mark.timeout(30)
def test_crlf_split_and_lone_cr_kept(client):
    stdout, _, _ = run(client, "printf 'a\\r\\nb\\rc\\n\\r\\nd\\r\\n'")
    assert stdout == ['a', 'b\rc', '', 'd']


@pytest.mark.timeout(30)
def test_lone_cr_at_end_of_output_kept(client):
    stdout, _, _ = run(client, "printf 'x\\ry\\r'")
    assert stdout == ['x\ry\r']


@pytest.mark.timeout(30)
def test_partial_last_line_on_stderr(client):
    stdout, stderr, _ = run(client, "printf 'e1\\ne2' >&2")
    assert stderr == ['e1', 'e2']
    assert stdout == []


# ---------------------------------------------------------------------------
# encodings


@pytest.mark.timeout(30)
def test_latin1_output(client):
    stdout, _, output = run(client, "printf '\\351t\\351\\n'", encoding='latin-1')
    assert stdout == ['\u00e9t\u00e9']
    assert output.encoding == 'latin-1'


@pytest.mark.timeout(30)
def test_latin1_stderr(client):
    _, stderr, _ = run(client, "printf 'caf\\351\\n' >&2", encoding='latin-1')
    assert stderr == ['caf\u00e9']


@pytest.mark.timeout(30)
def test_utf16_output(client):
    # 'hi\n' then 'yo\n' in UTF-16 little endian, with a byte order mark.
    stdout, _, _ = run(client, "printf '\\377\\376h\\000i\\000\\n\\000y\\000o\\000\\n\\000'",
                       encoding='utf-16')
    assert stdout == ['hi', 'yo']


@pytest.mark.timeout(30)
@pytest.mark.skipif(shutil.which('iconv') is None, reason='iconv is not installed')
def test_utf16_output_from_iconv(client):
    stdout, _, _ = run(client, "printf 'h\\303\\251\\nw\\n' | iconv -f utf-8 -t utf-16",
                       encoding='utf-16')
    assert stdout == ['h\u00e9', 'w']


@pytest.mark.timeout(30)
def test_unknown_encoding(client):
    with pytest.raises(LookupError):
        client.run_command('echo x', encoding='no-such-encoding-xyz')
    # The client is still usable.
    stdout, _, _ = run(client, 'echo still fine')
    assert stdout == ['still fine']


# ---------------------------------------------------------------------------
# timeouts


@pytest.mark.timeout(30)
@pytest.mark.parametrize('arg', ['read_timeout', 'timeout'])
def test_read_timeout(client, server, arg):
    # The command waits for a line on its stdin, written once the timeout was seen.
    output = client.run_command('echo start; read x; echo end', **{arg: 1})
    assert output.read_timeout == 1
    lines = []
    started = time.monotonic()
    with pytest.raises(Timeout) as excinfo:
        for line in output.stdout:
            lines.append(line)
    elapsed = time.monotonic() - started
    output.stdin.write('go\n')
    assert lines == ['start']
    assert 0.8 <= elapsed < 2.5
    assert isinstance(excinfo.value, TimeoutError)
    assert_names_host(excinfo.value, server.host)
    client.wait_finished(output)
    assert list(output.stdout) == ['end']
    assert output.exit_code == 0


@pytest.mark.timeout(30)
def test_read_timeout_on_stderr(client):
    output = client.run_command('echo e1 >&2; read x; echo e2 >&2', read_timeout=0.5)
    got = []
    with pytest.raises(Timeout):
        for line in output.stderr:
            got.append(line)
    output.stdin.write('go\n')
    assert got == ['e1']
    client.wait_finished(output)
    assert list(output.stderr) == ['e2']


@pytest.mark.timeout(30)
def test_read_timeout_not_hit_by_fast_command(client):
    stdout, _, output = run(client, 'echo quick', read_timeout=5)
    assert stdout == ['quick']


@pytest.mark.timeout(30)
def test_wait_finished_timeout(client, server):
    output = client.run_command('echo before; read x; echo after')
    started = time.monotonic()
    with pytest.raises(Timeout) as excinfo:
        client.wait_finished(output, timeout=0.5)
    assert time.monotonic() - started < 2
    assert_names_host(excinfo.value, server.host)
    assert output.exit_code is None
    output.stdin.write('go\n')
    client.wait_finished(output)
    assert list(output.stdout) == ['before', 'after']
    assert output.exit_code == 0


@pytest.mark.timeout(30)
def test_wait_finished_rejects_other_objects(client):
    with pytest.raises(ValueError):
        client.wait_finished('not output')
    with pytest.raises(ValueError):
        client.wait_finished(None)
    output = client.run_command('true')
    with pytest.raises(ValueError):
        client.wait_finished(output.channel)
    client.wait_finished(output)


# ---------------------------------------------------------------------------
# PTY


@pytest.mark.timeout(30)
def test_pty_merges_stderr_into_stdout(client):
    stdout, stderr, output = run(client, 'echo out; echo err >&2', use_pty=True)
    assert stdout == ['out', 'err']
    assert stderr == []
    assert output.exit_code == 0


@pytest.mark.timeout(30)
def test_pty_exit_code(client):
    stdout, stderr, output = run(client, 'exit 5', use_pty=True)
    assert output.exit_code == 5


@pytest.mark.timeout(30)
def test_close_channel_ends_pty_command(client):
    output = client.run_command('echo started; sleep 100', use_pty=True)
    stdout = output.stdout
    assert next(stdout) == 'started'
    stdout.close()
    started = time.monotonic()
    client.close_channel(output.channel)
    client.wait_finished(output, timeout=10)
    assert time.monotonic() - started < 5
    assert client.finished(output.channel)
    # Whatever is reported must not pretend the command succeeded.
    assert output.exit_code != 0
    # Closing twice is harmless, and the client keeps working.
    client.close_channel(output.channel)
    out, _, _ = run(client, 'echo next')
    assert out == ['next']


# ---------------------------------------------------------------------------
# interactive shell


@pytest.mark.timeout(30)
def test_open_shell(client):
    with client.open_shell() as shell:
        shell.run('echo one')
        shell.run('echo two >&2')
        shell.run('exit 3')
    assert isinstance(shell.output, HostOutput)
    assert 'one' in list(shell.stdout)
    assert 'two' in list(shell.stderr)
    assert shell.exit_code == 3
    assert shell.output.exit_code == 3


@pytest.mark.timeout(30)
def test_open_shell_close_without_exit(client):
    shell = client.open_shell()
    shell.run('echo a; echo b')
    shell.close()
    assert [line for line in shell.stdout if line in ('a', 'b')] == ['a', 'b']
    assert shell.exit_code == 0


@pytest.mark.timeout(30)
def test_open_shell_stdin_and_encoding(client):
    with client.open_shell(encoding='latin-1') as shell:
        shell.stdin.write("printf 'caf\\351\\n'\n")
    assert 'caf\u00e9' in list(shell.stdout)


# ---------------------------------------------------------------------------
# host logger


class _ListHandler(logging.Handler):
    def __init__(self):
        super().__init__(logging.INFO)
        self.messages = []

    def emit(self, record):
        self.messages.append(record.getMessage())


@pytest.fixture
def host_log():
    handler = _ListHandler()
    old_level = pssh.host_logger.level
    pssh.host_logger.addHandler(handler)
    pssh.host_logger.setLevel(logging.INFO)
    try:
        yield handler.messages
    finally:
        pssh.host_logger.removeHandler(handler)
        pssh.host_logger.setLevel(old_level)


@pytest.mark.timeout(30)
def test_host_logger(client, server, host_log):
    stdout, stderr, _ = run(client, 'echo out1; echo out2; echo err1 >&2')
    assert stdout == ['out1', 'out2']
    assert stderr == ['err1']
    host = server.host
    assert '[%s]\tout1' % host in host_log
    assert '[%s]\tout2' % host in host_log
    assert '[%s]\t[err]\terr1' % host in host_log
    assert len(host_log) == 3


# ---------------------------------------------------------------------------
# many channels on one session, and several clients


@pytest.mark.timeout(120)
def test_many_commands_on_one_client(client):
    outputs = [client.run_command(
        'for j in $(seq 1 500); do echo %d-$j; echo e%d-$j >&2; done; exit %d' % (i, i, i))
        for i in range(20)]
    # Read in reverse order so that later channels are consumed first.
    for i, output in reversed(list(enumerate(outputs))):
        assert list(output.stdout) == ['%d-%d' % (i, j) for j in range(1, 501)]
        assert list(output.stderr) == ['e%d-%d' % (i, j) for j in range(1, 501)]
    for i, output in enumerate(outputs):
        client.wait_finished(output)
        assert output.exit_code == i


@pytest.mark.timeout(120)
def test_many_large_outputs_read_concurrently(client):
    outputs = [client.run_command(
        "head -c 2000000 /dev/zero | tr '\\0' %s | fold -w 100" % letter)
        for letter in 'abcdefgh']

    def count(output, letter):
        n = 0
        for line in output.stdout:
            assert line == letter * 100
            n += 1
        return n

    greenlets = [gevent.spawn(count, output, letter)
                 for output, letter in zip(outputs, 'abcdefgh')]
    gevent.joinall(greenlets, timeout=90, raise_error=True)
    assert [g.value for g in greenlets] == [20000] * 8
    for output in outputs:
        client.wait_finished(output)
        assert output.exit_code == 0


@pytest.mark.timeout(60)
def test_two_clients_in_parallel_greenlets(backend, server, client_kwargs):
    def work(tag):
        with make_client(backend, server, client_kwargs) as cli:
            stdout, _, output = run(cli, 'sleep 1; echo %s' % tag)
            return stdout, output.exit_code

    started = time.monotonic()
    greenlets = [gevent.spawn(work, tag) for tag in ('a', 'b', 'c')]
    gevent.joinall(greenlets, timeout=30, raise_error=True)
    assert [g.value for g in greenlets] == [(['a'], 0), (['b'], 0), (['c'], 0)]
    # The three one-second commands ran at the same time.
    assert time.monotonic() - started < 8


# ---------------------------------------------------------------------------
# keepalive


@pytest.mark.waits(3)
@pytest.mark.timeout(30)
def test_keepalive_does_not_disturb_commands(backend, server, client_kwargs):
    with make_client(backend, server, client_kwargs, keepalive_seconds=1) as cli:
        assert cli.keepalive_seconds == 1
        output = cli.run_command('echo a; sleep 3; echo b')
        assert list(output.stdout) == ['a', 'b']
        cli.wait_finished(output)
        assert output.exit_code == 0
        stdout, _, _ = run(cli, 'echo again')
        assert stdout == ['again']


@pytest.mark.timeout(30)
def test_no_keepalive(backend, server, client_kwargs):
    for value in (0, None):
        with make_client(backend, server, client_kwargs, keepalive_seconds=value) as cli:
            stdout, _, _ = run(cli, 'echo ok')
            assert stdout == ['ok']


# ---------------------------------------------------------------------------
# client lifetime


@pytest.mark.timeout(30)
def test_context_manager_closes(backend, server, client_kwargs):
    with make_client(backend, server, client_kwargs) as cli:
        assert isinstance(cli, backend.SSHClient)
        stdout, _, _ = run(cli, 'echo inside')
        assert stdout == ['inside']
    with pytest.raises(PsshError):
        cli.run_command('echo after close')
    cli.close()  # closing again is harmless


@pytest.mark.timeout(30)
def test_attributes(backend, server, client_kwargs):
    with make_client(backend, server, client_kwargs, alias='the-alias', retry_delay=2) as cli:
        assert cli.host == server.host
        assert cli.alias == 'the-alias'
        assert cli.user == server.user
        assert cli.port == server.port
        assert cli.pkey == server.user_key
        assert cli.num_retries == 1
        assert cli.retry_delay == 2
        assert cli.timeout == 10
        assert cli.allow_agent is False
        assert cli.identity_auth is False
        assert cli.ipv6_only is False
        assert cli.compress is False
        assert cli.keepalive_seconds == 60
        output = cli.run_command('echo x')
        assert output.alias == 'the-alias'
        cli.wait_finished(output)


@pytest.mark.timeout(30)
def test_default_user_is_local_user(backend, server, client_kwargs):
    kwargs = dict(client_kwargs)
    del kwargs['user']
    if server.user != getpass.getuser():
        pytest.skip('server user differs from the local user')
    with backend.SSHClient(server.host, **kwargs) as cli:
        assert cli.user == getpass.getuser()
        stdout, _, _ = run(cli, 'whoami')
        assert stdout == [server.user]


# Deprecated 1.x method: the asyncio client has none.
@pytest.mark.backends('native', 'ssh')
@pytest.mark.timeout(30)
def test_deprecated_disconnect(backend, server, client_kwargs):
    cli = make_client(backend, server, client_kwargs)
    with pytest.warns(DeprecationWarning):
        cli.disconnect()
    with pytest.raises(PsshError):
        cli.run_command('echo after disconnect')


# Deprecated 1.x method: the asyncio client has none.
@pytest.mark.backends('native', 'ssh')
@pytest.mark.timeout(30)
def test_deprecated_execute(client):
    with pytest.warns(DeprecationWarning):
        channel = client.execute('echo via execute')
    data = b''
    while True:
        size, chunk = client.eagain(channel.read)
        if size <= 0:
            break
        data += chunk
    assert data == b'via execute\n'
    client.close_channel(channel)


# Deprecated 1.x methods (execute, open_session): the asyncio client has none.
@pytest.mark.backends('native', 'ssh')
@pytest.mark.timeout(30)
def test_deprecated_execute_on_own_session(client):
    channel = client.open_session()
    with pytest.warns(DeprecationWarning):
        client.execute('exit 0', channel=channel)
    client.close_channel(channel)


@pytest.mark.timeout(30)
def test_compress(backend, server, client_kwargs):
    with make_client(backend, server, client_kwargs, compress=True) as cli:
        stdout, _, output = run(cli, "head -c 200000 /dev/zero | tr '\\0' c | fold -w 100")
        assert stdout == ['c' * 100] * 2000
        assert output.exit_code == 0


# ---------------------------------------------------------------------------
# a server that goes away or stops answering


def _descendant_pids(pid):
    children = {}
    for entry in os.listdir('/proc'):
        if not entry.isdigit():
            continue
        try:
            with open('/proc/%s/stat' % entry, 'rb') as stat:
                data = stat.read()
        except OSError:
            continue
        ppid = int(data[data.rfind(b')') + 2:].split()[1])
        children.setdefault(ppid, []).append(int(entry))
    found, stack = [], [pid]
    while stack:
        for child in children.get(stack.pop(), ()):
            found.append(child)
            stack.append(child)
    return found


@pytest.fixture
def own_server():
    """A server of the test's own, which the test may stop."""
    with OpenSSHServer() as srv:
        yield srv


def _own_kwargs(srv, **overrides):
    kwargs = dict(port=srv.port, user=srv.user, pkey=srv.user_key, num_retries=1, timeout=10,
                  allow_agent=False, identity_auth=False)
    kwargs.update(overrides)
    return kwargs


@pytest.mark.timeout(60)
def test_server_gone_mid_command_does_not_hang(backend, own_server):
    cli = backend.SSHClient(own_server.host, **_own_kwargs(own_server))
    try:
        output = cli.run_command('echo before; sleep 60; echo after')
        stdout = output.stdout
        assert next(stdout) == 'before'
        own_server.stop()
        with gevent.Timeout(20, AssertionError('hung after the server went away')):
            assert list(stdout) == []
            try:
                cli.wait_finished(output, timeout=10)
            except PsshError:
                pass
            # The status is unknown: never a made-up value.
            assert output.exit_code is None
            with pytest.raises(PsshError) as excinfo:
                cli.run_command('echo again')
        assert_names_host(excinfo.value, own_server.host)
    finally:
        cli.close()


@pytest.mark.timeout(60)
def test_server_gone_mid_command_is_reported(backend, own_server):
    """Losing the connection is an error, not a command that ended quietly."""
    cli = backend.SSHClient(own_server.host, **_own_kwargs(own_server))
    try:
        output = cli.run_command('echo before; sleep 60')
        stdout = output.stdout
        assert next(stdout) == 'before'
        stdout.close()
        own_server.stop()
        with gevent.Timeout(20, AssertionError('hung after the server went away')):
            with pytest.raises(SSHError) as excinfo:
                cli.wait_finished(output)
        assert_names_host(excinfo.value, own_server.host)
        assert output.exit_code is None
    finally:
        cli.close()


@pytest.mark.timeout(60)
def test_unresponsive_server_times_out(backend, own_server):
    cli = backend.SSHClient(own_server.host, **_own_kwargs(own_server, timeout=1))
    stopped = []
    try:
        stdout, _, _ = run(cli, 'echo alive')
        assert stdout == ['alive']
        # Freeze the processes serving this connection (the listener keeps running).
        for pid in _descendant_pids(own_server.pid):
            os.kill(pid, signal.SIGSTOP)
            stopped.append(pid)
        assert stopped
        started = time.monotonic()
        with gevent.Timeout(20, AssertionError('run_command hung on a frozen server')):
            with pytest.raises(Timeout) as excinfo:
                cli.run_command('echo frozen')
        assert time.monotonic() - started < 5
        assert_names_host(excinfo.value, own_server.host)
    finally:
        for pid in stopped:
            try:
                os.kill(pid, signal.SIGCONT)
            except ProcessLookupError:
                pass
        cli.close()


@pytest.mark.timeout(60)
def test_channel_refused_by_server(backend):
    with OpenSSHServer(extra_config=['MaxSessions 2']) as srv:
        with backend.SSHClient(srv.host, **_own_kwargs(srv)) as cli:
            first = cli.run_command('cat')
            second = cli.run_command('cat')
            with gevent.Timeout(20, AssertionError('opening a refused channel hung')):
                with pytest.raises(SessionError) as excinfo:
                    cli.run_command('echo third')
            assert_names_host(excinfo.value, srv.host)
            for output in (first, second):
                output.stdin.write('bye\n')
                output.stdin.close()
                cli.wait_finished(output)
                assert list(output.stdout) == ['bye']
                assert output.exit_code == 0
            # With the two channels closed, a new command can run.
            stdout, _, _ = run(cli, 'echo third')
            assert stdout == ['third']


@pytest.mark.timeout(60)
def test_finished_commands_release_server_sessions(backend):
    """OpenSSH allows 10 sessions per connection by default: commands that have
    finished must not keep theirs, even while their output objects are kept."""
    with OpenSSHServer(extra_config=['MaxSessions 10']) as srv:
        with backend.SSHClient(srv.host, **_own_kwargs(srv)) as cli:
            outputs = []
            for i in range(25):
                output = cli.run_command('echo %d' % i)
                cli.wait_finished(output)
                outputs.append(output)
            assert [list(output.stdout) for output in outputs] == [[str(i)] for i in range(25)]
            assert [output.exit_code for output in outputs] == [0] * 25


# ---------------------------------------------------------------------------
# arguments


@pytest.mark.timeout(10)
@pytest.mark.parametrize('host', ['', None])
def test_empty_host(backend, client_kwargs, host):
    with pytest.raises(ValueError):
        backend.SSHClient(host, **client_kwargs)


@pytest.mark.timeout(10)
@pytest.mark.parametrize('port', [0, -1, 65536, 100000])
def test_port_out_of_range(backend, server, client_kwargs, port):
    kwargs = dict(client_kwargs, port=port)
    with pytest.raises(ValueError) as excinfo:
        backend.SSHClient(server.host, **kwargs)
    assert str(port) in str(excinfo.value)


@pytest.mark.timeout(10)
def test_keyboard_interactive_without_password(backend, server, client_kwargs):
    with pytest.raises(InvalidAPIUseError) as excinfo:
        make_client(backend, server, client_kwargs, keyboard_interactive=True)
    assert_names_host(excinfo.value, server.host)


# ---------------------------------------------------------------------------
# authentication


@pytest.mark.timeout(30)
def test_wrong_password(backend, server):
    with pytest.raises(AuthenticationError) as excinfo:
        backend.SSHClient(server.host, port=server.port, user=server.user, password='wrong',
                          allow_agent=False, identity_auth=False, num_retries=1, timeout=10)
    assert_names_host(excinfo.value, server.host)
    assert excinfo.value.args and isinstance(excinfo.value.args[0], str)


@pytest.mark.timeout(30)
def test_wrong_password_keyboard_interactive(backend, server):
    with pytest.raises(AuthenticationError) as excinfo:
        backend.SSHClient(server.host, port=server.port, user=server.user, password='wrong',
                          allow_agent=False, identity_auth=False, num_retries=1, timeout=10,
                          keyboard_interactive=True)
    assert_names_host(excinfo.value, server.host)


@pytest.mark.timeout(30)
def test_no_authentication_method(backend, server):
    with pytest.raises(AuthenticationError) as excinfo:
        backend.SSHClient(server.host, port=server.port, user=server.user,
                          allow_agent=False, identity_auth=False, num_retries=1, timeout=10)
    assert_names_host(excinfo.value, server.host)


@pytest.mark.timeout(60)
def test_wrong_key(backend, server, client_kwargs, tmp_path):
    other = keygen(tmp_path, 'other_key')
    with pytest.raises(AuthenticationError) as excinfo:
        make_client(backend, server, client_kwargs, pkey=other)
    assert_names_host(excinfo.value, server.host)


@pytest.mark.timeout(30)
def test_pkey_as_bytes(backend, server, client_kwargs):
    with make_client(backend, server, client_kwargs, pkey=server.user_key_bytes) as cli:
        stdout, _, _ = run(cli, 'echo key bytes')
        assert stdout == ['key bytes']


@pytest.mark.timeout(30)
def test_pkey_path_with_tilde(backend, server, client_kwargs, monkeypatch, tmp_path):
    shutil.copy(server.user_key, tmp_path / 'the_key')
    os.chmod(tmp_path / 'the_key', 0o600)
    monkeypatch.setenv('HOME', str(tmp_path))
    with make_client(backend, server, client_kwargs, pkey='~/the_key') as cli:
        stdout, _, _ = run(cli, 'echo tilde')
        assert stdout == ['tilde']


@pytest.mark.timeout(10)
def test_missing_key_file(backend, server, client_kwargs, tmp_path):
    missing = str(tmp_path / 'no-such-key')
    started = time.monotonic()
    with pytest.raises(PKeyFileError) as excinfo:
        make_client(backend, server, client_kwargs, pkey=missing)
    assert time.monotonic() - started < 2
    assert missing in str(excinfo.value)
    assert_names_host(excinfo.value, server.host)


@pytest.mark.timeout(30)
def test_garbage_key_file(backend, server, client_kwargs, tmp_path):
    bad = tmp_path / 'garbage_key'
    bad.write_bytes(b'this is not a private key\n')
    with pytest.raises(PsshError) as excinfo:
        make_client(backend, server, client_kwargs, pkey=str(bad))
    assert isinstance(excinfo.value, (PKeyFileError, AuthenticationError))
    assert_names_host(excinfo.value, server.host)


@pytest.mark.timeout(60)
def test_encrypted_key(backend, server, client_kwargs, tmp_path):
    key = keygen(tmp_path, 'enc_key', passphrase='secret')
    server.add_authorized_key(key + '.pub')
    with make_client(backend, server, client_kwargs, pkey=key, password='secret') as cli:
        stdout, _, _ = run(cli, 'echo decrypted')
        assert stdout == ['decrypted']
    with pytest.raises(PsshError) as excinfo:
        make_client(backend, server, client_kwargs, pkey=key, password='not the passphrase')
    assert isinstance(excinfo.value, (AuthenticationError, PKeyFileError))
    assert_names_host(excinfo.value, server.host)
    with pytest.raises(PsshError) as excinfo:
        make_client(backend, server, client_kwargs, pkey=key)
    assert isinstance(excinfo.value, (AuthenticationError, PKeyFileError))
    assert_names_host(excinfo.value, server.host)


@pytest.mark.timeout(60)
@pytest.mark.parametrize('key_type,key_format', [
    ('rsa', None), ('rsa', 'PEM'), ('ecdsa', None), ('ecdsa', 'PEM'), ('ed25519', None)])
def test_other_key_types(backend, server, client_kwargs, tmp_path, key_type, key_format):
    key = keygen(tmp_path, 'key_%s' % key_type, key_type=key_type, key_format=key_format)
    server.add_authorized_key(key + '.pub')
    with make_client(backend, server, client_kwargs, pkey=key) as cli:
        stdout, _, _ = run(cli, 'echo %s' % key_type)
        assert stdout == [key_type]


@pytest.fixture(scope='module')
def rsa_server():
    with OpenSSHServer(key_type='rsa') as srv:
        yield srv


@pytest.mark.timeout(60)
def test_rsa_server(backend, rsa_server):
    with backend.SSHClient(rsa_server.host, port=rsa_server.port, user=rsa_server.user,
                           pkey=rsa_server.user_key, num_retries=1, timeout=10,
                           allow_agent=False, identity_auth=False) as cli:
        stdout, _, output = run(cli, 'echo rsa')
        assert stdout == ['rsa']
        assert output.exit_code == 0


# Patches IDENTITIES on the gevent client class, which the asyncio client's core reads.
@pytest.mark.backends('native', 'ssh')
@pytest.mark.timeout(60)
def test_identity_files_used_when_no_pkey(backend, server, tmp_path, monkeypatch):
    """identity_auth finds the key among the default identity files."""
    ssh_dir = tmp_path / '.ssh'
    ssh_dir.mkdir()
    shutil.copy(server.user_key, ssh_dir / 'id_ed25519')
    os.chmod(ssh_dir / 'id_ed25519', 0o600)
    identities = tuple(str(ssh_dir / name) for name in
                       ('id_rsa', 'id_dsa', 'identity', 'id_ecdsa', 'id_ed25519'))
    monkeypatch.setattr(backend.SSHClient, 'IDENTITIES', identities)
    with backend.SSHClient(server.host, port=server.port, user=server.user, allow_agent=False,
                           num_retries=1, timeout=10) as cli:
        stdout, _, _ = run(cli, 'echo identity')
        assert stdout == ['identity']


# ---------------------------------------------------------------------------
# connection errors


@pytest.mark.timeout(20)
def test_unknown_host(backend, client_kwargs):
    host = 'no-such-host.invalid'
    started = time.monotonic()
    with pytest.raises(UnknownHostError) as excinfo:
        backend.SSHClient(host, **dict(client_kwargs, retry_delay=1))
    assert time.monotonic() - started < 5
    assert_names_host(excinfo.value, host)
    assert host in excinfo.value.args
    assert isinstance(excinfo.value.args[0], str)


@pytest.mark.timeout(20)
def test_connection_refused_is_not_retried(backend, client_kwargs):
    port = free_port()
    started = time.monotonic()
    with pytest.raises(ConnectionRefusedError) as excinfo:
        backend.SSHClient('127.0.0.1', **dict(client_kwargs, port=port, num_retries=3, retry_delay=5))
    assert time.monotonic() - started < 2
    assert isinstance(excinfo.value, ConnectionError)
    assert_names_host(excinfo.value, '127.0.0.1')
    assert '127.0.0.1' in excinfo.value.args


@pytest.fixture
def silent_listener():
    """A loopback port that accepts TCP connections but never says anything."""
    with MisbehavingListener('silent') as listener:
        yield listener


@pytest.mark.timeout(30)
def test_connect_timeout_no_banner(backend, silent_listener, client_kwargs):
    port = silent_listener.port
    started = time.monotonic()
    with pytest.raises(ConnectTimeoutError) as excinfo:
        backend.SSHClient('127.0.0.1', **dict(client_kwargs, port=port, timeout=1, num_retries=1))
    elapsed = time.monotonic() - started
    assert 0.8 <= elapsed < 5
    exc = excinfo.value
    assert isinstance(exc, Timeout)
    assert isinstance(exc, TimeoutError)
    assert isinstance(exc, ConnectionError)
    assert isinstance(exc, HostConnectionError)
    assert_names_host(exc, '127.0.0.1')
    assert '127.0.0.1' in exc.args
    assert silent_listener.accepted == 1


@pytest.mark.waits(2)
@pytest.mark.timeout(30)
def test_connect_timeout_retried(backend, silent_listener, client_kwargs):
    port = silent_listener.port
    started = time.monotonic()
    with pytest.raises(ConnectTimeoutError):
        backend.SSHClient('127.0.0.1', **dict(client_kwargs, port=port, timeout=0.5, num_retries=3,
                                              retry_delay=0.2))
    elapsed = time.monotonic() - started
    # Three attempts of 0.5 s and two pauses of 0.2 s.
    assert 1.5 <= elapsed < 6
    assert silent_listener.accepted == 3


@pytest.fixture
def closing_listener():
    """A loopback port that accepts connections and closes them at once."""
    with MisbehavingListener('hang_up') as listener:
        yield listener


@pytest.mark.timeout(30)
def test_connection_error_after_retries(backend, closing_listener, client_kwargs):
    port = closing_listener.port
    with pytest.raises(ConnectionError) as excinfo:
        backend.SSHClient('127.0.0.1', **dict(client_kwargs, port=port, num_retries=2, retry_delay=0.1))
    exc = excinfo.value
    assert isinstance(exc, HostConnectionError)
    assert not isinstance(exc, ConnectionRefusedError)
    assert_names_host(exc, '127.0.0.1')
    assert '127.0.0.1' in exc.args
    assert closing_listener.accepted == 2


# ---------------------------------------------------------------------------
# IPv6


@pytest.fixture(scope='module')
def ipv6_server():
    if not ipv6_loopback_usable():
        pytest.skip('IPv6 loopback ::1 cannot be bound on this machine')
    with OpenSSHServer(address='::1') as srv:
        yield srv


@pytest.mark.timeout(30)
def test_ipv6_connect(backend, ipv6_server):
    kwargs = dict(port=ipv6_server.port, user=ipv6_server.user, pkey=ipv6_server.user_key,
                  num_retries=1, timeout=10, allow_agent=False, identity_auth=False)
    with backend.SSHClient('::1', **kwargs) as cli:
        stdout, _, output = run(cli, 'echo $SSH_CONNECTION')
        assert output.exit_code == 0
        assert stdout[0].startswith('::1 ')
    with backend.SSHClient('::1', ipv6_only=True, **kwargs) as cli:
        stdout, _, _ = run(cli, 'echo v6 only')
        assert stdout == ['v6 only']


@pytest.mark.timeout(10)
def test_ipv6_only_with_ipv4_address(backend, server, client_kwargs):
    with pytest.raises(NoIPv6AddressFoundError) as excinfo:
        backend.SSHClient('127.0.0.1', **dict(client_kwargs, ipv6_only=True))
    assert_names_host(excinfo.value, '127.0.0.1')
