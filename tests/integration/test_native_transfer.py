"""Integration tests of file copies (SFTP and SCP) of the native clients.

Every server runs on this machine, as the same user as the tests, so a
"remote" path is also a local one: results are checked directly with os and
hashlib under ``tmp_path``.

Three sshd on 127.0.0.1 (different ports) serve the parallel copies to 20
hosts; one more on 127.0.0.2 gives a second host *name*, for the
``local_file + suffix_separator + host`` downloads. Refused connections go to
127.0.0.5, so an error can be checked for the host it names.
"""
import hashlib
import os
import socket
import stat

import gevent
import gevent.event
import pytest

from pssh.config import HostConfig
from pssh.exceptions import HostArgumentError, PsshError, SCPError, SFTPError, SFTPIOError
from pssh.testing import OpenSSHServer, start_servers

from conftest import ALL_BACKENDS

#: The backends a test here runs on when it asks for the backend fixture (see conftest).
BACKENDS = ALL_BACKENDS

N_HOSTS = 20
BIG_SIZE = 50 * 1024 * 1024
REFUSED_ADDR = '127.0.0.5'
SECOND_ADDR = '127.0.0.2'


# ---------------------------------------------------------------------------
# fixtures


@pytest.fixture(scope='module')
def group():
    """Three sshd on 127.0.0.1 sharing one user key."""
    with start_servers(3, reexec=False) as servers:
        yield servers


@pytest.fixture(scope='module')
def second(group):
    """An sshd on 127.0.0.2 accepting the group's user key."""
    srv = OpenSSHServer(SECOND_ADDR, user_key=group.user_key, reexec=False)
    srv.start()
    try:
        yield srv
    finally:
        srv.stop()


def _client_kwargs(group):
    return dict(pkey=group.user_key, num_retries=1, allow_agent=False,
                identity_auth=False, timeout=10)


def _single(backend, group, index=0):
    srv = group[index]
    return backend.SSHClient(srv.host, port=srv.port, user=srv.user, **_client_kwargs(group))


@pytest.fixture(scope='module')
def client(backend, group):
    """One connected SSHClient, shared by the module's single-host tests."""
    cli = _single(backend, group)
    try:
        yield cli
    finally:
        cli.close()


@pytest.fixture
def fresh_client(backend, group):
    """A connected SSHClient of the test's own."""
    cli = _single(backend, group, 1)
    try:
        yield cli
    finally:
        cli.close()


def _parallel(backend, group, hosts, ports, **kwargs):
    config = [HostConfig(port=port) for port in ports]
    options = _client_kwargs(group)
    options.update(kwargs)
    return backend.ParallelSSHClient(hosts, host_config=config, user=group.user, **options)


@pytest.fixture(scope='module')
def pclient(backend, group):
    """20 hosts '127.0.0.1' spread over the three servers."""
    ports = [group[i % len(group)].port for i in range(N_HOSTS)]
    cli = _parallel(backend, group, ['127.0.0.1'] * N_HOSTS, ports)
    try:
        yield cli
    finally:
        cli.close()


