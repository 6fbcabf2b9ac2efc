"""Benchmark worker for ``pssh.aio.ParallelSSHClient`` (the ``ours-aio`` client).

The same work as ``_worker_pssh.py``'s ``run`` mode, written as an asyncio
program would: ``await client.run_command``, ``async for line in
host_out.stdout`` in host order, ``await client.join``, ``await
client.close()``, inside ``asyncio.run``. The loop is made before the clock
starts (as the gevent worker makes its hub); the pssh.aio hub thread starts
with the client, inside the measured region.
"""
import asyncio
import gc
import inspect
import os
import sys

from _workerlib import Meter, emit, load_spec

spec = load_spec()

import pssh  # noqa: E402
from pssh.aio import ParallelSSHClient, SSHClient  # noqa: E402
from pssh.config import HostConfig  # noqa: E402


async def bench():
    n = spec['hosts']
    ports = spec['ports']
    kwargs = dict(user=spec['user'], pkey=spec['key'], num_retries=1,
                  allow_agent=False, identity_auth=False)
    if spec.get('pool_size'):
        kwargs['pool_size'] = spec['pool_size']
    gc.collect()

    meter = Meter()
    host_config = [HostConfig(port=ports[i % len(ports)]) for i in range(n)]
    client = ParallelSSHClient([spec['address']] * n, host_config=host_config, **kwargs)
    output = await client.run_command(spec['command'])
    meter.mark('run_command')
    lines = 0
    nbytes = 0
    per_host = []
    for host_out in output:
        h_lines = 0
        h_bytes = 0
        async for line in host_out.stdout:
            h_lines += 1
            h_bytes += len(line) + 1  # lines come without their newline
        per_host.append((h_lines, h_bytes))
        lines += h_lines
        nbytes += h_bytes
    meter.mark('read')
    await client.join(output)
    exit_codes = [host_out.exit_code for host_out in output]
    meter.mark('join')
    await client.close()
    meter.stop()

    bad_hosts = [i for i, counts in enumerate(per_host) if counts != per_host[0]]
    return meter.result(
        lines=lines, bytes=nbytes, hosts=n,
        exit_codes_ok=all(code == 0 for code in exit_codes),
        exit_codes_sample=sorted(set(map(str, exit_codes)))[:5],
        uneven_hosts=len(bad_hosts),
        library='pssh %s (pssh.aio)' % getattr(pssh, '__version__', '?'),
        module=os.path.dirname(pssh.__file__),
        client_module=ParallelSSHClient._core_class.__module__,
        single_module=SSHClient._core_class.__module__,
        aio_module=ParallelSSHClient.__module__,
        pool_size=kwargs.get('pool_size',
                             inspect.signature(ParallelSSHClient).parameters['pool_size'].default),
        python=sys.version.split()[0],
    )


def main():
    emit(asyncio.run(bench()))


if __name__ == '__main__':
    main()
