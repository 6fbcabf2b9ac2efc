"""Tests of pssh._ssh_config: the OpenSSH client config reader.

Two parts: unit tests of each rule, and a comparison with OpenSSH's own answer
(``ssh -G -F FILE HOST``, which resolves the config without contacting the host)
over a set of config files.
"""
import hashlib
import os
import pathlib
import pwd
import socket
import subprocess

import pytest

from pssh._ssh_config import JumpHost, SSHConfig, lookup, to_host_config_kwargs
from pssh.exceptions import HostConfigError, PsshError

LOCAL_USER = pwd.getpwuid(os.getuid()).pw_name
PW_HOME = pwd.getpwuid(os.getuid()).pw_dir
LOCAL_HOST = socket.gethostname()
SSH = '/usr/bin/ssh'


@pytest.fixture
def home(tmp_path, monkeypatch):
    """A fresh $HOME with an empty ~/.ssh, so the real one cannot interfere."""
    home = tmp_path / 'home'
    (home / '.ssh').mkdir(parents=True)
    monkeypatch.setenv('HOME', str(home))
    return home


def write(path, text):
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def conf(home, text, name='config'):
    return write(home / name, text)


def look(home, text, host, **kwargs):
    kwargs.setdefault('system_path', None)
    return lookup(host, conf(home, text), **kwargs)


# ----------------------------------------------------------------------
# Syntax


@pytest.mark.timeout(10)
def test_keyword_forms_quotes_and_comments(home):
    entry = look(home, '''
# a comment line
   HOSTNAME = real.example   # trailing comment
port=2200
User "some user"
IdentityFile '/keys/with space/id'  # comment
IdentityFile "/keys/b"#notacomment
IdentityFile /keys/c\\ d
ConnectTimeout =15
\tCompression\tyes\r
''', 'alias')
    assert entry.hostname == 'real.example'
    assert entry.port == 2200
    assert entry.user == 'some user'
    assert entry.connect_timeout == 15
    assert entry.compression is True
    assert entry.options['identityfile'] == ('/keys/with space/id', '/keys/b#notacomment',
                                             '/keys/c d')


@pytest.mark.timeout(10)
def test_bad_quotes_and_missing_argument_name_file_and_line(home):
    with pytest.raises(HostConfigError) as err:
        look(home, 'Port 22\nUser "unterminated\n', 'h')
    assert isinstance(err.value, PsshError)
    assert str(err.value).startswith('%s line 2: ' % (home / 'config'))
    assert 'quote' in str(err.value)
    with pytest.raises(HostConfigError, match=r'line 3: no argument after keyword .port'):
        look(home, '\n\nPort\n', 'h')
    with pytest.raises(HostConfigError, match=r'line 1: keyword port has extra arguments'):
        look(home, 'Port 22 23\n', 'h')


@pytest.mark.timeout(10)
@pytest.mark.parametrize('line, message', [
    ('Port 0', 'bad port'), ('Port 70000', 'bad port'), ('Port nosuchservice', 'bad port'),
    ('Compression true', 'yes or no'), ('StrictHostKeyChecking maybe', 'StrictHostKeyChecking'),
    ('ConnectTimeout 5x', 'invalid time'), ('ConnectTimeout -1', 'invalid time'),
    ('ServerAliveInterval m', 'invalid time'),
    ('ProxyJump a,,b', 'invalid ProxyJump'), ('ProxyJump u@h:x', 'bad port'),
    ('ProxyJump a, b', 'invalid ProxyJump'), ('ProxyJump @h', 'invalid ProxyJump'),
    ('Match all host x', "'all' cannot be combined"), ('Match host', 'needs an argument'),
    ('Match nosuch x', 'unsupported Match attribute'),
    ('Match localnetwork 10.0.0.0/8', 'not supported'), ('Host ""', 'empty Host pattern'),
])
def test_bad_values_are_errors_even_in_blocks_that_do_not_match(home, line, message):
    with pytest.raises(HostConfigError, match=message) as err:
        look(home, 'Host nomatch\n  %s\n' % line, 'h')
    assert 'line 2' in str(err.value)


