"""Host key verification: known_hosts files, policies and pinned keys.

The parsing is checked against OpenSSH's own tools (``ssh-keygen -H`` hashes,
``ssh-keygen -lf`` fingerprints, ``ssh-keygen -F`` finding what we write), and
every policy against real sshd servers on both backends.
"""
import base64
import logging
import os
import subprocess

import pytest

from pssh import hostkeys
from pssh.config import HostConfig
from pssh.exceptions import (
    HostKeyError, HostKeyMismatchError, InvalidAPIUseError, ProxyError, RevokedHostKeyError,
    UnknownHostKeyError)
from pssh.hostkeys import HostKeyChecker, KnownHosts, fingerprint, key_type
from pssh.testing import SSH_KEYGEN_PATH, OpenSSHServer

from _net import wait_closed

BACKENDS = ('native', 'ssh')


# ----------------------------------------------------------------------
# Helpers.

def keygen(tmp_path, name, kind='ed25519'):
    """A fresh key pair; returns (public key line, blob)."""
    path = tmp_path / name
    subprocess.run([SSH_KEYGEN_PATH, '-q', '-t', kind, '-N', '', '-C', name, '-f', str(path)],
                   check=True, stdin=subprocess.DEVNULL)
    line = (tmp_path / (name + '.pub')).read_text().strip()
    return line, base64.b64decode(line.split()[1])


def host_blob(server):
    with open(server.host_key_pub) as fh:
        return base64.b64decode(fh.read().split()[1])


def ssh_keygen_fingerprint(pub_path):
    out = subprocess.run([SSH_KEYGEN_PATH, '-lf', str(pub_path)], check=True,
                         capture_output=True, text=True).stdout
    return out.split()[1]


def userauth_requests(server):
    """How many authentication requests sshd has seen (its log is at DEBUG1)."""
    return server.read_log().count('userauth-request for user')


@pytest.fixture(scope='module')
def server():
    # DEBUG1 logging shows every authentication request, so a test can prove
    # that a refused host never saw one.
    with OpenSSHServer(key_type='ecdsa', extra_config={'LogLevel': 'DEBUG1'}) as srv:
        yield srv


@pytest.fixture
def kw(server):
    return dict(port=server.port, user=server.user, pkey=server.user_key, num_retries=1,
                timeout=10, allow_agent=False, identity_auth=False, keepalive_seconds=0)


@pytest.fixture
def known(tmp_path):
    return tmp_path / 'known_hosts'


def ecdsa_line(server):
    """The server's ECDSA host key as a known_hosts line."""
    pub = [path for path in server.host_keys if 'ecdsa' in path][0] + '.pub'
    with open(pub) as fh:
        kind, data = fh.read().split()[:2]
    return '[%s]:%s %s %s' % (server.host, server.port, kind, data)


def run_echo(client):
    out = client.run_command('echo verified')
    client.wait_finished(out)
    return list(out.stdout)


# ----------------------------------------------------------------------
# Reading known_hosts files (no server).

@pytest.mark.native_only
@pytest.mark.timeout(30)
def test_fingerprint_matches_ssh_keygen(tmp_path):
    line, blob = keygen(tmp_path, 'k1')
    assert fingerprint(blob) == ssh_keygen_fingerprint(tmp_path / 'k1.pub')
    assert key_type(blob) == 'ssh-ed25519'
    line, blob = keygen(tmp_path, 'k2', 'rsa')
    assert fingerprint(blob) == ssh_keygen_fingerprint(tmp_path / 'k2.pub')
    assert key_type(blob) == 'ssh-rsa'


