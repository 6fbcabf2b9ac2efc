"""Benchmark worker for the OpenSSH client piped into a Python line reader.

The shell equivalent of what is measured::

    ssh ... HOST 'CMD' | python3 -c 'import sys
    for l in sys.stdin: pass'

(the reader also counts lines and bytes, as the other workers do). The two
processes are started by this worker, so their CPU time (user + sys) and peak
RSS come from ``getrusage(RUSAGE_CHILDREN)``: the CPU is that of ``ssh`` and
the reader together, the peak RSS is that of the larger of the two (the
reader).

With ``spec['mode'] == 'copy'`` it instead starts the file-copy processes of
``spec['procs']`` (``sftp -b - ...`` fed ``put``/``get`` on stdin, or ``scp
[-O] ...``), all at once (one per host), and waits for all of them; CPU and
peak RSS are again those of the children (``sftp``/``scp`` and the ``ssh``
they start).
"""
import json
import resource
import subprocess
import sys

from _workerlib import Meter, emit, load_spec

READER = r'''
import sys
lines = 0
nbytes = 0
for l in sys.stdin:
    lines += 1
    nbytes += len(l)
sys.stdout.write('%d %d\n' % (lines, nbytes))
'''


def copy_main(spec):
    meter = Meter(resource.RUSAGE_CHILDREN)
    procs = []
    for item in spec['procs']:
        stdin = item.get('stdin')
        proc = subprocess.Popen(item['argv'],
                                stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        if stdin:
            proc.stdin.write(stdin.encode())
            proc.stdin.close()
        procs.append(proc)
    errors = []
    for proc in procs:
        err = proc.stderr.read()
        proc.wait()
        if err.strip():
            errors.append(err.decode(errors='replace').strip())
    meter.stop()
    statuses = [proc.returncode for proc in procs]
    if errors:
        sys.stderr.write('\n'.join(errors[:5]) + '\n')
    argv = spec['procs'][0]['argv']
    emit(meter.result(
        lines=0, bytes=spec['copy_bytes'], hosts=len(procs),
        exit_codes_ok=all(status == 0 for status in statuses),
        exit_codes_sample=sorted(set(map(str, statuses)))[:5],
        uneven_hosts=0,
        library=spec.get('openssh_version', 'openssh'),
        module=argv[0],
        pool_size=None,
        python=sys.version.split()[0],
        argv=' '.join(json.dumps(a) if ' ' in a else a for a in argv),
        stdin=spec['procs'][0].get('stdin'),
    ))


def main():
    spec = load_spec()
    if spec.get('mode') == 'copy':
        return copy_main(spec)
    argv = spec['ssh_argv']
    meter = Meter(resource.RUSAGE_CHILDREN)
    ssh = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE)
    reader = subprocess.Popen([spec.get('reader_python') or sys.executable, '-c', READER],
                              stdin=ssh.stdout, stdout=subprocess.PIPE)
    ssh.stdout.close()  # the reader holds the pipe now
    out, _ = reader.communicate()
    ssh_status = ssh.wait()
    meter.stop()
    lines, nbytes = (int(x) for x in out.split())
    emit(meter.result(
        lines=lines, bytes=nbytes, hosts=1,
        exit_codes_ok=ssh_status == 0 and reader.returncode == 0,
        exit_codes_sample=[str(ssh_status)],
        uneven_hosts=0,
        library=spec.get('openssh_version', 'openssh'),
        module=argv[0],
        pool_size=None,
        python=sys.version.split()[0],
        argv=' '.join(json.dumps(a) if ' ' in a else a for a in argv),
    ))


if __name__ == '__main__':
    main()
