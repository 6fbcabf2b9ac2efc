#!/usr/bin/env python3
"""Command-line tools side by side: this checkout's ``pssh`` command against
the ``parallel-ssh`` tool of Debian's ``pssh`` package, ``pdsh -R ssh`` and
``clush`` (ClusterShell), on local OpenSSH servers started by this script.

Usage::

    python3 benchmarks/cli.py [--hosts 100,300] [--big-hosts 100] [--mb 20]
                              [--reps 3] [--tools ours,parallel-ssh,pdsh,clush]
                              [--big-tools TOOLS] [--servers 10] [--save [PATH]]

Rows:

``echo``
    ``echo ok`` on 100 and 300 hosts (``--hosts``).
``20MB``
    each host prints 20 MB (``cat`` of a file of 200,000 lines of 100 bytes)
    on 100 hosts (``--big-hosts``; ``--mb`` sets the size; ``--big-tools``
    the tools that run it, default all of ``--tools``). ``--big-hosts 100,300``
    adds the 300-host row: 6 GB through the servers, one run of which takes
    about 50 s for ours, 80 s for parallel-ssh and 3 min for pdsh on 2 cores,
    and an estimated 20 to 30 min for clush (188 s at 2 MB per host), so
    ``--big-tools ours,parallel-ssh,pdsh`` is the practical choice.

Every tool gets the same hosts, fan-out (= number of hosts, so that no tool
waits for a slot), ssh config (``-F``: host names ``h001``... mapped to the
servers' ports, one key, a known-hosts file holding the servers' keys,
``StrictHostKeyChecking yes``) and shows the output the default way, one line
per output line prefixed with the host (``parallel-ssh`` has no such mode:
``-P`` prints each piece of output as it arrives, prefixed, not split into
lines; it is the nearest). The
output goes into a pipe that this script reads and counts (so that every tool
is checked to have delivered every line). Wall time is from start to exit;
CPU is user + system time of the tool and every process it started
(``wait4``), the ``ssh`` processes of the other tools included. The median of
``--reps`` runs is shown, the tools' order rotating between runs; a tool whose
first run of a row took longer than ``--slow`` seconds (default 60) runs once.

The tools: ``pdsh`` and ``parallel-ssh`` from Debian (``apt-get install
pdsh pssh``; installed when missing and root), ``clush`` from a venv at
``benchmarks/.venvs/clustershell`` (``pip install clustershell``; made on the
first run).
"""
import argparse
import json
import os
import shutil
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
from pssh.testing import start_servers  # noqa: E402  (standard library only)

TOOLS = ('ours', 'parallel-ssh', 'pdsh', 'clush')
LINE = b'x' * 99 + b'\n'


def ensure_tools(tools):
    missing = [pkg for tool, pkg in (('parallel-ssh', 'pssh'), ('pdsh', 'pdsh'))
               if tool in tools and shutil.which(tool) is None]
    if missing:
        if os.getuid() != 0:
            sys.exit('missing: %s (apt-get install %s)' % (missing, ' '.join(missing)))
        subprocess.run(['apt-get', 'install', '-y', '-qq', '--no-install-recommends']
                       + missing, check=True, stdout=subprocess.DEVNULL,
                       env=dict(os.environ, DEBIAN_FRONTEND='noninteractive'))
    if 'clush' in tools:
        venv = os.path.join(VENVS, 'clustershell')
        if not os.path.exists(os.path.join(venv, 'bin', 'clush')):
            subprocess.run([sys.executable, '-m', 'venv', venv], check=True)
            subprocess.run([os.path.join(venv, 'bin', 'pip'), 'install', '-q', 'clustershell'],
                           check=True)


