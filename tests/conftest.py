"""Shared fixtures: real OpenSSH servers started on loopback for each test module."""
import importlib
import os
import re
import signal
import subprocess

import pytest

from pssh import hostkeys
from pssh.testing import OpenSSHServer

_MACHINE_KNOWN_HOSTS = hostkeys.DEFAULT_KNOWN_HOSTS


@pytest.fixture(scope='session', autouse=True)
def hermetic_known_hosts(tmp_path_factory):
    """Keep this machine's known_hosts files out of the tests: loopback ports are
    reused between test servers, each with new host keys."""
    path = str(tmp_path_factory.mktemp('known-hosts') / 'known_hosts')
    hostkeys.DEFAULT_KNOWN_HOSTS = (path,)
    yield path
    hostkeys.DEFAULT_KNOWN_HOSTS = _MACHINE_KNOWN_HOSTS


@pytest.fixture
def restore_default_known_hosts(monkeypatch):
    """OpenSSH's default known_hosts files, for tests of the defaults."""
    monkeypatch.setattr(hostkeys, 'DEFAULT_KNOWN_HOSTS', _MACHINE_KNOWN_HOSTS)


@pytest.fixture(scope='module')
def server():
    """One embedded sshd for the tests of a module (serving connections from
    forks of itself: cheaper per connection, see OpenSSHServer's reexec)."""
    with OpenSSHServer(reexec=False) as srv:
        yield srv


@pytest.fixture(scope='session')
def make_key():
    """``make_key(path, passphrase='')``: a new ed25519 key pair at ``path`` and
    ``path.pub``; returns the private key's path as a str."""
    def make(path, passphrase=''):
        subprocess.run(['ssh-keygen', '-q', '-t', 'ed25519', '-N', passphrase, '-f', str(path)],
                       check=True, capture_output=True, timeout=30)
        return str(path)
    return make


@pytest.fixture
def agent_sock(tmp_path, monkeypatch):
    """A private ssh-agent; yields its socket path, with SSH_AUTH_SOCK set to it."""
    sock = str(tmp_path / 'agent.sock')
    # Without -D, ssh-agent prints its variables only once its socket is bound.
    out = subprocess.run(['ssh-agent', '-s', '-a', sock], check=True, capture_output=True,
                         text=True, timeout=10).stdout
    pid = int(re.search(r'SSH_AGENT_PID=(\d+)', out).group(1))
    monkeypatch.setenv('SSH_AUTH_SOCK', sock)
    try:
        yield sock
    finally:
        os.kill(pid, signal.SIGTERM)


@pytest.fixture
def sessions(monkeypatch):
    """Every SessionIO (relay) the clients make during the test."""
    from pssh.clients.base import _connection
    made = []

    class Recorded(_connection.SessionIO):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            made.append(self)

    monkeypatch.setattr(_connection, 'SessionIO', Recorded)
    return made


@pytest.fixture
def client_kwargs(server):
    """Keyword arguments that connect a client to ``server`` with its key."""
    return dict(port=server.port, user=server.user, pkey=server.user_key, num_retries=1,
                timeout=10, allow_agent=False, identity_auth=False)


# ----------------------------------------------------------------------
# One suite, several backends. A test asks for the ``backend`` fixture and
# builds its clients from it (``backend.SSHClient(...)``). It runs once per
# name in its module's ``BACKENDS`` tuple (a ``backends(...)`` marker on the
# test overrides the module's tuple); the test id ends in the name, e.g.
# ``test_x[native]``, ``test_x[ssh]``. A test marked
# @pytest.mark.native_only, or in a module without ``BACKENDS``, gets the
# libssh2 backend and no parameter. BACKEND_FACTORIES maps each name to what
# builds the backend object, so a new kind of client is one entry there plus
# its name in the modules' tuples.


class Backend:
    """What a test runs against: its ``name`` and its client classes (or
    whatever stands in for them with the same constructor and methods)."""

    def __init__(self, name, SSHClient, ParallelSSHClient, module=None):
        self.name = name
        self.SSHClient = SSHClient
        self.ParallelSSHClient = ParallelSSHClient
        #: The package the classes come from (pssh.clients.native, ...), if one.
        self.module = module

    def __repr__(self):
        return 'Backend(%r)' % (self.name,)


def _library_backend(name, module_name):
    """The factory of a backend whose classes are those of package ``module_name``."""
    def make():
        module = importlib.import_module(module_name)
        return Backend(name, module.SSHClient, module.ParallelSSHClient, module)
    return make


def _aio_backend(name, module_name):
    """The factory of a backend of asyncio clients (``pssh.aio``...) behind the
    synchronous face the tests call (tests/aio_shim.py)."""
    def make():
        from aio_shim import shim_module
        module = shim_module(importlib.import_module(module_name), module_name)
        return Backend(name, module.SSHClient, module.ParallelSSHClient, module)
    return make


