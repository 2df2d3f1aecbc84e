"""The evaluation protocol: alerts count from the tick they were raised (back-dating only as a
labelled extra), NAB is counted on the file's rows whatever the aligner does with them, the
floors (random, always) are what they say, and bench/accuracy.py scores whatever NAB categories
it is given."""
import json
from pathlib import Path

import numpy as np
import pytest

from agent import config
from agent.alerts import AlertTracker
from agent.evaluate import evaluate, labelled, nab, score_file, traces
from conftest import bench_module
from nab_copy import write_nab_copy



def alert_cfg(**over):
    return config.from_dict({"sensors": ["a"], "sources": [{"type": "stdin"}], "alerts": over}).alerts


def test_alert_spans_start_at_the_tick_raised_and_backdated_only_as_extra():
    tracker = AlertTracker(alert_cfg(min_duration_ticks=3, clear_ticks=2, cooldown_ticks=0), "n", "s", 1.0)
    scores = [0, 0, 1.2, 1.2, 1.2, 1.2, 0, 0, 0, 0]  # above threshold 1 from tick 2 (not severe); raised on 4
    events = []
    for ts, score in enumerate(scores):
        events += tracker.observe(float(ts), float(score), 1.0, "numpy", lambda: {},
                                  lambda: {"top_sensors": [], "top_steps": [], "origin": None})
    out = score_file.spans_from_events(events, last_ts=9.0)
    assert out["onsets"] == [4.0]
    assert out["alert_spans"] == [(4.0, 5.0)]
    assert out["backdated_spans"] == [(2.0, 5.0)]


def test_an_alert_open_at_the_end_of_data_runs_to_the_last_tick():
    tracker = AlertTracker(alert_cfg(min_duration_ticks=2), "n", "s", 1.0)
    events = []
    for ts, score in enumerate([0, 1.2, 1.2, 1.2]):
        events += tracker.observe(float(ts), float(score), 1.0, "numpy", lambda: {},
                                  lambda: {"top_sensors": [], "top_steps": [], "origin": None})
    out = score_file.spans_from_events(events, last_ts=3.0)
    assert out["alert_spans"] == [(2.0, 3.0)] and out["backdated_spans"] == [(1.0, 3.0)]


def nab_cfg(root: Path, tick_s: float) -> config.AgentConfig:
    return config.from_dict({
        "sensors": ["value"], "tick_s": tick_s, "topology": "none",
        "sources": [{"type": "replay", "path": str(root / "data"),
                     "labels_file": str(root / "labels" / "combined_windows.json")}],
        "window": {"steps": 8, "carry_forward_s": 3 * tick_s}, "warmup": {"ticks": 16}, "sinks": [],
    }, base_dir=str(root))


def test_nab_is_counted_on_the_files_rows_not_on_ticks(tmp_path):
    # 400 rows every 300 s on a 600-s tick: two rows fall into every tick (the aligner keeps one).
    write_nab_copy(tmp_path, n_rows=400, step_s=300, window_rows=(300, 339))
    report = evaluate(nab_cfg(tmp_path, 600.0), scorers=["always", "numpy"])
    (f,) = report["files"]
    assert f["ticks"] == 200
    # probation: 15 % of the 400 rows = 60 rows = ticks 0..29 (NAB on ticks would take 30 rows)
    assert f["train_ticks"] == 30
    always = next(s for s in report["scorers"] if s["name"] == "always")["nab"]
    # What NAB's scorer gives for a detection on every row the agent could flag: the last row of
    # every scored tick (rows 61, 63, …), window rows 300..339 of the file.
    detected = np.zeros(400, bool)
    detected[61::2] = True
    expected = nab.corpus_scores([(detected, [(300, 339)])])
    for profile in nab.PROFILES:
        assert always[profile]["raw"] == pytest.approx(expected[profile]["raw"])
        assert always[profile]["score"] == pytest.approx(expected[profile]["score"])
    assert always["standard"]["windows"] == 1 and always["standard"]["false_positives"] == expected[
        "standard"]["false_positives"]


def test_nab_windows_and_probation_of_a_regular_file(tmp_path):
    write_nab_copy(tmp_path, n_rows=300, step_s=300, window_rows=(200, 229))
    cfg = nab_cfg(tmp_path, 300.0)
    (f,), _ = labelled.load_files(cfg, labelled.labelled_source(cfg, None), "nab")
    assert f.train_ticks == 45 and f.nab_windows == [(200, 229)]
    assert np.array_equal(f.tick_row, np.arange(300))        # one row per tick: identity


def test_tick_row_maps_gap_ticks_to_the_next_row():
    from agent.window import Row
    ts = np.array([0.0, 10.0, 20.0, 30.0, 40.0])                    # ticks of 10 s
    rows = [Row(ts=t, values=np.zeros(1), missing=np.zeros(1, bool), carried=np.zeros(1, bool)) for t in ts]
    source = traces.SourceRows(ts=np.array([1.0, 4.0, 12.0, 35.0]), labels=np.zeros(4, int), events=[None] * 4)
    f = traces.FileRows(name="x", rows=rows, train_ticks=1, source=source, tick_s=10.0)
    assert f.row_tick.tolist() == [0, 0, 1, 3]
    # tick 0 closed with row 1; tick 2 has no row: the next row (3); tick 4 has none after it (4 = none)
    assert f.tick_row.tolist() == [1, 2, 3, 3, 4]


