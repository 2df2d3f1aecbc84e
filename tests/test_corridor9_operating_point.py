"""The corridor configs run the attention tier at its own threshold risk, the fallback at the one it was
measured at (corridor9, docs/measured/accuracy-corridor.md "The corridor9 round").

Why: on demand-gated incidents the tier was far quieter than the fallback (43 against 110 false-alarm events)
and found no more incidents; at risk 0.002 it finds more queued incidents with fewer false alarms than the
fallback (fresh seeds 901–930). The fallback's figures everywhere rest on its old risk, so `threshold.numpy`
must keep it: these load the shipped files through the config loader and build the real pipeline with the
demo bundle, and check the fallback's threshold settings are those of the file before the change.
"""
from __future__ import annotations

import pytest
import yaml

from agent.config import from_dict
from agent.pipeline import Pipeline

from conftest import REPO, demo_dict

# The tier's risk chosen on tuning seeds 11–40, and each file's threshold block before corridor9.
TIER_RISK = 0.002
BEFORE = {"demo.yaml": {"method": "pot", "risk": 0.001},
          "roadside.yaml": {"method": "pot", "risk": 0.0005, "init_quantile": 0.98, "adapt": True, "quiet_s": 600}}


@pytest.mark.parametrize("name", sorted(BEFORE))
def test_the_fallback_keeps_its_threshold_and_the_tier_alerts_at_its_own_risk(name):
    shipped = yaml.safe_load((REPO / "configs" / name).read_text(encoding="utf-8"))
    before = {**shipped, "threshold": BEFORE[name]}
    now = from_dict(shipped, base_dir=str(REPO / "configs")).threshold
    old = from_dict(before, base_dir=str(REPO / "configs")).threshold
    assert now.for_tier("numpy") == old.for_tier("numpy")
    assert now.for_tier("tflite").risk == now.for_tier("onnx").risk == TIER_RISK > old.risk


def test_the_demo_pipeline_judges_the_tier_at_its_risk_and_the_fallback_at_the_old_one(tmp_path):
    pipe = Pipeline(from_dict(demo_dict(tmp_path), base_dir=str(REPO / "configs")))
    tier = pipe.chain.tier
    assert tier != "numpy"                                   # the demo bundle's int8 TFLite
    assert pipe.detector.thresholds[tier].cfg.risk == TIER_RISK
    assert pipe.cfg.threshold.for_tier("numpy").risk == 0.001
