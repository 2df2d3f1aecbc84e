"""A sensor the warm-up learnt no normal for is not scored until it is learnt live (qa47).

user27 added a 13th loop-detector station to a corridor whose `warmup.replay` recordings have no column for it:
the first score after the refill was 4.7e11 against a threshold of 7.33, top K036_flow, an alert that could
not end while K036 read anything, and a real incident at another station ran under its id. Now such a sensor is
masked like a missing one, named in the log and in health (`sensors_learning`), learnt from calm ticks until it
has been read on `warmup.ticks` of them and has moved, and then joins scoring (agent/learning_sensors.py).

Two lives of a real agent (stdin, a jsonl sink, health through a real Mosquitto), the checkpoint between them:
the first sees the incident at K014 alert under K014, no alert names K036, and its retained health lists K036
learning; the second goes on counting K036's reads from the checkpoint, K036 joins scoring with no alert, and an
anomaly on K036 afterwards alerts. And a sensor flat through the warm-up (one constant) is treated the same.
"""
from __future__ import annotations

import dataclasses
import json
import math
import re
import subprocess
import sys
import time
from pathlib import Path

import jsonschema
import numpy as np
import yaml

from agent.pipeline import Pipeline
from conftest import agent_env, demo_cfg, sim_rows
from mqtt_broker import Collector, broker, make_broker  # noqa: F401 — fixtures

REPO = Path(__file__).resolve().parent.parent
HEALTH = json.loads((REPO / "agent/schemas/health.schema.json").read_text())
RECORDED, NEW = ["K012", "K014", "K016"], "K036"
MEASURES = ("flow", "occ", "speed")
T0, TICK = 1764892800, 30          # 2025-12-05T00:00:00Z
REC, LIVE, WARM = 240, 700, 200    # recorded ticks, live ticks, warmup.ticks
INCIDENT = (REC + 80, REC + 95)    # K014's queue: flow down, occupancy up, speed down
FIRST_LIFE = REC + 150             # the first life's input ends here (K036 has ~118 calm reads by then)
NEW_ANOMALY = (REC + 560, REC + 575)   # the same at K036, long after it joined


def iso(ts: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))


def station(rng, i: int, name: str, queue: bool) -> dict[str, float]:
    if queue:
        flow, occ, speed = 300 + rng.normal(0, 30), 25 + rng.normal(0, 1), 15 + rng.normal(0, 2)
    else:
        flow = 1000 + 200 * math.sin(2 * math.pi * i * TICK / 86400) + rng.normal(0, 30)
        occ, speed = flow / 100 + rng.normal(0, 0.3), 100 + rng.normal(0, 3)
    return {f"{name}_flow": round(flow, 2), f"{name}_occ": round(occ, 3), f"{name}_speed": round(speed, 2)}


def corridor(tmp_path: Path, port: int) -> tuple[Path, list[str]]:
    """The recordings (three stations), the live feed (four: K036 added) and the config."""
    rng = np.random.default_rng(3)
    (tmp_path / "rec").mkdir()
    columns = [f"{s}_{m}" for s in RECORDED for m in MEASURES]
    lines = ["timestamp," + ",".join(columns)]
    for i in range(REC):
        values = {k: v for s in RECORDED for k, v in station(rng, i, s, False).items()}
        lines.append(iso(T0 + TICK * i) + "," + ",".join(str(values[c]) for c in columns))
    (tmp_path / "rec" / "2025-12-05.csv").write_text("\n".join(lines) + "\n")
    feed = []
    for i in range(REC, REC + LIVE):
        values = {k: v for s in RECORDED for k, v in station(rng, i, s, s == "K014" and
                                                               INCIDENT[0] <= i < INCIDENT[1]).items()}
        values |= station(rng, i, NEW, NEW_ANOMALY[0] <= i < NEW_ANOMALY[1])
        feed.append(json.dumps({"ts": T0 + TICK * i + 1, "values": values}))
    cfg = {"node": {"id": "rs-gw-qa47", "site": "a10"}, "tick_s": TICK, "topology": "corridor",
           "sensors": [f"{s}_{m}" for s in RECORDED + [NEW] for m in MEASURES], "sources": [{"type": "stdin"}],
           "window": {"steps": 32, "max_clock_skew_s": 0}, "warmup": {"ticks": WARM, "replay": "rec"},
           "sinks": [{"type": "jsonl", "path": "alerts.jsonl"},
                     {"type": "mqtt", "broker": {"host": "127.0.0.1", "port": port}, "health_interval_s": 3600}],
           "state_dir": "state"}
    (tmp_path / "agent.yaml").write_text(yaml.safe_dump(cfg))
    return tmp_path / "agent.yaml", feed