@pytest.mark.timeout(10)
def test_values_parsed(home):
    entry = look(home, '''
Port ssh
ConnectTimeout 1m30s
ServerAliveInterval 1w1d
StrictHostKeyChecking OFF
Compression No
ProxyJump ssh://u@j1:2222/,alice@bob@[::1]:7,plain
''', 'h')
    assert entry.port == 22
    assert entry.connect_timeout == 90
    assert entry.server_alive_interval == 8 * 86400
    assert entry.strict_host_key_checking == 'no'
    assert entry.compression is False
    assert entry.proxy_jump == [JumpHost('u', 'j1', 2222), JumpHost('alice@bob', '::1', 7),
                                JumpHost(None, 'plain', None)]
    assert [str(hop) for hop in entry.proxy_jump] == ['u@j1:2222', 'alice@bob@[::1]:7', 'plain']


# ----------------------------------------------------------------------
# First value wins; Host patterns


@pytest.mark.timeout(10)
def test_first_value_wins_identity_files_accumulate(home):
    text = '''
Host web1
  User first
  IdentityFile ~/.ssh/web
  CertificateFile ~/.ssh/web-cert.pub
Host web*
  User second
  Port 2201
  IdentityFile ~/.ssh/shared
  IdentityFile ~/.ssh/web
Host *
  User third
  Port 22022
  IdentityFile ~/.ssh/default
  ConnectTimeout 4
'''
    entry = look(home, text, 'web1')
    assert (entry.user, entry.port, entry.connect_timeout) == ('first', 2201, 4)
    assert entry.identity_files == ['~/.ssh/web', '~/.ssh/shared', '~/.ssh/default']
    assert entry.certificate_files == ['~/.ssh/web-cert.pub']
    assert entry.identity_file_paths() == [str(home / '.ssh' / n)
                                          for n in ('web', 'shared', 'default')]
    other = look(home, text, 'db')
    assert (other.user, other.port, other.identity_files) == ('third', 22022, ['~/.ssh/default'])


@pytest.mark.timeout(10)
@pytest.mark.parametrize('host, port', [
    ('web1', 1), ('web12', 1), ('web-bad', None), ('db7', 2), ('db77', None),
    ('x.example.com', 3), ('example.com', None), ('WEB1', None), ('neg', None),
])
def test_host_patterns(home, host, port):
    text = '''
Host web* !web-bad
  Port 1
Host db? nothing
  Port 2
Host *.example.com
  Port 3
Host !neg
  Port 4
'''
    assert look(home, text, host).port == port


@pytest.mark.timeout(10)
def test_user_file_before_system_file(home, tmp_path):
    system = write(tmp_path / 'etc' / 'ssh_config', 'Host *\n  User sysuser\n  Port 2\n')
    user = conf(home, 'Host h\n  Port 1\n')
    entry = lookup('h', user, system_path=system)
    assert (entry.user, entry.port) == ('sysuser', 1)
    assert lookup('h', user, system_path=None).user is None
    # The default user file is ~/.ssh/config, which may be missing.
    assert lookup('h', system_path=system).port == 2
    write(home / '.ssh' / 'config', 'Port 7\n')
    assert lookup('h', system_path=system).port == 7


@pytest.mark.timeout(10)
def test_missing_explicit_file_is_an_error(home):
    with pytest.raises(HostConfigError, match='no such ssh config file'):
        lookup('h', home / 'nope', system_path=None)
    assert lookup('h', system_path=home / 'nope').options == {}


@pytest.mark.timeout(10)
def test_user_and_port_arguments_act_like_l_and_p(home):
    text = 'Match user bob\n  Port 2\nHost *\n  User alice\n  Port 3\n'
    entry = look(home, text, 'h', user='bob')
    assert (entry.user, entry.port) == ('bob', 2)
    entry = look(home, text, 'h', port=10)
    assert (entry.user, entry.port) == ('alice', 10)


@pytest.mark.timeout(10)
@pytest.mark.parametrize('host, port', [('', None), (None, None), ('h', 0), ('h', '22'),
                                        ('h', True), ('h', 65536)])
def test_bad_lookup_arguments(home, host, port):
    with pytest.raises(HostConfigError):
        look(home, 'Port 1\n', host, port=port)


@pytest.mark.timeout(10)
def test_one_parse_many_lookups(home):
    config = SSHConfig(conf(home, 'Host a\n  Port 1\nHost b\n  Port 2\n'), system_path=None)
    assert [config.lookup(h).port for h in ('a', 'b', 'c')] == [1, 2, None]


