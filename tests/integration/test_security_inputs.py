"""What a hostile server or a careless argument must not be able to do
(issue 14, section 3), against real sshd servers on both backends.

A hostile SFTP server is OpenSSH's own sftp-server behind a relay that renames
entries of its directory listings (tests/peers/renaming_sftp.py).
"""
import json
import os
import sys

import gevent
import pytest

from pssh.config import HostConfig
from pssh.exceptions import SCPError, SFTPIOError
from pssh.testing import OpenSSHServer

BACKENDS = ('native', 'ssh')

RELAY = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'peers',
                     'renaming_sftp.py')


@pytest.fixture(scope='module')
def rename_map(tmp_path_factory):
    """The relay's JSON map of names: tests write it before they list a directory."""
    return str(tmp_path_factory.mktemp('relay') / 'names.json')


@pytest.fixture(scope='module')
def hostile(rename_map):
    """An sshd whose SFTP subsystem renames listed entries as rename_map says."""
    with open(rename_map, 'w') as fh:
        json.dump({}, fh)
    config = {'Subsystem': 'sftp %s %s %s' % (sys.executable, RELAY, rename_map)}
    with OpenSSHServer(extra_config=config) as srv:
        yield srv


def connect(backend, srv, **kwargs):
    return backend.SSHClient(srv.host, port=srv.port, user=srv.user, pkey=srv.user_key, num_retries=1,
                             timeout=10, allow_agent=False, identity_auth=False, **kwargs)


@pytest.fixture
def client(backend, hostile):
    with connect(backend, hostile) as cli:
        yield cli


def make_source(tmp_path):
    src = tmp_path / 'src'
    src.mkdir()
    (src / 'victim').write_bytes(b'payload\n')
    (src / 'fine').write_bytes(b'fine\n')
    # What the server serves for src/../escaped: a client that joins the name
    # unchecked downloads it to dest/../escaped, outside its destination.
    (tmp_path / 'escaped').write_bytes(b'outside\n')
    (tmp_path / 'out').mkdir()
    return src


def evil_names(tmp_path):
    """Names a server may list, and where each would write if joined unchecked."""
    dest = tmp_path / 'out' / 'dest'
    return {
        'parent': ('../escaped', tmp_path / 'out' / 'escaped'),
        'absolute': (str(tmp_path / 'absolute-escaped'), tmp_path / 'absolute-escaped'),
        'nested': ('a/b', dest / 'a'),
        'nul': ('x\0y', dest / 'x'),
    }


@pytest.mark.parametrize('case', ['parent', 'absolute', 'nested', 'nul'])
@pytest.mark.parametrize('method', ['copy_remote_file', 'scp_recv'])
def test_recursive_download_refuses_names_that_leave_the_destination(
        client, hostile, rename_map, tmp_path, case, method):
    src = make_source(tmp_path)
    name, escape = evil_names(tmp_path)[case]
    with open(rename_map, 'w') as fh:
        json.dump({'victim': name}, fh)
    dest = tmp_path / 'out' / 'dest'
    error = SCPError if method == 'scp_recv' else SFTPIOError
    with pytest.raises(error) as info:
        getattr(client, method)(str(src), str(dest), recurse=True)
    assert type(info.value) is error
    assert info.value.args[1:4] == (name, str(src), client.host)
    assert not os.path.lexists(escape)
    # Nothing of that directory was written, not even its good entries.
    assert not (dest / 'fine').exists()
    assert sorted(os.listdir(dest)) == []


def test_parallel_download_refuses_escaping_names(backend, hostile, rename_map, tmp_path):
    src = make_source(tmp_path)
    with open(rename_map, 'w') as fh:
        json.dump({'victim': '../escaped'}, fh)
    client = backend.ParallelSSHClient([hostile.host], port=hostile.port, user=hostile.user,
                                       pkey=hostile.user_key, num_retries=1, timeout=10,
                                       allow_agent=False, identity_auth=False)
    with client:
        greenlets = client.copy_remote_file(str(src), str(tmp_path / 'out' / 'dest'),
                                            recurse=True)
        gevent.joinall(greenlets)
        with pytest.raises(SFTPIOError) as info:
            greenlets[0].get()
    assert info.value.args[1:4] == ('../escaped', str(src), hostile.host)
    assert os.listdir(tmp_path / 'out') == ['dest_%s' % hostile.host]


def test_ordinary_names_still_download(client, rename_map, tmp_path):
    src = make_source(tmp_path)
    (src / 'sub').mkdir()
    (src / 'sub' / 'deep file..name').write_bytes(b'deep\n')
    with open(rename_map, 'w') as fh:
        json.dump({}, fh)
    client.copy_remote_file(str(src), str(tmp_path / 'dest'), recurse=True)
    assert (tmp_path / 'dest' / 'victim').read_bytes() == b'payload\n'
    assert (tmp_path / 'dest' / 'sub' / 'deep file..name').read_bytes() == b'deep\n'


