"""Drop-in behaviour of timeouts of 0, command encoding, host_args, stdin,
exit codes after closing, disconnect() and output lists (issue 13, items 4-12).

Every test runs against both backends, on a real sshd.
"""
import logging
import warnings

import gevent
import pytest

from pssh.clients.base.single import build_command
from pssh.config import HostConfig
from pssh.exceptions import HostArgumentError, Timeout

from conftest import AIO_WHEN_ASKED

#: The backends a test here runs on when it asks for the backend fixture (see conftest).
BACKENDS = AIO_WHEN_ASKED


def _client(backend, server, client_kwargs, **overrides):
    return backend.SSHClient(server.host, **dict(client_kwargs, **overrides))


def _parallel(backend, server, client_kwargs, count=1, **overrides):
    return backend.ParallelSSHClient([server.host] * count, **dict(client_kwargs, **overrides))


def _read_in_background(host_out):
    return gevent.spawn(lambda: list(host_out.stdout))


# ----------------------------------------------------------------------
# Item 4: a connection timeout of 0 means no timeout.

@pytest.mark.timeout(60)
def test_single_client_timeout_zero_is_no_timeout(backend, server, client_kwargs):
    with _client(backend, server, client_kwargs, timeout=0) as client:
        assert client.timeout is None
        output = client.run_command('echo connected')
        assert list(output.stdout) == ['connected']
        client.wait_finished(output)
        assert output.exit_code == 0


@pytest.mark.timeout(60)
def test_parallel_client_timeout_zero_is_no_timeout(backend, server, client_kwargs):
    client = _parallel(backend, server, client_kwargs, count=2, timeout=0)
    output = client.run_command('echo connected')
    client.join(output)
    assert [list(host_out.stdout) for host_out in output] == [['connected'], ['connected']]
    assert [host_out.exit_code for host_out in output] == [0, 0]
    assert [host_out.client.timeout for host_out in output] == [None, None]


@pytest.mark.timeout(60)
def test_host_config_timeout_zero_is_no_timeout(backend, server, client_kwargs):
    # The host's 0 wins over the client's own timeout, and means none.
    client = _parallel(backend, server, client_kwargs, count=2, timeout=10,
                       host_config=[HostConfig(timeout=0), HostConfig(timeout=5)])
    output = client.run_command('echo connected')
    client.join(output)
    assert [list(host_out.stdout) for host_out in output] == [['connected'], ['connected']]
    assert [host_out.client.timeout for host_out in output] == [None, 5]


# ----------------------------------------------------------------------
# Item 5: read_timeout=0 is no read timeout; join/wait_finished/join_shells
# with timeout=0 check now.

@pytest.mark.timeout(60)
def test_read_timeout_zero_single_client_waits_for_output(backend, server, client_kwargs):
    with _client(backend, server, client_kwargs) as client:
        output = client.run_command('read line; echo got $line', read_timeout=0)
        assert output.read_timeout is None
        reader = _read_in_background(output)
        gevent.sleep(0)  # the reader is now waiting for output, with no limit
        assert not reader.ready()
        output.stdin.write('it\n')
        assert reader.get(timeout=10) == ['got it']
        client.wait_finished(output)
        assert output.exit_code == 0


@pytest.mark.timeout(60)
def test_deprecated_run_command_timeout_zero_is_no_read_timeout(backend, server, client_kwargs):
    with _client(backend, server, client_kwargs) as client:
        with warnings.catch_warnings():
            warnings.simplefilter('ignore', DeprecationWarning)
            output = client.run_command('read line; echo got $line', timeout=0)
        reader = _read_in_background(output)
        gevent.sleep(0)
        assert not reader.ready()
        output.stdin.write('old\n')
        assert reader.get(timeout=10) == ['got old']


