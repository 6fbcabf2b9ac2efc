"""The public callables, modules and names of the drop-in contract
(/work/shared/spec/API.md), checked against the contract written here as data.

A signature matches when its positional parameters (after ``self``) have the
contract's names, in the contract's order, with the contract's defaults (same
type and value), and every other parameter is keyword-only (or ``**kwargs``),
so that it comes after the contract's and cannot take a positional argument.
"""
import builtins
import importlib
import importlib.util
import inspect
import logging
import os

import pytest

# ---------------------------------------------------------------------------
# the contract, copied from API.md

REQUIRED = inspect.Parameter.empty

PARALLEL_INIT = [
    ('hosts', REQUIRED), ('user', None), ('password', None), ('port', 22), ('pkey', None),
    ('num_retries', 3), ('timeout', None), ('pool_size', 100), ('allow_agent', True),
    ('host_config', None), ('retry_delay', 5), ('proxy_host', None), ('proxy_port', None),
    ('proxy_user', None), ('proxy_password', None), ('proxy_pkey', None),
    ('forward_ssh_agent', False), ('keepalive_seconds', 60), ('identity_auth', True),
    ('ipv6_only', False), ('compress', False), ('keyboard_interactive', False),
]

SINGLE_INIT = [
    ('host', REQUIRED), ('user', None), ('password', None), ('port', None), ('pkey', None),
    ('alias', None), ('num_retries', 3), ('retry_delay', 5), ('allow_agent', True),
    ('timeout', None), ('forward_ssh_agent', False), ('proxy_host', None),
    ('proxy_port', None), ('proxy_pkey', None), ('proxy_user', None),
    ('proxy_password', None), ('_auth_thread_pool', True), ('keepalive_seconds', 60),
    ('identity_auth', True), ('ipv6_only', False), ('compress', False),
    ('keyboard_interactive', False),
]

#: "The libssh clients take the same arguments plus these."
LIBSSH_EXTRA_INIT = [
    ('cert_file', None), ('gssapi_auth', False), ('gssapi_server_identity', None),
    ('gssapi_client_identity', None), ('gssapi_delegate_credentials', False),
]

PARALLEL_METHODS = {
    'run_command': [('command', REQUIRED), ('sudo', False), ('user', None),
                    ('stop_on_errors', True), ('use_pty', False), ('host_args', None),
                    ('shell', None), ('encoding', 'utf-8'), ('read_timeout', None)],
    'join': [('output', None), ('consume_output', False), ('timeout', None)],
    'finished': [('output', None)],
    'get_last_output': [('cmds', None)],
    'connect_auth': [],
    'open_shell': [('encoding', 'utf-8'), ('read_timeout', None)],
    'run_shell_commands': [('shells', REQUIRED), ('commands', REQUIRED)],
    'join_shells': [('shells', REQUIRED), ('timeout', None)],
    'copy_file': [('local_file', REQUIRED), ('remote_file', REQUIRED), ('recurse', False),
                  ('copy_args', None)],
    'copy_remote_file': [('remote_file', REQUIRED), ('local_file', REQUIRED),
                         ('recurse', False), ('suffix_separator', '_'), ('copy_args', None),
                         ('encoding', 'utf-8')],
    'scp_send': [('local_file', REQUIRED), ('remote_file', REQUIRED), ('recurse', False),
                 ('copy_args', None)],
    'scp_recv': [('remote_file', REQUIRED), ('local_file', REQUIRED), ('recurse', False),
                 ('copy_args', None), ('suffix_separator', '_')],
}

