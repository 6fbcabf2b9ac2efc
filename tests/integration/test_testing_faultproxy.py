"""pssh.testing.FaultProxy on its own: plain sockets on both sides."""
import socket
import threading
import time

import pytest

from pssh.testing import FaultProxy


class _Sink:
    """A listener that takes one connection and counts what arrives on it."""

    def __init__(self):
        self.listener = socket.create_server(('127.0.0.1', 0))
        self.received = 0
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    @property
    def port(self):
        return self.listener.getsockname()[1]

    def _run(self):
        conn, _addr = self.listener.accept()
        with conn:
            while True:
                data = conn.recv(65536)
                if not data:
                    break
                self.received += len(data)
        self.done.set()

    def close(self):
        self.listener.close()


@pytest.mark.timeout(30)
def test_bandwidth_cap_paces_the_stream_without_busy_waiting():
    sink = _Sink()
    size = 512 * 1024
    rate = 1024 * 1024
    try:
        with FaultProxy('127.0.0.1', sink.port) as proxy:
            proxy.set_bandwidth(rate, 'upstream')
            start, cpu = time.monotonic(), time.process_time()
            with socket.create_connection((proxy.host, proxy.port)) as conn:
                conn.sendall(b'x' * size)
            assert sink.done.wait(20)
            elapsed = time.monotonic() - start
            used = time.process_time() - cpu
        assert sink.received == size
        # Half a second at the cap, less the tenth of a second's worth the
        # proxy may send at once.
        assert elapsed >= 0.35, elapsed
        # Between two paced sends the proxy sleeps: it once woke up for the
        # writable socket over and over, a whole core for the whole transfer.
        assert used < 0.25 * elapsed, 'the proxy used %.2f s of CPU in %.2f s' % (used, elapsed)
    finally:
        sink.close()
