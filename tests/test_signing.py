"""Signed bundles: with scoring.bundle_keys configured, only a bundle whose manifest carries a valid
Ed25519 signature by a trusted key loads — at start and on hot swap. The attack this stops: a file
changed AND the manifest rewritten to match it (the hashes alone accept that)."""
from __future__ import annotations

import json
import logging
import shutil
import subprocess
import sys

import pytest

pytest.importorskip("cryptography")
pytest.importorskip("onnxruntime")
pytest.importorskip("ai_edge_litert")

from conftest import REPO, demo_cfg, demo_dict, sim_rows, tiny_bundle  # noqa: E402

from agent import bundle as bundles  # noqa: E402
from agent import preflight  # noqa: E402
from agent.config import from_dict  # noqa: E402
from agent.hotswap import HotSwap  # noqa: E402
from agent.pipeline import Pipeline  # noqa: E402
from agent.scorers import load_tiers  # noqa: E402
from agent.signing import SIGNATURE_NAME  # noqa: E402
from agent.manifest import write as write_manifest  # noqa: E402
from convert.cli import main as convert  # noqa: E402

WARMUP = 300


@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    d = tmp_path_factory.mktemp("keys")
    assert convert(["keygen", str(d / "release")]) == 0
    assert convert(["keygen", str(d / "other")]) == 0
    assert (d / "release.pem").stat().st_mode & 0o777 == 0o600
    return d


def signed_copy(tmp_path, keys, name="signed"):
    out = tmp_path / name
    shutil.copytree(tiny_bundle(), out)
    (out / SIGNATURE_NAME).unlink(missing_ok=True)
    assert convert(["sign", str(out), "--key", str(keys / "release.pem")]) == 0
    return out


