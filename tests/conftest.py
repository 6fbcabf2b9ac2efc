"""Shared fixtures: real OpenSSH servers started on loopback for each test module."""
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
# One suite, both backends. A module that sets BOTH_BACKENDS = True has every
# test run once per backend: the module's SSHClient and ParallelSSHClient names
# are pointed at that backend's classes for the test. A test marked
# @pytest.mark.native_only runs on the libssh2 backend alone.

import importlib  # noqa: E402

BACKENDS = {'native': 'pssh.clients.native', 'ssh': 'pssh.clients.ssh'}


def pytest_configure(config):
    config.addinivalue_line('markers', 'native_only: runs on the libssh2 backend only')
    config.addinivalue_line('markers', 'slow(seconds): takes many seconds (about ``seconds`` on '
                            'an idle machine); started first, longest first, under pytest-xdist')


def _expected_seconds(item):
    mark = item.get_closest_marker('slow')
    return mark.args[0] if mark is not None else 0


def pytest_collection_modifyitems(config, items):
    """Under pytest-xdist, put the tests marked ``slow`` first, longest first:
    the scheduler deals the first tests out to the workers in turn, so the long
    ones start at once on different workers instead of one of them ending the
    run late. A run without xdist keeps the modules' own order."""
    if os.environ.get('PYTEST_XDIST_WORKER'):
        items.sort(key=_expected_seconds, reverse=True)


def pytest_generate_tests(metafunc):
    if not getattr(metafunc.module, 'BOTH_BACKENDS', False):
        return
    if metafunc.definition.get_closest_marker('native_only'):
        return
    metafunc.parametrize('backend', list(BACKENDS), indirect=True)


@pytest.fixture(autouse=True)
def backend(request, monkeypatch):
    """The backend a test runs against ('native' unless parametrized)."""
    name = getattr(request, 'param', 'native')
    if getattr(request.module, 'BOTH_BACKENDS', False):
        clients = importlib.import_module(BACKENDS[name])
        for attr in ('SSHClient', 'ParallelSSHClient'):
            if hasattr(request.module, attr):
                monkeypatch.setattr(request.module, attr, getattr(clients, attr))
    return name
