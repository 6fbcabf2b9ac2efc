#!/usr/bin/env python3
"""Benchmark this checkout's ``pssh`` (both backends: ``ours`` = the native
clients on libssh2, ``ours-libssh`` = ``pssh.clients.ssh`` on libssh) against
parallel-ssh 2.16, asyncssh and the OpenSSH client, on local OpenSSH servers
that this script starts itself.

Usage::

    python3 benchmarks/run.py [--quick] [--only NAME[,NAME]] [--hosts 1,10,100,300]
                              [--clients ours,ours-libssh,...] [--reps N]
                              [--copy-mb MB] [--save]

Benchmarks (``--only`` names):

``echo``
    ``echo ok`` on 1, 10, 100, 300 hosts: connect, authenticate, run, read the
    output, exit code, disconnect, from a fresh client each time. Wall time
    and the client process's CPU time (user + sys) per host.
``host_order``
    50 hosts each printing 4 MB (40,000 lines of 100 bytes), read in host
    order with ``for host_out in output: for line in host_out.stdout`` right
    after ``run_command`` (no join first).
``big_output``
    One host printing 200 MB (2,000,000 lines), read line by line:
    throughput and the client's peak RSS, next to ``ssh HOST CMD | python3 -c
    'for l in sys.stdin: ...'``.
``copy_sftp``, ``copy_scp`` (``--only copy`` selects both)
    A 200 MB file of random bytes uploaded and downloaded over SFTP
    (``copy_file``/``copy_remote_file``) or SCP (``scp_send``/``scp_recv``),
    to/from 1 host (``SSHClient``) and 10 hosts (``ParallelSSHClient`` +
    ``gevent.joinall(greenlets, raise_error=True)``), next to OpenSSH's
    ``sftp -b`` (``put``/``get``) and ``scp -O`` (legacy SCP protocol; plain
    ``scp``, which speaks SFTP in OpenSSH 9, is shown on an extra row), one
    process per host. MB/s = total MB moved / wall time. The copied files are
    checked (size of every one, SHA-256 of one per measurement) and deleted.
``tunnel_echo``, ``tunnel_copy`` (``--only tunnel`` selects both)
    ``echo ok`` on 100 hosts through one bastion (``proxy_host``/``proxy_port``;
    server 0 is the bastion, the hosts are spread over the others) vs the same
    hosts directly; a 200 MB SFTP upload with ``SSHClient(...,
    proxy_host=...)`` vs directly, next to OpenSSH's ``sftp`` through the same
    bastion (``ProxyCommand`` = ``ssh -W %h:%p bastion``, as ``ProxyJump``
    runs it) vs plain ``sftp``. The echo part: ours (both backends) and
    parallel-ssh only.

The ``libssh/native`` column compares our two backends: ours-libssh / ours
for times, CPU and memory, ours / ours-libssh for MB/s, so that > 1 always
means the libssh backend is slower (or bigger).

Every measurement is a fresh worker process (see ``_worker_*.py``); the
median of ``--reps`` runs is shown. See README.md.
"""
import argparse
import hashlib
import json
import os
import platform
import shutil
import shlex
import signal
import statistics
import subprocess
import sys
import tempfile
import time

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(BENCH_DIR)
VENVS = os.path.join(BENCH_DIR, '.venvs')
RESULTS = os.path.join(BENCH_DIR, 'results')

sys.path.insert(0, REPO)
from pssh.testing import SSH_PATH, start_servers  # noqa: E402  (standard library only)

CLIENTS = ('ours', 'ours-libssh', 'ours-aio', 'parallel-ssh', 'asyncssh', 'openssh')
# This checkout's libssh backend (pssh.clients.ssh); 'ours' is the native one.
LIBSSH = 'ours-libssh'
# This checkout's asyncio clients (pssh.aio, native backend).
AIO = 'ours-aio'
OURS = ('ours', LIBSSH, AIO)
AIO_RATIO = 'aio/ours'
LIBSSH_RATIO = 'libssh/native'
# Measured like a client, shown in the openssh column of its own row: plain
# ``scp`` (no -O), which uses the SFTP protocol in OpenSSH >= 9.
OPENSSH_SCP_SFTP = 'openssh_scp_sftp'
SCENARIOS = ('echo', 'host_order', 'big_output', 'copy_sftp', 'copy_scp',
             'tunnel_echo', 'tunnel_copy')
DEFAULT_HOSTS = (1, 10, 100, 300)
QUICK_HOSTS = (10, 300)
LINE = 'x' * 99  # + newline = 100-byte lines
HOST_ORDER_HOSTS = 50
HOST_ORDER_BYTES = 4_000_000
BIG_BYTES = 200_000_000
COPY_MB = 200            # file copies, tunnel_copy (--copy-mb)
QUICK_COPY_MB = 20
COPY_HOSTS = (1, 10)
TUNNEL_HOSTS = 100
# All servers listen on 127.0.0.1. With ten hosts called "127.0.0.1",
# downloads named with the default suffix (local_file + '_' + host) would all
# go to one file; these spellings of 127.0.0.1 (inet_aton forms, resolved by
# getaddrinfo) give every host of the 10-host copies its own name.
HOST_ALIASES = ('127.0.0.1', '127.1', '127.0.1', '2130706433', '0x7f000001',
                '0x7f.1', '0177.1', '0177.0.0.1', '127.0.0.01', '0x7f.0.1')
SCP_PATH = os.path.join(os.path.dirname(SSH_PATH), 'scp')
DEFAULT_POOL_SIZE = 100  # the default of both pssh clients; asyncssh gets the same bound

PARALLEL_SSH_REQ = 'parallel-ssh==2.16.*'
PARALLEL_SSH_FALLBACK = 'parallel-ssh>=2,<3'
ASYNCSSH_REQ = 'asyncssh'


def log(msg=''):
    print(msg, file=sys.stderr, flush=True)


def output_command(nbytes):
    """Shell command printing ``nbytes`` bytes of 100-byte lines."""
    return 'yes %s | head -c %d' % (LINE, nbytes)


# --------------------------------------------------------------------------
# environments


def venv_python(name):
    return os.path.join(VENVS, name, 'bin', 'python')


