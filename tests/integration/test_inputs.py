"""Bad arguments fail at the call that takes them, with a typed error that names
the setting, the host and the problem; never later inside a host's greenlet, and
never as an exception of the SSH library.

Rule checked here: wrong type -> TypeError, out of range -> ValueError (HostConfig,
and host names, as they always have: ValueError for both); the documented errors of the contract
(HostConfigError, HostArgumentError, PKeyFileError...) where it names one.
"""
import gc
import os

import gevent
import pytest

from pssh.clients.base._tunnel import Hop
from pssh.config import HostConfig
from pssh.exceptions import (
    AuthenticationError, HostArgumentError, HostConfigError, InvalidAPIUseError, PKeyFileError)


BACKENDS = ('native', 'ssh')

PASSPHRASE = 'pssh-inputs-passphrase'


@pytest.fixture(scope='module')
def keys(tmp_path_factory, server, make_key):
    """An authorised key encrypted with PASSPHRASE, and a corrupt key file."""
    work = tmp_path_factory.mktemp('keys')
    encrypted = make_key(work / 'id_encrypted', PASSPHRASE)
    server.add_authorized_key(encrypted + '.pub')
    corrupt = str(work / 'id_corrupt')
    with open(corrupt, 'wb') as fh:
        fh.write(b'-----BEGIN OPENSSH PRIVATE KEY-----\nAAAAbm90IGEga2V5\n'
                 b'-----END OPENSSH PRIVATE KEY-----\n')
    return {'encrypted': encrypted, 'corrupt': corrupt}


def _live_greenlets():
    return [obj for obj in gc.get_objects() if isinstance(obj, gevent.Greenlet) and not obj.dead]


# ---------------------------------------------------------------------------
# hosts

@pytest.mark.timeout(30)
def test_hosts_none_str_bytes_and_non_iterables(backend):
    with pytest.raises(ValueError, match='not None'):
        backend.ParallelSSHClient(None)
    for value in ('host1', b'host1'):
        with pytest.raises(TypeError, match='not a single'):
            backend.ParallelSSHClient(value)
    with pytest.raises(TypeError, match='iterable of host names, got int'):
        backend.ParallelSSHClient(5)


@pytest.mark.timeout(30)
@pytest.mark.parametrize('bad, exc_type, message', [
    (None, ValueError, r'hosts\[1\] must be a non-empty host name string, got NoneType'),
    (7, ValueError, r'hosts\[1\] must be a non-empty host name string, got int'),
    (b'host', ValueError, r'hosts\[1\] must be a non-empty host name string, got bytes'),
    ('', ValueError, r"hosts\[1\] must be a non-empty host name string, got str ''"),
])
def test_bad_host_items(backend, bad, exc_type, message):
    with pytest.raises(exc_type, match=message):
        backend.ParallelSSHClient(['good', bad])
    client = backend.ParallelSSHClient(['good'])
    with pytest.raises(exc_type, match=message):
        client.hosts = ['good', bad]
    assert client.hosts == ['good']  # unchanged by the refused assignment


@pytest.mark.timeout(30)
def test_single_client_host(backend):
    with pytest.raises(ValueError, match='host must be a non-empty host name string, got NoneType'):
        backend.SSHClient(None)
    with pytest.raises(ValueError, match="non-empty host name string, got str ''"):
        backend.SSHClient('')


# ---------------------------------------------------------------------------
# settings of both clients