SINGLE_METHODS = {
    'run_command': [('command', REQUIRED), ('sudo', False), ('user', None),
                    ('use_pty', False), ('shell', None), ('encoding', 'utf-8'),
                    ('timeout', None), ('read_timeout', None)],
    'wait_finished': [('host_output', REQUIRED), ('timeout', None)],
    'finished': [('channel', REQUIRED)],
    'get_exit_status': [('channel', REQUIRED)],
    'close_channel': [('channel', REQUIRED)],
    'open_session': [],
    'open_shell': [('encoding', 'utf-8'), ('read_timeout', None)],
    'read_output': [('stdout_buffer', REQUIRED), ('timeout', None)],
    # API.md writes read_stderr(...): the parameters of read_output, for stderr.
    'read_stderr': [('stderr_buffer', REQUIRED), ('timeout', None)],
    'read_output_buffer': [('output_buffer', REQUIRED), ('prefix', None), ('callback', None),
                           ('callback_args', None), ('encoding', 'utf-8')],
    'copy_file': [('local_file', REQUIRED), ('remote_file', REQUIRED), ('recurse', False),
                  ('sftp', None)],
    'copy_remote_file': [('remote_file', REQUIRED), ('local_file', REQUIRED),
                         ('recurse', False), ('sftp', None), ('encoding', 'utf-8')],
    'scp_send': [('local_file', REQUIRED), ('remote_file', REQUIRED), ('recurse', False),
                 ('sftp', None)],
    'scp_recv': [('remote_file', REQUIRED), ('local_file', REQUIRED), ('recurse', False),
                 ('sftp', None), ('encoding', 'utf-8')],
    'eagain': [('func', REQUIRED), '*args', '**kwargs'],
    'eagain_write': [('write_func', REQUIRED), ('data', REQUIRED)],
    'poll': [('timeout', None)],
    'configure_keepalive': [],
    'auth': [],
}

#: Listed without parameters in API.md: only their existence is part of the contract.
SINGLE_METHODS_NAMED_ONLY = ['sftp_put', 'sftp_get', 'mkdir']

SINGLE_ATTRIBUTES = ['host', 'alias', 'user', 'password', 'port', 'pkey', 'num_retries',
                     'retry_delay', 'timeout', 'allow_agent', 'identity_auth', 'ipv6_only',
                     'compress', 'keepalive_seconds', 'session', 'sock']

HOST_OUTPUT_INIT = [
    ('host', REQUIRED), ('channel', REQUIRED), ('stdin', REQUIRED), ('client', REQUIRED),
    ('alias', None), ('exception', None), ('encoding', 'utf-8'), ('read_timeout', None),
    ('buffers', None), ('fully_qualified_command', None),
]

HOST_OUTPUT_ATTRIBUTES = ['host', 'alias', 'channel', 'stdin', 'client', 'exception',
                          'encoding', 'read_timeout', 'buffers', 'fully_qualified_command',
                          'stdout', 'stderr', 'exit_code']

HOST_CONFIG_INIT = [
    ('user', None), ('port', None), ('password', None), ('private_key', None),
    ('allow_agent', None), ('alias', None), ('num_retries', None), ('retry_delay', None),
    ('timeout', None), ('identity_auth', None), ('proxy_host', None), ('proxy_port', None),
    ('proxy_user', None), ('proxy_password', None), ('proxy_pkey', None),
    ('keepalive_seconds', None), ('ipv6_only', None), ('cert_file', None),
    ('auth_thread_pool', True), ('gssapi_auth', False), ('gssapi_server_identity', None),
    ('gssapi_client_identity', None), ('gssapi_delegate_credentials', False),
    ('forward_ssh_agent', False), ('compress', False), ('keyboard_interactive', False),
]

UTILS_FUNCTIONS = {
    'enable_logger': [('logger', REQUIRED), ('level', logging.INFO)],
    'enable_host_logger': [],
    'enable_debug_logger': [],
    # 1.x (issue 13, item 19)
    'load_private_key': [('path_or_file', REQUIRED), ('password', None)],
    'read_openssh_config': [('host', REQUIRED), ('config_file', None)],
}

#: 1.x methods of the parallel client (issue 13, item 23).
PARALLEL_ONE_X_METHODS = {
    'get_exit_codes': [('output', REQUIRED)],
    'get_exit_code': [('host_output', REQUIRED)],
}

#: 1.x keyword arguments of the parallel run_command, keyword-only after the contract's.
RUN_COMMAND_ONE_X_KEYWORDS = ['return_list', 'timeout', 'greenlet_timeout']

EXCEPTIONS = ['NoIPv6AddressFoundError', 'UnknownHostError', 'AuthenticationError',
              'SSHError', 'HostArgumentError', 'SessionError', 'SFTPError', 'SFTPIOError',
              'ProxyError', 'Timeout', 'SCPError', 'PKeyFileError', 'ShellError',
              'HostConfigError', 'InvalidAPIUseError']

EXCEPTION_ALIASES = {
    'UnknownHostException': 'UnknownHostError',
    'AuthenticationException': 'AuthenticationError',
    'SSHException': 'SSHError',
    'HostArgumentException': 'HostArgumentError',
}

