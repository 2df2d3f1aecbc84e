"""The outage of a real source's peer, decided late (tests/test_qa30_source_peer.py, user11; user26 reads the
Modbus words from it): a source reads its peer (a Modbus device process, a Mosquitto, an OPC UA server) in a thread,
the peer is killed and started again, and the `source` fault of that outage is decided after the peer is back, as
window.idle_flush_s closes ticks late. Here rather than in a test module: test modules do not import each other."""
from __future__ import annotations

import threading
import time

import numpy as np

from agent import config
from agent.pipeline import Pipeline
from agent.records import Rejects
from agent.window import Row
from conftest import wait_until

SENSORS = ["a", "b", "c"]


def pipeline(tmp_path, sources: list[dict], tick: float) -> Pipeline:
    """A numpy agent's pipeline at `tick`: missing decided 3 ticks past a 2-tick carry-forward."""
    return Pipeline(config.from_dict({
        "tick_s": tick, "topology": "group", "sensors": SENSORS, "sources": sources,
        "window": {"steps": 8, "carry_forward_s": 2 * tick}, "warmup": {"ticks": 20}, "scoring": {"chain": ["numpy"]},
        "faults": {"missing_s": 3 * tick, "clear_s": 2 * tick, "stuck_s": 3600, "flatline_s": 3600}, "sinks": [],
    }, base_dir=str(tmp_path)))


def _rows(tracker, start: float, tick: float, ticks: int, silent: set[str]) -> list:
    out = []
    for k in range(ticks):
        values = np.array([10.0 + k % 3, 20.0 + k % 5, 30.0 + k % 4])
        missing = np.array([s in silent for s in SENSORS])
        out += tracker.observe(Row(ts=start + k * tick, values=np.where(missing, np.nan, values), missing=missing,
                                   carried=np.zeros(len(SENSORS), bool)))
    return out


def _decided_late(tmp_path, sources: list[dict], source, lost_at: float, back_at: float) -> list:
    """The ticks of an outage from `lost_at` to `back_at` (wall clock) of `sources[0]`'s two sensors a
    and b, 20 of them, told to a tracker now, after the peer is back: late, as ticks closed by
    window.idle_flush_s are. Returns the events of the silence."""
    tick = (back_at - lost_at) / 20
    p = pipeline(tmp_path, sources, tick)
    p.source_map.attach([source])                       # (the udp feed, second, is not opened)
    silence = lost_at - tick / 2                        # the last reading came just before the loss
    assert _rows(p.health, silence - 30 * tick, tick, 30, set()) == []
    down = _rows(p.health, silence, tick, 20, {"a", "b"})
    label = p.source_map.labels[0]
    assert [(ev.event, ev.kind, ev.sensor) for ev in down] == [("fault", "source", label)], down
    assert down[0].sensors == ["a", "b"]
    return down


def summary_after_outage(tmp_path, sources: list[dict], peer, deadline_s: float = 60) -> tuple[str, str]:
    """`sources[0]` opened and read (a thread) while its `peer` (a PeerProcess or Mosquitto) is killed
    and started again; the outage's source fault, decided late, while the source still runs. Returns
    (what the source said while its peer was gone, the fault's summary)."""
    from agent.sources import open_source
    source = open_source(pipeline(tmp_path, sources, 1.0).cfg.sources[0], SENSORS, Rejects())
    reading = threading.Thread(target=lambda: list(source.records()), daemon=True)
    reading.start()
    try:
        assert wait_until(lambda: source.peer == (True, ""), deadline_s)
        peer.kill()                                     # the device's power cut …
        assert wait_until(lambda: source.peer is not None and not source.peer[0], deadline_s)
        lost_at, why = time.time(), source.peer[1]
        peer.start()                                    # … and back
        assert wait_until(lambda: source.peer == (True, ""), deadline_s)
        back_at = time.time()
        return why, _decided_late(tmp_path, sources, source, lost_at, back_at)[0].evidence["summary"]
    finally:
        source.close()
        reading.join(30)