@pytest.fixture(scope='module')
def refused_port():
    """A port on REFUSED_ADDR that is bound but not listening: connecting is refused."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind((REFUSED_ADDR, 0))
    try:
        yield sock.getsockname()[1]
    finally:
        sock.close()


@pytest.fixture(scope='module')
def big_file(tmp_path_factory):
    """A 50 MB file of random bytes, and its sha256."""
    path = tmp_path_factory.mktemp('big') / 'big.bin'
    digest = hashlib.sha256()
    with open(path, 'wb') as out:
        for _ in range(BIG_SIZE // (1024 * 1024)):
            block = os.urandom(1024 * 1024)
            digest.update(block)
            out.write(block)
    os.chmod(path, 0o640)
    return str(path), digest.hexdigest()


# ---------------------------------------------------------------------------
# helpers


def sha256(path):
    digest = hashlib.sha256()
    with open(path, 'rb') as src:
        for block in iter(lambda: src.read(1024 * 1024), b''):
            digest.update(block)
    return digest.hexdigest()


def read(path):
    with open(path, 'rb') as src:
        return src.read()


def mode_of(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def write_file(path, data, mode=0o644):
    path = str(path)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, 'wb') as out:
        out.write(data)
    os.chmod(path, mode)
    return path


def make_tree(root):
    """A tree with nested and empty directories and files of several modes."""
    root = str(root)
    write_file(os.path.join(root, 'a.txt'), b'alpha\n', 0o640)
    write_file(os.path.join(root, 'run.sh'), b'#!/bin/sh\necho hi\n', 0o755)
    write_file(os.path.join(root, 'sub', 'b.bin'), os.urandom(200 * 1024), 0o600)
    write_file(os.path.join(root, 'sub', 'deeper', 'c.txt'), b'', 0o644)
    write_file(os.path.join(root, 'sub', 'deeper', 'd.txt'), b'delta' * 1000, 0o755)
    os.makedirs(os.path.join(root, 'empty'))
    os.makedirs(os.path.join(root, 'sub', 'empty2', 'empty3'))
    return root


def tree_snapshot(root):
    """{relative path: ('dir',) or ('file', sha256, mode)} of a tree."""
    snap = {}
    for directory, dirs, files in os.walk(root):
        rel = os.path.relpath(directory, root)
        for name in dirs:
            snap[os.path.normpath(os.path.join(rel, name))] = ('dir',)
        for name in files:
            path = os.path.join(directory, name)
            snap[os.path.normpath(os.path.join(rel, name))] = ('file', sha256(path),
                                                               mode_of(path))
    return snap


def assert_same_tree(src, dst):
    assert os.path.isdir(dst)
    assert tree_snapshot(dst) == tree_snapshot(src)


def leftovers(directory):
    """Temporary files of downloads left in ``directory``."""
    return [name for name in os.listdir(directory) if '.part' in name]


class Recorder:
    """A progress callback that records its calls."""

    def __init__(self):
        self.calls = []

    def __call__(self, done, total):
        self.calls.append((done, total))

    def check(self, size):
        assert self.calls, 'progress was never called'
        dones = [done for done, _total in self.calls]
        assert all(later > earlier for earlier, later in zip(dones, dones[1:])), dones
        assert all(total == size for _done, total in self.calls), self.calls
        assert self.calls[-1] == (size, size)


def upload(client, method, local, remote, **kwargs):
    getattr(client, method)(local, remote, **kwargs)


def download(client, method, remote, local, **kwargs):
    getattr(client, method)(remote, local, **kwargs)


UPLOADS = ['copy_file', 'scp_send']
DOWNLOADS = ['copy_remote_file', 'scp_recv']


# ---------------------------------------------------------------------------
# single host: plain copies


@pytest.mark.timeout(30)
@pytest.mark.parametrize('method', UPLOADS)
@pytest.mark.parametrize('mode', [0o640, 0o755, 0o600])
def test_upload_content_and_mode(client, tmp_path, method, mode):
    data = os.urandom(300 * 1024 + 7)
    local = write_file(tmp_path / 'src' / 'file.bin', data, mode)
    remote = str(tmp_path / 'dst' / 'new' / 'nested' / 'file.bin')
    assert upload(client, method, local, remote) is None
    with open(remote, 'rb') as got:
        assert got.read() == data
    assert mode_of(remote) == mode


@pytest.mark.timeout(30)
@pytest.mark.parametrize('method', DOWNLOADS)
@pytest.mark.parametrize('mode', [0o640, 0o755, 0o600])
def test_download_content_and_mode(client, tmp_path, method, mode):
    data = os.urandom(300 * 1024 + 7)
    remote = write_file(tmp_path / 'src' / 'file.bin', data, mode)
    local = str(tmp_path / 'dst' / 'new' / 'nested' / 'file.bin')
    assert download(client, method, remote, local) is None
    with open(local, 'rb') as got:
        assert got.read() == data
    assert mode_of(local) == mode
    assert leftovers(os.path.dirname(local)) == []


@pytest.mark.timeout(30)
@pytest.mark.parametrize('method', UPLOADS + DOWNLOADS)
def test_empty_file(client, tmp_path, method):
    src = write_file(tmp_path / 'src' / 'empty', b'', 0o640)
    dst = str(tmp_path / 'dst' / 'empty')
    getattr(client, method)(src, dst)
    assert os.path.getsize(dst) == 0
    assert mode_of(dst) == 0o640


@pytest.mark.timeout(30)
@pytest.mark.parametrize('method', UPLOADS + DOWNLOADS)
def test_overwrites_existing_file(client, tmp_path, method):
    src = write_file(tmp_path / 'src' / 'f.txt', b'new short', 0o644)
    dst = write_file(tmp_path / 'dst' / 'f.txt', b'old and much longer content' * 100, 0o644)
    getattr(client, method)(src, dst)
    with open(dst, 'rb') as got:
        assert got.read() == b'new short'


@pytest.mark.timeout(30)
@pytest.mark.parametrize('method', UPLOADS + DOWNLOADS)
def test_awkward_file_names(client, tmp_path, method):
    """Spaces, quotes, shell metacharacters and non-ASCII survive both protocols."""
    name = "it's a $(file) `x` ; ü & *.txt"
    src = write_file(tmp_path / 'src dir' / name, b'awkward', 0o644)
    dst = str(tmp_path / "dst 'dir'" / name)
    getattr(client, method)(src, dst)
    with open(dst, 'rb') as got:
        assert got.read() == b'awkward'
    # Nothing stray was made by a shell interpreting the name.
    assert sorted(os.listdir(tmp_path)) == sorted(['src dir', "dst 'dir'"])


@pytest.mark.timeout(30)
def test_download_encoding_parameter(client, tmp_path):
    remote = write_file(tmp_path / 'r.txt', b'enc', 0o644)
    client.copy_remote_file(remote, str(tmp_path / 'a.txt'), encoding='utf-8')
    client.scp_recv(remote, str(tmp_path / 'b.txt'), encoding='utf-8')
    assert read(tmp_path / 'a.txt') == b'enc'
    assert read(tmp_path / 'b.txt') == b'enc'


@pytest.mark.timeout(30)
@pytest.mark.parametrize('exists', [True, False])
def test_scp_send_into_directory(client, tmp_path, exists):
    local = write_file(tmp_path / 'src' / 'payload.txt', b'into dir', 0o640)
    target = tmp_path / 'remote' / 'target'
    if exists:
        target.mkdir(parents=True)
    client.scp_send(local, str(target) + '/')
    copied = target / 'payload.txt'
    assert copied.read_bytes() == b'into dir'
    assert mode_of(copied) == 0o640


@pytest.mark.timeout(30)
@pytest.mark.parametrize('exists', [True, False])
def test_scp_recv_into_directory(client, tmp_path, exists):
    remote = write_file(tmp_path / 'remote' / 'payload.txt', b'into dir', 0o640)
    target = tmp_path / 'local' / 'target'
    if exists:
        target.mkdir(parents=True)
    client.scp_recv(remote, str(target) + '/')
    copied = target / 'payload.txt'
    assert copied.read_bytes() == b'into dir'
    assert mode_of(copied) == 0o640


@pytest.mark.timeout(30)
def test_scp_send_directory_into_directory(client, tmp_path):
    src = make_tree(tmp_path / 'srctree')
    target = tmp_path / 'remote' / 'target'
    client.scp_send(src, str(target) + '/', recurse=True)
    assert os.listdir(target) == ['srctree']
    assert_same_tree(src, str(target / 'srctree'))


@pytest.mark.timeout(30)
def test_scp_recv_directory_into_directory(client, tmp_path):
    src = make_tree(tmp_path / 'srctree')
    target = tmp_path / 'local' / 'target'
    client.scp_recv(src, str(target) + '/', recurse=True)
    assert os.listdir(target) == ['srctree']
    assert_same_tree(src, str(target / 'srctree'))


@pytest.mark.timeout(30)
@pytest.mark.parametrize('method', UPLOADS + DOWNLOADS)
def test_mode_kept_when_overwriting(client, tmp_path, method):
    """The source's permission bits win over those of the file replaced."""
    src = write_file(tmp_path / 'src' / 'f.txt', b'new', 0o640)
    dst = write_file(tmp_path / 'dst' / 'f.txt', b'old', 0o600)
    getattr(client, method)(src, dst)
    assert read(dst) == b'new'
    assert mode_of(dst) == 0o640


# ---------------------------------------------------------------------------
# single host: big files, checksums and progress


@pytest.mark.timeout(60)
@pytest.mark.parametrize('method', UPLOADS)
def test_big_upload_checksum_and_progress(client, tmp_path, big_file, method):
    local, digest = big_file
    remote = str(tmp_path / 'up' / 'big.bin')
    progress = Recorder()
    getattr(client, method)(local, remote, progress=progress)
    assert os.path.getsize(remote) == BIG_SIZE
    assert sha256(remote) == digest
    assert mode_of(remote) == 0o640
    progress.check(BIG_SIZE)
    assert len(progress.calls) > 1


