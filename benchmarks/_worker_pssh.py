"""Benchmark worker for ``pssh.clients.ParallelSSHClient``.

Runs unchanged against this checkout (PYTHONPATH = repository root, main
interpreter) and against parallel-ssh from PyPI (the interpreter of
``benchmarks/.venvs/parallel-ssh``): both are imported as ``pssh``.

``spec['backend'] == 'libssh'`` (the ``ours-libssh`` client) imports
``ParallelSSHClient`` and ``SSHClient`` from ``pssh.clients.ssh`` (this
checkout's libssh backend, on ssh-python) instead of ``pssh.clients`` (the
native backend, on libssh2); everything else is the same.

Two modes (``spec['mode']``):

``run`` (default)
    Measured region: construct a fresh client, ``run_command`` on every host,
    read every host's stdout line by line in host order with the documented
    idiom ``for host_out in output: for line in host_out.stdout``, ``join`` and
    collect the exit codes, then disconnect. With ``spec['proxy_port']`` every
    host is reached through the bastion ``proxy_host=spec['address']``,
    ``proxy_port=spec['proxy_port']``.
``copy``
    Measured region: construct a fresh client, one file copy (``copy_file``,
    ``copy_remote_file``, ``scp_send`` or ``scp_recv``), disconnect. One host:
    ``SSHClient(host, port=...).<api>(a, b)``; several:
    ``ParallelSSHClient(hosts, host_config=...).<api>(a, b, **kwargs)`` and
    ``gevent.joinall(greenlets, raise_error=True)``. The orchestrator checks
    the copied files afterwards.
"""
import gc
import inspect
import os
import sys

from _workerlib import Meter, emit, load_spec

spec = load_spec()

import pssh  # noqa: E402
if spec.get('backend') == 'libssh':
    from pssh.clients.ssh import ParallelSSHClient, SSHClient  # noqa: E402
else:
    from pssh.clients import ParallelSSHClient, SSHClient  # noqa: E402
from pssh.config import HostConfig  # noqa: E402

try:
    from importlib.metadata import version as _dist_version
except ImportError:  # pragma: no cover
    _dist_version = None


def _library_version():
    for dist in ('parallel-ssh', 'pssh-ng'):
        try:
            return '%s %s' % (dist, _dist_version(dist))
        except Exception:
            continue
    return 'pssh %s' % getattr(pssh, '__version__', '?')


def client_kwargs(parallel):
    kwargs = dict(user=spec['user'], pkey=spec['key'], num_retries=1,
                  allow_agent=False, identity_auth=False)
    if parallel and spec.get('pool_size'):
        kwargs['pool_size'] = spec['pool_size']
    if spec.get('proxy_port'):
        # Both libraries default proxy_user/proxy_pkey to user/pkey.
        kwargs['proxy_host'] = spec.get('proxy_host') or spec['address']
        kwargs['proxy_port'] = spec['proxy_port']
    return kwargs


def main():
    if spec.get('mode') == 'copy':
        return copy_main()
    n = spec['hosts']
    ports = spec['ports']
    kwargs = client_kwargs(parallel=True)
    import gevent
    gevent.get_hub()  # created before the clock starts, like asyncio's loop
    gc.collect()

    meter = Meter()
    host_config = [HostConfig(port=ports[i % len(ports)]) for i in range(n)]
    client = ParallelSSHClient([spec['address']] * n, host_config=host_config, **kwargs)
    output = client.run_command(spec['command'])
    meter.mark('run_command')
    lines = 0
    nbytes = 0
    per_host = []
    for host_out in output:
        h_lines = 0
        h_bytes = 0
        for line in host_out.stdout:
            h_lines += 1
            h_bytes += len(line) + 1  # lines come without their newline
        per_host.append((h_lines, h_bytes))
        lines += h_lines
        nbytes += h_bytes
    meter.mark('read')
    client.join(output)
    exit_codes = [host_out.exit_code for host_out in output]
    meter.mark('join')
    if hasattr(client, 'close'):
        client.close()
    else:
        # parallel-ssh 2.x: "Disconnections handled by client de-allocation".
        del output[:]
        del output, host_out
        del client
        gc.collect()
    meter.stop()

    bad_hosts = [i for i, counts in enumerate(per_host) if counts != per_host[0]]
    emit(meter.result(
        lines=lines, bytes=nbytes, hosts=n,
        exit_codes_ok=all(code == 0 for code in exit_codes),
        exit_codes_sample=sorted(set(map(str, exit_codes)))[:5],
        uneven_hosts=len(bad_hosts),
        library=_library_version(),
        module=os.path.dirname(pssh.__file__),
        client_module=ParallelSSHClient.__module__,
        single_module=SSHClient.__module__,
        pool_size=kwargs.get('pool_size',
                             inspect.signature(ParallelSSHClient).parameters['pool_size'].default),
        python=sys.version.split()[0],
        proxy_port=spec.get('proxy_port'),
    ))


def copy_main():
    """One file copy; see the module docstring."""
    names = spec['host_names']
    ports = spec['host_ports']
    api = spec['api']
    args = spec['args']
    import gevent
    gevent.get_hub()
    gc.collect()

    if spec['single']:
        kwargs = client_kwargs(parallel=False)
        meter = Meter()
        client = SSHClient(names[0], port=ports[0], **kwargs)
        meter.mark('connected')
        getattr(client, api)(*args)
        meter.mark('copied')
        if hasattr(client, 'close'):
            client.close()
            del client
        else:
            # parallel-ssh 2.x: "Disconnections handled by client de-allocation".
            del client
            gc.collect()
        meter.stop()
    else:
        kwargs = client_kwargs(parallel=True)
        meter = Meter()
        host_config = [HostConfig(port=port) for port in ports]
        client = ParallelSSHClient(names, host_config=host_config, **kwargs)
        greenlets = getattr(client, api)(*args, **spec.get('kwargs', {}))
        gevent.joinall(greenlets, raise_error=True)
        meter.mark('copied')
        del greenlets
        if hasattr(client, 'close'):
            client.close()
            del client
        else:
            del client
            gc.collect()
        meter.stop()

    emit(meter.result(
        lines=0, bytes=spec['copy_bytes'], hosts=len(names),
        exit_codes_ok=True, exit_codes_sample=[],
        uneven_hosts=0,
        library=_library_version(),
        module=os.path.dirname(pssh.__file__),
        client_module=ParallelSSHClient.__module__,
        single_module=SSHClient.__module__,
        api=api, single=spec['single'],
        pool_size=None if spec['single'] else kwargs.get(
            'pool_size',
            inspect.signature(ParallelSSHClient).parameters['pool_size'].default),
        python=sys.version.split()[0],
        proxy_port=spec.get('proxy_port'),
    ))


if __name__ == '__main__':
    main()
