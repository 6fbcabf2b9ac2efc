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
