"""What only the libssh backend (pssh.clients.ssh) offers: user certificates and GSS-API."""
import getpass
import subprocess

import pytest

from pssh.clients.ssh import ParallelSSHClient, SSHClient
from pssh.config import HostConfig
from pssh.exceptions import AuthenticationError, PKeyFileError
from pssh.testing import OpenSSHServer


def _keygen(*args):
    subprocess.run(['ssh-keygen', '-q', *args], check=True, capture_output=True, timeout=30)


@pytest.fixture(scope='module')
def ca_server(tmp_path_factory):
    """A server that trusts user certificates signed by a test CA, and a user
    key (not authorised by itself) with such a certificate."""
    work = tmp_path_factory.mktemp('ca')
    ca, key = work / 'ca', work / 'id_user'
    _keygen('-t', 'ed25519', '-N', '', '-f', str(ca))
    # ECDSA: the libssh bundled with ssh-python cannot attach a certificate to an
    # ed25519 key (its key comparison treats the certificate type as different).
    _keygen('-t', 'ecdsa', '-N', '', '-f', str(key))
    _keygen('-s', str(ca), '-I', 'pssh-test', '-n', getpass.getuser(), '-V', '-5m:+1h',
            str(key) + '.pub')
    with OpenSSHServer(extra_config=['TrustedUserCAKeys %s.pub' % ca]) as server:
        yield server, str(key), str(key) + '-cert.pub'


@pytest.mark.timeout(60)
def test_certificate_authenticates(ca_server):
    server, key, cert = ca_server
    with SSHClient(server.host, port=server.port, user=server.user, pkey=key, cert_file=cert,
                   num_retries=1, timeout=10, allow_agent=False, identity_auth=False) as client:
        host_out = client.run_command('echo with certificate')
        assert list(host_out.stdout) == ['with certificate']


@pytest.mark.timeout(60)
def test_key_without_its_certificate_is_refused(ca_server):
    server, key, _cert = ca_server
    with pytest.raises(AuthenticationError) as err:
        SSHClient(server.host, port=server.port, user=server.user, pkey=key, num_retries=1,
                  timeout=10, allow_agent=False, identity_auth=False)
    assert server.host in str(err.value)


@pytest.mark.timeout(60)
def test_certificate_per_host_in_parallel_client(ca_server):
    server, key, cert = ca_server
    client = ParallelSSHClient([server.host] * 2, port=server.port, user=server.user, pkey=key,
                               host_config=[HostConfig(cert_file=cert)] * 2, num_retries=1,
                               timeout=10, allow_agent=False, identity_auth=False)
    output = client.run_command('echo %s', host_args=('a', 'b'))
    client.join(output)
    assert [list(o.stdout) for o in output] == [['a'], ['b']]
    client.close()


@pytest.mark.timeout(60)
def test_missing_certificate_file(ca_server, tmp_path):
    server, key, _cert = ca_server
    with pytest.raises(PKeyFileError):
        SSHClient(server.host, port=server.port, user=server.user, pkey=key,
                  cert_file=str(tmp_path / 'none-cert.pub'), num_retries=1, timeout=10)


@pytest.mark.timeout(60)
def test_gssapi_requested_falls_back_to_key(server, client_kwargs):
    # No Kerberos here: GSS-API is tried first, fails, and the key logs in.
    with SSHClient(server.host, gssapi_auth=True, gssapi_server_identity='host@localhost',
                   gssapi_delegate_credentials=True, **client_kwargs) as client:
        assert list(client.run_command('echo after gssapi').stdout) == ['after gssapi']


# ssh-python 1.2 loses memory in get_server_publickey() and get_exit_state();
# the client asks libssh for both directly (pssh.clients.ssh._libssh) and falls
# back to ssh-python's calls where that is not possible.

@pytest.mark.timeout(60)
def test_direct_libssh_calls_agree_with_ssh_python(server, client_kwargs):
    from pssh.clients.ssh import _libssh
    assert _libssh.server_key_base64 is not None and _libssh.exit_state is not None
    with SSHClient(server.host, **client_kwargs) as client:
        offered = _libssh.server_key_base64(client.session)
        assert offered == client.session.get_server_publickey().export_pubkey_base64()
        assert server.known_hosts_line().split()[2].encode() == offered
        channel = client.open_session()
        assert _libssh.exit_state(channel.raw) == (-2, b'', False)  # nothing came yet
        client.close_channel(channel)
        killed = client.run_command('kill -TERM $$')
        client.wait_finished(killed, timeout=20)
        code, name, _core = _libssh.exit_state(killed.channel.raw)
        assert (code, name) == (-1, b'TERM')  # no exit status with a signal
        assert _libssh.exit_state(object()) is None
        assert _libssh.server_key_base64(object()) is None


@pytest.mark.timeout(60)
@pytest.mark.parametrize('direct', [True, False], ids=['direct', 'ssh-python'])
def test_exit_states_and_host_key_either_way(server, client_kwargs, monkeypatch, direct):
    from pssh.clients.ssh import _libssh
    if not direct:
        monkeypatch.setattr(_libssh, 'server_key_base64', None)
        monkeypatch.setattr(_libssh, 'exit_state', None)
    with SSHClient(server.host, host_key=server.known_hosts_line(), host_key_policy='strict',
                   **client_kwargs) as client:
        ok = client.run_command('echo done')
        failed = client.run_command('exit 3')
        killed = client.run_command('echo started; kill -TERM $$; echo not reached')
        for host_out in (ok, failed, killed):
            client.wait_finished(host_out, timeout=20)
        assert (list(ok.stdout), ok.exit_code, ok.exit_signal) == (['done'], 0, None)
        assert (failed.exit_code, failed.exit_signal) == (3, None)
        assert (list(killed.stdout), killed.exit_signal) == (['started'], 'TERM')