BAD_SETTINGS = [
    # (kwargs, exception, words the message must hold)
    (dict(port=0), ValueError, ['port', '1 and 65535', '0']),
    (dict(port=65536), ValueError, ['port', '65536']),
    (dict(port='22'), TypeError, ['port', 'str']),
    (dict(port=True), TypeError, ['port', 'bool']),
    (dict(proxy_host='127.0.0.1', proxy_port=0), ValueError, ['proxy_port', '0']),
    (dict(proxy_host='127.0.0.1', proxy_port=70000), ValueError, ['proxy_port', '70000']),
    (dict(timeout=-1), ValueError, ['timeout', 'negative', '-1']),
    (dict(timeout='10'), TypeError, ['timeout', 'str']),
    (dict(timeout=float('nan')), ValueError, ['timeout']),
    (dict(num_retries=-1), ValueError, ['num_retries', '-1']),
    (dict(num_retries=2.5), TypeError, ['num_retries', 'float']),
    (dict(retry_delay=-0.5), ValueError, ['retry_delay', '-0.5']),
    (dict(retry_delay='1'), TypeError, ['retry_delay', 'str']),
    (dict(keepalive_seconds=-1), ValueError, ['keepalive_seconds', '-1']),
    (dict(keepalive_seconds='60'), TypeError, ['keepalive_seconds', 'str']),
    (dict(user=5), TypeError, ['user', 'int']),
    (dict(password=1234), TypeError, ['password', 'int']),
    (dict(proxy_host=5), TypeError, ['proxy_host', 'int']),
    (dict(proxy_host=''), ValueError, ['proxy_host', 'empty']),
    (dict(proxy_host='127.0.0.1', proxy_password=b'x'), TypeError, ['proxy_password', 'bytes']),
]


@pytest.mark.timeout(30)
@pytest.mark.parametrize('kwargs, exc_type, words', BAD_SETTINGS,
                         ids=[repr(k) for k, _e, _w in BAD_SETTINGS])
def test_bad_settings_fail_in_constructors(backend, kwargs, exc_type, words):
    # Greenlets of earlier tests may still be alive (or never end): only new
    # ones count. The constructors do not give the hub a turn, and with the
    # garbage collector held off no finalizer of an earlier test's objects can
    # spawn one (a tunnel's close does) meanwhile.
    gc.collect()
    before = set(_live_greenlets())
    gc.disable()
    try:
        _constructors_refuse(backend, kwargs, exc_type, words)
        new = [g for g in _live_greenlets() if g not in before]
    finally:
        gc.enable()
    assert new == []


def _constructors_refuse(backend, kwargs, exc_type, words):
    # Port 9 of 127.0.0.9: nothing would answer, so a check that came too late
    # would show up as a connection error instead.
    with pytest.raises(exc_type) as excinfo:
        backend.SSHClient('127.0.0.9', **kwargs)
    message = str(excinfo.value)
    assert '127.0.0.9' in message, message
    for word in words:
        assert word in message, (word, message)
    with pytest.raises(exc_type) as excinfo:
        backend.ParallelSSHClient(['127.0.0.9'], **kwargs)
    message = str(excinfo.value)
    assert 'ParallelSSHClient' in message, message
    for word in words:
        assert word in message, (word, message)


@pytest.mark.timeout(30)
def test_bad_password_type_is_not_echoed(backend):
    with pytest.raises(TypeError) as excinfo:
        backend.SSHClient('127.0.0.9', password=b'pssh-bytes-secret')
    assert 'pssh-bytes-secret' not in str(excinfo.value)
    assert 'bytes' in str(excinfo.value)


@pytest.mark.timeout(30)
@pytest.mark.parametrize('pool_size, exc_type', [(0, ValueError), (-3, ValueError),
                                                  (1.5, TypeError), (None, TypeError)])
def test_pool_size(backend, pool_size, exc_type):
    with pytest.raises(exc_type, match='pool_size'):
        backend.ParallelSSHClient(['127.0.0.9'], pool_size=pool_size)


@pytest.mark.timeout(60)
def test_good_edge_values_are_accepted(backend, server, client_kwargs):
    kwargs = dict(client_kwargs, num_retries=0, retry_delay=0, keepalive_seconds=0)
    with backend.SSHClient(server.host, **kwargs) as client:
        host_out = client.run_command('echo edge')
        client.wait_finished(host_out, timeout=0 + 20)
        assert list(host_out.stdout) == ['edge']
    kwargs['keepalive_seconds'] = None
    client = backend.ParallelSSHClient([server.host], pool_size=1, **kwargs)
    try:
        output = client.run_command('echo edge', read_timeout=0.0 + 20)
        client.join(output, timeout=20)
        assert list(output[0].stdout) == ['edge']
        client.join(output, timeout=0)  # already finished: no Timeout
    finally:
        client.close()


