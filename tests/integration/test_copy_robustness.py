"""Copies under unusual but legitimate conditions: symbolic links in trees,
special files, sources that change while they are sent, trees of many files.

The server runs on this machine as the same user as the tests, so a "remote"
path is a local one too: results are checked with os under ``tmp_path``.
"""
import logging
import os
import stat

import pytest

from pssh.exceptions import SCPError, SFTPIOError

from conftest import ALL_BACKENDS

#: The backends a test here runs on when it asks for the backend fixture (see conftest).
BACKENDS = ALL_BACKENDS

UPLOADS = ['copy_file', 'scp_send']
DOWNLOADS = ['copy_remote_file', 'scp_recv']
COPY_ERROR = {'copy_file': SFTPIOError, 'scp_send': SCPError,
              'copy_remote_file': SFTPIOError, 'scp_recv': SCPError}


@pytest.fixture
def client(backend, server, client_kwargs):
    cli = backend.SSHClient(server.host, **client_kwargs)
    try:
        yield cli
    finally:
        cli.close()


def copy(client, method, source, target, **kwargs):
    """Call a copy method with (source, destination), whatever its direction."""
    getattr(client, method)(str(source), str(target), **kwargs)


def write(path, data, mode=0o644):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    os.chmod(path, mode)
    return path


def listing(root):
    """{relative path: 'dir' | 'link' | file bytes} of everything under root."""
    found = {}
    for directory, dirs, files in os.walk(root):
        for name in dirs + files:
            path = os.path.join(directory, name)
            relative = os.path.relpath(path, root)
            if os.path.islink(path):
                found[relative] = 'link'
            elif os.path.isdir(path):
                found[relative] = 'dir'
            else:
                with open(path, 'rb') as f:
                    found[relative] = f.read()
    return found


def leftovers(directory):
    return sorted(name for name in os.listdir(directory) if name.endswith('.part'))


# ---------------------------------------------------------------------------
# Symbolic links and special files in trees: followed; loops, links to nothing
# and special files skipped with a warning; the same in all four methods.


def make_linked_tree(tmp_path):
    outside = tmp_path / 'outside'
    write(outside / 'shared.txt', b'shared via a link')
    os.symlink('.', outside / 'back-to-linked')  # a loop inside a linked directory
    src = tmp_path / 'src'
    write(src / 'real.txt', b'real file', 0o640)
    write(src / 'sub' / 'deep.txt', b'deep')
    os.symlink('real.txt', src / 'file-link')
    os.symlink(str(outside), src / 'dir-link')
    os.symlink('.', src / 'loop-self-dir')
    os.symlink('..', src / 'sub' / 'loop-parent')
    os.symlink('missing-target', src / 'dangling')
    os.symlink('self-link', src / 'self-link')
    os.mkfifo(src / 'fifo')
    return src


EXPECTED_TREE = {
    'real.txt': b'real file',
    'file-link': b'real file',
    'sub': 'dir',
    'sub/deep.txt': b'deep',
    'dir-link': 'dir',
    'dir-link/shared.txt': b'shared via a link',
}
SKIPPED = ['loop-self-dir', 'loop-parent', 'back-to-linked', 'dangling', 'self-link', 'fifo']


@pytest.mark.timeout(60)
@pytest.mark.parametrize('method', UPLOADS + DOWNLOADS)
def test_tree_follows_links_and_skips_loops_dangling_and_fifos(client, tmp_path, method,
                                                               caplog):
    src = make_linked_tree(tmp_path)
    dst = tmp_path / 'dst'
    with caplog.at_level(logging.WARNING, logger='pssh.copy'):
        copy(client, method, src, dst, recurse=True)
    assert listing(dst) == EXPECTED_TREE
    assert stat.S_IMODE(os.stat(dst / 'file-link').st_mode) == 0o640
    warnings = [record.getMessage() for record in caplog.records
                if record.name == 'pssh.copy']
    reasons = {os.path.basename(message.split()[1]): message for message in warnings}
    assert len(warnings) == len(SKIPPED) and sorted(reasons) == sorted(SKIPPED), warnings
    for message in warnings:
        assert client.host in message
    for name in ('loop-self-dir', 'loop-parent', 'back-to-linked'):
        assert 'a loop' in reasons[name], reasons[name]
    assert 'to nothing' in reasons['dangling']
    assert 'not a regular file' in reasons['fifo']


@pytest.mark.timeout(60)
@pytest.mark.parametrize('method', UPLOADS + DOWNLOADS)
def test_tree_root_is_a_link_to_a_directory(client, tmp_path, method):
    real = tmp_path / 'real'
    write(real / 'a.txt', b'a')
    os.symlink('.', real / 'again')  # a loop through the link's target
    os.symlink(str(real), tmp_path / 'root-link')
    dst = tmp_path / 'dst'
    copy(client, method, tmp_path / 'root-link', dst, recurse=True)
    assert listing(dst) == {'a.txt': b'a'}