@pytest.mark.native_only
@pytest.mark.timeout(30)
def test_patterns_ports_and_negation(tmp_path):
    line, blob = keygen(tmp_path, 'k')
    body = ' '.join(line.split()[:2])
    path = tmp_path / 'kh'
    path.write_text('\n'.join([
        '# a comment',
        '',
        'web1,web2 %s' % body,
        '[db.example]:2222 %s' % body,
        '*.corp,!bad.corp %s' % body,
        'h?st %s' % body,
        'garbage-line',
        'bad-base64 ssh-ed25519 !!!notbase64',
    ]) + '\n')
    kh = KnownHosts(str(path))
    assert [e.line for e in kh.lookup('web2')] == [3]
    assert [e.line for e in kh.lookup('WEB1')] == [3]
    assert kh.lookup('web1', 2222) == []
    assert [e.line for e in kh.lookup('db.example', 2222)] == [4]
    assert kh.lookup('db.example') == []
    assert [e.line for e in kh.lookup('x.corp')] == [5]
    assert kh.lookup('bad.corp') == []
    assert [e.line for e in kh.lookup('host')] == [6]
    assert kh.lookup('hoost') == []
    assert kh.lookup('other') == []
    assert all(e.blob == blob and e.key_type == 'ssh-ed25519' for e in kh.entries())


@pytest.mark.native_only
@pytest.mark.timeout(30)
def test_hashed_entries_written_by_ssh_keygen(tmp_path):
    line, blob = keygen(tmp_path, 'k')
    body = ' '.join(line.split()[:2])
    path = tmp_path / 'kh'
    path.write_text('alpha %s\n[beta]:2200 %s\n' % (body, body))
    subprocess.run([SSH_KEYGEN_PATH, '-H', '-f', str(path)], check=True,
                   capture_output=True)
    text = path.read_text()
    assert 'alpha' not in text and 'beta' not in text and text.startswith('|1|')
    kh = KnownHosts(path)
    assert [e.blob for e in kh.lookup('alpha')] == [blob]
    assert [e.blob for e in kh.lookup('beta', 2200)] == [blob]
    assert kh.lookup('beta') == [] and kh.lookup('gamma') == []


@pytest.mark.native_only
@pytest.mark.timeout(30)
def test_markers(tmp_path):
    line, blob = keygen(tmp_path, 'k')
    body = ' '.join(line.split()[:2])
    path = tmp_path / 'kh'
    path.write_text('@revoked * %s\n@cert-authority *.corp %s\n@bogus x %s\n' % (body, body, body))
    entries = KnownHosts(path).lookup('a.corp')
    assert [(e.marker, e.line) for e in entries] == [('revoked', 1)]


@pytest.mark.native_only
@pytest.mark.timeout(30)
def test_file_is_read_again_when_it_changes(tmp_path):
    line, blob = keygen(tmp_path, 'k')
    path = tmp_path / 'kh'
    kh = KnownHosts(path)
    assert kh.lookup('h') == []
    path.write_text('h %s\n' % line)
    assert [e.blob for e in kh.lookup('h')] == [blob]


@pytest.mark.native_only
@pytest.mark.timeout(30)
def test_checker_remembers_the_first_key(tmp_path):
    _, first = keygen(tmp_path, 'a')
    _, second = keygen(tmp_path, 'b')
    checker = HostKeyChecker('h', 22, None, str(tmp_path / 'none'))
    checker.check(first)
    checker.check(first)
    with pytest.raises(HostKeyMismatchError) as err:
        checker.check(second)
    assert err.value.args[1:6] == ('h', 22, 'ssh-ed25519', fingerprint(second),
                                   fingerprint(first))
    assert 'first connection' in str(err.value)


@pytest.mark.native_only
@pytest.mark.timeout(30)
def test_policy_names():
    assert hostkeys.normalise_policy(None) == 'accept-unknown'
    assert hostkeys.normalise_policy('yes') == 'strict'
    assert hostkeys.normalise_policy('ASK') == 'strict'
    assert hostkeys.normalise_policy('accept-new') == 'accept-new'
    assert hostkeys.normalise_policy('off') == 'no'
    with pytest.raises(InvalidAPIUseError) as err:
        hostkeys.normalise_policy('maybe')
    assert 'maybe' in str(err.value)
    with pytest.raises(InvalidAPIUseError):
        hostkeys.normalise_policy(True)


