"""Helpers shared by the benchmark workers (standard library only).

A worker is started by ``run.py`` in a fresh process, under the interpreter of
the client it measures, with one argument: a JSON spec. It prints exactly one
JSON line (prefixed with ``RESULT ``) on stdout.
"""
import faulthandler
import json
import os
import resource
import sys
import time


def load_spec():
    spec = json.loads(sys.argv[1])
    # A hung worker is killed by run.py after spec['timeout'] s; dump the
    # stacks of all threads to stderr shortly before, so that the hang can be
    # reported precisely.
    timeout = spec.get('timeout')
    if timeout:
        faulthandler.dump_traceback_later(max(1.0, timeout - 5.0), exit=False)
    return spec


def rss_now_kb():
    """Current resident set size of this process in KiB (Linux)."""
    try:
        with open('/proc/self/statm') as statm:
            pages = int(statm.read().split()[1])
        return pages * os.sysconf('SC_PAGE_SIZE') // 1024
    except (OSError, ValueError, IndexError):
        return None


def cpu_seconds(who=resource.RUSAGE_SELF):
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


class Meter:
    """Wall time and CPU time (user + sys) of the measured region."""

    def __init__(self, who=resource.RUSAGE_SELF):
        self.who = who
        self.rss_start_kb = rss_now_kb()
        self.cpu0 = cpu_seconds(who)
        self.t0 = time.perf_counter()
        self.marks = {}

    def mark(self, name):
        self.marks[name] = time.perf_counter() - self.t0

    def stop(self):
        self.wall = time.perf_counter() - self.t0
        self.cpu = cpu_seconds(self.who) - self.cpu0
        usage = resource.getrusage(self.who)
        self.maxrss_kb = usage.ru_maxrss  # KiB on Linux
        self.utime = usage.ru_utime
        self.stime = usage.ru_stime

    def result(self, **extra):
        out = {
            'wall': self.wall,
            'cpu': self.cpu,
            'maxrss_kb': self.maxrss_kb,
            'rss_start_kb': self.rss_start_kb,
            'marks': self.marks,
        }
        out.update(extra)
        return out


def emit(result):
    faulthandler.cancel_dump_traceback_later()
    sys.stdout.write('RESULT ' + json.dumps(result) + '\n')
    sys.stdout.flush()
