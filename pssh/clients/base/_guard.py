"""A check of the server's packet framing, before the SSH library sees a byte.

libssh2 1.11.1 (what every ssh2-python wheel bundles) trusts the length field
of an incoming packet too far: a server, or anyone on the path, can make it
overflow a heap buffer with a crafted length (CVE-2026-55200, CVE-2026-66035,
CVE-2026-66033, GHSA-x4g5-mgfc-cxvv). Every byte from the server passes through
our relay (:mod:`._io`) on its way to the library, so the relay can follow the
packet framing and close the connection before a bad length reaches the library.

What can be seen:

* the version line and every packet up to the server's NEWKEYS, in clear;
* after NEWKEYS, the length of every packet when the negotiated MAC is an
  encrypt-then-MAC one (``*-etm@openssh.com``) or the cipher is AES-GCM: the
  length then travels unencrypted. With any other MAC the length is
  encrypted and the guard stops following (:attr:`PacketGuard.opaque`); the
  clients offer ETM MACs first so that this happens only with servers that
  speak none.

The negotiated algorithms come from the two KEXINIT packets, the client's read
from the bytes the library sends (:meth:`PacketGuard.client_bytes`).
"""
import struct
from typing import List, Optional, Tuple, Union

from ... import logger
from ...exceptions import PacketLengthError

__all__ = ['PacketGuard', 'LIBSSH2_MAX_PACKET', 'LIBSSH_MAX_PACKET', 'ALLOW_UNCHECKED_LENGTHS']

#: The largest whole packet (length field, encrypted part and MAC) each library
#: accepts: libssh2's LIBSSH2_PACKET_MAXPAYLOAD, libssh's MAX_PACKET_LEN. The
#: guard refuses anything larger before the library does its (in libssh2
#: 1.11.1, overflowing) arithmetic on it. Channel data never comes near these
#: (our clients take at most 32 KiB per packet), but a banner, a prompt or a
#: disconnect message may legitimately be larger than RFC 4253's 35000.
LIBSSH2_MAX_PACKET = 40000
LIBSSH_MAX_PACKET = 256 * 1024

#: The default of ``BaseSSHClient.ALLOW_UNCHECKED_LENGTHS``: connect to an
#: unverified host even when the negotiated algorithms hide packet lengths
#: from the guard (with a warning).
ALLOW_UNCHECKED_LENGTHS = True

_KEXINIT, _NEWKEYS = 20, 21
_U32 = struct.Struct('>I')

_VERSION, _PLAIN, _FRAMED, _OPAQUE = range(4)

#: Cipher block sizes (bytes); the length of an encrypted packet is a multiple.
_BLOCK = {
    'aes128-ctr': 16, 'aes192-ctr': 16, 'aes256-ctr': 16, 'aes128-cbc': 16, 'aes192-cbc': 16,
    'aes256-cbc': 16, 'rijndael-cbc@lysator.liu.se': 16, '3des-cbc': 8, 'blowfish-cbc': 8,
    'cast128-cbc': 8, 'arcfour': 8, 'arcfour128': 8, 'arcfour256': 8,
    'aes128-gcm@openssh.com': 16, 'aes256-gcm@openssh.com': 16,
}
_GCM = ('aes128-gcm@openssh.com', 'aes256-gcm@openssh.com')
_AEAD = _GCM + ('chacha20-poly1305@openssh.com',)
#: Name-lists of a KEXINIT checked for a common algorithm, server to client
#: where there are two directions (ours are the same both ways).
_KINDS = ((0, 'key exchange'), (1, 'host key'), (3, 'cipher'), (5, 'MAC'),
          (7, 'compression'))
#: Names in a key exchange list that signal extensions, not algorithms.
_PSEUDO = frozenset(('ext-info-c', 'kex-strict-c-v00@openssh.com'))
#: MAC lengths of the encrypt-then-MAC algorithms.
_ETM_MAC = {
    'hmac-sha2-256-etm@openssh.com': 32, 'hmac-sha2-512-etm@openssh.com': 64,
    'hmac-sha1-etm@openssh.com': 20, 'hmac-sha1-96-etm@openssh.com': 12,
    'hmac-md5-etm@openssh.com': 16, 'hmac-md5-96-etm@openssh.com': 12,
    'umac-64-etm@openssh.com': 8, 'umac-128-etm@openssh.com': 16,
}
_MAX_VERSION_BYTES = 64 * 1024


def _name_lists(payload: bytes) -> Optional[List[List[str]]]:
    """The ten name-lists of a KEXINIT payload, or None if it is malformed."""
    pos = 17  # message type and cookie
    lists = []
    try:
        for _ in range(10):
            size, = _U32.unpack_from(payload, pos)
            pos += 4
            if pos + size > len(payload):
                return None
            lists.append(payload[pos:pos + size].decode('ascii', 'replace').split(','))
            pos += size
    except struct.error:
        return None
    return lists


