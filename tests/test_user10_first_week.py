"""user10, a plant engineer's first week (a SKAB pump as the plant): what surprised the user, fixed.

- After a hot swap and a restart the banner said `scoring: tier tflite: pump3 (…) from <the configured
  scoring.bundle>`: the swapped-in model's id beside the path of the bundle it replaced. It names the
  bundle the tiers run now (a real hot swap, a real checkpoint, a real restart of the Agent).
- A bundle whose int8 artifacts failed verify: check-config's note lost what runs instead and the cure to
  its 300-character cut; they now come before the figures.
"""
from __future__ import annotations

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