@pytest.mark.native_only
@pytest.mark.timeout(30)
def test_bad_pins_fail_at_the_call(backend, tmp_path):
    for bad in ('SHA256:tooshort', 'MD5:zz', 'ssh-ed25519 notbase64', 'nonsense', 42, []):
        with pytest.raises(InvalidAPIUseError):
            hostkeys.parse_pins(bad)
    with pytest.raises(InvalidAPIUseError):
        backend.SSHClient('127.0.0.1', port=1, host_key='SHA256:tooshort', num_retries=1)
    with pytest.raises(InvalidAPIUseError):
        backend.SSHClient('127.0.0.1', port=1, host_key_policy='sometimes', num_retries=1)
    with pytest.raises(ValueError):
        HostConfig(host_key_policy='sometimes')
    with pytest.raises(ValueError):
        HostConfig(host_key='MD5:zz')
    with pytest.raises(InvalidAPIUseError):
        backend.ParallelSSHClient(['a'], host_key_policy='sometimes')
    with pytest.raises(InvalidAPIUseError):
        backend.ParallelSSHClient(['a'], host_key={'a': 'SHA256:x'})


# ----------------------------------------------------------------------
# Policies against a real server.

@pytest.mark.timeout(60)
def test_default_accepts_unknown_host_without_writing(backend, server, kw, known, caplog, monkeypatch):
    monkeypatch.setattr(hostkeys, '_WARNED', set())
    caplog.set_level(logging.WARNING, logger='pssh')
    client = backend.SSHClient(server.host, known_hosts=str(known), **kw)
    assert run_echo(client) == ['verified']
    assert not known.exists()
    messages = [r.getMessage() for r in caplog.records]
    assert any('not known' in m and str(server.port) in m for m in messages), messages
    # Told once per host and key, not at every connection.
    caplog.clear()
    backend.SSHClient(server.host, known_hosts=str(known), **kw)
    assert not [r for r in caplog.records if 'not known' in r.getMessage()]


@pytest.mark.timeout(60)
def test_strict_refuses_unknown_host_before_authenticating(backend, server, kw, known):
    before = userauth_requests(server)
    with pytest.raises(UnknownHostKeyError) as err:
        backend.SSHClient(server.host, known_hosts=str(known), host_key_policy='strict', **kw)
    assert err.value.host == server.host and err.value.port == server.port
    assert str(known) in str(err.value)
    assert userauth_requests(server) == before
    # The connection ended with the refusal, not when the error is dropped.
    assert wait_closed(server.port) == {}


@pytest.mark.timeout(60)
def test_strict_accepts_known_host(backend, server, kw, known):
    known.write_text(server.known_hosts_line() + '\n')
    client = backend.SSHClient(server.host, known_hosts=str(known), host_key_policy='strict', **kw)
    assert run_echo(client) == ['verified']


@pytest.mark.timeout(60)
def test_strict_accepts_hashed_entry(backend, server, kw, known):
    known.write_text(server.known_hosts_line() + '\n')
    subprocess.run([SSH_KEYGEN_PATH, '-H', '-f', str(known)], check=True, capture_output=True)
    assert server.host not in known.read_text()
    client = backend.SSHClient(server.host, known_hosts=str(known), host_key_policy='strict', **kw)
    assert run_echo(client) == ['verified']


@pytest.mark.timeout(60)
def test_entry_for_another_port_does_not_count(backend, server, kw, known):
    host, kind, data = server.known_hosts_line().split()
    known.write_text('[%s]:%s %s %s\n' % (server.host, server.port + 1, kind, data))
    with pytest.raises(UnknownHostKeyError):
        backend.SSHClient(server.host, known_hosts=str(known), host_key_policy='strict', **kw)


@pytest.mark.timeout(60)
def test_known_type_is_negotiated_first(backend, server, kw, known):
    """The server has ed25519 and ECDSA keys; we know only its ECDSA key."""
    known.write_text(ecdsa_line(server) + '\n')
    client = backend.SSHClient(server.host, known_hosts=str(known), host_key_policy='strict', **kw)
    assert run_echo(client) == ['verified']


