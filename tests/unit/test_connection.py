"""Connection on a FakeDriver: retries, the handshake, the error boundary, keepalive, opens."""
import errno

import gevent
import pytest

from fakes import FakeChannel, FakeDriver, FakeLibraryError, fake_connection, pipe
from pssh.clients.base import _connection
from pssh.clients.base._driver import AGAIN
from pssh.exceptions import (
    AuthenticationError, ConnectTimeoutError, HostConnectionError, HostConnectionRefusedError,
    PacketLengthError, SessionError, SSHError, Timeout)

pytestmark = pytest.mark.timeout(30)


class FakeClock:
    """Records the retry delays instead of sleeping them."""

    def __init__(self, monkeypatch):
        self.slept = []
        monkeypatch.setattr(_connection.gevent, 'sleep', self.sleep)

    def sleep(self, seconds=0):
        self.slept.append(seconds)


def failing_transport(*errors):
    errors = list(errors)

    def open_transport():
        error = errors.pop(0) if errors else None
        if error is not None:
            raise error
        return pipe()
    return open_transport


def test_handshake_retried_until_done_then_host_key_checked():
    driver = FakeDriver(agains={'handshake': 3})
    conn = fake_connection(driver)
    assert conn.connect(pipe, 1, 0) == 1
    assert [name for name, _ in driver.calls] == ['start'] + ['handshake'] * 4 + ['host_key']
    assert conn.io is not None and not conn.lost
    conn.close()
    assert conn.io is None and conn.lost and driver.session is None


def test_retries_wait_retry_delay_between_attempts(monkeypatch):
    clock = FakeClock(monkeypatch)
    conn = fake_connection(FakeDriver())
    opener = failing_transport(OSError(errno.EHOSTUNREACH, 'No route to host'),
                               OSError(errno.EHOSTUNREACH, 'No route to host'))
    assert conn.connect(opener, 3, 7.5) == 3
    assert clock.slept == [7.5, 7.5]


def test_all_attempts_failing_reports_the_last_error_and_the_count(monkeypatch):
    clock = FakeClock(monkeypatch)
    conn = fake_connection(FakeDriver())
    opener = failing_transport(*[OSError(errno.EHOSTUNREACH, 'No route to host')] * 3)
    with pytest.raises(HostConnectionError) as info:
        conn.connect(opener, 3, 2)
    assert info.value.args == ('Error connecting to %s:%s: %s (attempt %s of %s)', 'fake', 22,
                               'No route to host', 3, 3)
    assert clock.slept == [2, 2]


def test_refused_connection_is_not_retried(monkeypatch):
    clock = FakeClock(monkeypatch)
    conn = fake_connection(FakeDriver())
    with pytest.raises(HostConnectionRefusedError) as info:
        conn.connect(failing_transport(ConnectionRefusedError(errno.ECONNREFUSED, 'refused')),
                     5, 1)
    assert info.value.args[2:] == ('fake', 22)
    assert clock.slept == []


def test_handshake_that_never_finishes_times_out_on_each_attempt(monkeypatch):
    FakeClock(monkeypatch)
    driver = FakeDriver(agains={'handshake': 10 ** 9})
    driver.directions = 1  # waits for bytes that never come
    conn = fake_connection(driver, timeout=0.05)
    with pytest.raises(ConnectTimeoutError) as info:
        conn.connect(pipe, 2, 0)
    assert info.value.args[1:] == ('fake', 22, 'timed out after 0.05 seconds', 2, 2)
    assert driver.calls.count(('start', ())) == 2
    assert driver.calls.count(('release', ())) == 2


def test_library_errors_become_ours_through_translate():
    conn = fake_connection(FakeDriver())
    conn.connect(pipe, 1, 0)

    def refuse():
        raise FakeLibraryError('auth', 'no')
    with pytest.raises(AuthenticationError) as info:
        conn.call(refuse, what='logging in')
    assert info.value.args == ('refused (%s)', 'no')
    assert isinstance(info.value.__cause__, FakeLibraryError)