@pytest.mark.timeout(60)
def test_read_timeout_zero_parallel_client_waits_for_output(backend, server, client_kwargs):
    client = _parallel(backend, server, client_kwargs, count=2)
    output = client.run_command('read line; echo got $line', read_timeout=0)
    readers = [_read_in_background(host_out) for host_out in output]
    gevent.sleep(0)
    assert not any(reader.ready() for reader in readers)
    for index, host_out in enumerate(output):
        host_out.stdin.write('%s\n' % index)
    assert [reader.get(timeout=10) for reader in readers] == [['got 0'], ['got 1']]
    client.join(output)


@pytest.mark.timeout(60)
def test_wait_finished_and_join_timeout_zero_check_now(backend, server, client_kwargs):
    client = _parallel(backend, server, client_kwargs, count=2)
    output = client.run_command('read line; echo got $line')
    with pytest.raises(Timeout) as excinfo:
        client.join(output, timeout=0)
    assert excinfo.value.args[1] == 0
    assert excinfo.value.args[2] == []
    assert excinfo.value.args[3] == output
    with pytest.raises(Timeout):
        output[0].client.wait_finished(output[0], timeout=0)
    for host_out in output:
        host_out.stdin.write('go\n')
    client.join(output)
    # Everything has finished: a check now passes.
    client.join(output, timeout=0)
    output[0].client.wait_finished(output[0], timeout=0)
    assert [list(host_out.stdout) for host_out in output] == [['got go'], ['got go']]


@pytest.mark.timeout(60)
def test_join_shells_timeout_zero_checks_now(backend, server, client_kwargs, tmp_path):
    client = _parallel(backend, server, client_kwargs)
    # A shell that does not end on end-of-input: it waits on a FIFO.
    fifo = tmp_path / 'gate'
    shells = client.open_shell()
    shells[0].run('mkfifo %s && read gate < %s; echo released $gate' % (fifo, fifo))
    with pytest.raises(Timeout) as excinfo:
        client.join_shells(shells, timeout=0)
    assert excinfo.value.args[2:] == ([], shells)
    gate = client.run_command('while [ ! -p %s ]; do sleep 0.05; done; echo open > %s'
                              % (fifo, fifo))
    client.join(gate)
    client.join_shells(shells)
    assert list(shells[0].stdout) == ['released open']
    assert shells[0].exit_code == 0
    # Ended shells pass a check now.
    done = client.open_shell()
    done[0].run('exit 0')
    done[0].output.client.wait_finished(done[0].output)
    client.join_shells(done, timeout=0)
    assert done[0].exit_code == 0


# ----------------------------------------------------------------------
# Item 6

@pytest.mark.timeout(60)
def test_finished_of_no_channel_is_none(backend, server, client_kwargs):
    with _client(backend, server, client_kwargs) as client:
        assert client.finished(None) is None
        output = client.run_command('read line')
        assert client.finished(output.channel) is False
        output.stdin.write('\n')
        client.wait_finished(output)
        assert client.finished(output.channel) is True


# ----------------------------------------------------------------------
# Item 7: the command line is encoded with the run's encoding.

@pytest.mark.timeout(60)
def test_command_is_sent_in_the_given_encoding(backend, server, client_kwargs):
    with _client(backend, server, client_kwargs) as client:
        command = "printf %s '\xbc' | od -An -tx1"
        output = client.run_command(command, encoding='latin-1')
        assert output.fully_qualified_command == command.encode('latin-1')
        assert [line.strip() for line in output.stdout] == ['bc']
        echoed = client.run_command("echo '\xbc'", encoding='latin-1')
        assert list(echoed.stdout) == ['\xbc']
        client.wait_finished(echoed)
        assert echoed.exit_code == 0


@pytest.mark.timeout(60)
def test_wrapped_command_is_sent_in_the_given_encoding(backend, server, client_kwargs):
    with _client(backend, server, client_kwargs) as client:
        output = client.run_command("echo '\xbc'", shell='sh -c', encoding='latin-1')
        assert output.fully_qualified_command == build_command(
            "echo '\xbc'", shell='sh -c').encode('latin-1')
        assert list(output.stdout) == ['\xbc']