@pytest.mark.parametrize('policy', [None, 'accept-new', 'strict'])
@pytest.mark.timeout(60)
def test_changed_key_is_always_refused(backend, server, kw, known, tmp_path, policy):
    other, other_blob = keygen(tmp_path, 'impostor')
    kind, data = other.split()[:2]
    known.write_text('[%s]:%s %s %s\n' % (server.host, server.port, kind, data))
    before = userauth_requests(server)
    with pytest.raises(HostKeyMismatchError) as err:
        backend.SSHClient(server.host, known_hosts=str(known), host_key_policy=policy, **kw)
    exc = err.value
    offered = fingerprint(host_blob(server))
    assert exc.args[1:5] == (server.host, server.port, 'ssh-ed25519', offered)
    assert (exc.host, exc.port, exc.key_type, exc.fingerprint) == exc.args[1:5]
    assert fingerprint(other_blob) in exc.expected
    assert '%s:1' % known in str(exc)
    assert userauth_requests(server) == before
    assert known.read_text().count('\n') == 1


@pytest.mark.timeout(60)
def test_policy_no_skips_checking(backend, server, kw, known, tmp_path):
    other, _ = keygen(tmp_path, 'impostor')
    known.write_text('[%s]:%s %s\n' % (server.host, server.port, ' '.join(other.split()[:2])))
    client = backend.SSHClient(server.host, known_hosts=str(known), host_key_policy='no', **kw)
    assert run_echo(client) == ['verified']


@pytest.mark.parametrize('policy', ['no', 'accept-new'])
@pytest.mark.timeout(60)
def test_revoked_key_is_refused_under_any_policy(backend, server, kw, known, policy):
    host, kind, data = server.known_hosts_line().split()
    known.write_text('@revoked * %s %s\n' % (kind, data))
    with pytest.raises(RevokedHostKeyError) as err:
        backend.SSHClient(server.host, known_hosts=str(known), host_key_policy=policy, **kw)
    assert err.value.args[1:5] == (server.host, server.port, kind,
                                   fingerprint(base64.b64decode(data)))


@pytest.mark.timeout(60)
def test_accept_new_writes_a_line_openssh_finds(backend, server, kw, tmp_path):
    known = tmp_path / 'new' / 'known_hosts'
    client = backend.SSHClient(server.host, known_hosts=str(known), host_key_policy='accept-new', **kw)
    assert run_echo(client) == ['verified']
    assert oct(os.stat(known).st_mode & 0o777) == '0o600'
    found = subprocess.run([SSH_KEYGEN_PATH, '-F', '[%s]:%s' % (server.host, server.port),
                            '-f', str(known)], capture_output=True, text=True)
    assert found.returncode == 0, found.stderr
    assert server.known_hosts_line().split()[2] in found.stdout
    # Now known: strict passes, and a second accept-new adds nothing.
    backend.SSHClient(server.host, known_hosts=str(known), host_key_policy='strict', **kw)
    backend.SSHClient(server.host, known_hosts=str(known), host_key_policy='accept-new', **kw)
    assert len(known.read_text().splitlines()) == 1


@pytest.mark.timeout(60)
def test_default_files_are_openssh_ones(backend, server, kw, tmp_path, monkeypatch,
                                        restore_default_known_hosts):
    home = tmp_path / 'home'
    (home / '.ssh').mkdir(parents=True)
    monkeypatch.setenv('HOME', str(home))
    other, _ = keygen(tmp_path, 'impostor')
    (home / '.ssh' / 'known_hosts').write_text(
        '[%s]:%s %s\n' % (server.host, server.port, ' '.join(other.split()[:2])))
    with pytest.raises(HostKeyMismatchError) as err:
        backend.SSHClient(server.host, **kw)
    assert str(home / '.ssh' / 'known_hosts') in str(err.value)


# ----------------------------------------------------------------------
# Pinned keys.

@pytest.mark.timeout(60)
def test_pinned_fingerprint(backend, server, kw, known):
    pin = ssh_keygen_fingerprint(server.host_key_pub)
    client = backend.SSHClient(server.host, known_hosts=str(known), host_key_policy='strict',
                               host_key=pin, **kw)
    assert run_echo(client) == ['verified']


