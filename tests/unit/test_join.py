"""Waiting for commands: SSHClient.wait_finished and ParallelSSHClient.join
timeouts, on whole clients over FakeDriver; the deadline arithmetic of join on a
fake clock."""
import gevent
import pytest

from fakes import FAKE_LOGIN, fake_clients, release
from pssh.clients.base import parallel
from pssh.clients.base._channel import Channel
from pssh.exceptions import SSHError, Timeout
from pssh.output import HostOutput

pytestmark = pytest.mark.timeout(30)

HOSTS = ['host-0', 'host-1', 'host-2']
JOIN_TIMEOUT = 'Timeout of %s sec(s) reached with commands still running'


def same(outputs, expected):
    """The same HostOutput objects, in the same order."""
    return len(outputs) == len(expected) and all(a is b for a, b in zip(outputs, expected))


# ---------------------------------------------------------------------------
# On the event loop's own clock: short timeouts, commands that never end.


def test_wait_finished_timeout_names_the_host_port_and_timeout():
    SSHClient, _, drivers = fake_clients(hanging=('host-1',))
    client = SSHClient('host-1', port=2222, **FAKE_LOGIN)
    output = client.run_command('cmd')
    with pytest.raises(Timeout) as info:
        client.wait_finished(output, timeout=0.05)
    assert type(info.value) is Timeout
    assert info.value.args == ('Command on %s:%s did not finish within %s seconds',
                               'host-1', 2222, 0.05)
    assert str(info.value) == 'Command on host-1:2222 did not finish within 0.05 seconds'
    assert output.exit_code is None
    # Waiting again works once the command ends.
    release(drivers['host-1'])
    assert client.wait_finished(output, timeout=5) is None
    assert output.exit_code == 0
    client.close()


def test_join_timeout_gives_the_finished_and_unfinished_outputs():
    _, ParallelSSHClient, drivers = fake_clients(hanging=('host-1',))
    client = ParallelSSHClient(HOSTS, **FAKE_LOGIN)
    output = client.run_command('cmd')
    with pytest.raises(Timeout) as info:
        client.join(output, timeout=0.05)
    assert type(info.value) is Timeout
    message, timeout, finished, unfinished = info.value.args
    assert (message, timeout) == (JOIN_TIMEOUT, 0.05)
    assert same(finished, [output[0], output[2]]) and same(unfinished, [output[1]])
    assert [host_out.exit_code for host_out in finished] == [0, 0]
    assert unfinished[0].exit_code is None
    # join may be called again, here once the last command has ended.
    release(drivers['host-1'])
    assert client.join(output, timeout=5) is None
    assert [host_out.exit_code for host_out in output] == [0, 0, 0]
    client.close()


def test_join_without_timeout_waits_for_every_command():
    _, ParallelSSHClient, drivers = fake_clients(hanging=('host-2',))
    client = ParallelSSHClient(HOSTS, **FAKE_LOGIN)
    output = client.run_command('cmd')
    # host-2's command ends while join waits for it.
    waiting = gevent.spawn(client.join, output)
    waiting.join(timeout=0.05)
    assert not waiting.ready()
    release(drivers['host-2'])
    assert waiting.get(timeout=5) is None
    assert [host_out.exit_code for host_out in output] == [0, 0, 0]
    client.close()


@pytest.mark.parametrize('timeout, error', [(-1, ValueError), ('10', TypeError),
                                            (float('nan'), ValueError)])
def test_join_refuses_a_bad_timeout_before_waiting(timeout, error):
    _, ParallelSSHClient, _ = fake_clients()
    client = ParallelSSHClient(HOSTS[:1], **FAKE_LOGIN)
    output = client.run_command('cmd')
    with pytest.raises(error) as info:
        client.join(output, timeout=timeout)
    assert info.value.args[0].startswith('join: timeout must ')
    client.join(output)
    client.close()


# ---------------------------------------------------------------------------
# On a fake clock: each host's command ends at a set time, and waiting for it
# moves the clock on as far as the wait lasts.


