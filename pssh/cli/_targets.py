"""From the command line's target options to hosts and their settings."""
import argparse
import os
import re
import sys
import tempfile
from typing import Any, Dict, List, NamedTuple, Optional, Set

from . import SSH_OPTIONS
from .nodeset import NodeSetError, expand_all


class UsageError(Exception):
    """A mistake on the command line (exit status 2)."""


class Target(NamedTuple):
    """One host to run on."""

    #: The name shown in output, files and errors.
    name: str
    #: Host name or address to connect to (before ssh_config's HostName).
    host: str
    user: Optional[str]
    port: Optional[int]


_PORT = re.compile(r'^\d+$')


def split_target(spec: str) -> Target:
    """``[user@]host[:port]``, ``[user@][v6addr][:port]`` or a bare IPv6 address."""
    user: Optional[str] = None
    rest = spec
    if '@' in rest:
        user, _, rest = rest.rpartition('@')
        if not user:
            raise UsageError('%r: empty user name before "@"' % spec)
    port_text: Optional[str] = None
    if rest.startswith('['):
        closed = rest.find(']')
        if closed < 0:
            raise UsageError("%r: '[' without ']'" % spec)
        host = rest[1:closed]
        tail = rest[closed + 1:]
        if tail:
            if not tail.startswith(':'):
                raise UsageError('%r: unexpected %r after the address' % (spec, tail))
            port_text = tail[1:]
    elif rest.count(':') == 1:
        host, _, port_text = rest.partition(':')
    else:
        host = rest  # a name, or an IPv6 address without a port
    if not host:
        raise UsageError('%r: no host name' % spec)
    port: Optional[int] = None
    if port_text is not None:
        if not _PORT.match(port_text) or not 0 < int(port_text) <= 65535:
            raise UsageError('%r: %r is not a port number (1-65535)' % (spec, port_text))
        port = int(port_text)
    name = host if port is None else ('[%s]:%d' % (host, port) if ':' in host
                                      else '%s:%d' % (host, port))
    return Target(name, host, user, port)


def _read_host_file(path: str) -> List[str]:
    try:
        if path == '-':
            text = sys.stdin.read()
        else:
            with open(path, encoding='utf-8') as handle:
                text = handle.read()
    except OSError as error:
        raise UsageError('cannot read hosts file %s: %s' % (path, error.strerror)) from None
    lines = []
    for line in text.splitlines():
        line = line.split('#', 1)[0].strip()
        if line:
            lines.append(line)
    return lines


def resolve_targets(args: argparse.Namespace) -> List[Target]:
    """The hosts named by ``-H``, ``-h`` and ``-x``, each once, in order."""
    node_sets: List[str] = list(args.hosts)
    for path in args.host_files:
        node_sets.extend(_read_host_file(path))
    try:
        specs = expand_all(node_sets, exclude=args.exclude)
    except NodeSetError as error:
        raise UsageError('bad node set: %s' % error) from None
    targets = [split_target(spec) for spec in specs]
    excluded: Set[str] = set()
    try:
        for text in args.exclude:
            excluded.update(split_target(spec).name for spec in expand_all([text]))
    except NodeSetError as error:  # pragma: no cover - already checked above
        raise UsageError('bad node set: %s' % error) from None
    seen: Dict[Any, None] = {}
    out: List[Target] = []
    for target in targets:
        if target.name in excluded or (target.user, target.name) in seen:
            continue
        seen[(target.user, target.name)] = None
        out.append(target)
    names = [t.name for t in out]
    if len(set(names)) != len(names):
        # The same host as several users: show the user too.
        out = [t._replace(name='%s@%s' % (t.user, t.name)) if t.user and names.count(t.name) > 1
               else t for t in out]
    return out


# ----------------------------------------------------------------------
# -o Option=value, read with the library's ssh_config reader, so that the
# values mean what they mean to ssh.

OPTIONS = tuple(name.lower() for name in SSH_OPTIONS)


def option_lines(options: List[str]) -> List[str]:
    """``-o`` values as ssh_config lines; unknown keywords refused."""
    lines = []
    for option in options:
        match = re.match(r'^\s*([A-Za-z]+)\s*(?:=|\s)\s*(.*?)\s*$', option)
        if not match or not match.group(2):
            raise UsageError('-o %r: write it as Keyword=value' % option)
        keyword = match.group(1)
        if keyword.lower() not in OPTIONS:
            raise UsageError('-o %s: not an option pssh uses; these are: %s' % (
                keyword, ', '.join(SSH_OPTIONS)))
        lines.append('%s %s' % (keyword, match.group(2)))
    return lines


class OptionSettings:
    """Per-host settings from ``-o`` options (empty without any)."""

    def __init__(self, options: List[str]) -> None:
        self._config: Any = None
        lines = option_lines(options)
        if not lines:
            return
        from .. import _ssh_config
        from ..exceptions import HostConfigError
        fd, path = tempfile.mkstemp(prefix='pssh-options-', suffix='.conf')
        try:
            with os.fdopen(fd, 'w', encoding='utf-8') as handle:
                handle.write('\n'.join(lines) + '\n')
            try:
                self._config = _ssh_config.SSHConfig(path, system_path=None)
            except HostConfigError as error:
                message = str(error).replace(path, '-o')
                raise UsageError('bad -o option: %s' % message) from None
        finally:
            os.unlink(path)

    def for_host(self, target: Target) -> Dict[str, Any]:
        if self._config is None:
            return {}
        from .. import _ssh_config
        entry = self._config.lookup(target.host)
        return _ssh_config.to_host_config_kwargs(entry)