def versions():
    out = {}
    out['ours'] = subprocess.run([sys.executable, '-c', 'import pssh; print(pssh.__version__)'],
                                 capture_output=True, text=True, env=_env()).stdout.strip()
    out['parallel-ssh'] = subprocess.run(['parallel-ssh', '--version'], capture_output=True,
                                         text=True).stdout.strip()
    out['pdsh'] = subprocess.run(['pdsh', '-V'], capture_output=True,
                                 text=True).stdout.split('\n')[0].strip()
    out['clush'] = subprocess.run([os.path.join(VENVS, 'clustershell', 'bin', 'clush'),
                                   '--version'], capture_output=True,
                                  text=True).stdout.strip()
    out['ssh'] = subprocess.run(['ssh', '-V'], capture_output=True, text=True).stderr.strip()
    return out


def _env():
    return dict(os.environ, PYTHONPATH=REPO)


class Setup:
    def __init__(self, workdir, servers, max_hosts):
        self.workdir = workdir
        self.names = ['h%03d' % (i + 1) for i in range(max_hosts)]
        self.config = os.path.join(workdir, 'ssh_config')
        known = os.path.join(workdir, 'known_hosts')
        with open(known, 'w') as handle:
            handle.write(''.join(s.known_hosts_line() + '\n' for s in servers))
        with open(self.config, 'w') as handle:
            for index, name in enumerate(self.names):
                server = servers[index % len(servers)]
                handle.write('Host %s\n  HostName 127.0.0.1\n  Port %d\n'
                             % (name, server.port))
            handle.write('Host *\n  User %s\n  IdentityFile %s\n  IdentitiesOnly yes\n'
                         '  UserKnownHostsFile %s\n  StrictHostKeyChecking yes\n'
                         '  BatchMode yes\n  LogLevel ERROR\n'
                         % (servers[0].user, servers[0].user_key, known))
        self.hosts_files = {}

    def hosts_file(self, count):
        if count not in self.hosts_files:
            path = os.path.join(self.workdir, 'hosts-%d' % count)
            with open(path, 'w') as handle:
                handle.write('\n'.join(self.names[:count]) + '\n')
            self.hosts_files[count] = path
        return self.hosts_files[count]

    def argv(self, tool, count, command):
        nodeset = 'h[001-%03d]' % count
        if tool == 'ours':
            return [sys.executable, '-m', 'pssh', '-F', self.config, '-f', str(count),
                    '-n', '-H', nodeset, '--', command], _env()
        if tool == 'parallel-ssh':
            return ['parallel-ssh', '-P', '-p', str(count), '-t', '0', '-x',
                    '-F %s' % self.config, '-h', self.hosts_file(count), command], None
        if tool == 'pdsh':
            env = dict(os.environ, PDSH_RCMD_TYPE='ssh',
                       PDSH_SSH_ARGS_APPEND='-F %s' % self.config)
            return ['pdsh', '-R', 'ssh', '-f', str(count), '-w', nodeset, command], env
        if tool == 'clush':
            return [os.path.join(VENVS, 'clustershell', 'bin', 'clush'), '-f', str(count),
                    '-o', '-F %s' % self.config, '-w', nodeset, command], None
        raise ValueError(tool)