def dist_versions(python, dists, env=None):
    code = ('import json, sys\n'
            'from importlib.metadata import version\n'
            'out = {}\n'
            'for d in sys.argv[1:]:\n'
            '    try:\n'
            '        out[d] = version(d)\n'
            '    except Exception:\n'
            '        out[d] = None\n'
            'print(json.dumps(out))\n')
    res = subprocess.run([python, '-c', code] + list(dists), capture_output=True,
                         text=True, env=env, cwd=BENCH_DIR, check=False)
    if res.returncode != 0:
        return {d: None for d in dists}
    return json.loads(res.stdout)


def ensure_venv(name, requirement, dist, fallback=None):
    """Create (or reuse) ``.venvs/NAME`` with ``requirement``; its python path."""
    python = venv_python(name)
    if os.path.exists(python) and dist_versions(python, [dist])[dist]:
        return python
    path = os.path.join(VENVS, name)
    log('creating venv %s with %s ...' % (path, requirement))
    res = subprocess.run([sys.executable, '-m', 'venv', '--clear', path],
                         capture_output=True, text=True, check=False)
    if res.returncode != 0:
        raise SystemExit('python -m venv failed for %s (is %s a Debian python without '
                         'ensurepip? use pyenv\'s python3):\n%s'
                         % (path, sys.executable, res.stderr))
    pip = [python, '-m', 'pip', 'install', '-q', '--disable-pip-version-check']
    res = subprocess.run(pip + [requirement], capture_output=True, text=True, check=False)
    if res.returncode != 0:
        if not fallback:
            raise SystemExit('pip install %s failed:\n%s' % (requirement, res.stderr))
        log('pip install %s failed; trying %s' % (requirement, fallback))
        res = subprocess.run(pip + [fallback], capture_output=True, text=True, check=False)
        if res.returncode != 0:
            raise SystemExit('pip install %s failed:\n%s' % (fallback, res.stderr))
        log('NOTE: using %s %s instead of %s'
            % (dist, dist_versions(python, [dist])[dist], requirement))
    return python


def git_revision():
    try:
        rev = subprocess.run(['git', 'rev-parse', '--short', 'HEAD'], cwd=REPO,
                             capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run(['git', 'status', '--porcelain', '--', 'pssh'], cwd=REPO,
                               capture_output=True, text=True, check=True).stdout.strip()
        return rev + ('+dirty' if dirty else '')
    except (OSError, subprocess.CalledProcessError):
        return '?'


def openssh_version():
    res = subprocess.run(['ssh', '-V'], capture_output=True, text=True, check=False)
    return (res.stderr or res.stdout).strip()


def environment(pythons):
    ours_env = dict(os.environ, PYTHONPATH=REPO)
    env = {
        'python': '%s (%s)' % (platform.python_version(), sys.executable),
        'platform': platform.platform(),
        'cpu_count': os.cpu_count(),
        'ours': dict(dist_versions(pythons['ours'], ['gevent', 'ssh2-python', 'ssh-python'],
                                   ours_env),
                     revision=git_revision()),
        'parallel-ssh': dist_versions(pythons['parallel-ssh'],
                                      ['parallel-ssh', 'gevent', 'ssh2-python', 'ssh-python'],
                                      clean_env()),
        'asyncssh': dist_versions(pythons['asyncssh'], ['asyncssh', 'cryptography'],
                                  clean_env()),
        'openssh': openssh_version(),
    }
    return env


def clean_env():
    env = dict(os.environ)
    env.pop('PYTHONPATH', None)
    return env


# --------------------------------------------------------------------------
# servers and workers


def server_children(servers):
    """Processes forked by the sshd listeners (live connection handlers)."""
    pids = {server.pid for server in servers if server.pid}
    found = []
    for entry in os.listdir('/proc'):
        if not entry.isdigit():
            continue
        try:
            with open('/proc/%s/stat' % entry, 'rb') as stat:
                data = stat.read()
        except OSError:
            continue
        fields = data[data.rfind(b')') + 2:].split()
        if len(fields) > 1 and fields[0] != b'Z' and int(fields[1]) in pids:
            found.append(int(entry))
    return found


def wait_servers_idle(servers, timeout=20.0):
    """Wait until the previous measurement's sshd sessions have exited, so
    that they do not take CPU from the next one."""
    deadline = time.monotonic() + timeout
    while server_children(servers) and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.2)


class Worker:
    """How to start the worker of one client."""

    def __init__(self, client, python, script, env, spec=None):
        self.client = client
        self.python = python
        self.script = os.path.join(BENCH_DIR, script)
        self.env = env
        self.spec = spec or {}  # fields added to every spec of this client


def run_worker(worker, spec, timeout):
    """Run one measurement; returns the worker's result dict, or a dict with
    ``error`` (and the worker's stderr)."""
    spec = dict(spec, timeout=timeout, **worker.spec)
    argv = [worker.python, worker.script, json.dumps(spec)]
    started = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=worker.env, cwd=BENCH_DIR, start_new_session=True)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill_group(proc)
        out, err = proc.communicate()
        return {'error': 'TIMEOUT after %.0f s' % timeout, 'stderr': _text(err),
                'stdout': _text(out), 'command': _shell_words(argv), 'spec': spec}
    except BaseException:
        _kill_group(proc)
        proc.communicate()
        raise
    finally:
        # ssh/reader processes of the openssh worker, if any survived it.
        if proc.returncode is not None:
            _kill_group(proc)
    elapsed = time.perf_counter() - started
    result = None
    for line in _text(out).splitlines():
        if line.startswith('RESULT '):
            result = json.loads(line[len('RESULT '):])
    if proc.returncode != 0 or result is None:
        return {'error': 'worker exited with status %s' % proc.returncode,
                'stderr': _text(err), 'stdout': _text(out),
                'command': _shell_words(argv), 'spec': spec}
    result['process_wall'] = elapsed
    if err.strip():
        result['stderr'] = _text(err)[-4000:]
    result['command'] = _shell_words(argv)
    return result


def _kill_group(proc):
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except OSError:
        pass


def _text(data):
    return (data or b'').decode(errors='replace')


def _shell_words(argv):
    import shlex
    return ' '.join(shlex.quote(a) for a in argv)


