"""A real agent process fed on stdin, for restart tests: started under a fake systemd
(NOTIFY_SOCKET, READY=1 awaited), killed with SIGKILL, stopped by SIGTERM or by closing its input.

The feed is a 3-sensor pump at one row a second (synthetic time): noise, and from row 100 on a
step of +5 on sensor `a` for 30 of every 100 rows, so alerts open, update and end.
"""
from __future__ import annotations

import json
import random
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import uuid
from collections import Counter
from pathlib import Path

import jsonschema
import yaml

from agent.checkpoint import CHECKPOINT_FILE, CheckpointRefused, decode
from conftest import NotifySocket, agent_env, wait_for

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = json.loads((ROOT / "agent/schemas/alert.schema.json").read_text())
T0 = 1_767_600_000          # 2026-01-05T08:00:00Z
WARMUP = 60
STEPS = 16


def anomalous(i: int) -> bool:
    return i >= 100 and i % 100 >= 70


def row(i: int) -> str:
    r = random.Random(i)
    a = 1.0 + r.gauss(0, 0.1) + (5.0 if anomalous(i) else 0.0)
    return json.dumps({"ts": T0 + i, "a": a, "b": 2.0 + r.gauss(0, 0.1), "c": r.gauss(0, 0.1)}) + "\n"


def row_without_c(i: int) -> str:
    """Row i without sensor c's reading (c silent: a `missing` fault once faults.missing_s has passed)."""
    d = json.loads(row(i))
    del d["c"]
    return json.dumps(d) + "\n"


def fault_lines(tmp: Path, sensor: str = "c") -> list[dict]:
    """`sensor`'s fault events in the JSONL, each whole line."""
    path = tmp / "alerts.jsonl"
    if not path.exists():
        return []
    lines = [json.loads(x) for x in path.read_text().splitlines(keepends=True) if x.endswith("\n")]
    return [x for x in lines if x.get("event") in ("fault", "fault_end") and x["sensor"] == sensor]


def summary_line(err: str) -> str:
    """The stop's `summary:` line in a run's stderr (agent/stop_summary.py)."""
    [line] = [x for x in err.splitlines() if x.startswith("summary: ")]
    return line


def write_config(tmp: Path, mqtt_port: int | None = None, **overrides) -> Path:
    sinks = [{"type": "jsonl", "path": "alerts.jsonl"}]
    if mqtt_port is not None:
        # Nothing listens there: the outbox only fills.
        sinks.insert(0, {"type": "mqtt", "broker": {"host": "127.0.0.1", "port": mqtt_port, "reconnect_min_s": 5,
                                                     "reconnect_max_s": 60}})
    cfg = {"node": {"id": "gw-restart", "site": "lab"}, "tick_s": 1, "topology": "group",
           "sensors": ["a", "b", "c"], "sources": [{"type": "stdin"}],
           "window": {"steps": STEPS, "carry_forward_s": 2, "max_clock_skew_s": 0},   # synthetic time
           "warmup": {"ticks": WARMUP}, "scoring": {"chain": ["numpy"]},
           "alerts": {"min_duration_ticks": 2, "clear_ticks": 4, "cooldown_ticks": 2, "update_interval_s": 5},
           "sinks": sinks, "state_dir": "state", "checkpoint_s": 1}
    cfg.update(overrides)
    path = tmp / "agent.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path



class AgentProcess:
    """`python -m agent run` on a config whose source is stdin."""

    def __init__(self, tmp: Path, config: Path, name: str):
        self.tmp = tmp
        self.notify = NotifySocket(f"@stad-restart-{uuid.uuid4().hex[:12]}")
        self.err_path = tmp / f"{name}.stderr"
        env = agent_env(NOTIFY_SOCKET=self.notify.address)
        env.pop("WATCHDOG_USEC", None)
        with self.err_path.open("w") as err:
            self.proc = subprocess.Popen([sys.executable, "-m", "agent", "run", "-c", str(config)],
                                         stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=err,
                                         text=True, cwd=tmp, env=env)

    def ready(self, timeout: float = 90.0) -> str:
        """Wait for READY=1; the STATUS= sent with it."""
        self.notify.wait_for("READY=1", timeout=timeout)
        return self.notify.lines("STATUS=")[0]

    def feed(self, lines) -> bool:
        try:
            self.proc.stdin.write("".join(lines))
            self.proc.stdin.flush()
            return True
        except (BrokenPipeError, OSError):
            return False

    def stderr(self) -> str:
        return self.err_path.read_text()

    def wait_log(self, pattern: str, timeout: float = 90.0) -> re.Match:
        return wait_for(lambda: re.search(pattern, self.stderr(), re.M), f"log line /{pattern}/", timeout, self.proc)

    def kill(self) -> None:
        self.proc.kill()
        self.proc.wait(timeout=30)
        self.notify.close()

    def terminate(self, timeout: float = 90.0) -> int:
        """One SIGTERM, as `systemctl stop` / `restart` sends it; wait for it to exit."""
        self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(timeout=timeout)
        self.notify.close()
        return code

    def finish(self, timeout: float = 90.0) -> int:
        """Close its input (the stream ends: a clean stop) and wait for it to exit."""
        try:
            self.proc.stdin.close()
        except OSError:
            pass
        code = self.proc.wait(timeout=timeout)
        self.notify.close()
        return code