# ----------------------------------------------------------------------
# Match


@pytest.mark.timeout(10)
def test_match_host_is_after_hostname_originalhost_before(home):
    text = '''
Host short
  HostName Long.Example.org
Match host long.example.*
  Port 2022
Match originalhost SHORT
  User orig
Match host short
  ConnectTimeout 9
'''
    entry = look(home, text, 'short')
    assert entry.hostname == 'long.example.org'
    assert (entry.port, entry.user, entry.connect_timeout) == (2022, 'orig', None)
    assert look(home, text, 'other').port is None


@pytest.mark.timeout(10)
def test_match_user_localuser_all_and_negation(home):
    text = '''
Host u1
  User alice
Match user alice
  Port 1
Match localuser %s !user alice
  Port 2
Match !localuser %s
  Port 3
Match all
  ServerAliveInterval 5
''' % (LOCAL_USER, LOCAL_USER)
    assert look(home, text, 'u1').port == 1
    assert look(home, text, 'u2').port == 2  # no User: Match user sees the local user
    assert look(home, text, 'u2').server_alive_interval == 5


@pytest.mark.timeout(10)
def test_match_pattern_lists(home):
    text = 'Match host *.a,!bad.a,x\n  Port 1\n'
    assert [look(home, text, h).port for h in ('ok.a', 'bad.a', 'x', 'y')] == [1, None, 1, None]


@pytest.mark.timeout(10)
def test_match_final_second_pass(home):
    text = '''
Host alias
  HostName real.example
Match canonical
  Port 1
Match final
  Port 2
Host real.*
  User final-pass
Match !final
  ConnectTimeout 3
'''
    entry = look(home, text, 'alias')
    # First pass: canonical/final do not match, !final does; the second pass
    # (asked for by "Match final") matches them and matches Host lines
    # against the resolved host name.
    assert (entry.port, entry.user, entry.connect_timeout) == (1, 'final-pass', 3)
    assert look(home, 'Match canonical\n  Port 1\n', 'h').port is None


@pytest.mark.timeout(10)
def test_match_exec_runs_only_when_allowed(home):
    marker = home / 'ran'
    text = '''
Match exec "touch %s; test %%n = yes"
  Port 1
Match !exec "test %%h = no"
  User notno
''' % marker
    entry = look(home, text, 'yes')
    assert (entry.port, entry.user, marker.exists()) == (None, None, False)
    entry = look(home, text, 'yes', match_exec=True)
    assert (entry.port, entry.user, marker.exists()) == (1, 'notno', True)
    entry = look(home, text, 'no', match_exec=True)
    assert (entry.port, entry.user) == (None, None)
    # An exec after a criterion that failed is not run.
    marker.unlink()
    look(home, 'Match host nothere exec "touch %s"\n  Port 1\n' % marker, 'h', match_exec=True)
    assert not marker.exists()


@pytest.mark.timeout(10)
def test_match_tagged(home):
    text = 'Host t\n  Tag blue\nMatch tagged blue\n  Port 1\nMatch !tagged blue\n  Port 2\n'
    assert look(home, text, 't').port == 1
    assert look(home, text, 'u').port == 2


# ----------------------------------------------------------------------
# Include


@pytest.mark.timeout(10)
def test_include_glob_relative_and_block_state(home, tmp_path):
    ssh_dir = home / '.ssh'
    write(ssh_dir / 'conf.d' / '20-b.conf', 'Host *\n  User fromglob\n')
    write(ssh_dir / 'conf.d' / '10-a.conf', 'Port 1001\nHost inc-b\n  Port 1002\n')
    write(ssh_dir / 'conf.d' / '.hidden.conf', 'Host *\n  User hidden\n')
    write(tmp_path / 'abs.conf', 'ConnectTimeout 8\n')
    write(ssh_dir / 'never.conf', 'User nope\nHost *\n  Port 1\n')
    text = '''
Host inc*
  Include conf.d/*.conf nothing-matches-*.conf
  Include %s
  ServerAliveInterval 9
Host never
  Include never.conf
Host *
  Compression yes
''' % (tmp_path / 'abs.conf')
    a = look(home, text, 'inc-a')
    assert (a.port, a.user, a.connect_timeout, a.server_alive_interval, a.compression) == (
        1001, 'fromglob', 8, 9, True)
    assert look(home, text, 'inc-b').port == 1001  # the file's top line came first
    other = look(home, text, 'other')
    assert (other.port, other.user, other.connect_timeout, other.compression) == (
        None, None, None, True)


