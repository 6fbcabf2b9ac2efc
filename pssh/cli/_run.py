"""A run of the ``pssh`` command: connect, run or copy, show, sum up.

Built on the library's public :class:`~pssh.clients.native.ParallelSSHClient`
and :class:`~pssh.config.HostConfig`. Output is read from each host's output
buffers as raw chunks (``HostOutput.buffers.stdout.rw_buffer``), so that lines
are split and prefixed in bulk, not one Python call per line.
"""
import argparse
import getpass
import logging
import os
import secrets
import shlex
import signal
import sys
import time
from typing import Any, Callable, Dict, List, Optional

import gevent
from gevent.event import Event

from ..config import HostConfig
from ..exceptions import (
    AuthenticationError, HostKeyError, ProxyError, SSHError, Timeout, UnknownHostError)
from ._output import Display, HostResult
from ._targets import OptionSettings, Target, UsageError, resolve_targets

#: Exit statuses of our own.
RC_UNREACHABLE = 255
RC_TIMEOUT = 124
RC_INTERRUPTED = 130
RC_COPY_FAILED = 1
RC_BROKEN_PIPE = 141  # as a shell reports a command killed by SIGPIPE

#: Unread bytes kept per host and stream before the host's command is paused
#: (SSH flow control) until they are shown: without a bound, hundreds of hosts
#: printing faster than the output is written pile up gigabytes here.
BUFFER_LIMIT = 1024 * 1024


class _Abort(gevent.GreenletExit):
    """Raised into the run's greenlets when it is stopped (Ctrl-C twice,
    --fail-fast); a GreenletExit, so that gevent does not report it."""


def _pump(buffer: Any, write: Callable[[bytes], None]) -> None:
    """Hand a stream's output to ``write`` until it ends, a few hundred KiB at
    a time: a host that printed megabytes while others were being shown costs
    no copy of all of it at once, and nothing is held while waiting for more."""
    while True:
        data = buffer.read_some()
        if data:
            write(data)
        elif buffer.eof.is_set():
            return
        else:
            buffer.wait()


def describe_error(error: BaseException) -> str:
    """A few words for the summary: why a host failed."""
    if isinstance(error, ConnectionRefusedError):
        return 'connection refused'
    if isinstance(error, UnknownHostError):
        return 'unknown host'
    if isinstance(error, AuthenticationError):
        return 'authentication failed'
    if isinstance(error, HostKeyError):
        return {'UnknownHostKeyError': 'host key unknown',
                'HostKeyMismatchError': 'host key changed',
                'RevokedHostKeyError': 'host key revoked'}.get(type(error).__name__,
                                                               'host key refused')
    if isinstance(error, ProxyError):
        return 'bastion failed'
    if isinstance(error, (Timeout, TimeoutError)):
        return 'timed out'
    if isinstance(error, ConnectionError):
        return 'connection failed'
    return type(error).__name__


def error_message(error: BaseException) -> str:
    try:
        text = str(error)
    except Exception:  # noqa: BLE001 - a message that cannot be built
        text = ''
    return text or type(error).__name__


class _SudoFilter:
    """Takes sudo's prompt and our start mark out of a host's standard error,
    answering the prompt once."""

    def __init__(self, prompt: bytes, mark: bytes) -> None:
        self.prompt = prompt
        self.mark = mark
        self.pending = b''
        self.started = False
        self.prompts = 0

    def feed(self, data: bytes) -> List[Any]:
        """Returns a list of bytes to show and the strings 'prompt' / 'started'."""
        if self.started:
            return [data]
        data = self.pending + data
        self.pending = b''
        events: List[Any] = []
        while data:
            at_prompt = data.find(self.prompt)
            at_mark = data.find(self.mark)
            found = [(at, what) for at, what in ((at_prompt, 'prompt'), (at_mark, 'started'))
                     if at >= 0]
            if not found:
                keep = self._partial(data)
                if keep:
                    self.pending = data[-keep:]
                    data = data[:-keep]
                if data:
                    events.append(data)
                break
            at, what = min(found)
            if at:
                events.append(data[:at])
            if what == 'prompt':
                data = data[at + len(self.prompt):]
                self.prompts += 1
            else:
                data = data[at + len(self.mark):]
                self.started = True
                if data:
                    events.append(what)
                    events.append(data)
                    return events
            events.append(what)
        return events

    def _partial(self, data: bytes) -> int:
        """Length of the longest end of ``data`` that begins a mark."""
        best = 0
        for marker in (self.prompt, self.mark):
            for size in range(min(len(marker) - 1, len(data)), best, -1):
                if data.endswith(marker[:size]):
                    best = size
                    break
        return best