@pytest.mark.timeout(30)
@pytest.mark.parametrize('proxy_jump, exc_type, message', [
    (5, InvalidAPIUseError, 'proxy_jump is a hop or a list of hops'),
    ('bastion:99999', ValueError, 'proxy hop for bastion: port must be between 1 and 65535'),
    ([{'host': 'bastion', 'port': 0}], ValueError, 'proxy hop for bastion: port'),
    ([{'host': 'bastion', 'port': '22'}], TypeError, 'proxy hop for bastion: port'),
    ([{'host': ''}], ValueError, 'host must not be empty'),
    ([{'host': 'bastion', 'password': 5}], TypeError, 'password must be a str'),
    ([{'port': 22}], InvalidAPIUseError, 'needs "host"'),
    ([Hop('bastion', 0)], ValueError, 'proxy hop for bastion: port'),
])
def test_bad_proxy_jump(backend, proxy_jump, exc_type, message):
    with pytest.raises(exc_type, match=message):
        backend.ParallelSSHClient(['127.0.0.9'], proxy_jump=proxy_jump)
    with pytest.raises(exc_type, match=message):
        backend.SSHClient('127.0.0.9', proxy_jump=proxy_jump)


@pytest.mark.timeout(30)
def test_proxy_host_and_proxy_jump_together(backend):
    with pytest.raises(InvalidAPIUseError, match='not both'):
        backend.ParallelSSHClient(['127.0.0.9'], proxy_host='b1', proxy_jump=['b2'])


# ---------------------------------------------------------------------------
# host_config

@pytest.mark.timeout(30)
def test_host_config_types_and_length(backend):
    hosts = ['127.0.0.9', '127.0.0.10']
    for value in ((HostConfig(), HostConfig()), 'x', 5):
        with pytest.raises(HostConfigError, match='must be a list of HostConfig') as excinfo:
            backend.ParallelSSHClient(hosts, host_config=value)
        assert type(value).__name__ in str(excinfo.value)
    with pytest.raises(HostConfigError, match=r'host_config\[1\] must be a HostConfig, got dict'):
        backend.ParallelSSHClient(hosts, host_config=[HostConfig(), {'port': 22}])
    for count in (1, 3):
        with pytest.raises(ValueError, match='host_config has %d entries for 2 hosts' % count):
            backend.ParallelSSHClient(hosts, host_config=[HostConfig() for _ in range(count)])


@pytest.mark.timeout(30)
def test_host_config_hosts_reassigned_to_other_length(backend, server, client_kwargs):
    client = backend.ParallelSSHClient([server.host], host_config=[HostConfig()], **client_kwargs)
    client.hosts = [server.host, server.host]
    with pytest.raises(HostConfigError, match='1 entries for 2 hosts'):
        client.run_command('true')
    assert client._host_clients == {}  # nothing was started


@pytest.mark.timeout(30)
@pytest.mark.parametrize('kwargs, message', [
    (dict(port=0), 'port must be between 1 and 65535, got 0'),
    (dict(port=65536), 'port must be between 1 and 65535, got 65536'),
    (dict(port='22'), 'port must be int, got str'),
    (dict(proxy_port=-1), 'proxy_port must be between'),
    (dict(timeout=-2), 'timeout must not be negative'),
    (dict(num_retries='3'), 'num_retries must be int'),
    (dict(password=5), 'password must be str, got int'),
    (dict(private_key=5), 'private_key must be'),
    (dict(allow_agent='yes'), 'allow_agent must be bool'),
])
def test_host_config_values(kwargs, message):
    with pytest.raises(ValueError, match=message):
        HostConfig(**kwargs)
    config = HostConfig()
    name, value = next(iter(kwargs.items()))
    with pytest.raises(ValueError, match=message):
        setattr(config, name, value)


@pytest.mark.timeout(30)
def test_host_config_bad_proxy_jump_names_its_host(backend):
    config = [HostConfig(), HostConfig(proxy_jump='bastion:0')]
    with pytest.raises(HostConfigError) as excinfo:
        backend.ParallelSSHClient(['h1.invalid', 'h2.invalid'], host_config=config)
    message = str(excinfo.value)
    assert 'host_config[1]' in message and 'h2.invalid' in message and 'port' in message


