#!/usr/bin/env bash
# Quick start for pssh.
#
#   bash run.sh demo [ARGS...]   set up, then run examples/cli_demo.py: the pssh
#                                command on four local servers and a missing one
#   bash run.sh demo-lib         set up, then run examples/demo.py (the library)
#   bash run.sh test [ARGS...]   set up, run the test suite in parallel (ARGS go
#                                to pytest; PSSH_TEST_WORKERS sets the number of
#                                worker processes, default 6), then build the
#                                docs with warnings as errors
#   bash run.sh check            the static checks: tox -e mypy,lint
#   bash run.sh setup            set up only
#
# Set-up is idempotent: it installs OpenSSH (server and client) with apt when
# /usr/sbin/sshd is missing (root only), then installs pssh in editable mode with
# its test dependencies. Set PYTHON to choose the interpreter (default: python3).
# Where python3 is an "externally managed" system Python (Debian 12's own), the
# Python packages go into a virtual environment at .venv instead.
set -euo pipefail

CALLER_DIR=$(pwd)
cd "$(dirname "$0")"
ROOT=$(pwd -P)

export DEBIAN_FRONTEND=noninteractive
export PIP_ROOT_USER_ACTION=ignore
export PIP_DISABLE_PIP_VERSION_CHECK=1

say() { printf 'run.sh: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }

is_root() { [ "$(id -u)" -eq 0 ]; }

APT_UPDATED=
apt_install() {
    is_root || die "these packages are missing: $*; install them as root (apt-get install $*), or run this script as root"
    command -v apt-get >/dev/null 2>&1 || die "these packages are missing and apt-get is not available: $*"
    if [ -z "$APT_UPDATED" ]; then
        say "apt-get update"
        apt-get update -qq
        APT_UPDATED=1
    fi
    say "apt-get install $*"
    # Keep the package's post-install script from starting a system-wide sshd on
    # port 22: the tests start their own servers on free ports.
    local policy=/usr/sbin/policy-rc.d added_policy=
    if [ ! -e "$policy" ]; then
        printf '#!/bin/sh\nexit 101\n' >"$policy"
        chmod 755 "$policy"
        added_policy=1
    fi
    local rc=0
    apt-get install -y -qq --no-install-recommends "$@" >/dev/null || rc=$?
    [ -z "$added_policy" ] || rm -f "$policy"
    [ "$rc" -eq 0 ] || die "apt-get install $* failed (exit $rc)"
}

ensure_openssh() {
    local missing=()
    [ -x /usr/sbin/sshd ] || missing+=(openssh-server)
    if ! command -v ssh >/dev/null 2>&1 || ! command -v ssh-keygen >/dev/null 2>&1; then
        missing+=(openssh-client)
    fi
    if [ "${#missing[@]}" -gt 0 ]; then
        apt_install "${missing[@]}"
    fi
    # sshd started as root insists on its privilege separation directory, which
    # only the system service normally creates.
    if is_root && [ ! -d /run/sshd ]; then
        mkdir -p /run/sshd
        chmod 755 /run/sshd
    fi
}

# The fault tests drop packets with iptables inside a network namespace (ip);
# they need root, so the tools are only installed as root and when missing.
ensure_fault_tools() {
    is_root || return 0
    local missing=()
    command -v iptables >/dev/null 2>&1 || missing+=(iptables)
    command -v ip >/dev/null 2>&1 || missing+=(iproute2)
    if [ "${#missing[@]}" -gt 0 ]; then
        apt_install "${missing[@]}"
    fi
}

# The command-line tests drive pssh through a real terminal with tmux.
ensure_terminal_tools() {
    is_root || return 0
    command -v tmux >/dev/null 2>&1 || apt_install tmux
}

# Sets PY to the interpreter that the Python packages go into.
choose_python() {
    if [ -n "${PYTHON:-}" ]; then
        PY=$PYTHON
        case "$PY" in
            /*) ;;
            */*) PY=$CALLER_DIR/$PY ;;
        esac
        command -v "$PY" >/dev/null 2>&1 || die "PYTHON=$PY: no such interpreter"
        return
    fi
    if [ -x "$ROOT/.venv/bin/python" ]; then
        PY=$ROOT/.venv/bin/python
        return
    fi
    if ! command -v python3 >/dev/null 2>&1; then
        apt_install python3
    fi
    PY=python3
    # PEP 668: a distribution's own Python refuses pip installs outside a venv.
    if "$PY" - <<'PYEOF'
import os, sys, sysconfig
in_venv = sys.prefix != sys.base_prefix
marker = os.path.join(sysconfig.get_path('stdlib'), 'EXTERNALLY-MANAGED')
sys.exit(0 if (not in_venv and os.path.exists(marker)) else 1)
PYEOF
    then
        say "python3 is externally managed: using a virtual environment in .venv"
        if ! python3 -c 'import ensurepip, venv' >/dev/null 2>&1; then
            apt_install python3-venv
        fi
        python3 -m venv "$ROOT/.venv"
        PY=$ROOT/.venv/bin/python
    fi
}

