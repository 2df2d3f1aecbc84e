"""Each config key is explained once, beside its field; docs/configuration.md's reference is generated from it."""
from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path

import pytest

from agent import config_doc

REPO = Path(__file__).resolve().parents[1]


def test_every_config_key_is_explained_beside_its_field():
    assert config_doc.undocumented() == []


def test_the_reference_page_is_what_the_code_says():
    page = (REPO / "docs" / "configuration.md").read_text(encoding="utf-8")
    assert page == config_doc.rendered(page), "docs/configuration.md is out of date: run python -m agent.config_doc"


def test_readme_links_the_reference_and_holds_no_copy_of_it():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert "(docs/configuration.md)" in readme and config_doc.BEGIN not in readme


def test_every_key_of_every_plugin_has_a_row():
    keys = {r.key.split("`")[1] + r.key.split("`")[2] for r in config_doc.rows_of(config_doc.config.AgentConfig)}
    for key in ("window.steps", "scoring.onnx.num_threads", "sources[].port (udp)", "sources[].port (modbus)",
                "sinks[].outbox.max_events (mqtt)", "sources[].anomalies[].kind (simulate)", "sensors[].group"):
        assert key in keys


def test_check_fails_on_a_stale_page_and_the_rewrite_fixes_it(tmp_path):
    stale = tmp_path / "configuration.md"
    stale.write_text(f"intro\n{config_doc.BEGIN}\n| key | old |\n{config_doc.END}\nafter\n", encoding="utf-8")
    check = [sys.executable, "-m", "agent.config_doc", "--page", str(stale), "--check"]
    assert subprocess.run(check, cwd=REPO, capture_output=True).returncode == 1
    subprocess.run(check[:-1], cwd=REPO, check=True, capture_output=True)
    assert subprocess.run(check, cwd=REPO, capture_output=True).returncode == 0
    text = stale.read_text(encoding="utf-8")
    assert text.startswith("intro\n") and text.endswith("after\n") and "| `window.steps` |" in text


def test_a_field_without_an_explanation_is_refused():
    @dataclasses.dataclass
    class Undocumented:
        size: int = 3

    with pytest.raises(ValueError, match="Undocumented.size has no doc="):
        config_doc.rows_of(Undocumented)
