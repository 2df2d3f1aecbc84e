"""install.sh compiles for the unit's `python -OO` what the unit's program imports, not the whole of its sys.path.

Before suite12 the prefix held the .opt-2.pyc of every module on the venv's sys.path: the whole standard library
(tkinter, idlelib, lib2to3 …) and, on a gateway, the venv's pip and setuptools, none of which the agent imports
(40 MB in 2,330 files on a real `onnx,tflite` install, against 15 MB in 756 now; docs/deploying.md). Now it holds what
install.sh imports in the venv (systemd/install.sh, COMPILE_CLOSURE): the interpreter's start, every module of the
agent, the distributions stad-edge requires (the tiers' runtimes, which the agent imports by a computed name) and
what the agent's source imports anywhere, each with the rest of its package's directory. The claim that goes with it:
a start under the unit's environment still compiles nothing — checked here for what a start imports beyond
tests/test_install_bytecode.py's numpy scorer: the tflite and onnx tiers' runtimes and the MQTT sink (paho, and the
socket's host name lookup), with a real broker.

Offline, as test_install_bytecode: a venv made --without-pip, this interpreter's numpy, PyYAML, ai-edge-litert,
onnxruntime (with their dist-info) and paho linked in through a .pth, the checkout's wheel installed --no-deps.
"""
from __future__ import annotations

import importlib.metadata
import sysconfig
from pathlib import Path

import pytest
import yaml

from conftest import checkout_wheel, demo_dict
from installed_unit import install, offline_venv, start_and_stop
from mqtt_broker import Collector, make_broker  # noqa: F401 — make_broker: a pytest fixture

STDLIB = Path(sysconfig.get_path("stdlib"))
NEVER_IMPORTED = [name for name in ("idlelib", "tkinter", "turtledemo", "lib2to3") if (STDLIB / name).is_dir()]


def installed(*dists: str) -> list[str]:
    """Each distribution's package and its dist-info: the agent imports the tiers' runtimes by a name it computes,
    so install.sh finds them as requirements of stad-edge's extras, through their installed metadata."""
    names = []
    for dist in dists:
        package = dist.replace("-", "_")
        site = Path(importlib.metadata.distribution(dist).locate_file(package)).parent
        names += [package, *[p.name for p in site.glob(f"{package}-*.dist-info")]]
    return names


def test_the_prefix_holds_what_the_agent_imports_and_a_start_with_each_runtime_and_mqtt_compiles_nothing(
        tmp_path, make_broker):
    pytest.importorskip("onnxruntime")
    pytest.importorskip("ai_edge_litert")
    broker = make_broker()
    root = tmp_path / "root"
    offline_venv(root / "opt/stad-edge/venv", tmp_path / "deps", *installed("ai-edge-litert", "onnxruntime"), "paho")
    config = tmp_path / "agent.yaml"
    cfg = demo_dict(tmp_path / "state", chain=["tflite", "numpy"])
    cfg["sources"][0]["speed"] = 0
    cfg["warmup"]["ticks"] = 300
    cfg["sinks"].append({"type": "mqtt", "broker": {"host": "localhost", "port": broker.port}, "prefix": "stad"})
    config.write_text(yaml.safe_dump(cfg))
    install(root, checkout_wheel(), config)
    pycache = root / "opt/stad-edge/pycache"

    held = [str(p.relative_to(pycache)) for p in pycache.rglob("*.pyc")]
    assert NEVER_IMPORTED, f"none of the standard library's packages this test looks for is in {STDLIB}"
    for name in NEVER_IMPORTED:
        assert not [p for p in held if f"{STDLIB}/{name}/".lstrip("/") in p], f"{name} compiled into the prefix"
    for name in ("agent/scorers", "ai_edge_litert", "onnxruntime/capi", "paho/mqtt", "numpy/_core", "encodings"):
        assert any(f"/{name}/" in p for p in held), f"nothing of {name} in the prefix"

    status = Collector(broker.port, ["stad/#"])
    try:
        for tier in ("tflite", "onnx"):
            cfg["scoring"]["chain"] = [tier, "numpy"]
            (root / "etc/stad-edge/agent.yaml").write_text(yaml.safe_dump(cfg))
            before = len(status.messages)
            compiled, read, text = start_and_stop(root, tmp_path / f"{tier}.log",
                                                  until=lambda: len(status.messages) > before)
            assert compiled == [], f"{tier}: {len(compiled)} modules compiled at start: {compiled[:10]}"
            assert f"scoring: tier {tier}:" in text, text[-2000:]
            runtime = {"tflite": "/ai_edge_litert/", "onnx": "/onnxruntime/"}[tier]
            assert any(runtime in p for p in read), f"{tier}: its runtime's bytecode was not read"
    finally:
        status.client.loop_stop()
        status.client.disconnect()