@pytest.mark.timeout(60)
@pytest.mark.parametrize('method', UPLOADS + DOWNLOADS)
def test_single_file_through_a_link(client, tmp_path, method):
    write(tmp_path / 'real.txt', b'through a link', 0o600)
    os.symlink('real.txt', tmp_path / 'link.txt')
    copy(client, method, tmp_path / 'link.txt', tmp_path / 'out' / 'copy.txt')
    assert listing(tmp_path / 'out') == {'copy.txt': b'through a link'}
    assert stat.S_IMODE(os.stat(tmp_path / 'out' / 'copy.txt').st_mode) == 0o600


@pytest.mark.timeout(60)
@pytest.mark.parametrize('method', UPLOADS)
def test_upload_of_a_dangling_link_names_it(client, tmp_path, method):
    os.symlink('missing', tmp_path / 'dangling')
    with pytest.raises(FileNotFoundError) as info:
        copy(client, method, tmp_path / 'dangling', tmp_path / 'out.txt')
    assert str(tmp_path / 'dangling') in str(info.value)
    assert client.host in str(info.value)
    assert not (tmp_path / 'out.txt').exists()


@pytest.mark.timeout(60)
@pytest.mark.parametrize('method', DOWNLOADS)
def test_download_of_a_dangling_link_names_it(client, tmp_path, method):
    os.symlink('missing', tmp_path / 'dangling')
    with pytest.raises(COPY_ERROR[method]) as info:
        copy(client, method, tmp_path / 'dangling', tmp_path / 'out' / 'copy.txt')
    assert str(tmp_path / 'dangling') in str(info.value)
    assert client.host in str(info.value)
    assert not (tmp_path / 'out' / 'copy.txt').exists()


# ---------------------------------------------------------------------------
# A FIFO named as the file to copy is refused, at once, in every method.


@pytest.mark.timeout(30)
@pytest.mark.parametrize('method', DOWNLOADS)
def test_download_of_a_fifo_is_refused(client, tmp_path, method):
    fifo = tmp_path / 'fifo'
    os.mkfifo(fifo)
    target = tmp_path / 'out' / 'copy'
    with pytest.raises(COPY_ERROR[method]) as info:
        copy(client, method, fifo, target)
    assert str(fifo) in str(info.value)
    assert 'not a regular file' in str(info.value)
    assert client.host in str(info.value)
    assert not target.exists()
    assert not (tmp_path / 'out').exists() or leftovers(tmp_path / 'out') == []
    # The session is still usable (nothing is stuck reading the FIFO).
    write(tmp_path / 'after.txt', b'after')
    copy(client, method, tmp_path / 'after.txt', tmp_path / 'after-copy.txt')
    assert (tmp_path / 'after-copy.txt').read_bytes() == b'after'


@pytest.mark.timeout(30)
# Drives the gevent client's own SFTP session (_make_sftp, sftp_get): no asyncio counterpart.
@pytest.mark.backends('native', 'ssh')
def test_sftp_get_of_a_fifo_is_refused(client, tmp_path):
    fifo = tmp_path / 'fifo'
    os.mkfifo(fifo)
    sftp = client._make_sftp()
    try:
        with pytest.raises(SFTPIOError) as info:
            client.sftp_get(sftp, str(fifo), str(tmp_path / 'copy'))
        assert 'not a regular file' in str(info.value)
        write(tmp_path / 'after.txt', b'after')
        client.sftp_get(sftp, str(tmp_path / 'after.txt'), str(tmp_path / 'after-copy'))
    finally:
        sftp.end()
    assert (tmp_path / 'after-copy').read_bytes() == b'after'
    assert not (tmp_path / 'copy').exists()


@pytest.mark.timeout(30)
@pytest.mark.parametrize('method', UPLOADS)
def test_upload_of_a_fifo_is_refused(client, tmp_path, method):
    fifo = tmp_path / 'fifo'
    os.mkfifo(fifo)
    with pytest.raises(OSError) as info:
        copy(client, method, fifo, tmp_path / 'copy')
    assert 'Not a regular file' in str(info.value)
    assert str(fifo) in str(info.value)
    assert client.host in str(info.value)
    assert not (tmp_path / 'copy').exists()


# ---------------------------------------------------------------------------
# Uploads are all or nothing: a source that shrinks while it is sent fails
# with a typed error, and nothing is left under the target name (nor beside it).


BIG = 4 * 1024 * 1024


