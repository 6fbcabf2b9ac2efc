"""Every 1.x name of the drop-in contract ("1.x names from the seed document" in
API.md) works, and warns exactly once with a DeprecationWarning that points at
the line of the caller (this file).

Warnings of a module body fire only when the module is executed, so the
module-import tests remove the module from ``sys.modules`` first and import it
with a plain ``import`` statement (``importlib.import_module``/``reload`` would
make ``importlib/__init__.py`` the caller).
"""
import contextlib
import importlib
import importlib.util
import os
import subprocess
import sys
import warnings

import pytest

import pssh
import pssh.clients.native
from pssh.config import HostConfig
from pssh.exceptions import Timeout
from pssh.output import HostOutput
from pssh.testing import start_servers

# The libssh backend is a real package once built; today pssh/clients/ssh is an
# empty directory, which find_spec reports as a namespace package (origin None).
_SSH_SPEC = importlib.util.find_spec('pssh.clients.ssh')
LIBSSH_BUILT = _SSH_SPEC is not None and _SSH_SPEC.origin is not None
needs_libssh = pytest.mark.skipif(not LIBSSH_BUILT,
                                  reason='libssh backend not built yet (issue 6)')

HOSTS = ['127.0.0.1', 'localhost']


@contextlib.contextmanager
def one_deprecation():
    """Expect exactly one warning in the block: a DeprecationWarning pointing here."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        yield caught
    assert len(caught) == 1, [(w.category.__name__, str(w.message)) for w in caught]
    assert issubclass(caught[0].category, DeprecationWarning), caught[0]
    assert caught[0].filename == __file__, (caught[0].filename, caught[0].lineno)


@contextlib.contextmanager
def no_warnings():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        yield caught
    assert caught == [], [(w.category.__name__, str(w.message), w.filename) for w in caught]


def forget(*names):
    """Drop modules from sys.modules (and their parent's attribute) so that the
    next import runs their body again."""
    for name in names:
        sys.modules.pop(name, None)
        parent, _, child = name.rpartition('.')
        if parent in sys.modules:
            sys.modules[parent].__dict__.pop(child, None)


@pytest.fixture(scope='module')
def group():
    with start_servers(2, reexec=False) as servers:
        yield servers


@pytest.fixture(scope='module')
def passphrase_key(tmp_path_factory, group):
    """An RSA key protected by a passphrase, accepted by group[1] only."""
    path = str(tmp_path_factory.mktemp('compat-keys') / 'id_rsa_pass')
    subprocess.run(['ssh-keygen', '-q', '-t', 'rsa', '-b', '2048', '-m', 'PEM',
                    '-N', 'pssh-passphrase', '-f', path],
                   check=True, stdin=subprocess.DEVNULL, capture_output=True, timeout=60)
    group[1].add_authorized_key(path + '.pub')
    return path


@pytest.fixture
def make_client(group):
    made = []

    def make(hosts=HOSTS, **kwargs):
        settings = dict(user=group.user, pkey=group.user_key, allow_agent=False,
                        identity_auth=False, num_retries=1, timeout=15,
                        host_config=[HostConfig(port=group.ports[i % len(group)])
                                     for i in range(len(hosts))])
        settings.update(kwargs)
        client = pssh.clients.native.ParallelSSHClient(hosts, **settings)
        made.append(client)
        return client

    yield make
    for client in made:
        client.close()


def server_ports(client, output):
    """The server port each host's session is connected to."""
    client.join(output)
    return [int(list(host_out.stdout)[0].split()[3]) for host_out in output]


# ---------------------------------------------------------------------------
# old module names


@pytest.mark.timeout(30)
def test_pssh_client_module_gives_native_parallel_client():
    forget('pssh.pssh_client')
    with one_deprecation():
        from pssh.pssh_client import ParallelSSHClient
    assert ParallelSSHClient is pssh.clients.native.ParallelSSHClient
    forget('pssh.pssh_client')
    with one_deprecation():
        import pssh.pssh_client as old_module
    assert old_module.ParallelSSHClient is pssh.clients.native.ParallelSSHClient


@pytest.mark.timeout(30)
def test_ssh_client_module_gives_native_single_client():
    forget('pssh.ssh_client')
    with one_deprecation():
        from pssh.ssh_client import SSHClient
    assert SSHClient is pssh.clients.native.SSHClient
    forget('pssh.ssh_client')
    with one_deprecation():
        import pssh.ssh_client as old_module
    assert old_module.SSHClient is pssh.clients.native.SSHClient


@pytest.mark.timeout(30)
def test_miko_module_gives_native_clients():
    forget('pssh.clients.miko')
    with one_deprecation():
        from pssh.clients.miko import ParallelSSHClient, SSHClient
    assert ParallelSSHClient is pssh.clients.native.ParallelSSHClient
    assert SSHClient is pssh.clients.native.SSHClient
    forget('pssh.clients.miko')
    with one_deprecation():
        import pssh.clients.miko as old_module
    assert old_module.ParallelSSHClient is pssh.clients.native.ParallelSSHClient
    assert old_module.SSHClient is pssh.clients.native.SSHClient


@needs_libssh
@pytest.mark.timeout(30)
def test_ssh_lib_module_gives_libssh_clients():
    from pssh.clients import ssh as libssh
    forget('pssh.clients.ssh_lib')
    with one_deprecation():
        from pssh.clients.ssh_lib import ParallelSSHClient, SSHClient
    assert ParallelSSHClient is libssh.ParallelSSHClient
    assert SSHClient is libssh.SSHClient
    forget('pssh.clients.ssh_lib')
    with one_deprecation():
        import pssh.clients.ssh_lib as old_module
    assert old_module.ParallelSSHClient is libssh.ParallelSSHClient


@pytest.mark.timeout(30)
def test_current_names_do_not_warn():
    with no_warnings():
        from pssh.clients import ParallelSSHClient, SSHClient
        from pssh.clients.native import ParallelSSHClient as NativeParallel
        from pssh.exceptions import (
            AuthenticationException,
            ConnectionErrorException,
            HostArgumentException,
            SSHException,
            UnknownHostException,
        )
    assert ParallelSSHClient is NativeParallel
    assert SSHClient is pssh.clients.native.SSHClient
    assert UnknownHostException is pssh.exceptions.UnknownHostError
    assert AuthenticationException is pssh.exceptions.AuthenticationError
    assert SSHException is pssh.exceptions.SSHError
    assert HostArgumentException is pssh.exceptions.HostArgumentError
    assert ConnectionErrorException is ConnectionError


# ---------------------------------------------------------------------------
# old exception names on the package


@pytest.mark.timeout(30)
def test_old_exception_names_from_package():
    from pssh import exceptions
    for name in ('UnknownHostException', 'AuthenticationException',
                 'ConnectionErrorException', 'SSHException'):
        # The package may cache a name after its first (warned) lookup.
        pssh.__dict__.pop(name, None)
    with one_deprecation():
        from pssh import UnknownHostException
    with one_deprecation():
        from pssh import AuthenticationException
    with one_deprecation():
        from pssh import ConnectionErrorException
    with one_deprecation():
        from pssh import SSHException
    assert UnknownHostException is exceptions.UnknownHostError
    assert AuthenticationException is exceptions.AuthenticationError
    assert ConnectionErrorException is ConnectionError
    assert SSHException is exceptions.SSHError


@pytest.mark.timeout(30)
def test_old_exception_name_as_package_attribute():
    pssh.__dict__.pop('AuthenticationException', None)
    with one_deprecation():
        exc_class = pssh.AuthenticationException
    assert exc_class is pssh.exceptions.AuthenticationError
    with pytest.raises(AttributeError):
        pssh.NoSuchExceptionName  # noqa: B018


@pytest.mark.timeout(30)
def test_old_client_names_from_package():
    for name in ('ParallelSSHClient', 'SSHClient'):
        pssh.__dict__.pop(name, None)
    # One warning for the line, however many of the client names it imports.
    with one_deprecation():
        from pssh import ParallelSSHClient, SSHClient, utils
    assert ParallelSSHClient is pssh.clients.native.ParallelSSHClient
    assert SSHClient is pssh.clients.native.SSHClient
    assert utils is importlib.import_module('pssh.utils')


@pytest.mark.timeout(30)
def test_old_utils_functions_warn(group):
    import pssh.utils
    with one_deprecation():
        key = pssh.utils.load_private_key(group.user_key)
    assert key == group.user_key_bytes
    with one_deprecation():
        assert pssh.utils.read_openssh_config('any', config_file=os.devnull + '-missing') is None


# ---------------------------------------------------------------------------
# run_command's 1.x keyword arguments


@pytest.mark.timeout(60)
def test_run_command_return_list(make_client):
    client = make_client()
    with one_deprecation():
        output = client.run_command('echo ok', return_list=True)
    assert isinstance(output, list)
    assert [host_out.host for host_out in output] == HOSTS
    client.join(output)
    assert [list(host_out.stdout) for host_out in output] == [['ok'], ['ok']]
    assert [host_out.exit_code for host_out in output] == [0, 0]


@pytest.mark.timeout(60)
def test_parallel_run_command_timeout_is_read_timeout(make_client):
    client = make_client()
    # head waits for one line of stdin: it does not finish until we write one.
    with one_deprecation():
        output = client.run_command('head -n 1', timeout=1)
    for host_out in output:
        assert host_out.read_timeout == 1
        with pytest.raises(Timeout):
            for _line in host_out.stdout:
                pass
    for host_out in output:
        host_out.stdin.write('done\n')
    client.join(output)
    assert [list(host_out.stdout) for host_out in output] == [['done'], ['done']]


@pytest.mark.timeout(60)
def test_single_client_timeout_is_not_deprecated(group):
    # SSHClient.run_command(timeout=...) is a current alias of read_timeout.
    client = pssh.clients.native.SSHClient(
        '127.0.0.1', port=group.ports[0], user=group.user, pkey=group.user_key,
        allow_agent=False, identity_auth=False, num_retries=1, timeout=15)
    try:
        with no_warnings():
            host_out = client.run_command('echo ok', timeout=4)
        assert host_out.read_timeout == 4
        client.wait_finished(host_out)
        assert list(host_out.stdout) == ['ok']
    finally:
        client.close()


# ---------------------------------------------------------------------------
# dict-style use of the output list


@pytest.fixture
def output3(make_client):
    """Output of three hosts, the first name twice: 127.0.0.1, localhost, 127.0.0.1."""
    client = make_client(['127.0.0.1', 'localhost', '127.0.0.1'])
    output = client.run_command('echo $SSH_CONNECTION')
    client.join(output)
    return output


@pytest.mark.timeout(60)
def test_output_items(output3):
    with one_deprecation():
        items = output3.items()
    items = list(items)
    assert [host for host, _ in items] == ['127.0.0.1', 'localhost', '127.0.0.1']
    assert all(host_out is output3[index] for index, (_, host_out) in enumerate(items))


@pytest.mark.timeout(60)
def test_output_keys(output3):
    with one_deprecation():
        keys = output3.keys()
    assert list(keys) == ['127.0.0.1', 'localhost', '127.0.0.1']


@pytest.mark.timeout(60)
def test_output_values(output3):
    with one_deprecation():
        values = output3.values()
    values = list(values)
    assert len(values) == 3
    assert all(isinstance(host_out, HostOutput) for host_out in values)
    assert all(host_out is output3[index] for index, host_out in enumerate(values))


@pytest.mark.timeout(60)
def test_output_by_host_name_gives_first_output_of_host(output3):
    with one_deprecation():
        first = output3['127.0.0.1']
    assert first is output3[0]
    with one_deprecation():
        other = output3['localhost']
    assert other is output3[1]


@pytest.mark.timeout(60)
def test_output_by_host_output_gives_it_back(output3):
    for host_out in list(output3):
        with one_deprecation():
            found = output3[host_out]
        assert found is host_out


@pytest.mark.timeout(60)
def test_one_x_stdin_idiom(make_client):
    client = make_client()
    output = client.run_command('head -n 1')
    for host in output:
        with one_deprecation():
            stdin = output[host].stdin
        stdin.write('from %s\n' % (host.host,))
        stdin.flush()
    client.join(output)
    assert [list(host_out.stdout) for host_out in output] == [
        ['from 127.0.0.1'], ['from localhost']]


@pytest.mark.timeout(60)
def test_plain_list_use_does_not_warn(output3):
    with no_warnings():
        assert isinstance(output3, list)
        assert len(output3) == 3
        first, second, third = output3
        assert output3[0] is first and output3[-1] is third
        assert output3[1:] == [second, third]
        assert list(output3) == [first, second, third]
        assert [host_out for host_out in output3] == [first, second, third]
        assert list(reversed(output3)) == [third, second, first]
        assert output3.index(second) == 1
        assert output3.count(third) == 1
        assert second in output3
        assert output3 + [] == [first, second, third]
        assert output3 == [first, second, third]
        assert sorted(output3, key=lambda host_out: host_out.host)[-1] is second
        assert output3.copy() == [first, second, third]


# ---------------------------------------------------------------------------
# dict host_config


@pytest.mark.timeout(60)
def test_dict_host_config(group, passphrase_key):
    host_config = {
        '127.0.0.1': {'user': group.user, 'port': group.ports[0],
                      'password': 'ignored-for-an-unencrypted-key',
                      'private_key': group.user_key},
        'localhost': {'user': group.user, 'port': group.ports[1],
                      'password': 'pssh-passphrase', 'private_key': passphrase_key},
    }
    with one_deprecation():
        client = pssh.clients.native.ParallelSSHClient(
            list(host_config), host_config=host_config, allow_agent=False,
            identity_auth=False, num_retries=1, timeout=15)
    try:
        output = client.run_command('echo $SSH_CONNECTION')
        assert [host_out.host for host_out in output] == ['127.0.0.1', 'localhost']
        assert server_ports(client, output) == group.ports[:2]
    finally:
        client.close()


# ---------------------------------------------------------------------------
# reset_output_generators and host_clients


@pytest.mark.timeout(60)
def test_reset_output_generators(make_client):
    client = make_client()
    output = client.run_command('echo a; echo b')
    with one_deprecation():
        result = client.reset_output_generators(output[0])
    assert result is None
    client.join(output)
    assert list(output[0].stdout) == ['a', 'b']
    assert list(output[1].stdout) == ['a', 'b']


@pytest.mark.timeout(60)
def test_host_clients(make_client, group):
    client = make_client(['127.0.0.1', 'localhost', '127.0.0.1'])
    output = client.run_command('echo $SSH_CONNECTION')
    with one_deprecation():
        first = client.host_clients['127.0.0.1']
    with one_deprecation():
        other = client.host_clients['localhost']
    assert first is output[0].client
    assert other is output[1].client
    assert first.port == group.ports[0] and other.port == group.ports[1]
    client.join(output)