def _choose(client: List[str], server: List[str]) -> Optional[str]:
    """RFC 4253 7.1: the client's first algorithm that the server also has."""
    offered = set(server)
    for name in client:
        if name in offered:
            return name
    return None


class _ClientSide:
    """Reads the client's version line and KEXINIT from what the library sends."""

    __slots__ = ('buffer', 'kexinit', 'done')

    def __init__(self) -> None:
        self.buffer = bytearray()
        self.kexinit: Optional[List[List[str]]] = None
        self.done = False

    def feed(self, data: bytes) -> None:
        if self.done:
            return
        self.buffer += data
        buf = self.buffer
        end = buf.find(b'\n')
        if end < 0 or not buf.startswith(b'SSH-'):
            if len(buf) > _MAX_VERSION_BYTES or (buf and not b'SSH-'.startswith(bytes(buf[:4]))):
                self.done = True
            return
        if len(buf) < end + 6:
            return
        size, = _U32.unpack_from(buf, end + 1)
        if size > LIBSSH_MAX_PACKET:
            self.done = True
            return
        if len(buf) < end + 5 + size:
            return
        padding = buf[end + 5]
        payload = bytes(buf[end + 6:end + 5 + size - padding])
        if payload[:1] == bytes((_KEXINIT,)):
            self.kexinit = _name_lists(payload)
        self.done = True
        self.buffer = bytearray()