@pytest.mark.timeout(10)
def test_include_from_system_file(home, tmp_path):
    system = write(tmp_path / 'sys' / 'ssh_config', 'Include ~/x.conf\n')
    with pytest.raises(HostConfigError, match='line 1: bad Include path'):
        lookup('h', system_path=system)
    if not os.path.isfile('/etc/ssh/ssh_config'):
        pytest.skip('no /etc/ssh/ssh_config to include relatively')
    # A relative Include in a system file is relative to /etc/ssh.
    write(system, 'Include ssh_config\n')
    entry = lookup('h', system_path=system)
    assert entry.options == lookup('h', system_path='/etc/ssh/ssh_config').options


@pytest.mark.timeout(10)
def test_include_recursion_limit_and_bad_include(home):
    write(home / '.ssh' / 'loop.conf', 'Include loop.conf\n')
    with pytest.raises(HostConfigError, match='too many nested Include'):
        look(home, 'Include loop.conf\n', 'h')
    (home / '.ssh' / 'dir.conf').mkdir()
    with pytest.raises(HostConfigError, match='line 1: cannot read included file'):
        look(home, 'Include dir.conf\n', 'h')
    write(home / '.ssh' / 'bad.conf', '\nPort x\n')
    with pytest.raises(HostConfigError, match=r'bad\.conf line 2: bad port'):
        look(home, 'Include bad.conf\n', 'h')


# ----------------------------------------------------------------------
# Tokens


@pytest.mark.timeout(10)
def test_tokens_in_hostname_and_paths(home, monkeypatch):
    monkeypatch.setenv('PSSH_TEST_DIR', '/envdir')
    entry = look(home, '''
Host Web
  HostName %h.Example.com
  User bob
  Port 2022
  IdentityFile ~/.ssh/%r@%h:%p
  IdentityFile ${PSSH_TEST_DIR}/%n_%u_%l_%L_%d_%i_%k_%%
  UserKnownHostsFile %d/kh_%C none
''', 'Web')
    assert entry.hostname == 'web.example.com'
    tokens = (LOCAL_USER, LOCAL_HOST, LOCAL_HOST.split('.')[0], home, os.getuid())
    assert entry.identity_file_paths() == [
        '%s/.ssh/bob@web.example.com:2022' % home,
        '/envdir/Web_%s_%s_%s_%s_%d_Web_%%' % tokens]
    digest = hashlib.sha1(('%sweb.example.com2022bob' % LOCAL_HOST).encode()).hexdigest()
    assert entry.known_hosts_paths() == ['%s/kh_%s' % (home, digest), 'none']
    assert look(home, 'HostName %%h\n', 'x').hostname == '%h'


@pytest.mark.timeout(10)
@pytest.mark.parametrize('text, message', [
    ('IdentityFile /k/%z', 'unknown token %z'),
    ('IdentityFile /k/%', 'lone %'),
    ('IdentityFile ${PSSH_SURELY_UNSET_VAR}/k', 'PSSH_SURELY_UNSET_VAR is not set'),
    ('UserKnownHostsFile ~nosuchuser12345/kh', 'unknown user'),
])
def test_token_errors(home, monkeypatch, text, message):
    monkeypatch.delenv('PSSH_SURELY_UNSET_VAR', raising=False)
    entry = look(home, 'Host *\n' + text + '\n', 'h')
    with pytest.raises(HostConfigError, match='config line 2: .*' + message):
        to_host_config_kwargs(entry)


@pytest.mark.timeout(10)
def test_bad_hostname_token(home):
    with pytest.raises(HostConfigError, match='line 1: unknown token %x'):
        look(home, 'HostName %x.example\n', 'h')


# ----------------------------------------------------------------------
# to_host_config_kwargs


