"""The Grafana dashboard's scoring panel says why no tier scores. Since user16 `stad_scoring_tier` is 1 only for a tier
that scores, so through the warm-up and the window's refill the panel's tier query (`stad_scoring_tier == 1`) found
nothing and the panel stood empty, as it would for an agent that stopped reporting. The panel now also asks
`stad_scoring_state` for any state but `scoring` (user17). Real parts: the demo bundle made by convert/, the Agent
with its metrics endpoint scraped over HTTP, and the dashboard's own queries (configs/grafana/stad-agent-dashboard.json)
evaluated by Prometheus's PromQL engine (`promtool test rules`) on the series that scrape served."""
from __future__ import annotations

import json
import shutil
import subprocess
import urllib.request

import pytest
import yaml

pytest.importorskip("ai_edge_litert")
pytest.importorskip("prometheus_client")

from prometheus_client import generate_latest  # noqa: E402

from conftest import NO_DEMO, REPO, demo_dict, free_port  # noqa: E402
from upgrade_replay import WARMUP  # noqa: E402

from agent.config import from_dict  # noqa: E402
from agent.service import Agent  # noqa: E402

pytestmark = NO_DEMO
PROMTOOL = shutil.which("promtool")
DASHBOARD = REPO / "configs" / "grafana" / "stad-agent-dashboard.json"


def _scoring_panel() -> dict:
    [panel] = [p for p in json.loads(DASHBOARD.read_text())["panels"]
               if any("stad_scoring_tier{" in t["expr"] for t in p["targets"])]
    return panel


def _scraped(agent: Agent) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{agent.metrics.port}/metrics", timeout=30) as r:
        return r.read().decode()


def _scoring_series(text: str) -> list[dict]:
    """stad_scoring_tier and stad_scoring_state of a metrics text, as promtool input series of one instance."""
    out = []
    for line in text.splitlines():
        if line.startswith(("stad_scoring_tier{", "stad_scoring_state{")):
            series, value = line.rsplit(" ", 1)
            out.append({"series": series.replace("{", '{instance="gw",', 1), "values": " ".join([value] * 3)})
    assert out, text
    return out


def _panel_shows(tmp_path, series: list[dict], expected: dict[str, list[str]]) -> None:
    """Each of the panel's scoring queries, as Grafana asks it with `$instance` all, gives exactly the series in
    `expected` (by the label the legend shows: tier or state), each 1 — promtool fails the run otherwise."""
    tests = []
    for target in _scoring_panel()["targets"]:
        expr = target["expr"].replace("$instance", ".*")
        for metric, label in (("stad_scoring_tier", "tier"), ("stad_scoring_state", "state")):
            if expr.startswith(metric + "{"):
                tests.append({"expr": expr, "eval_time": "2m", "exp_samples": [
                    {"labels": f'{metric}{{instance="gw", {label}="{v}"}}', "value": 1} for v in expected[metric]]})
    assert len(tests) == 2, _scoring_panel()        # the tier query and the state query
    path = tmp_path / "panel.test.yml"
    path.write_text(yaml.safe_dump({"rule_files": [], "evaluation_interval": "1m", "tests": [
        {"interval": "1m", "input_series": series, "promql_expr_test": tests}]}))
    res = subprocess.run([PROMTOOL, "test", "rules", str(path)], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, f"{res.stdout}{res.stderr}"


@pytest.mark.skipif(PROMTOOL is None, reason="promtool (Debian's prometheus package) not installed")
def test_the_scoring_panel_shows_warming_while_no_tier_scores_then_the_tier(tmp_path):
    d = demo_dict(tmp_path / "state")
    d["warmup"]["ticks"] = WARMUP
    d["metrics"] = {"listen": f"127.0.0.1:{free_port()}"}
    agent = Agent(from_dict(d, base_dir=str(REPO)), max_ticks=WARMUP + 20)
    try:
        # main's panel: the tier query alone, empty now
        _panel_shows(tmp_path, _scoring_series(_scraped(agent)),
                     {"stad_scoring_tier": [], "stad_scoring_state": ["warming"]})
        agent.run()
        assert agent.pipeline.warm
        # `run` closed the endpoint at its end: the same exposition, from its registry
        _panel_shows(tmp_path, _scoring_series(generate_latest(agent.metrics.registry).decode()),
                     {"stad_scoring_tier": ["tflite"], "stad_scoring_state": []})
    finally:
        for sink in agent.sinks:
            sink.close()
        agent.metrics.close()


@pytest.mark.skipif(PROMTOOL is None, reason="promtool (Debian's prometheus package) not installed")
def test_the_scoring_panel_shows_refilling_after_a_warm_up_replay(tmp_path):
    """After `warmup.replay` the window refills on live data before the first score (user16's refill case): the panel
    says `refilling`, not an empty tier line (user18: the state user17 left untested here)."""
    from conftest import demo_cfg
    from upgrade_replay import write_recording
    recording = tmp_path / "normal.csv"
    write_recording(recording, demo_cfg(tmp_path / "sim"), WARMUP + 60)
    d = demo_dict(tmp_path / "state")
    d["warmup"].update(ticks=WARMUP, replay=str(recording))
    d["metrics"] = {"listen": f"127.0.0.1:{free_port()}"}
    agent = Agent(from_dict(d, base_dir=str(REPO)), max_ticks=3)      # fewer than the window's 32 steps
    try:
        assert agent.pipeline.warm and agent.pipeline.refill > 3
        _panel_shows(tmp_path, _scoring_series(_scraped(agent)),
                     {"stad_scoring_tier": [], "stad_scoring_state": ["refilling"]})
    finally:
        for sink in agent.sinks:
            sink.close()
        agent.metrics.close()
