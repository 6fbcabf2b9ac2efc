"""The ``pssh`` command: run a command, or copy files, on many hosts at once.

``pssh -H 'web[01-12]' -- uptime``; see ``pssh --help`` and :doc:`/cli`.

This module only builds the argument parser, so that ``pssh --help`` and
``pssh --version`` start quickly; what a run needs (gevent, the SSH clients)
is imported by :mod:`pssh.cli._run` when a run starts.
"""
import argparse
import sys
from typing import List, NoReturn, Optional, Sequence

__all__ = ['main', 'build_parser']

PROG = 'pssh'

#: The ssh_config keywords ``-o`` accepts.
SSH_OPTIONS = ('HostName', 'User', 'Port', 'IdentityFile', 'ProxyJump', 'ConnectTimeout',
               'ServerAliveInterval', 'StrictHostKeyChecking', 'UserKnownHostsFile',
               'Compression')

_DESCRIPTION = """\
Run COMMAND on every target host at once over SSH and show what each printed,
or copy files to and from them (--put, --get).

Targets are node sets, as clush and pdsh write them: web[01-12,20].example.com
is web01 to web12 and web20, rack[1-2]-node[1-3] every combination of both,
and several names are separated by commas or spaces. Each name may be
USER@HOST:PORT, or [IPV6]:PORT.
"""