def validate(result, expect_lines, expect_bytes, client):
    if 'error' in result:
        return result
    problems = []
    if result['lines'] != expect_lines:
        problems.append('read %d lines, expected %d' % (result['lines'], expect_lines))
    if result['bytes'] != expect_bytes:
        problems.append('read %d bytes, expected %d' % (result['bytes'], expect_bytes))
    if not result['exit_codes_ok']:
        problems.append('exit codes not all 0: %s' % result['exit_codes_sample'])
    module = result.get('module', '')
    if client in OURS and not module.startswith(os.path.join(REPO, 'pssh')):
        problems.append('imported pssh from %s, not this checkout' % module)
    if client in OURS:
        # ours = pssh.clients (native, libssh2); ours-libssh = pssh.clients.ssh
        package = 'pssh.clients.ssh.' if client == LIBSSH else 'pssh.clients.native.'
        for field in ('client_module', 'single_module'):
            if not result.get(field, '').startswith(package):
                problems.append('%s is %s, expected %s*' % (field, result.get(field), package))
    if client == 'parallel-ssh' and not module.startswith(VENVS):
        problems.append('imported pssh from %s, not the parallel-ssh venv' % module)
    if problems:
        result = dict(result, error='; '.join(problems))
    return result


# --------------------------------------------------------------------------
# plan


class Context:
    """What a case needs to build a worker's spec: the servers, the spec
    fields common to all workers, the environment and the files to copy."""

    def __init__(self, servers, base, env, files=None):
        self.servers = servers
        self.base = base
        self.env = env
        self.files = files


class Files:
    """The temporary directory of the copy benchmarks: ``src.bin`` (random
    bytes, made once), ``remote/`` (where uploads go: all servers run on this
    machine, so remote paths are local paths) and ``local/`` (where downloads
    go). ``remote/`` and ``local/`` are emptied after every measurement."""

    def __init__(self, parent, size):
        self.dir = tempfile.mkdtemp(prefix='pssh-bench-files-', dir=parent)
        self.size = size
        self.src = os.path.join(self.dir, 'src.bin')
        self.remote_dir = os.path.join(self.dir, 'remote')
        self.local_dir = os.path.join(self.dir, 'local')
        digest = hashlib.sha256()
        chunk = 1 << 20
        with open(self.src, 'wb') as out:
            left = size
            while left > 0:
                data = os.urandom(min(chunk, left))
                digest.update(data)
                out.write(data)
                left -= len(data)
        self.sha256 = digest.hexdigest()

    def reset(self):
        self.clear()
        os.makedirs(self.remote_dir)
        os.makedirs(self.local_dir)

    def clear(self):
        for path in (self.remote_dir, self.local_dir):
            shutil.rmtree(path, ignore_errors=True)

    def remove(self):
        shutil.rmtree(self.dir, ignore_errors=True)


def file_sha256(path):
    digest = hashlib.sha256()
    with open(path, 'rb') as data:
        for block in iter(lambda: data.read(4 << 20), b''):
            digest.update(block)
    return digest.hexdigest()


class Case:
    """One benchmark row group: a command on ``hosts`` hosts (``run`` mode
    of the workers)."""

    phases = True  # show it in the run_command block under the table

    def __init__(self, scenario, label, hosts, command, expect_lines, expect_bytes,
                 clients, timeout, key=None):
        self.scenario = scenario
        self.label = label
        self.hosts = hosts
        self.command = command
        self.expect_lines = expect_lines
        self.expect_bytes = expect_bytes
        self.clients = clients
        self.timeout = timeout
        self._key = key
        self.samples = {client: [] for client in clients}

    @property
    def key(self):
        return self._key or '%s/%d' % (self.scenario, self.hosts)

    def make_spec(self, client, ctx, rep):
        spec = dict(ctx.base, hosts=self.hosts, command=self.command)
        if client == 'openssh':
            spec['ssh_argv'] = ctx.servers[0].ssh_command(self.command)
            spec['openssh_version'] = ctx.env['openssh'].split(',')[0]
        return spec

    def check(self, client, result, rep, ctx):
        """Checks beyond the line and byte counts; the result, maybe with an
        ``error``."""
        return result


class TunnelEchoCase(Case):
    """``echo ok`` on ``hosts`` hosts spread over servers 1..N-1, directly or
    through server 0 as the bastion."""

    def __init__(self, hosts, via_bastion, clients, timeout):
        label = 'echo ok, %d hosts, %s' % (hosts, 'via bastion' if via_bastion else 'direct')
        super().__init__('tunnel_echo', label, hosts, 'echo ok', hosts, 3 * hosts, clients,
                         timeout, key='tunnel_echo/%d/%s' % (
                             hosts, 'bastion' if via_bastion else 'direct'))
        self.via_bastion = via_bastion
        self.direct = None  # the direct case, for a bastion case

    def make_spec(self, client, ctx, rep):
        spec = dict(ctx.base, hosts=self.hosts, command=self.command,
                    ports=list(ctx.base['ports'][1:]))
        if self.via_bastion:
            spec['proxy_port'] = ctx.base['ports'][0]
        return spec