MODULE_NAMES = {
    'pssh': ['__version__', 'logger', 'host_logger'],
    'pssh.clients': ['ParallelSSHClient', 'SSHClient'],
    'pssh.clients.native': ['ParallelSSHClient', 'SSHClient'],
    'pssh.clients.native.single': ['SSHClient'],
    'pssh.clients.native.parallel': ['ParallelSSHClient'],
    'pssh.clients.native.tunnel': ['TunnelServer', 'LocalForwarder', 'FORWARDER'],
    'pssh.clients.base.single': ['BaseSSHClient', 'PollMixIn', 'InteractiveShell', 'Stdin'],
    'pssh.clients.base.parallel': ['BaseParallelSSHClient'],
    'pssh.clients.reader': ['ConcurrentRWBuffer'],
    'pssh.config': ['HostConfig'],
    'pssh.output': ['HostOutput', 'HostOutputBuffers', 'BufferData'],
    'pssh.exceptions': EXCEPTIONS + list(EXCEPTION_ALIASES) + ['ConnectionError',
                                                               'ConnectionErrorException'],
    'pssh.utils': ['enable_logger', 'enable_host_logger', 'enable_debug_logger', 'logger',
                   'host_logger', 'load_private_key', 'read_openssh_config'],
    'pssh.constants': ['DEFAULT_RETRIES', 'RETRY_DELAY'],
}

POLL_MIXIN_INIT = [('sock', None)]
POLL_MIXIN_METHODS = {
    'poll': [('timeout', None)],
    'eagain': [('func', REQUIRED), '*args', '**kwargs'],
    'eagain_write': [('write_func', REQUIRED), ('data', REQUIRED)],
}

TUNNEL_SERVER_INIT = [('client', REQUIRED), ('host', REQUIRED), ('port', REQUIRED),
                      ('bind_address', '127.0.0.1'), ('num_retries', 3)]
TUNNEL_SERVER_METHODS = {'start': [], 'stop': [('timeout', None)]}

LOCAL_FORWARDER_INIT: list = []
LOCAL_FORWARDER_METHODS = {
    'start': [],
    'enqueue': [('client', REQUIRED), ('host', REQUIRED), ('port', REQUIRED)],
    'cleanup_server': [('client', REQUIRED)],
    'shutdown': [],
}

_SSH_SPEC = importlib.util.find_spec('pssh.clients.ssh')
# An empty pssh/clients/ssh directory is found as a namespace package (origin None).
LIBSSH_BUILT = _SSH_SPEC is not None and _SSH_SPEC.origin is not None
needs_libssh = pytest.mark.skipif(not LIBSSH_BUILT,
                                  reason='libssh backend not built yet (issue 6)')


# ---------------------------------------------------------------------------
# comparison


def _same_default(actual, expected):
    if expected is REQUIRED or expected is None:
        return actual is expected
    return type(actual) is type(expected) and actual == expected


def signature_mismatches(func, contract, is_method):
    """Differences between ``func``'s signature and the contract, as strings."""
    params = list(inspect.signature(func).parameters.values())
    if is_method:
        assert params and params[0].name == 'self', params
        params = params[1:]
    problems = []
    expected_positional = [item for item in contract if isinstance(item, tuple)]
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    names = [p.name for p in positional]
    expected_names = [name for name, _ in expected_positional]
    if names != expected_names:
        problems.append('positional parameters %s, contract %s' % (names, expected_names))
    by_name = {p.name: p for p in params}
    for name, default in expected_positional:
        param = by_name.get(name)
        if param is not None and not _same_default(param.default, default):
            problems.append('%s defaults to %r, contract %r' % (name, param.default, default))
    has_var = {'*args': any(p.kind == p.VAR_POSITIONAL for p in params),
               '**kwargs': any(p.kind == p.VAR_KEYWORD for p in params)}
    for item in contract:
        if isinstance(item, str) and not has_var[item]:
            problems.append('no %s' % item)
    if '*args' not in contract and has_var['*args']:
        problems.append('extra *args would take positional arguments')
    return problems


def assert_signature(func, contract, is_method=True):
    problems = signature_mismatches(func, contract, is_method)
    assert not problems, '%s%s: %s' % (func.__qualname__, inspect.signature(func),
                                       '; '.join(problems))


