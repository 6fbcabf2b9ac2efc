"""A hostile SSH server for the tests: paramiko in server mode, with hooks.

paramiko (a test-only dependency, pinned in setup.py's ``test`` extra) does a
real key exchange, encryption and MACs, so the client meets a genuine SSH
server; the hooks live in the socket-like object the server's
:class:`paramiko.Transport` writes to and reads from (paramiko takes any object
with ``send``/``recv``/``settimeout``/``close``: public API, no private
paramiko names). That object follows both directions' unencrypted packets up
to each side's NEWKEYS, so it knows exactly where encryption starts:

* ``craft_length``: in place of the server's encrypted packet number
  ``craft_after`` (0: the first after NEWKEYS; under an encrypt-then-MAC MAC
  its ``packet_length`` travels in clear) it writes raw bytes, the crafted
  length then filler, and drops every later packet. ``craft_on_exec=True``
  crafts instead the first packet sent after a command was asked for (a
  server that turns hostile after login). :attr:`HostileServer.crafted_at`
  records the offset in the server's stream where the crafted bytes start.
* ``probe=True``: right after the key exchange, before anything else, the
  server sends a global request that wants a reply. A client library that
  parsed that encrypted packet answers REQUEST_FAILURE (libssh2 does; libssh
  leaves requests it has no handler for unanswered). paramiko names every
  message it reads in its packet dump (``set_hexdump``, ``set_log_channel``:
  public API); :attr:`HostileServer.client_messages` keeps those names, so a
  test can tell whether the answer came. A client that refused the host key
  before its library read an encrypted byte never answers. To make the order
  certain, the server reads nothing from the client after the client's
  NEWKEYS until the probe has been written.

The server accepts any public key for any user, and runs no command: an exec
request answers with the command line itself on stdout and exit status 0.
Each instance has a new ECDSA host key, listens on a free loopback port, and
serves every connection in threads of its own (no asyncio, no gevent: it runs
beside the gevent test process like the other peers). Use it as a context
manager; leaving joins every thread.
"""
import logging
import os
import re
import socket
import struct
import threading
from typing import List, Optional

import paramiko

_NEWKEYS = 21
#: The global request of the probe.
PROBE_REQUEST = 'hostile-probe@pssh.test'
_READ = re.compile(r'Read packet <([^>]+)>')


class _ClearStream:
    """Follows one direction's version line and unencrypted packets until its
    NEWKEYS; :attr:`newkeys_end` is then the stream offset just past it."""

    def __init__(self) -> None:
        self.buffer = b''
        self.newkeys_end: Optional[int] = None
        self._pos = 0  # where in buffer the next unread packet starts
        self._version = False

    def feed(self, data: bytes) -> Optional[int]:
        """Take the next bytes; returns how many of them end at the end of
        NEWKEYS, if NEWKEYS ended in them, else None."""
        if self.newkeys_end is not None:
            return None
        start = len(self.buffer)
        self.buffer += data
        buf = self.buffer
        while True:
            if not self._version:
                end = buf.find(b'\n', self._pos)
                if end < 0:
                    return None
                if buf[self._pos:].startswith(b'SSH-'):
                    self._version = True
                self._pos = end + 1
                continue
            if len(buf) < self._pos + 6:
                return None
            length, = struct.unpack_from('>I', buf, self._pos)
            end = self._pos + 4 + length
            if len(buf) < end:
                return None
            kind = buf[self._pos + 5]
            self._pos = end
            if kind == _NEWKEYS:
                self.newkeys_end = end
                return end - start