def life(cfg: Path, lines: list[str]) -> str:
    """One run of the agent on `lines` (its input ends after them: a clean stop); its log."""
    done = subprocess.run([sys.executable, "-m", "agent", "run", "-c", str(cfg)], cwd=cfg.parent,
                          input="\n".join(lines) + "\n", capture_output=True, text=True, timeout=600,
                          env=agent_env())
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stderr


def alerts(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def names(event: dict) -> list[str]:
    return [s["sensor"] for s in event["top_sensors"]]


def seconds(text: str) -> float:
    return time.mktime(time.strptime(text[:19], "%Y-%m-%dT%H:%M:%S")) - time.timezone


def retained_health(port: int) -> dict:
    late = Collector(port, ["stad/a10/rs-gw-qa47/health"], persistent=False)
    try:
        assert late.wait_for(lambda msgs: len(msgs) > 0, 60)
        return json.loads(late.on("/health")[-1].payload)
    finally:
        late.close()


def test_a_station_added_since_the_recordings_is_learnt_live_then_scored(tmp_path, broker):
    cfg, feed = corridor(tmp_path, broker.port)
    split = FIRST_LIFE - REC
    first = life(cfg, feed[:split])
    said = [line for line in first.splitlines() if "no normal learnt at warm-up" in line]
    assert [line.split("stad.pipeline: ")[1].split(":")[0] for line in said] == \
        [f"{NEW}_{m}" for m in MEASURES], first[-3000:]
    assert all("no reading in this warm-up" in line and f"read on {WARM} calm ticks" in line for line in said)
    events = alerts(tmp_path / "alerts.jsonl")
    assert not [e for e in events if any(n.startswith(NEW) for n in names(e))], events
    incident = [e for e in events if T0 + TICK * INCIDENT[0] <= seconds(e["ts"]) < T0 + TICK * INCIDENT[1]]
    assert any(names(e)[0].startswith("K014") for e in incident), events
    health = retained_health(broker.port)
    jsonschema.validate(health, HEALTH)
    learning = health["sensors_learning"]
    assert sorted(learning) == [f"{NEW}_{m}" for m in MEASURES], learning
    reads = {v["reads"] for v in learning.values()}
    assert len(reads) == 1 and 0 < reads.pop() < WARM and all(v["needs"] == WARM and v["moved"]
                                                              for v in learning.values()), learning
    before = alerts(tmp_path / "alerts.jsonl")

    second = life(cfg, feed[split:])
    joins = re.findall(r"tick (\S+): (K036_\w+) joins scoring: learnt live on (\d+) calm ticks", second)
    assert sorted(j[1] for j in joins) == [f"{NEW}_{m}" for m in MEASURES], second[-3000:]
    joined_at = seconds(joins[0][0])
    # the reads went on from the checkpoint's: counted again from zero it would have joined WARM ticks in or later
    assert joined_at < T0 + TICK * (FIRST_LIFE + WARM - 20), (joins, iso(T0 + TICK * FIRST_LIFE))
    events = alerts(tmp_path / "alerts.jsonl")[len(before):]
    quiet = [e for e in events if e["event"] == "new" and joined_at <= seconds(e["start"]) < T0 + TICK * NEW_ANOMALY[0]]
    assert not quiet, quiet         # joining scoring opens no alert
    opened = [e for e in events if e["event"] == "new" and abs(seconds(e["start"]) - (T0 + TICK * NEW_ANOMALY[0]))
              <= 2 * TICK]
    assert opened and names(opened[0])[0].startswith(NEW), events


def flat_warm_up(cfg, flat: int) -> tuple[Pipeline, list]:
    """A demo pipeline whose sensor `flat` reads 41.5 through the warm-up; the rows (that sensor moving after it)."""
    pipe = Pipeline(cfg)
    rows = sim_rows(cfg, days=0.35)
    for row in rows[:cfg.warmup.ticks]:
        values = row.values.copy()
        values[flat] = 41.5
        pipe.step(dataclasses.replace(row, values=values))
    assert pipe.warm
    return pipe, rows


def test_a_sensor_flat_through_the_warm_up_is_scored_in_floor_units_by_default(tmp_path):
    """warmup.flat_sensors `score` (the default): as before qa47 — named at the warm-up's end, scored at once.
    A warm-up shorter than `faults.learn_s` (100 ticks of 30 s: 50 min, SKAB's 400 s alike): a flat sensor whose
    neighbours move for longer is paged `never_varied` first, and learnt again when that page ends (the next test)."""
    pipe, rows = flat_warm_up(demo_cfg(tmp_path, warmup_ticks=100, chain=["numpy"]), 2)
    assert pipe.learning is None and pipe.snapshot()["sensors_learning"] == {}
    assert pipe.snapshot()["faults_raised"]["never_varied"] == 0
    scored = [pipe.step(row).sensor_scores for row in rows[100:200]]
    assert max(s[2] for s in scored if s is not None) > 1e3


def test_a_sensor_flat_through_a_warm_up_longer_than_learn_s_is_paged_never_varied_not_scored_in_floor_units(
        tmp_path):
    """The same sensor flat through 300 ticks (2.5 h, past `faults.learn_s`) while its neighbours move: faults16's
    `never_varied` page comes first, masking it; once it moves the page ends and its normal is learnt again from its
    live readings, so its start is no alert in floor units (review43's pump at rest since the start: ~2e10)."""
    pipe, rows = flat_warm_up(demo_cfg(tmp_path, warmup_ticks=300, chain=["numpy"]), 2)
    assert pipe.snapshot()["faults_active"].get(pipe.sensors[2]) == "never_varied"
    scored = [pipe.step(row).sensor_scores for row in rows[300:400]]
    assert pipe.snapshot()["faults_active"].get(pipe.sensors[2]) is None          # it moved: the page ended
    assert max(s[2] for s in scored if s is not None) < 1e2


def test_a_sensor_flat_through_the_warm_up_is_learnt_live_and_kept_across_a_restore(tmp_path):
    """warmup.flat_sensors `learn`: the demo's sensor 2 reads one constant through the warm-up, then moves: not
    scored, listed, its reads kept by a restore, and it joins scoring after `warmup.ticks` calm reads."""
    warm = 300
    cfg = demo_cfg(tmp_path, warmup_ticks=warm, chain=["numpy"])
    cfg.warmup.flat_sensors = "learn"
    flat = 2
    pipe, rows = flat_warm_up(cfg, flat)
    assert pipe.learning is not None
    name = pipe.sensors[flat]
    listed = pipe.snapshot()["sensors_learning"]
    assert list(listed) == [name] and "did not move in this warm-up" in listed[name]["why"], listed
    scored = []
    for row in rows[warm:warm + 100]:
        res = pipe.step(row)
        if not res.warming:
            scored.append(res.sensor_scores[flat])
    assert scored and all(s == 0 for s in scored), scored[:5]
    reads = pipe.snapshot()["sensors_learning"][name]["reads"]
    again = Pipeline(cfg)
    again.restore(pipe.state_dict())
    assert again.snapshot()["sensors_learning"][name]["reads"] == reads > 0
    at = warm + 100
    while again.learning is not None and at < len(rows):
        res = again.step(rows[at])
        at += 1
    assert again.learning is None, again.snapshot()["sensors_learning"]
    assert again.snapshot()["sensors_learning"] == {}
    later = [again.step(row).sensor_scores[flat] for row in rows[at:at + 20]]
    assert any(s > 0 for s in later), later
