"""user12's first week as a water utility's process engineer (docs/measured/first-week.md, "user12"): the
defects found on the way, each held by a test that failed on main's code."""
from pathlib import Path

from agent.config import load
from agent.scorers.profile import temperature_sensors

SENSORS = """
tick_s: 1
sensors:
  - {name: TT101, group: pump1, unit: degrees Celsius}
  - {name: TT102, group: pump1, unit: "℃"}
  - {name: TT103, group: pump1, unit: "ºC"}
  - {name: TT104, group: pump1, unit: deg. C}
  - {name: TT105, group: pump1, unit: Degree Fahrenheit}
  - {name: IT101, group: pump1, unit: A}
  - {name: FT101, group: pump1, unit: L/min}
  - {name: QT101, group: pump1, unit: C}
sources: [{type: replay, path: historian, separator: ";", time_column: datetime}]
"""


def test_a_temperature_written_as_a_plant_writes_it_is_drifting(tmp_path: Path):
    """The skab32 defaults judge a temperature-unit sensor `drifting` (by its newest forecast error alone): a
    historian's "degrees Celsius", the one-character ℃, a Spanish keyboard's ºC (the ordinal º, not the degree
    sign) or "deg. C" were not taken for temperatures, and nothing said so: those sensors were profiled as levels,
    the heat balance's slow wander scored as a departure (skab32: FAR 8.9 → 17.4 % on SKAB's dev files)."""
    path = tmp_path / "pump.yaml"
    path.write_text(SENSORS, encoding="utf-8")
    cfg = load(path)
    assert cfg.scoring.profile.drifting == ["TT101", "TT102", "TT103", "TT104", "TT105"]


def test_a_bare_letter_is_still_not_a_temperature():
    """A bare C or F stays a coulomb or a farad, and a unit that only mentions degrees (an angle) is no
    temperature: the review of skab32 kept those out on purpose."""
    units = [("a", "C"), ("b", "F"), ("c", "deg"), ("d", "degrees"), ("e", "°"), ("f", "kelvin"), ("g", "K")]
    assert temperature_sensors(units) == ["f", "g"]