RESTART_GAP = re.compile(r"restart gap: [^,]*? from the checkpoint's last tick (\S+) to the first new data (\S+),")


def resumed_run(tmp: Path, config: Path, feed):
    """A second life on the state a first one left: READY says it resumed, `feed(agent)` gives its
    input, then the input closes. (what `feed` returned, its stderr, (from, to) of the one restart
    gap its log said)."""
    second = AgentProcess(tmp, config, "run2")
    try:
        assert "resumed from checkpoint" in second.ready()
        fed = feed(second)
        assert second.finish() == 0
    finally:
        if second.proc.poll() is None:
            second.kill()
    err = second.stderr()
    said = RESTART_GAP.findall(err)
    assert len(said) == 1, err[-3000:]
    return fed, err, said[0]


def copy_run(src: Path, dst: Path) -> Path:
    """A stopped run's state, config and JSONL copied to `dst`, to restart it there; dst's config."""
    for p in src.iterdir():
        if p.is_dir():
            shutil.copytree(p, dst / p.name)
        elif p.suffix in (".yaml", ".jsonl"):
            shutil.copy2(p, dst / p.name)
    return dst / "agent.yaml"


def alert_lines(tmp: Path) -> list[dict]:
    path = tmp / "alerts.jsonl"
    if not path.exists():
        return []
    text = path.read_text()
    out = []
    for line in text.splitlines(keepends=True):
        if not line.endswith("\n"):
            break                      # being written right now
        obj = json.loads(line)
        if obj["kind"] == "alert":
            out.append(obj)
    return out


def outbox_rows(tmp: Path) -> list[tuple[str, int, str]]:
    db = sqlite3.connect(str(tmp / "state" / "mqtt-outbox.sqlite"))
    try:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        # Alert events only: sensor-fault events (agent/faults) share the outbox.
        return db.execute("SELECT alert_id, seq, payload FROM events WHERE kind IN ('new', 'update', 'end') "
                          "ORDER BY id").fetchall()
    finally:
        db.close()


def check_alert_stream(events: list[dict]) -> dict[str, list[dict]]:
    """Every event valid; per alert: seq 0, 1, … without gap or repeat, new first, one end, last."""
    by_alert: dict[str, list[dict]] = {}
    for e in events:
        jsonschema.validate({k: v for k, v in e.items() if k != "kind"}, SCHEMA)
        by_alert.setdefault(e["alert_id"], []).append(e)
    for alert_id, evs in by_alert.items():
        assert [e["seq"] for e in evs] == list(range(len(evs))), (alert_id, [(e["seq"], e["event"]) for e in evs])
        kinds = [e["event"] for e in evs]
        assert kinds[0] == "new" and kinds[-1] == "end" and kinds.count("end") == 1, (alert_id, kinds)
        assert kinds.count("new") == 1, (alert_id, kinds)
        stamps = [e["ts"] for e in evs]         # ISO strings of one format: they sort like times
        assert stamps == sorted(stamps) and stamps[0] >= evs[0]["start"], (alert_id, stamps)
        assert evs[-1]["end"] is None or evs[-1]["end"] >= evs[0]["start"], (alert_id, evs[-1])
    return by_alert


def check_sinks_agree(tmp: Path) -> None:
    """The outbox and the JSONL hold the same events, each once, with the same content."""
    jsonl = {(e["alert_id"], e["seq"]): {k: v for k, v in e.items() if k != "kind"} for e in alert_lines(tmp)}
    rows = outbox_rows(tmp)
    counts = Counter((a, s) for a, s, _ in rows)
    assert [k for k, n in counts.items() if n > 1] == []
    keys = [(e["alert_id"], e["seq"]) for e in alert_lines(tmp)]
    assert len(keys) == len(set(keys)), "an event written twice to the JSONL"
    assert set(counts) == set(jsonl), (sorted(set(counts) ^ set(jsonl)))
    for a, s, payload in rows:
        stored = json.loads(payload)
        jsonschema.validate(stored, SCHEMA)
        assert stored == jsonl[(a, s)]