class CopyCase(Case):
    """Upload or download of the copy file to/from ``hosts`` hosts over SFTP or
    SCP. The hosts are servers ``offset``, ``offset + 1``, ... (mod the
    number of servers); with ``via_bastion`` they are reached through server 0.
    """

    phases = False

    def __init__(self, scenario, direction, protocol, hosts, size, clients, timeout,
                 offset=0, via_bastion=False, label=None, key=None):
        if hosts > 1 and hosts > len(HOST_ALIASES):
            raise SystemExit('at most %d hosts for copies' % len(HOST_ALIASES))
        if label is None:
            label = '%s %s %d MB%s' % (
                protocol.upper(), direction, size // 1_000_000,
                ', 1 host' if hosts == 1 else ' x %d hosts' % hosts)
        super().__init__(scenario, label, hosts, None, 0, size * hosts, clients, timeout,
                         key=key or '%s/%d/%s-%s' % (scenario, hosts, direction, protocol))
        self.direction = direction
        self.protocol = protocol
        self.offset = offset
        self.via_bastion = via_bastion
        self.direct = None
        self._expected = []

    def _hosts(self, ctx):
        """(name, server) of each host."""
        n_servers = len(ctx.servers)
        names = ['127.0.0.1'] if self.hosts == 1 else list(HOST_ALIASES[:self.hosts])
        return [(name, ctx.servers[(self.offset + i) % n_servers])
                for i, name in enumerate(names)]

    def make_spec(self, client, ctx, rep):
        files = ctx.files
        files.reset()
        hosts = self._hosts(ctx)
        n = len(hosts)
        upload = self.direction == 'upload'
        sftp = self.protocol == 'sftp'
        spec = dict(ctx.base, mode='copy', hosts=n, copy_bytes=self.expect_bytes)
        if self.via_bastion:
            spec['proxy_port'] = ctx.servers[0].port
        if client in ('openssh', OPENSSH_SCP_SFTP):
            procs = []
            self._expected = []
            for i, (_name, server) in enumerate(hosts):
                if upload:
                    src, dest = files.src, os.path.join(files.remote_dir, 'up_%d.bin' % i)
                else:
                    src = files.src
                    dest = os.path.join(files.local_dir, 'dl.bin' if n == 1 else 'dl_%d' % i)
                self._expected.append(dest)
                user_host = '%s@%s' % (server.user, server.host)
                if sftp:
                    extra = []
                    if self.via_bastion:
                        # OpenSSH's own way through a jump host (what ProxyJump
                        # runs): a second ssh, to the bastion, forwarding stdio.
                        jump = ctx.servers[0].ssh_command(extra_args=['-W', '%h:%p'])
                        extra = ['-o', 'ProxyCommand=' + ' '.join(map(shlex.quote, jump))]
                    procs.append({'argv': server.sftp_command('-', extra_args=extra),
                                  'stdin': '%s %s %s\n' % ('put' if upload else 'get',
                                                           src, dest)})
                else:
                    argv = [SCP_PATH] + (['-O'] if client == 'openssh' else []) + ['-q']
                    argv += server.ssh_options() + ['-P', str(server.port)]
                    argv += ([src, '%s:%s' % (user_host, dest)] if upload
                             else ['%s:%s' % (user_host, src), dest])
                    procs.append({'argv': argv})
            spec.update(procs=procs, openssh_version=ctx.env['openssh'].split(',')[0])
            return spec
        # ours and parallel-ssh
        names = [name for name, _server in hosts]
        spec.update(host_names=names, host_ports=[server.port for _name, server in hosts],
                    single=n == 1)
        kwargs = {}
        if upload:
            api = 'copy_file' if sftp else 'scp_send'
            self._expected = [os.path.join(files.remote_dir, 'up_%d.bin' % i)
                              for i in range(n)]
            if n == 1:
                args = [files.src, self._expected[0]]
            elif sftp:
                # host i: local_file % copy_args[i] -> remote_file % copy_args[i]
                args = [files.src, os.path.join(files.remote_dir, 'up_%(i)d.bin')]
                kwargs['copy_args'] = [{'i': i} for i in range(n)]
            else:
                args = [files.src, os.path.join(files.remote_dir, 'up.bin')]
                kwargs['copy_args'] = [{'local_file': files.src, 'remote_file': dest}
                                       for dest in self._expected]
        else:
            api = 'copy_remote_file' if sftp else 'scp_recv'
            if n == 1:
                local = os.path.join(files.local_dir, 'dl.bin')
                self._expected = [local]
            else:
                # default naming: local_file + '_' + host
                local = os.path.join(files.local_dir, 'dl')
                self._expected = [local + '_' + name for name in names]
            args = [files.src, local]
        spec.update(api=api, args=args, kwargs=kwargs)
        return spec

    def check(self, client, result, rep, ctx):
        files = ctx.files
        try:
            if 'error' in result:
                return result
            problems = []
            for path in self._expected:
                try:
                    size = os.path.getsize(path)
                except OSError:
                    problems.append('%s missing' % os.path.basename(path))
                    continue
                if size != files.size:
                    problems.append('%s has %d bytes, expected %d'
                                    % (os.path.basename(path), size, files.size))
            if problems:
                return dict(result, error='; '.join(problems[:5]))
            # One file per measurement (a different host each repetition) is
            # compared byte for byte, through its SHA-256.
            path = self._expected[rep % len(self._expected)]
            if file_sha256(path) != files.sha256:
                return dict(result, error='SHA-256 of %s differs from the source'
                            % os.path.basename(path))
            return dict(result, verified='%d file(s) of %d bytes, SHA-256 of %s ok'
                        % (len(self._expected), files.size, os.path.basename(path)))
        finally:
            files.clear()


