"""Three messages that said the wrong thing (user11's first week; qa30):
  - evaluate's replay-source hint proposed `label_columns: [LABEL]` while naming the one candidate column;
  - a Modbus source's fault said its sensors "fell silent together" while its log said the device was
    unreachable (tests/test_qa30_source_peer.py: live devices);
  - POT's "stays at that starting point" warning did not say whose threshold it was."""
from __future__ import annotations

import logging

import numpy as np
import yaml

from agent.config import AlertConfig, ThresholdConfig, from_dict
from agent.detector import Detector
from agent.evaluate.labelled import replay_hint
from agent.threshold import AdaptiveThreshold, calibrate


def _gateway(tmp_path, header: str):
    """A gateway config (a live udp source) whose warm-up reads recordings with `header`, and a
    labelled day's CSV file with that header."""
    rows = [f"2026-12-04 06:{m:02d}:00,{100 + m},{0.1 * m:.1f},0" + ",0" * header.count("lane") for m in range(5)]
    today = tmp_path / "today.csv"
    today.write_text("\n".join([header, *rows]) + "\n")
    cfg = from_dict({"sensors": ["flow", "occ"], "sources": [{"type": "udp", "port": 0}], "sinks": [],
                     "window": {"steps": 4},
                     "warmup": {"ticks": 40, "replay": str(tmp_path), "replay_format": {"time_column": "datetime"}}},
                    base_dir=str(tmp_path))
    return cfg, today


def _suggested(hint: str) -> list[dict]:
    return yaml.safe_load(hint.split("whose sources are ", 1)[1].split(" (label_columns:", 1)[0])


def test_the_one_candidate_label_column_is_put_in_the_suggested_replay_source(tmp_path):
    cfg, today = _gateway(tmp_path, "datetime,flow,occ,incident")
    hint = replay_hint(cfg, str(today))
    assert _suggested(hint)[0]["label_columns"] == ["incident"], hint
    assert "LABEL" not in hint and "besides the time and the sensors': incident)" in hint, hint


def test_several_candidate_columns_are_named_and_the_placeholder_kept(tmp_path):
    cfg, today = _gateway(tmp_path, "datetime,flow,occ,incident,lane_closed")
    hint = replay_hint(cfg, str(today))
    assert _suggested(hint)[0]["label_columns"] == ["LABEL"], hint
    assert "besides the time and the sensors': incident, lane_closed; LABEL: the one of them that does)" in hint, hint


def test_a_column_named_as_a_label_is_still_taken_among_others(tmp_path):
    cfg, today = _gateway(tmp_path, "datetime,flow,occ,anomaly,lane_changepoint")
    assert _suggested(replay_hint(cfg, str(today)))[0]["label_columns"] == ["anomaly"]


def test_pots_held_starting_point_warning_names_the_tier_whose_threshold_it_is(caplog):
    # risk 0.1 against calibration scores of which 2% exceed the starting point: the first refit of the
    # value (every 256 calm ticks) holds the starting point, and says so once, naming the tier.
    rng = np.random.default_rng(3)
    cfg = ThresholdConfig(risk=0.1)
    thresholds = {t: AdaptiveThreshold(cfg, calibrate(np.abs(rng.standard_normal(2000)), cfg)) for t in ("tcn", "numpy")}
    detector = Detector(AlertConfig(), "n1", "s1", 1.0, {"tcn": thresholds["tcn"]})
    detector.add({"numpy": thresholds["numpy"]})
    with caplog.at_level(logging.WARNING, logger="agent.threshold"):
        for thr in thresholds.values():
            for _ in range(600):
                thr.update(0.0)
    said = [r.getMessage() for r in caplog.records if "stays at that starting point" in r.getMessage()]
    assert len(said) == 2, said
    assert said[0].startswith("tcn tier: threshold.risk 0.1 ") and said[1].startswith("numpy tier: "), said
