"""A target behind a bastion that is slow to accept, next to good targets.

The slow target is a loopback port whose accept queue is full: a listening
socket with a backlog of 0 holding one connection it has not accepted. The
kernel drops further SYNs, so the bastion's sshd, asked to open a
``direct-tcpip`` channel to it, waits in SYN_SENT (retrying) until the test
lets the port accept. From then on, accepted connections are relayed to a real
sshd of its own, so a test can tell from ``$SSH_CONNECTION`` (whose last field
is the port of the sshd that served the command) which host answered.
"""
import socket
import time

import gevent
import gevent.event
import pytest
from gevent import socket as gsocket

from pssh.config import HostConfig
from pssh.exceptions import HostConnectionError
from pssh.testing import start_servers

from _net import wait_closed

#: The backends a test here runs on when it asks for the backend fixture (see conftest).
BACKENDS = ('native', 'ssh')

LOCALHOST = '127.0.0.1'


class SlowTarget:
    """A loopback port whose accept queue is full until :meth:`accept` is called;
    from then on its connections are relayed to ``127.0.0.1:forward_port``."""

    def __init__(self, forward_port: int) -> None:
        self.forward_port = forward_port
        self._listener = gsocket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.bind((LOCALHOST, 0))
        self._listener.listen(0)
        self.port = self._listener.getsockname()[1]
        # With a backlog of 0, Linux queues exactly one connection; every
        # later SYN is dropped (the connecting side keeps retrying).
        self._filler = socket.create_connection((LOCALHOST, self.port), timeout=5)
        self._greenlets = []
        self._sockets = []
        #: Set once the port has accepted a connection (besides the filler).
        self.accepted = gevent.event.Event()

    def syn_sent(self) -> bool:
        """True while a connection to the port waits in SYN_SENT (its SYN dropped)."""
        with open('/proc/net/tcp') as table:
            rows = table.read().splitlines()[1:]
        for row in rows:
            fields = row.split()
            if fields[3] == '02' and int(fields[2].rsplit(':', 1)[1], 16) == self.port:
                return True
        return False

    def accept(self) -> None:
        """Start accepting (and relaying) connections."""
        self._listener.listen(128)  # a queue for connections arriving together
        self._greenlets.append(gevent.spawn(self._serve))

    def _serve(self) -> None:
        while True:
            conn, _addr = self._listener.accept()
            self._sockets.append(conn)
            if _addr[1] == self._filler.getsockname()[1]:
                continue
            self.accepted.set()
            upstream = gsocket.create_connection((LOCALHOST, self.forward_port))
            self._sockets.append(upstream)
            self._greenlets.append(gevent.spawn(self._pipe, conn, upstream))
            self._greenlets.append(gevent.spawn(self._pipe, upstream, conn))

    @staticmethod
    def _pipe(src, dst) -> None:
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                dst.sendall(data)
            dst.shutdown(socket.SHUT_WR)
        except OSError:
            pass

    def close(self) -> None:
        gevent.killall(self._greenlets)
        for sock in self._sockets:
            sock.close()
        self._filler.close()
        self._listener.close()


@pytest.fixture(scope='module')
def group():
    """bastion, good target, and the sshd behind the slow port."""
    with start_servers(3, reexec=False) as servers:
        yield servers


@pytest.fixture
def slow(group):
    target = SlowTarget(group[2].port)
    try:
        yield target
    finally:
        target.close()


@pytest.fixture
def slow2(group):
    target = SlowTarget(group[2].port)
    try:
        yield target
    finally:
        target.close()


@pytest.fixture(autouse=True)
def no_leftover_connections(group):
    assert wait_closed(*group.ports) == {}
    yield
    assert wait_closed(*group.ports) == {}


@pytest.fixture
def kw(group):
    return {'user': group.user, 'pkey': group.user_key, 'num_retries': 1,
            'allow_agent': False, 'identity_auth': False,
            'proxy_host': LOCALHOST, 'proxy_port': group[0].port}


def served_by(output):
    """The port of the sshd that ran ``echo $SSH_CONNECTION``."""
    lines = list(output.stdout)
    assert len(lines) == 1, lines
    return int(lines[0].split()[3])


def bastions(client):
    """The first bastion client of each chain in a parallel client's proxy pool."""
    return [result.get() for result in client._proxy_pool._clients.values()]


def aim(client, *targets):
    """Point ``client`` at ``targets``: (name, port) pairs, all on loopback."""
    client.hosts = [name for name, _port in targets]
    client.host_config = [HostConfig(hostname=LOCALHOST, port=port) for _name, port in targets]