# ---------------------------------------------------------------------------
# constructors and methods


@pytest.mark.timeout(30)
def test_parallel_client_constructor():
    from pssh.clients.native import ParallelSSHClient
    assert_signature(ParallelSSHClient, PARALLEL_INIT, is_method=False)


@pytest.mark.timeout(30)
def test_single_client_constructor():
    from pssh.clients.native import SSHClient
    assert_signature(SSHClient, SINGLE_INIT, is_method=False)


@pytest.mark.timeout(30)
@pytest.mark.parametrize('name', sorted(PARALLEL_METHODS))
def test_parallel_client_method(name):
    from pssh.clients.native import ParallelSSHClient
    assert_signature(getattr(ParallelSSHClient, name), PARALLEL_METHODS[name])


@pytest.mark.timeout(30)
@pytest.mark.parametrize('backend_module', ['pssh.clients.native', 'pssh.clients.ssh'])
def test_parallel_client_one_x_methods_and_keywords(backend_module):
    if backend_module == 'pssh.clients.ssh' and not LIBSSH_BUILT:
        pytest.skip('libssh backend not built')
    client_class = importlib.import_module(backend_module).ParallelSSHClient
    for name, contract in PARALLEL_ONE_X_METHODS.items():
        assert_signature(getattr(client_class, name), contract)
    params = inspect.signature(client_class.run_command).parameters
    for name in RUN_COMMAND_ONE_X_KEYWORDS:
        assert params[name].kind is inspect.Parameter.KEYWORD_ONLY, name


@pytest.mark.timeout(30)
def test_host_output_one_x_protocols():
    """1.x item access and unpacking (issue 13, items 21 and 22)."""
    from pssh.output import HostOutput
    assert callable(HostOutput.__getitem__) and callable(HostOutput.__iter__)


@pytest.mark.timeout(30)
@pytest.mark.parametrize('name', sorted(SINGLE_METHODS))
def test_single_client_method(name):
    from pssh.clients.native import SSHClient
    assert_signature(getattr(SSHClient, name), SINGLE_METHODS[name])


@pytest.mark.timeout(30)
@pytest.mark.parametrize('name', SINGLE_METHODS_NAMED_ONLY)
def test_single_client_method_exists(name):
    from pssh.clients.native import SSHClient
    assert callable(getattr(SSHClient, name))


@pytest.mark.timeout(30)
def test_single_client_identities():
    from pssh.clients.native import SSHClient
    expected = [os.path.expanduser('~/.ssh/%s' % name)
                for name in ('id_rsa', 'id_dsa', 'identity', 'id_ecdsa', 'id_ed25519')]
    assert list(SSHClient.IDENTITIES) == expected


@pytest.mark.timeout(60)
def test_single_client_attributes(server, client_kwargs):
    """The documented attributes of a connected client (``server`` and
    ``client_kwargs`` come from tests/conftest.py)."""
    from pssh.clients.native import SSHClient
    with SSHClient(server.host, alias='the-alias', **client_kwargs) as client:
        missing = [name for name in SINGLE_ATTRIBUTES if not hasattr(client, name)]
        assert missing == []
        assert (client.host, client.user, client.port, client.alias) == (
            server.host, server.user, server.port, 'the-alias')
        assert client.session is not None and client.sock is not None


@pytest.mark.timeout(30)
def test_client_classes_and_bases():
    import pssh.clients
    from pssh.clients import native
    from pssh.clients.base.parallel import BaseParallelSSHClient
    from pssh.clients.base.single import BaseSSHClient
    assert pssh.clients.ParallelSSHClient is native.ParallelSSHClient
    assert pssh.clients.SSHClient is native.SSHClient
    assert native.ParallelSSHClient is native.parallel.ParallelSSHClient
    assert native.SSHClient is native.single.SSHClient
    assert issubclass(native.ParallelSSHClient, BaseParallelSSHClient)
    assert issubclass(native.SSHClient, BaseSSHClient)


