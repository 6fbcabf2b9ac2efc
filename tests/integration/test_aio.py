"""pssh.aio: the asyncio clients, against real OpenSSH servers, on both backends.

What only the asyncio clients have: awaiting, ``async for`` over output,
cancellation (``asyncio.timeout``, ``task.cancel()``) that stops what was
awaited and closes what it opened, loops in other threads and uvloop, an
import that changes nothing global, and a loop that is never blocked. The
behaviours they share with the gevent clients are also run through the
integration suite's own tests (see tests/aio_shim.py).
"""
import asyncio
import gc
import hashlib
import importlib
import os
import subprocess
import sys
import threading
import time

import pytest

from pssh.config import HostConfig
from pssh.exceptions import (
    AuthenticationError, HostConnectionRefusedError, SFTPIOError, Timeout, UnknownHostError)
from pssh.testing import FaultProxy, OpenSSHServer, start_servers

AIO_MODULES = {'native': 'pssh.aio', 'ssh': 'pssh.aio.ssh'}


@pytest.fixture(params=list(AIO_MODULES))
def aio(request):
    """The asyncio clients of one backend (the module pssh.aio or pssh.aio.ssh)."""
    return importlib.import_module(AIO_MODULES[request.param])


def run(coro, timeout=60):
    """Run ``coro`` in a new loop, with a deadline so that a hang fails."""
    async def bounded():
        async with asyncio.timeout(timeout):
            return await coro
    return asyncio.run(bounded())