@pytest.mark.timeout(60)
@pytest.mark.parametrize('method', DOWNLOADS)
def test_big_download_checksum_and_progress(client, tmp_path, big_file, method):
    remote, digest = big_file
    local = str(tmp_path / 'down' / 'big.bin')
    progress = Recorder()
    getattr(client, method)(remote, local, progress=progress)
    assert os.path.getsize(local) == BIG_SIZE
    assert sha256(local) == digest
    assert mode_of(local) == 0o640
    assert leftovers(os.path.dirname(local)) == []
    progress.check(BIG_SIZE)
    assert len(progress.calls) > 1


def _steps(progress):
    dones = [0] + [done for done, _total in progress.calls]
    return {later - earlier for earlier, later in zip(dones, dones[1:-1])}


def _sftp_there_and_back(cli, local, tmp_path):
    """Upload ``local`` and download it again over SFTP: (remote, back, up, down),
    the last two the progress of each copy."""
    remote, back = str(tmp_path / 'up.bin'), str(tmp_path / 'down.bin')
    up, down = Recorder(), Recorder()
    cli.copy_file(local, remote, progress=up)
    cli.copy_remote_file(remote, back, progress=down)
    return remote, back, up, down


@pytest.mark.timeout(60)
def test_sftp_requests_as_big_as_the_server_allows(client, tmp_path, big_file):
    # OpenSSH says (limits@openssh.com) that it takes 255 KiB per read and write:
    # every request but the last moves that much (progress comes once per reply).
    local, digest = big_file
    _remote, back, up, down = _sftp_there_and_back(client, local, tmp_path)
    assert sha256(back) == digest
    assert _steps(up) == _steps(down) == {255 * 1024}
    up.check(BIG_SIZE)
    down.check(BIG_SIZE)


@pytest.mark.timeout(10)
def test_sftp_version_extensions_are_read_up_to_a_truncation():
    from pssh.clients.base._sftp import version_extensions

    def string(data):
        return len(data).to_bytes(4, 'big') + data
    version = (3).to_bytes(4, 'big')
    payload = version + string(b'limits@openssh.com') + string(b'1') + string(b'fsync@x')
    assert version_extensions(payload) == {b'limits@openssh.com': b'1'}
    assert version_extensions(version) == {}


@pytest.mark.timeout(60)
def test_sftp_requests_of_64k_when_the_server_gives_no_limits(backend, group, tmp_path, big_file):
    # The server names the limits extension but refuses the request (sftp-server -P):
    # requests stay at 64 KiB, and the copies are whole.
    local, digest = big_file
    with OpenSSHServer(user_key=group.user_key,
                       extra_config={'Subsystem': 'sftp internal-sftp -P limits'}) as srv:
        with backend.SSHClient(srv.host, port=srv.port, user=srv.user,
                               **_client_kwargs(group)) as cli:
            remote, back, up, down = _sftp_there_and_back(cli, local, tmp_path)
    assert sha256(remote) == sha256(back) == digest
    assert _steps(up) == _steps(down) == {64 * 1024}


@pytest.mark.timeout(30)
@pytest.mark.parametrize('method', UPLOADS + DOWNLOADS)
def test_progress_small_file(client, tmp_path, method):
    size = 12345
    src = write_file(tmp_path / 'src.bin', os.urandom(size), 0o644)
    progress = Recorder()
    getattr(client, method)(src, str(tmp_path / 'dst.bin'), progress=progress)
    progress.check(size)


# ---------------------------------------------------------------------------
# single host: SFTP session primitives


@pytest.mark.timeout(30)
# The gevent client's own SFTP session API (_make_sftp, sftp=...): pssh.aio has none.
@pytest.mark.backends('native', 'ssh')
def test_make_sftp_mkdir_put_get(fresh_client, tmp_path):
    sftp = fresh_client._make_sftp()
    directory = str(tmp_path / 'made' / 'by' / 'mkdir')
    assert fresh_client.mkdir(sftp, directory) is None
    assert os.path.isdir(directory)
    fresh_client.mkdir(sftp, directory)  # already there: no error

    data = os.urandom(70000)
    local = write_file(tmp_path / 'local.bin', data, 0o750)
    remote = os.path.join(directory, 'put.bin')
    assert fresh_client.sftp_put(sftp, local, remote) is None
    assert read(remote) == data
    assert mode_of(remote) == 0o750

    back = str(tmp_path / 'back.bin')
    assert fresh_client.sftp_get(sftp, remote, back) is None
    assert read(back) == data
    assert mode_of(back) == 0o750


@pytest.mark.timeout(30)
# The gevent client's own SFTP session API (_make_sftp, sftp=...): pssh.aio has none.
@pytest.mark.backends('native', 'ssh')
def test_sftp_session_reused_across_copies(fresh_client, tmp_path):
    sftp = fresh_client._make_sftp()
    for index in range(5):
        src = write_file(tmp_path / 'src' / ('f%d' % index), b'x%d' % index, 0o644)
        fresh_client.copy_file(src, str(tmp_path / 'up' / ('f%d' % index)), sftp=sftp)
        fresh_client.copy_remote_file(str(tmp_path / 'up' / ('f%d' % index)),
                                      str(tmp_path / 'down' / ('f%d' % index)), sftp=sftp)
        fresh_client.scp_send(src, str(tmp_path / 'scp' / ('f%d' % index)), sftp=sftp)
        fresh_client.scp_recv(src, str(tmp_path / 'scpd' / ('f%d' % index)), sftp=sftp)
    for sub in ('up', 'down', 'scp', 'scpd'):
        assert sorted(os.listdir(tmp_path / sub)) == ['f%d' % i for i in range(5)]
        for index in range(5):
            assert (tmp_path / sub / ('f%d' % index)).read_bytes() == b'x%d' % index


@pytest.mark.timeout(30)
# The gevent client's own SFTP session API (_make_sftp, sftp=...): pssh.aio has none.
@pytest.mark.backends('native', 'ssh')
def test_sftp_put_missing_local(fresh_client, tmp_path):
    sftp = fresh_client._make_sftp()
    missing = str(tmp_path / 'missing.txt')
    with pytest.raises(FileNotFoundError) as info:
        fresh_client.sftp_put(sftp, missing, str(tmp_path / 'out.txt'))
    assert missing in str(info.value)
    assert fresh_client.host in str(info.value)
    assert not os.path.exists(tmp_path / 'out.txt')