@pytest.mark.timeout(60)
def test_host_config_missing_key_fails_that_host_only(backend, server, client_kwargs, tmp_path):
    missing = str(tmp_path / 'no-such-key')
    config = [HostConfig(), HostConfig(private_key=missing)]
    client = backend.ParallelSSHClient([server.host, server.host], host_config=config, **client_kwargs)
    try:
        output = client.run_command('echo ok', stop_on_errors=False)
        client.join(output, timeout=20)
        assert list(output[0].stdout) == ['ok']
        exc = output[1].exception
        assert isinstance(exc, PKeyFileError), repr(exc)
        assert missing in str(exc) and server.host in str(exc) and 'host_config[1]' in str(exc)
    finally:
        client.close()


# ---------------------------------------------------------------------------
# keys

@pytest.mark.timeout(30)
def test_missing_key_file_at_construction(backend, tmp_path):
    missing = str(tmp_path / 'absent')
    with pytest.raises(PKeyFileError, match='absent'):
        backend.ParallelSSHClient(['127.0.0.9'], pkey=missing)
    with pytest.raises(PKeyFileError) as excinfo:
        backend.SSHClient('127.0.0.9', pkey=missing)
    assert missing in str(excinfo.value) and '127.0.0.9' in str(excinfo.value)
    with pytest.raises(PKeyFileError, match='path or bytes, got int'):
        backend.ParallelSSHClient(['127.0.0.9'], pkey=5)


def _key_error(exc, host, key_name):
    assert isinstance(exc, (PKeyFileError, AuthenticationError)), repr(exc)
    message = str(exc)
    assert host in message and key_name in message, message
    assert type(exc).__module__ == 'pssh.exceptions'
    args = exc.args
    if isinstance(exc, AuthenticationError):
        # (message, host, port, cause, attempt, num_retries): the cause is the
        # library's own exception, as in parallel-ssh.
        args = args[:3] + args[4:]
    for arg in args:
        assert not type(arg).__module__.startswith(('ssh2', 'ssh.')), exc.args


@pytest.mark.timeout(60)
@pytest.mark.parametrize('which, password, reason', [
    ('encrypted', 'wrong-passphrase', 'wrong passphrase'),
    ('encrypted', None, 'encrypted and no passphrase'),
    ('corrupt', None, 'not a private key')])
def test_unusable_key_file(backend, server, client_kwargs, keys, which, password, reason):
    # Both clients refuse the key at the call, the same way on both backends.
    kwargs = dict(client_kwargs, pkey=keys[which], password=password)
    with pytest.raises(PKeyFileError, match=reason) as excinfo:
        backend.SSHClient(server.host, **kwargs)
    _key_error(excinfo.value, server.host, keys[which])
    with pytest.raises(PKeyFileError, match=reason) as excinfo:
        backend.ParallelSSHClient([server.host, 'second.invalid'], **kwargs)
    _key_error(excinfo.value, server.host, keys[which])
    assert 'second.invalid' in str(excinfo.value)


@pytest.mark.timeout(60)
def test_corrupt_key_inside_its_armour(backend, server, client_kwargs, tmp_path, make_key):
    plain = tmp_path / 'id_plain'
    make_key(plain)
    lines = plain.read_bytes().splitlines()
    # Change the first of the two check numbers that must match (bytes 98-101
    # of the key: base64 characters 60-65 of the third line).
    old = lines[2][60:64]
    lines[2] = lines[2][:60] + (b'AAAA' if old != b'AAAA' else b'BBBB') + lines[2][64:]
    damaged = tmp_path / 'id_damaged'
    damaged.write_bytes(b'\n'.join(lines) + b'\n')
    for make in (lambda: backend.SSHClient(server.host, **dict(client_kwargs, pkey=str(damaged))),
                 lambda: backend.ParallelSSHClient([server.host], **dict(client_kwargs,
                                                                         pkey=str(damaged)))):
        with pytest.raises(PKeyFileError, match='corrupt') as excinfo:
            make()
        _key_error(excinfo.value, server.host, str(damaged))


@pytest.mark.timeout(60)
def test_host_config_unusable_key_fails_that_host_only(backend, server, client_kwargs, keys):
    config = [HostConfig(), HostConfig(private_key=keys['encrypted'], password='wrong')]
    client = backend.ParallelSSHClient([server.host, server.host], host_config=config, **client_kwargs)
    try:
        output = client.run_command('echo ok', stop_on_errors=False)
        client.join(output, timeout=20)
        assert list(output[0].stdout) == ['ok']
        assert isinstance(output[1].exception, PKeyFileError)
        _key_error(output[1].exception, server.host, keys['encrypted'])
    finally:
        client.close()


