"""check-config run by a user who may not look into /etc/credstore (0700 root on a gateway: the
README's `stad-agent check-config -c /etc/stad-edge/agent.yaml` without sudo). Path.is_file()
raises PermissionError there instead of answering, and check-config ended in a traceback; now a
`note:` names the store it could not search and says to run the check as root.

The checking process must really lack the permission, so as root the check runs as `nobody`
(setpriv) with the system's Python (root's own interpreter may live under /root, closed to it):
agent/host_checks.py and broker import nothing outside the standard library."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
NOBODY = 65534

PROBE = """
import json, sys
from pathlib import Path
import agent.host_checks as host_checks
from agent.broker import BrokerConfig, Secret, TlsConfig
host_checks.CREDSTORE_DIRS = (sys.argv[1],)
broker = BrokerConfig(host="broker.example", port=8883, password=Secret(credential="stad-edge.mqtt-password"),
                      tls=TlsConfig(cert_file=sys.argv[2], key_file="stad-edge.tls-key"))
print(json.dumps([[key, str(msg), isinstance(msg, host_checks.Note)] for key, msg in broker.preflight(Path)]))
"""


def _command() -> list[str]:
    if os.geteuid() != 0:
        return [sys.executable]
    setpriv, python = shutil.which("setpriv"), "/usr/bin/python3"
    if setpriv is None or not os.access(python, os.X_OK):
        pytest.skip("running as root, and no setpriv or /usr/bin/python3 to check as another user")
    return [setpriv, f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups", python]


def test_a_credential_store_this_shell_cannot_search_is_a_note_not_a_traceback():
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed (apt-get install openssl)")
    base = Path(tempfile.mkdtemp(prefix="stad-credstore-"))
    try:
        base.chmod(0o755)                       # the probe's user reaches the certificate, not the store
        cert, key = base / "gw.crt", base / "gw.key"
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                        "-nodes", "-keyout", str(key), "-out", str(cert), "-days", "2", "-subj", "/CN=gw"],
                       check=True, capture_output=True, timeout=60)
        cert.chmod(0o644)
        store = base / "credstore"
        store.mkdir(mode=0o700)
        for name in ("stad-edge.mqtt-password", "stad-edge.tls-key"):
            (store / name).write_text("secret\n")
        if os.geteuid() != 0:
            store.chmod(0o000)                  # a store another user owns, as /etc/credstore is root's
        env = {k: v for k, v in os.environ.items() if k != "CREDENTIALS_DIRECTORY"}
        env["PYTHONPATH"] = str(ROOT)
        res = subprocess.run([*_command(), "-c", PROBE, str(store), str(cert)], capture_output=True, text=True,
                             cwd="/", env=env, timeout=120)
        assert res.returncode == 0 and "Traceback" not in res.stderr, res.stderr
        found = json.loads(res.stdout)
        assert [key for key, _, _ in found] == ["password.credential", "tls.key_file"], found
        assert all(note for _, _, note in found), found                   # notes: check-config exits 0
        password = found[0][1]
        assert str(store) in password and "cannot be searched" in password and "as root" in password
        assert "only tls.cert_file was checked" in found[1][1]
    finally:
        (base / "credstore").chmod(0o700) if (base / "credstore").exists() else None
        shutil.rmtree(base, ignore_errors=True)


PATH_PROBE = """
import json, sys
from pathlib import Path
from agent.host_checks import path_problems
print(json.dumps(path_problems(Path(sys.argv[1]), want_file=True)))
"""


def test_a_file_behind_a_directory_this_shell_cannot_search_is_named_not_a_traceback():
    base = Path(tempfile.mkdtemp(prefix="stad-closed-"))
    try:
        base.chmod(0o755)
        closed = base / "closed"
        closed.mkdir(mode=0o700)
        key = closed / "gateway.key.pem"
        key.write_text("key\n")
        if os.geteuid() != 0:
            closed.chmod(0o000)
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        res = subprocess.run([*_command(), "-c", PATH_PROBE, str(key)], capture_output=True, text=True,
                             cwd="/", env=env, timeout=120)
        assert res.returncode == 0 and "Traceback" not in res.stderr, res.stderr
        [problem] = json.loads(res.stdout)
        assert str(key) in problem and "cannot be reached" in problem and "as root" in problem
    finally:
        (base / "closed").chmod(0o700) if (base / "closed").exists() else None
        shutil.rmtree(base, ignore_errors=True)
