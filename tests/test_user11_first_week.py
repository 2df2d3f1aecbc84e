"""user11, a traffic engineer's first week (six loop stations over Modbus TCP, alerts over MQTT/TLS): what
surprised the user, fixed.

- `stad-convert train … 2> train.log` (or under nohup, or in a CI job): the progress line's '\\r' rewrites and
  its erase-line escape went into the file as they are, some 60 fragments an epoch, so the log's epochs could
  not be read with `less` or `grep`. Off a terminal, it now writes one plain line an epoch.
- The bundle and the warm-up recordings left where train wrote them (a home directory, /tmp) pass check-config
  from a shell; under the shipped unit (ProtectHome=yes, PrivateTmp=yes) the service does not see them and
  `run` said only `… does not exist`, of a path `ls` shows. Under systemd ($INVOCATION_ID, $NOTIFY_SOCKET) it
  now says why and where to keep them.
"""
from __future__ import annotations

import pytest


def test_the_progress_line_off_a_terminal_is_one_plain_line_an_epoch(capsys):
    pytest.importorskip("torch")
    from convert.train import ProgressLine
    progress = ProgressLine(True, every_s=0.0)
    for epoch in (1, 2):
        for batch in range(1, 65):
            progress.show(f"epoch {epoch:>3}/30", batch, 64, f"loss {0.1 / batch:.4f}")
        progress.show(f"epoch {epoch:>3}/30", 64, 64, "loss 0.0016 val 0.0400")
        progress.end()
    err = capsys.readouterr().err
    assert "\r" not in err and "\x1b" not in err, repr(err[:200])
    assert err.splitlines() == ["epoch   1/30 64/64 loss 0.0016 val 0.0400",
                                "epoch   2/30 64/64 loss 0.0016 val 0.0400"]



def test_under_systemd_a_path_the_unit_hides_is_said_so_with_where_to_keep_it(tmp_path):
    import os
    import subprocess
    import sys

    import yaml
    absent = "/home/stad-user11-absent"       # under /home, never made: what the service sees of a home
    cfg = {"sensors": ["S01_flow", "S01_occ", "S01_speed"], "tick_s": 20,
           "sources": [{"type": "udp", "bind": "127.0.0.1", "port": 0}],
           "scoring": {"bundle": f"{absent}/bundles/corridor"}, "warmup": {"replay": f"{absent}/history"},
           "sinks": [], "state_dir": str(tmp_path / "state")}
    path = tmp_path / "agent.yaml"
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))

    def check(**env):
        res = subprocess.run([sys.executable, "-m", "agent", "check-config", "-c", str(path)], capture_output=True,
                             text=True, timeout=120, env={k: v for k, v in {**os.environ, **env}.items() if v is not None})
        assert res.returncode == 2, res.stderr
        return {line.split(": ", 2)[1]: line for line in res.stderr.splitlines() if line.count(": ") >= 2}

    # what systemd sets for the shipped (Type=notify) unit's process
    service = check(INVOCATION_ID="0123456789abcdef0123456789abcdef", NOTIFY_SOCKET=str(tmp_path / "notify"))
    for key in ("warmup.replay", "scoring.bundle"):
        assert "ProtectHome" in service[key] and "PrivateTmp" in service[key], service[key]
        assert "keep what it reads in /etc/stad-edge or /var/lib/stad-edge" in service[key], service[key]
    shell = check(INVOCATION_ID=None, NOTIFY_SOCKET=None)      # from a shell the path is simply not there
    assert "ProtectHome" not in shell["warmup.replay"] and "ProtectHome" not in shell["scoring.bundle"], shell
