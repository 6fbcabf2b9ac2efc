"""The client packages import their clients on first use (PEP 562), and
pssh.security_report() tells the same whether the clients are loaded or not."""
import json
import os
import subprocess
import sys

import pytest

import pssh
from pssh.clients.base.single import BaseSSHClient
from pssh.clients.native import SSHClient

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
pytestmark = pytest.mark.timeout(60)


def _python(code):
    proc = subprocess.run([sys.executable, '-W', 'error', '-c', code], capture_output=True,
                          text=True, timeout=50, env=dict(os.environ, PYTHONPATH=REPO))
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.splitlines()[-1]


def test_importing_the_packages_imports_no_client():
    code = ('import json, sys, pssh.clients, pssh.clients.native, pssh.clients.ssh\n'
            'print(json.dumps(sorted(m for m in sys.modules if m.split(".")[0] in '
            '("gevent", "ssh2", "ssh") or m.startswith("pssh.clients."))))')
    assert json.loads(_python(code)) == [
        'pssh.clients.native', 'pssh.clients.ssh']


@pytest.mark.parametrize('code', [
    'from pssh.clients import ParallelSSHClient, SSHClient\n'
    'from pssh.clients.native.parallel import ParallelSSHClient as P\n'
    'assert ParallelSSHClient is P and SSHClient.__module__ == "pssh.clients.native.single"',
    # Submodules and the modules the clients import stay reachable as attributes.
    'import pssh.clients\nassert pssh.clients.native.single.SSHClient is pssh.clients.SSHClient\n'
    'assert pssh.clients.ssh.parallel.ParallelSSHClient is pssh.clients.ssh.ParallelSSHClient',
    'import pssh.clients\nassert issubclass(pssh.exceptions.Timeout, Exception)\n'
    'assert pssh.config.HostConfig and pssh.output.HostOutput and pssh.clients.reader',
    'import pssh.clients.native\nassert {"ParallelSSHClient", "SSHClient", "parallel"} <= '
    'set(dir(pssh.clients.native))',
], ids=['from-import', 'submodules', 'siblings', 'dir'])
def test_names_resolve_on_first_use(code):
    assert _python(code + '\nprint("ok")') == 'ok'


def test_unknown_names_raise_attribute_error():
    import pssh.clients.native
    with pytest.raises(AttributeError) as info:
        pssh.clients.native.NoSuchClient  # noqa: B018
    assert info.value.args == ("module 'pssh.clients.native' has no attribute 'NoSuchClient'",)
    with pytest.raises(ImportError):
        from pssh.clients import NoSuchClient  # noqa: F401


def test_report_is_the_same_with_and_without_the_clients():
    code = 'import json, pssh\n%sprint(json.dumps(pssh.security_report(), sort_keys=True))'
    alone = _python(code % '')
    loaded = _python(code % 'import pssh.clients.native.single, pssh.clients.ssh.single\n')
    assert alone == loaded
    assert json.loads(alone) == json.loads(json.dumps(pssh.security_report()))


def test_report_follows_the_class_settings(monkeypatch):
    before = pssh.security_report()['mitigations']
    assert (before['no_aes_gcm'], before['unverified_hosts_with_hidden_lengths']) == (
        True, 'allowed, with a warning')
    algorithms = dict(SSHClient.ALGORITHMS, cipher='aes256-gcm@openssh.com,aes128-ctr',
                      mac='hmac-sha2-256')
    monkeypatch.setattr(SSHClient, 'ALGORITHMS', algorithms)
    monkeypatch.setattr(BaseSSHClient, 'ALLOW_UNCHECKED_LENGTHS', False)
    after = pssh.security_report()['mitigations']
    assert (after['no_aes_gcm'], after['etm_macs_first'],
            after['unverified_hosts_with_hidden_lengths']) == (False, False, 'refused')