class Run:
    """One invocation of the command."""

    def __init__(self, args: argparse.Namespace, targets: List[Target]) -> None:
        self.args = args
        self.targets = targets
        self.results: List[HostResult] = [HostResult(t.name, t.host) for t in targets]
        self.display = Display(args, [t.name for t in targets])
        self.display.on_broken = lambda: gevent.spawn(self.abort)
        self.interrupts = 0
        self.aborted = False
        self.job: Optional[gevent.Greenlet] = None
        self.workers: List[gevent.Greenlet] = []
        self.outputs: List[Any] = []
        self.stdin_data: Optional[bytes] = None
        self.sudo_password: Optional[bytes] = None
        self.stopping_for: Optional[HostResult] = None
        self.job_error: Optional[BaseException] = None
        #: With --sudo: the prompt we give sudo, and the line our wrapper prints
        #: on standard error once sudo has let the command start.
        self.prompt = b''
        self.mark = b''

    # -- set-up ------------------------------------------------------------

    def client(self) -> Any:
        from ..clients.native import ParallelSSHClient
        args = self.args
        options = OptionSettings(args.options)
        configs = []
        for target in self.targets:
            settings: Dict[str, Any] = options.for_host(target)
            settings['alias'] = target.name
            if args.user:
                settings['user'] = args.user
            if target.user:
                settings['user'] = target.user
            if args.port:
                settings['port'] = args.port
            if target.port:
                settings['port'] = target.port
            if args.identity:
                settings['private_key'] = os.path.expanduser(args.identity)
            if args.jump:
                settings['proxy_jump'] = [hop for hop in args.jump.split(',') if hop]
            if args.host_key_policy:
                settings['host_key_policy'] = args.host_key_policy
            configs.append(HostConfig(**settings))
        if args.config is None:
            ssh_config: Any = True
        elif args.config == 'none':
            ssh_config = None
        else:
            ssh_config = args.config
        return ParallelSSHClient(
            [t.host for t in self.targets], host_config=configs, pool_size=args.fanout,
            timeout=args.connect_timeout, num_retries=args.retries + 1, retry_delay=1,
            ssh_config=ssh_config)

    def read_stdin(self) -> None:
        args = self.args
        stdin = sys.stdin
        tty = stdin is not None and stdin.isatty()
        if args.sudo:
            if tty:
                password = getpass.getpass('[pssh] sudo password: ')
            else:
                # As sudo -S: the first line of standard input is the password.
                line = stdin.buffer.readline() if stdin is not None else b''
                password = line.rstrip(b'\r\n').decode('utf-8', 'surrogateescape')
            self.sudo_password = password.encode('utf-8', 'surrogateescape')
        if args.no_stdin or tty or stdin is None or args.host_files == ['-']:
            return
        try:
            data = stdin.buffer.read()
        except (OSError, ValueError):
            return
        self.stdin_data = data or None

    # -- signals -------------------------------------------------------------

    def on_interrupt(self) -> None:
        self.interrupts += 1
        if self.interrupts == 1:
            running = [r.name for r in self.results if not r.done]
            self.display.notice('%d host(s) still running: %s (Ctrl-C again to stop them)'
                                % (len(running), self.display.fold(running)))
            return
        self.display.notice('stopping')
        self.abort()

    def abort(self) -> None:
        if self.aborted:
            return
        self.aborted = True
        for result, host_out in zip(self.results, self.outputs):
            if not result.done and host_out is not None and host_out.channel is not None:
                gevent.spawn(_close_quietly, host_out)
        if self.job is not None:
            self.job.kill(_Abort, block=False)
        for worker in self.workers:
            worker.kill(_Abort, block=False)

    # -- running -------------------------------------------------------------

    def command_line(self) -> str:
        words = list(self.args.command)
        if words[:1] == ['--']:
            words = words[1:]
        command = ' '.join(words)
        if self.args.sudo:
            token = secrets.token_hex(8)
            self.prompt = ('[pssh-sudo-%s] ' % token).encode()
            self.mark = ('pssh-started-%s\n' % token).encode()
            inner = "echo pssh-started-%s >&2; %s" % (token, command)
            command = 'sudo -S -p %s $SHELL -c %s' % (
                shlex.quote(self.prompt.decode()), shlex.quote(inner))
        return command

    def run_command(self, client: Any) -> None:
        command = self.command_line()
        started = time.monotonic()
        for result in self.results:
            result.started = started
        output = client.run_command(command, stop_on_errors=False, buffer_limit=BUFFER_LIMIT)
        self.outputs = list(output)
        for result, host_out in zip(self.results, self.outputs):
            if host_out.exception is not None:
                self.finish_host(result, error=host_out.exception)
            else:
                self.workers.append(gevent.spawn(self.host_worker, result, host_out))
        gevent.joinall(self.workers)

    def host_worker(self, result: HostResult, host_out: Any) -> None:
        timeout = gevent.Timeout(self.args.command_timeout) if self.args.command_timeout else None
        if timeout is not None:
            timeout.start()
        feeder = None
        started_event = Event()
        sudo_filter = _SudoFilter(self.prompt, self.mark) if self.args.sudo else None
        err_reader = gevent.spawn(self.read_stderr, result, host_out, sudo_filter, started_event)
        try:
            if not self.args.sudo:
                started_event.set()
            feeder = gevent.spawn(self.feed_stdin, host_out, started_event)
            _pump(host_out.buffers.stdout.rw_buffer, self.display.stdout_writer(result))
            err_reader.join()
            host_out.client.wait_finished(host_out)
            code = host_out.exit_code
            if code is None:
                signal_name = host_out.exit_signal
                self.finish_host(result, error=SSHError(
                    'no exit status%s' % (' (killed by %s)' % signal_name if signal_name else '')))
            else:
                self.finish_host(result, exit_code=code)
        except gevent.Timeout as fired:
            if fired is not timeout:
                raise
            self.stop_host(host_out)
            self.finish_host(result, timed_out=True)
        except _Abort:
            self.stop_host(host_out)
            self.finish_host(result, interrupted=True)
        except Exception as error:  # noqa: BLE001 - reported for the host
            self.stop_host(host_out)
            self.finish_host(result, error=error)
        finally:
            if timeout is not None:
                timeout.close()
            err_reader.kill(block=False)
            if feeder is not None:
                feeder.kill(block=False)
            self.display.flush_host(result)

    def stop_host(self, host_out: Any) -> None:
        # Closing waits for the server's answer, which some servers send only
        # once the command has ended: close in the background, do not wait.
        gevent.spawn(_close_quietly, host_out)

    def read_stderr(self, result: HostResult, host_out: Any, sudo_filter: Optional[_SudoFilter],
                    started_event: Any) -> None:
        write = self.display.stderr_writer(result)
        if sudo_filter is None:
            _pump(host_out.buffers.stderr.rw_buffer, write)
            return

        def handle(chunk: bytes) -> None:
            for item in sudo_filter.feed(chunk):
                if item == 'prompt':
                    if sudo_filter.prompts == 1 and self.sudo_password is not None:
                        gevent.spawn(self._write_stdin, host_out, self.sudo_password + b'\n')
                    else:
                        # A second prompt: the password was refused. No more tries.
                        gevent.spawn(self._close_stdin, host_out)
                elif item == 'started':
                    started_event.set()
                else:
                    write(item)
        _pump(host_out.buffers.stderr.rw_buffer, handle)
        if sudo_filter.pending:
            write(sudo_filter.pending)

    def _write_stdin(self, host_out: Any, data: bytes) -> None:
        try:
            host_out.stdin.write(data)
        except Exception:  # noqa: BLE001 - the command has ended: nothing to tell
            pass

    def _close_stdin(self, host_out: Any) -> None:
        try:
            host_out.stdin.close()
        except Exception:  # noqa: BLE001
            pass

    def feed_stdin(self, host_out: Any, started_event: Any) -> None:
        started_event.wait()
        if self.stdin_data:
            self._write_stdin(host_out, self.stdin_data)
        self._close_stdin(host_out)

    def finish_host(self, result: HostResult, exit_code: Optional[int] = None,
                    error: Optional[BaseException] = None, timed_out: bool = False,
                    interrupted: bool = False) -> None:
        if result.done:
            return
        result.ended = time.monotonic()
        result.exit_code = exit_code
        if error is not None:
            result.error = error
            result.reason = describe_error(error)
            result.status = RC_UNREACHABLE
        elif timed_out:
            result.reason = 'timed out after %gs' % self.args.command_timeout
            result.error = Timeout('Command on %s did not finish within %s seconds',
                                   result.name, self.args.command_timeout)
            result.status = RC_TIMEOUT
        elif interrupted:
            result.reason = 'stopped'
            result.status = RC_INTERRUPTED
        else:
            assert exit_code is not None
            result.status = exit_code
            result.reason = 'exit %d' % exit_code if exit_code else ''
        result.done = True
        self.display.host_done(result)
        if self.args.fail_fast and result.status and not self.aborted:
            self.stopping_for = result
            gevent.spawn(self.abort)

    # -- copies --------------------------------------------------------------

    def copy(self, client: Any) -> None:
        args = self.args
        started = time.monotonic()
        for result in self.results:
            result.started = started
        if args.put:
            local, remote = args.put
            method = client.scp_send if args.scp else client.copy_file
            greenlets = method(local, remote, recurse=args.recursive)
        else:
            remote, local_dir = args.get
            target = os.path.join(local_dir, os.path.basename(remote.rstrip('/')) or 'root')
            # One file per host, named after the host as shown (suffix _NAME).
            copy_args = [{'local_file': '%s_%s' % (target, t.name.replace('/', '_')),
                          'remote_file': remote} for t in self.targets]
            if args.scp:
                greenlets = client.scp_recv('%(remote_file)s', '%(local_file)s',
                                            recurse=args.recursive, copy_args=copy_args)
            else:
                greenlets = client.copy_remote_file('%(remote_file)s', '%(local_file)s',
                                                    recurse=args.recursive,
                                                    copy_args=copy_args)
        self.workers = [gevent.spawn(self.copy_worker, result, greenlet)
                        for result, greenlet in zip(self.results, greenlets)]
        gevent.joinall(self.workers)

    def copy_worker(self, result: HostResult, greenlet: Any) -> None:
        try:
            greenlet.get()
        except _Abort:
            greenlet.kill(block=False)
            self.finish_host(result, interrupted=True)
        except Exception as error:  # noqa: BLE001 - reported for the host
            self.finish_host(result, error=error)
            if not _unreachable(error):
                result.status = RC_COPY_FAILED
                result.reason = 'copy failed'
        else:
            self.finish_host(result, exit_code=0)

    # -- the whole run -------------------------------------------------------

    def main(self) -> int:
        args = self.args
        self.display.start()
        client = self.client()
        handler = gevent.signal_handler(signal.SIGINT, self.on_interrupt)
        _quiet_host_errors()
        try:
            self.job = gevent.spawn(self._guarded,
                                    self.copy if (args.put or args.get) else self.run_command,
                                    client)
            self.job.join()
            if self.job_error is not None:
                raise self.job_error
            for result in self.results:
                if not result.done:
                    self.finish_host(result, interrupted=True)
        finally:
            handler.cancel()
        self.display.finish(self.results)
        return self.exit_status()

    def _guarded(self, function: Any, client: Any) -> None:
        # Errors go back to the main greenlet, not to gevent's report.
        try:
            function(client)
        except Exception as error:  # noqa: BLE001 - raised again by main()
            self.job_error = error

    def exit_status(self) -> int:
        if self.display.broken:
            return RC_BROKEN_PIPE
        if self.interrupts >= 2:
            return RC_INTERRUPTED
        if self.stopping_for is not None:
            return self.stopping_for.status or 1
        statuses = [r.status for r in self.results]
        if self.args.rc_mode == 'any' and any(s == 0 for s in statuses):
            return 0
        return max(statuses, default=0)


