"""1.x idioms of issue 13, part 6 (items 18-23): each works, on both backends
where a server is involved, with one DeprecationWarning pointing at the line of
the caller (this file)."""
import contextlib
import io
import socket
import subprocess
import sys
import warnings

import gevent
import pytest
from _net import wait_closed

import pssh
import pssh.utils
from pssh.config import HostConfig
from pssh.exceptions import HostConfigError, PKeyFileError, Timeout
from pssh.output import HostOutput
from pssh.testing import MisbehavingListener

BACKENDS = ('native', 'ssh')


@contextlib.contextmanager
def one_deprecation(*others):
    """Exactly one DeprecationWarning in the block, pointing here, plus one
    warning of each category in ``others`` (returned in ``caught``)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        yield caught
    deprecations = [w for w in caught if issubclass(w.category, DeprecationWarning)]
    rest = sorted(w.category.__name__ for w in caught if w not in deprecations)
    assert len(deprecations) == 1, [(w.category.__name__, str(w.message)) for w in caught]
    assert deprecations[0].filename == __file__, (deprecations[0].filename,
                                                  str(deprecations[0].message))
    assert rest == sorted(cls.__name__ for cls in others), [str(w.message) for w in caught]


@contextlib.contextmanager
def no_warnings():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        yield
    assert caught == [], [(w.category.__name__, str(w.message)) for w in caught]


def quiet(func, *args, **kwargs):
    """Call a deprecated helper for its result, not its warning."""
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', DeprecationWarning)
        return func(*args, **kwargs)


@pytest.fixture
def single(backend, server, client_kwargs):
    clients = []

    def make(**kwargs):
        settings = dict(client_kwargs)
        settings.update(kwargs)
        client = backend.SSHClient(server.host, **settings)
        clients.append(client)
        return client
    yield make
    for client in clients:
        client.close()


@pytest.fixture
def parallel(backend, server, client_kwargs):
    clients = []

    def make(hosts=(None, None), **kwargs):
        settings = dict(client_kwargs)
        settings.update(kwargs)
        client = backend.ParallelSSHClient([host or server.host for host in hosts], **settings)
        clients.append(client)
        return client
    yield make
    for client in clients:
        client.close()


# ---------------------------------------------------------------------------
# 18. from pssh import ParallelSSHClient, SSHClient, utils


@pytest.mark.timeout(30)
def test_clients_and_utils_from_package():
    import pssh.clients
    for name in ('ParallelSSHClient', 'SSHClient'):
        pssh.__dict__.pop(name, None)
    with one_deprecation():
        from pssh import ParallelSSHClient as Parallel, SSHClient as Single, utils
    assert Parallel is pssh.clients.native.ParallelSSHClient
    assert Single is pssh.clients.native.SSHClient
    assert utils is pssh.utils
    with no_warnings():
        # The names are resolved once; the current module path never warns.
        from pssh import ParallelSSHClient as again, utils as utils_again  # noqa: F401
        from pssh.clients import ParallelSSHClient as current
    assert again is current and utils_again is utils


@pytest.mark.timeout(30)
def test_each_client_name_alone_warns_once():
    for name in ('ParallelSSHClient', 'SSHClient'):
        pssh.__dict__.pop(name, None)
    with one_deprecation():
        client_class = pssh.SSHClient
    assert client_class is pssh.clients.native.SSHClient
    with pytest.raises(AttributeError, match='NoSuchClient'):
        pssh.NoSuchClient  # noqa: B018


def _modules_after(code):
    result = subprocess.run(
        [sys.executable, '-W', 'error', '-c',
         code + '\nimport sys\nprint(sorted(m for m in sys.modules if m.split(".")[0] in '
         '("gevent", "ssh", "ssh2")))'],
        capture_output=True, text=True, timeout=60, cwd=str(__import__('pathlib').Path(
            pssh.__file__).parent.parent))
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


@pytest.mark.timeout(60)
def test_importing_pssh_and_utils_loads_no_ssh_library():
    assert _modules_after('import pssh') == '[]'
    assert _modules_after('import pssh\npssh.utils.enable_logger') == '[]'
    assert _modules_after('from pssh import utils') == '[]'
    assert _modules_after('import pssh.utils') == '[]'


# ---------------------------------------------------------------------------
# 19. pssh.utils.load_private_key and read_openssh_config


@pytest.mark.timeout(60)
def test_load_private_key_from_path_for_both_clients(server, single, parallel):
    with one_deprecation():
        key = pssh.utils.load_private_key(server.user_key)
    assert isinstance(key, bytes) and key == server.user_key_bytes
    assert server.user_key in repr(key) and b'PRIVATE' not in repr(key).encode()
    client = single(pkey=key)
    host_out = client.run_command('echo single')
    client.wait_finished(host_out)
    assert list(host_out.stdout) == ['single']
    many = parallel(pkey=key)
    output = many.run_command('echo parallel')
    many.join(output)
    assert [list(o.stdout) for o in output] == [['parallel'], ['parallel']]


@pytest.mark.timeout(60)
@pytest.mark.parametrize('mode', ['rb', 'r'])
def test_load_private_key_from_file_object(server, single, mode):
    with open(server.user_key, mode) as fh:
        with one_deprecation():
            key = pssh.utils.load_private_key(fh)
        assert not fh.closed
    assert key == server.user_key_bytes
    host_out = single(pkey=key).run_command('echo ok')
    assert list(host_out.stdout) == ['ok']
    with one_deprecation():
        key = pssh.utils.load_private_key(io.BytesIO(server.user_key_bytes))
    assert key == server.user_key_bytes


@pytest.fixture(scope='module')
def encrypted_key(server, tmp_path_factory, make_key):
    path = make_key(tmp_path_factory.mktemp('onex-keys') / 'id_pass', passphrase='sesame')
    server.add_authorized_key(path + '.pub')
    return path


@pytest.mark.timeout(60)
def test_load_private_key_with_password_needs_no_passphrase_later(
        encrypted_key, single, parallel):
    with one_deprecation():
        key = pssh.utils.load_private_key(encrypted_key, password='sesame')
    with open(encrypted_key, 'rb') as fh:
        assert key != fh.read()
    # No password= to the clients: the key comes decrypted.
    host_out = single(pkey=key).run_command('echo decrypted')
    assert list(host_out.stdout) == ['decrypted']
    many = parallel(pkey=key, host_config=[HostConfig(), HostConfig(private_key=key)])
    output = many.run_command('echo decrypted')
    many.join(output)
    assert [list(o.stdout) for o in output] == [['decrypted'], ['decrypted']]


@pytest.mark.timeout(30)
def test_load_private_key_errors_name_the_key(encrypted_key, tmp_path):
    with pytest.raises(PKeyFileError) as err:
        quiet(pssh.utils.load_private_key, encrypted_key, password='wrong')
    assert encrypted_key in str(err.value) and 'wrong passphrase' in str(err.value)
    with pytest.raises(PKeyFileError) as err:
        quiet(pssh.utils.load_private_key, encrypted_key)
    assert 'encrypted and no passphrase' in str(err.value)
    missing = str(tmp_path / 'missing')
    with pytest.raises(PKeyFileError) as err:
        quiet(pssh.utils.load_private_key, missing)
    assert err.value.args[1] == missing
    corrupt = tmp_path / 'corrupt'
    corrupt.write_text('not a key\n')
    with pytest.raises(PKeyFileError) as err:
        quiet(pssh.utils.load_private_key, str(corrupt))
    assert 'not a private key' in str(err.value)
    with pytest.raises(PKeyFileError, match='path or a file object'):
        quiet(pssh.utils.load_private_key, 42)


@pytest.fixture
def openssh_config(server, tmp_path):
    path = tmp_path / 'config'
    path.write_text(
        'Host web\n'
        '    HostName %s\n'
        '    User %s\n'
        '    Port %d\n'
        '    IdentityFile %s/no-such-key\n'
        '    IdentityFile %s\n'
        'Host other\n'
        '    User someone\n'
        % (server.host, server.user, server.port, tmp_path, server.user_key))
    return str(path)


@pytest.mark.timeout(60)
def test_read_openssh_config_connects(backend, server, openssh_config, single):
    with one_deprecation():
        found = pssh.utils.read_openssh_config('web', config_file=openssh_config)
    assert found == (server.host, server.user, server.port, server.user_key)
    hostname, user, port, pkey = found
    client = backend.SSHClient(hostname, user=user, port=port, pkey=pkey, num_retries=1, timeout=10,
                               allow_agent=False, identity_auth=False)
    try:
        host_out = client.run_command('echo configured')
        assert list(host_out.stdout) == ['configured']
    finally:
        client.close()


@pytest.mark.timeout(30)
def test_read_openssh_config_defaults_and_missing_file(openssh_config, tmp_path, monkeypatch):
    assert quiet(pssh.utils.read_openssh_config, 'other', openssh_config) == (
        'other', 'someone', 22, None)
    assert quiet(pssh.utils.read_openssh_config, 'Unlisted', openssh_config) == (
        'Unlisted', None, 22, None)
    assert quiet(pssh.utils.read_openssh_config, 'web', str(tmp_path / 'nothing')) is None
    monkeypatch.setenv('HOME', str(tmp_path))
    assert quiet(pssh.utils.read_openssh_config, 'web') is None
    (tmp_path / '.ssh').mkdir()
    (tmp_path / '.ssh' / 'config').write_text('Host web\n    Port 2200\n')
    assert quiet(pssh.utils.read_openssh_config, 'web') == ('web', None, 2200, None)


# ---------------------------------------------------------------------------
# 20. dict host_config


@pytest.mark.timeout(60)
def test_dict_host_config_ignores_unknown_keys_with_a_warning(backend, server, client_kwargs):
    settings = {k: v for k, v in client_kwargs.items() if k not in ('port', 'user', 'pkey')}
    host_config = {
        server.host: {'user': server.user, 'port': server.port,
                      'private_key': server.user_key, 'username': 'ignored',
                      'pkey': 'ignored', 'alias': 'first'},
        'localhost': HostConfig(user=server.user, port=server.port,
                                private_key=server.user_key, alias='second'),
    }
    with one_deprecation(UserWarning, UserWarning) as caught:
        client = backend.ParallelSSHClient(list(host_config), host_config=host_config, **settings)
    messages = sorted(str(w.message) for w in caught if w.category is UserWarning)
    assert all(repr(server.host) in message for message in messages), messages
    assert "'pkey'" in messages[0] and "'username'" in messages[1], messages
    assert all(w.filename == __file__ for w in caught)
    try:
        output = client.run_command('echo ok')
        client.join(output)
        assert [(o.alias, list(o.stdout)) for o in output] == [('first', ['ok']),
                                                                ('second', ['ok'])]
    finally:
        client.close()


@pytest.mark.timeout(30)
def test_dict_host_config_bad_value_names_the_host(backend, server):
    with pytest.raises(HostConfigError) as err:
        quiet(backend.ParallelSSHClient, [server.host], host_config={server.host: {'port': 'ssh'}})
    assert repr(server.host) in str(err.value) and 'port' in str(err.value)
    with pytest.raises(HostConfigError, match='dict of settings or a HostConfig'):
        quiet(backend.ParallelSSHClient, [server.host], host_config={server.host: 22})


# ---------------------------------------------------------------------------
# 21. host_out['stdout'] and the other keys of 1.x's dict


@pytest.mark.timeout(60)
def test_host_output_item_access(parallel):
    client = parallel()
    output = client.run_command('read line; echo "got $line"; echo err >&2; exit 3')
    for host_out in output:
        with one_deprecation():
            stdin = host_out['stdin']
        assert stdin is host_out.stdin
        stdin.write('input\n')
    client.join(output)
    host_out = output[0]
    expected = {'host': host_out.host, 'channel': host_out.channel, 'exit_code': 3,
                'exception': None}
    for key, value in expected.items():
        with one_deprecation():
            assert host_out[key] == value, key
    with one_deprecation():
        assert list(host_out['stdout']) == ['got input']
    with one_deprecation():
        assert list(host_out['stderr']) == ['err']
    with one_deprecation():
        cmd = host_out['cmd']
    assert cmd is client.cmds[0] and cmd.get() is host_out
    with pytest.raises(KeyError):
        host_out['no-such-key']
    # The 2.x attributes are unchanged.
    with no_warnings():
        assert (host_out.exit_code, host_out.host) == (3, output[0].host)


@pytest.mark.timeout(60)
def test_failed_host_item_access(parallel, server):
    listener = socket.socket()
    listener.bind(('127.0.0.1', 0))
    port = listener.getsockname()[1]
    listener.close()  # nothing listens there now
    client = parallel(host_config=[HostConfig(), HostConfig(port=port)])
    output = client.run_command('echo ok', stop_on_errors=False)
    client.join(output)
    failed = output[1]
    for key in ('stdout', 'stderr', 'stdin', 'channel', 'exit_code'):
        with one_deprecation():
            assert failed[key] is None, key
    with one_deprecation():
        assert isinstance(failed['exception'], ConnectionError)


# ---------------------------------------------------------------------------
# 22. channel, host, stdout, stderr, stdin = client.run_command(cmd)


@pytest.mark.timeout(60)
def test_single_client_result_unpacks(single, server):
    client = single()
    with no_warnings():
        host_out = client.run_command('read line; echo "got $line"; exit 4')
    with one_deprecation():
        channel, host, stdout, stderr, stdin = host_out
    assert host == server.host and channel is host_out.channel and stdin is host_out.stdin
    stdin.write('unpacked\n')
    assert list(stdout) == ['got unpacked']
    assert list(stderr) == []
    client.wait_finished(host_out)
    assert client.get_exit_status(channel) == 4
    # Every 2.x attribute still works.
    with no_warnings():
        assert (host_out.exit_code, host_out.host, host_out.exception) == (4, server.host, None)
        assert isinstance(host_out, HostOutput)
    with one_deprecation():
        assert host_out[1] == server.host
    with one_deprecation():
        assert host_out['cmd'] is None  # no greenlet runs a single client's command


@pytest.mark.timeout(60)
def test_iterating_output_list_still_gives_host_outputs(parallel):
    client = parallel()
    output = client.run_command('echo ok')
    with no_warnings():
        hosts = [host_out for host_out in output]
    assert all(isinstance(host_out, HostOutput) for host_out in hosts)
    client.join(output)
    assert [list(host_out.stdout) for host_out in output] == [['ok'], ['ok']]


# ---------------------------------------------------------------------------
# 23. get_exit_codes, get_exit_code, greenlet_timeout


@pytest.mark.timeout(60)
def test_get_exit_codes_and_get_exit_code(parallel):
    client = parallel()
    output = client.run_command('exit 5')
    client.join(output)
    with one_deprecation():
        assert client.get_exit_codes(output) is None
    assert [host_out.exit_code for host_out in output] == [5, 5]
    with one_deprecation():
        assert client.get_exit_code(output[1]) == 5
    with pytest.raises(TypeError, match='HostOutput'):
        quiet(client.get_exit_code, 'host1')
    with pytest.raises(ValueError, match='list'):
        quiet(client.get_exit_codes, output[0])


@pytest.fixture
def silent_port():
    """A port that accepts TCP connections and never says anything."""
    with MisbehavingListener('silent') as listener:
        yield listener.port


@pytest.mark.waits(8)
@pytest.mark.timeout(60)
def test_greenlet_timeout_gives_up_on_a_silent_host(parallel, silent_port):
    client = parallel(host_config=[HostConfig(), HostConfig(port=silent_port)], timeout=30)
    started = gevent.get_hub().loop.now()
    # Long enough for the real server's host to connect on a loaded machine
    # (3 s was not, beside the leak tests' 200 connections a round), far
    # shorter than the client's timeout that would end the silent one.
    with one_deprecation():
        output = client.run_command('echo ok', stop_on_errors=False, greenlet_timeout=8)
    assert gevent.get_hub().loop.now() - started < 20
    assert output[1].exception.args == (
        'Host %s did not start the command within greenlet_timeout of %s seconds',
        output[1].host, 8)
    assert isinstance(output[1].exception, Timeout)
    # The abandoned connection attempt holds no socket.
    assert wait_closed(silent_port) == {}
    client.join(output)
    assert list(output[0].stdout) == ['ok'] and output[0].exit_code == 0
    with one_deprecation():
        with pytest.raises(Timeout):
            client.run_command('echo ok', greenlet_timeout=1)


@pytest.mark.timeout(60)
def test_greenlet_timeout_not_reached(parallel):
    client = parallel()
    with one_deprecation():
        output = client.run_command('echo ok', greenlet_timeout=30)
    client.join(output)
    assert [list(o.stdout) for o in output] == [['ok'], ['ok']]
    with pytest.raises(ValueError):
        quiet(client.run_command, 'echo ok', greenlet_timeout=-1)
