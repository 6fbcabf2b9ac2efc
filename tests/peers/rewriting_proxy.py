"""A TCP proxy for the tests that rewrites one packet length of an SSH server.

It sits between a client and a real sshd and follows the server's byte stream
on its own (version line, then unencrypted packets up to NEWKEYS), then
replaces one ``packet_length`` field - the first one after the server's NEWKEYS
(``after_newkeys=True``, where with an encrypt-then-MAC MAC the length is sent
in clear), or the first packet's (``after_newkeys=False``) - by ``length``.
Everything else passes unchanged. One thread per direction; standard library
only, so it runs beside an unpatched gevent test process.
"""
import socket
import struct
import threading


class RewritingProxy:
    def __init__(self, target_host, target_port, length, after_newkeys=True):
        self.target = (target_host, target_port)
        self.length = length
        self.after_newkeys = after_newkeys
        self.listener = socket.create_server(('127.0.0.1', 0))
        self.host, self.port = self.listener.getsockname()[:2]
        #: Set once the length has been rewritten.
        self.rewritten = threading.Event()
        self._sockets = []
        self._thread = threading.Thread(target=self._accept, daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        try:
            self.listener.shutdown(socket.SHUT_RDWR)  # wakes the accepting thread
        except OSError:
            pass
        self.listener.close()
        for sock in self._sockets:
            try:
                sock.close()
            except OSError:
                pass
        self._thread.join(10)

    def _accept(self):
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            server = socket.create_connection(self.target)
            self._sockets += [client, server]
            threading.Thread(target=self._copy, args=(client, server), daemon=True).start()
            threading.Thread(target=self._rewrite, args=(server, client), daemon=True).start()

    @staticmethod
    def _copy(src, dst):
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                dst.sendall(data)
        except OSError:
            pass
        finally:
            try:
                dst.shutdown(socket.SHUT_WR)
            except OSError:
                pass

    def _rewrite(self, src, dst):
        """Server to client: pass each part on as soon as it is read, until the
        length to replace; then copy the rest as it comes."""
        buf = b''

        def need(count):
            nonlocal buf
            while len(buf) < count:
                data = src.recv(65536)
                if not data:
                    raise EOFError
                buf += data

        def forward(count):
            nonlocal buf
            dst.sendall(buf[:count])
            buf = buf[count:]

        try:
            while b'\n' not in buf:  # the version line
                need(len(buf) + 1)
            forward(buf.index(b'\n') + 1)
            while self.after_newkeys:  # packets in clear, up to NEWKEYS
                need(6)
                length, = struct.unpack_from('>I', buf)
                need(4 + length)
                kind = buf[5]
                forward(4 + length)
                if kind == 21:  # NEWKEYS
                    break
            need(4)
            buf = struct.pack('>I', self.length) + buf[4:]
            self.rewritten.set()
            forward(len(buf))
        except (EOFError, OSError):
            try:
                dst.sendall(buf)
            except OSError:
                pass
        self._copy(src, dst)
