"""The login order (pssh.clients.base._auth) on a FakeDriver."""
import pytest

from fakes import FakeDriver, fake_connection, pipe
from pssh.clients.base._auth import Credentials, login
from pssh.exceptions import AuthenticationError, PKeyFileError

pytestmark = pytest.mark.timeout(30)

KEY = b'-----BEGIN OPENSSH PRIVATE KEY-----\nfake\n-----END OPENSSH PRIVATE KEY-----\n'


def connected(driver):
    conn = fake_connection(driver)
    conn.connect(pipe, 1, 0)
    driver.calls.clear()
    return conn


def tried(driver):
    return [name for name, _ in driver.calls]


def identity(tmp_path, name, data=KEY):
    path = tmp_path / name
    path.write_bytes(data)
    return str(path)


def test_the_order_is_gssapi_agent_identities_then_password(tmp_path):
    driver = FakeDriver(agent_keys=2, accept={'password': 'secret'})
    conn = connected(driver)
    ids = (identity(tmp_path, 'id_rsa'), str(tmp_path / 'missing'), identity(tmp_path, 'id_ed'))
    login(conn, Credentials(user='me', password='secret', identities=ids, gssapi=True))
    assert tried(driver) == ['gssapi', 'agent', 'agent', 'auth_key', 'auth_key', 'password']


def test_the_first_source_that_works_ends_the_login(tmp_path):
    driver = FakeDriver(agent_keys=3, accept={'agent': 1})
    conn = connected(driver)
    login(conn, Credentials(user='me', password='secret',
                            identities=(identity(tmp_path, 'id_rsa'),)))
    assert driver.calls == [('agent', (0,)), ('agent', (1,))]


def test_an_explicit_key_is_tried_alone_with_its_certificate():
    driver = FakeDriver(agent_keys=2, accept={'key': {KEY}})
    conn = connected(driver)
    login(conn, Credentials(user='me', password='pw', pkey='k', pkey_data=KEY,
                            pkey_cert='/c.pub'))
    assert driver.calls == [('auth_key', (KEY, 'pw', '/c.pub'))]


def test_an_explicit_key_refused_is_the_error_naming_the_key():
    driver = FakeDriver(agent_keys=2, accept={'password': 'pw'})
    conn = connected(driver)
    with pytest.raises(AuthenticationError) as info:
        login(conn, Credentials(user='me', password='pw', pkey='/keys/mine', pkey_data=KEY),
              attempt=2, num_retries=3)
    assert tried(driver) == ['auth_key']
    message, host, port, cause, attempt, retries = info.value.args
    assert (host, port, attempt, retries) == ('fake', 22, 2, 3)
    assert message % (host, port) == ('Authentication as me failed on fake:22 with private key '
                                      '/keys/mine (last error: refused (key))')
    assert cause.kind == 'auth'


def test_nothing_working_lists_what_was_tried_and_the_last_real_failure(tmp_path):
    driver = FakeDriver(agent_keys=1)
    conn = connected(driver)
    path = identity(tmp_path, 'id_rsa')
    with pytest.raises(AuthenticationError) as info:
        login(conn, Credentials(user='me', password='wrong', identities=(path,),
                                keyboard_interactive=True))
    assert tried(driver) == ['agent', 'auth_key', 'keyboard-interactive']
    message, host, port, cause, attempt, retries = info.value.args
    assert message % (host, port) == (
        'Authentication as me failed on fake:22; tried: ssh-agent, %s, keyboard-interactive '
        '(last error: refused (keyboard-interactive))' % path)
    assert cause.args == ('auth', 'keyboard-interactive')


def test_nothing_to_try_says_so():
    driver = FakeDriver()
    conn = connected(driver)
    with pytest.raises(AuthenticationError) as info:
        login(conn, Credentials(user='me', allow_agent=False, identity_auth=False))
    assert info.value.args[0] % ('fake', 22) == (
        'Authentication as me failed on fake:22; tried: nothing (no key, agent, identity or '
        'password)')
    assert info.value.args[3] is None


def test_agent_trouble_is_not_fatal(tmp_path):
    driver = FakeDriver(accept={'password': 'pw'})

    def broken_agent():
        raise OSError('agent socket gone')
        yield  # pragma: no cover
    driver.agent_attempts = broken_agent
    conn = connected(driver)
    login(conn, Credentials(user='me', password='pw'))
    assert tried(driver) == ['password']


def test_a_lost_connection_ends_the_login_at_once():
    driver = FakeDriver(agent_keys=1)
    conn = connected(driver)

    def lost_agent():
        conn.io.fail('EOF')
        raise OSError('agent read failed')
        yield  # pragma: no cover
    driver.agent_attempts = lost_agent
    with pytest.raises(Exception) as info:
        login(conn, Credentials(user='me', password='pw'))
    assert 'lost' in str(info.value) and 'closed by the server' in str(info.value)
    assert tried(driver) == []


def test_a_corrupt_explicit_key_is_a_key_file_error():
    driver = FakeDriver()
    driver.fail['auth_key'] = PKeyFileError('bad key')
    conn = connected(driver)
    with pytest.raises(PKeyFileError) as info:
        login(conn, Credentials(user='me', pkey='/keys/bad', pkey_data=KEY))
    assert info.value.args[1:5] == ('/keys/bad', 'me', 'fake', 22)
