"""Passwords, passphrases and private keys never show: not in log records (with
pssh's debug logging on), not in exception messages or ``.args`` (nor those of
their causes), not in the ``repr``/``str`` of clients, HostConfig, HostOutput or
Hop. Each test uses distinctive secrets, goes through connections that succeed
and that fail, and searches everything it could see for them.
"""
import logging
import traceback

import gevent
import pytest

from pssh import logger as pssh_logger
from pssh.clients.base._tunnel import Hop
from pssh.config import HostConfig
from pssh.exceptions import AuthenticationError, PKeyFileError, ProxyError
from pssh.testing import OpenSSHServer


BACKENDS = ('native', 'ssh')

PASSWORD = 'Pw-9d41e7-never-shown'
PROXY_PASSWORD = 'ProxyPw-52c0aa-never-shown'
PASSPHRASE = 'Passphrase-e1f0b3-never-shown'
WRONG_PASSPHRASE = 'WrongPassphrase-77aa01-never-shown'


def _key_fragments(key_bytes):
    """Pieces of a private key that must never appear: its base64 lines."""
    lines = [line.strip() for line in key_bytes.decode().splitlines()]
    return [line for line in lines if len(line) >= 16 and not line.startswith('-----')]


class _Capture(logging.Handler):
    def __init__(self):
        super().__init__(logging.DEBUG)
        self.records = []

    def emit(self, record):
        self.records.append(record)


@pytest.fixture
def captured():
    """Every record of the pssh loggers at DEBUG, while the test runs."""
    handler = _Capture()
    level = pssh_logger.level
    pssh_logger.addHandler(handler)
    pssh_logger.setLevel(logging.DEBUG)
    try:
        yield handler.records
    finally:
        pssh_logger.removeHandler(handler)
        pssh_logger.setLevel(level)


@pytest.fixture(scope='module')
def keys(tmp_path_factory, server, make_key):
    """An authorised key encrypted with PASSPHRASE, and the server's plain key bytes."""
    work = tmp_path_factory.mktemp('secret-keys')
    encrypted = make_key(work / 'id_encrypted', PASSPHRASE)
    server.add_authorized_key(encrypted + '.pub')
    with open(encrypted, 'rb') as fh:
        encrypted_bytes = fh.read()
    return {'encrypted': encrypted, 'encrypted_bytes': encrypted_bytes,
            'plain_bytes': server.user_key_bytes}


@pytest.fixture
def secrets(keys):
    return [PASSWORD, PROXY_PASSWORD, PASSPHRASE, WRONG_PASSPHRASE] + \
        _key_fragments(keys['plain_bytes']) + _key_fragments(keys['encrypted_bytes'])


def _texts_of_exception(exc, seen=None):
    """str, repr, args and formatted traceback of ``exc`` and its causes."""
    seen = seen if seen is not None else set()
    if exc is None or id(exc) in seen:
        return []
    seen.add(id(exc))
    texts = [str(exc), repr(exc)] + [repr(arg) for arg in exc.args] + \
        [str(arg) for arg in exc.args]
    texts.append(''.join(traceback.format_exception(type(exc), exc, exc.__traceback__)))
    return (texts + _texts_of_exception(exc.__cause__, seen)
            + _texts_of_exception(exc.__context__, seen))


def _texts_of_records(records):
    texts = []
    formatter = logging.Formatter('%(name)s %(levelname)s %(message)s')
    for record in records:
        texts.append(formatter.format(record))
        texts.append(repr(record.args))
        if record.exc_info:
            texts += _texts_of_exception(record.exc_info[1])
    return texts


def _assert_hidden(secrets, texts, what):
    for text in texts:
        for secret in secrets:
            assert secret not in text, '%s shows a secret: %r' % (what, text)


def _check_output(host_out):
    texts = [repr(host_out), str(host_out), repr(host_out.client), str(host_out.client),
             repr(host_out.channel)]
    texts += _texts_of_exception(host_out.exception)
    return texts


# ---------------------------------------------------------------------------

