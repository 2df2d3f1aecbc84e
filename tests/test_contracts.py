"""The contract of each seam, checked on every plugin found there (as river's estimator checks do).

A source, sink or model runtime added as a new file is discovered and put through these
checks; it needs one entry in the case table below (a config that runs here, and how to feed
it), and the test that lists the cases fails until it has one.

- Source: opened through open_source from its config alone; yields Records whose values are
  finite and name configured sensors; close() from another thread ends records() promptly; a
  second close() is harmless.
- Sink: takes a new/update/end alert, a fault / fault_end event and a health snapshot without
  raising; every alert payload it delivers validates against agent/schemas/alert.schema.json,
  every fault payload against agent/schemas/fault.schema.json; close() once.
- Scorer: score(window) gives one finite, non-negative score per sensor, the tick's score is the
  worst sensor's, the tier is its TYPE, attention weights (when given) sum to 1; scoring the same
  window again gives the same TickScore (score does not learn); describe() names the tier.
"""
from __future__ import annotations

import json
import math
import os
import socket
import sys
import threading
import time
from pathlib import Path

import jsonschema
import numpy as np
import pytest

from agent import bundle as bundles
from agent.alerts import AlertEvent
from agent.config import from_dict
from agent.faults.events import FaultEvent
from agent.records import Record, Rejects
from agent.scorers import load_tiers, runtimes
from agent.scorers.base import Scorer, TickScore
from agent.scorers.numpy_fallback import NumpyScorer
from agent.sinks import Sink, SinkContext, open_sink
from agent.sinks import plugins as sink_plugins
from agent.sources import Source, open_source
from agent.sources import plugins as source_plugins
from agent.topology import adjacency
from agent.window import Normaliser, WindowBuffer
from conftest import DEMO_BUNDLE, HAVE_DEMO, demo_cfg, sim_rows, wait_until
from mqtt_broker import MOSQUITTO, Collector, free_port, make_broker, broker  # noqa: F401 — fixtures

SCHEMA = json.loads((Path(__file__).parent.parent / "agent/schemas/alert.schema.json").read_text())
FAULT_SCHEMA = json.loads((Path(__file__).parent.parent / "agent/schemas/fault.schema.json").read_text())
SENSORS = ["a", "b"]
NEED_BROKER = pytest.mark.skipif(MOSQUITTO is None, reason="mosquitto is not installed")




# ---- sources ----------------------------------------------------------------------------------------

class SourceCase:
    """A source config that runs here, and `feed(source)`: what makes it produce records."""

    def __init__(self, request, tmp_path: Path, monkeypatch):
        self.request, self.tmp_path, self.monkeypatch = request, tmp_path, monkeypatch

    def simulate(self):
        return {"type": "simulate", "scenario": "pump", "duration_s": 30}, None

    def replay(self):
        path = self.tmp_path / "data.csv"
        path.write_text("timestamp,a,b\n" + "".join(f"{1700000000 + i},{i},{2 * i}\n" for i in range(20)))
        return {"type": "replay", "path": str(path)}, None

    def udp(self):
        def feed(source):
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as tx:
                for i in range(3):
                    tx.sendto(json.dumps({"ts": time.time(), "a": i, "b": -i}).encode(), ("127.0.0.1", source.port))
        return {"type": "udp", "port": 0}, feed

    def stdin(self):
        r, w = os.pipe()
        self.monkeypatch.setattr(sys, "stdin", os.fdopen(r, "rb"))

        def feed(source):
            with os.fdopen(w, "wb") as out:
                out.write(b"".join(json.dumps({"ts": time.time(), "a": i, "b": 1}).encode() + b"\n" for i in range(3)))
        return {"type": "stdin"}, feed

    def mqtt(self):
        if MOSQUITTO is None:
            pytest.skip("mosquitto is not installed")
        port = self.request.getfixturevalue("broker").port

        def feed(source):
            import paho.mqtt.publish as publish
            assert wait_until(lambda: source.reporter.connected)
            for i in range(3):
                publish.single("plant/a", str(i), hostname="127.0.0.1", port=port, qos=1)
        return {"type": "mqtt", "broker": {"host": "127.0.0.1", "port": port, "reconnect_min_s": 0.1},
                "topics": {"plant/a": "a"}, "qos": 1}, feed

    def modbus(self):
        port = self.request.getfixturevalue("modbus_server")
        return {"type": "modbus", "port": port, "poll_s": 0.05, "registers": {"a": 0, "b": 1}}, None

    def opcua(self):
        pytest.importorskip("asyncua", reason="the opcua extra is not installed")
        from conftest import OpcUaServer
        server = OpcUaServer(free_port())
        server.start()
        self.request.addfinalizer(server.kill)
        return {"type": "opcua", "url": f"opc.tcp://127.0.0.1:{server.port}/stad-test", "sampling_interval_ms": 50,
                "publishing_interval_ms": 50, "nodes": {"a": "ns=2;s=Skid1.pressure", "b": "ns=2;s=Skid1.temp_motor"}}, None