#: Backend name -> a callable returning the backend object for that name.
BACKEND_FACTORIES = {
    'native': _library_backend('native', 'pssh.clients.native'),
    'ssh': _library_backend('ssh', 'pssh.clients.ssh'),
    'aio-native': _aio_backend('aio-native', 'pssh.aio'),
    'aio-ssh': _aio_backend('aio-ssh', 'pssh.aio.ssh'),
}

#: The gevent clients and the asyncio clients, on both libraries: the tuple
#: for modules whose cases run on every kind of client.
ALL_BACKENDS = ('native', 'ssh', 'aio-native', 'aio-ssh')

#: The backends of the command and output modules: every kind of client. (They
#: ran on pssh.aio only when asked, with PSSH_AIO_SUITE=1, while the garbage
#: collector could free the core's library objects in the caller's thread; see
#: Connection.__del__ and _LibraryEnd.) The name stays for the modules' imports.
AIO_WHEN_ASKED = ALL_BACKENDS

#: What a test gets where it is not parametrized (native_only, no BACKENDS).
DEFAULT_BACKEND = 'native'


def pytest_configure(config):
    config.addinivalue_line('markers', 'native_only: runs on the libssh2 backend only')
    config.addinivalue_line('markers', 'backends(*names): the backends this test runs on, '
                            "instead of its module's BACKENDS")
    config.addinivalue_line('markers', 'alone: measures timing that other busy processes would '
                            'disturb; skipped unless PSSH_ALONE=1 (``bash run.sh test`` runs '
                            'these after the rest, one at a time, with PSSH_ALONE=1 -m alone)')
    config.addinivalue_line('markers', 'slow(seconds): takes many seconds (about ``seconds`` on '
                            'an idle machine); started early under pytest-xdist, in the order '
                            'of _start_order')
    config.addinivalue_line('markers', 'waits(seconds): spends about ``seconds`` waiting on a '
                            'timeout or keepalives, with little CPU; started early under '
                            'pytest-xdist, beside the CPU-heavy slow tests')


def _expected_seconds(item):
    mark = item.get_closest_marker('slow') or item.get_closest_marker('waits')
    return mark.args[0] if mark is not None else 0


def _start_order(item):
    """Sort key: the longest CPU-heavy tests (the leak test), then the tests that
    mostly wait (they run while those keep the CPUs busy), then the other
    slow ones by length."""
    seconds = _expected_seconds(item)
    if seconds >= 30:
        return (0, -seconds)
    if item.get_closest_marker('waits'):
        return (1, -seconds)
    return (2, -seconds)


def pytest_collection_modifyitems(config, items):
    """Under pytest-xdist, start the tests marked ``slow`` or ``waits`` first (see
    :func:`_start_order`), each followed by one quick test; the rest keep the
    modules' order.

    ``bash run.sh test`` runs xdist with ``--maxschedchunk 1``: each worker is
    dealt two tests to begin with and then one at a time as it runs out. The
    quick test after each slow one keeps two slow ones from being dealt to
    one worker together, so the long tests start at once on different workers
    and, being CPU-heavy or waiting on timeouts, overlap the rest instead of
    one worker ending the run late. A run without xdist keeps the modules'
    own order."""
    if os.environ.get('PYTEST_XDIST_WORKER'):
        slow = sorted((item for item in items if _expected_seconds(item)), key=_start_order)
        quick = [item for item in items if not _expected_seconds(item)]
        ordered = []
        for index, item in enumerate(slow):
            ordered.append(item)
            if index < len(quick):
                ordered.append(quick[index])
        ordered += quick[len(slow):]
        items[:] = ordered
    if not os.environ.get('PSSH_ALONE'):
        skip = pytest.mark.skip(reason='needs the machine to itself: PSSH_ALONE=1 '
                                '(bash run.sh test runs it after the others)')
        for item in items:
            if item.get_closest_marker('alone'):
                item.add_marker(skip)


def _backend_names(definition, module):
    if definition.get_closest_marker('native_only'):
        return ()
    mark = definition.get_closest_marker('backends')
    names = tuple(mark.args) if mark is not None else tuple(getattr(module, 'BACKENDS', ()))
    unknown = [name for name in names if name not in BACKEND_FACTORIES]
    if unknown:
        raise pytest.UsageError('%s: unknown backend(s) %s' % (definition.nodeid, unknown))
    return names


def pytest_generate_tests(metafunc):
    if 'backend' not in metafunc.fixturenames:
        return
    names = _backend_names(metafunc.definition, metafunc.module)
    if names:
        metafunc.parametrize('backend', names, indirect=True)


@pytest.fixture(scope='module')
def backend(request):
    """The backend the test runs against (see above). Module-scoped, so that a
    module's shared clients can be built from it; the tests of a module then
    run grouped by backend (a test had better close the clients it makes than
    leave their connections to the garbage collector: the next test may count
    them)."""
    return BACKEND_FACTORIES[getattr(request, 'param', DEFAULT_BACKEND)]()