@pytest.mark.timeout(30)
def test_poll_mixin():
    from pssh.clients.base.single import BaseSSHClient, PollMixIn
    from pssh.clients.native import SSHClient
    assert_signature(PollMixIn, POLL_MIXIN_INIT, is_method=False)
    for name, contract in POLL_MIXIN_METHODS.items():
        assert_signature(getattr(PollMixIn, name), contract)
    assert issubclass(BaseSSHClient, PollMixIn) and issubclass(SSHClient, PollMixIn)
    sock = object()
    assert PollMixIn(sock).sock is sock
    assert PollMixIn(sock=sock).sock is sock
    bare = PollMixIn()
    assert bare.sock is None
    # A bare instance has no session to wait on: the client classes implement these.
    with pytest.raises(NotImplementedError):
        bare.poll()
    with pytest.raises(NotImplementedError):
        bare.eagain(len, b'')
    with pytest.raises(NotImplementedError):
        bare.eagain_write(len, b'')
    for name in POLL_MIXIN_METHODS:
        assert getattr(SSHClient, name) is not getattr(PollMixIn, name), name


@pytest.mark.timeout(30)
def test_tunnel_server_and_local_forwarder():
    from gevent.server import StreamServer

    from pssh.clients.native.tunnel import LocalForwarder, TunnelServer
    assert issubclass(TunnelServer, StreamServer)
    assert_signature(TunnelServer, TUNNEL_SERVER_INIT, is_method=False)
    for name, contract in TUNNEL_SERVER_METHODS.items():
        assert_signature(getattr(TunnelServer, name), contract)
    assert isinstance(TunnelServer.listen_port, property)
    assert_signature(LocalForwarder, LOCAL_FORWARDER_INIT, is_method=False)
    for name, contract in LOCAL_FORWARDER_METHODS.items():
        assert_signature(getattr(LocalForwarder, name), contract)
    forwarder = LocalForwarder()
    assert hasattr(forwarder, 'out_q') and hasattr(forwarder, 'started')


# ---------------------------------------------------------------------------
# libssh clients


def _libssh():
    return importlib.import_module('pssh.clients.ssh')


@needs_libssh
@pytest.mark.timeout(30)
def test_libssh_parallel_client_constructor():
    assert_signature(_libssh().ParallelSSHClient, PARALLEL_INIT + LIBSSH_EXTRA_INIT,
                     is_method=False)


@needs_libssh
@pytest.mark.timeout(30)
def test_libssh_single_client_constructor():
    assert_signature(_libssh().SSHClient, SINGLE_INIT + LIBSSH_EXTRA_INIT, is_method=False)


@needs_libssh
@pytest.mark.timeout(30)
@pytest.mark.parametrize('name', sorted(PARALLEL_METHODS))
def test_libssh_parallel_client_method(name):
    assert_signature(getattr(_libssh().ParallelSSHClient, name), PARALLEL_METHODS[name])


@needs_libssh
@pytest.mark.timeout(30)
@pytest.mark.parametrize('name', sorted(SINGLE_METHODS))
def test_libssh_single_client_method(name):
    assert_signature(getattr(_libssh().SSHClient, name), SINGLE_METHODS[name])


@needs_libssh
@pytest.mark.timeout(30)
def test_libssh_client_bases_and_methods_named_only():
    from pssh.clients.base.parallel import BaseParallelSSHClient
    from pssh.clients.base.single import BaseSSHClient, PollMixIn
    libssh = _libssh()
    assert issubclass(libssh.ParallelSSHClient, BaseParallelSSHClient)
    assert issubclass(libssh.SSHClient, BaseSSHClient)
    assert issubclass(libssh.SSHClient, PollMixIn)
    for name in SINGLE_METHODS_NAMED_ONLY:
        assert callable(getattr(libssh.SSHClient, name)), name


# ---------------------------------------------------------------------------
# data types


@pytest.mark.timeout(30)
def test_host_output_constructor_and_attributes():
    from pssh.output import HostOutput
    assert_signature(HostOutput, HOST_OUTPUT_INIT, is_method=False)
    host_out = HostOutput('h', None, None, None)
    for name in HOST_OUTPUT_ATTRIBUTES:
        assert hasattr(host_out, name), name
    text = repr(host_out)
    for name in ('host', 'alias', 'exit_code', 'channel', 'exception', 'encoding',
                 'read_timeout', 'fully_qualified_command'):
        assert name in text, name


