"""Bench scripts refuse a bad argument as a usage error (exit 2, the flag named) before doing any
work, never with a traceback from deep inside (QA pass 8)."""
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("script, args, says", [
    ("accuracy.py", ["--only", "skab", "--scorer", "foo"], "argument --scorer: invalid choice: 'foo'"),
    ("mqtt.py", ["--dir", "{tmp}/absent"], "--dir {tmp}/absent: not a directory"),
    ("cadence.py", ["--cadence-s", "1", "-0.5"], "--cadence-s, --spin-s and --sweep-kib take values ≥ 0"),
    ("dashboard.py", ["--warming", "2000"], "argument --warming: 2000 is not within 0 to 1440"),
    ("dashboard.py", ["--outage", "130"], "argument --outage: '130' is not START:END seconds"),
    ("cold_misses.py", ["--ticks", "0"], "--ticks takes a value ≥ 1, --skip and --top values ≥ 0"),
    ("cold_misses.py", ["--warmup-ticks", "0"], "--warmup-ticks takes a value ≥ 1"),
])
def test_bad_bench_arguments_are_usage_errors(tmp_path, script, args, says):
    args = [a.format(tmp=tmp_path) for a in args]
    res = subprocess.run([sys.executable, str(REPO / "bench" / script), *args], cwd=REPO, text=True,
                         capture_output=True, timeout=120)
    assert res.returncode == 2, res.stderr
    assert says.format(tmp=tmp_path) in res.stderr and "Traceback" not in res.stderr, res.stderr


@pytest.mark.parametrize("only", ["skab", "nab"])
def test_accuracy_says_when_the_data_set_it_was_asked_for_is_absent(tmp_path, only):
    """`--only skab` on a --data without skab/ printed nothing and exited 0."""
    (tmp_path / "other").mkdir()
    res = subprocess.run([sys.executable, str(REPO / "bench" / "accuracy.py"), "--data", str(tmp_path), "--only", only],
                         cwd=REPO, text=True, capture_output=True, timeout=120)
    assert res.returncode == 1, res.stderr
    assert res.stderr.strip() == f"no {only.upper()} copy at {tmp_path / only}: nothing to measure"


@pytest.mark.parametrize("script", ["scorer.py", "rss.py", "ticks.py", "table.py", "dashboard.py", "cadence.py",
                                    "cold_misses.py"])
def test_an_out_file_in_no_directory_is_refused_before_the_run(tmp_path, script):
    """The run was measured in full, then lost to a FileNotFoundError traceback when writing --out."""
    res = subprocess.run([sys.executable, str(REPO / "bench" / script), "--out", str(tmp_path / "absent" / "x.json")],
                         cwd=REPO, text=True, capture_output=True, timeout=120)
    assert res.returncode == 2, res.stderr
    assert f"argument --out: no directory {tmp_path / 'absent'} for x.json" in res.stderr, res.stderr


def test_a_bundle_that_does_not_load_is_a_usage_error(tmp_path):
    """bench/artifacts.py ended in a BundleError traceback; bench/restart.py --bundle ran its
    roadside case, then waited 120 s for an agent that had refused the bundle at once."""
    for script, args in (("artifacts.py", [str(tmp_path)]), ("restart.py", ["--repeats", "1", "--bundle", str(tmp_path)])):
        res = subprocess.run([sys.executable, str(REPO / "bench" / script), *args], cwd=REPO, text=True,
                             capture_output=True, timeout=60)
        assert res.returncode == 2, (script, res.stderr)
        assert f"{tmp_path}: no manifest.json" in res.stderr and "Traceback" not in res.stderr, res.stderr


def test_accuracy_asks_for_the_skab_bundle_by_its_own_flag(tmp_path):
    """`--only skab --scorer tflite` without --skab-bundle ran every file, printed 'failed: … --bundle DIR' (the
    corridor's and NAB's flag) and exited 0."""
    res = subprocess.run([sys.executable, str(REPO / "bench" / "accuracy.py"), "--data", str(tmp_path), "--only", "skab",
                          "--scorer", "numpy", "--scorer", "tflite"], cwd=REPO, text=True, capture_output=True, timeout=120)
    assert res.returncode == 2, res.stderr
    assert "--scorer tflite on SKAB needs --skab-bundle DIR" in res.stderr and "Traceback" not in res.stderr, res.stderr


def test_accuracy_exits_1_when_a_scorer_it_ran_failed(tmp_path):
    """A scorer that cannot run is a 'failed' row beside the others' figures, and the command's exit status says so."""
    from nab_copy import write_nab_copy
    write_nab_copy(tmp_path / "nab", n_rows=300, step_s=3600, window_rows=(200, 229))
    res = subprocess.run([sys.executable, str(REPO / "bench" / "accuracy.py"), "--data", str(tmp_path), "--only", "nab",
                          "--scorer", "always", "--scorer", "onnx"], cwd=REPO, text=True, capture_output=True,
                         timeout=300)
    assert res.returncode == 1, res.stdout + res.stderr
    assert "onnx" in res.stdout and "failed: scorer 'onnx' needs a model bundle" in res.stdout, res.stdout
    assert "1 scorer run(s) failed: NAB onnx" in res.stderr, res.stderr
    assert "alarm on every" in res.stdout or "always" in res.stdout, res.stdout   # the other scorer's row still printed