@pytest.mark.timeout(60)
def test_repr_of_host_config_and_hop(keys, secrets):
    hop_dict = {'host': 'bastion', 'port': 2222, 'user': 'jump', 'password': PROXY_PASSWORD,
                'pkey': keys['plain_bytes']}
    configs = [
        HostConfig(user='u', password=PASSWORD, private_key=keys['plain_bytes'],
                   proxy_host='b', proxy_password=PROXY_PASSWORD,
                   proxy_pkey=keys['encrypted_bytes']),
        HostConfig(proxy_jump=[hop_dict, 'other@b2:22',
                               Hop('b3', 22, 'u', PROXY_PASSWORD, keys['plain_bytes'])]),
        HostConfig(proxy_jump=hop_dict),
        HostConfig(proxy_jump=(dict(hop_dict, private_key=keys['plain_bytes']),)),
    ]
    for config in configs:
        _assert_hidden(secrets, [repr(config), str(config), '%s' % (config,)], 'HostConfig')
    # Still useful: the settings that are not secret are shown.
    assert "proxy_jump=[{'host': 'bastion', 'port': 2222, 'user': 'jump'" in repr(configs[1])
    assert 'Hop(u@b3:22)' in repr(configs[1])
    assert 'password=<hidden>' in repr(configs[0])
    hop = Hop('b3', 22, 'u', PROXY_PASSWORD, keys['plain_bytes'])
    _assert_hidden(secrets, [repr(hop), str(hop), '{}'.format(hop), repr([hop])], 'Hop')


@pytest.mark.timeout(60)
def test_single_client_paths(backend, server, keys, secrets, captured):
    texts = []
    base = dict(port=server.port, user=server.user, num_retries=1, timeout=10,
                allow_agent=False, identity_auth=False)
    # Wrong password, no key.
    with pytest.raises(AuthenticationError) as excinfo:
        backend.SSHClient(server.host, password=PASSWORD, **base)
    texts += _texts_of_exception(excinfo.value)
    # Wrong password, keyboard-interactive.
    with pytest.raises(AuthenticationError) as excinfo:
        backend.SSHClient(server.host, password=PASSWORD, keyboard_interactive=True, **base)
    texts += _texts_of_exception(excinfo.value)
    # Encrypted key, wrong passphrase: from a file and as bytes.
    for pkey in (keys['encrypted'], keys['encrypted_bytes']):
        with pytest.raises((PKeyFileError, AuthenticationError)) as excinfo:
            backend.SSHClient(server.host, pkey=pkey, password=WRONG_PASSPHRASE, **base)
        texts += _texts_of_exception(excinfo.value)
    # Success with the passphrase, and with plain key bytes plus a password.
    for pkey, password in ((keys['encrypted_bytes'], PASSPHRASE),
                           (keys['plain_bytes'], PASSWORD)):
        with backend.SSHClient(server.host, pkey=pkey, password=password, **base) as client:
            host_out = client.run_command('echo ok')
            client.wait_finished(host_out, timeout=20)
            assert list(host_out.stdout) == ['ok']
            texts += [repr(client), str(client)] + _check_output(host_out)
            shell = client.open_shell()
            shell.run('exit 3')
            shell.close()
            assert shell.exit_code == 3
            texts += _check_output(shell.output)
    # A refused proxy.
    with pytest.raises(ProxyError) as excinfo:
        backend.SSHClient(server.host, pkey=keys['plain_bytes'], proxy_host='127.0.0.1', proxy_port=1,
                          proxy_password=PROXY_PASSWORD, proxy_pkey=keys['plain_bytes'], **base)
    texts += _texts_of_exception(excinfo.value)
    # A proxy key its passphrase (the proxy password) does not open: refused at the call.
    with pytest.raises(PKeyFileError, match='wrong passphrase') as excinfo:
        backend.SSHClient(server.host, pkey=keys['plain_bytes'], proxy_host=server.host,
                          proxy_port=server.port, proxy_password=PROXY_PASSWORD,
                          proxy_pkey=keys['encrypted_bytes'], **base)
    texts += _texts_of_exception(excinfo.value)
    # A working proxy, given its password and key.
    with backend.SSHClient(server.host, pkey=keys['plain_bytes'], password=PASSWORD,
                           proxy_host=server.host, proxy_port=server.port,
                           proxy_password=PROXY_PASSWORD, proxy_pkey=keys['plain_bytes'],
                           **base) as client:
        host_out = client.run_command('echo via proxy')
        client.wait_finished(host_out, timeout=20)
        assert list(host_out.stdout) == ['via proxy']
        texts += [repr(client)] + _check_output(host_out)
    assert captured, 'debug logging recorded nothing'
    texts += _texts_of_records(captured)
    _assert_hidden(secrets, texts, 'single client')