def plan(args):
    cases = []
    libs = ('ours', LIBSSH, AIO, 'parallel-ssh', 'asyncssh')
    if 'echo' in args.only:
        for n in args.hosts:
            cases.append(Case('echo', 'echo ok, %d host%s' % (n, 's' if n > 1 else ''), n,
                              'echo ok', n, 3 * n, libs, timeout=180))
    if 'host_order' in args.only:
        n = HOST_ORDER_HOSTS
        cases.append(Case('host_order', '%d hosts x 4 MB, host order' % n, n,
                          output_command(HOST_ORDER_BYTES),
                          n * HOST_ORDER_BYTES // 100, n * HOST_ORDER_BYTES, libs,
                          timeout=300))
    if 'big_output' in args.only:
        cases.append(Case('big_output', '1 host x 200 MB, lines', 1,
                          output_command(BIG_BYTES), BIG_BYTES // 100, BIG_BYTES,
                          libs + ('openssh',), timeout=600))
    size = args.copy_mb * 1_000_000
    for protocol in ('sftp', 'scp'):
        scenario = 'copy_' + protocol
        if scenario not in args.only:
            continue
        clients = ('ours', LIBSSH, 'parallel-ssh', 'openssh')
        if protocol == 'scp':
            clients += (OPENSSH_SCP_SFTP,)
        for n in COPY_HOSTS:
            # parallel-ssh moves 10 x 200 MB at 15-30 MB/s here
            timeout = max(60, 0.9 * args.copy_mb) if n == 1 else max(120, 2.25 * args.copy_mb)
            for direction in ('upload', 'download'):
                cases.append(CopyCase(scenario, direction, protocol, n, size, clients,
                                      timeout))
    tunnel_clients = ('ours', LIBSSH, 'parallel-ssh')
    if {'tunnel_echo', 'tunnel_copy'} & args.only and args.servers < 2:
        log('NOTE: the tunnel benchmarks need --servers >= 2; skipped')
    elif 'tunnel_echo' in args.only or 'tunnel_copy' in args.only:
        if 'tunnel_echo' in args.only:
            direct = TunnelEchoCase(TUNNEL_HOSTS, False, tunnel_clients, timeout=180)
            bastion = TunnelEchoCase(TUNNEL_HOSTS, True, tunnel_clients, timeout=180)
            bastion.direct = direct
            cases += [direct, bastion]
        if 'tunnel_copy' in args.only:
            timeout = max(60, 1.2 * args.copy_mb)
            label = 'SFTP upload %d MB, 1 host, ' % args.copy_mb
            tunnel_clients += ('openssh',)
            direct = CopyCase('tunnel_copy', 'upload', 'sftp', 1, size, tunnel_clients,
                              timeout, offset=1, label=label + 'direct',
                              key='tunnel_copy/direct')
            bastion = CopyCase('tunnel_copy', 'upload', 'sftp', 1, size, tunnel_clients,
                               timeout, offset=1, via_bastion=True,
                               label=label + 'via bastion', key='tunnel_copy/bastion')
            bastion.direct = direct
            cases += [direct, bastion]
    return cases


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--quick', action='store_true',
                        help='1 repetition, echo on %s hosts only, %d MB copies'
                        % (','.join(map(str, QUICK_HOSTS)), QUICK_COPY_MB))
    parser.add_argument('--only', default=','.join(SCENARIOS),
                        help='comma-separated benchmarks: %s (a prefix selects every '
                        'benchmark it starts: copy, tunnel)' % ', '.join(SCENARIOS))
    parser.add_argument('--hosts', default=None,
                        help='host counts of the echo benchmark (default %s)'
                        % ','.join(map(str, DEFAULT_HOSTS)))
    parser.add_argument('--reps', type=int, default=None,
                        help='repetitions of each measurement; the median is shown '
                        '(default 3, --quick 1)')
    parser.add_argument('--clients', default=','.join(CLIENTS),
                        help='clients to measure, of %s (default: all); ours is this '
                        'checkout\'s native backend (pssh.clients, libssh2), %s its '
                        'libssh backend (pssh.clients.ssh)' % (', '.join(CLIENTS), LIBSSH))
    parser.add_argument('--servers', type=int, default=10,
                        help='sshd servers to spread the hosts over (default 10)')
    parser.add_argument('--pool-size', type=int, default=None,
                        help='concurrency bound of every client (default: the pssh '
                        'clients\' own default, %d, also used for asyncssh)'
                        % DEFAULT_POOL_SIZE)
    parser.add_argument('--slow', type=float, default=60.0,
                        help='a client whose first run of a benchmark took longer than '
                        'this many seconds is not repeated (default 60)')
    parser.add_argument('--copy-mb', type=int, default=None,
                        help='size of the copied file in MB (default %d, --quick %d)'
                        % (COPY_MB, QUICK_COPY_MB))
    parser.add_argument('--tmpdir', default=None,
                        help='parent directory of the copy benchmarks\' files (default: '
                        'the system temporary directory)')
    parser.add_argument('--save', nargs='?', const=os.path.join(RESULTS, 'latest.json'),
                        default=None, metavar='PATH',
                        help='also write the results to PATH (default '
                        'benchmarks/results/latest.json)')
    args = parser.parse_args(argv)
    only = set()
    for name in args.only.split(','):
        name = name.strip().replace('-', '_')
        matches = [s for s in SCENARIOS if s == name] or \
            [s for s in SCENARIOS if name and s.startswith(name)]
        if not matches:
            parser.error('unknown benchmark %r (choose from %s)' % (name, ', '.join(SCENARIOS)))
        only.update(matches)
    args.only = only
    if args.hosts:
        args.hosts = [int(h) for h in args.hosts.split(',') if h.strip()]
    else:
        args.hosts = list(QUICK_HOSTS if args.quick else DEFAULT_HOSTS)
    if args.reps is None:
        args.reps = 1 if args.quick else 3
    if args.copy_mb is None:
        args.copy_mb = QUICK_COPY_MB if args.quick else COPY_MB
    if args.copy_mb < 1:
        parser.error('--copy-mb must be at least 1')
    args.clients = [c.strip() for c in args.clients.split(',') if c.strip()]
    for client in args.clients:
        if client not in CLIENTS:
            parser.error('unknown client %r (choose from %s)' % (client, ', '.join(CLIENTS)))
    return args


# --------------------------------------------------------------------------
# results


def median_of(samples, field):
    values = [s[field] for s in samples if 'error' not in s and s.get(field) is not None]
    return statistics.median(values) if values else None


def summarize(case, client):
    samples = case.samples.get(client)
    if not samples:
        return None
    good = [s for s in samples if 'error' not in s]
    if not good:
        return {'error': samples[-1]['error']}
    summary = {
        'wall': median_of(good, 'wall'),
        'cpu': median_of(good, 'cpu'),
        'maxrss_mb': median_of(good, 'maxrss_kb') / 1024.0,
        'mb_per_s': statistics.median(s['bytes'] / s['wall'] / 1e6 for s in good),
        'samples': len(good),
        'failed': len(samples) - len(good),
    }
    summary['cpu_per_host_ms'] = summary['cpu'] / case.hosts * 1000.0
    return summary


class Row:
    def __init__(self, label, metric, field, lower_is_better, fmt, targets=(),
                 column_client=None, values=None):
        self.label = label
        self.metric = metric
        self.field = field
        self.lower_is_better = lower_is_better
        self.fmt = fmt
        self.targets = targets  # (text, check(values, ratios) -> bool or None)
        # column -> whose samples fill it (e.g. openssh -> plain scp)
        self.column_client = column_client or {}
        # Precomputed per-client values (a derived row: no ratio columns).
        self.values = values


def ratio(values, a, b):
    if values.get(a) is None or values.get(b) is None or values[b] == 0:
        return None
    return values[a] / values[b]


def libssh_ratio(row, values):
    """The ``libssh/native`` column: > 1 means the libssh backend is slower
    (bigger): ours-libssh / ours for times, CPU and memory, ours / ours-libssh
    for MB/s. None on derived rows (bastion/direct)."""
    if row.values is not None:
        return None
    if row.lower_is_better:
        return ratio(values, LIBSSH, 'ours')
    return ratio(values, 'ours', LIBSSH)


def pair_ratios(case, field, summaries):
    """Per client: ``field`` of ``case`` (via the bastion) / ``field`` of
    ``case.direct``."""
    values = {}
    for client in case.clients:
        via = summaries.get((case.key, client))
        direct = summaries.get((case.direct.key, client))
        if via and direct and 'error' not in via and 'error' not in direct \
                and direct[field]:
            values[client] = via[field] / direct[field]
    return values


