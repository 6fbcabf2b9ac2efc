"""The algorithms= setting: lists of algorithms by kind, on both clients and
HostConfig, against real sshd on both backends."""
import pytest

from pssh.config import HostConfig
from pssh.exceptions import InvalidAPIUseError
from pssh.testing import OpenSSHServer

BACKENDS = ('native', 'ssh')

CHOSEN = {'cipher': ['aes256-ctr'], 'mac': 'hmac-sha2-512-etm@openssh.com'}


def test_single_client_uses_the_given_lists(backend, server, client_kwargs):
    with backend.SSHClient(server.host, algorithms=CHOSEN, **client_kwargs) as client:
        guard = client._io.guard
        assert (guard.cipher, guard.mac) == ('aes256-ctr', 'hmac-sha2-512-etm@openssh.com')
        assert client.algorithms == {'cipher': 'aes256-ctr',
                                     'mac': 'hmac-sha2-512-etm@openssh.com'}
        output = client.run_command('echo chosen')
        client.wait_finished(output)
        assert list(output.stdout) == ['chosen']


def test_parallel_client_and_host_config(backend, server, client_kwargs):
    kwargs = dict(client_kwargs)
    port = kwargs.pop('port')
    config = [HostConfig(port=port), HostConfig(port=port, algorithms={'cipher': 'aes192-ctr'})]
    with backend.ParallelSSHClient([server.host] * 2, host_config=config, algorithms=CHOSEN,
                                   **kwargs) as client:
        output = client.run_command('echo ok')
        client.join(output)
        ciphers = [host_out.client._io.guard.cipher for host_out in output]
        assert ciphers == ['aes256-ctr', 'aes192-ctr']
        assert [list(host_out.stdout) for host_out in output] == [['ok'], ['ok']]


def test_a_server_needing_another_cipher_can_be_reached(backend, client_kwargs):
    with OpenSSHServer(extra_config={'Ciphers': 'chacha20-poly1305@openssh.com'}) as srv:
        kwargs = dict(client_kwargs, port=srv.port, pkey=srv.user_key)
        with backend.SSHClient(srv.host, algorithms={'cipher': 'chacha20-poly1305@openssh.com'},
                               **kwargs) as client:
            assert client._io.guard.cipher == 'chacha20-poly1305@openssh.com'
            output = client.run_command('echo opted in')
            client.wait_finished(output)
            assert list(output.stdout) == ['opted in']


@pytest.mark.parametrize('value, error, text', [
    ({'ciphers': 'aes128-ctr'}, ValueError, "unknown kind 'ciphers'"),
    ({'cipher': ''}, ValueError, "algorithms['cipher'] is empty"),
    ({'cipher': 5}, TypeError, "algorithms['cipher'] must be a str or a list of str"),
    ('aes128-ctr', TypeError, 'algorithms must be a dict'),
])
def test_bad_lists_fail_at_the_call(backend, server, client_kwargs, value, error, text):
    with pytest.raises(error) as info:
        backend.SSHClient(server.host, algorithms=value, **client_kwargs)
    assert text in str(info.value) and server.host in str(info.value)
    with pytest.raises(error, match=text.replace('[', r'\[').replace(']', r'\]')):
        backend.ParallelSSHClient([server.host], algorithms=value)
    with pytest.raises(ValueError):
        HostConfig(algorithms=value)


def test_algorithms_no_library_knows_are_refused(backend, server, client_kwargs):
    with pytest.raises(InvalidAPIUseError) as info:
        backend.SSHClient(server.host, algorithms={'cipher': 'rot13-cbc'}, **client_kwargs)
    assert info.value.args[1:] == (server.host, server.port, 'cipher', 'rot13-cbc')