@pytest.mark.timeout(30)
# The gevent client's own SFTP session API (_make_sftp, sftp=...): pssh.aio has none.
@pytest.mark.backends('native', 'ssh')
def test_sftp_get_missing_remote(fresh_client, tmp_path):
    sftp = fresh_client._make_sftp()
    missing = str(tmp_path / 'missing.txt')
    with pytest.raises(SFTPIOError) as info:
        fresh_client.sftp_get(sftp, missing, str(tmp_path / 'out.txt'))
    assert missing in str(info.value)
    assert fresh_client.host in str(info.value)
    assert os.listdir(tmp_path) == []


# ---------------------------------------------------------------------------
# single host: directory trees


@pytest.mark.timeout(30)
@pytest.mark.parametrize('method', UPLOADS + DOWNLOADS)
def test_recursive_copy(client, tmp_path, method):
    src = make_tree(tmp_path / 'src')
    dst = str(tmp_path / 'dst' / 'missing' / 'tree')
    getattr(client, method)(src, dst, recurse=True)
    assert_same_tree(src, dst)


@pytest.mark.timeout(30)
@pytest.mark.parametrize('method', UPLOADS + DOWNLOADS)
def test_recursive_copy_into_existing_directory(client, tmp_path, method):
    src = make_tree(tmp_path / 'src')
    dst = tmp_path / 'dst'
    write_file(dst / 'already.txt', b'kept', 0o644)
    getattr(client, method)(src, str(dst), recurse=True)
    assert (dst / 'already.txt').read_bytes() == b'kept'
    os.unlink(dst / 'already.txt')
    assert_same_tree(src, str(dst))


@pytest.mark.timeout(30)
@pytest.mark.parametrize('method', UPLOADS + DOWNLOADS)
def test_recurse_on_a_single_file(client, tmp_path, method):
    src = write_file(tmp_path / 'one.txt', b'single', 0o640)
    dst = str(tmp_path / 'out' / 'one.txt')
    getattr(client, method)(src, dst, recurse=True)
    assert read(dst) == b'single'
    assert mode_of(dst) == 0o640


@pytest.mark.timeout(30)
@pytest.mark.parametrize('method', ['copy_file', 'scp_send', 'copy_remote_file'])
def test_directory_without_recurse(client, tmp_path, method):
    src = make_tree(tmp_path / 'src')
    dst = tmp_path / 'dst'
    with pytest.raises(ValueError):
        getattr(client, method)(src, str(dst))
    assert not dst.exists()


@pytest.mark.timeout(30)
def test_scp_recv_directory_without_recurse(client, tmp_path):
    src = make_tree(tmp_path / 'src')
    dst = tmp_path / 'dst'
    with pytest.raises((ValueError, SCPError)):
        client.scp_recv(src, str(dst))
    assert not dst.exists()
    assert leftovers(tmp_path) == []


# ---------------------------------------------------------------------------
# single host: errors


@pytest.mark.timeout(30)
@pytest.mark.parametrize('method,error', [('copy_remote_file', SFTPIOError),
                                          ('scp_recv', SCPError)])
@pytest.mark.parametrize('recurse', [False, True])
def test_download_missing_remote_file(client, tmp_path, method, error, recurse):
    missing = str(tmp_path / 'remote' / 'no-such-file.txt')
    local_dir = tmp_path / 'local'
    local_dir.mkdir()
    local = str(local_dir / 'out.txt')
    with pytest.raises(error) as info:
        getattr(client, method)(missing, local, recurse=recurse)
    message = str(info.value)
    assert missing in message
    assert client.host in message
    assert os.listdir(local_dir) == []


@pytest.mark.timeout(30)
@pytest.mark.parametrize('method', DOWNLOADS)
def test_failed_download_keeps_existing_file(client, tmp_path, method):
    local = write_file(tmp_path / 'local' / 'out.txt', b'precious', 0o600)
    with pytest.raises(PsshError):
        getattr(client, method)(str(tmp_path / 'no-such-file'), local)
    assert read(local) == b'precious'
    assert mode_of(local) == 0o600
    assert os.listdir(tmp_path / 'local') == ['out.txt']


@pytest.mark.timeout(30)
@pytest.mark.parametrize('method', DOWNLOADS)
def test_download_onto_a_directory_leaves_nothing(client, tmp_path, method):
    """The final rename fails (a non-empty directory holds the name): nothing
    is left behind, neither under the final name nor as a temporary file."""
    remote = write_file(tmp_path / 'remote' / 'data.bin', os.urandom(3 * 1024 * 1024), 0o644)
    local_parent = tmp_path / 'local'
    target = local_parent / 'data.bin'
    write_file(target / 'inside.txt', b'x', 0o644)
    with pytest.raises(OSError) as info:
        getattr(client, method)(remote, str(target))
    assert client.host in str(info.value)
    assert str(target) in str(info.value)
    assert sorted(os.listdir(local_parent)) == ['data.bin']
    assert os.listdir(target) == ['inside.txt']


class Abort(Exception):
    pass


@pytest.mark.timeout(30)
@pytest.mark.parametrize('method', DOWNLOADS)
def test_aborted_download_leaves_nothing(fresh_client, tmp_path, big_file, method):
    """A download that stops half-way (here: its progress callback raises)
    leaves neither a truncated file nor a temporary one, and the client goes on
    working."""
    remote, digest = big_file
    local_dir = tmp_path / 'local'
    local_dir.mkdir()

    def progress(done, total):
        if done >= 4 * 1024 * 1024:
            raise Abort(done)

    with pytest.raises(Abort):
        getattr(fresh_client, method)(remote, str(local_dir / 'big.bin'), progress=progress)
    assert os.listdir(local_dir) == []
    getattr(fresh_client, method)(remote, str(local_dir / 'again.bin'))
    assert sha256(local_dir / 'again.bin') == digest
    assert os.listdir(local_dir) == ['again.bin']


@pytest.mark.timeout(30)
@pytest.mark.parametrize('method', DOWNLOADS)
def test_killed_download_leaves_nothing(fresh_client, tmp_path, big_file, method):
    """A download greenlet killed mid-transfer leaves nothing behind."""
    remote, digest = big_file
    local_dir = tmp_path / 'local'
    local_dir.mkdir()
    started = gevent.event.Event()
    greenlet = gevent.spawn(getattr(fresh_client, method), remote, str(local_dir / 'big.bin'),
                            progress=lambda done, total: started.set())
    assert started.wait(20)
    greenlet.kill(timeout=10)
    assert greenlet.dead
    assert os.listdir(local_dir) == []
    getattr(fresh_client, method)(remote, str(local_dir / 'again.bin'))
    assert sha256(local_dir / 'again.bin') == digest