def tamper_and_rewrite_manifest(bundle_dir):
    """Flip a byte of the ONNX model and update the manifest's hashes to match, keeping the old signature."""
    signature = (bundle_dir / SIGNATURE_NAME).read_bytes()
    blob = bytearray((bundle_dir / "model_fp32.onnx").read_bytes())
    blob[len(blob) // 2] ^= 0x01
    (bundle_dir / "model_fp32.onnx").write_bytes(bytes(blob))
    write_manifest(bundle_dir, bundles.read_manifest(bundle_dir))
    assert not (bundle_dir / SIGNATURE_NAME).exists()        # rewriting a manifest drops its stale signature
    (bundle_dir / SIGNATURE_NAME).write_bytes(signature)


def expectation(cfg):
    return bundles.Expectation.from_config(cfg)


def test_a_signed_bundle_loads_and_a_tampered_one_with_an_updated_manifest_is_refused(tmp_path, keys):
    cfg = demo_cfg(tmp_path, bundle_keys=[str(keys / "release.pub.pem")])
    good = signed_copy(tmp_path, keys)
    assert bundles.load(good, expect=expectation(cfg)).model_id == "tiny"

    bad = signed_copy(tmp_path, keys, "tampered")
    tamper_and_rewrite_manifest(bad)
    bundles.load(bad)                                   # the hashes alone accept it: that is the attack
    with pytest.raises(bundles.BundleError, match="the signature does not match manifest.json"):
        bundles.load(bad, expect=expectation(cfg))
    tiers, refusals = load_tiers(cfg.scoring, str(bad), expectation(cfg), top_k=3)
    assert tiers == [] and all("signature does not match" in r for r in refusals) and refusals


def test_unsigned_or_signed_by_another_key_is_refused_when_a_key_is_configured(tmp_path, keys):
    cfg = demo_cfg(tmp_path, bundle_keys=[str(keys / "release.pub.pem")])
    with pytest.raises(bundles.BundleError, match="not signed") as refused:
        bundles.load(tiny_bundle(), expect=expectation(cfg))
    # the refusal says the command that signs it (review21: it did not) and names the bundle's folder
    assert "stad-convert sign BUNDLE --key KEY.pem" in str(refused.value), refused.value
    assert f"BUNDLE: this bundle's folder, {tiny_bundle().name}" in str(refused.value)
    other = tmp_path / "other"
    shutil.copytree(tiny_bundle(), other)
    assert convert(["sign", str(other), "--key", str(keys / "other.pem")]) == 0
    with pytest.raises(bundles.BundleError, match="signed with another key"):
        bundles.load(other, expect=expectation(cfg))
    (other / SIGNATURE_NAME).write_text("not base64 at all\n")
    with pytest.raises(bundles.BundleError, match="not an Ed25519 signature"):
        bundles.load(other, expect=expectation(cfg))
    # Two trusted keys (a rotation): either signs.
    both = demo_cfg(tmp_path, bundle_keys=[str(keys / "release.pub.pem"), str(keys / "other.pub.pem")])
    assert convert(["sign", str(other), "--key", str(keys / "other.pem")]) == 0
    assert bundles.load(other, expect=expectation(both)).model_id == "tiny"
    # Without a key configured nothing changes: unsigned bundles load as before.
    assert bundles.load(tiny_bundle(), expect=expectation(demo_cfg(tmp_path))).model_id == "tiny"


def test_hot_swap_rejects_a_tampered_bundle_with_an_updated_manifest(tmp_path, keys, caplog):
    models = tmp_path / "models"
    models.mkdir()
    cfg = demo_cfg(tmp_path, warmup_ticks=WARMUP, bundle=str(signed_copy(tmp_path, keys)), models_dir=str(models),
                   shadow_ticks=3, bundle_keys=[str(keys / "release.pub.pem")])
    pipe = Pipeline(cfg)
    assert pipe.chain.tier == "tflite"
    swap = HotSwap(cfg, pipe, poll_ticks=2)
    bad = signed_copy(tmp_path, keys, "candidate")
    tamper_and_rewrite_manifest(bad)
    rows = sim_rows(cfg, days=0.2)
    with caplog.at_level(logging.WARNING, logger="stad.hotswap"):
        for i, row in enumerate(rows):
            if i == WARMUP + 1:
                shutil.copytree(bad, models / "b")
            swap.on_tick(pipe.step(row))
            if swap.status()["last"] is not None:
                break
    outcome = swap.status()["last"]
    assert outcome is not None and not outcome["accepted"], swap.status()
    assert "signature does not match" in outcome["reason"] and swap.status()["rejected"] == 1
    assert pipe.chain.tier == "tflite" and pipe.chain.switch_count == 0


def test_bundle_keys_are_checked_by_check_config_with_their_key_path(tmp_path, keys):
    d = demo_dict(tmp_path, bundle_keys=[str(tmp_path / "missing.pub.pem"), str(keys / "release.pem")])
    problems = preflight.problems(from_dict(d, base_dir=str(REPO)))   # files on this machine: preflight's
    assert problems[0].startswith("scoring.bundle_keys[0]: ") and "cannot read the key" in problems[0]
    assert problems[1].startswith("scoring.bundle_keys[1]: ") and "not a PEM public key" in problems[1]
    (tmp_path / "agent.yaml").write_text(json.dumps(d))
    res = subprocess.run([sys.executable, "-m", "agent", "check-config", "-c", str(tmp_path / "agent.yaml")],
                         capture_output=True, text=True, cwd=REPO)
    assert res.returncode == 2 and "scoring.bundle_keys[1]" in res.stderr and "Traceback" not in res.stderr


def test_the_signature_is_plain_ed25519_that_openssl_verifies(tmp_path, keys):
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    bundle_dir = signed_copy(tmp_path, keys)
    import base64
    sig = tmp_path / "sig.bin"
    sig.write_bytes(base64.b64decode((bundle_dir / SIGNATURE_NAME).read_text()))
    res = subprocess.run(["openssl", "pkeyutl", "-verify", "-pubin", "-inkey", str(keys / "release.pub.pem"),
                          "-rawin", "-in", str(bundle_dir / bundles.MANIFEST_NAME), "-sigfile", str(sig)],
                         capture_output=True, text=True)
    if "-rawin" in res.stderr and "nknown" in res.stderr:
        pytest.skip(f"this openssl has no -rawin: {res.stderr.strip()}")
    assert res.returncode == 0 and "Signature Verified Successfully" in res.stdout, res.stdout + res.stderr