# ----------------------------------------------------------------------
# Commands

def test_sudo_user_is_not_shell_syntax(client, tmp_path):
    marker = tmp_path / 'injected'
    user = 'root$(touch %s)' % marker
    output = client.run_command('true', user=user)
    client.wait_finished(output)
    assert not marker.exists()
    assert output.exit_code != 0
    assert output.fully_qualified_command.startswith(b"sudo -u 'root$(touch ")


def test_plain_sudo_user_is_sent_as_before(client):
    output = client.run_command('true', user='postgres')
    client.wait_finished(output)
    assert output.fully_qualified_command == b"sudo -u postgres -S $SHELL -c 'true'"


@pytest.mark.parametrize('command', ['echo a\0; touch x', '\0'])
def test_command_with_nul_is_refused(client, command):
    with pytest.raises(ValueError) as info:
        client.run_command(command)
    assert 'command must not contain a NUL byte' in str(info.value)
    assert client.host in str(info.value)


def test_parallel_command_with_nul_is_refused_at_the_call(backend, hostile):
    client = backend.ParallelSSHClient([hostile.host], port=hostile.port, user=hostile.user,
                                       pkey=hostile.user_key, num_retries=1, timeout=10,
                                       allow_agent=False, identity_auth=False)
    with client:
        with pytest.raises(ValueError, match='NUL'):
            client.run_command('echo %s', host_args=['a\0b'])
        with pytest.raises(ValueError, match='user must not contain a NUL'):
            client.run_command('true', user='ro\0ot')
        # Nothing was started: the client works as before.
        output = client.run_command('echo ok')
        client.join(output)
        assert list(output[0].stdout) == ['ok']


def test_host_with_nul_is_refused(backend, hostile, tmp_path):
    with pytest.raises(ValueError, match='host must not contain a NUL'):
        backend.SSHClient('127.0.0.1\0evil', port=hostile.port, num_retries=1)
    with pytest.raises(ValueError, match=r'hosts\[1\] must not contain a NUL'):
        backend.ParallelSSHClient(['127.0.0.1', '127.0.0.1\0evil'], port=hostile.port)


@pytest.mark.parametrize('field', ['user', 'proxy_host', 'proxy_user'])
def test_names_with_nul_are_refused(backend, hostile, field):
    with pytest.raises(ValueError, match='%s must not contain a NUL' % field):
        backend.SSHClient(hostile.host, port=hostile.port, num_retries=1, **{field: 'a\0b'})
    with pytest.raises(ValueError, match='NUL'):
        HostConfig(**{field: 'a\0b'})


@pytest.mark.parametrize('method', ['copy_file', 'scp_send', 'copy_remote_file', 'scp_recv'])
def test_paths_with_nul_are_refused(client, tmp_path, method):
    local = tmp_path / 'file'
    local.write_bytes(b'x')
    bad_remote = str(tmp_path / 'remote\0tail')
    if method in ('copy_file', 'scp_send'):
        args = (str(local), bad_remote)
    else:
        args = (bad_remote, str(tmp_path / 'out'))
    with pytest.raises(ValueError, match='remote_file must not contain a NUL'):
        getattr(client, method)(*args)
    assert not (tmp_path / 'remote').exists()


# ----------------------------------------------------------------------
# SCP

def remote_cwd(client):
    output = client.run_command('pwd')
    client.wait_finished(output)
    return list(output.stdout)[0]


def test_scp_paths_starting_with_a_dash_are_paths(client, tmp_path):
    local = tmp_path / 'file'
    local.write_bytes(b'dash\n')
    name = '-pssh-test-%d-%s' % (os.getpid(), client.__class__.__module__.split('.')[2])
    remote = os.path.join(remote_cwd(client), name)
    try:
        with gevent.Timeout(20):
            client.scp_send(str(local), name)
        with open(remote, 'rb') as fh:
            assert fh.read() == b'dash\n'
        with gevent.Timeout(20):
            client.scp_recv(name, str(tmp_path / 'back'))
        assert (tmp_path / 'back').read_bytes() == b'dash\n'
    finally:
        if os.path.exists(remote):
            os.remove(remote)


def test_scp_upload_to_a_name_with_a_newline_is_refused(client, tmp_path):
    local = tmp_path / 'file'
    local.write_bytes(b'data\n')
    target = tmp_path / 'a\nb'
    with pytest.raises(SCPError) as info:
        client.scp_send(str(local), str(target))
    assert 'newline' in str(info.value)
    assert client.host in info.value.args
    assert sorted(os.listdir(tmp_path)) == ['file']