async def until(predicate, timeout=20.0, what='the condition'):
    """Poll ``predicate`` (a filesystem or process condition the test cannot
    be told of) until true; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError('timed out waiting for %s' % what)
        await asyncio.sleep(0.01)


async def lines(stream):
    return [line async for line in stream]


# ----------------------------------------------------------------------
# Importing changes nothing.

def test_import_changes_nothing_global():
    code = '''
import asyncio, select, socket, ssl, threading, time
before = (threading.active_count(), socket.socket, select.select, time.sleep, ssl.SSLSocket,
          type(asyncio.get_event_loop_policy()), threading.Thread.start)
import pssh.aio, pssh.aio.ssh
import gevent.monkey
after = (threading.active_count(), socket.socket, select.select, time.sleep, ssl.SSLSocket,
         type(asyncio.get_event_loop_policy()), threading.Thread.start)
assert before == after, (before, after)
assert not gevent.monkey.is_anything_patched()
print('ok', threading.active_count())
'''
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ['ok', '1']


# ----------------------------------------------------------------------
# Commands and output.

def test_run_command_output_and_exit_codes(aio, server, client_kwargs):
    async def main():
        async with aio.ParallelSSHClient([server.host] * 3, **client_kwargs) as client:
            output = await client.run_command('echo out-%s; echo err >&2; exit %s',
                                              host_args=[(1, 0), (2, 3), (3, 7)])
            assert [type(o).__name__ for o in output] == ['HostOutput'] * 3
            got = [(await lines(o.stdout), await lines(o.stderr)) for o in output]
            await client.join(output)
            return got, [o.exit_code for o in output], [o.exception for o in output]
    got, codes, errors = run(main())
    assert got == [(['out-1'], ['err']), (['out-2'], ['err']), (['out-3'], ['err'])]
    assert codes == [0, 3, 7]
    assert errors == [None, None, None]


def test_single_client(aio, server, client_kwargs):
    async def main():
        client = aio.SSHClient(server.host, **client_kwargs)
        assert not client.connected
        async with client:
            assert client.connected
            assert client.user == server.user  # the core's settings, read through
            host_out = await client.run_command('printf "a\\nb"; exit 4')
            await client.wait_finished(host_out)
            got = await lines(host_out.stdout)
            assert host_out.client is client
        return got, host_out.exit_code, client.connected
    assert run(main()) == (['a', 'b'], 4, False)


def test_stdin_write_and_close(aio, server, client_kwargs):
    async def main():
        async with aio.ParallelSSHClient([server.host] * 2, **client_kwargs) as client:
            output = await client.run_command('cat; echo done')
            for index, host_out in enumerate(output):
                await host_out.stdin.write('line %d\n' % index)
                await host_out.stdin.write(b'bytes\n')
                await host_out.stdin.close()
            await client.join(output)
            return [await lines(o.stdout) for o in output], [o.exit_code for o in output]
    assert run(main()) == ([['line 0', 'bytes', 'done'], ['line 1', 'bytes', 'done']], [0, 0])


def test_join_timeout_gives_our_outputs_and_can_be_retried(aio, server, client_kwargs):
    async def main():
        async with aio.ParallelSSHClient([server.host] * 2, **client_kwargs) as client:
            output = await client.run_command('echo start; read x; echo end $x')
            with pytest.raises(Timeout) as caught:
                await client.join(output, timeout=0.2)
            message, timeout, finished, unfinished = caught.value.args
            assert timeout == 0.2 and finished == [] and unfinished == output
            for host_out in output:
                await host_out.stdin.write('go\n')
            await client.join(output, timeout=20)
            return [await lines(o.stdout) for o in output]
    assert run(main()) == [['start', 'end go']] * 2


def test_read_timeout_and_an_interrupted_iterator_lose_nothing(aio, server, client_kwargs):
    async def main():
        async with aio.SSHClient(server.host, **client_kwargs) as client:
            host_out = await client.run_command('seq 1 3; read x; seq 4 6', read_timeout=0.3)
            got = []
            with pytest.raises(Timeout) as caught:
                async for line in host_out.stdout:
                    got.append(line)
            assert 'stdout of %s' % server.host in str(caught.value)
            # An iterator cancelled while it waits loses nothing either.
            stream = host_out.stdout
            with pytest.raises(TimeoutError):
                async with asyncio.timeout(0.1):
                    await stream.__anext__()
            await host_out.stdin.write('\n')
            got += await lines(host_out.stdout)
            await client.wait_finished(host_out)
            return got
    assert run(main()) == ['1', '2', '3', '4', '5', '6']


def test_open_shell(aio, server, client_kwargs):
    async def main():
        async with aio.ParallelSSHClient([server.host] * 2, **client_kwargs) as client:
            shells = await client.open_shell()
            await client.run_shell_commands(shells, ['echo one', 'echo two'])
            await client.join_shells(shells, timeout=20)
            return [await lines(shell.stdout) for shell in shells], \
                [shell.exit_code for shell in shells]
    assert run(main()) == ([['one', 'two']] * 2, [0, 0])


# ----------------------------------------------------------------------
# Errors: the same classes, raised or in HostOutput.exception.

def test_errors(aio, server, client_kwargs, tmp_path, make_key):
    other_key = make_key(tmp_path / 'id_other')

    async def main():
        client = aio.ParallelSSHClient(['nohost.invalid'], **client_kwargs)
        with pytest.raises(UnknownHostError) as unknown:
            await client.run_command('echo x')
        assert 'nohost.invalid' in str(unknown.value)
        hosts = [server.host, 'nohost.invalid', server.host]
        config = [HostConfig(port=server.port), HostConfig(port=server.port),
                  HostConfig(port=server.port, private_key=other_key)]
        client = aio.ParallelSSHClient(hosts, host_config=config, **client_kwargs)
        output = await client.run_command('echo ok', stop_on_errors=False)
        await client.join(output)
        got = [(type(o.exception).__name__, o.stdout and await lines(o.stdout))
               for o in output]
        await client.close()
        single = aio.SSHClient(server.host, **dict(client_kwargs, port=1))
        with pytest.raises(HostConnectionRefusedError):
            await single.run_command('echo x')
        with pytest.raises(AuthenticationError):
            await aio.SSHClient(server.host, **dict(client_kwargs, pkey=other_key)).connect()
        return got
    assert run(main()) == [('NoneType', ['ok']), ('UnknownHostError', None),
                           ('AuthenticationError', None)]


def test_arguments_are_the_gevent_clients(aio):
    import inspect
    core = importlib.import_module(AIO_MODULES and {
        'pssh.aio': 'pssh.clients.native', 'pssh.aio.ssh': 'pssh.clients.ssh'}[aio.__name__])
    assert inspect.signature(aio.ParallelSSHClient) == inspect.signature(core.ParallelSSHClient)
    assert inspect.signature(aio.SSHClient) == inspect.signature(core.SSHClient)
    with pytest.raises(TypeError):
        aio.SSHClient('host', no_such_argument=1)
    with pytest.raises(TypeError):
        aio.ParallelSSHClient(['host'], no_such_argument=1)


def test_gevent_only_methods_say_so(aio, server, client_kwargs):
    async def main():
        async with aio.ParallelSSHClient([server.host], **client_kwargs) as client:
            assert client.pool_size == 100
            with pytest.raises(AttributeError, match='not available on the asyncio client'):
                assert client.reset_output_generators is None  # raises first
            with pytest.raises(TypeError, match='pssh.aio HostOutput'):
                await client.join([object()])
    run(main())


# ----------------------------------------------------------------------
# Copies.

def test_copies(aio, server, client_kwargs, tmp_path):
    data = os.urandom(300_000)
    local = tmp_path / 'src.bin'
    local.write_bytes(data)
    remote = tmp_path / 'remote'

    async def main():
        async with aio.ParallelSSHClient([server.host] * 2, **client_kwargs) as client:
            await client.copy_file(str(local), str(remote / 'sftp_%s.bin'),
                                   copy_args=[(0,), (1,)])
            await client.scp_send(str(local), str(remote / 'scp.bin'))
            await client.copy_remote_file(str(remote / 'sftp_0.bin'), str(tmp_path / 'back'))
            await client.scp_recv(str(remote / 'scp.bin'), str(tmp_path / 'scpback'))
            with pytest.raises(SFTPIOError) as missing:
                await client.copy_remote_file(str(remote / 'missing'), str(tmp_path / 'x'))
            assert str(remote / 'missing') in str(missing.value)
        async with aio.SSHClient(server.host, **client_kwargs) as single:
            await single.copy_file(str(local), str(remote / 'single.bin'))
            await single.copy_remote_file(str(remote / 'single.bin'), str(tmp_path / 'one'))
    run(main())
    for path in ('remote/sftp_0.bin', 'remote/sftp_1.bin', 'remote/scp.bin', 'one',
                 'back_%s' % server.host, 'scpback_%s' % server.host):
        assert (tmp_path / path).read_bytes() == data, path


# ----------------------------------------------------------------------
# Cancellation: what was awaited stops, what it opened is closed, the client
# goes on working.

def test_cancelled_join_leaves_the_client_usable(aio, server, client_kwargs):
    async def main():
        async with aio.ParallelSSHClient([server.host] * 2, **client_kwargs) as client:
            output = await client.run_command('read x; echo got $x')
            with pytest.raises(TimeoutError):
                async with asyncio.timeout(0.2):
                    await client.join(output)
            for host_out in output:
                await host_out.stdin.write('it\n')
            await client.join(output)
            return [await lines(o.stdout) for o in output]
    assert run(main()) == [['got it']] * 2


def test_cancelled_run_command_closes_the_commands_it_started(aio, server, client_kwargs,
                                                             tmp_path):
    """One host starts its command, the other hangs in the handshake; the
    run is cancelled: the started command's channel is closed (its ``cat``
    sees end of input), and the client runs the next command."""
    started, ended = tmp_path / 'started', tmp_path / 'ended'
    command = 'touch %s; cat; touch %s' % (started, ended)
    with FaultProxy(server.host, server.port) as proxy:
        proxy.stall()
        config = [HostConfig(port=server.port), HostConfig(port=proxy.port)]

        async def main():
            client = aio.ParallelSSHClient([server.host, proxy.host], host_config=config,
                                           **dict(client_kwargs, timeout=30))
            task = asyncio.create_task(client.run_command(command))
            await until(started.exists, what='the first host to start its command')
            began = time.monotonic()
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            took = time.monotonic() - began
            await until(ended.exists, what="the started command's channel to close")
            proxy.resume()
            output = await client.run_command('echo again')
            await client.join(output)
            got = [await lines(o.stdout) for o in output]
            await client.close()
            return took, got
        took, got = run(main())
    assert took < 10  # not the client's 30 s timeout
    assert got == [['again'], ['again']]


def test_cancelled_copy_stops_and_the_client_goes_on(aio, server, client_kwargs, tmp_path):
    local = tmp_path / 'big.bin'
    local.write_bytes(os.urandom(4 * 1024 * 1024))
    with FaultProxy(server.host, server.port) as proxy:
        async def main():
            async with aio.SSHClient(proxy.host, **dict(client_kwargs, port=proxy.port)) as c:
                proxy.set_bandwidth(256 * 1024, 'upstream')  # 16 s for the file
                before = proxy.forwarded('upstream')
                task = asyncio.create_task(c.copy_file(str(local), str(tmp_path / 'copy')))
                await until(lambda: proxy.forwarded('upstream') > before + 300_000,
                            what='the copy to be under way')
                task.cancel()
                with pytest.raises(asyncio.CancelledError):
                    await task
                proxy.set_bandwidth(None)
                host_out = await c.run_command('echo still here')
                return await lines(host_out.stdout)
        assert run(main()) == ['still here']


def test_cancelled_copy_closes_its_sftp_channel(aio, tmp_path):
    """The server's SFTP subsystem is a separate ``sftp-server`` here, which
    ends when its channel closes: cancelling a copy ends it while the client
    stays connected (and then copies again)."""
    ended = tmp_path / 'sftp-ended'
    wrapper = tmp_path / 'sftp-wrapper'
    wrapper.write_text('#!/bin/sh\n/usr/lib/openssh/sftp-server "$@"\necho $? > %s\n' % ended)
    wrapper.chmod(0o755)
    local = tmp_path / 'big.bin'
    local.write_bytes(os.urandom(4 * 1024 * 1024))
    with OpenSSHServer(extra_config={'Subsystem': 'sftp %s' % wrapper}) as server, \
            FaultProxy(server.host, server.port) as proxy:
        async def main():
            async with aio.SSHClient(proxy.host, port=proxy.port, user=server.user,
                                     pkey=server.user_key, num_retries=1, timeout=10,
                                     allow_agent=False, identity_auth=False) as client:
                proxy.set_bandwidth(256 * 1024, 'upstream')  # 16 s for the file
                before = proxy.forwarded('upstream')
                task = asyncio.create_task(client.copy_file(str(local), str(tmp_path / 'copy')))
                await until(lambda: proxy.forwarded('upstream') > before + 300_000,
                            what='the copy to be under way')
                assert not ended.exists()
                task.cancel()
                with pytest.raises(asyncio.CancelledError):
                    await task
                proxy.set_bandwidth(None)
                await until(ended.exists, what='sftp-server to see its channel closed')
                ended.unlink()
                await client.copy_file(str(local), str(tmp_path / 'again'))
                host_out = await client.run_command('echo still here')
                return await lines(host_out.stdout)
        assert run(main()) == ['still here']
    assert (tmp_path / 'again').read_bytes() == local.read_bytes()


# ----------------------------------------------------------------------
# Any loop: another thread, uvloop.

def test_loop_in_another_thread(aio, server, client_kwargs):
    results = []

    def thread_main():
        async def main():
            async with aio.ParallelSSHClient([server.host] * 2, **client_kwargs) as client:
                output = await client.run_command('echo from-thread')
                return [await lines(o.stdout) for o in output]
        try:
            results.append(run(main()))
        except BaseException as exc:  # reported below
            results.append(exc)
    thread = threading.Thread(target=thread_main)
    thread.start()
    thread.join(90)
    assert not thread.is_alive()
    assert results == [[['from-thread'], ['from-thread']]]


def test_uvloop(aio, server, client_kwargs):
    uvloop = pytest.importorskip('uvloop')

    async def main():
        assert type(asyncio.get_running_loop()).__module__.startswith('uvloop')
        async with aio.ParallelSSHClient([server.host] * 2, **client_kwargs) as client:
            output = await client.run_command('echo uv')
            await client.join(output)
            return [await lines(o.stdout) for o in output]
    loop = uvloop.new_event_loop()
    try:
        assert loop.run_until_complete(asyncio.wait_for(main(), 60)) == [['uv'], ['uv']]
    finally:
        loop.close()


def test_two_loops_at_once(aio, server, client_kwargs):
    """Clients in two loops in two threads share the hub without mixing up."""
    results = {}

    def thread_main(name):
        async def main():
            async with aio.SSHClient(server.host, **client_kwargs) as client:
                out = await client.run_command('for i in 1 2 3; do echo %s$i; done' % name)
                return await lines(out.stdout)
        results[name] = run(main())
    threads = [threading.Thread(target=thread_main, args=(name,)) for name in 'ab']
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(90)
    assert results == {'a': ['a1', 'a2', 'a3'], 'b': ['b1', 'b2', 'b3']}


# ----------------------------------------------------------------------
# The loop is never blocked.
#
# A heartbeat task wakes every 10 ms and records how late it woke. On this
# shared 2-core machine the operating system alone makes a waiting process
# late by tens of milliseconds while 300 sshd sessions start, so the same
# heartbeat runs meanwhile in a separate plain asyncio process (no pssh): the
# bound is 50 ms beyond the worst lateness that process saw at the same time.

HEARTBEAT = """
import asyncio, sys, threading
async def main():
    loop = asyncio.get_running_loop()
    done = asyncio.Event()
    threading.Thread(target=lambda: (sys.stdin.read(), loop.call_soon_threadsafe(done.set)),
                     daemon=True).start()
    worst = 0.0
    print('ready', flush=True)
    while not done.is_set():
        due = loop.time() + 0.01
        await asyncio.sleep(0.01)
        worst = max(worst, loop.time() - due)
    print(worst)