def measure(argv, env):
    """(wall seconds, cpu seconds, bytes, lines, exit status) of one run."""
    started = time.monotonic()
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            stdin=subprocess.DEVNULL, env=env, bufsize=0)
    size = lines = 0
    errors = b''
    import selectors
    selector = selectors.DefaultSelector()
    selector.register(proc.stdout, selectors.EVENT_READ)
    selector.register(proc.stderr, selectors.EVENT_READ)
    open_streams = 2
    while open_streams:
        for key, _ in selector.select():
            data = os.read(key.fileobj.fileno(), 1 << 20)
            if not data:
                selector.unregister(key.fileobj)
                open_streams -= 1
            elif key.fileobj is proc.stdout:
                size += len(data)
                lines += data.count(b'\n')
            else:
                errors += data
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.monotonic() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    return wall, usage.ru_utime + usage.ru_stime, size, lines, proc.returncode, errors


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--hosts', default='100,300')
    parser.add_argument('--big-hosts', default='100')
    parser.add_argument('--mb', type=int, default=20)
    parser.add_argument('--reps', type=int, default=3)
    parser.add_argument('--tools', default=','.join(TOOLS))
    parser.add_argument('--big-tools', help='the tools that run the big rows (default: --tools)')
    parser.add_argument('--servers', type=int, default=10)
    parser.add_argument('--slow', type=float, default=60.0,
                        help='a tool whose first run of a row took longer is not repeated')
    parser.add_argument('--save', nargs='?', const=os.path.join(RESULTS, 'cli_latest.json'))
    args = parser.parse_args(argv)
    tools = [t for t in args.tools.split(',') if t]
    ensure_tools(tools)
    echo_counts = [int(n) for n in args.hosts.split(',') if n]
    big_counts = [int(n) for n in args.big_hosts.split(',') if n]
    max_hosts = max(echo_counts + big_counts)
    line_count = args.mb * 1000 * 1000 // len(LINE)
    big_tools = [t for t in (args.big_tools or args.tools).split(',') if t in tools]
    rows = [('echo', n, 'echo ok', n, tools) for n in echo_counts]
    with tempfile.TemporaryDirectory(prefix='pssh-cli-bench-') as workdir:
        big_file = os.path.join(workdir, 'big.txt')
        with open(big_file, 'wb') as handle:
            handle.write(LINE * line_count)
        rows += [('%dMB' % args.mb, n, 'cat %s' % big_file, n * line_count, big_tools)
                 for n in big_counts]
        servers = start_servers(args.servers, workdir=workdir)
        try:
            setup = Setup(workdir, servers, max_hosts)
            results = {}
            print('versions: %s' % json.dumps(versions()), flush=True)
            for name, count, command, want_lines, row_tools in rows:
                for rep in range(args.reps):
                    shift = rep % len(row_tools)
                    order = row_tools[shift:] + row_tools[:shift]
                    for tool in order:
                        done = results.get((name, count, tool), [])
                        if done and done[0][0] > args.slow:
                            continue
                        tool_argv, env = setup.argv(tool, count, command)
                        wall, cpu, size, lines, rc, errors = measure(tool_argv, env)
                        ok = rc == 0 and lines >= want_lines
                        results.setdefault((name, count, tool), []).append(
                            (wall, cpu, ok))
                        print('  %-6s %4d hosts %-13s wall %7.2fs cpu %7.2fs lines %d%s'
                              % (name, count, tool, wall, cpu, lines,
                                 '' if ok else '  FAILED rc=%d %s' % (rc, errors[-300:])),
                              flush=True)
                        time.sleep(0.5)  # let the servers' sessions end between runs
        finally:
            servers.stop()
    print()
    header = '| row | hosts | ' + ' | '.join('%s wall / CPU (s)' % t for t in tools) + ' |'
    print(header)
    print('|' + '---|' * (2 + len(tools)))
    table = []
    for name, count, _, _, row_tools in rows:
        cells = []
        for tool in tools:
            if tool not in row_tools:
                cells.append('-')
                continue
            runs = results[(name, count, tool)]
            wall = statistics.median(r[0] for r in runs)
            cpu = statistics.median(r[1] for r in runs)
            failed = sum(1 for r in runs if not r[2])
            cells.append('%.2f / %.2f%s' % (wall, cpu, ' (%d failed)' % failed if failed else ''))
            table.append({'row': name, 'hosts': count, 'tool': tool, 'wall': wall,
                          'cpu': cpu, 'failed': failed, 'runs': runs})
        print('| %s | %d | %s |' % (name, count, ' | '.join(cells)))
    if args.save:
        os.makedirs(os.path.dirname(args.save), exist_ok=True)
        with open(args.save, 'w') as handle:
            json.dump({'versions': versions(), 'results': table, 'reps': args.reps,
                       'servers': args.servers, 'mb': args.mb}, handle, indent=1)
    return 0


if __name__ == '__main__':
    sys.exit(main())