@pytest.mark.timeout(60)
def test_pinned_public_key_line_and_list(backend, server, kw, known, tmp_path):
    other, _ = keygen(tmp_path, 'other')
    with open(server.host_key_pub) as fh:
        line = fh.read().strip()
    client = backend.SSHClient(server.host, known_hosts=str(known), host_key=[other, line], **kw)
    assert run_echo(client) == ['verified']
    client = backend.SSHClient(server.host, known_hosts=str(known),
                               host_key=server.known_hosts_line(), **kw)
    assert run_echo(client) == ['verified']


@pytest.mark.parametrize('policy', [None, 'no'])
@pytest.mark.timeout(60)
def test_wrong_pin_is_refused_even_without_checking(backend, server, kw, known, tmp_path, policy):
    other, other_blob = keygen(tmp_path, 'other')
    with pytest.raises(HostKeyMismatchError) as err:
        backend.SSHClient(server.host, known_hosts=str(known), host_key=other, host_key_policy=policy,
                          **kw)
    assert err.value.expected == fingerprint(other_blob)
    assert err.value.args[6] == 'host_key'


# ----------------------------------------------------------------------
# Parallel client and proxies.

@pytest.mark.timeout(60)
def test_parallel_per_host_settings(backend, server, kw, known, tmp_path):
    other, _ = keygen(tmp_path, 'other')
    good = ssh_keygen_fingerprint(server.host_key_pub)
    hosts = [server.host] * 4
    with backend.ParallelSSHClient(
            hosts, known_hosts=str(known), host_key_policy='strict', host_config=[
                HostConfig(host_key=good),
                HostConfig(host_key=other),
                HostConfig(),
                HostConfig(host_key_policy='no'),
            ], **kw) as client:
        output = client.run_command('echo verified', stop_on_errors=False)
        client.join(output)
    assert list(output[0].stdout) == ['verified']
    assert isinstance(output[1].exception, HostKeyMismatchError)
    assert isinstance(output[2].exception, UnknownHostKeyError)
    assert output[2].exception.host == server.host
    assert list(output[3].stdout) == ['verified']


@pytest.mark.timeout(60)
def test_parallel_pins_by_host_name(backend, server, kw, known, tmp_path):
    other, _ = keygen(tmp_path, 'other')
    good = ssh_keygen_fingerprint(server.host_key_pub)
    with backend.ParallelSSHClient(['127.0.0.1', 'localhost'], known_hosts=str(known),
                                   host_key_policy='strict',
                                   host_key={'127.0.0.1': good, 'localhost': other},
                                   **kw) as client:
        output = client.run_command('echo verified', stop_on_errors=False)
        client.join(output)
    assert list(output[0].stdout) == ['verified']
    assert isinstance(output[1].exception, HostKeyMismatchError)
    assert output[1].exception.host == 'localhost'


@pytest.mark.timeout(60)
def test_bastion_key_is_checked_too(backend, server, kw, known):
    # The target is reached as "localhost" through the bastion at 127.0.0.1:
    # known_hosts knows only the target's name.
    host, kind, data = server.known_hosts_line().split()
    known.write_text('[localhost]:%s %s %s\n' % (server.port, kind, data))
    with pytest.raises(UnknownHostKeyError) as err:
        backend.SSHClient('localhost', proxy_host=server.host, proxy_port=server.port,
                          known_hosts=str(known), host_key_policy='strict', **kw)
    assert err.value.host == server.host
    known.write_text('[localhost]:%s %s %s\n%s\n' % (server.port, kind, data,
                                                     server.known_hosts_line()))
    with backend.SSHClient('localhost', proxy_host=server.host, proxy_port=server.port,
                           known_hosts=str(known), host_key_policy='strict', **kw) as client:
        assert run_echo(client) == ['verified']


@pytest.mark.native_only
@pytest.mark.timeout(10)
def test_host_key_errors_share_a_base():
    assert issubclass(HostKeyMismatchError, HostKeyError)
    assert issubclass(UnknownHostKeyError, HostKeyError)
    assert issubclass(RevokedHostKeyError, HostKeyError)
    assert not issubclass(HostKeyError, ProxyError)
