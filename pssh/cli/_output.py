"""What the ``pssh`` command shows: live prefixed lines, folded groups, JSON
lines, per-host files, the progress line and the summary."""
import argparse
import json
import os
import sys
from typing import IO, Any, Callable, Dict, List, Optional

import gevent

from .nodeset import fold, fold_key

# Foreground colours for host names: 6 plain, then 6 bright.
_COLOURS = ['3%d' % n for n in range(1, 7)] + ['9%d' % n for n in range(1, 7)]
_RESET = b'\x1b[0m'
_CLEAR_LINE = '\r\x1b[K'
#: A progress line appears only for runs longer than this (seconds).
PROGRESS_AFTER = 0.5
PROGRESS_EVERY = 0.2


class HostResult:
    """What happened on one host."""

    __slots__ = ('name', 'host', 'started', 'ended', 'exit_code', 'error', 'reason', 'status',
                 'done', 'stdout', 'stderr', 'files', 'pending')

    def __init__(self, name: str, host: Optional[str] = None) -> None:
        self.name = name
        #: The host name or address it was given as (``name`` less user and port).
        self.host = host if host is not None else name
        self.started = 0.0
        self.ended = 0.0
        self.exit_code: Optional[int] = None
        self.error: Optional[BaseException] = None
        #: A few words for the summary; '' when the host succeeded.
        self.reason = ''
        #: Its share of the exit status: 0, the remote exit status, 255, 124, 130.
        self.status = 0
        self.done = False
        self.stdout: List[bytes] = []
        self.stderr: List[bytes] = []
        self.files: Dict[str, IO[bytes]] = {}
        self.pending: Dict[str, bytes] = {}


def _use_colour(choice: str, stream: Any) -> bool:
    if choice == 'always':
        return True
    if choice == 'never' or os.environ.get('NO_COLOR'):
        return False
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