@pytest.mark.timeout(10)
def test_kwargs_only_what_is_set(home):
    assert to_host_config_kwargs(look(home, 'Host other\n  Port 1\n', 'h')) == {}
    assert to_host_config_kwargs(look(home, 'HostName %h\n', 'H')) == {}
    entry = look(home, '''
Host app
  HostName 10.0.0.5
  User deploy
  Port 2200
  IdentityFile ~/.ssh/app
  IdentityFile /keys/missing
  ProxyJump jump@bastion:2222,inner
  ConnectTimeout 12
  ServerAliveInterval 30
  UserKnownHostsFile ~/.ssh/kh1 /etc/kh2
  StrictHostKeyChecking accept-new
  Compression yes
''', 'app')
    assert to_host_config_kwargs(entry) == {
        'hostname': '10.0.0.5', 'user': 'deploy', 'port': 2200,
        'identity_files': [str(home / '.ssh' / 'app'), '/keys/missing'],
        'proxy_jump': ['jump@bastion:2222', 'inner'], 'timeout': 12, 'keepalive_seconds': 30,
        'known_hosts': [str(home / '.ssh' / 'kh1'), '/etc/kh2'],
        'host_key_policy': 'accept-new', 'compress': True,
    }


@pytest.mark.timeout(10)
@pytest.mark.parametrize('value, policy', [
    ('yes', 'strict'), ('true', 'strict'), ('ask', 'strict'), ('accept-new', 'accept-new'),
    ('no', 'accept-new'), ('off', 'accept-new'), ('false', 'accept-new'),
])
def test_kwargs_host_key_policy(home, value, policy):
    entry = look(home, 'StrictHostKeyChecking %s\n' % value, 'h')
    assert to_host_config_kwargs(entry) == {'host_key_policy': policy}


@pytest.mark.timeout(10)
def test_kwargs_none_values_and_proxy_competition(home):
    kwargs = to_host_config_kwargs(look(
        home, 'ProxyJump none\nProxyJump x\nUserKnownHostsFile none\nConnectTimeout none\n'
              'ConnectTimeout 0\nCompression no\n', 'h'))
    assert kwargs == {'proxy_jump': None, 'known_hosts': [], 'timeout': 0, 'compress': False}
    entry = look(home, 'ProxyCommand nc %h %p\nProxyJump x\n', 'h')
    assert (entry.proxy_jump, entry.proxy_command) == (None, 'nc %h %p')
    assert to_host_config_kwargs(entry) == {}
    entry = look(home, 'ProxyJump x\nProxyCommand nc %h %p\n', 'h')
    assert (entry.proxy_jump, entry.proxy_command) == ([JumpHost(None, 'x', None)], None)
    entry = look(home, 'ProxyJump none\nProxyCommand nc\n', 'h')
    assert entry.proxy_command == 'nc'


# ----------------------------------------------------------------------
# Comparison with OpenSSH: ssh -G -F FILE HOST

needs_ssh = pytest.mark.skipif(not os.path.exists(SSH),
                               reason='%s is missing: no OpenSSH to compare with' % SSH)

