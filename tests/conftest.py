"""Shared fixtures: real OpenSSH servers started on loopback for each test module."""
import pytest

from pssh.testing import OpenSSHServer


@pytest.fixture(scope='module')
def server():
    """One embedded sshd for the tests of a module."""
    with OpenSSHServer() as srv:
        yield srv


@pytest.fixture
def client_kwargs(server):
    """Keyword arguments that connect a client to ``server`` with its key."""
    return dict(port=server.port, user=server.user, pkey=server.user_key, num_retries=1,
                timeout=10, allow_agent=False, identity_auth=False)
