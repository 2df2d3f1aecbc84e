"""A NAB labels file (combined_windows.json) that cannot be right is said, naming the file and the
entry (QA pass 8): broken JSON, a window that is not [start, end] or ends before it starts,
overlapping windows of one file (NAB's own never overlap; they were scored as two events), and a
window that holds no row of its file (it was silently dropped: "events 0/0"). qa37: JSON nested too deep (a
traceback from check-config and evaluate) and a file's key twice (json kept the last list of windows: the
first's events were never scored, without a word)."""
import datetime as dt
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from agent.sources.replay_labels import LabelsError, load_nab_windows

REPO = Path(__file__).resolve().parent.parent
T0 = dt.datetime(2024, 1, 1)


def stamp(i: int) -> str:
    return (T0 + dt.timedelta(minutes=5 * i)).strftime("%Y-%m-%d %H:%M:%S.000000")


def nab_copy(tmp_path: Path, windows) -> Path:
    """cat/f.csv (2000 rows at 5 min) and its labels file; the agent config evaluating it."""
    (tmp_path / "data" / "cat").mkdir(parents=True)
    rng = np.random.default_rng(0)
    v = np.sin(np.arange(2000) / 30) + 0.1 * rng.standard_normal(2000)
    rows = ["timestamp,value"] + [f"{stamp(i)[:19]},{v[i]:.4f}" for i in range(2000)]
    (tmp_path / "data" / "cat" / "f.csv").write_text("\n".join(rows) + "\n")
    labels = tmp_path / "windows.json"
    labels.write_text(windows if isinstance(windows, str) else json.dumps({"cat/f.csv": windows}))
    cfg = {"sensors": ["value"], "tick_s": 300, "sources": [{"type": "replay", "path": "data/cat/f.csv",
                                                              "labels_file": "windows.json"}],
           "window": {"steps": 8}, "warmup": {"ticks": 100}, "sinks": []}
    path = tmp_path / "nab.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def agent(*args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "agent", *args], cwd=REPO, text=True, capture_output=True,
                          timeout=300)


@pytest.mark.parametrize("windows, says", [
    ('{"cat/f.csv": [["2024-01-01", ', "not JSON"),
    (json.dumps(["cat/f.csv"]), "expected an object"),
    ([[stamp(10)]], "cat/f.csv[0]: expected [start, end]"),
    ([[stamp(1450), stamp(1520)], [stamp(1480), stamp(1560)]], "cat/f.csv[1] overlaps cat/f.csv[0]"),
    # qa37: json.loads' RecursionError went past both (a traceback, exit 1)
    ('{"cat/f.csv": ' + "[" * 100_000 + "]" * 100_000 + "}", "nested too deep"),
    # qa37: json kept the second list without a word: the first's windows were not scored as events
    (f'{{"cat/f.csv": [["{stamp(1450)}", "{stamp(1520)}"]], "cat/f.csv": [["{stamp(1600)}", "{stamp(1650)}"]]}}',
     "'cat/f.csv' appears more than once"),
])
def test_a_broken_labels_file_is_refused_by_check_config_and_evaluate(tmp_path, windows, says):
    path = nab_copy(tmp_path, windows)
    for command, code in ((["check-config"], 2), (["evaluate", "--scorer", "numpy"], 2)):
        res = agent(*command, "-c", str(path))
        assert res.returncode == code, (command, res.stderr)
        assert "windows.json" in res.stderr and says in res.stderr, (command, res.stderr)
        assert "Traceback" not in res.stderr


def test_windows_out_of_order_or_overlapping(tmp_path):
    path = tmp_path / "w.json"
    path.write_text(json.dumps({"cat/f.csv": [[stamp(20), stamp(10)]]}))
    with pytest.raises(LabelsError, match=r"w\.json: cat/f\.csv\[0\]: ends .* before it starts"):
        load_nab_windows(path)
    path.write_text(json.dumps({"cat/f.csv": [[stamp(1450), stamp(1520)], [stamp(1480), stamp(1560)]]}))
    with pytest.raises(LabelsError, match=r"w\.json: cat/f\.csv\[1\] overlaps cat/f\.csv\[0\]"):
        load_nab_windows(path)
    path.write_text(json.dumps({"cat/f.csv": [[stamp(1480), stamp(1560)], [stamp(1450), stamp(1470)]]}))
    assert [a for a, _ in load_nab_windows(path)["cat/f.csv"]] == sorted(a for a, _ in load_nab_windows(path)["cat/f.csv"])


def test_a_window_outside_the_file_is_said(tmp_path):
    path = nab_copy(tmp_path, [[stamp(1450), stamp(1550)], [stamp(3000), stamp(3100)]])
    res = agent("evaluate", "--scorer", "numpy", "-c", str(path))
    assert res.returncode == 0, res.stderr
    assert "cat/f.csv: labels window 2 (" in res.stderr and "holds no row of the file" in res.stderr, res.stderr