def test_timed_out_open_is_not_answered_to_another_target(backend, group, slow, kw):
    """A tunnel open that timed out (the target did not accept in time) is
    finished and closed: it is never handed to another target's open, and no
    other tunnel of the bastion is touched."""
    bastion, good, behind_slow = group
    with backend.ParallelSSHClient([], timeout=1, **kw) as client:
        aim(client, ('good', good.port))
        output = client.run_command('echo $SSH_CONNECTION')
        client.join(output, timeout=10)
        assert served_by(output[0]) == good.port
        [first] = bastions(client)
        good_client = output[0].client
        # The good target keeps its tunnel; the slow one's open times out.
        aim(client, ('good', good.port), ('slow', slow.port))
        output = client.run_command('echo $SSH_CONNECTION', stop_on_errors=False)
        assert isinstance(output[1].exception, HostConnectionError)
        assert 'through proxy %s:%s' % (LOCALHOST, bastion.port) in str(output[1].exception)
        assert 'did not finish within 1 seconds' in str(output[1].exception)
        client.join(output[:1], timeout=10)
        assert output[0].client is good_client
        assert served_by(output[0]) == good.port
        assert not first.connection_lost
        # The bastion's sshd gets through to the slow target at its next SYN,
        # and answers the open given up.
        slow.accept()
        aim(client, ('good', good.port), ('good-2', good.port))
        output = client.run_command('echo $SSH_CONNECTION')
        client.join(output, timeout=10)
        assert [served_by(host_out) for host_out in output] == [good.port, good.port]
        assert output[0].client is good_client
        assert slow.accepted.wait(timeout=10)
        # Every tunnel, old and new, goes where it was meant to; the bastion
        # connection survived and serves new targets.
        aim(client, ('good', good.port), ('good-2', good.port), ('slow-1', slow.port),
            ('slow-2', slow.port), ('good-3', good.port))
        output = client.run_command('echo $SSH_CONNECTION')
        client.join(output, timeout=20)
        assert [served_by(host_out) for host_out in output] == [
            good.port, good.port, behind_slow.port, behind_slow.port, good.port]
        assert output[0].client is good_client
        assert bastions(client)[0] is first
        assert not first.connection_lost
    assert 'nonexistent channel' not in bastion.read_log()


def connect_all(client):
    """Connect every host of ``client``: (greenlets, start time)."""
    return client.connect_auth(), time.monotonic()


def test_good_targets_do_not_wait_for_a_slow_one_without_timeout(backend, group, slow, kw):
    """With no timeout, a target that never accepts holds up no other target
    behind the same bastion."""
    bastion, good, behind_slow = group
    with backend.ParallelSSHClient([], timeout=None, **kw) as client:
        aim(client, ('slow', slow.port), ('good-1', good.port), ('good-2', good.port))
        greenlets, started = connect_all(client)
        gevent.joinall(greenlets[1:], timeout=30, raise_error=True)
        took = time.monotonic() - started
        print('good targets connected after %.2f s' % took)
        assert all(greenlet.successful() for greenlet in greenlets[1:])
        # A lease (1 s) and a second connection to the bastion; without the
        # slow target well under a second; the slow target itself waits for
        # the bastion's connect (minutes).
        assert took < 5
        assert not greenlets[0].ready()
        # Once it accepts, the slow target gets its own session.
        slow.accept()
        gevent.joinall(greenlets[:1], timeout=30, raise_error=True)
        output = client.run_command('echo $SSH_CONNECTION')
        client.join(output, timeout=10)
        assert [served_by(host_out) for host_out in output] == [
            behind_slow.port, good.port, good.port]
        [first] = bastions(client)
        assert not first.connection_lost
    assert 'nonexistent channel' not in bastion.read_log()


@pytest.mark.waits(5)
def test_good_targets_do_not_pay_for_each_slow_target(backend, group, slow, slow2, kw):
    """With a timeout, N slow targets ahead of a good one do not cost it N
    timeouts: it is connected before the first slow target times out."""
    bastion, good, behind_slow = group
    timeout = 4
    with backend.ParallelSSHClient([], timeout=timeout, **kw) as client:
        aim(client, ('slow-1', slow.port), ('slow-2', slow2.port), ('good', good.port))
        greenlets, started = connect_all(client)
        gevent.joinall(greenlets[2:], timeout=30, raise_error=True)
        took = time.monotonic() - started
        print('good target connected after %.2f s' % took)
        assert greenlets[2].successful()
        assert took < timeout
        gevent.joinall(greenlets[:2], timeout=30)
        for greenlet in greenlets[:2]:
            assert isinstance(greenlet.exception, HostConnectionError)
            assert 'did not finish within %s seconds' % timeout in str(greenlet.exception)
        # The good target's session works, and so does the bastion's.
        good_client = greenlets[2].value
        output = good_client.run_command('echo $SSH_CONNECTION')
        good_client.wait_finished(output, timeout=10)
        assert served_by(output) == good.port
        [first] = bastions(client)
        assert not first.connection_lost
        aim(client, ('good', good.port), ('good-2', good.port))
        output = client.run_command('echo $SSH_CONNECTION')
        client.join(output, timeout=10)
        assert [served_by(host_out) for host_out in output] == [good.port, good.port]
    assert 'nonexistent channel' not in bastion.read_log()


def test_killed_open_is_not_answered_to_another_target(backend, group, slow, kw):
    """A target's connection greenlet killed while its tunnel open waits leaves
    the open to be finished: the next target's open is not answered with it."""
    bastion, good, behind_slow = group
    with backend.ParallelSSHClient([], timeout=None, **kw) as client:
        aim(client, ('slow', slow.port))
        [greenlet] = client.connect_auth()
        # Until the bastion's sshd, asked to open the tunnel, tries to connect.
        until(lambda: slow.syn_sent())
        [first] = bastions(client)
        greenlet.kill(timeout=10)
        assert greenlet.dead
        slow.accept()
        assert slow.accepted.wait(timeout=10)
        aim(client, ('good', good.port), ('good-2', good.port))
        output = client.run_command('echo $SSH_CONNECTION')
        client.join(output, timeout=10)
        assert [served_by(host_out) for host_out in output] == [good.port, good.port]
        assert bastions(client) == [first]
        assert not first.connection_lost
    assert 'nonexistent channel' not in bastion.read_log()



def until(condition, timeout=10):
    """Wait (polling, bounded) until ``condition()`` is true."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, 'timed out waiting for %s' % condition
        gevent.sleep(0.01)
