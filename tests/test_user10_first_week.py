"""user10, a plant engineer's first week (a SKAB pump as the plant): what surprised the user, fixed.

- After a hot swap and a restart the banner said `scoring: tier tflite: pump3 (…) from <the configured
  scoring.bundle>`: the swapped-in model's id beside the path of the bundle it replaced. It names the
  bundle the tiers run now (a real hot swap, a real checkpoint, a real restart of the Agent).
- A bundle whose int8 artifacts failed verify: check-config's note lost what runs instead and the cure to
  its 300-character cut; they now come before the figures.
- A `columns` key that is in no file's header (`Volume Flow Rate` for SKAB's `Volume Flow RateRMS`): check-config
  said "ok"; it now says so in a `note:` naming the column, its sensor and the nearest header column.
- `stad-agent evaluate -c gateway.yaml --data today.csv` on a gateway config (its source live, udp): `evaluate:
  evaluate needs a 'replay' or 'simulate' source …`, exit 1. Now exit 2 (a config problem, as --help says) and
  the replay source to evaluate with: the --data path read with the warm-up's format keys, and label_columns.
- `stad-convert train`'s line per recording said `validation 180` for SKAB valve files whose validation part
  lies wholly in their labelled anomaly (no normal target: the threshold rested on the other files). It now
  says how many of a part's rows are labelled.
"""
from __future__ import annotations

from bundle_check_config import accepted_by_check_config
from conftest import DEMO_BUNDLE, HOTSWAP_WARMUP, NO_DEMO, demo_cfg
from swap_life import close, demo_swapped_in


@NO_DEMO
def test_the_banner_names_the_swapped_in_bundle_a_restart_runs_not_the_configured_one(tmp_path):
    from agent.firstscreen import banner
    from agent.service import Agent
    swapped = demo_swapped_in(tmp_path)
    agent = Agent(demo_cfg(tmp_path / "state", warmup_ticks=HOTSWAP_WARMUP, bundle=str(DEMO_BUNDLE),
                           models_dir=str(swapped.parent)))
    try:
        assert agent.pipeline.bundle_identity()["path"] == str(swapped)
        scoring = next(line for line in banner(agent) if line.startswith("  scoring: "))
        assert scoring.endswith(f"demo-a (model_int8.tflite, {agent.pipeline.chain.current.runtime}) from {swapped}"), scoring
    finally:
        close(agent)


def test_the_banner_names_a_builtin_bundle_as_configured(tmp_path):
    from agent.firstscreen import banner
    from agent.service import Agent
    agent = Agent(demo_cfg(tmp_path / "state", warmup_ticks=HOTSWAP_WARMUP))
    try:
        scoring = next(line for line in banner(agent) if line.startswith("  scoring: "))
        assert scoring.endswith(" from builtin:demo-corridor"), scoring
    finally:
        close(agent)