_EPILOG = """\
output:
  By default each line a host prints is shown as it arrives, prefixed with the
  host's name (coloured on a terminal); standard error goes to standard error.
  -b gathers the output and prints each distinct output once, under the node
  set of the hosts that printed it. A summary ends the run on standard error.

exit status:
  0 when every host ran the command and it exited 0; otherwise the largest exit
  status of the remote commands, 255 when a host could not be reached (or its
  connection broke), 124 when a command ran longer than -T allows, 130 when
  stopped with Ctrl-C (twice), 141 when our output was closed (| head).
  --any-rc: 0 when at least one host succeeded. 2: a mistake on the command line.

standard input:
  When it is not a terminal, standard input is read to its end and sent to the
  command on every host (-n: never). With --sudo and no terminal to ask on, its
  first line is the password.

Ctrl-C:
  once shows the hosts still running, twice closes their channels and exits.

examples:
  pssh -H 'web[01-04] db1' -- uptime
  pssh -h hosts.txt -x web03 -b -- cat /etc/debian_version
  echo 'hello' | pssh -H 'node[1-3]' -- cat
  pssh -H 'db[1-2]' --json -- df -h / > df.jsonl
  pssh -H 'web[01-04]' --put app.conf /etc/app.conf
  pssh -H 'web[01-04]' --get /var/log/syslog ./logs
"""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.exit(2, '%s: %s\n(see %s --help)\n' % (self.prog, message, self.prog))


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``pssh`` command."""
    parser = _Parser(
        prog=PROG, usage='%(prog)s [OPTIONS] TARGETS [--] COMMAND...\n'
                         '       %(prog)s [OPTIONS] TARGETS --put LOCAL REMOTE\n'
                         '       %(prog)s [OPTIONS] TARGETS --get REMOTE LOCALDIR',
        description=_DESCRIPTION, epilog=_EPILOG, add_help=False,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    add = parser.add_argument
    add('command', nargs=argparse.REMAINDER, metavar='COMMAND',
        help=argparse.SUPPRESS)

    group = parser.add_argument_group('targets')
    group.add_argument('-H', '--host', dest='hosts', action='append', default=[],
                       metavar='NODESET', help='hosts to run on (repeatable)')
    group.add_argument('-h', '--hosts-file', dest='host_files', action='append', default=[],
                       metavar='FILE', help='read hosts from FILE, one per line; '
                       '"#" starts a comment ("-" reads standard input)')
    group.add_argument('-x', '--exclude', action='append', default=[], metavar='NODESET',
                       help='leave these hosts out')
    group.add_argument('-l', '--user', metavar='USER', help='log in as USER')
    group.add_argument('-p', '--port', type=_port, metavar='PORT', help='connect to PORT')
    group.add_argument('-i', '--identity', metavar='KEY',
                       help='authenticate with this private key (alone)')
    group.add_argument('-J', '--jump', metavar='JUMP[,JUMP2...]',
                       help='connect through these bastions, in order, as ssh -J')
    group.add_argument('-o', '--option', dest='options', action='append', default=[],
                       metavar='KEY=VALUE',
                       help='an ssh_config option, as ssh -o: ' + ', '.join(SSH_OPTIONS))
    group.add_argument('-F', '--config', metavar='FILE',
                       help='ssh client config to read instead of ~/.ssh/config and '
                       '/etc/ssh/ssh_config; "none" for none')
    policy = group.add_mutually_exclusive_group()
    policy.add_argument('--strict', dest='host_key_policy', action='store_const',
                        const='strict', help='refuse hosts whose key is not known')
    policy.add_argument('--accept-new', dest='host_key_policy', action='store_const',
                        const='accept-new', help='accept and record the keys of new hosts '
                        '(changed keys are always refused)')

    group = parser.add_argument_group('running')
    group.add_argument('-f', '--fanout', type=_positive_int, default=100, metavar='N',
                       help='at most N connections at once (default: 100)')
    group.add_argument('-t', '--connect-timeout', type=_seconds, default=10.0,
                       metavar='SECONDS', help='connection timeout (default: 10)')
    group.add_argument('-T', '--command-timeout', type=_seconds, metavar='SECONDS',
                       help='stop a command still running after SECONDS')
    group.add_argument('--retries', type=_count, default=0, metavar='N',
                       help='connect again up to N times after a failure (default: 0)')
    group.add_argument('--fail-fast', action='store_true',
                       help='stop every host as soon as one fails')
    group.add_argument('-n', '--no-stdin', action='store_true',
                       help='do not send standard input to the commands')
    group.add_argument('--sudo', action='store_true',
                       help='run the command with sudo; the password is asked once and '
                       'given to each host that asks for it')

    group = parser.add_argument_group('copies')
    group.add_argument('--put', nargs=2, metavar=('LOCAL', 'REMOTE'),
                       help='copy LOCAL to REMOTE on every host')
    group.add_argument('--get', nargs=2, metavar=('REMOTE', 'LOCALDIR'),
                       help='copy REMOTE from every host into LOCALDIR, as NAME_HOST')
    group.add_argument('-r', '--recursive', action='store_true', help='copy directories')
    group.add_argument('--scp', action='store_true', help='copy with SCP instead of SFTP')

    group = parser.add_argument_group('output')
    group.add_argument('-b', '--fold', action='store_true',
                       help='gather the output; print each distinct output once, under the '
                       'hosts that printed it')
    group.add_argument('--diff', action='store_true',
                       help='with -b: show each output as a diff against the most common one')
    group.add_argument('--json', action='store_true',
                       help='one JSON object per host and line: host, alias, exit_code, '
                       'stdout, stderr, error, duration')
    group.add_argument('--outdir', metavar='DIR',
                       help="write each host's standard output to DIR/HOST instead")
    group.add_argument('-e', '--errdir', metavar='DIR',
                       help="write each host's standard error to DIR/HOST instead")
    group.add_argument('--color', choices=('auto', 'always', 'never'), default='auto',
                       help='colour the host names (default: auto, on a terminal)')
    rc = group.add_mutually_exclusive_group()
    rc.add_argument('--max-rc', dest='rc_mode', action='store_const', const='max',
                    help='exit with the largest exit status (the default)')
    rc.add_argument('--any-rc', dest='rc_mode', action='store_const', const='any',
                    help='exit 0 when at least one host succeeded')
    group.add_argument('-q', '--quiet', action='store_true',
                       help='no progress line and no summary')
    group.add_argument('-v', '--verbose', action='count', default=0,
                       help="show the library's log (twice: debug)")

    group = parser.add_argument_group('information')
    group.add_argument('--help', action='help', help='show this help and exit')
    group.add_argument('-V', '--version', action='store_true',
                       help="show the versions, what protects this installation (the "
                       "library's security_report) and exit")
    group.add_argument('--completion', choices=('bash',), metavar='SHELL',
                       help='print a completion script for SHELL (bash) and exit; '
                       'load it with: source <(pssh --completion bash)')
    parser.set_defaults(rc_mode='max')
    return parser


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError('%r is not a port number' % (text,)) from None
    if not 0 < value <= 65535:
        raise argparse.ArgumentTypeError('port %d is out of range (1-65535)' % value)
    return value


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError('%r is not a number' % (text,)) from None
    if value < 1:
        raise argparse.ArgumentTypeError('%d: must be at least 1' % value)
    return value


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError('%r is not a number' % (text,)) from None
    if value < 0:
        raise argparse.ArgumentTypeError('%d: must not be negative' % value)
    return value


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError('%r is not a number of seconds' % (text,)) from None
    if not value > 0 or value != value or value == float('inf'):
        raise argparse.ArgumentTypeError('%s: must be a positive number of seconds' % text)
    return value


def _print_version() -> None:
    import platform

    from .. import __version__, security_report
    report = security_report()
    out = ['pssh %s (Python %s)' % (__version__, platform.python_version())]
    for library in ('libssh2', 'libssh'):
        info = report[library]
        out.append('%s %s' % (library, info['version'] or 'not found'))
        for advisory in info['advisories']:
            active = report['mitigations'].get(advisory['mitigated_by'])
            out.append('  %s: %s; answered by %s (%s)' % (
                advisory['id'], advisory['summary'], advisory['mitigated_by'],
                'active' if active else 'NOT ACTIVE'))
    out.append('mitigations:')
    for name, value in report['mitigations'].items():
        out.append('  %s: %s' % (name, value))
    sys.stdout.write('\n'.join(out) + '\n')


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the ``pssh`` command with ``argv`` (default: ``sys.argv[1:]``).

    :returns: the exit status.
    """
    parser = build_parser()
    args = parser.parse_args(list(sys.argv[1:] if argv is None else argv))
    if args.version:
        _print_version()
        return 0
    if args.completion:
        from ._completion import bash_script
        sys.stdout.write(bash_script(parser, list(SSH_OPTIONS)))
        return 0
    from ._run import run
    return run(args, parser)


def _entry() -> None:
    sys.exit(main())


def _words(args: List[str]) -> List[str]:
    return args[1:] if args[:1] == ['--'] else args