def full_disk_config(tmp: Path, mqtt_port: int, edit=None) -> Path:
    """write_config with the MQTT sink on `mqtt_port` retrying every 1–2 s, health every second,
    and the JSONL on tmp itself — off the state disk a full-disk test fills (tmp/state); `edit`,
    given the config as a dict, changes it further."""
    path = write_config(tmp, mqtt_port=mqtt_port)
    cfg = yaml.safe_load(path.read_text())
    cfg["sinks"][0]["broker"].update(reconnect_min_s=1, reconnect_max_s=2)
    cfg["sinks"][0]["health_interval_s"] = 1
    cfg["sinks"][1]["path"] = str(tmp / "alerts.jsonl")
    if edit is not None:
        edit(cfg)
    path.write_text(yaml.safe_dump(cfg))
    return path


def warm_with_an_alert(agent: AgentProcess, state: Path) -> None:
    """Feed rows 0–199 (warm-up, then the first alert) and wait for its events in the JSONL and a
    first checkpoint in `state`."""
    agent.feed([row(i) for i in range(200)])
    wait_for(lambda: len(alert_lines(agent.tmp)) >= 2, "the first alert events", 120, agent.proc)
    wait_for(lambda: (state / "checkpoint.bin").exists(), "a first checkpoint", 60, agent.proc)


def killed_after_tick_173(tmp: Path, cfg: Path) -> AgentProcess:
    """A first life in `tmp` fed rows 0..175 (an alert opens at ~171), checkpointed through tick 173 (lateness 1:
    ticks 174, 175 still open), its alert journal written, then kill -9: the state a crash leaves with an alert open."""
    agent = AgentProcess(tmp, cfg, "run1")
    assert "warming up (0/60 ticks)" in agent.ready()
    agent.feed(row(i) for i in range(176))

    def checkpointed_through_173():
        try:
            meta, _ = decode((tmp / "state" / CHECKPOINT_FILE).read_bytes())
        except (OSError, CheckpointRefused):
            return False
        return meta["last_ts"] == T0 + 173
    wait_for(checkpointed_through_173, "a checkpoint after tick 173", proc=agent.proc)
    wait_for(lambda: (tmp / "state" / "alert-journal.json").exists(), "the alert journal", proc=agent.proc)
    agent.kill()
    return agent


C_SILENT, STOP_AFTER = 155, 186     # c silent from row 155 (a `missing` fault); the alert of rows 170– open at 186


def sigterm_with_c_faulty(tmp, config) -> None:
    """Life 1 (user37): warm-up, c silent from C_SILENT, the alert of rows 170– open; SIGTERM with both open."""
    first = AgentProcess(tmp, config, "run1")
    try:
        first.ready()
        first.feed([row(i) for i in range(C_SILENT)] + [row_without_c(i) for i in range(C_SILENT, STOP_AFTER)])
        wait_for(lambda: [e for e in alert_lines(tmp) if e["event"] == "new"], "the alert's new event", proc=first.proc)
        wait_for(lambda: fault_lines(tmp), "c's fault event", proc=first.proc)
        assert first.terminate() == 0, first.stderr()[-3000:]
    finally:
        if first.proc.poll() is None:
            first.kill()
    assert "sensor fault(s) left open at the stop: c missing" in first.stderr(), first.stderr()[-3000:]


def stopped_before_data(tmp: Path, config: Path, name: str) -> tuple[str, str]:
    """A life started and stopped by SIGTERM (it must exit 0) before any data: its READY status and its log."""
    life = AgentProcess(tmp, config, name)
    try:
        status = life.ready()
        assert life.terminate() == 0, life.stderr()[-3000:]
    finally:
        if life.proc.poll() is None:
            life.kill()
    return status, life.stderr()


def finished(agent: AgentProcess) -> str:
    """Stop the agent cleanly (it must exit 0), killed if that fails; its log, checked for tracebacks."""
    try:
        assert agent.finish() == 0
    finally:
        if agent.proc.poll() is None:
            agent.kill()
    err = agent.stderr()
    assert "Traceback" not in err, err[-3000:]
    return err


def alert_keys(messages) -> set:
    """(alert_id, seq) of the alert events among MQTT messages."""
    return {(p["alert_id"], p["seq"]) for p in (json.loads(m.payload) for m in messages
                                                if m.topic.endswith("/alerts"))}
