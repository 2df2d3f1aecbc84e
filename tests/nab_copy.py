"""A NAB-layout copy of one small labelled file, for the tests of the NAB protocol and of bench/accuracy.py."""
import datetime as dt
import json
from pathlib import Path

import numpy as np

T0 = dt.datetime(2024, 1, 1)


def write_nab_copy(root: Path, n_rows: int, step_s: int, window_rows: tuple[int, int]) -> tuple[Path, list]:
    """A NAB-layout copy (data/<category>/<file>.csv + labels/combined_windows.json), one file."""
    stamps = [T0 + dt.timedelta(seconds=step_s * i) for i in range(n_rows)]
    rng = np.random.default_rng(3)
    values = np.sin(np.arange(n_rows) / 7) + 0.1 * rng.normal(size=n_rows)
    values[window_rows[0] + 5:window_rows[0] + 9] += 6.0
    folder = root / "data" / "artificialWithAnomaly"
    folder.mkdir(parents=True)
    lines = ["timestamp,value"] + [f"{s:%Y-%m-%d %H:%M:%S},{v:.5f}" for s, v in zip(stamps, values)]
    (folder / "toy.csv").write_text("\n".join(lines) + "\n")
    windows = {"artificialWithAnomaly/toy.csv": [[f"{stamps[window_rows[0]]:%Y-%m-%d %H:%M:%S}.000000",
                                                   f"{stamps[window_rows[1]]:%Y-%m-%d %H:%M:%S}.000000"]]}
    (root / "labels").mkdir()
    (root / "labels" / "combined_windows.json").write_text(json.dumps(windows))
    return folder / "toy.csv", stamps
