"""A hostile SFTP subsystem for the tests: OpenSSH's own sftp-server, with the
file names of its directory listings rewritten on the way to the client.

sshd runs it as ``Subsystem sftp python3 renaming_sftp.py MAPFILE``; MAPFILE is
JSON, ``{"listed name": "name sent instead"}``. Only the names in replies to
READDIR change, so the server still serves the real files: what a client does
with a name like ``../x`` is then entirely its own doing.
"""
import json
import os
import struct
import subprocess
import sys
import threading

SFTP_SERVER = '/usr/lib/openssh/sftp-server'
READDIR, NAME = 12, 104


def read_exact(stream, size):
    data = b''
    while len(data) < size:
        chunk = stream.read(size - len(data))
        if not chunk:
            return None
        data += chunk
    return data


def read_packet(stream):
    head = read_exact(stream, 4)
    if head is None:
        return None
    body = read_exact(stream, struct.unpack('>I', head)[0])
    return body


def write_packet(stream, body):
    stream.write(struct.pack('>I', len(body)) + body)
    stream.flush()


class Cursor:
    def __init__(self, data, pos):
        self.data, self.pos = data, pos

    def u32(self):
        value, = struct.unpack_from('>I', self.data, self.pos)
        self.pos += 4
        return value

    def string(self):
        size = self.u32()
        value = self.data[self.pos:self.pos + size]
        self.pos += size
        return value

    def skip_attrs(self):
        start = self.pos
        flags = self.u32()
        self.pos += (8 if flags & 1 else 0) + (8 if flags & 2 else 0) + (4 if flags & 4 else 0) \
            + (8 if flags & 8 else 0)
        if flags & 0x80000000:
            for _ in range(self.u32() * 2):
                self.string()
        return self.data[start:self.pos]


def rename_entries(body, mapping):
    cursor = Cursor(body, 5)  # type byte, request id
    out = [body[:5], struct.pack('>I', cursor.u32())]
    for _ in range(struct.unpack_from('>I', body, 5)[0]):
        name = cursor.string().decode('utf-8', 'surrogateescape')
        longname = cursor.string()
        attrs = cursor.skip_attrs()
        new = mapping.get(name, name).encode('utf-8', 'surrogateescape')
        out += [struct.pack('>I', len(new)), new, struct.pack('>I', len(longname)), longname,
                attrs]
    return b''.join(out)


def main():
    with open(sys.argv[1]) as fh:
        mapping = json.load(fh)
    server = subprocess.Popen([SFTP_SERVER], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    readdirs = set()
    lock = threading.Lock()

    def to_server():
        while True:
            body = read_packet(stdin)
            if body is None:
                server.stdin.close()
                return
            if body[0] == READDIR:
                with lock:
                    readdirs.add(struct.unpack_from('>I', body, 1)[0])
            write_packet(server.stdin, body)

    threading.Thread(target=to_server, daemon=True).start()
    while True:
        body = read_packet(server.stdout)
        if body is None:
            break
        request = struct.unpack_from('>I', body, 1)[0]
        with lock:
            listing = body[0] == NAME and request in readdirs
            readdirs.discard(request)
        write_packet(stdout, rename_entries(body, mapping) if listing else body)
    server.wait()
    os._exit(0)


if __name__ == '__main__':
    main()