def build_rows(cases, summaries):
    rows = []
    for case in cases:
        if case.scenario in ('copy_sftp', 'copy_scp'):
            targets_mbps = (
                ('ours/openssh >= 1.00', lambda v, r: _cmp(r.get('openssh'), 1.0, ge=True)),
                ('ours/pssh >= 1.50', lambda v, r: _cmp(r.get('parallel-ssh'), 1.5, ge=True)),
            )
            rows.append((case, Row(case.label, 'MB/s', 'mb_per_s', False, '%.1f',
                                   targets_mbps)))
            if OPENSSH_SCP_SFTP in case.clients:
                rows.append((case, Row(case.label, 'MB/s, openssh = scp w/o -O', 'mb_per_s',
                                       False, '%.1f',
                                       column_client={'openssh': OPENSSH_SCP_SFTP})))
            rows.append((case, Row(case.label, 'CPU s', 'cpu', True, '%.3f')))
            continue
        if case.scenario == 'tunnel_echo':
            rows.append((case, Row(case.label, 'wall s', 'wall', True, '%.3f')))
            rows.append((case, Row(case.label, 'CPU ms/host', 'cpu_per_host_ms', True,
                                   '%.2f')))
            if case.direct is not None:
                rows.append((case, Row(
                    'echo ok, %d hosts' % case.hosts, 'bastion/direct wall', 'wall', True,
                    '%.2f', (('ours <= 1.50',
                              lambda v, r: _cmp(v.get('ours'), 1.5)),),
                    values=pair_ratios(case, 'wall', summaries))))
            continue
        if case.scenario == 'tunnel_copy':
            rows.append((case, Row(case.label, 'MB/s', 'mb_per_s', False, '%.1f')))
            rows.append((case, Row(case.label, 'CPU s', 'cpu', True, '%.3f')))
            if case.direct is not None:
                rows.append((case, Row(
                    case.label.rsplit(', ', 1)[0], 'bastion/direct MB/s', 'mb_per_s',
                    False, '%.2f', (('ours >= 0.70',
                                     lambda v, r: _cmp(v.get('ours'), 0.7, ge=True)),),
                    values=pair_ratios(case, 'mb_per_s', summaries))))
            continue
        targets_wall = ()
        targets_cpu = ()
        targets_mbps = ()
        targets_rss = ()
        if case.scenario == 'echo':
            if case.hosts == 300:
                targets_wall = (
                    ('ours/pssh <= 0.50', lambda v, r: _cmp(r.get('parallel-ssh'), 0.5)),
                    ('ours/async <= 1.00', lambda v, r: _cmp(r.get('asyncssh'), 1.0)),
                    ('libssh/native <= 1.30', lambda v, r: _cmp(r.get(LIBSSH_RATIO), 1.3)),
                    ('aio/ours <= 1.10', lambda v, r: _cmp(r.get(AIO_RATIO), 1.1)),
                    ('aio/async <= 1.00', lambda v, r: _cmp(ratio(v, AIO, 'asyncssh'), 1.0)),
                )
            targets_cpu = (('ours/pssh < 1.00',
                            lambda v, r: _cmp(r.get('parallel-ssh'), 1.0, strict=True)),
                           ('aio/ours <= 1.30', lambda v, r: _cmp(r.get(AIO_RATIO), 1.3)))
            rows.append((case, Row(case.label, 'wall s', 'wall', True, '%.3f', targets_wall)))
            rows.append((case, Row(case.label, 'CPU ms/host', 'cpu_per_host_ms', True,
                                   '%.2f', targets_cpu)))
        elif case.scenario == 'host_order':
            targets_wall = (('ours < 3 s', lambda v, r: _cmp(v.get('ours'), 3.0, strict=True)),)
            rows.append((case, Row(case.label, 'wall s', 'wall', True, '%.3f', targets_wall)))
            rows.append((case, Row(case.label, 'CPU s', 'cpu', True, '%.3f')))
            rows.append((case, Row(case.label, 'max RSS MB', 'maxrss_mb', True, '%.1f')))
        elif case.scenario == 'big_output':
            limit = BIG_BYTES / 4 / 1e6
            targets_mbps = (
                ('ours/pssh >= 4.00', lambda v, r: _cmp(r.get('parallel-ssh'), 4.0, ge=True)),
                ('ours/openssh >= 1.00', lambda v, r: _cmp(r.get('openssh'), 1.0, ge=True)),
                ('aio/ours >= 0.80', lambda v, r: _cmp(r.get(AIO_RATIO), 0.8, ge=True)),
                ('aio/async >= 3.00',
                 lambda v, r: _cmp(ratio(v, AIO, 'asyncssh'), 3.0, ge=True)),
            )
            targets_rss = (('ours < %.0f MB (1/4 of output)' % limit,
                            lambda v, r: _cmp(v.get('ours'), limit, strict=True)),)
            rows.append((case, Row(case.label, 'MB/s', 'mb_per_s', False, '%.1f',
                                   targets_mbps)))
            rows.append((case, Row(case.label, 'wall s', 'wall', True, '%.3f')))
            rows.append((case, Row(case.label, 'CPU s', 'cpu', True, '%.3f')))
            rows.append((case, Row(case.label, 'max RSS MB', 'maxrss_mb', True, '%.1f',
                                   targets_rss)))
    return rows


def _cmp(value, limit, strict=False, ge=False):
    if value is None:
        return None
    if ge:
        return value >= limit
    return value < limit if strict else value <= limit