@pytest.mark.timeout(30)
@pytest.mark.parametrize('method', UPLOADS)
def test_upload_missing_local_file(client, tmp_path, method):
    missing = str(tmp_path / 'no-such-file.txt')
    with pytest.raises(FileNotFoundError) as info:
        getattr(client, method)(missing, str(tmp_path / 'remote' / 'x.txt'))
    message = str(info.value)
    assert missing in message
    assert client.host in message
    assert not os.path.exists(tmp_path / 'remote' / 'x.txt')


@pytest.mark.timeout(30)
@pytest.mark.parametrize('method', UPLOADS)
def test_upload_local_path_under_a_file(client, tmp_path, method):
    blocker = write_file(tmp_path / 'blocker', b'', 0o644)
    bad = os.path.join(blocker, 'x.txt')
    with pytest.raises(OSError) as info:
        getattr(client, method)(bad, str(tmp_path / 'remote' / 'x.txt'))
    assert bad in str(info.value)
    assert client.host in str(info.value)


@pytest.mark.timeout(30)
@pytest.mark.parametrize('method,errors', [('copy_file', (SFTPIOError,)),
                                           ('scp_send', (SCPError, SFTPIOError))])
@pytest.mark.parametrize('depth', ['direct', 'nested'])
def test_upload_under_a_remote_file(client, tmp_path, method, errors, depth):
    """The remote parent is a file: nothing can be written there, even as root."""
    local = write_file(tmp_path / 'src.txt', b'data', 0o644)
    blocker = write_file(tmp_path / 'remote' / 'blocker', b'keep me', 0o644)
    remote = os.path.join(blocker, 'x.txt') if depth == 'direct' else \
        os.path.join(blocker, 'sub', 'x.txt')
    with pytest.raises(errors) as info:
        getattr(client, method)(local, remote)
    assert blocker in str(info.value)
    assert client.host in str(info.value)
    assert read(blocker) == b'keep me'


@pytest.mark.timeout(30)
@pytest.mark.parametrize('method,error', [('copy_file', SFTPIOError), ('scp_send', SCPError)])
def test_upload_to_proc(client, tmp_path, method, error):
    local = write_file(tmp_path / 'src.txt', b'data', 0o644)
    remote = '/proc/pssh-transfer-test-%d' % os.getpid()
    with pytest.raises(error) as info:
        getattr(client, method)(local, remote)
    assert remote in str(info.value)
    assert client.host in str(info.value)


@pytest.mark.timeout(30)
@pytest.mark.parametrize('method', DOWNLOADS)
def test_download_local_parent_is_a_file(client, tmp_path, method):
    remote = write_file(tmp_path / 'remote' / 'r.txt', b'data', 0o644)
    blocker = write_file(tmp_path / 'local' / 'blocker', b'keep me', 0o644)
    local = os.path.join(blocker, 'sub', 'r.txt')
    with pytest.raises(OSError) as info:
        getattr(client, method)(remote, local)
    assert not isinstance(info.value, PsshError)
    assert blocker in str(info.value)
    assert client.host in str(info.value)
    assert read(blocker) == b'keep me'
    assert os.listdir(tmp_path / 'local') == ['blocker']


@pytest.mark.timeout(30)
# The gevent client's own SFTP session API (_make_sftp, sftp=...): pssh.aio has none.
@pytest.mark.backends('native', 'ssh')
def test_client_usable_after_errors(fresh_client, tmp_path):
    """A failed copy leaves the connection (and a shared SFTP session) usable."""
    sftp = fresh_client._make_sftp()
    local = write_file(tmp_path / 'src.txt', b'after', 0o644)
    for _ in range(3):
        with pytest.raises(SFTPIOError):
            fresh_client.copy_remote_file(str(tmp_path / 'nope'), str(tmp_path / 'o'),
                                          sftp=sftp)
        with pytest.raises(SCPError):
            fresh_client.scp_recv(str(tmp_path / 'nope'), str(tmp_path / 'o'))
        with pytest.raises(SCPError):
            fresh_client.scp_send(local, '/proc/pssh-transfer-test', sftp=sftp)
    fresh_client.copy_file(local, str(tmp_path / 'ok1.txt'), sftp=sftp)
    fresh_client.scp_send(local, str(tmp_path / 'ok2.txt'))
    fresh_client.scp_recv(local, str(tmp_path / 'ok3.txt'))
    for name in ('ok1.txt', 'ok2.txt', 'ok3.txt'):
        assert (tmp_path / name).read_bytes() == b'after'
    output = fresh_client.run_command('echo still here')
    assert list(output.stdout) == ['still here']


@pytest.mark.timeout(30)
def test_server_without_sftp(backend, group, tmp_path):
    """No SFTP subsystem: the SFTP copies raise SFTPError naming the host, and
    a plain SCP download still works."""
    local = write_file(tmp_path / 'src.txt', b'no sftp', 0o640)
    with OpenSSHServer(user_key=group.user_key, extra_config={'Subsystem': None}) as srv:
        with backend.SSHClient(srv.host, port=srv.port, user=srv.user,
                               **_client_kwargs(group)) as cli:
            for method in ('copy_file', 'copy_remote_file'):
                with pytest.raises(SFTPError) as info:
                    getattr(cli, method)(local, str(tmp_path / method))
                assert srv.host in str(info.value)
                assert not os.path.exists(tmp_path / method)
            cli.scp_recv(local, str(tmp_path / 'scp_recv'))
    assert read(tmp_path / 'scp_recv') == b'no sftp'
    assert mode_of(tmp_path / 'scp_recv') == 0o640


# ---------------------------------------------------------------------------
# parallel: successful copies to 20 hosts


def _aio(backend):
    """pssh.aio's copies are awaited, not greenlets: the call returns once every
    host is done and raises the first failure in host order (which
    tests/aio_shim.py hands over in one finished stand-in)."""
    return backend.name.startswith('aio-')


def _joined(backend, greenlets):
    assert isinstance(greenlets, list)
    if _aio(backend):
        gevent.joinall(greenlets, raise_error=True, timeout=40)
        return
    assert len(greenlets) == N_HOSTS
    assert all(isinstance(g, gevent.Greenlet) for g in greenlets)
    # Returned at once: nothing has run yet.
    assert not any(g.ready() for g in greenlets)
    gevent.joinall(greenlets, raise_error=True, timeout=40)
    assert all(g.successful() for g in greenlets)