class PacketGuard:
    """Follows the framing of the bytes a server sends, and refuses bad lengths.

    :param host: the server, for error messages.
    :param port: its port.
    :param max_packet: the largest whole packet (length field, encrypted part,
      MAC) the SSH library accepts.
    :param hold_at_newkeys: stop after the server's first NEWKEYS until
      :meth:`release`: the relay then keeps every encrypted byte from the
      library until the server's host key has been accepted.
    """

    __slots__ = ('host', 'port', 'max_packet', 'hold_at_newkeys', '_state', '_buffer', '_skip', '_block',
                 '_mac', '_client', '_server_kexinit', 'holding', 'opaque', 'cipher', 'mac',
                 'received', 'newkeys_end')

    def __init__(self, host: str, port: int, max_packet: int = LIBSSH2_MAX_PACKET,
                 hold_at_newkeys: bool = True) -> None:
        self.host = host
        self.port = port
        self.max_packet = max_packet
        self.hold_at_newkeys = hold_at_newkeys
        self._state = _VERSION
        self._buffer = bytearray()
        self._skip = 0
        self._block = 8
        self._mac = 0
        self._client = _ClientSide()
        self._server_kexinit: Optional[List[List[str]]] = None
        #: True from the server's first NEWKEYS until :meth:`release`.
        self.holding = False
        #: True once the lengths can no longer be seen (no ETM MAC).
        self.opaque = False
        #: The cipher and MAC the server encrypts with, once known.
        self.cipher: Optional[str] = None
        self.mac: Optional[str] = None
        #: Bytes of the server's stream passed (delivered or allowed) so far.
        self.received = 0
        #: Where in the server's stream its first NEWKEYS ends, once seen.
        self.newkeys_end: Optional[int] = None

    def client_bytes(self, data: bytes) -> None:
        """Bytes the library sends to the server (only the start is read)."""
        self._client.feed(data)

    @property
    def client_done(self) -> bool:
        """True once the client's KEXINIT has been read (or cannot be)."""
        return self._client.done

    def release(self) -> None:
        self.holding = False

    def mismatch(self) -> Optional[Tuple[str, List[str], List[str]]]:
        """After a failed key exchange: the first kind of algorithm the two
        sides have none of in common, with the client's and the server's lists
        (None if both KEXINITs were not seen or every kind has a match)."""
        client, server = self._client.kexinit, self._server_kexinit
        if client is None or server is None:
            return None
        cipher = _choose(client[3], server[3])
        for index, kind in _KINDS:
            if kind == 'MAC' and cipher in _AEAD:
                continue  # an AEAD cipher authenticates itself
            if _choose(client[index], server[index]) is None:
                ours = [name for name in client[index] if name not in _PSEUDO]
                return kind, ours, server[index]
        return None

    def feed(self, data: Union[bytes, memoryview]) -> int:
        """Check the next bytes from the server.

        :returns: how many bytes of ``data``, from its start, may go to the
          library now; fewer than all once the server's NEWKEYS has been seen
          and the guard holds (the rest must be fed again after :meth:`release`).
        :raises PacketLengthError: a packet length that must not reach the library.
        """
        if self._state == _OPAQUE:
            self.received += len(data)
            return len(data)
        view = memoryview(data)
        size = len(view)
        pos = 0
        while pos < size:
            if self._skip:
                step = min(self._skip, size - pos)
                self._skip -= step
                pos += step
                continue
            state = self._state
            if state == _FRAMED:
                # Only the 4 length bytes are needed; the rest is skipped.
                if not self._buffer and size - pos >= 4:
                    length, = _U32.unpack_from(view, pos)
                    pos += 4
                else:
                    need = 4 - len(self._buffer)
                    self._buffer += view[pos:pos + need]
                    pos += min(need, size - pos)
                    if len(self._buffer) < 4:
                        break
                    length, = _U32.unpack_from(self._buffer)
                    self._buffer = bytearray()
                self._check_encrypted(length)
                self._skip = length + self._mac
            elif state == _PLAIN:
                pos = self._plain(view, pos)
                if self._state != _PLAIN and self.newkeys_end is None:
                    self.newkeys_end = self.received + pos
                if self.holding:
                    self.received += pos
                    return pos
            elif state == _VERSION:
                pos = self._version(view, pos)
            else:  # turned opaque at NEWKEYS
                pos = size
        self.received += size
        return size

    # The stages.

    def _version(self, view: memoryview, pos: int) -> int:
        end = bytes(view[pos:]).find(b'\n')
        if end < 0:
            self._buffer += view[pos:]
            if len(self._buffer) > _MAX_VERSION_BYTES:
                raise PacketLengthError(
                    'Server %s:%s sent %s bytes without an SSH version line', self.host,
                    self.port, len(self._buffer))
            return len(view)
        line = bytes(self._buffer) + bytes(view[pos:pos + end])
        self._buffer = bytearray()
        if line.startswith(b'SSH-'):
            self._state = _PLAIN
        return pos + end + 1

    def _plain(self, view: memoryview, pos: int) -> int:
        """Collect one whole unencrypted packet and look at it."""
        buf = self._buffer
        if len(buf) < 4:
            need = 4 - len(buf)
            buf += view[pos:pos + need]
            pos += min(need, len(view) - pos)
            if len(buf) < 4:
                return pos
            length, = _U32.unpack_from(buf)
            # Before NEWKEYS: at least the padding length byte, a message type
            # and four bytes of padding, in blocks of 8.
            if length < 12 or length + 4 > self.max_packet or (length + 4) % 8:
                self._refuse(length)
        length, = _U32.unpack_from(buf)
        need = 4 + length - len(buf)
        buf += view[pos:pos + need]
        pos += min(need, len(view) - pos)
        if len(buf) < 4 + length:
            return pos
        padding = buf[4]
        if padding < 4 or padding > length - 2:
            self._refuse(length)
        kind = buf[5]
        if kind == _KEXINIT:
            self._server_kexinit = _name_lists(bytes(buf[5:4 + length - padding]))
        self._buffer = bytearray()
        if kind == _NEWKEYS:
            self._encrypted()
            if self.hold_at_newkeys:
                self.holding = True
        return pos

    def _encrypted(self) -> None:
        """After the server's NEWKEYS: follow the lengths if they stay visible."""
        client, server = self._client.kexinit, self._server_kexinit
        cipher = mac = None
        if client is not None and server is not None:
            cipher = _choose(client[3], server[3])
            mac = _choose(client[5], server[5])
        self.cipher, self.mac = cipher, mac
        if cipher in _GCM:
            self._block, self._mac = 16, 16
        elif cipher in _BLOCK and mac in _ETM_MAC:
            self._block, self._mac = _BLOCK[cipher], _ETM_MAC[mac]
        else:
            # The lengths are encrypted from here on. (Re-keying keeps the
            # algorithms: every client and OpenSSH send the same lists again.)
            self._state = _OPAQUE
            self.opaque = True
            logger.debug('%s:%s: %s with %s hides packet lengths; the guard stops here',
                         self.host, self.port, cipher, mac)
            return
        self._state = _FRAMED

    def _check_encrypted(self, length: int) -> None:
        # Encrypted (padding length, payload, padding) in whole blocks: at
        # least one, and never a partial one.
        if (length < self._block or length + 4 + self._mac > self.max_packet
                or length % self._block):
            self._refuse(length)

    def _refuse(self, length: int) -> None:
        if length + 4 + self._mac > self.max_packet:
            problem = 'too large (a whole packet over %s bytes)' % self.max_packet
        elif length < self._block:
            problem = 'too small'
        else:
            problem = 'not a whole number of %s-byte blocks' % self._block
        raise PacketLengthError(
            'Server %s:%s sent a packet length of %s bytes, %s: connection closed before '
            'the SSH library read it', self.host, self.port, length, problem)