def render_table(cases, clients):
    header = ['benchmark', 'metric'] + list(clients)
    others = [c for c in ('parallel-ssh', 'asyncssh', 'openssh') if c in clients]
    if 'ours' in clients:
        header += ['ours/%s' % {'parallel-ssh': 'pssh', 'asyncssh': 'async'}.get(c, c)
                   for c in others]
    both_backends = 'ours' in clients and LIBSSH in clients
    if both_backends:
        header.append(LIBSSH_RATIO)
    with_aio = 'ours' in clients and AIO in clients
    if with_aio:
        header.append(AIO_RATIO)
    header.append('target')
    table = [header]
    summaries = {(case.key, client): summarize(case, client)
                 for case in cases for client in case.clients}
    for case, row in build_rows(cases, summaries):
        values = {}
        cells = [row.label, row.metric]
        for client in clients:
            if row.values is not None:
                if client in row.values:
                    values[client] = row.values[client]
                    cells.append(row.fmt % values[client])
                else:
                    cells.append('-')
                continue
            summary = summaries.get((case.key, row.column_client.get(client, client)))
            if summary is None:
                cells.append('-')
            elif 'error' in summary:
                cells.append('ERROR')
            else:
                values[client] = summary[row.field]
                cell = row.fmt % values[client]
                if summary['failed']:
                    cell += '*'
                cells.append(cell)
        ratios = {}
        if 'ours' in clients:
            for other in others:
                ratios[other] = None if row.values is not None else ratio(values, 'ours', other)
                cells.append('%.2f' % ratios[other] if ratios[other] is not None else '-')
        if both_backends:
            ratios[LIBSSH_RATIO] = libssh_ratio(row, values)
            cells.append('%.2f' % ratios[LIBSSH_RATIO]
                         if ratios[LIBSSH_RATIO] is not None else '-')
        if with_aio:
            # Like ours/...: aio / ours for times and CPU, MB/s likewise (> 1 is faster).
            ratios[AIO_RATIO] = None if row.values is not None else ratio(values, AIO, 'ours')
            cells.append('%.2f' % ratios[AIO_RATIO] if ratios[AIO_RATIO] is not None else '-')
        target_texts = []
        for text, check in row.targets:
            ok = check(values, ratios)
            target_texts.append('%s %s' % (text, {True: 'ok', False: 'MISS', None: '?'}[ok]))
        cells.append('; '.join(target_texts))
        table.append(cells)
    widths = [max(len(r[i]) for r in table) for i in range(len(header))]
    lines = []
    for index, cells in enumerate(table):
        parts = []
        for i, cell in enumerate(cells):
            if i < 2 or i == len(cells) - 1:
                parts.append(cell.ljust(widths[i]))
            else:
                parts.append(cell.rjust(widths[i]))
        lines.append('  '.join(parts).rstrip())
        if index == 0:
            lines.append('  '.join('-' * w for w in widths))
    return '\n'.join(lines), summaries


def render_phases(cases, clients):
    """Median time at which run_command returned (all hosts connected and
    started), next to the total."""
    lines = ['time until run_command returned / total wall (median, s; n = runs):']
    for case in cases:
        if not case.phases:
            continue
        parts = []
        for client in clients:
            if client == 'openssh' or client not in case.samples:
                continue
            good = [s for s in case.samples[client] if 'error' not in s]
            if not good:
                continue
            rc = statistics.median(s['marks'].get('run_command', 0) for s in good)
            parts.append('%s %.3f/%.3f (n=%d)' % (
                client, rc, statistics.median(s['wall'] for s in good), len(good)))
        if parts:
            lines.append('  %-32s %s' % (case.label, '   '.join(parts)))
    return '\n'.join(lines)


def print_env(env, args, n_servers):
    print('pssh benchmark  %s' % time.strftime('%Y-%m-%d %H:%M:%S'))
    print('  python       %s' % env['python'])
    print('  platform     %s, %s CPUs' % (env['platform'], env['cpu_count']))
    ours = env['ours']
    print('  ours         checkout %s: gevent %s, ssh2-python %s (pssh.clients, libssh2)'
          % (ours['revision'], ours['gevent'], ours['ssh2-python']))
    print('  ours-libssh  the same checkout, pssh.clients.ssh: ssh-python %s (libssh)'
          % ours.get('ssh-python'))
    pssh = env['parallel-ssh']
    print('  parallel-ssh %s: gevent %s, ssh2-python %s, ssh-python %s'
          % (pssh['parallel-ssh'], pssh['gevent'], pssh['ssh2-python'], pssh['ssh-python']))
    asy = env['asyncssh']
    print('  asyncssh     %s: cryptography %s' % (asy['asyncssh'], asy['cryptography']))
    print('  openssh      %s' % env['openssh'])
    print('  servers      %d x sshd on 127.0.0.1 (hosts spread round-robin), ed25519 user key'
          % n_servers)
    print('  settings     %d repetition(s), median shown (a run longer than %.0f s is not '
          'repeated);' % (args.reps, args.slow))
    print('               pool_size %s for every client'
          % (args.pool_size or '%d (default)' % DEFAULT_POOL_SIZE))
    if {'copy_sftp', 'copy_scp', 'tunnel_copy'} & args.only:
        print('  copies       %d MB of random bytes in %s; openssh = sftp -b / scp -O,'
              % (args.copy_mb, args.tmpdir or tempfile.gettempdir()))
        print('               one process per host; the 10 hosts are named (all 127.0.0.1, so')
        print('               that downloads get distinct default suffix names):')
        print('               %s' % ' '.join(HOST_ALIASES))
    if {'tunnel_echo', 'tunnel_copy'} & args.only:
        print('  tunnels      bastion = server 0, targets = servers 1..%d' % (n_servers - 1))
    if 'ours' in args.clients and LIBSSH in args.clients:
        print('  ratio        %s = ours-libssh / ours for wall, CPU and RSS rows,'
              % LIBSSH_RATIO)
        print('               ours / ours-libssh for MB/s rows: > 1 means the libssh backend')
        print('               is slower (bigger) than the native one')
    print()


# --------------------------------------------------------------------------


