"""perf44: what the tflite agent's peak RSS lost, checked as behaviour (no RSS figure here: bench/rss.py).

- the simulator's generator is built without running `secrets`' code (random, hmac, hashlib not
  loaded), draws what `default_rng` draws, and `secrets` is whole for anyone who asks later;
- a checkpoint's encoding leaves no reference cycle holding the state's arrays;
- `Normaliser.apply` in blocks of rows gives the bits of one call over all rows;
- the warm-up's raw values can be given back while its other columns stay.
"""
from __future__ import annotations

import gc
import json
import subprocess
import sys
import weakref

import numpy as np

from agent import checkpoint, window
from agent.warmup import WarmupRows
from agent.window import Normaliser, Row

SIMULATOR_RNG_THEN_SECRETS = """
import json, sys
from agent.sources.simulate_plants import seeded_rng
draws = seeded_rng(7, 3).random(5).tolist()
loaded = sorted(m for m in ("random", "hmac", "hashlib", "_hashlib") if m in sys.modules)
import numpy as np
expected = np.random.default_rng([7, 3]).random(5).tolist()
entropy = np.random.SeedSequence().entropy          # unseeded: secrets.randbits, through the stand-in
import secrets
token = secrets.token_hex(4)
print(json.dumps({"draws": draws, "expected": expected, "loaded_before": loaded, "entropy": entropy > 0,
                  "token": len(token), "randbits_real": secrets.randbits.__name__ == "getrandbits"}))
"""


def test_simulator_generator_without_secrets_code_and_secrets_whole_later():
    res = subprocess.run([sys.executable, "-c", SIMULATOR_RNG_THEN_SECRETS], capture_output=True, text=True,
                         timeout=120)
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout.splitlines()[-1])
    assert out["loaded_before"] == []
    assert out["draws"] == out["expected"]
    assert out["entropy"] is True
    assert out["token"] == 8
    assert out["randbits_real"] is True


def test_deferred_module_imported_already_is_the_module():
    from agent.lean_import import deferred
    import json as json_module
    assert deferred("json", "dumps") is json_module
    assert json_module.dumps([1]) == "[1]"


def test_checkpoint_encoding_leaves_no_cycle_holding_the_arrays(tmp_path):
    base = np.random.default_rng(1).normal(size=(10, 4))     # float64 that does not narrow: kept as it is
    view = base[:3]                                  # C-contiguous: the encoding's chunk is this view
    ref = weakref.ref(view)
    enabled = gc.isenabled()
    gc.disable()                                     # freed by reference counts alone, not by a GC pass
    try:
        checkpoint.write_checkpoint(tmp_path / "checkpoint.bin", {"kind": "test"}, {"rows": view, "n": 3})
        assert checkpoint.decode((tmp_path / "checkpoint.bin").read_bytes())[1]["rows"].tolist() == view.tolist()
        del view
        assert ref() is None
    finally:
        if enabled:
            gc.enable()


def test_apply_in_blocks_is_one_call_bit_for_bit(monkeypatch):
    rng = np.random.default_rng(44)
    raw = rng.normal(5.0, 3.0, (window.APPLY_ROWS * 3 + 17, 7))
    raw[rng.random(raw.shape) < 0.05] = np.nan
    raw[5, 2], raw[300, 1], raw[600, 0] = 1e300, -np.inf, np.inf      # z past float32: kept as 0
    norm = Normaliser.fit(raw)
    blocked = norm.apply(raw)
    monkeypatch.setattr(window, "APPLY_ROWS", len(raw))
    whole = norm.apply(raw)
    assert blocked.dtype == whole.dtype == np.float32
    assert blocked.tobytes() == whole.tobytes()
    assert norm.apply(raw[7]).tobytes() == whole[7].tobytes()
    assert norm.apply(raw[:0]).shape == (0, 7)


def test_warmup_values_given_back_other_columns_kept():
    rows = WarmupRows(sensors=3, capacity=4)
    for i in range(3):
        rows.append(Row(ts=float(i), values=np.array([i, np.nan, 2.0 * i]), missing=np.array([False, True, False]),
                        carried=np.zeros(3, bool)))
    rows.forget_values()
    assert rows.values.shape == (0, 3)
    assert rows.ts.tolist() == [0.0, 1.0, 2.0]
    assert rows.missing[:, 1].all() and len(rows) == 3
    rows.clear()
    assert len(rows) == 0
