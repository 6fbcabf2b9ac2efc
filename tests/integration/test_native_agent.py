"""Authentication through an SSH agent and the default identity files."""
import subprocess

import pytest

from pssh.exceptions import AuthenticationError

#: The backends a test here runs on when it asks for the backend fixture (see conftest).
BACKENDS = ('native', 'ssh')


@pytest.mark.timeout(60)
def test_agent_key_authenticates(backend, server, agent_sock):
    subprocess.run(['ssh-add', server.user_key], check=True, capture_output=True, timeout=10)
    with backend.SSHClient(server.host, port=server.port, user=server.user, identity_auth=False,
                           num_retries=1, timeout=10) as client:
        host_out = client.run_command('echo via agent')
        assert list(host_out.stdout) == ['via agent']


@pytest.mark.timeout(60)
def test_empty_agent_is_not_fatal_and_error_lists_what_was_tried(backend, server, agent_sock):
    with pytest.raises(AuthenticationError) as err:
        backend.SSHClient(server.host, port=server.port, user=server.user, identity_auth=False,
                          num_retries=1, timeout=10)
    message = str(err.value)
    assert server.host in message and 'ssh-agent' in message


@pytest.mark.timeout(60)
def test_default_identity_files_are_tried_in_order(backend, server, tmp_path, monkeypatch):
    missing = str(tmp_path / 'id_missing')
    wrong = tmp_path / 'id_wrong'
    subprocess.run(['ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-f', str(wrong)],
                   check=True, timeout=30)
    monkeypatch.setattr(backend.SSHClient, 'IDENTITIES', (missing, str(wrong), server.user_key))
    with backend.SSHClient(server.host, port=server.port, user=server.user, allow_agent=False,
                           num_retries=1, timeout=10) as client:
        assert list(client.run_command('echo by identity').stdout) == ['by identity']
    monkeypatch.setattr(backend.SSHClient, 'IDENTITIES', (missing, str(wrong)))
    with pytest.raises(AuthenticationError) as err:
        backend.SSHClient(server.host, port=server.port, user=server.user, allow_agent=False,
                          num_retries=1, timeout=10)
    assert str(wrong) in str(err.value) and missing not in str(err.value)