# Each scenario: a config (the user file) and extra files under $HOME, then the
# hosts to resolve, as (host, user for -l, port for -p).
SCENARIOS = {
    'patterns-first-wins-defaults-last': ('''
Host web* !web-bad
    User webuser
    Port 2201
Host web1 db?
    HostName %h.internal.example
    User overridden
    ConnectTimeout 4
Host *.example.com *.EXAMPLE.org
    ConnectTimeout 7
Host !nomatch-only
    Port 1
Host *
    User default
    Port 22022
    ServerAliveInterval 30
    Compression yes
''', {}, ['web1', 'web2', 'web-bad', 'db1', 'dbx12', 'a.example.com', 'b.EXAMPLE.org',
          'b.example.org', 'WEB1', 'other']),
    'equals-and-quotes': ('''
Host = alpha "beta"
  Port=2222
  User "some user"
  IdentityFile "/keys/with space/id"   # comment
  IdentityFile '/keys/q'
  CONNECTTIMEOUT =15
  UserKnownHostsFile "/kh/a b" '/kh/c'
  StrictHostKeyChecking=accept-new
  HostName = "Alpha.Example"
Host *
  IdentityFile /keys/default
''', {}, ['alpha', 'beta', 'gamma']),
    'include-glob-relative': ('''
Host inc*
  Include conf.d/*.conf nothing-here-*.conf
  ServerAliveInterval 9
Host never
  Include never.conf
Host *
  Compression yes
  Include tail.conf
''', {'.ssh/conf.d/10-a.conf': 'Port 1001\nHost inc-b\n  Port 1002\n  User incb\n',
      '.ssh/conf.d/20-b.conf': 'Host *\n  User fromglob\n  ConnectTimeout 3\n',
      '.ssh/never.conf': 'User nope\nHost *\n  Port 1\n',
      '.ssh/tail.conf': 'StrictHostKeyChecking no\n'},
        ['inc-a', 'inc-b', 'never', 'other']),
    'match-host-originalhost-user-all': ('''
Host short
  HostName long.example.org
Host u1
  User alice
Match host long.example.*
  Port 2022
Match originalhost SHORT,!long*
  ConnectTimeout 5
Match host short
  ServerAliveInterval 1
Match user alice
  Port 3333
Match localuser {local} !user alice
  UserKnownHostsFile /kh/local-%u
Match !originalhost short
  StrictHostKeyChecking yes
Match all
  Compression yes
''', {}, ['short', 'u1', 'long.example.org', 'other', ('other', 'alice', None),
          ('short', 'bob', 4000)]),
    'tokens': ('''
Host Tok*
  HostName %h.Example.COM
  User tokuser
  Port 2022
  HostKeyAlias alias-k
  IdentityFile ~/.ssh/%r@%h:%p
  IdentityFile %d/id_%n
  CertificateFile ~/.ssh/cert-%h
  UserKnownHostsFile ~/.ssh/kh_%h_%n_%p_%r_%u_%l_%L_%i_%k_%% %d/c_%C ${HOME}/env_kh
Host *
  UserKnownHostsFile ~/kh-%h-%p-%r
''', {}, ['Tok1', 'tok2', 'other', ('other', 'someone', 2200)]),
    'proxyjump': ('''
Host a
  ProxyJump u@j1:2222,j2,admin@[::1]:7
Host b
  ProxyJump none
Host c
  ProxyCommand nc %h %p
Host d
  ProxyJump none
  ProxyCommand nc %h %p
Host *
  ProxyJump fallback:2200
  ProxyCommand never-used
''', {}, ['a', 'b', 'c', 'd', 'e']),
    'strict-host-key-checking': ('''
Host yes
  StrictHostKeyChecking yes
Host no
  StrictHostKeyChecking no
Host off
  StrictHostKeyChecking off
Host ask
  StrictHostKeyChecking ask
Host new
  StrictHostKeyChecking accept-new
Host true
  StrictHostKeyChecking True
''', {}, ['yes', 'no', 'off', 'ask', 'new', 'true', 'unset']),
    'times-and-compression': ('''
Host t1
  ConnectTimeout 1m30s
  ServerAliveInterval 2h
  Compression no
Host t2
  ConnectTimeout none
  ConnectTimeout 0
  ServerAliveInterval 1w1d
Host *
  ConnectTimeout 20
  Compression yes
''', {}, ['t1', 't2', 't3']),
    'match-final': ('''
Host alias
  HostName real.example
Match canonical
  Port 1
Match final
  Port 2
Host real.*
  User final-pass
Match !final
  ConnectTimeout 3
''', {}, ['alias', 'real.example', 'x']),
    'match-exec-and-negated-host-lines': ('''
Match exec "test %n = execme"
  User execuser
Match host e* !exec "test %h = eno"
  Port 4242
Host * !*.internal
  ConnectTimeout 11
Host !a !b
  Port 1
''', {}, ['execme', 'eno', 'eyes', 'x.internal']),
    'identity-accumulate-case-keywords': ('''
host ID1
  IDENTITYFILE /k/one
  identityfile /k/shared
MATCH HOST id*
  IdentityFile /k/shared
  IdentityFile /k/two
  CertificateFile /k/two-cert.pub
HOST *
  IdentityFile /k/last
  hostname %h.x
''', {}, ['ID1', 'id2', 'zz']),
}

KEYS = ('hostname', 'user', 'port', 'identityfile', 'certificatefile', 'proxyjump',
        'proxycommand', 'connecttimeout', 'serveraliveinterval', 'userknownhostsfile',
        'stricthostkeychecking', 'compression')