@pytest.mark.timeout(60)
def test_parallel_command_is_sent_in_the_given_encoding(backend, server, client_kwargs):
    client = _parallel(backend, server, client_kwargs, count=2)
    output = client.run_command("printf %%s '%s' | od -An -tx1", host_args=['\xbc', '\xe9'],
                                encoding='latin-1')
    assert [host_out.fully_qualified_command for host_out in output] == [
        b"printf %s '\xbc' | od -An -tx1", b"printf %s '\xe9' | od -An -tx1"]
    assert [[line.strip() for line in host_out.stdout] for host_out in output] == [
        ['bc'], ['e9']]


@pytest.mark.timeout(60)
def test_command_not_representable_in_the_encoding_raises_at_the_call(backend, server, client_kwargs):
    with _client(backend, server, client_kwargs) as client:
        with pytest.raises(UnicodeEncodeError):
            client.run_command("echo '\u20ac'", encoding='latin-1')
        client_p = _parallel(backend, server, client_kwargs)
        with pytest.raises(UnicodeEncodeError):
            client_p.run_command("echo '\u20ac'", encoding='ascii')
        # Nothing was left half done.
        output = client.run_command('echo still fine')
        assert list(output.stdout) == ['still fine']


@pytest.mark.timeout(60)
def test_utf16_encoding_sends_the_command_as_utf8(backend, server, client_kwargs):
    with _client(backend, server, client_kwargs) as client:
        command = "printf 'h\\000\\351\\000' # \xe9"
        output = client.run_command(command, encoding='utf-16-le')
        assert output.fully_qualified_command == command.encode('utf-8')
        assert list(output.stdout) == ['h\xe9']


@pytest.mark.timeout(60)
def test_shell_run_uses_the_shell_encoding(backend, server, client_kwargs):
    with _client(backend, server, client_kwargs) as client:
        shell = client.open_shell(encoding='latin-1')
        shell.run("printf %s '\xbc' | od -An -tx1")
        shell.run("echo '\xbc'")
        with pytest.raises(UnicodeEncodeError):
            shell.run("echo '\u20ac'")
        shell.run('exit 0')
        client.wait_finished(shell.output)
        assert [line.strip() for line in shell.stdout] == ['bc', '\xbc']


# ----------------------------------------------------------------------
# Item 8: host_args

@pytest.mark.timeout(60)
@pytest.mark.parametrize('host_args', [('one', 'two', 'three'), ['one', 'two', 'three'],
                                       [('one',), ('two',), ('three',)]])
def test_host_args_format_each_host_in_order(backend, server, client_kwargs, host_args):
    client = _parallel(backend, server, client_kwargs, count=3)
    output = client.run_command('echo %s', host_args=host_args)
    client.join(output)
    assert [list(host_out.stdout) for host_out in output] == [['one'], ['two'], ['three']]


@pytest.mark.timeout(60)
def test_host_args_dicts(backend, server, client_kwargs):
    client = _parallel(backend, server, client_kwargs, count=2)
    output = client.run_command('echo %(word)s', host_args=[{'word': 'a'}, {'word': 'b'}])
    assert [list(host_out.stdout) for host_out in output] == [['a'], ['b']]


@pytest.mark.timeout(60)
def test_host_args_wrong_count_is_a_type_error_before_too_few(backend, server, client_kwargs):
    client = _parallel(backend, server, client_kwargs, count=3)
    with pytest.raises(TypeError) as excinfo:
        client.run_command('echo %s %s', host_args=[('a', 'b'), ('c',)])
    assert isinstance(excinfo.value, HostArgumentError)
    assert server.host in str(excinfo.value) and 'host_args[1]' in str(excinfo.value)


@pytest.mark.timeout(60)
def test_host_args_missing_key_is_a_key_error_before_too_few(backend, server, client_kwargs):
    client = _parallel(backend, server, client_kwargs, count=3)
    with pytest.raises(KeyError) as excinfo:
        client.run_command('echo %(word)s', host_args=[{'word': 'a'}, {'other': 'b'}])
    assert isinstance(excinfo.value, HostArgumentError)
    assert "'word'" in str(excinfo.value) and server.host in str(excinfo.value)