def _pump_day(path: Path, freeze: range, rows: int) -> None:
    """A pump's 1-s historian export: a thermocouple (TT102) that repeats its reading once every 30 s when
    healthy, as SKAB's does now and then, frozen over `freeze`; current and flow moving around their levels."""
    import numpy as np
    rng = np.random.default_rng(12)
    lines = ["datetime;TT102;IT101;FT101"]
    tt = 29.0
    for i in range(rows):
        if i in freeze:
            pass                                    # the PLC register stopped refreshing
        elif i % 30:
            tt = round(29.0 + 0.3 * np.sin(i / 400.0) + rng.normal(0.0, 0.01), 4)
        # (every 30th tick repeats the last reading: a healthy repeat)
        stamp = f"2020-02-08 {13 + i // 3600:02d}:{i // 60 % 60:02d}:{i % 60:02d}"
        lines.append(f"{stamp};{tt};{2.5 + rng.normal(0.0, 0.05):.4f};{125.0 + rng.normal(0.0, 1.0):.3f}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def test_a_stuck_sensor_that_moves_again_is_cleared_though_it_repeats_now_and_then(tmp_path: Path):
    """user12's frozen thermocouple: stuck 90 s after the freeze (right), but once it moved again its `stuck`
    never ended — 36 min later it was still open, because every healthy repeat (a run of one tick, which it
    shows about once a minute) held the condition again and the 60-s clear never ran out. A sensor judged stuck
    now holds its fault only while its run is longer than any run it showed while healthy."""
    import json
    import subprocess
    import sys

    import yaml
    _pump_day(tmp_path / "day.csv", freeze=range(1500, 2100), rows=2700)
    cfg = {"tick_s": 1, "topology": "group",
           "sensors": [{"name": n, "group": "pump1", "unit": u} for n, u in (("TT102", "°C"), ("IT101", "A"),
                                                                              ("FT101", "L/min"))],
           "sources": [{"type": "replay", "path": str(tmp_path / "day.csv"), "separator": ";",
                        "time_column": "datetime"}],
           "warmup": {"ticks": 600}, "sinks": [{"type": "jsonl", "path": str(tmp_path / "events.jsonl")}],
           "state_dir": str(tmp_path / "state")}
    (tmp_path / "agent.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False), encoding="utf-8")
    res = subprocess.run([sys.executable, "-m", "agent", "run", "-c", str(tmp_path / "agent.yaml")],
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-2000:]
    events = [json.loads(line) for line in (tmp_path / "events.jsonl").read_text().splitlines()]
    stuck = [e for e in events if e.get("sensor") == "TT102" and e.get("kind") == "stuck"]
    assert [e["event"] for e in stuck] == ["fault", "fault_end"], stuck
    assert stuck[0]["start"].startswith("2020-02-08T13:25:00"), stuck[0]     # tick 1500, the freeze's first
    assert stuck[1]["reason"] == "cleared", stuck[1]
    # moved again at tick 2100 (13:35:00): cleared within clear_s (60 s) and a few ticks, not at the input's end
    assert "2020-02-08T13:36:00" <= stuck[1]["ts"] <= "2020-02-08T13:37:00", stuck[1]


def test_evaluate_of_a_gateway_config_over_a_folder_names_its_label_column(tmp_path: Path):
    """`stad-agent evaluate -c gateway.yaml --data labelled/` (a folder of SKAB-like exports, as the replay source
    reads them): the refusal's suggested replay source said `label_columns: [LABEL]`, a placeholder, though every
    file's header names `anomaly` — the header was read only when --data was one file."""
    import subprocess
    import sys

    import yaml
    labelled = tmp_path / "labelled"
    labelled.mkdir()
    rows = [f"2020-02-08 17:{m:02d}:00;{2.5 + 0.01 * m};{125 + m};0.0;0.0" for m in range(5)]
    (labelled / "other9.csv").write_text("\n".join(["datetime;Current;Volume Flow RateRMS;anomaly;changepoint",
                                                    *rows]) + "\n", encoding="utf-8")
    cfg = {"tick_s": 1, "sensors": ["IT101", "FT101"], "sources": [{"type": "udp", "port": 0}], "sinks": [],
           "warmup": {"ticks": 40, "replay": str(labelled),
                      "replay_format": {"separator": ";", "time_column": "datetime",
                                        "columns": {"Current": "IT101", "Volume Flow RateRMS": "FT101"}}},
           "state_dir": str(tmp_path / "state")}
    (tmp_path / "gateway.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False), encoding="utf-8")
    res = subprocess.run([sys.executable, "-m", "agent", "evaluate", "-c", str(tmp_path / "gateway.yaml"),
                          "--data", str(labelled)], capture_output=True, text=True, timeout=120)
    assert res.returncode == 2, res.stderr
    suggested = yaml.safe_load(res.stderr.split("whose sources are ", 1)[1].split(" (label_columns:", 1)[0])
    assert suggested[0]["path"] == str(labelled.resolve()), suggested
    assert suggested[0]["label_columns"] == ["anomaly"], res.stderr
    assert "besides the time and the sensors': anomaly, changepoint)" in res.stderr, res.stderr


def test_the_banner_says_which_sensors_the_profile_takes_as_drifting(tmp_path: Path):
    """Which sensors the defaults judge `drifting` follows from each sensor's `unit` and was said nowhere: a unit
    the agent did not read as a temperature changed how that sensor alarms without a word. The banner says it
    (a real agent on the shipped demo bundle; a stdin source that ends at once; a warm-up long enough to fit a profile,
    146 ticks on the demo's window: user40 — a shorter one fits none and the banner says so instead)."""
    import subprocess
    import sys

    import yaml
    stations = [f"S{k:02d}" for k in range(1, 7)]
    sensors = [{"name": f"{s}_{q}", **({"unit": "degrees Celsius"} if (s, q) == ("S03", "speed") else {})}
               for s in stations for q in ("flow", "occ", "speed")]
    cfg = {"node": {"id": "gw1", "site": "plant"}, "tick_s": 30, "topology": "corridor", "sensors": sensors,
           "sources": [{"type": "stdin"}], "warmup": {"ticks": 146}, "scoring": {"bundle": "builtin:demo-corridor"},
           "sinks": [{"type": "terminal"}], "state_dir": str(tmp_path / "state")}
    (tmp_path / "agent.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False), encoding="utf-8")
    res = subprocess.run([sys.executable, "-m", "agent", "run", "-c", str(tmp_path / "agent.yaml")],
                         capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
    assert res.returncode == 0, res.stderr[-2000:]
    assert ("  profile: the model tier scores each sensor's distance from the warm-up's normal too, the fallback "
            "blended at 0.25; drifting (judged by its newest forecast error alone, scoring.profile.drifting): "
            "S03_speed\n") in res.stderr, res.stderr