def _quiet_host_errors() -> None:
    """The copy greenlets of the library end with their host's error, which
    gevent would print with a traceback: we report those per host instead."""
    from ..exceptions import PsshError
    hub = gevent.get_hub()
    shown = hub.print_exception

    def print_exception(context: Any, kind: Any, value: Any, tb: Any) -> None:
        if isinstance(value, (PsshError, OSError)):
            return
        shown(context, kind, value, tb)
    hub.print_exception = print_exception


def _close_quietly(host_out: Any) -> None:
    try:
        host_out.client.close_channel(host_out.channel)
    except Exception:  # noqa: BLE001 - the host is being left anyway
        pass


def _unreachable(error: BaseException) -> bool:
    return isinstance(error, (ConnectionError, UnknownHostError, AuthenticationError,
                              HostKeyError, ProxyError, Timeout))


def run(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    """Run the command line ``args``; returns the exit status."""
    prog = parser.prog
    try:
        command = [w for w in args.command if w != '--'] if args.command[:1] == ['--'] \
            else args.command
        copying = bool(args.put or args.get)
        if args.put and args.get:
            raise UsageError('give --put or --get, not both')
        if copying and command:
            raise UsageError('a copy (--put/--get) takes no command: %r'
                             % ' '.join(command))
        if not copying and not command:
            raise UsageError('no command: give it after the targets, e.g. '
                             '"pssh -H host -- uptime"')
        if args.diff and not args.fold:
            args.fold = True
        if args.json and args.fold:
            raise UsageError('--json and -b/--diff are different outputs: choose one')
        if copying and args.sudo:
            raise UsageError('--sudo runs commands; it does not apply to copies')
        if args.put:
            local = args.put[0]
            if not os.path.exists(local):
                raise UsageError('--put: %s: no such file or directory' % local)
            if os.path.isdir(local) and not args.recursive:
                raise UsageError('--put: %s is a directory: add -r' % local)
        if args.get and not os.path.isdir(args.get[1]):
            raise UsageError('--get: %s is not a directory' % args.get[1])
        targets = resolve_targets(args)
        if not targets:
            raise UsageError('no hosts: give some with -H NODESET or -h FILE')
        for directory in (args.outdir, args.errdir):
            if directory:
                os.makedirs(directory, exist_ok=True)
        if args.verbose:
            from ..utils import enable_logger
            from .. import logger
            enable_logger(logger, logging.DEBUG if args.verbose > 1 else logging.INFO)
        job = Run(args, targets)
        if not copying:
            job.read_stdin()
        return job.main()
    except UsageError as error:
        sys.stderr.write('%s: %s\n' % (prog, error))
        return 2
    except BrokenPipeError:
        # Our output was closed (| head): stop quietly, as cat would.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return RC_BROKEN_PIPE
    except KeyboardInterrupt:
        return RC_INTERRUPTED
    except Exception as error:  # noqa: BLE001 - settings refused by the library
        from ..exceptions import HostConfigError, InvalidAPIUseError, PKeyFileError
        if isinstance(error, (HostConfigError, InvalidAPIUseError, PKeyFileError, ValueError)):
            sys.stderr.write('%s: %s\n' % (prog, error_message(error)))
            return 2
        raise