@pytest.mark.timeout(60)
def test_corrupt_key_bytes(backend, server, client_kwargs):
    kwargs = dict(client_kwargs, pkey=b'this is not a private key')
    with pytest.raises(PKeyFileError, match='not a private key') as excinfo:
        backend.SSHClient(server.host, **kwargs)
    _key_error(excinfo.value, server.host, 'key given as bytes')
    with pytest.raises(PKeyFileError, match='not a private key') as excinfo:
        backend.ParallelSSHClient([server.host], **kwargs)
    _key_error(excinfo.value, server.host, 'key given as bytes')


@pytest.mark.timeout(60)
def test_bad_proxy_key_fails_at_the_call(backend, server, client_kwargs, keys):
    kwargs = dict(client_kwargs, proxy_host=server.host, proxy_port=server.port,
                  proxy_pkey=keys['corrupt'])
    with pytest.raises(PKeyFileError, match='not a private key') as excinfo:
        backend.ParallelSSHClient(['behind.invalid'], **kwargs)
    assert keys['corrupt'] in str(excinfo.value) and 'proxy' in str(excinfo.value)
    with pytest.raises(PKeyFileError, match='wrong passphrase') as excinfo:
        backend.SSHClient('behind.invalid', proxy_jump=[dict(host=server.host, port=server.port,
                                                      pkey=keys['encrypted'], password='x')],
                          **client_kwargs)
    assert 'behind.invalid' in str(excinfo.value) and keys['encrypted'] in str(excinfo.value)


@pytest.mark.timeout(60)
def test_encrypted_key_with_its_passphrase_works(backend, server, client_kwargs, keys):
    kwargs = dict(client_kwargs, pkey=keys['encrypted'], password=PASSPHRASE)
    client = backend.ParallelSSHClient([server.host, server.host], **kwargs)
    try:
        output = client.run_command('echo unlocked')
        client.join(output, timeout=20)
        assert [list(host_out.stdout) for host_out in output] == [['unlocked']] * 2
    finally:
        client.close()


# ---------------------------------------------------------------------------
# per-call arguments: nothing starts on the hosts when one is bad

@pytest.fixture
def connected(backend, server, client_kwargs):
    """A parallel client of two positions on ``server``, connected, and a single client."""
    client = backend.ParallelSSHClient([server.host, server.host], **client_kwargs)
    single = backend.SSHClient(server.host, **client_kwargs)
    gevent.joinall(client.connect_auth(), raise_error=True)
    yield client, single
    client.close()
    single.close()


@pytest.mark.timeout(60)
@pytest.mark.parametrize('encoding, exc_type', [('no-such-codec', LookupError),
                                                (5, TypeError)])
def test_unknown_encoding_fails_before_anything_starts(connected, tmp_path, encoding, exc_type):
    client, single = connected
    marker = tmp_path / 'ran'
    command = 'touch %s' % marker
    with pytest.raises(exc_type):
        client.run_command(command, encoding=encoding)
    with pytest.raises(exc_type):
        single.run_command(command, encoding=encoding)
    with pytest.raises(exc_type):
        client.open_shell(encoding=encoding)
    with pytest.raises(exc_type):
        single.open_shell(encoding=encoding)
    local = str(tmp_path / 'copy')
    with pytest.raises(exc_type):
        client.copy_remote_file('/etc/hostname', local, encoding=encoding)
    with pytest.raises(exc_type):
        single.copy_remote_file('/etc/hostname', local, encoding=encoding)
    with pytest.raises(exc_type):
        single.scp_recv('/etc/hostname', local, encoding=encoding)
    assert not os.listdir(tmp_path), os.listdir(tmp_path)
    assert client.get_last_output() is None
    # The clients still work.
    output = client.run_command('echo fine')
    client.join(output, timeout=20)
    assert [list(o.stdout) for o in output] == [['fine'], ['fine']]


