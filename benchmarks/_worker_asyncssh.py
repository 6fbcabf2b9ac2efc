"""Benchmark worker for asyncssh (run with ``benchmarks/.venvs/asyncssh``).

Does the same work as ``_worker_pssh.py``: connect and authenticate to every
host with the same ed25519 key (no agent, no other identities, no host key
checking), start the command, read each host's stdout line by line in host
order, wait for the exit status, disconnect. Connecting and starting the
command is bounded by a semaphore of ``pool_size`` (the same limit as the
pssh clients' greenlet pool, 100 by default), and the connections are made
concurrently with ``asyncio.gather``.
"""
import asyncio
import gc
import sys

from _workerlib import Meter, emit, load_spec

spec = load_spec()

import asyncssh  # noqa: E402


async def bench():
    n = spec['hosts']
    ports = spec['ports']
    pool = asyncio.Semaphore(spec.get('pool_size') or 100)

    async def start(index):
        async with pool:
            conn = await asyncssh.connect(
                spec['address'], port=ports[index % len(ports)], username=spec['user'],
                client_keys=[spec['key']], known_hosts=None, agent_path=None,
                config=None)
            proc = await conn.create_process(spec['command'])
            return conn, proc

    meter = Meter()
    started = await asyncio.gather(*(start(i) for i in range(n)))
    meter.mark('run_command')
    lines = 0
    nbytes = 0
    per_host = []
    for _conn, proc in started:
        h_lines = 0
        h_bytes = 0
        async for line in proc.stdout:
            if not line:
                continue  # asyncssh's iterator may end with '' at EOF
            h_lines += 1
            h_bytes += len(line)  # lines keep their newline
        per_host.append((h_lines, h_bytes))
        lines += h_lines
        nbytes += h_bytes
    meter.mark('read')
    exit_codes = []
    for _conn, proc in started:
        await proc.wait_closed()
        exit_codes.append(proc.exit_status)
    meter.mark('join')
    for conn, _proc in started:
        conn.close()
    await asyncio.gather(*(conn.wait_closed() for conn, _proc in started))
    meter.stop()

    bad_hosts = [i for i, counts in enumerate(per_host) if counts != per_host[0]]
    return meter.result(
        lines=lines, bytes=nbytes, hosts=n,
        exit_codes_ok=all(code == 0 for code in exit_codes),
        exit_codes_sample=sorted(set(map(str, exit_codes)))[:5],
        uneven_hosts=len(bad_hosts),
        library='asyncssh %s' % asyncssh.__version__,
        module=asyncssh.__file__,
        pool_size=spec.get('pool_size') or 100,
        python=sys.version.split()[0],
    )


def main():
    gc.collect()
    emit(asyncio.run(bench()))


if __name__ == '__main__':
    main()
