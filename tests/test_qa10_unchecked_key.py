"""check-config run by another user than the service's: a TLS client key this shell cannot read
(a file only the service's user may read) cannot be checked with its certificate. It must say so
— a note naming the key path, exit 0 since `run` as the service can read it — not pass in silence
as though the key had been checked. Real openssl certificates; check-config in a real process.
When the tests run as root, the key belongs to user nobody (0600) and check-config runs without
the capabilities by which root reads every file; else the key is made unreadable to us."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPO, tls_sink_config
from mqtt_broker import make_tls_files

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl is not installed")

NOBODY = 65534
CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, PR_CAPBSET_DROP = 1, 2, 24


def _drop_root_file_powers() -> None:
    """In the child, before exec: root keeps its uid but no longer reads files that are not its own."""
    import ctypes
    libc = ctypes.CDLL(None, use_errno=True)
    for cap in (CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH):
        if libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP)")


def check_config_as_another_user(config: Path, key: Path) -> subprocess.CompletedProcess:
    if os.geteuid() == 0:
        os.chown(key, NOBODY, NOBODY)
        key.chmod(0o600)
        extra = {"preexec_fn": _drop_root_file_powers}
    else:
        key.chmod(0o000)
        extra = {}
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    env.pop("CREDENTIALS_DIRECTORY", None)
    return subprocess.run([sys.executable, "-m", "agent", "check-config", "-c", str(config)], cwd=config.parent,
                          env=env, capture_output=True, text=True, timeout=120, **extra)


def test_a_key_this_shell_cannot_read_is_said_to_be_unchecked(tmp_path):
    # On the old code check-config printed "ok" and nothing else: the key was skipped in silence.
    tls = make_tls_files(tmp_path)
    config = tls_sink_config(tmp_path, {"ca_file": str(tls.ca), "cert_file": str(tls.cert), "key_file": str(tls.key)})
    res = check_config_as_another_user(config, tls.key)
    assert res.returncode == 0, res.stderr
    assert ": ok — 2 sensors" in res.stdout
    notes = [line for line in res.stderr.splitlines() if ": note: " in line]
    assert len(notes) == 1, res.stderr
    assert f"sinks[0].broker.tls.key_file: {tls.key} is not readable by this shell" in notes[0]
    assert "only tls.cert_file was checked" in notes[0]