def test_random_floor_is_labelled_and_always_floor_flags_every_scored_row(tmp_path):
    write_nab_copy(tmp_path, n_rows=300, step_s=300, window_rows=(200, 229))
    report = evaluate(nab_cfg(tmp_path, 300.0), scorers=["always", "random"])
    always = next(s for s in report["scorers"] if s["name"] == "always")
    assert always["pointwise"]["recall"] == 1.0 and always["pointwise"]["tn"] == 0
    assert always["kind"] == "baseline"
    random_row = next(s for s in report["scorers"] if s["name"] == "random")
    assert random_row["nab"]["standard"]["swept_threshold_score"] is not None


def _bench():
    return bench_module("accuracy")


def test_bench_scores_whatever_nab_categories_it_is_given(tmp_path, capsys):
    bench = _bench()
    path, _ = write_nab_copy(tmp_path, n_rows=300, step_s=3600, window_rows=(200, 229))
    assert bench.nab_files(tmp_path) == {"artificialWithAnomaly": [path]}
    assert bench.sampling_period_s(path) == 3600.0
    summary = bench.run_nab(tmp_path, ["numpy", "always"], None, tmp_path / "out")
    out = capsys.readouterr().out
    assert "1 files in 1 categories (artificialWithAnomaly)" in out
    assert "realTraffic" not in out and "realKnownCause" not in out
    assert "alarm on every row" in out and "numpy fallback" in out
    saved = json.loads((tmp_path / "out" / "nab.json").read_text())
    assert saved["numpy"]["per_file"]["artificialWithAnomaly/toy.csv"]["rows"] == 300
    assert summary["always"]["nab"]["standard"]["windows_detected"] == 1


def test_bench_corridor_incidents_schedule_is_graded_and_after_warm_up():
    bench = _bench()
    cfg = bench.corridor_config(schedule="incidents", magnitudes=(0.1, 0.5), seed=3)
    (src,) = cfg.sources
    assert src.seed == 3
    incidents = src.anomalies
    assert len(incidents) == bench.CORRIDOR_INCIDENTS
    assert {a.kind for a in incidents} == {"incident"}
    assert min(a.magnitude for a in incidents) == 0.1 and max(a.magnitude for a in incidents) == 0.5
    warmup_s = cfg.warmup.ticks * cfg.tick_s
    assert all(warmup_s < a.at_s < bench.CORRIDOR_DAYS * 86400 - a.duration_s for a in incidents)
    assert bench.corridor_config().sources[0].anomalies is None     # the default: every kind in turn


def test_bench_runs_a_subset_with_no_labelled_window(tmp_path, capsys):
    # `--nab-file` on an anomaly-free file: NAB has nothing to normalise by, so no score — the
    # table says so ("–") instead of failing, and names only the subset's category.
    bench = _bench()
    path, _ = write_nab_copy(tmp_path, n_rows=300, step_s=3600, window_rows=(200, 229))
    free = tmp_path / "data" / "artificialNoAnomaly"
    free.mkdir()
    (free / "flat.csv").write_text(path.read_text())
    labels = tmp_path / "labels" / "combined_windows.json"
    labels.write_text(json.dumps({**json.loads(labels.read_text()), "artificialNoAnomaly/flat.csv": []}))
    summary = bench.run_nab(tmp_path, ["numpy"], None, None, only_files=["artificialNoAnomaly/flat.csv"])
    out = capsys.readouterr().out
    assert "1 files in 1 categories (artificialNoAnomaly)" in out
    assert summary["numpy"]["nab"]["standard"]["score"] is None
    row = next(line for line in out.splitlines() if line.startswith("numpy fallback"))
    assert row.split()[2:5] == ["–", "–", "–"] and row.rstrip().endswith("– / – / –")


def test_a_file_whose_time_steps_back_is_skipped_saying_where(tmp_path):
    """A labelled recording whose clock was set back 2 h mid-file: its hours overlap, so an alert's
    span (kept in time) also covered the other copy's ticks, and the split, events and NAB windows
    are all counted in time order. On the old code it was scored: the numpy scorer's one alert over
    the labelled event counted 40 false positives on the unlabelled ticks of the same hours
    (precision 0.385, not 1). Now it is skipped, naming the tick and the times; the folder's other
    file is evaluated."""
    import random
    t0 = 1_767_600_000
    data = tmp_path / "data"
    data.mkdir()
    for name, back in (("back.csv", 7200), ("plain.csv", 0)):
        lines = ["timestamp,a,b,anomaly"]
        for i in range(1800):
            r = random.Random(i)
            label = 1 if 1300 <= i < 1340 else 0
            lines.append(f"{t0 + 10 * i - (back if i >= 1000 else 0)},{1 + r.gauss(0, .1) + 5 * label:.4f},"
                         f"{1 + r.gauss(0, .1):.4f},{label}")
        (data / name).write_text("\n".join(lines) + "\n")
    cfg = config.from_dict({"sensors": ["a", "b"], "tick_s": 10, "warmup": {"ticks": 300},
                            "scoring": {"chain": ["numpy"]}, "window": {"steps": 16}, "sinks": [],
                            "sources": [{"type": "replay", "path": str(data), "label_columns": ["anomaly"]}]},
                           base_dir=str(tmp_path))
    report = evaluate(cfg, scorers=["always"])
    assert [f["name"] for f in report["files"]] == ["plain.csv"]
    assert report["skipped_files"] == [
        "back.csv (its time steps back at tick 1001 of 1800, from 2026-01-05T10:46:30.000Z to "
        "2026-01-05T08:46:40.000Z: the evaluation counts in time order; split the file at the step)"]