@pytest.mark.timeout(60)
def test_parallel_copy_file(backend, pclient, tmp_path):
    data = os.urandom(256 * 1024)
    local = write_file(tmp_path / 'src.bin', data, 0o640)
    remote = str(tmp_path / 'remote' / 'host%(i)s' / 'file.bin')
    greenlets = pclient.copy_file(local, remote,
                                  copy_args=[{'i': i} for i in range(N_HOSTS)])
    _joined(backend, greenlets)
    digest = hashlib.sha256(data).hexdigest()
    assert sorted(os.listdir(tmp_path / 'remote')) == sorted('host%d' % i
                                                              for i in range(N_HOSTS))
    for i in range(N_HOSTS):
        path = tmp_path / 'remote' / ('host%d' % i) / 'file.bin'
        assert sha256(path) == digest
        assert mode_of(path) == 0o640


@pytest.mark.timeout(60)
def test_parallel_copy_file_per_host_sources(backend, pclient, tmp_path):
    for i in range(N_HOSTS):
        write_file(tmp_path / 'src' / ('in%d.txt' % i), b'content %d' % i, 0o600)
    greenlets = pclient.copy_file(str(tmp_path / 'src' / 'in%(i)s.txt'),
                                  str(tmp_path / 'dst' / 'out%(i)s.txt'),
                                  copy_args=[{'i': i} for i in range(N_HOSTS)])
    _joined(backend, greenlets)
    for i in range(N_HOSTS):
        path = tmp_path / 'dst' / ('out%d.txt' % i)
        assert path.read_bytes() == b'content %d' % i
        assert mode_of(path) == 0o600


@pytest.mark.timeout(60)
def test_parallel_copy_remote_file(backend, pclient, tmp_path):
    for i in range(N_HOSTS):
        write_file(tmp_path / 'remote' / ('r%d.bin' % i), b'remote %d' % i * 1000, 0o750)
    greenlets = pclient.copy_remote_file(str(tmp_path / 'remote' / 'r%(i)s.bin'),
                                         str(tmp_path / 'local' / 'h%(i)s' / 'l.bin'),
                                         copy_args=[{'i': i} for i in range(N_HOSTS)])
    _joined(backend, greenlets)
    # No suffix with copy_args.
    assert sorted(os.listdir(tmp_path / 'local')) == sorted('h%d' % i for i in range(N_HOSTS))
    for i in range(N_HOSTS):
        directory = tmp_path / 'local' / ('h%d' % i)
        assert os.listdir(directory) == ['l.bin']
        assert (directory / 'l.bin').read_bytes() == b'remote %d' % i * 1000
        assert mode_of(directory / 'l.bin') == 0o750


@pytest.mark.timeout(60)
def test_parallel_scp_send(backend, pclient, tmp_path):
    for i in range(N_HOSTS):
        write_file(tmp_path / 'src' / ('s%d' % i), os.urandom(64 * 1024 + i), 0o640)
    copy_args = [{'local_file': str(tmp_path / 'src' / ('s%d' % i)),
                  'remote_file': str(tmp_path / 'dst' / ('d%d' % i) / 'f')}
                 for i in range(N_HOSTS)]
    greenlets = pclient.scp_send('ignored-local', 'ignored-remote', copy_args=copy_args)
    _joined(backend, greenlets)
    for i in range(N_HOSTS):
        got = tmp_path / 'dst' / ('d%d' % i) / 'f'
        assert sha256(got) == sha256(tmp_path / 'src' / ('s%d' % i))
        assert mode_of(got) == 0o640
    assert not os.path.exists('ignored-remote')


@pytest.mark.timeout(60)
def test_parallel_scp_recv(backend, pclient, tmp_path):
    for i in range(N_HOSTS):
        write_file(tmp_path / 'remote' / ('r%d' % i), os.urandom(64 * 1024 + i), 0o755)
    copy_args = [{'remote_file': str(tmp_path / 'remote' / ('r%d' % i)),
                  'local_file': str(tmp_path / 'local' / ('l%d' % i))}
                 for i in range(N_HOSTS)]
    greenlets = pclient.scp_recv('ignored-remote', 'ignored-local', copy_args=copy_args)
    _joined(backend, greenlets)
    assert sorted(os.listdir(tmp_path / 'local')) == sorted('l%d' % i for i in range(N_HOSTS))
    for i in range(N_HOSTS):
        got = tmp_path / 'local' / ('l%d' % i)
        assert sha256(got) == sha256(tmp_path / 'remote' / ('r%d' % i))
        assert mode_of(got) == 0o755


@pytest.mark.timeout(60)
@pytest.mark.parametrize('method', ['copy_file', 'scp_send'])
def test_parallel_recursive_upload(backend, pclient, tmp_path, method):
    src = make_tree(tmp_path / 'src')
    if method == 'copy_file':
        greenlets = pclient.copy_file(src, str(tmp_path / 'dst' / 't%(i)s'), recurse=True,
                                      copy_args=[{'i': i} for i in range(N_HOSTS)])
    else:
        greenlets = pclient.scp_send(
            src, 'unused', recurse=True,
            copy_args=[{'local_file': src, 'remote_file': str(tmp_path / 'dst' / ('t%d' % i))}
                       for i in range(N_HOSTS)])
    _joined(backend, greenlets)
    for i in range(N_HOSTS):
        assert_same_tree(src, str(tmp_path / 'dst' / ('t%d' % i)))


@pytest.mark.timeout(60)
@pytest.mark.parametrize('method', ['copy_remote_file', 'scp_recv'])
def test_parallel_recursive_download(backend, pclient, tmp_path, method):
    src = make_tree(tmp_path / 'src')
    if method == 'copy_remote_file':
        greenlets = pclient.copy_remote_file(src, str(tmp_path / 'dst' / 't%(i)s'),
                                             recurse=True,
                                             copy_args=[{'i': i} for i in range(N_HOSTS)])
    else:
        greenlets = pclient.scp_recv(
            'unused', 'unused', recurse=True,
            copy_args=[{'remote_file': src, 'local_file': str(tmp_path / 'dst' / ('t%d' % i))}
                       for i in range(N_HOSTS)])
    _joined(backend, greenlets)
    for i in range(N_HOSTS):
        assert_same_tree(src, str(tmp_path / 'dst' / ('t%d' % i)))