def test_a_wait_past_the_timeout_is_a_timeout_naming_what_and_host():
    driver = FakeDriver()
    driver.directions = 1
    conn = fake_connection(driver, timeout=0.05)
    conn.connect(pipe, 1, 0)
    with pytest.raises(Timeout) as info:
        conn.call(lambda: AGAIN, timeout=0.05, what='opening a channel')
    assert info.value.args == ('%s on %s:%s did not finish within %s seconds',
                               'opening a channel', 'fake', 22, 0.05)


def test_errors_after_we_closed_say_so():
    conn = fake_connection(FakeDriver())
    conn.connect(pipe, 1, 0)
    io = conn.io
    conn.close('the test closed it')
    error = conn.error_for(FakeLibraryError('other'), io, 'reading output', None)
    assert type(error) is SessionError
    assert error.args == ('Connection to %s:%s was closed by this client (%s) while %s', 'fake',
                          22, 'the test closed it', 'reading output')
    with pytest.raises(SessionError) as info:
        conn.call(lambda: 0, what='writing')
    assert info.value.args[3:] == ('the test closed it', 'writing')


def test_a_lost_connection_is_said_to_be_lost():
    conn = fake_connection(FakeDriver())
    conn.connect(pipe, 1, 0)
    conn.io.fail('EOF')
    error = conn.error_for(FakeLibraryError('other', 'socket recv'), conn.io, 'reading', None)
    assert type(error) is SSHError
    assert error.args[:4] == ('Connection to %s:%s lost: %s (%s)', 'fake', 22,
                              'closed by the server')
    with pytest.raises(SSHError) as info:
        conn.check()
    assert 'closed by the server' in str(info.value)


def test_a_guard_refusal_is_reported_to_every_caller():
    conn = fake_connection(FakeDriver())
    conn.connect(pipe, 1, 0)
    refusal = PacketLengthError('Packet length %s from %s:%s refused: %s', 4294967295, 'fake',
                                22, 4294967295, 'too large')
    conn.io.fail(refusal)
    error = conn.error_for(FakeLibraryError('other'), conn.io, 'reading', None)
    assert type(error) is PacketLengthError and error.args == refusal.args


def test_keepalive_gives_up_a_silent_server(monkeypatch):
    driver = FakeDriver()
    conn = fake_connection(driver)
    conn.connect(pipe, 1, 0)
    monkeypatch.setattr(conn.io, 'silent_for', lambda: 3 * 60.0)
    conn.start_keepalive(60)
    assert ('keepalive_config', (60,)) in driver.calls
    gevent.sleep(0)
    gevent.sleep(0)
    assert conn.io.closed_reason == 'no reply from the server to keepalives for 180 seconds'
    with pytest.raises(SSHError) as info:
        conn.call(lambda: AGAIN, what='reading')
    assert 'no reply from the server to keepalives' in str(info.value)


def test_keepalive_sends_while_the_server_answers(monkeypatch):
    driver = FakeDriver()
    conn = fake_connection(driver)
    conn.connect(pipe, 1, 0)
    monkeypatch.setattr(conn.io, 'silent_for', lambda: 1.0)
    conn.start_keepalive(60)
    gevent.sleep(0)
    gevent.sleep(0)
    assert driver.keepalives == 1 and conn.io.closed_reason is None
    conn.close()


def test_opens_take_turns_and_an_abandoned_open_is_finished_and_closed():
    driver = FakeDriver()
    conn = fake_connection(driver, timeout=0.05)
    conn.connect(pipe, 1, 0)
    driver.directions = 1
    driver.agains['open_session'] = 10 ** 9
    with pytest.raises(Timeout):
        conn.open_channel(driver.open_session, what='opening a channel')
    # Given up: a finisher holds the open lock until the server answers.
    assert conn.open_lock.locked()
    with pytest.raises(Timeout) as info:
        conn.open_channel(driver.open_session, what='opening another')
    assert 'an earlier open on this connection is still waiting' in info.value.args[0]
    channel = FakeChannel()
    driver.accept['channel'] = channel
    driver.agains['open_session'] = 0
    driver.directions = 2
    conn.io.notify()
    gevent.sleep(0.01)
    assert not conn.open_lock.locked()
    assert channel.closed  # the late answer's channel was closed, not handed out