@pytest.mark.timeout(60)
@pytest.mark.parametrize('value, exc_type', [(-1, ValueError), ('5', TypeError)])
def test_bad_timeouts_of_calls(connected, value, exc_type):
    client, single = connected
    with pytest.raises(exc_type, match='read_timeout'):
        client.run_command('true', read_timeout=value)
    with pytest.raises(exc_type, match='read_timeout') as excinfo:
        single.run_command('true', read_timeout=value)
    assert single.host in str(excinfo.value)
    with pytest.raises(exc_type, match='read_timeout'):
        single.run_command('true', timeout=value)
    with pytest.raises(exc_type, match='read_timeout'):
        client.open_shell(read_timeout=value)
    output = client.run_command('true')
    with pytest.raises(exc_type, match='join: timeout'):
        client.join(output, timeout=value)
    with pytest.raises(exc_type, match='wait_finished for %s: timeout' % single.host):
        single.wait_finished(output[0], timeout=value)
    with pytest.raises(exc_type, match='join_shells: timeout'):
        client.join_shells([], timeout=value)
    client.join(output, timeout=20)
    assert [o.exit_code for o in output] == [0, 0]


@pytest.mark.timeout(60)
def test_bad_command_user_and_shell_types(connected):
    client, single = connected
    for kwargs, word in ((dict(command=b'true'), 'command'), (dict(command='true', user=0), 'user'),
                         (dict(command='true', shell=['bash']), 'shell')):
        with pytest.raises(TypeError, match=word):
            client.run_command(**kwargs)
        with pytest.raises(TypeError, match=word):
            single.run_command(**kwargs)
    assert client.get_last_output() is None


@pytest.mark.timeout(60)
@pytest.mark.parametrize('host_args, message', [
    (['only-one'], 'Got 1 host_args for 2 hosts'),
    ([], 'Got 0 host_args for 2 hosts'),
    (5, 'host_args must be a sequence with one item per host, got int'),
    ('ab', 'host_args must be a sequence with one item per host, not a str'),
    ({0: 'a', 1: 'b'}, 'not a dict'),
    ([('a', 'b'), ('c', 'd')], 'Could not format'),
])
def test_bad_host_args(connected, host_args, message):
    client, _single = connected
    with pytest.raises(HostArgumentError, match=message):
        client.run_command('echo %s', host_args=host_args)
    assert client.get_last_output() is None


@pytest.mark.timeout(60)
def test_host_args_missing_a_key(connected):
    client, _single = connected
    with pytest.raises(HostArgumentError, match="Could not format 'echo %\\(y\\)s'.*'y'"):
        client.run_command('echo %(y)s', host_args=[{'x': 1}, {'x': 2}])
    assert client.get_last_output() is None


@pytest.mark.timeout(60)
def test_host_args_from_an_iterator(connected):
    client, _single = connected
    output = client.run_command('echo %s', host_args=(arg for arg in ['one', 'two']))
    client.join(output, timeout=20)
    assert [list(o.stdout) for o in output] == [['one'], ['two']]


@pytest.mark.timeout(60)
@pytest.mark.parametrize('method', ['copy_file', 'scp_send', 'copy_remote_file', 'scp_recv'])
@pytest.mark.parametrize('copy_args, message', [
    ([{'local_file': 'a', 'remote_file': 'b'}], 'Got 1 copy_args for 2 hosts'),
    (7, 'copy_args must be a sequence with one item per host, got int'),
    ('xy', 'not a str'),
])
def test_bad_copy_args(connected, tmp_path, method, copy_args, message):
    client, _single = connected
    local = tmp_path / 'src'
    local.write_text('data')
    with pytest.raises(HostArgumentError, match=message):
        getattr(client, method)(str(local), str(tmp_path / 'dst%s'), copy_args=copy_args)
    assert sorted(os.listdir(tmp_path)) == ['src']


@pytest.mark.timeout(60)
@pytest.mark.parametrize('method', ['scp_send', 'scp_recv'])
def test_scp_copy_args_must_be_dicts(connected, tmp_path, method):
    client, _single = connected
    with pytest.raises(HostArgumentError, match=r'copy_args\[0\] must be a dict with keys '
                                                'local_file and remote_file, got tuple'):
        getattr(client, method)('/etc/hostname', str(tmp_path / 'x'),
                                copy_args=[('a', 'b'), ('c', 'd')])
