"""The descriptor a libssh2 session writes to is never closed before the
session is freed, even when the garbage collector frees the session as part
of a reference cycle.

The collector runs the finalizers of a whole cycle before it frees any object
of it; libssh2 sends its channels' close messages while the session is freed.
Had the descriptor been closed by its finalizer, those messages would go to a
closed descriptor, or to whichever socket another thread opened on the same
number in between (a corrupted connection to another host)."""
import gc
import os
import stat

import gevent
import pytest


@pytest.mark.timeout(60)
def test_library_descriptor_outlives_a_collected_session(server, client_kwargs):
    from pssh.clients.native import SSHClient
    client = SSHClient(server.host, **client_kwargs)
    output = client.run_command('cat')  # an open channel: freeing it sends a close message
    io = client.connection.io
    fd = io.fileno
    inode = os.fstat(fd).st_ino
    io.close('test')  # the relay ends; the library's session and channel live on
    gevent.sleep(0)
    cycle = [client, output]
    cycle.append(cycle)
    del client, output, io

    seen = []

    def at_end(phase, info):
        if phase == 'stop':
            try:
                st = os.fstat(fd)
            except OSError as exc:
                seen.append(exc.errno)
            else:
                seen.append(stat.S_ISSOCK(st.st_mode) and st.st_ino == inode)

    del cycle
    gc.callbacks.insert(0, at_end)  # before the library's own callback
    try:
        gc.collect()
    finally:
        gc.callbacks.remove(at_end)
    # Still our socket when the collection (and the session's last words) ended...
    assert seen and seen[0] is True, seen
    # ...and closed right after it.
    try:
        still_ours = os.fstat(fd).st_ino == inode
    except OSError:
        still_ours = False
    assert not still_ours


class _KeepsAlive:
    """A finalizer that keeps what it holds alive past the collection, as
    pssh.aio's objects do when they hand the core's objects to their hub."""

    kept: list = []

    def __init__(self, what):
        self.what = what

    def __del__(self):
        _KeepsAlive.kept.append(self.what)


@pytest.mark.timeout(60)
def test_library_descriptor_stays_open_while_a_finalizer_keeps_the_session(server, client_kwargs):
    from pssh.clients.native import SSHClient
    client = SSHClient(server.host, **client_kwargs)
    output = client.run_command('cat')
    io = client.connection.io
    fd = io.fileno
    inode = os.fstat(fd).st_ino
    io.close('test')
    # What closes the relay when the connection is freed has done so: from
    # now on nothing outside the client holds the relay and the library's end.
    client.connection._finalizer()
    gevent.joinall((io._inbound, io._outbound), timeout=10)

    def ours():
        try:
            st = os.fstat(fd)
        except OSError:
            return False
        return stat.S_ISSOCK(st.st_mode) and st.st_ino == inode

    # The session and the library's end are garbage together with an object
    # whose finalizer keeps the client (and so the session) alive.
    cycle = [_KeepsAlive((client, output))]
    cycle.append(cycle)
    del client, output, io, cycle
    gc.collect()
    assert len(_KeepsAlive.kept) == 1
    # The session lives on: its descriptor must too, whatever else runs.
    gc.collect()
    assert ours()
    # Once the session is freed (here, in this thread, outside a collection),
    # the next collection closes the descriptor.
    _KeepsAlive.kept.clear()
    gc.collect()
    assert not ours()