class _Wire:
    """The socket-like object the server's Transport uses: where the hooks are."""

    def __init__(self, sock: socket.socket, server: 'HostileServer') -> None:
        self.sock = sock
        self.server = server
        self.out = _ClearStream()
        self.inbound = _ClearStream()
        self.sent = 0               # bytes of the server's stream written
        self.encrypted_sent = 0     # server packets written after its NEWKEYS
        self.crafted = False
        self.exec_requested = False
        self.probing = False
        self.probe_sent = threading.Event()
        self._stash = b''
        self._timeout: Optional[float] = None

    # What paramiko calls.

    def settimeout(self, timeout: Optional[float]) -> None:
        self._timeout = timeout
        self.sock.settimeout(timeout)

    def gettimeout(self) -> Optional[float]:
        return self._timeout

    def getpeername(self):  # type: ignore[no-untyped-def]
        return self.sock.getpeername()

    def fileno(self) -> int:
        return self.sock.fileno()

    @property
    def _closed(self) -> bool:  # paramiko looks at it when its thread stops
        return self.sock.fileno() < 0

    def close(self) -> None:
        self.sock.close()

    def send(self, data: bytes) -> int:
        data = bytes(data)
        size = len(data)
        if self.crafted:
            return size  # the server says nothing after its crafted packet
        server = self.server
        if self.out.newkeys_end is None:
            self.out.feed(data)
        else:
            # paramiko writes each encrypted packet in one call.
            index = self.encrypted_sent
            self.encrypted_sent += 1
            if self.probing:
                self.probing = False
                server.probes_sent += 1
                self.probe_sent.set()
            if server.craft_length is not None and (
                    (server.craft_on_exec and self.exec_requested)
                    or (not server.craft_on_exec and index == server.craft_after)):
                data = struct.pack('>I', server.craft_length) + os.urandom(64)
                self.crafted = True
                server.crafted_at = self.sent
        self.sock.sendall(data)
        self.sent += len(data)
        if self.crafted:
            server.crafted_sent.set()
        return size

    def recv(self, size: int) -> bytes:
        if self.inbound.newkeys_end is not None and self.server.probe:
            # Nothing from the client after its NEWKEYS reaches paramiko until
            # the probe is out: it is then the server's first packet after
            # the key exchange, ahead of any answer to the client.
            if not self.probe_sent.wait(self._timeout):
                raise socket.timeout()
        if self._stash:
            data, self._stash = self._stash[:size], self._stash[size:]
            return data
        data = self.sock.recv(size)
        if self.inbound.newkeys_end is None and data:
            upto = self.inbound.feed(data)
            if upto is not None:
                data, self._stash = data[:upto], data[upto:]
                self.server.client_bytes_after_newkeys += len(self._stash)
        elif data:
            self.server.client_bytes_after_newkeys += len(data)
        return data


class _ReadPackets(logging.Handler):
    def __init__(self, names: List[str]) -> None:
        super().__init__(logging.DEBUG)
        self.names = names

    def emit(self, record: logging.LogRecord) -> None:
        match = _READ.match(record.getMessage())
        if match:
            self.names.append(match.group(1))


class _Interface(paramiko.ServerInterface):
    def __init__(self, wire: _Wire) -> None:
        self.wire = wire

    def get_allowed_auths(self, username: str) -> str:
        return 'publickey'

    def check_auth_publickey(self, username: str, key: paramiko.PKey) -> int:
        return paramiko.AUTH_SUCCESSFUL

    def check_channel_request(self, kind: str, chanid: int) -> int:
        if kind == 'session':
            return paramiko.OPEN_SUCCEEDED
        return paramiko.OPEN_FAILED_ADMINISTRATIVELY_PROHIBITED

    def check_channel_exec_request(self, channel: paramiko.Channel, command: bytes) -> bool:
        self.wire.exec_requested = True
        if self.wire.server.craft_on_exec:
            return True

        def answer() -> None:
            channel.sendall(bytes(command) + b'\n')
            channel.send_exit_status(0)
            channel.close()

        threading.Thread(target=answer, daemon=True).start()
        return True


