"""Channel and the command machinery (_channel, _command) on a FakeDriver."""
import pytest

from fakes import FakeChannel, FakeDriver, fake_connection, pipe
from pssh.clients.base._channel import Channel
from pssh.clients.base._command import (
    build_command, command_encoding, make_output, signal_exit_code, write_stdin)
from pssh.clients.base._driver import ExitStatus
from pssh.exceptions import SessionError

pytestmark = pytest.mark.timeout(30)


class Owner:
    """What a HostOutput needs of its client."""
    host = 'fake'
    alias = 'the-alias'


def channel_on(driver, raw):
    conn = fake_connection(driver)
    conn.connect(pipe, 1, 0)
    return Channel(raw, conn)


def test_output_and_exit_status_reach_the_host_output():
    raw = FakeChannel(b'one\ntwo\n', b'oops\n', ExitStatus(3, None))
    driver = FakeDriver(agains={'read': 2, 'wait_closed': 2})
    channel = channel_on(driver, raw)
    output = make_output(Owner(), channel, 'utf-8', None, b'cmd')
    assert list(output.stdout) == ['one', 'two']
    assert list(output.stderr) == ['oops']
    assert output.exit_code == 3 and output.alias == 'the-alias'
    assert raw.closed  # the server's close answered


def test_a_signal_ends_the_command_with_minus_its_number():
    raw = FakeChannel(status=ExitStatus(signal_exit_code('KILL'), 'KILL'))
    channel = channel_on(FakeDriver(), raw)
    output = make_output(Owner(), channel, 'utf-8', None, b'cmd')
    assert list(output.stdout) == []
    assert (output.exit_code, channel.exit_signal) == (-9, 'KILL')


@pytest.mark.parametrize('name, code', [('KILL', -9), ('term', -15), ('HUP', -1),
                                        ('NOSUCH', None), (None, None), ('', None)])
def test_signal_exit_code(name, code):
    assert signal_exit_code(name) == code


def test_requests_go_to_the_driver_in_order():
    raw = FakeChannel()
    channel = channel_on(FakeDriver(agains={'request_exec': 3}), raw)
    channel.request('pty')
    channel.request('exec', b'echo hi')
    assert raw.requests == [('pty', ()), ('exec', (b'echo hi',))]


def test_stdin_is_written_whole_and_end_of_file_sent_once():
    raw = FakeChannel()
    driver = FakeDriver(agains={'write': 2})
    channel = channel_on(driver, raw)
    write_stdin(channel, b'x' * 200_000)
    assert bytes(raw.written) == b'x' * 200_000
    channel.end_input()
    channel.end_input()
    assert raw.eof_sent and [name for name, _ in driver.calls].count('send_eof') == 1
    with pytest.raises(SessionError) as info:
        write_stdin(channel, b'more')
    assert 'end-of-file was sent already' in info.value.args[0]


def test_stdin_of_an_ended_command_is_dropped():
    raw = FakeChannel()
    driver = FakeDriver()
    channel = channel_on(driver, raw)
    channel._done.set()
    write_stdin(channel, b'password\n')
    assert raw.written == b'' and 'write' not in [name for name, _ in driver.calls]


def test_shut_closes_once_and_not_on_a_closed_connection():
    raw = FakeChannel()
    driver = FakeDriver()
    channel = channel_on(driver, raw)
    channel.shut()
    channel.shut()
    assert [name for name, _ in driver.calls].count('close') == 1
    other = Channel(FakeChannel(), channel.conn)
    channel.conn.close()
    other.shut()
    assert other.closed and not other.raw.closed


@pytest.mark.parametrize('args, line', [
    (('ls',), 'ls'),
    (('ls', True), "sudo -S $SHELL -c 'ls'"),
    (('ls', False, 'bob'), "sudo -u bob -S $SHELL -c 'ls'"),
    (('ls', False, 'x; rm -rf /'), "sudo -u 'x; rm -rf /' -S $SHELL -c 'ls'"),
    (("it's", False, None, 'bash -c'), "bash -c 'it'\\''s'"),
])
def test_build_command(args, line):
    assert build_command(*args) == line


def test_command_encoding_falls_back_to_utf8_where_ascii_is_not_ascii():
    assert command_encoding('latin-1') == 'latin-1'
    assert command_encoding('utf-16') == 'utf-8'
    assert command_encoding('no-such-codec') == 'utf-8'