ensure_pip() {
    if ! "$PY" -m pip --version >/dev/null 2>&1; then
        if [ "$PY" = python3 ]; then
            apt_install python3-pip
        else
            "$PY" -m ensurepip --upgrade >/dev/null || die "$PY has no pip"
        fi
    fi
}

# Installs pssh (editable) with the given extras, unless everything needed is
# already importable and the installed pssh is this checkout.
ensure_python_deps() {
    local extras=$1 modules=$2
    # Run from / so that the checkout itself is not on sys.path.
    if (cd / && "$PY" - "$ROOT" "$modules" <<'PYEOF'
import importlib, os, sys
root, modules = sys.argv[1], sys.argv[2].split(',')
try:
    from importlib.metadata import distribution
    distribution('pssh-ng')
    for name in modules:
        importlib.import_module(name)
    import pssh
except Exception:
    sys.exit(1)
sys.exit(0 if os.path.dirname(os.path.dirname(os.path.realpath(pssh.__file__))) == os.path.realpath(root) else 1)
PYEOF
    ) >/dev/null 2>&1; then
        return
    fi
    say "installing pssh and its dependencies ($PY -m pip install -e '.[$extras]')"
    "$PY" -m pip install -q -e ".[$extras]"
}

setup_all() {
    local extras=$1 modules=$2
    ensure_openssh
    choose_python
    ensure_pip
    ensure_python_deps "$extras" "$modules"
}

TEST_MODULES=gevent,ssh2,ssh,pytest,pytest_timeout,paramiko,xdist

cmd=${1:-}
[ $# -eq 0 ] || shift
case "$cmd" in
    demo)
        setup_all test "$TEST_MODULES"
        exec "$PY" examples/cli_demo.py "$@"
        ;;
    demo-lib)
        setup_all test "$TEST_MODULES"
        exec "$PY" examples/demo.py "$@"
        ;;
    test)
        setup_all test,docs "$TEST_MODULES,sphinx"
        ensure_fault_tools
        ensure_terminal_tools
        rc=0
        # Compiled bytecode (and pytest's rewritten test modules) are kept
        # under .pytest_cache/pycache, outside the source tree, even where
        # PYTHONDONTWRITEBYTECODE is set: every worker and every `pssh`
        # subprocess of the tests would otherwise compile them again (about
        # 2.5 s of CPU per worker). One collection fills the cache first.
        export PYTHONPYCACHEPREFIX=${PYTHONPYCACHEPREFIX:-$ROOT/.pytest_cache/pycache}
        unset PYTHONDONTWRITEBYTECODE
        # The docs are built meanwhile, on the other core; their output is
        # shown after the tests.
        docs_log=$(mktemp)
        trap 'rm -f "$docs_log"' EXIT
        "$PY" -m sphinx -q -W --keep-going -b html docs docs/_build/html >"$docs_log" 2>&1 &
        docs_pid=$!
        "$PY" -m pytest tests --collect-only -q >/dev/null 2>&1 || true
        # Much of the suite waits on the network and on timeouts: run it in
        # PSSH_TEST_WORKERS processes (pytest-xdist; six, so that tests waiting
        # on timeouts leave the CPUs to others); tests that change the
        # machine take turns through file locks. --maxschedchunk 1: a worker
        # is given one test at a time as it needs more (xdist otherwise gives
        # each worker a quarter of its share of the list up front, so the
        # slow tests, which conftest.py puts first, all went to one worker).
        # ARGS come last, so `-n 0` (or any other -n) given to run.sh wins.
        "$PY" -m pytest tests -n "${PSSH_TEST_WORKERS:-6}" --dist load --maxschedchunk 1 "$@" || rc=$?
        if [ "$rc" -eq 5 ]; then
            say "pytest collected no tests: counting that as a failure"
        fi
        # The tests marked `alone` measure how late an asyncio loop wakes:
        # other busy test processes would disturb that, so they run now, one
        # at a time (a whole run only: with ARGS, set PSSH_ALONE=1 yourself).
        if [ "$rc" -eq 0 ] && [ $# -eq 0 ]; then
            PSSH_ALONE=1 "$PY" -m pytest tests -n 0 -q -m alone || rc=$?
        fi
        docs_rc=0
        wait "$docs_pid" || docs_rc=$?
        cat "$docs_log" >&2
        if [ "$docs_rc" -ne 0 ]; then
            say "the docs build failed (exit $docs_rc)"
        fi
        if [ "$rc" -ne 0 ]; then
            exit "$rc"
        fi
        exit "$docs_rc"
        ;;
    check)
        choose_python
        ensure_pip
        "$PY" -m tox --version >/dev/null 2>&1 || "$PY" -m pip install -q tox
        exec "$PY" -m tox -q -e mypy,lint
        ;;
    setup)
        setup_all test,docs "$TEST_MODULES,sphinx"
        ;;
    *)
        say "usage: bash run.sh demo|demo-lib|test|check|setup [ARGS...]"
        exit 2
        ;;
esac