class HostileServer:
    """An SSH server that misbehaves on purpose, on a free loopback port.

    :param ciphers: the ciphers it offers (default: paramiko's).
    :param macs: the MACs it offers; default ``hmac-sha2-256-etm@openssh.com``
      alone, so that packet lengths travel in clear.
    :param craft_length: a ``packet_length`` to write in place of a real
      encrypted packet (None: no crafting).
    :param craft_after: which encrypted packet to replace (0: the first).
    :param craft_on_exec: replace the first packet after an exec request.
    :param probe: open a channel of an unknown type right after the key
      exchange and record whether the client answered (see the module doc).
    """

    def __init__(self, ciphers: Optional[List[str]] = None,
                 macs: Optional[List[str]] = ('hmac-sha2-256-etm@openssh.com',),  # type: ignore
                 craft_length: Optional[int] = None, craft_after: int = 0,
                 craft_on_exec: bool = False, probe: bool = False) -> None:
        self.ciphers = ciphers if ciphers is not None else ['aes128-ctr', 'aes256-ctr']
        self.macs = macs
        self.craft_length = craft_length
        self.craft_after = craft_after
        self.craft_on_exec = craft_on_exec
        self.probe = probe
        self.host_key = paramiko.ECDSAKey.generate()
        #: ``type base64`` of the host key, as ``host_key=`` takes it.
        self.host_key_line = '%s %s' % (self.host_key.get_name(), self.host_key.get_base64())
        self.listener = socket.create_server(('127.0.0.1', 0))
        self.host, self.port = self.listener.getsockname()[:2]
        #: Set once the crafted bytes were written; :attr:`crafted_at` is the
        #: offset in the server's stream where they start.
        self.crafted_sent = threading.Event()
        self.crafted_at: Optional[int] = None
        #: How many probes were written (one per connection that finished
        #: its key exchange).
        self.probes_sent = 0
        #: Set once a probe was answered or its connection ended.
        self.probe_done = threading.Event()
        #: The name of every message paramiko read from clients, in order
        #: (``'kexinit'``, ``'newkeys'``, ``'service-request'``,
        #: ``'request-failure'``...).
        self.client_messages: List[str] = []
        #: Set when a connection's server thread ended.
        self.finished = threading.Event()
        #: Bytes the client sent after its NEWKEYS (any connection).
        self.client_bytes_after_newkeys = 0
        #: Errors of the server's own threads (the tests assert it is empty).
        self.errors: List[BaseException] = []
        self._transports: List[paramiko.Transport] = []
        self._threads: List[threading.Thread] = []
        self._accepting = threading.Thread(target=self._accept, daemon=True)

    def __enter__(self) -> 'HostileServer':
        self._accepting.start()
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            self.listener.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.listener.close()
        for transport in list(self._transports):
            transport.close()
        self._accepting.join(10)
        for thread in list(self._threads):
            thread.join(10)

    def _accept(self) -> None:
        while True:
            try:
                sock, _ = self.listener.accept()
            except OSError:
                return
            thread = threading.Thread(target=self._serve, args=(sock,), daemon=True)
            self._threads.append(thread)
            thread.start()

    def _serve(self, sock: socket.socket) -> None:
        wire = _Wire(sock, self)
        transport = paramiko.Transport(wire)  # type: ignore[arg-type]
        self._transports.append(transport)
        options = transport.get_security_options()
        if self.ciphers is not None:
            options.ciphers = tuple(self.ciphers)
        if self.macs is not None:
            options.digests = tuple(self.macs)
        transport.add_server_key(self.host_key)
        kex_done = threading.Event()
        # paramiko names every message it reads in its packet dump (public
        # API: set_log_channel, set_hexdump): the record of what the client's
        # library sent, decrypted and MAC-checked by paramiko.
        log_name = 'tests.hostile_server.%d' % id(wire)
        log = logging.getLogger(log_name)
        log.setLevel(logging.DEBUG)
        log.propagate = False
        handler = _ReadPackets(self.client_messages)
        log.addHandler(handler)
        transport.set_log_channel(log_name)
        transport.set_hexdump(True)
        try:
            try:
                transport.start_server(event=kex_done, server=_Interface(wire))
            except Exception as exc:  # pragma: no cover - a failure of the server itself
                self.errors.append(exc)
                return
            if self.probe:
                self._probe(transport, wire, kex_done)
            transport.join(30)
        finally:
            log.removeHandler(handler)
            self.finished.set()

    def _probe(self, transport: paramiko.Transport, wire: _Wire,
               kex_done: threading.Event) -> None:
        while not kex_done.wait(0.02):
            if not transport.is_active():
                break
        if transport.is_active():
            wire.probing = True
            try:
                # want_reply=True: every client must answer (REQUEST_FAILURE).
                transport.global_request(PROBE_REQUEST, wait=True)
            except (paramiko.SSHException, EOFError, OSError):
                pass  # the connection ended
        wire.probe_sent.set()
        self.probe_done.set()