@pytest.mark.timeout(60)
def test_host_args_too_few_is_host_argument_error(backend, server, client_kwargs):
    client = _parallel(backend, server, client_kwargs, count=3)
    with pytest.raises(HostArgumentError) as excinfo:
        client.run_command('echo %s', host_args=['a', 'b'])
    assert not isinstance(excinfo.value, (TypeError, KeyError))
    assert '2 host_args for 3 hosts' in str(excinfo.value)


# ----------------------------------------------------------------------
# Item 9: stdin of an ended command

@pytest.mark.timeout(60)
def test_stdin_write_to_finished_command_is_dropped_with_a_log_line(backend, server, client_kwargs,
                                                                     caplog):
    caplog.set_level(logging.DEBUG, logger='pssh')
    with _client(backend, server, client_kwargs) as client:
        output = client.run_command('exit 3')
        client.wait_finished(output)
        output.stdin.write('password\n')
        output.stdin.write(b'x' * (1024 * 1024))
        assert output.exit_code == 3
        dropped = [r.getMessage() for r in caplog.records if 'dropped' in r.getMessage()]
        assert dropped == [
            '%s: command has ended; 9 bytes written to its stdin dropped' % server.host,
            '%s: command has ended; 1048576 bytes written to its stdin dropped' % server.host]


@pytest.mark.timeout(60)
def test_stdin_write_after_close_channel_is_dropped(backend, server, client_kwargs, caplog):
    caplog.set_level(logging.DEBUG, logger='pssh')
    with _client(backend, server, client_kwargs) as client:
        output = client.run_command('read line')
        client.close_channel(output.channel)
        output.stdin.write('late\n')
        assert any('5 bytes written to its stdin dropped' in r.getMessage()
                   for r in caplog.records)


@pytest.mark.timeout(60)
def test_password_written_to_every_host_whatever_their_state(backend, server, client_kwargs):
    # As scripts feed sudo: some commands have ended by the time the write comes.
    client = _parallel(backend, server, client_kwargs, count=4)
    output = client.run_command('%s', host_args=['true', 'read pw; echo $pw', 'exit 2',
                                                 'head -c 1 >/dev/null'])
    output[0].client.wait_finished(output[0])
    output[2].client.wait_finished(output[2])
    for host_out in output:
        host_out.stdin.write('secret\n' + 'x' * (256 * 1024))
    client.join(output)
    assert [host_out.exit_code for host_out in output] == [0, 0, 2, 0]
    assert list(output[1].stdout) == ['secret']


# ----------------------------------------------------------------------
# Item 10: exit_code after a read Timeout and close_channel()

@pytest.mark.waits(3)
@pytest.mark.timeout(60)
def test_exit_code_stays_none_after_timeout_and_close_channel(backend, server, client_kwargs):
    with _client(backend, server, client_kwargs) as client:
        # (read_timeout long enough for 'started' to arrive on a loaded machine)
        for _round in range(3):
            output = client.run_command('echo started; read line; echo never', read_timeout=1)
            lines = []
            with pytest.raises(Timeout):
                for line in output.stdout:
                    lines.append(line)
            assert lines == ['started']
            client.close_channel(output.channel)
            client.wait_finished(output, timeout=10)
            assert output.exit_code is None
            assert output.exit_signal is None
            assert output.exception is None
        # The session is still good.
        output = client.run_command('exit 4')
        client.wait_finished(output)
        assert output.exit_code == 4


@pytest.mark.timeout(60)
def test_close_channel_after_the_end_keeps_exit_code(backend, server, client_kwargs):
    with _client(backend, server, client_kwargs) as client:
        output = client.run_command('echo done; exit 5')
        client.wait_finished(output)
        client.close_channel(output.channel)
        assert output.exit_code == 5
        assert list(output.stdout) == ['done']


# ----------------------------------------------------------------------
# Item 11: the deprecated disconnect() never loses output

