"""The session I/O layer: relay, waiting, and descriptor lifetime, on real servers."""
import gc

import gevent
import pytest

from conftest import AIO_WHEN_ASKED


#: The backends a test here runs on when it asks for the backend fixture (see conftest).
BACKENDS = AIO_WHEN_ASKED


@pytest.mark.timeout(60)
def test_freed_channels_of_closed_client_do_not_touch_new_connections(backend, server, client_kwargs):
    # Freeing a libssh2 channel sends a close packet on its session's descriptor.
    # If the descriptor had been closed with the client, its number would be
    # reused by the next connection and that packet would corrupt it.
    for _round in range(5):
        old = backend.SSHClient(server.host, **client_kwargs)
        kept = [old.run_command('echo old') for _ in range(5)]
        for host_out in kept:
            old.wait_finished(host_out)
        old.close()
        new = backend.SSHClient(server.host, **client_kwargs)
        del kept, old
        gc.collect()
        outputs = [new.run_command('echo new %s' % i) for i in range(5)]
        assert [list(o.stdout) for o in outputs] == [['new %s' % i] for i in range(5)]
        for host_out in outputs:
            new.wait_finished(host_out)
            assert host_out.exit_code == 0
            assert host_out.channel.error is None
        new.close()


@pytest.mark.timeout(120)
def test_many_channels_on_one_session_lose_no_wakeup(backend, server, client_kwargs):
    # Channels of one session are read by different greenlets; each must see
    # the data that another greenlet's library call pulled off the socket.
    client = backend.SSHClient(server.host, **client_kwargs)
    for _round in range(3):
        outputs = [client.run_command('for i in 1 2 3; do echo %s-$i; done; echo e%s >&2' % (n, n))
                   for n in range(30)]
        results = [gevent.spawn(lambda o=o: (list(o.stdout), list(o.stderr))) for o in outputs]
        assert len(gevent.joinall(results, timeout=30, raise_error=True)) == 30
        for n, greenlet in enumerate(results):
            assert greenlet.value == (['%s-1' % n, '%s-2' % n, '%s-3' % n], ['e%s' % n])
        for host_out in outputs:
            client.wait_finished(host_out, timeout=10)
            assert host_out.exit_code == 0
    client.close()