def test_every_source_has_a_contract_case():
    assert sorted(source_plugins()) == sorted(k for k in vars(SourceCase) if not k.startswith("_"))


@pytest.mark.parametrize("kind", sorted(source_plugins()))
def test_source_contract(kind, request, tmp_path, monkeypatch):
    entry, feed = getattr(SourceCase(request, tmp_path, monkeypatch), kind)()
    cfg = from_dict({"sensors": SENSORS if kind != "simulate" else ["flow", "current"], "sources": [entry]},
                    base_dir=str(tmp_path))
    sensors = cfg.sensor_names()
    source = open_source(cfg.sources[0], sensors, Rejects(), cfg.base_dir, tick_s=cfg.tick_s)
    assert isinstance(source, Source) and source.TYPE == kind and isinstance(source.live, bool)
    got: list[Record] = []
    reader = threading.Thread(target=lambda: got.extend(source.records()), daemon=True)
    reader.start()
    if feed is not None:
        feed(source)
    assert wait_until(lambda: len(got) >= 3 or not reader.is_alive()), f"{kind}: no records"
    source.close()
    reader.join(5)
    assert not reader.is_alive(), f"{kind}: records() did not end after close()"
    source.close()
    assert len(got) >= 3
    for rec in got:
        assert isinstance(rec, Record) and math.isfinite(rec.ts)
        assert rec.values and set(rec.values) <= set(sensors)
        assert all(math.isfinite(v) for v in rec.values.values())


# ---- sinks ------------------------------------------------------------------------------------------

def alert(kind: str, seq: int) -> AlertEvent:
    now = time.time()
    return AlertEvent(alert_id="gw-1-20260105T060000Z", seq=seq, event=kind, node="gw-1", site="lab", ts=now,
                      start=now - 60, end=now if kind == "end" else None, score=3.1, peak_score=4.2,
                      threshold=2.5, tier="numpy", model_id="numpy", model_sha256=None,
                      top_sensors=[{"sensor": "a", "score": 3.0, "contribution": 0.75}],
                      top_steps=[{"ts": now - 1, "weight": 0.6}], origin="a", ticks=seq + 1,
                      reason="cleared" if kind == "end" else None)


def fault(end: bool) -> FaultEvent:
    now = time.time()
    return FaultEvent(fault_id="gw-1-a-20260105T060000Z", seq=int(end), event="fault_end" if end else "fault",
                      node="gw-1", site="lab", sensor="a", group="a", kind="dead", ts=now, start=now - 60,
                      end=now if end else None, evidence={"summary": "reads 0 while b carries on", "value": 0.0},
                      reason="cleared" if end else None)


class SinkCase:
    """A sink config that runs here, and `delivered()`: the alert and fault payloads it delivered,
    as dicts, in order."""

    def __init__(self, request, tmp_path: Path, capsys):
        self.request, self.tmp_path, self.capsys = request, tmp_path, capsys

    def terminal(self):
        # The terminal shows lines for people, not JSON: one line per alert event is its delivery.
        return {"type": "terminal"}, None

    def jsonl(self):
        path = self.tmp_path / "alerts.jsonl"

        def delivered():
            lines = list(map(json.loads, path.read_text().splitlines()))
            return [d for d in lines if d.get("event") in ("fault", "fault_end") or d.pop("kind") == "alert"]
        return {"type": "jsonl", "path": str(path)}, delivered

    def mqtt(self):
        if MOSQUITTO is None:
            pytest.skip("mosquitto is not installed")
        port = self.request.getfixturevalue("broker").port
        collector = Collector(port, ["stad/lab/gw-1/alerts", "stad/lab/gw-1/faults"])
        self.request.addfinalizer(collector.close)

        def delivered():
            assert collector.wait_for(lambda msgs: len(msgs) >= 5, timeout=30)
            return [json.loads(m.payload) for m in collector.messages]
        return {"type": "mqtt", "broker": {"host": "127.0.0.1", "port": port, "reconnect_min_s": 0.1}}, delivered


