"""review21: a bundle trained on SKAB's anomaly-free recording (another rig: accel1's mean 0.21
where the running plant reads 0.027, flow 124 against 32) was shadow-scored and swapped into an
agent on valve1 with only `score correlation -0.752` in the log. The same bundle given at start
draws, from the warm-up, one `…: not the bundle's scale — another unit, or a scaling factor
missing?` line per sensor; a hot swap has no warm-up, but it has the shadow's ticks: the swap must
say the same of them."""
from __future__ import annotations

import dataclasses
import logging
import shutil

import pytest

pytest.importorskip("onnxruntime")
pytest.importorskip("ai_edge_litert")

from conftest import (DEMO_BUNDLE, HOTSWAP_WARMUP as WARMUP, NO_DEMO, demo_cfg,  # noqa: E402
                      drive_hotswap as drive, hotswap_pipeline as setup, sim_rows, write_manifest)
from agent.bundle import read_manifest  # noqa: E402
from agent.manifest import Normalisation  # noqa: E402

pytestmark = NO_DEMO


@pytest.fixture(scope="module")
def rows(tmp_path_factory):
    return sim_rows(demo_cfg(tmp_path_factory.mktemp("rows")), days=0.3)


def _rescaled(tmp_path, sensor: str, factor: float):
    """The demo bundle as model `rescaled`, its normalisation of `sensor` that of readings `factor`×
    larger (a bundle trained on data in another unit); the graph and the other sensors as they are."""
    out = tmp_path / "rescaled"
    shutil.copytree(DEMO_BUNDLE, out)
    (out / "manifest.sig").unlink(missing_ok=True)
    m = read_manifest(out)
    norm = Normalisation(mean={**m.normalisation.mean, sensor: m.normalisation.mean[sensor] * factor},
                         std={**m.normalisation.std, sensor: m.normalisation.std[sensor] * factor})
    write_manifest(out, dataclasses.replace(m, model_id="rescaled", normalisation=norm))
    return out


def test_a_swapped_in_bundle_on_another_scale_is_said_per_sensor(tmp_path, rows, caplog):
    pipe, swap, models = setup(tmp_path, bundle=DEMO_BUNDLE)
    caplog.set_level(logging.INFO)
    drive(pipe, swap, rows, until=lambda: True)
    sensor = pipe.sensors[4]
    shutil.copytree(_rescaled(tmp_path / "src", sensor, 100.0), models / "r")
    drive(pipe, swap, rows[WARMUP + 1:], until=lambda: swap.status()["last"] is not None)
    lines = [r.getMessage() for r in caplog.records if "not the bundle's scale" in r.getMessage()]
    assert any(line.startswith(f"model update: ") and f"{sensor}: " in line for line in lines), caplog.text
    assert not any(f"{other}: " in line for line in lines for other in pipe.sensors if other != sensor), lines


def test_a_swapped_in_bundle_on_the_same_scale_draws_no_such_line(tmp_path, rows, caplog):
    pipe, swap, models = setup(tmp_path, bundle=DEMO_BUNDLE)
    caplog.set_level(logging.INFO)
    drive(pipe, swap, rows, until=lambda: True)
    shutil.copytree(_rescaled(tmp_path / "src", pipe.sensors[4], 1.0), models / "r")
    drive(pipe, swap, rows[WARMUP + 1:], until=lambda: swap.status()["last"] is not None)
    assert swap.status()["last"]["accepted"]
    assert "not the bundle's scale" not in caplog.text
