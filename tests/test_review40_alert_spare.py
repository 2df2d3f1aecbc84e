"""The alert journal's spare (`alert-journal.json.spare`, written in place when a full state disk refuses the journal's
atomic write) is sized for the site: an open alert's journal on a model tier holds the residue rule's per-sensor peaks
(`score_peak`, `level_high`), ~50 bytes a sensor each — 13.9 KB at 256 sensors of 35-character names. The spare was
16 KiB for any site (review40): past ~300 sensors such a document fit nowhere on a full disk, and a kill -9 then left
the restart an older journal — the alert it had raised since stayed open for good for a subscriber fed by MQTT alone.
Real parts: the journals as the agent opens them (Delivery._open_journals), a real alert tracker's state, a real full
disk (tests/small_fs.py: a tmpfs filled)."""
from __future__ import annotations

import json
from dataclasses import asdict

import pytest

from agent.alerts import AlertTracker
from agent.checkpoint import SPARE_BYTES, EventJournal
from agent.config import AlertConfig
from agent.delivery import Delivery
from small_fs import small_fs  # noqa: F401 — fixture

SENSORS = [f"line3.pump{i:03d}.discharge_pressure" for i in range(400)]


def open_alert_on_a_model_tier() -> tuple[dict, dict]:
    """(event, tracker) as the agent journals them (agent/delivery.py `_emit`), ticks into an alert on a model tier
    whose residue rule has seen every sensor's score and level."""
    cfg = AlertConfig(min_duration_ticks=2, clear_ticks=3, hysteresis=0.8, cooldown_ticks=5, update_interval_s=50,
                      instant_factor=100)
    tracker = AlertTracker(cfg, "gw", "site", 1.0, residue_fraction=0.35, window_ticks=32)
    explain = {"top_sensors": [{"sensor": s, "score": 2.0, "contribution": 0.1} for s in SENSORS[:5]],
               "top_steps": [{"ts": 1_767_600_000.0, "weight": 1.0}]}
    event = None
    for k in range(30):
        scores = {s: 1.0 + i / 100 + k / 1000 for i, s in enumerate(SENSORS)}
        for ev in tracker.observe(1_767_600_000.0 + k, 1.0 if k < 10 else 8.0, 4.0, "tflite",
                                  lambda: {"model_id": "m", "sha256": "x"}, lambda: explain,
                                  levels=lambda: {s: 0.5 + i / 200 for i, s in enumerate(SENSORS)},
                                  scores=lambda: scores):
            event = ev
    assert tracker.open is not None and len(tracker.open.score_peak) == len(SENSORS)
    return asdict(event), {"ts": 1_767_600_029.0, "state": tracker.state_dict()}


def test_an_open_alerts_journal_of_a_large_site_is_kept_in_the_spare_on_a_full_disk(small_fs):  # noqa: F811
    event, tracker = open_alert_on_a_model_tier()
    size = len(json.dumps({"version": 1, "n": 1, "event": event, "tracker": tracker}, separators=(",", ":")))
    assert size > SPARE_BYTES, size             # more than the spare every site had
    delivery = Delivery()
    delivery._open_journals(small_fs.path, len(SENSORS))      # the spares reserved at the start, as the agent does
    small_fs.fill()
    with pytest.raises(OSError) as refused:
        delivery.journal.record(event, tracker)
    assert getattr(refused.value, "kept_in", None) == "alert-journal.json.spare", refused.value
    delivery.journal.close()
    delivery.fault_journal.close()
    read = EventJournal(small_fs.path).read()       # the restart's read: the newer of journal and spare
    assert read is not None and read["tracker"]["state"]["open"]["alert_id"] == event["alert_id"]
    assert len(read["tracker"]["state"]["open"]["score_peak"]) == len(SENSORS)
