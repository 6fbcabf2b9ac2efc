"""Helpers for tests that check which TCP connections this process holds."""
import collections
import os
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