class FakeClock:
    """join's clock, and Channel.wait_done waiting on it instead of for real.

    :param ends: by host, how many seconds after the start its command ends.
    """

    START = 1000.0

    def __init__(self, monkeypatch, ends):
        self.now = self.START
        self.ends = {host: self.START + seconds for host, seconds in ends.items()}
        #: (host, timeout) of every wait, in order.
        self.waits = []
        #: Hosts whose connection is lost when their command ends.
        self.lose = set()
        #: How late a wait that times out returns, past its timeout.
        self.late = 0
        monkeypatch.setattr(parallel, '_clock', lambda: self.now)
        clock = self

        def wait_done(channel, timeout=None):
            host = channel.conn.host
            clock.waits.append((host, timeout))
            end = clock.ends[host]
            if timeout is not None and end > clock.now + timeout:
                clock.now += timeout + clock.late
                return False
            clock.now = max(clock.now, end)
            if host in clock.lose:
                channel.error = SSHError('Connection to %s lost', host)
            return True
        monkeypatch.setattr(Channel, 'wait_done', wait_done)


def ran(hosts=HOSTS):
    _, ParallelSSHClient, _ = fake_clients()
    client = ParallelSSHClient(hosts, **FAKE_LOGIN)
    output = client.run_command('cmd')
    # Every command has really ended: only the fake clock says otherwise.
    client.join(output, timeout=5)
    return client, output


def test_the_timeout_is_one_deadline_for_all_hosts_not_one_each(monkeypatch):
    client, output = ran()
    clock = FakeClock(monkeypatch, {'host-0': 4, 'host-1': 8, 'host-2': 12})
    with pytest.raises(Timeout) as info:
        client.join(output, timeout=10)
    # Each host waits for what is left of the 10 seconds; 12 > 10 for the last.
    assert clock.waits == [('host-0', 10), ('host-1', 6), ('host-2', 2)]
    assert clock.now == FakeClock.START + 10
    message, timeout, finished, unfinished = info.value.args
    assert (message, timeout) == (JOIN_TIMEOUT, 10)
    assert same(finished, output[:2]) and same(unfinished, output[2:])
    assert str(info.value) == 'Timeout of 10 sec(s) reached with commands still running'
    client.close()


def test_commands_ending_within_the_deadline_raise_nothing(monkeypatch):
    client, output = ran()
    clock = FakeClock(monkeypatch, {'host-0': 9, 'host-1': 3, 'host-2': 10})
    assert client.join(output, timeout=10) is None
    assert clock.waits == [('host-0', 10), ('host-1', 1), ('host-2', 1)]
    client.close()


def test_after_the_deadline_the_hosts_left_are_only_looked_at(monkeypatch):
    client, output = ran()
    clock = FakeClock(monkeypatch, {'host-0': 15, 'host-1': 3, 'host-2': 11})
    clock.late = 0.25
    with pytest.raises(Timeout) as info:
        client.join(output, timeout=10)
    # The first wait returned past the deadline. No negative wait (that is a
    # ValueError): the hosts after the deadline get 0, and one whose command
    # has ended by then counts as finished.
    assert clock.waits == [('host-0', 10), ('host-1', 0.0), ('host-2', 0.0)]
    _, _, finished, unfinished = info.value.args
    assert same(finished, [output[1]]) and same(unfinished, [output[0], output[2]])
    client.close()


def test_without_a_timeout_each_host_is_waited_for_as_long_as_it_takes(monkeypatch):
    client, output = ran()
    clock = FakeClock(monkeypatch, {'host-0': 500, 'host-1': 3, 'host-2': 4000})
    assert client.join(output) is None
    assert clock.waits == [('host-0', None), ('host-1', None), ('host-2', None)]
    assert clock.now == FakeClock.START + 4000
    client.close()


def test_a_lost_connection_ends_that_host_and_the_others_are_still_waited_for(monkeypatch):
    client, output = ran()
    clock = FakeClock(monkeypatch, {'host-0': 2, 'host-1': 4, 'host-2': 20})
    clock.lose.add('host-0')
    with pytest.raises(Timeout) as info:
        client.join(output, timeout=10)
    assert clock.waits == [('host-0', 10), ('host-1', 8), ('host-2', 6)]
    _, _, finished, unfinished = info.value.args
    assert same(finished, output[:2]) and same(unfinished, output[2:])
    client.close()


def test_outputs_without_a_command_are_finished_and_none_are_skipped(monkeypatch):
    client, output = ran(HOSTS[:2])
    clock = FakeClock(monkeypatch, {'host-0': 30, 'host-1': 1})
    failed = HostOutput('host-x', None, None, None, exception=SSHError('could not connect'))
    with pytest.raises(Timeout) as info:
        client.join([failed, None, output[0], output[1]], timeout=10)
    assert clock.waits == [('host-0', 10), ('host-1', 0.0)]
    _, _, finished, unfinished = info.value.args
    assert same(finished, [failed, output[1]]) and same(unfinished, [output[0]])
    client.close()
