"""The README's dashboard picture (bench/dashboard.py) shows what an operator sees after an install or a restart: the
scoring panel says `warming` (health's `scoring.state` word) until the first score, then the tier. Before, the script
began scraping once the demo agent was warm — its warm-up runs in the fast-forward, a day of data in a second — so the
picture could never show it (user17's note; user18). Real parts: bench/dashboard.py itself, which runs a real
Mosquitto, a real `stad-agent run` process on configs/demo.yaml (the builtin demo bundle) and a real Prometheus that
scrapes it and evaluates the dashboard's own queries (its PromQL engine, as `promtool test rules` is in
tests/test_user17_dashboard_scoring_panel.py)."""
from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys

import pytest

from conftest import NO_DEMO, REPO

pytestmark = [NO_DEMO, pytest.mark.skipif(shutil.which("prometheus") is None or shutil.which("mosquitto") is None,
                                          reason="prometheus and mosquitto (Debian packages) not installed")]
WARMING_S = 15          # seconds of the warm-up the picture starts with: Prometheus's first scrape lands within them
SCRAPING_S = 25         # the picture's length: the warm-up's end, then ~10 s (5 scrapes) of the tier


def _scoring_targets(panels: list[dict]) -> dict[str, list[dict]]:
    """The scoring panel's answers: {'tier': [series…], 'state': [series…]}."""
    [panel] = [p for p in panels if any(t["expr"].startswith("stad_scoring_tier{") for t in p["targets"])]
    out = {}
    for target in panel["targets"]:
        for metric, key in (("stad_scoring_tier{", "tier"), ("stad_scoring_state{", "state")):
            if target["expr"].startswith(metric):
                out[key] = target["result"]
    return out


def _ones(series: dict) -> list[float]:
    return [float(t) for t, v in series["values"] if float(v) == 1]


def test_the_picture_starts_warming_then_shows_the_tier(tmp_path):
    res = subprocess.run([sys.executable, str(REPO / "bench" / "dashboard.py"), "--seconds", str(SCRAPING_S), "--warming",
                          str(WARMING_S), "--outage", "none", "--data", str(tmp_path), "--out",
                          str(tmp_path / "dashboard.png")], cwd=REPO, capture_output=True, text=True, timeout=900)
    assert res.returncode == 0, res.stderr[-3000:]
    assert (tmp_path / "dashboard.png").stat().st_size > 0
    shown = _scoring_targets(json.loads((tmp_path / "dashboard-queries.json").read_text()))

    [warming] = shown["state"]                      # only `warming`: `scoring` is not drawn beside the tier
    assert warming["metric"]["state"] == "warming", shown["state"]
    [tier] = shown["tier"]
    assert tier["metric"]["tier"] == "tflite", shown["tier"]
    warm_times, tier_times = _ones(warming), _ones(tier)
    assert warm_times and tier_times, shown
    assert max(warm_times) < min(tier_times), shown  # warming, then the tier: never both, never neither between
    step = float(tier["values"][1][0]) - float(tier["values"][0][0])
    assert min(tier_times) - max(warm_times) == step, shown

    # the script's own line says the same, in the same words
    said = re.search(r"the scoring panel shows (.*)", res.stderr).group(1)
    assert re.fullmatch(r"warming \d+ s, tflite \d+ s", said), said