asyncio.run(main())
"""


class Heartbeat:
    """A task that wakes every 10 ms and records how late it woke."""

    def __init__(self):
        self.worst = 0.0
        self.beats = 0

    async def run(self):
        loop = asyncio.get_running_loop()
        while True:
            due = loop.time() + 0.01
            await asyncio.sleep(0.01)
            self.worst = max(self.worst, loop.time() - due)
            self.beats += 1


async def with_heartbeat(work):
    """Await ``work`` with a heartbeat here and one in a separate process;
    returns (heartbeat, the other process's worst lateness, result)."""
    control = subprocess.Popen([sys.executable, '-c', HEARTBEAT], stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, text=True)
    # The test process's own heap (pytest, its plugins, the modules of the
    # suite) is set aside from the collector, as a latency-minded program
    # would: a full collection would otherwise walk it, holding up every
    # thread of the process for tens of milliseconds, whoever allocated.
    # What the work allocates is collected as usual.
    gc.collect()
    gc.freeze()
    try:
        assert control.stdout.readline().strip() == 'ready'
        beat = Heartbeat()
        task = asyncio.create_task(beat.run())
        try:
            result = await work
        finally:
            task.cancel()
        out, _ = control.communicate('', timeout=30)
    finally:
        gc.unfreeze()
        if control.poll() is None:
            control.kill()
            control.wait()
    return beat, float(out), result


SCALE_ADDRESSES = ['127.0.0.1', '127.0.0.2', '127.0.0.3', '127.0.0.4']

# Beside three other test workers on 2 cores the operating system keeps this
# process off the CPU for tens of milliseconds at a time (more than the plain
# asyncio process, which needs almost no CPU), so these run by themselves:
# ``bash run.sh test`` runs the tests marked ``alone`` after the others.
latency_test = pytest.mark.alone


@pytest.fixture(scope='module')
def scale_servers():
    with start_servers(len(SCALE_ADDRESSES), addresses=SCALE_ADDRESSES,
                       reexec=False) as group:
        yield group


@latency_test
@pytest.mark.slow(15)
def test_loop_never_blocked_during_a_300_host_fan_out(aio, scale_servers):
    servers = list(scale_servers)
    key = servers[0].user_key
    hosts = [servers[i % len(servers)].host for i in range(300)]
    config = [HostConfig(port=servers[i % len(servers)].port) for i in range(300)]

    async def fan_out():
        async with aio.ParallelSSHClient(hosts, host_config=config, user=servers[0].user,
                                         pkey=key, num_retries=1, timeout=60,
                                         allow_agent=False, identity_auth=False) as client:
            output = await client.run_command('echo ok')
            got = [await lines(o.stdout) for o in output]
            await client.join(output)
            return got, {o.exit_code for o in output}
    beat, machine, (got, codes) = run(with_heartbeat(fan_out()), timeout=180)
    assert got == [['ok']] * 300 and codes == {0}
    assert beat.beats > 10
    assert beat.worst < 0.05 + machine, 'the loop was late by %.3f s (another process: %.3f s)' % (
        beat.worst, machine)


@latency_test
@pytest.mark.slow(15)
def test_loop_never_blocked_during_a_200_mb_copy(aio, server, client_kwargs, tmp_path):
    local = tmp_path / 'big.bin'
    block = os.urandom(1024 * 1024)
    digest = hashlib.sha256()
    with open(local, 'wb') as out:
        for _ in range(200):
            out.write(block)
            digest.update(block)

    async def copy():
        async with aio.SSHClient(server.host, **dict(client_kwargs, timeout=120)) as client:
            await client.copy_file(str(local), str(tmp_path / 'copy.bin'))
    beat, machine, _ = run(with_heartbeat(copy()), timeout=300)
    copied = hashlib.sha256()
    with open(tmp_path / 'copy.bin', 'rb') as stream:
        for chunk in iter(lambda: stream.read(1 << 20), b''):
            copied.update(chunk)
    assert copied.hexdigest() == digest.hexdigest()
    assert beat.beats > 10
    assert beat.worst < 0.05 + machine, 'the loop was late by %.3f s (another process: %.3f s)' % (
        beat.worst, machine)