@pytest.mark.timeout(60)
@pytest.mark.parametrize('method', ['copy_remote_file', 'scp_recv'])
@pytest.mark.parametrize('separator', [None, '--'])
def test_parallel_download_suffix(backend, group, second, tmp_path, method, separator):
    """Without copy_args each host's file goes to local_file + separator + host."""
    remote = write_file(tmp_path / 'remote' / 'r.txt', b'suffixed', 0o640)
    hosts = ['127.0.0.1', SECOND_ADDR]
    with _parallel(backend, group, hosts, [group[0].port, second.port]) as pcli:
        kwargs = {} if separator is None else {'suffix_separator': separator}
        greenlets = getattr(pcli, method)(remote, str(tmp_path / 'local' / 'out'), **kwargs)
        if not _aio(backend):
            assert len(greenlets) == 2
        gevent.joinall(greenlets, raise_error=True, timeout=30)
    sep = '_' if separator is None else separator
    expected = sorted('out' + sep + host for host in hosts)
    assert sorted(os.listdir(tmp_path / 'local')) == expected
    for name in expected:
        assert (tmp_path / 'local' / name).read_bytes() == b'suffixed'
        assert mode_of(tmp_path / 'local' / name) == 0o640


@pytest.mark.timeout(60)
def test_parallel_pool_size_smaller_than_hosts(backend, group, tmp_path):
    ports = [group[i % len(group)].port for i in range(N_HOSTS)]
    local = write_file(tmp_path / 'src.bin', os.urandom(100 * 1024), 0o644)
    with _parallel(backend, group, ['127.0.0.1'] * N_HOSTS, ports, pool_size=3) as pcli:
        greenlets = pcli.copy_file(local, str(tmp_path / 'dst' / 'f%(i)s'),
                                   copy_args=[{'i': i} for i in range(N_HOSTS)])
        _joined(backend, greenlets)
    for i in range(N_HOSTS):
        assert sha256(tmp_path / 'dst' / ('f%d' % i)) == sha256(local)


# ---------------------------------------------------------------------------
# parallel: errors at the call


@pytest.mark.timeout(30)
@pytest.mark.parametrize('method', ['copy_file', 'copy_remote_file'])
@pytest.mark.parametrize('count', [0, 1, N_HOSTS - 1])
def test_parallel_too_few_copy_args(pclient, tmp_path, method, count):
    src = write_file(tmp_path / 'src.txt', b'x', 0o644)
    with pytest.raises(HostArgumentError):
        getattr(pclient, method)(src, str(tmp_path / 'dst%(i)s'),
                                 copy_args=[{'i': i} for i in range(count)])
    assert sorted(os.listdir(tmp_path)) == ['src.txt']


@pytest.mark.timeout(30)
@pytest.mark.parametrize('method', ['scp_send', 'scp_recv'])
@pytest.mark.parametrize('count', [0, 1, N_HOSTS - 1])
def test_parallel_scp_too_few_copy_args(pclient, tmp_path, method, count):
    src = write_file(tmp_path / 'src.txt', b'x', 0o644)
    copy_args = [{'local_file': src, 'remote_file': str(tmp_path / ('dst%d' % i))}
                 for i in range(count)]
    if method == 'scp_recv':
        copy_args = [{'remote_file': src, 'local_file': str(tmp_path / ('dst%d' % i))}
                     for i in range(count)]
    with pytest.raises(HostArgumentError):
        getattr(pclient, method)(src, str(tmp_path / 'dst'), copy_args=copy_args)
    assert sorted(os.listdir(tmp_path)) == ['src.txt']


@pytest.mark.timeout(30)
@pytest.mark.parametrize('method', ['copy_file', 'scp_send'])
# Spies on gevent.spawn, which pssh.aio's hub calls for every operation it runs.
@pytest.mark.backends('native', 'ssh')
def test_parallel_directory_without_recurse(pclient, tmp_path, monkeypatch, method):
    src = make_tree(tmp_path / 'src')
    spawned = []
    real_spawn = gevent.spawn

    def spy(*args, **kwargs):
        greenlet = real_spawn(*args, **kwargs)
        spawned.append(greenlet)
        return greenlet

    monkeypatch.setattr(gevent, 'spawn', spy)
    with pytest.raises(ValueError):
        getattr(pclient, method)(src, str(tmp_path / 'dst'))
    monkeypatch.undo()
    assert spawned == []
    assert not os.path.exists(tmp_path / 'dst')


@pytest.mark.timeout(30)
def test_parallel_directory_without_recurse_per_host(pclient, tmp_path):
    """One host's copy_args source is a directory: ValueError at the call."""
    make_tree(tmp_path / 'src' / 'in5.txt')
    for i in range(N_HOSTS):
        if i != 5:
            write_file(tmp_path / 'src' / ('in%d.txt' % i), b'x', 0o644)
    with pytest.raises(ValueError):
        pclient.copy_file(str(tmp_path / 'src' / 'in%(i)s.txt'), str(tmp_path / 'dst%(i)s'),
                          copy_args=[{'i': i} for i in range(N_HOSTS)])
    assert sorted(os.listdir(tmp_path)) == ['src']


# ---------------------------------------------------------------------------
# parallel: one host fails, the others succeed


def _split(backend, greenlets, bad):
    """Join; the bad greenlets failed, the good ones succeeded. Returns the
    exceptions of the bad ones (on pssh.aio: of the first bad one, the one raised)."""
    if _aio(backend):
        with pytest.raises(Exception) as raised:
            gevent.joinall(greenlets, raise_error=True, timeout=40)
        return {min(bad): raised.value}
    with pytest.raises(Exception) as raised:
        gevent.joinall(greenlets, raise_error=True, timeout=40)
    gevent.joinall(greenlets, timeout=40)
    assert all(g.ready() for g in greenlets)
    errors = {}
    for index, greenlet in enumerate(greenlets):
        if index in bad:
            assert not greenlet.successful(), index
            errors[index] = greenlet.exception
        else:
            assert greenlet.successful(), (index, greenlet.exception)
    assert raised.value in errors.values()
    for index in bad:
        with pytest.raises(type(errors[index])):
            greenlets[index].get()
    return errors


@pytest.fixture
def mixed_client(backend, group, refused_port):
    """20 hosts; host 7 is REFUSED_ADDR on a closed port, the rest are good."""
    hosts = ['127.0.0.1'] * N_HOSTS
    ports = [group[i % len(group)].port for i in range(N_HOSTS)]
    hosts[7] = REFUSED_ADDR
    ports[7] = refused_port
    cli = _parallel(backend, group, hosts, ports)
    try:
        yield cli
    finally:
        cli.close()


