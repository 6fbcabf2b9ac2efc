"""A first look at the ``pssh`` command, with no remote machines needed.

Starts four throwaway OpenSSH servers on the loopback addresses 127.0.0.2 to
127.0.0.5 (each its own host, with its own host key, all on this machine),
writes an ssh config that gives their ports, key and known-hosts file, and
runs the ``pssh`` command on them and on a fifth address where nothing
listens (127.0.0.6): live output, folded output, a diff, JSON lines, and the
summary and exit status that a failing host gives.

Run it with ``bash run.sh demo``, which installs what it needs first.
"""
import os
import shlex
import subprocess
import sys
import tempfile

from pssh.testing import start_servers

ADDRESSES = ['127.0.0.%d' % n for n in range(2, 6)]
DOWN = '127.0.0.6'
TARGETS = '127.0.0.[2-6]'


def shell(argv, config):
    """Show ``argv`` as a shell line, run it, show its exit status."""
    shown = ['pssh'] + argv
    print('\n$ ' + ' '.join(shlex.quote(word) for word in shown), flush=True)
    proc = subprocess.run([sys.executable, '-m', 'pssh', '-F', config] + argv)
    print('(exit status %d)' % proc.returncode, flush=True)


def main():
    with tempfile.TemporaryDirectory(prefix='pssh-demo-') as workdir:
        servers = start_servers(len(ADDRESSES), addresses=ADDRESSES, workdir=workdir)
        try:
            known_hosts = os.path.join(workdir, 'known_hosts')
            with open(known_hosts, 'w') as handle:
                handle.write(''.join(s.known_hosts_line() + '\n' for s in servers))
            config = os.path.join(workdir, 'ssh_config')
            with open(config, 'w') as handle:
                for server in servers:
                    handle.write('Host %s\n  Port %d\n' % (server.host, server.port))
                handle.write('Host *\n  IdentityFile %s\n  UserKnownHostsFile %s\n'
                             '  StrictHostKeyChecking yes\n  ConnectTimeout 5\n'
                             % (servers[0].user_key, known_hosts))
            print('Four SSH servers on %s, nothing on %s; their keys are in %s and\n'
                  'the ssh config given with -F (each host\'s port) is %s.'
                  % (', '.join(ADDRESSES), DOWN, known_hosts, config))

            # Live lines, prefixed with the host, as they come.
            shell(['-H', TARGETS, '--',
                   'echo "I am $(echo $SSH_CONNECTION | cut -d" " -f3), pid $$"'], config)
            # Folded: identical output printed once, under its node set.
            shell(['-b', '-H', TARGETS, '-x', DOWN, '--', 'uname -s; id -un'], config)
            # One host differs: --diff shows how, against the largest group.
            shell(['--diff', '-H', TARGETS, '-x', DOWN, '--',
                   'echo "release 1.4"; addr=$(echo $SSH_CONNECTION | cut -d" " -f3); '
                   'if [ "$addr" = 127.0.0.4 ]; then echo "patch 7"; fi; echo "config ok"'],
                  config)
            # For programs: one JSON object per host; remote exit statuses count.
            shell(['--json', '-H', '127.0.0.[2-3]', '--',
                   'echo "disk ok"; exit $(( $(echo $SSH_CONNECTION | cut -d" " -f3 '
                   '| cut -d. -f4) - 2 ))'], config)
        finally:
            servers.stop()


if __name__ == '__main__':
    main()