@NO_DEMO
def test_check_config_keeps_what_runs_and_the_cure_of_a_failed_parity_within_its_line(tmp_path):
    """A bundle whose two int8 artifacts failed verify in all three groups (user10's first training on its
    own history): check-config's note was cut at 300 characters after the figures, `… not run, t… (139 more
    characters)`, so the user never read which artifacts run instead nor how to go on."""
    import subprocess
    import sys

    import pytest
    import yaml

    from agent import bundle as bundles
    from agent.manifest import write as write_manifest
    from conftest import demo_dict, variant
    pytest.importorskip("onnxruntime")
    pytest.importorskip("ai_edge_litert")
    failed = variant("user10-int8-failed-everywhere", src=DEMO_BUNDLE, model_id="user10-int8-failed-everywhere")
    manifest = bundles.read_manifest(failed)
    manifest.parity["passed"] = False
    for kind in ("onnx_int8", "tflite_int8"):
        for group, agreement in zip(("calm", "spiked", "perturbed"), (0.8875, 0.9639, 0.9389)):
            manifest.parity[kind]["groups"][group]["alert_agreement"] = agreement
    write_manifest(failed, manifest)
    path = tmp_path / "agent.yaml"
    path.write_text(yaml.safe_dump(demo_dict(tmp_path, bundle=str(failed))))
    res = subprocess.run([sys.executable, "-m", "agent", "check-config", "-c", str(path)], capture_output=True,
                         text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    note = next(line for line in res.stderr.splitlines() if "parity failed when it was made" in line)
    assert "the tiers run onnx_fp32, tflite_fp32 instead" in note, note
    assert "stad-convert verify --record --min-agreement X" in note, note


SKAB_HEADER = "datetime;Accelerometer1RMS;Current;Volume Flow RateRMS;anomaly"


def _recordings(folder):
    folder.mkdir()
    for day in (1, 2):
        rows = [f"2020-03-0{day} 10:00:{s:02d};0.02;1.3;32.0;0" for s in range(40)]
        (folder / f"day{day}.csv").write_text("\n".join([SKAB_HEADER, *rows]) + "\n")
    return folder


def test_a_column_in_no_header_of_the_warmup_recordings_or_a_replay_is_said_with_its_nearest_match(tmp_path):
    history = _recordings(tmp_path / "history")
    fmt = {"separator": ";", "time_column": "datetime",
           "columns": {"Accelerometer1RMS": "accel1", "Current": "current", "Volume Flow Rate": "flow"}}
    gateway = {"sensors": ["accel1", "current", "flow"], "sources": [{"type": "stdin"}], "sinks": [], "window": {"steps": 8},
               "warmup": {"ticks": 40, "replay": str(history), "replay_format": fmt}, "state_dir": "state"}
    err = accepted_by_check_config(tmp_path, gateway)
    assert (f"note: warmup.replay: column 'Volume Flow Rate' (sensor flow) is in no header of its 2 CSV file(s) "
            f"(did you mean 'Volume Flow RateRMS'?): flow gets no reading from {history}") in err, err
    assert "'Accelerometer1RMS'" not in err and "'Current'" not in err

    replay = {"sensors": ["accel1", "current", "flow"], "sinks": [], "state_dir": "state", "window": {"steps": 8},
              "sources": [{"type": "replay", "path": str(history), "label_columns": ["anomaly"], **fmt}]}
    err = accepted_by_check_config(tmp_path, replay)
    assert "note: sources[0]: column 'Volume Flow Rate' (sensor flow) is in no header of its 2 CSV file(s)" in err, err

    fmt["columns"]["Volume Flow RateRMS"] = fmt["columns"].pop("Volume Flow Rate")
    assert "is in no header" not in (accepted_by_check_config(tmp_path, gateway)
                                     + accepted_by_check_config(tmp_path, replay))


def test_evaluate_on_a_gateway_config_says_which_replay_source_to_evaluate_with(tmp_path):
    import subprocess
    import sys

    import yaml
    history = _recordings(tmp_path / "history")
    fmt = {"separator": ";", "time_column": "datetime",
           "columns": {"Accelerometer1RMS": "accel1", "Current": "current", "Volume Flow RateRMS": "flow"}}
    gateway = {"sensors": ["accel1", "current", "flow"], "sources": [{"type": "udp", "port": 0}], "sinks": [],
               "window": {"steps": 8}, "warmup": {"ticks": 40, "replay": str(history), "replay_format": fmt}}
    path = tmp_path / "gateway.yaml"
    path.write_text(yaml.safe_dump(gateway, sort_keys=False))
    today = history / "day2.csv"
    res = subprocess.run([sys.executable, "-m", "agent", "evaluate", "-c", str(path), "--data", str(today)],
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 2, res.stderr
    said = [line for line in res.stderr.splitlines() if line.startswith(f"{path}: sources: ")]
    assert len(said) == 1, res.stderr
    assert "evaluate reads labelled data through a replay (or simulate) source; this config's sources are udp" in said[0]
    entry = yaml.safe_load(said[0].split("whose sources are ", 1)[1].split(" (label_columns:", 1)[0])
    assert entry == [{"type": "replay", "path": str(today), **fmt, "label_columns": ["anomaly"]}], said[0]


def test_train_says_how_many_rows_of_each_recordings_part_are_labelled(tmp_path):
    from agent.config import from_dict
    from convert.data import read_series, training_sources
    from convert.show import data_lines
    rec = tmp_path / "rec"
    rec.mkdir()
    for day, late in ((1, False), (2, True)):
        rows = [f"2020-03-0{day} 10:{s // 60:02d}:{s % 60:02d};{0.02 + 0.001 * (s % 7):.4f};{1.3 + 0.01 * (s % 5):.2f};"
                f"32.0;{int(late and s >= 70)}" for s in range(100)]
        (rec / f"day{day}.csv").write_text("\n".join([SKAB_HEADER, *rows]) + "\n")
    cfg = from_dict({"sensors": ["accel1", "current", "flow"], "window": {"steps": 8}, "warmup": {"ticks": 40},
                     "sinks": [], "sources": [{"type": "replay", "path": str(rec), "separator": ";",
                                               "time_column": "datetime", "label_columns": ["anomaly"],
                                               "columns": {"Accelerometer1RMS": "accel1", "Current": "current",
                                                           "Volume Flow RateRMS": "flow"}}]}, base_dir=str(rec))
    series = read_series(cfg, training_sources(cfg))
    lines = data_lines({"split": series.split.as_dict(), "sources": [{"type": "replay", "path": str(rec)}],
                        "segments": series.segments})
    day1 = next(line for line in lines if "day1.csv" in line)
    day2 = next(line for line in lines if "day2.csv" in line)
    assert day1.endswith("(train 70, validation 15, test 15)"), day1
    assert day2.endswith("(train 70, validation 15 (15 labelled), test 15 (15 labelled))"), day2