def main(argv=None):
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    pythons = {'ours': sys.executable, LIBSSH: sys.executable, AIO: sys.executable,
               'openssh': sys.executable}
    # Both venvs are made even when their client is not measured: the header
    # shows their versions.
    pythons['parallel-ssh'] = ensure_venv('parallel-ssh', PARALLEL_SSH_REQ,
                                          'parallel-ssh', PARALLEL_SSH_FALLBACK)
    pythons['asyncssh'] = ensure_venv('asyncssh', ASYNCSSH_REQ, 'asyncssh')
    env = environment(pythons)
    if not (env['ours'].get('gevent') and env['ours'].get('ssh2-python')):
        raise SystemExit('%s lacks gevent or ssh2-python: run with the project\'s python'
                         % sys.executable)
    if LIBSSH in args.clients and not env['ours'].get('ssh-python'):
        raise SystemExit('%s lacks ssh-python, needed by %s (pssh.clients.ssh): run with '
                         'the project\'s python or leave %s out of --clients'
                         % (sys.executable, LIBSSH, LIBSSH))
    if env['parallel-ssh']['parallel-ssh'] and not env['parallel-ssh']['parallel-ssh'] \
            .startswith('2.16'):
        log('NOTE: parallel-ssh 2.16 not available, using %s'
            % env['parallel-ssh']['parallel-ssh'])

    workers = {
        'ours': Worker('ours', pythons['ours'], '_worker_pssh.py',
                       dict(os.environ, PYTHONPATH=REPO)),
        # Same worker, importing from pssh.clients.ssh instead of pssh.clients.
        LIBSSH: Worker(LIBSSH, pythons[LIBSSH], '_worker_pssh.py',
                       dict(os.environ, PYTHONPATH=REPO), spec={'backend': 'libssh'}),
        # pssh.aio: the same core, driven from asyncio.
        AIO: Worker(AIO, pythons[AIO], '_worker_aio.py', dict(os.environ, PYTHONPATH=REPO)),
        'parallel-ssh': Worker('parallel-ssh', pythons['parallel-ssh'], '_worker_pssh.py',
                               clean_env()),
        'asyncssh': Worker('asyncssh', pythons['asyncssh'], '_worker_asyncssh.py',
                           clean_env()),
        'openssh': Worker('openssh', pythons['openssh'], '_worker_openssh.py', clean_env()),
    }

    workers[OPENSSH_SCP_SFTP] = workers['openssh']

    cases = plan(args)
    for case in cases:
        case.clients = tuple(c for c in case.clients if c in args.clients or (
            c == OPENSSH_SCP_SFTP and 'openssh' in args.clients))
        case.samples = {c: [] for c in case.clients}
    cases = [case for case in cases if case.clients]
    columns = [c for c in args.clients if any(c in case.clients for case in cases)]
    print_env(env, args, args.servers)

    servers = None
    files = None
    started = time.monotonic()
    try:
        if any(isinstance(case, CopyCase) for case in cases):
            log('writing %d MB of random bytes ...' % args.copy_mb)
            files = Files(args.tmpdir, args.copy_mb * 1_000_000)
        log('starting %d sshd servers ...' % args.servers)
        servers = start_servers(args.servers)
        base = {'address': '127.0.0.1', 'ports': list(servers.ports),
                'user': servers.user, 'key': servers.user_key,
                'pool_size': args.pool_size}
        ctx = Context(servers, base, env, files)

        # Warm-up (not measured): page cache, first sshd forks, key loading.
        for client in args.clients:
            if client == 'openssh':
                continue
            res = run_worker(workers[client], dict(base, hosts=1, command='echo ok'), 60)
            res = validate(res, 1, 3, client)
            if 'error' in res:
                log('warm-up of %s failed: %s\n%s' % (client, res['error'],
                                                      res.get('stderr', '')[-3000:]))
            wait_servers_idle(servers)

        for case in cases:
            for rep in range(args.reps):
                order = list(case.clients)
                shift = rep % len(order)
                order = order[shift:] + order[:shift]
                for client in order:
                    first = case.samples[client][:1]
                    if first and first[0].get('wall', 0) > args.slow:
                        log('[%5.0fs] %-32s rep %d/%d  %-12s skipped: first run took '
                            '%.0f s > --slow %.0f s' % (
                                time.monotonic() - started, case.label, rep + 1,
                                args.reps, client, first[0]['wall'], args.slow))
                        continue
                    spec = case.make_spec(client, ctx, rep)
                    log('[%5.0fs] %-32s rep %d/%d  %-12s ...'
                        % (time.monotonic() - started, case.label, rep + 1, args.reps,
                           client))
                    res = run_worker(workers[client], spec, case.timeout)
                    res = validate(res, case.expect_lines, case.expect_bytes, client)
                    res = case.check(client, res, rep, ctx)
                    res['rep'] = rep
                    case.samples[client].append(res)
                    if 'error' in res:
                        log('    ERROR: %s' % res['error'])
                    else:
                        log('    wall %.3f s  cpu %.3f s  maxrss %.1f MB%s'
                            % (res['wall'], res['cpu'], res['maxrss_kb'] / 1024.0,
                               '  %.1f MB/s' % (res['bytes'] / res['wall'] / 1e6)
                               if isinstance(case, CopyCase) else ''))
                    wait_servers_idle(servers)
    finally:
        if servers is not None:
            log('stopping servers ...')
            servers.stop()
        if files is not None:
            files.remove()

    table, summaries = render_table(cases, columns)
    print(table)
    print()
    print(render_phases(cases, columns))
    errors = [(case, client, s) for case in cases for client in case.clients
              for s in case.samples[client] if 'error' in s]
    if errors:
        print()
        print('ERRORS (cells marked ERROR had no successful run, * some failed runs):')
        for case, client, sample in errors:
            print('- %s, %s, rep %d: %s' % (case.label, client, sample['rep'] + 1,
                                           sample['error']))
            print('  command: %s' % sample.get('command', '?'))
            tail = (sample.get('stderr') or '').strip()
            if tail:
                print('  stderr (last 3000 chars):')
                for line in tail[-3000:].splitlines():
                    print('    ' + line)
    print()
    print('total benchmark time %.0f s' % (time.monotonic() - started))

    if args.save:
        path = os.path.abspath(args.save)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        data = {
            'date': time.strftime('%Y-%m-%dT%H:%M:%S%z'),
            'environment': env,
            'settings': {'reps': args.reps, 'servers': args.servers,
                         'pool_size': args.pool_size or DEFAULT_POOL_SIZE,
                         'hosts': args.hosts, 'only': sorted(args.only),
                         'copy_mb': args.copy_mb},
            'cases': [{
                'scenario': case.scenario, 'label': case.label, 'hosts': case.hosts,
                'command': case.command, 'expect_lines': case.expect_lines,
                'expect_bytes': case.expect_bytes,
                'summary': {c: summaries.get((case.key, c)) for c in case.clients},
                'samples': case.samples,
            } for case in cases],
            'table': table,
        }
        with open(path, 'w') as out:
            json.dump(data, out, indent=1, default=str)
        print('results written to %s' % os.path.relpath(path, os.getcwd()))
    return 1 if errors else 0


if __name__ == '__main__':
    sys.exit(main())
