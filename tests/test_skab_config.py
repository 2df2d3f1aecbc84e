"""configs/skab.yaml: valid without the data, and (when the shared SKAB copy is there) it replays a
real SKAB file through `stad-agent evaluate` under SKAB's protocol. Also bench/accuracy.py's
training-data writer, which must only ever use SKAB's training part."""
import json
import shutil
from pathlib import Path

import pytest

from agent import cli, config
from conftest import bench_module, shared_dataset

REPO = Path(__file__).resolve().parents[1]
SKAB_CONFIG = REPO / "configs" / "skab.yaml"
SKAB_DATA = shared_dataset("skab", "valve1")
SENSORS = ["accel1", "accel2", "current", "pressure", "temp_motor", "temp_fluid", "voltage", "flow"]


@pytest.mark.skipif(not (REPO.parent / "shared" / "data" / "skab").is_dir(),
                    reason="checked for `run`, configs/skab.yaml needs ../shared/data/skab next to the checkout "
                           "(absent; the test below checks the config without it)")
def test_skab_config_checks(capsys):
    assert cli.main(["check-config", "-c", str(SKAB_CONFIG)]) == 0
    assert "8 sensors" in capsys.readouterr().out


def test_skab_config_checks_without_the_data(tmp_path, capsys):
    # A copy elsewhere: its relative replay path points at nothing, and that is not a config error.
    copy = tmp_path / "configs" / "skab.yaml"
    copy.parent.mkdir()
    shutil.copyfile(SKAB_CONFIG, copy)
    assert not (tmp_path / "configs" / "../../shared/data/skab").exists()
    assert cli.main(["check-config", "--static", "-c", str(copy)]) == 0
    capsys.readouterr()
    # Checked for `run` on this machine, the missing data is reported with its key path (exit 2).
    assert cli.main(["check-config", "-c", str(copy)]) == 2
    assert f"{copy}: sources[0].path:" in capsys.readouterr().err


def test_skab_config_maps_every_skab_column():
    cfg = config.load(SKAB_CONFIG)
    (src,) = cfg.sources
    assert cfg.sensor_names() == SENSORS and cfg.tick_s == 1 and cfg.topology == "group"
    assert src.TYPE == "replay" and src.separator == ";" and src.time_column == "datetime"
    assert src.label_columns == ["anomaly"]
    assert list(src.columns) == ["Accelerometer1RMS", "Accelerometer2RMS", "Current", "Pressure", "Temperature",
                                 "Thermocouple", "Voltage", "Volume Flow RateRMS"]
    assert list(src.columns.values()) == SENSORS
    assert cfg.resolve(src.path).resolve() == (REPO.parent / "shared" / "data" / "skab").resolve()


@pytest.mark.skipif(SKAB_DATA is None, reason="needs the shared SKAB copy at /work/shared/data/skab or "
                                              "../shared/data/skab next to the checkout (absent)")
def test_real_skab_file_replays_through_evaluate(tmp_path, capsys):
    report_path = tmp_path / "skab.json"
    rc = cli.main(["evaluate", "-c", str(SKAB_CONFIG), "--data", str(SKAB_DATA / "valve1" / "0.csv"),
                   "--scorer", "numpy", "--report", str(report_path)])
    assert rc == 0
    table = capsys.readouterr().out
    assert "numpy" in table.split("\n", 3)[-1]          # a numpy row under the header
    report = json.loads(report_path.read_text())
    assert report["protocol"]["name"] == "skab"
    (f,) = report["files"]
    assert f["train_rows"] == 400
    assert [s["name"] for s in report["scorers"]] == ["numpy"]
    row = report["scorers"][0]
    assert row["anomalous_rows"] > 0 and row["scored_rows"] > 600
    assert set(row["skab"]) == {"f1", "far_pct", "mar_pct"}
    assert row["events"]["events_total"] == 1
    assert row["tiers"] == {"numpy": row["tiers"]["numpy"]}


def _bench():
    return bench_module("accuracy")


def _skab_file(path: Path, start_min: int, n: int, labelled: bool = True, crlf: bool = False) -> list[str]:
    header = "datetime;Accelerometer1RMS;Accelerometer2RMS;Current;Pressure;Temperature;Thermocouple;Voltage;" \
             "Volume Flow RateRMS" + (";anomaly;changepoint" if labelled else "")
    stamps = [f"2020-03-01 {10 + (start_min * 60 + k) // 3600:02d}:{(start_min * 60 + k) // 60 % 60:02d}:"
              f"{k % 60:02d}" for k in range(n)]
    rows = [f"{t};0.2;0.27;2.1;0.38;90.{k % 10};26.8;230.0;120.0" + (";0.0;0.0" if labelled else "")
            for k, t in enumerate(stamps)]
    path.parent.mkdir(parents=True, exist_ok=True)
    eol = "\r\n" if crlf else "\n"
    path.write_bytes((eol.join([header] + rows) + eol).encode())
    return stamps


