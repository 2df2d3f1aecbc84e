"""A CSV written with another separator than the source's says which (review34).

`stad-convert train` on a `;` file with the replay source's default `,` said only `missing time column — no column
'timestamp' in ['timestamp;a;b']` and `the sources produced no rows`: the header read as one column. The reject now
names the separator the header's one field holds; the agent's replay says the same (one reader).

Real parts: a CSV file read by the replay source, the converter's CLI in-process (it stops before any training).
"""
from __future__ import annotations

import pytest
import yaml

pytest.importorskip("torch")

from convert.cli import main  # noqa: E402


@pytest.mark.parametrize("written, configured", [(";", None), ("\t", None), (",", ";")])
def test_train_names_the_separator_the_header_holds(tmp_path, capsys, caplog, written, configured):
    lines = [written.join(["timestamp", "a", "b"])] + [written.join([f"{1.7e9 + i:.0f}", "1", "2"]) for i in range(50)]
    (tmp_path / "rec.csv").write_text("\n".join(lines) + "\n")
    src = {"type": "replay", "path": "rec.csv", **({"separator": configured} if configured else {})}
    cfg = {"node": {"id": "n", "site": "s"}, "tick_s": 1, "sensors": ["a", "b"], "sinks": [], "sources": [src],
           "window": {"steps": 8}}
    (tmp_path / "agent.yaml").write_text(yaml.safe_dump(cfg))
    code = main(["train", "-c", str(tmp_path / "agent.yaml"), "-o", str(tmp_path / "out"), "--quiet"])
    assert code == 2
    said = caplog.text + capsys.readouterr().err
    assert "rec.csv:1: missing time column" in said and f"set the source's separator: {written!r}" in said, said