@pytest.mark.timeout(90)
def test_parallel_client_paths(backend, server, keys, secrets, captured, tmp_path):
    texts = []
    hosts = [server.host] * 6
    hop = {'host': server.host, 'port': server.port, 'password': PROXY_PASSWORD,
           'pkey': keys['plain_bytes']}
    config = [
        HostConfig(password=PASSWORD),                                     # plain key bytes
        HostConfig(private_key=keys['encrypted'], password=PASSPHRASE),    # good passphrase
        HostConfig(private_key=keys['encrypted_bytes'], password=WRONG_PASSPHRASE),
        HostConfig(proxy_jump=[hop]),                                      # works
        HostConfig(proxy_jump=[dict(hop, pkey=keys['encrypted_bytes'])]),  # bad proxy key
        HostConfig(private_key=keys['encrypted_bytes'], password=PASSWORD, port=1),  # refused
    ]
    client = backend.ParallelSSHClient(hosts, port=server.port, user=server.user,
                                       pkey=keys['plain_bytes'], password=PASSWORD, num_retries=1,
                                       timeout=10, allow_agent=False, identity_auth=False,
                                       host_config=config)
    try:
        texts += [repr(client), str(client)] + [repr(c) for c in config]
        output = client.run_command('echo ok', stop_on_errors=False)
        client.join(output, timeout=30)
        good = [0, 1, 3]
        for index, host_out in enumerate(output):
            if index in good:
                assert host_out.exception is None, (index, host_out.exception)
                assert list(host_out.stdout) == ['ok']
            else:
                assert host_out.exception is not None, index
            texts += _check_output(host_out)
        texts += [repr(client), repr(output)]
        with pytest.raises(Exception) as excinfo:
            client.run_command('echo again')  # stop_on_errors: the first failure raises
        texts += _texts_of_exception(excinfo.value)
        # Copies too.
        src = tmp_path / 'src'
        src.write_text('data')
        greenlets = client.copy_file(str(src), str(tmp_path / 'dst_%s'),
                                     copy_args=[(i,) for i in range(len(hosts))])
        gevent.joinall(greenlets)
        for index, greenlet in enumerate(greenlets):
            if index in good:
                assert greenlet.successful(), greenlet.exception
            else:
                texts += _texts_of_exception(greenlet.exception)
    finally:
        client.close()
    # A client-wide bastion key its passphrase (the proxy password) does not
    # open: refused at the call.
    with pytest.raises(PKeyFileError, match='wrong passphrase') as excinfo:
        backend.ParallelSSHClient([server.host], port=server.port, user=server.user,
                                  pkey=keys['plain_bytes'], num_retries=1, timeout=10,
                                  allow_agent=False, identity_auth=False, proxy_host=server.host,
                                  proxy_port=server.port, proxy_user=server.user,
                                  proxy_password=PROXY_PASSWORD, proxy_pkey=keys['encrypted_bytes'])
    texts += _texts_of_exception(excinfo.value)
    assert captured, 'debug logging recorded nothing'
    texts += _texts_of_records(captured)
    _assert_hidden(secrets, texts, 'parallel client')


@pytest.mark.timeout(60)
def test_password_against_server_without_password_logins(backend, server, captured):
    """A bad password against an sshd that refuses password logins: the error
    path through 'no more methods' shows no secret either."""
    with OpenSSHServer(extra_config={'PasswordAuthentication': False,
                                     'KbdInteractiveAuthentication': False}) as strict:
        with pytest.raises(AuthenticationError) as excinfo:
            backend.SSHClient(strict.host, port=strict.port, user=strict.user, password=PASSWORD,
                              num_retries=1, timeout=10, allow_agent=False, identity_auth=False)
    texts = _texts_of_exception(excinfo.value) + _texts_of_records(captured)
    _assert_hidden([PASSWORD], texts, 'strict server')