@pytest.mark.timeout(30)
def test_output_buffers_constructors():
    from pssh.output import BufferData, HostOutputBuffers
    assert_signature(HostOutputBuffers, [('stdout', REQUIRED), ('stderr', REQUIRED)],
                     is_method=False)
    assert_signature(BufferData, [('reader', REQUIRED), ('rw_buffer', REQUIRED)],
                     is_method=False)
    data = BufferData('reader', 'buffer')
    assert (data.reader, data.rw_buffer) == ('reader', 'buffer')
    buffers = HostOutputBuffers('out', 'err')
    assert (buffers.stdout, buffers.stderr) == ('out', 'err')


@pytest.mark.timeout(30)
def test_host_config_constructor_and_fields():
    from pssh.config import HostConfig
    assert_signature(HostConfig, HOST_CONFIG_INIT, is_method=False)
    config = HostConfig()
    for name, default in HOST_CONFIG_INIT:
        assert _same_default(getattr(config, name), default), (name, getattr(config, name))


@pytest.mark.timeout(30)
def test_host_config_takes_positional_arguments_as_its_signature_says():
    """The signature makes every field positional-or-keyword: calls must agree."""
    from pssh.config import HostConfig
    config = HostConfig('user1', 2222, 'pass', 'my_pkey.pem')
    assert (config.user, config.port, config.password, config.private_key) == (
        'user1', 2222, 'pass', 'my_pkey.pem')


@pytest.mark.timeout(30)
def test_concurrent_rw_buffer():
    from pssh.clients.reader import ConcurrentRWBuffer
    buffer = ConcurrentRWBuffer()
    buffer.write(b'abc')
    buffer.write(b'def')
    buffer.eof.set()
    assert b''.join(buffer) == b'abcdef'


# ---------------------------------------------------------------------------
# modules, names, constants, exceptions, utils


@pytest.mark.timeout(30)
@pytest.mark.parametrize('module_name', sorted(MODULE_NAMES))
def test_module_names(module_name):
    module = importlib.import_module(module_name)
    missing = [name for name in MODULE_NAMES[module_name] if not hasattr(module, name)]
    assert missing == []


@needs_libssh
@pytest.mark.timeout(30)
def test_libssh_module_names():
    libssh = _libssh()
    assert hasattr(libssh, 'ParallelSSHClient') and hasattr(libssh, 'SSHClient')


@pytest.mark.timeout(30)
def test_package_loggers():
    import pssh
    assert pssh.logger is logging.getLogger('pssh')
    assert pssh.host_logger is logging.getLogger('pssh.host_logger')
    for log in (pssh.logger, pssh.host_logger):
        assert sum(isinstance(h, logging.NullHandler) for h in log.handlers) == 1
    import pssh.utils
    assert pssh.utils.logger is pssh.logger
    assert pssh.utils.host_logger is pssh.host_logger
    assert isinstance(pssh.__version__, str)


@pytest.mark.timeout(30)
def test_constants():
    from pssh import constants
    assert constants.DEFAULT_RETRIES == 3 and type(constants.DEFAULT_RETRIES) is int
    assert constants.RETRY_DELAY == 5 and type(constants.RETRY_DELAY) is int


@pytest.mark.timeout(30)
@pytest.mark.parametrize('name', sorted(UTILS_FUNCTIONS))
def test_utils_functions(name):
    import pssh.utils
    assert_signature(getattr(pssh.utils, name), UTILS_FUNCTIONS[name], is_method=False)


@pytest.mark.timeout(30)
def test_exceptions():
    from pssh import exceptions
    for name in EXCEPTIONS:
        exc_class = getattr(exceptions, name)
        assert isinstance(exc_class, type) and issubclass(exc_class, Exception), name
        exc = exc_class('%s failed on %s', 'thing', 'host1')
        assert exc.args == ('%s failed on %s', 'thing', 'host1'), name
    assert issubclass(exceptions.SFTPIOError, exceptions.SFTPError)
    assert exceptions.ConnectionError is builtins.ConnectionError
    assert exceptions.ConnectionErrorException is builtins.ConnectionError
    for alias, name in EXCEPTION_ALIASES.items():
        assert getattr(exceptions, alias) is getattr(exceptions, name), alias


@pytest.mark.timeout(30)
def test_join_timeout_exception_takes_four_arguments():
    from pssh.exceptions import Timeout
    exc = Timeout('Timeout of %s sec(s) reached', 5, ['finished'], ['unfinished'])
    assert exc.args == ('Timeout of %s sec(s) reached', 5, ['finished'], ['unfinished'])