@pytest.mark.timeout(60)
@pytest.mark.parametrize('method', UPLOADS)
def test_parallel_upload_one_host_unreachable(backend, mixed_client, tmp_path, method):
    data = os.urandom(512 * 1024)
    local = write_file(tmp_path / 'src.bin', data, 0o644)
    if method == 'copy_file':
        greenlets = mixed_client.copy_file(local, str(tmp_path / 'dst' / 'h%(i)s.bin'),
                                           copy_args=[{'i': i} for i in range(N_HOSTS)])
    else:
        greenlets = mixed_client.scp_send(
            local, 'unused',
            copy_args=[{'local_file': local,
                        'remote_file': str(tmp_path / 'dst' / ('h%d.bin' % i))}
                       for i in range(N_HOSTS)])
    errors = _split(backend, greenlets, {7})
    assert isinstance(errors[7], ConnectionRefusedError)
    assert REFUSED_ADDR in str(errors[7])
    digest = hashlib.sha256(data).hexdigest()
    assert sorted(os.listdir(tmp_path / 'dst')) == sorted('h%d.bin' % i
                                                          for i in range(N_HOSTS) if i != 7)
    for i in range(N_HOSTS):
        if i != 7:
            assert sha256(tmp_path / 'dst' / ('h%d.bin' % i)) == digest


@pytest.mark.timeout(60)
@pytest.mark.parametrize('method', DOWNLOADS)
def test_parallel_download_one_host_unreachable(backend, mixed_client, tmp_path, method):
    data = os.urandom(512 * 1024)
    remote = write_file(tmp_path / 'remote.bin', data, 0o644)
    if method == 'copy_remote_file':
        greenlets = mixed_client.copy_remote_file(remote, str(tmp_path / 'dst' / 'h%(i)s.bin'),
                                                  copy_args=[{'i': i} for i in range(N_HOSTS)])
    else:
        greenlets = mixed_client.scp_recv(
            remote, 'unused',
            copy_args=[{'remote_file': remote,
                        'local_file': str(tmp_path / 'dst' / ('h%d.bin' % i))}
                       for i in range(N_HOSTS)])
    errors = _split(backend, greenlets, {7})
    assert isinstance(errors[7], ConnectionRefusedError)
    assert REFUSED_ADDR in str(errors[7])
    assert sorted(os.listdir(tmp_path / 'dst')) == sorted('h%d.bin' % i
                                                          for i in range(N_HOSTS) if i != 7)
    for i in range(N_HOSTS):
        if i != 7:
            assert (tmp_path / 'dst' / ('h%d.bin' % i)).read_bytes() == data


@pytest.mark.timeout(60)
@pytest.mark.parametrize('method,errors', [('copy_file', (SFTPIOError,)),
                                           ('scp_send', (SCPError, SFTPIOError))])
def test_parallel_upload_one_destination_unwritable(backend, pclient, tmp_path, method, errors):
    data = os.urandom(512 * 1024)
    local = write_file(tmp_path / 'src.bin', data, 0o644)
    blocker = write_file(tmp_path / 'dst' / 'h3', b'a file, not a directory', 0o644)
    remotes = [str(tmp_path / 'dst' / ('h%d' % i) / 'f.bin') for i in range(N_HOSTS)]
    if method == 'copy_file':
        greenlets = pclient.copy_file(local, str(tmp_path / 'dst' / 'h%(i)s' / 'f.bin'),
                                      copy_args=[{'i': i} for i in range(N_HOSTS)])
    else:
        greenlets = pclient.scp_send(
            local, 'unused',
            copy_args=[{'local_file': local, 'remote_file': remotes[i]} for i in range(N_HOSTS)])
    failures = _split(backend, greenlets, {3})
    assert isinstance(failures[3], errors)
    assert '127.0.0.1' in str(failures[3])
    assert blocker in str(failures[3])
    digest = hashlib.sha256(data).hexdigest()
    for i in range(N_HOSTS):
        if i != 3:
            assert sha256(remotes[i]) == digest


@pytest.mark.timeout(60)
@pytest.mark.parametrize('method,error', [('copy_remote_file', SFTPIOError),
                                          ('scp_recv', SCPError)])
def test_parallel_download_one_source_missing(backend, pclient, tmp_path, method, error):
    for i in range(N_HOSTS):
        if i != 11:
            write_file(tmp_path / 'remote' / ('r%d' % i), b'data %d' % i * 5000, 0o644)
    missing = str(tmp_path / 'remote' / 'r11')
    if method == 'copy_remote_file':
        greenlets = pclient.copy_remote_file(str(tmp_path / 'remote' / 'r%(i)s'),
                                             str(tmp_path / 'local' / 'l%(i)s'),
                                             copy_args=[{'i': i} for i in range(N_HOSTS)])
    else:
        greenlets = pclient.scp_recv(
            'unused', 'unused',
            copy_args=[{'remote_file': str(tmp_path / 'remote' / ('r%d' % i)),
                        'local_file': str(tmp_path / 'local' / ('l%d' % i))}
                       for i in range(N_HOSTS)])
    failures = _split(backend, greenlets, {11})
    assert isinstance(failures[11], error)
    assert '127.0.0.1' in str(failures[11])
    assert missing in str(failures[11])
    assert sorted(os.listdir(tmp_path / 'local')) == sorted('l%d' % i
                                                            for i in range(N_HOSTS) if i != 11)
    for i in range(N_HOSTS):
        if i != 11:
            assert (tmp_path / 'local' / ('l%d' % i)).read_bytes() == b'data %d' % i * 5000


@pytest.mark.timeout(60)
@pytest.mark.parametrize('method', UPLOADS)
def test_parallel_upload_one_source_missing(backend, pclient, tmp_path, method):
    for i in range(N_HOSTS):
        if i != 0:
            write_file(tmp_path / 'src' / ('s%d' % i), b'src %d' % i, 0o644)
    missing = str(tmp_path / 'src' / 's0')
    if method == 'copy_file':
        greenlets = pclient.copy_file(str(tmp_path / 'src' / 's%(i)s'),
                                      str(tmp_path / 'dst' / 'd%(i)s'),
                                      copy_args=[{'i': i} for i in range(N_HOSTS)])
    else:
        greenlets = pclient.scp_send(
            'unused', 'unused',
            copy_args=[{'local_file': str(tmp_path / 'src' / ('s%d' % i)),
                        'remote_file': str(tmp_path / 'dst' / ('d%d' % i))}
                       for i in range(N_HOSTS)])
    failures = _split(backend, greenlets, {0})
    assert isinstance(failures[0], FileNotFoundError)
    assert '127.0.0.1' in str(failures[0])
    assert missing in str(failures[0])
    for i in range(1, N_HOSTS):
        assert (tmp_path / 'dst' / ('d%d' % i)).read_bytes() == b'src %d' % i
    assert not os.path.exists(tmp_path / 'dst' / 'd0')
