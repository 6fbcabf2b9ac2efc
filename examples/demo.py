"""A first look at pssh, with no remote machines needed.

Starts a throwaway OpenSSH server on a free local port, then uses
ParallelSSHClient to run commands on it as if it were five hosts (each entry in
``hosts`` gets its own SSH connection, so this is a real parallel run).

Run it with ``bash run.sh demo``, which installs what it needs first.
"""

from pssh.clients import ParallelSSHClient
from pssh.testing import OpenSSHServer


def main():
    with OpenSSHServer() as server:
        hosts = [server.host] * 5
        print(f'SSH server for user {server.user} on {server.host}:{server.port}\n')

        # The server's host key is pinned: a server presenting any other key
        # would be refused before we log in (see docs/security.rst).
        client = ParallelSSHClient(hosts, port=server.port, user=server.user,
                                   pkey=server.user_key, num_retries=1,
                                   host_key=server.known_hosts_line())

        # run_command starts the command on every host and returns at once;
        # join waits for all of them to finish.
        output = client.run_command('echo "hello from $(hostname) pid $$"; uname -sr')
        client.join(output)
        for host_out in output:
            print(f'[{host_out.host}]')
            for line in host_out.stdout:
                print(f'  {line}')
            print(f'  exit code: {host_out.exit_code}')

        # host_args gives each host its own arguments for the command string.
        print('\nWith per-host arguments:')
        output = client.run_command('echo host number %s',
                                    host_args=[(i,) for i in range(len(hosts))])
        client.join(output)
        for host_out in output:
            for line in host_out.stdout:
                print(f'  [{host_out.host}] {line}')


if __name__ == '__main__':
    main()