def ssh_g(config, host, home, user=None, port=None):
    """OpenSSH's answer as {key: [values]} for the keys we compare."""
    cmd = [SSH, '-G', '-F', str(config)]
    if user:
        cmd += ['-l', user]
    if port:
        cmd += ['-p', str(port)]
    env = {'HOME': str(home), 'PATH': os.environ.get('PATH', '/usr/bin:/bin'),
           'SHELL': '/bin/sh'}
    done = subprocess.run(cmd + [host], env=env, stdin=subprocess.DEVNULL, check=False,
                          capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    result = {}
    for line in done.stdout.splitlines():
        key, _, value = line.partition(' ')
        if key in KEYS:
            if PW_HOME not in ('', '/'):
                # ssh expands ~ and %d from the password database, we from $HOME.
                value = value.replace(PW_HOME, str(home))
            result.setdefault(key, []).append(value)
    return result


def ours_as_ssh_g(entry):
    """Our entry printed the way ssh -G prints it, with ssh's defaults where unset."""
    kwargs = to_host_config_kwargs(entry)
    strict = {'yes': 'true', 'no': 'false', 'ask': 'ask', 'accept-new': 'accept-new'}
    out = {
        'hostname': [entry.address],
        'user': [entry.user or LOCAL_USER],
        'port': [str(entry.port or 22)],
        'connecttimeout': [str(entry.connect_timeout)
                           if entry.connect_timeout is not None else 'none'],
        'serveraliveinterval': [str(entry.server_alive_interval or 0)],
        'stricthostkeychecking': [strict[entry.strict_host_key_checking or 'ask']],
        'compression': ['yes' if entry.compression else 'no'],
    }
    # ssh -G prints identity and certificate files unexpanded.
    if entry.identity_files:
        out['identityfile'] = list(entry.identity_files)
    if entry.certificate_files:
        out['certificatefile'] = list(entry.certificate_files)
    known = kwargs.get('known_hosts')
    if known is None:
        known = ['%s/.ssh/known_hosts' % os.environ['HOME'],
                 '%s/.ssh/known_hosts2' % os.environ['HOME']]
    out['userknownhostsfile'] = [' '.join(known) if known else 'none']
    if kwargs.get('proxy_jump'):
        out['proxyjump'] = [','.join(kwargs['proxy_jump'])]
    if entry.proxy_command is not None and entry.proxy_command != 'none':
        out['proxycommand'] = [entry.proxy_command]
    return out


def scenario_cases():
    for name, (_text, _files, hosts) in SCENARIOS.items():
        for case in hosts:
            host, user, port = case if isinstance(case, tuple) else (case, None, None)
            yield pytest.param(name, host, user, port, id='%s-%s%s%s' % (
                name, host, '-l' + user if user else '', '-p%d' % port if port else ''))


@needs_ssh
@pytest.mark.timeout(60)
@pytest.mark.parametrize('scenario, host, user, port', list(scenario_cases()))
def test_same_as_ssh_G(home, scenario, host, user, port):
    text, files, _hosts = SCENARIOS[scenario]
    for rel, content in files.items():
        write(home / rel, content)
    config = conf(home, text.replace('{local}', LOCAL_USER))
    entry = lookup(host, config, user=user, port=port, system_path=None, match_exec=True)
    theirs = ssh_g(config, host, home, user, port)
    ours = ours_as_ssh_g(entry)
    if 'identityfile' not in ours:
        # Unset: ssh lists its default keys, which we leave to the client.
        assert theirs['identityfile'] and all(
            p.startswith('~/.ssh/id_') for p in theirs['identityfile']), theirs
        del theirs['identityfile']
    assert ours == theirs


@needs_ssh
@pytest.mark.timeout(60)
def test_ssh_G_comparison_sees_differences(home):
    """The comparison is not vacuous: the scenarios resolve to varied values."""
    seen = set()
    for host in ('web1', 'web2', 'other', 'a.example.com'):
        text = SCENARIOS['patterns-first-wins-defaults-last'][0]
        theirs = ssh_g(conf(home, text), host, home)
        seen.add((theirs['user'][0], theirs['port'][0], theirs['connecttimeout'][0]))
    assert len(seen) == 4, seen
