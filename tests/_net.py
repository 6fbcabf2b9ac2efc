"""Helpers for tests: which TCP connections this process holds, ports where
connecting is refused, and locks for tests that change the machine."""
import collections
import contextlib
import fcntl
import os
import socket
import tempfile
import time

import gevent


def own_tcp_peers():
    """Counter of remote port -> established TCP connections held by this process."""
    inodes = set()
    for fd in os.listdir('/proc/self/fd'):
        try:
            link = os.readlink(f'/proc/self/fd/{fd}')
        except OSError:
            continue
        if link.startswith('socket:['):
            inodes.add(link[len('socket:['):-1])
    peers = collections.Counter()
    for table in ('/proc/self/net/tcp', '/proc/self/net/tcp6'):
        try:
            with open(table) as fh:
                rows = fh.read().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            fields = row.split()
            # fields: sl local remote state ... uid timeout inode
            if fields[3] != '01' or fields[9] not in inodes:
                continue
            peers[int(fields[2].rsplit(':', 1)[1], 16)] += 1
    return peers


def wait_closed(*ports, timeout=5.0):
    """Wait (polling, bounded) until this process holds no connection to ``ports``;
    return the connections still held.

    Closing a gevent socket that another greenlet waits on releases the file
    descriptor at the hub's next turn, so a just-closed connection may still be
    listed until the hub has run.
    """
    deadline = time.monotonic() + timeout
    while True:
        peers = own_tcp_peers()
        left = {port: peers[port] for port in ports if peers[port]}
        if not left or time.monotonic() > deadline:
            return left
        gevent.sleep(0.01)


#: Sockets bound by :func:`refused_port`, held until the process ends.
_HELD = []


def refused_port(address='127.0.0.1'):
    """A port on ``address`` where connecting is refused: bound, never listening,
    and held for the rest of the test run, so that no other process (another
    test worker's server, say) can take it meanwhile."""
    family = socket.AF_INET6 if ':' in address else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.bind((address, 0))
    _HELD.append(sock)
    return sock.getsockname()[1]


@contextlib.contextmanager
def machine_lock(name):
    """Hold an exclusive lock named ``name`` for the block, across processes:
    for tests that change something of the whole machine (/etc/hosts, say)
    while pytest-xdist runs other tests beside them."""
    path = os.path.join(tempfile.gettempdir(), 'pssh-tests-%s.lock' % name)
    with open(path, 'a') as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)