def _isatty(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


class Display:
    """Writes a run's output as the options ask."""

    def __init__(self, args: argparse.Namespace, names: List[str]) -> None:
        self.args = args
        self.out = sys.stdout.buffer
        self.err = sys.stderr.buffer
        self.mode = 'json' if args.json else ('fold' if args.fold else 'live')
        width = max((len(name) for name in names), default=0)
        colour_out = _use_colour(args.color, sys.stdout)
        colour_err = _use_colour(args.color, sys.stderr)
        self.prefix_out: Dict[str, bytes] = {}
        self.prefix_err: Dict[str, bytes] = {}
        for index, name in enumerate(names):
            label = (name + ':').ljust(width + 1).encode('utf-8', 'replace') + b' '
            colour = _COLOURS[index % len(_COLOURS)].encode()
            self.prefix_out[name] = (b'\x1b[' + colour + b'm' + label + _RESET if colour_out
                                     else label)
            self.prefix_err[name] = (b'\x1b[' + colour + b'm' + label + _RESET if colour_err
                                     else label)
        self.colour_err = colour_err
        self.total = len(names)
        self.finished = 0
        self.failed = 0
        self.progress_wanted = (not args.quiet and _isatty(sys.stderr)
                                and os.environ.get('TERM') != 'dumb')
        self.progress_shown = False
        self.progress_greenlet: Optional[gevent.Greenlet] = None
        #: Set once our standard output is closed by its reader (``| head``).
        self.broken = False
        #: Called then (the run stops).
        self.on_broken: Callable[[], None] = lambda: None

    # -- progress ------------------------------------------------------------

    def start(self) -> None:
        if self.progress_wanted:
            self.progress_greenlet = gevent.spawn_later(PROGRESS_AFTER, self._progress_loop)

    def _progress_loop(self) -> None:
        while True:
            self._draw_progress()
            gevent.sleep(PROGRESS_EVERY)

    def _draw_progress(self) -> None:
        running = self.total - self.finished
        text = '[%d/%d done, %d failed, %d running]' % (self.finished, self.total,
                                                         self.failed, running)
        self.err.write((_CLEAR_LINE + text).encode())
        self.err.flush()
        self.progress_shown = True

    def _clear_progress(self) -> None:
        if self.progress_shown:
            self.err.write(_CLEAR_LINE.encode())
            self.err.flush()
            self.progress_shown = False

    # -- output of the hosts ---------------------------------------------------

    def _line_writer(self, result: HostResult, key: str, stream: Any,
                     prefix: bytes) -> Callable[[bytes], None]:
        joiner = b'\n' + prefix
        pending = result.pending

        def write(data: bytes) -> None:
            data = pending.pop(key, b'') + data
            end = data.rfind(b'\n')
            if end < 0:
                pending[key] = data
                return
            if end + 1 < len(data):
                pending[key] = data[end + 1:]
            self._clear_progress()
            self._write(stream, prefix + data[:end].replace(b'\n', joiner) + b'\n')
        return write

    def _write(self, stream: Any, data: bytes) -> None:
        if self.broken:
            return
        try:
            stream.write(data)
            stream.flush()
        except BrokenPipeError:
            self.broken = True
            # Nothing more can be shown: the rest of the run is pointless.
            try:
                os.dup2(os.open(os.devnull, os.O_WRONLY), stream.fileno())
            except OSError:
                pass
            self.on_broken()

    def _file_writer(self, result: HostResult, directory: str, key: str
                     ) -> Callable[[bytes], None]:
        def write(data: bytes) -> None:
            handle = result.files.get(key)
            if handle is None:
                name = result.name.replace('/', '_')
                handle = result.files[key] = open(os.path.join(directory, name), 'wb')
            handle.write(data)
        return write

    def stdout_writer(self, result: HostResult) -> Callable[[bytes], None]:
        if self.args.outdir:
            return self._file_writer(result, self.args.outdir, 'out')
        if self.mode == 'live':
            return self._line_writer(result, 'out', self.out, self.prefix_out[result.name])
        return result.stdout.append

    def stderr_writer(self, result: HostResult) -> Callable[[bytes], None]:
        if self.args.errdir:
            return self._file_writer(result, self.args.errdir, 'err')
        if self.mode == 'json':
            return result.stderr.append
        return self._line_writer(result, 'err', self.err, self.prefix_err[result.name])

    def flush_host(self, result: HostResult) -> None:
        """The host's output has ended: a last line without newline is shown."""
        for key, stream, prefixes in (('out', self.out, self.prefix_out),
                                      ('err', self.err, self.prefix_err)):
            rest = result.pending.pop(key, b'')
            if rest:
                self._clear_progress()
                self._write(stream, prefixes[result.name] + rest + b'\n')
        for key in ('out', 'err'):
            if key in result.files:
                # The file is there even for a host that printed nothing.
                result.files.pop(key).close()

    def _touch_files(self, result: HostResult) -> None:
        for directory in (self.args.outdir, self.args.errdir):
            if directory:
                path = os.path.join(directory, result.name.replace('/', '_'))
                if not os.path.exists(path):
                    open(path, 'wb').close()

    def host_done(self, result: HostResult) -> None:
        self.finished += 1
        if result.status:
            self.failed += 1
        if result.error is None:
            self._touch_files(result)
        if self.mode == 'json':
            self._clear_progress()
            self._write(self.out, json.dumps(self.as_json(result)).encode() + b'\n')
        elif result.error is not None and not self.args.quiet:
            from ._run import error_message
            self.notice('%s: %s' % (result.name, error_message(result.error)))

    def as_json(self, result: HostResult) -> Dict[str, Any]:
        error = None
        if result.error is not None:
            from ._run import error_message
            error = {'type': type(result.error).__name__, 'message': error_message(result.error)}
        elif result.reason == 'stopped':
            error = {'type': 'Interrupted', 'message': 'stopped by Ctrl-C'}
        return {
            'host': result.host,
            'alias': result.name,
            'exit_code': result.exit_code,
            'stdout': b''.join(result.stdout).decode('utf-8', 'replace'),
            'stderr': b''.join(result.stderr).decode('utf-8', 'replace'),
            'error': error,
            'duration': round(max(result.ended - result.started, 0.0), 3),
        }

    def notice(self, message: str) -> None:
        self._clear_progress()
        self.err.write(('pssh: %s\n' % message).encode('utf-8', 'replace'))
        self.err.flush()

    def fold(self, names: List[str]) -> str:
        return fold(names)

    # -- the end ---------------------------------------------------------------

    def finish(self, results: List[HostResult]) -> None:
        if self.progress_greenlet is not None:
            self.progress_greenlet.kill()
        self._clear_progress()
        if self.mode == 'fold':
            try:
                self.print_groups(results)
                self.out.flush()
            except BrokenPipeError:
                self.broken = True
                os.dup2(os.open(os.devnull, os.O_WRONLY), self.out.fileno())
        if not self.args.quiet and not self.broken:
            self.err.write((summary(results) + '\n').encode('utf-8', 'replace'))
            self.err.flush()

    def print_groups(self, results: List[HostResult]) -> None:
        groups: Dict[bytes, List[str]] = {}
        for result in results:
            data = b''.join(result.stdout)
            if data:
                groups.setdefault(data, []).append(result.name)
        ordered = sorted(groups.items(), key=lambda item: (-len(item[1]),
                                                           fold_key(item[1][0])))
        bold = _use_colour(self.args.color, sys.stdout)
        rule = b'-' * 15
        base_text: Optional[List[str]] = None
        base_label = ''
        for index, (data, names) in enumerate(ordered):
            label = '%s (%d)' % (fold(names), len(names))
            head = label.encode('utf-8', 'replace')
            if bold:
                head = b'\x1b[1m' + head + _RESET
            self.out.write(b'%s\n%s\n%s\n' % (rule, head, rule))
            if not self.args.diff or index == 0:
                self.out.write(data if data.endswith(b'\n') else data + b'\n')
                if index == 0:
                    base_text = data.decode('utf-8', 'replace').splitlines()
                    base_label = label
                continue
            import difflib  # only --diff needs it
            lines = difflib.unified_diff(base_text or [],
                                         data.decode('utf-8', 'replace').splitlines(),
                                         fromfile=base_label, tofile=label, lineterm='')
            self.out.write(('\n'.join(lines) + '\n').encode('utf-8', 'replace'))


def summary(results: List[HostResult]) -> str:
    """``12 ok, 2 failed: web[07,09] exit 2; db1 connection refused``."""
    ok = [r for r in results if not r.status]
    failed = [r for r in results if r.status]
    text = '%d ok' % len(ok)
    if not failed:
        return text
    reasons: Dict[str, List[str]] = {}
    for result in failed:
        reasons.setdefault(result.reason or 'failed', []).append(result.name)
    parts = ['%s %s' % (fold(names), reason) for reason, names in reasons.items()]
    return '%s, %d failed: %s' % (text, len(failed), '; '.join(parts))
