"""check-config on a config with mistakes of both kinds: in the file (a bad value, an unknown key) and
on this machine (a TLS CA file that is not there). The machine checks need a valid config, so the
first run names the file's mistakes only; it must say that the rest is checked once they are fixed,
and the second run names the missing file with its key path."""
from __future__ import annotations

import yaml

from agent.cli import main


def test_check_config_says_the_machine_checks_come_after_the_files_mistakes(tmp_path, capsys):
    cfg = {"node": {"id": "gw-1", "site": "lab"}, "tick_s": 1, "sensors": ["a", "b"],
           "sources": [{"type": "stdin"}], "state_dir": str(tmp_path / "state"),
           "sinks": [{"type": "mqtt", "broker": {"host": "127.0.0.1", "port": 8883,
                                                 "tls": {"ca_file": str(tmp_path / "absent-ca.pem")}}}],
           "window": {"steps": 2, "bogus": 1}}
    path = tmp_path / "agent.yaml"
    path.write_text(yaml.safe_dump(cfg))
    assert main(["check-config", "-c", str(path)]) == 2
    err = capsys.readouterr().err
    assert "window.steps:" in err and "window.bogus: unknown key" in err
    assert "checked once these are fixed" in err, err
    assert err.strip().splitlines()[-1].endswith("2 problem(s); nothing started")

    del cfg["window"]
    path.write_text(yaml.safe_dump(cfg))
    assert main(["check-config", "-c", str(path)]) == 2
    err = capsys.readouterr().err
    assert "sinks[0].broker.tls.ca_file:" in err and "absent-ca.pem" in err, err
    assert "checked once these are fixed" not in err


def test_static_check_does_not_promise_machine_checks(tmp_path, capsys):
    path = tmp_path / "agent.yaml"
    path.write_text(yaml.safe_dump({"sensors": ["a"], "sources": [{"type": "stdin"}], "tick_s": -1}))
    assert main(["check-config", "--static", "-c", str(path)]) == 2
    assert "checked once these are fixed" not in capsys.readouterr().err