@pytest.mark.timeout(60)
@pytest.mark.parametrize('exists', [True, False])
@pytest.mark.parametrize('method', UPLOADS)
def test_source_that_shrinks_during_upload_fails(client, tmp_path, method, exists):
    src = write(tmp_path / 'src' / 'big.bin', os.urandom(BIG))
    remote_dir = tmp_path / 'remote'
    remote_dir.mkdir()
    target = remote_dir / 'big.bin'
    if exists:
        write(target, b'previous version')

    def shrink(done, total):
        # The first report comes after at least one block was read and sent.
        if done and os.path.getsize(src) == BIG:
            os.truncate(src, 1024)

    with pytest.raises(COPY_ERROR[method]) as info:
        getattr(client, method)(str(src), str(target), progress=shrink)
    message = str(info.value)
    assert 'shrank' in message
    assert str(src) in message and str(target) in message and client.host in message
    if exists:
        assert target.read_bytes() == b'previous version'
        assert sorted(os.listdir(remote_dir)) == ['big.bin']
    else:
        assert os.listdir(remote_dir) == []
    # And the client copies on.
    copy(client, method, src, target)
    assert target.read_bytes() == src.read_bytes()
    assert sorted(os.listdir(remote_dir)) == ['big.bin']


@pytest.mark.timeout(60)
def test_failed_rename_leaves_no_part(client, tmp_path):
    """The last step fails (a directory stands at the target): nothing is left."""
    src = write(tmp_path / 'src.txt', b'new contents')
    remote_dir = tmp_path / 'remote'
    write(remote_dir / 'target' / 'keep', b'keep')
    with pytest.raises(SFTPIOError) as info:
        client.copy_file(str(src), str(remote_dir / 'target'))
    assert str(remote_dir / 'target') in str(info.value)
    assert client.host in str(info.value)
    assert listing(remote_dir) == {'target': 'dir', 'target/keep': b'keep'}


@pytest.mark.timeout(60)
@pytest.mark.parametrize('method', UPLOADS)
def test_upload_replaces_an_existing_file_whole(client, tmp_path, method):
    src = write(tmp_path / 'src.txt', b'short', 0o640)
    remote_dir = tmp_path / 'remote'
    target = write(remote_dir / 'target.txt', b'a much longer previous version', 0o600)
    copy(client, method, src, target)
    assert target.read_bytes() == b'short'
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o640
    assert sorted(os.listdir(remote_dir)) == ['target.txt']


# ---------------------------------------------------------------------------
# Many small files: sent several at a time over one SFTP session.


@pytest.mark.timeout(60)
@pytest.mark.parametrize('method', UPLOADS)
def test_many_small_files(client, tmp_path, method):
    count = 400 if method == 'copy_file' else 40
    src = tmp_path / 'src'
    expected = {}
    for i in range(count):
        relative = 'd%d/f%04d' % (i % 3, i)
        write(src / relative, b'%d\n' % i * (i % 7), 0o600 + (i % 2) * 0o40)
        expected[relative] = b'%d\n' % i * (i % 7)
    for sub in ('d0', 'd1', 'd2'):
        expected[sub] = 'dir'
    dst = tmp_path / 'dst'
    copy(client, method, src, dst, recurse=True)
    assert listing(dst) == expected
    for i in (0, 1, count - 1):
        relative = 'd%d/f%04d' % (i % 3, i)
        assert stat.S_IMODE(os.stat(dst / relative).st_mode) == 0o600 + (i % 2) * 0o40


@pytest.mark.timeout(60)
def test_many_small_files_one_fails(client, tmp_path):
    """A failure among files sent at once: the first error is raised, the other
    files in flight finish, and no temporary file is left anywhere."""
    src = tmp_path / 'src'
    for i in range(200):
        write(src / ('f%04d' % i), b'x%d' % i)
    dst = tmp_path / 'dst'
    (dst / 'f0100').mkdir(parents=True)  # a directory where a file must go
    write(dst / 'f0100' / 'keep', b'keep')
    with pytest.raises(SFTPIOError) as info:
        client.copy_file(str(src), str(dst), recurse=True)
    assert str(dst / 'f0100') in str(info.value)
    assert client.host in str(info.value)
    assert leftovers(dst) == []
    assert (dst / 'f0100' / 'keep').read_bytes() == b'keep'
    for name in os.listdir(dst):
        if name != 'f0100':
            assert (dst / name).read_bytes() == (src / name).read_bytes()
    # The session and client are fine afterwards.
    write(tmp_path / 'after.txt', b'after')
    client.copy_file(str(tmp_path / 'after.txt'), str(tmp_path / 'after-copy.txt'))
    assert (tmp_path / 'after-copy.txt').read_bytes() == b'after'


@pytest.mark.timeout(60)
def test_scp_send_onto_an_existing_directory(client, tmp_path):
    """As before (and as parallel-ssh, through the remote scp): the file goes into
    the directory under the directory's own name; the upload is still renamed
    into place."""
    src = write(tmp_path / 'src.txt', b'into the directory')
    target = tmp_path / 'remote' / 'target'
    target.mkdir(parents=True)
    client.scp_send(str(src), str(target))
    assert listing(target) == {'target': b'into the directory'}