def test_every_sink_has_a_contract_case():
    assert sorted(sink_plugins()) == sorted(k for k in vars(SinkCase) if not k.startswith("_"))


@pytest.mark.parametrize("kind", sorted(sink_plugins()))
def test_sink_contract(kind, request, tmp_path, capsys):
    entry, delivered = getattr(SinkCase(request, tmp_path, capsys), kind)()
    context = SinkContext(node_id="gw-1", site="lab", state_dir=str(tmp_path / "state"), base_dir=str(tmp_path))
    (tmp_path / "state").mkdir()
    cfg = from_dict({"sensors": SENSORS, "sources": [{"type": "stdin"}], "sinks": [entry]}, base_dir=str(tmp_path))
    sink = open_sink(cfg.sinks[0], context)
    assert isinstance(sink, Sink) and sink.TYPE == kind
    for seq, what in enumerate(("new", "update", "end")):
        sink.emit(alert(what, seq))
    sink.fault(fault(end=False))
    sink.fault(fault(end=True))
    sink.health({"tier": "numpy", "model": {"tier": "numpy"}, "ticks": 10, "warm": True, "rejected": {}})
    payloads = delivered() if delivered else None
    sink.close()
    if payloads is None:
        out = capsys.readouterr().out.splitlines()
        assert len([line for line in out if "gw-1-20260105T060000Z" in line]) == 3
        assert len([line for line in out if " FAULT" in line and " a " in line]) == 2
        return
    assert [(p.get("alert_id") or p["fault_id"], p["seq"], p["event"]) for p in payloads] == \
        [("gw-1-20260105T060000Z", i, e) for i, e in enumerate(("new", "update", "end"))] + \
        [("gw-1-a-20260105T060000Z", 0, "fault"), ("gw-1-a-20260105T060000Z", 1, "fault_end")]
    for p in payloads:
        jsonschema.validate(p, FAULT_SCHEMA if "fault_id" in p else SCHEMA)


# ---- scorers ----------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def demo_rows(tmp_path_factory):
    cfg = demo_cfg(tmp_path_factory.mktemp("contract"))
    return cfg, sim_rows(cfg, days=0.2, seed=3)


def numpy_scorer(cfg, rows) -> tuple[Scorer, Normaliser]:
    z = np.stack([r.values for r in rows[:300]])
    norm = Normaliser.fit(z)
    scorer = NumpyScorer(len(cfg.sensor_names()), adjacency(cfg.sensor_specs(), cfg.topology), cfg.scoring.numpy)
    scorer.fit(norm.apply(z), np.stack([r.missing for r in rows[:300]]))
    return scorer, norm


def runtime_scorer(kind: str, cfg, rows) -> tuple[Scorer, Normaliser]:
    if not HAVE_DEMO:
        pytest.skip("the demo bundle (agent/models/demo-corridor) is not built")
    if not runtimes()[kind].available():
        pytest.skip(f"the {kind} runtime is not installed")
    tiers, refusals = load_tiers(cfg.scoring, str(DEMO_BUNDLE), bundles.Expectation.from_config(cfg),
                                 cfg.alerts.top_k, cfg.base_dir, chain=[kind, "numpy"])
    assert tiers, refusals
    return tiers[0], Normaliser.from_manifest(tiers[0].manifest.normalisation, cfg.sensor_names())


@pytest.mark.parametrize("kind", ["numpy", *runtimes()])
def test_scorer_contract(kind, demo_rows):
    cfg, rows = demo_rows
    scorer, norm = numpy_scorer(cfg, rows) if kind == "numpy" else runtime_scorer(kind, cfg, rows)
    n, steps = len(cfg.sensor_names()), cfg.window.steps
    window = WindowBuffer(steps, n)
    assert scorer.TYPE == kind and scorer.describe()["tier"] == kind
    for row in rows[300:300 + 3 * steps]:
        window.push(norm.apply(row.values), row.missing, row.ts)
        first = scorer.score(window)
        again = scorer.score(window)
        assert isinstance(first, TickScore) and first.tier == kind
        s = first.sensor_scores
        assert s.shape == (n,) and np.all(np.isfinite(s)) and np.all(s >= 0)
        assert first.score == pytest.approx(float(s.max()))
        np.testing.assert_array_equal(again.sensor_scores, s)          # score() does not learn
        assert again.score == first.score
        for weights, size in ((first.sensor_weights, n), (first.time_weights, steps)):
            if weights is not None:
                assert weights.shape == (size,) and weights.sum() == pytest.approx(1.0, abs=1e-5)
        scorer.learn(window)