# Deprecated disconnect(): the asyncio client has none.
@pytest.mark.backends('native', 'ssh')
@pytest.mark.timeout(60)
def test_disconnect_keeps_output_of_earlier_commands(backend, server, client_kwargs):
    client = _client(backend, server, client_kwargs)
    outputs = [client.run_command('seq 1 2000; echo err%d >&2; exit %d' % (i, i))
               for i in range(3)]
    with pytest.warns(DeprecationWarning):
        client.disconnect()
    for index, host_out in enumerate(outputs):
        assert list(host_out.stdout) == [str(n) for n in range(1, 2001)]
        assert list(host_out.stderr) == ['err%d' % index]
        assert host_out.exit_code == index
        assert host_out.exception is None
    closer = client._closer
    if closer is not None:
        closer.join(10)
    assert client.connection_lost


# Deprecated disconnect(): the asyncio client has none.
@pytest.mark.backends('native', 'ssh')
@pytest.mark.timeout(60)
def test_disconnect_waits_for_running_commands(backend, server, client_kwargs):
    client = _client(backend, server, client_kwargs)
    output = client.run_command('read line; echo got $line; exit 7')
    with pytest.warns(DeprecationWarning):
        client.disconnect()
    assert not client.connection_lost
    output.stdin.write('last\n')
    assert list(output.stdout) == ['got last']
    assert output.exit_code == 7
    client._closer.join(10)
    assert client.connection_lost


# Deprecated disconnect(): the asyncio client has none.
@pytest.mark.backends('native', 'ssh')
@pytest.mark.timeout(60)
def test_disconnect_with_nothing_running_closes_at_once(backend, server, client_kwargs):
    client = _client(backend, server, client_kwargs)
    output = client.run_command('echo x')
    client.wait_finished(output)
    with pytest.warns(DeprecationWarning):
        client.disconnect()
    assert client.connection_lost
    assert list(output.stdout) == ['x']


# ----------------------------------------------------------------------
# Item 12 (the buffer itself: tests/integration/test_output_unit.py)

@pytest.mark.timeout(60)
def test_join_and_finished_skip_none_items(backend, server, client_kwargs):
    client = _parallel(backend, server, client_kwargs, count=2)
    output = client.run_command('echo hi')
    client.join([None] + list(output) + [None])
    assert client.finished([None, output[0], None])
    with_none = [None, output[1]]
    client.join(with_none, timeout=0)
    assert [list(host_out.stdout) for host_out in output] == [['hi'], ['hi']]


@pytest.mark.timeout(60)
def test_exit_code_stays_none_when_closed_after_output_ended_but_before_exit(backend, server,
                                                                            client_kwargs):
    """A command that closed its output and runs on has no exit status yet:
    closing its channel must not make one up (libssh2 would report 0)."""
    with _client(backend, server, client_kwargs) as client:
        output = client.run_command('echo ready; exec >&- 2>&-; read line', read_timeout=0.5)
        lines = []
        with pytest.raises(Timeout):
            for line in output.stdout:
                lines.append(line)
        assert lines == ['ready']
        client.close_channel(output.channel)
        client.wait_finished(output, timeout=10)
        assert output.exit_code is None
        assert output.exception is None


@pytest.mark.timeout(60)
def test_closing_an_ended_shell_keeps_the_connection(backend, server, client_kwargs, tmp_path):
    """End-of-file for a channel the server has freed makes it drop the whole
    connection ("ieof packet referred to nonexistent channel"): closing a
    shell that has exited sends nothing."""
    fifo = tmp_path / 'gate'
    with _client(backend, server, client_kwargs) as client:
        shell = client.open_shell()
        shell.run('mkfifo %s && read gate < %s; exit 3' % (fifo, fifo))
        shell.stdin.close()  # the shell ends once the gate opens
        gate = client.run_command('while [ ! -p %s ]; do sleep 0.05; done; echo open > %s'
                                  % (fifo, fifo))
        client.wait_finished(gate)
        client.wait_finished(shell.output)
        shell.close()
        with shell:
            pass
        output = client.run_command('echo still here')
        client.wait_finished(output)
        assert list(output.stdout) == ['still here']
        assert shell.exit_code == 3