def test_training_data_is_skab_training_part_only(tmp_path):
    bench = _bench()
    root = tmp_path / "skab"
    free = _skab_file(root / "anomaly-free" / "anomaly-free.csv", 0, 700, labelled=False, crlf=True)
    a = _skab_file(root / "other" / "1.csv", 100, 900)
    b = _skab_file(root / "other" / "2.csv", 110, 900)   # starts inside other/1's test part (row 600 on)
    _skab_file(root / "valve1" / "0.csv", 200, 900)
    summary = bench.write_skab_training_data(root, tmp_path / "train", gap_s=50, stitch_rows=8)
    out = sorted((tmp_path / "train").glob("*.csv"))
    assert [p.name for p in out] == ["000-anomaly-free-anomaly-free.csv", "001-other-1.csv", "002-valve1-0.csv",
                                     "003-other-2.csv"]
    test_rows = set(a[400:]) | set(b[400:])
    kept = {"other/1.csv": a[:400], "other/2.csv": [t for t in b[:400] if t not in test_rows]}
    assert summary["dropped_rows_overlapping_test_parts"] == {"other/2.csv": 400 - len(kept["other/2.csv"])}
    sizes = {f["from"]: f["rows"] for f in summary["files"]}
    assert sizes == {"anomaly-free/anomaly-free.csv": 700, "other/1.csv": 400, "valve1/0.csv": 400,
                     "other/2.csv": len(kept["other/2.csv"])}
    assert out[0].read_bytes().count(b"\r\n") == len(free) + 1                 # line endings kept
    lines = out[1].read_text().splitlines()
    assert lines[0].endswith(";anomaly;changepoint") and len(lines) == 401
    labels = [line.split(";")[-2] for line in lines[1:]]
    assert labels[:8] == ["1.0"] * 8 and set(labels[8:]) == {"0.0"}            # stitch rows masked
    # segments follow one another in time, gap_s apart, each keeping its own spacing
    cfg = config.from_dict({"sensors": ["Current"], "sinks": [],
                            "sources": [{"type": "replay", "path": str(tmp_path / "train"), "separator": ";",
                                         "time_column": "datetime"}]})
    from agent.records import Rejects
    from agent.sources import open_source
    (src,) = cfg.sources
    ts = [r.ts for r in open_source(src, ["Current"], Rejects()).records()]
    assert len(ts) == sum(sizes.values())
    assert all(b > a for a, b in zip(ts, ts[1:]))
    assert max(b - a for a, b in zip(ts, ts[1:])) == 50


def test_skab_dev_and_rest_subsets_split_the_labelled_files(tmp_path):
    bench = _bench()
    root = tmp_path / "skab"
    _skab_file(root / "anomaly-free" / "anomaly-free.csv", 0, 20, labelled=False)
    names = [*bench.SKAB_DEV_FILES, "valve1/4.csv", "other/7.csv"]
    for k, name in enumerate(names):
        _skab_file(root / name, 10 * k, 20)
    assert bench.skab_subset(root, "all", tmp_path) == root
    dev = bench.skab_subset(root, "dev", tmp_path / "d")
    rest = bench.skab_subset(root, "rest", tmp_path / "r")
    listed = {p: sorted(q.relative_to(p).as_posix() for q in p.glob("*/*.csv")) for p in (dev, rest)}
    assert listed[dev] == sorted(bench.SKAB_DEV_FILES)
    assert listed[rest] == ["other/7.csv", "valve1/4.csv"]          # no anomaly-free, no dev file
    assert (dev / "other" / "5.csv").read_bytes() == (root / "other" / "5.csv").read_bytes()
    (root / "other" / "5.csv").unlink()
    with pytest.raises(SystemExit, match="other/5.csv"):
        bench.skab_subset(root, "dev", tmp_path / "again")


def test_a_logger_gap_does_not_keep_the_skab_pump_unscored_for_a_minute():
    """configs/skab.yaml's `faults.clear_s: 0`: after a data gap of the bench's logger (every sensor
    at once, 42 s in valve1/2.csv) the sensors' missing faults end on the first tick they are back
    and score again once the gap has left the window, so a flow step 40 s after the gap is alarmed
    at once. With the default 60 s the sensors stayed masked, then quietened, for a minute more; since faults11 an
    outage of every sensor at once (a whole source's: its `source` fault) ends with its readings whatever `clear_s`,
    so the default alarms it at once too (a lone sensor's `missing` still waits `clear_s`)."""
    import dataclasses

    import numpy as np

    from agent.pipeline import Pipeline
    from agent.window import Row

    base = config.load(SKAB_CONFIG)
    assert base.faults.clear_s == 0
    base = dataclasses.replace(base, scoring=dataclasses.replace(base.scoring, chain=["numpy"]))
    rng = np.random.default_rng(3)
    level = np.array([0.2, 0.3, 1.0, 0.1, 70.0, 25.0, 230.0, 32.0])
    spread = np.array([0.005, 0.005, 0.05, 0.02, 0.1, 0.1, 2.0, 0.4])
    warm, gap, after, step = 500, 42, 200, 40
    flow = SENSORS.index("flow")
    rows, t = [], 1.6e9
    for i in range(warm + gap + after):
        t += 1.0
        values = level + spread * rng.standard_normal(len(level))
        if i >= warm + gap + step:
            values[flow] -= 10 * spread[flow]                # the valve: flow steps down and stays
        missing = np.full(len(level), warm <= i < warm + gap)
        rows.append(Row(ts=t, values=np.where(missing, np.nan, values), missing=missing,
                        carried=np.zeros(len(level), bool)))

    def first_alert(cfg) -> int:
        pipe = Pipeline(cfg, warmup_ticks=400)
        for i, row in enumerate(rows):
            if any(ev.event == "new" for ev in pipe.step(row).alerts):
                return i - (warm + gap + step)
        return after

    slow = dataclasses.replace(base, faults=dataclasses.replace(base.faults, clear_s=60.0))
    assert 0 <= first_alert(base) <= 5
    assert 0 <= first_alert(slow) <= 5         # before faults11: ≥ 20 (masked until clear_s had run)
