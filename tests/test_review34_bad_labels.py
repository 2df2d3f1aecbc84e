"""`stad-convert train` refuses a label column whose values are not numbers, naming the file, line, column and
value (review34).

The replay source reads a label as a number, non-zero anomalous (agent/sources/replay.py); a cell it cannot read is
counted `bad label` and the row is kept without a label. For the agent's evaluate that row is unlabelled (left out
of the counts); for training it was a *normal* target: a label column written `TRUE`/`FALSE` (pandas' booleans) or
`yes`/`no` trained every labelled anomaly as normal running — warnings scrolled by, and the bundle was written. A
label the converter cannot read leaves it unable to tell the rows that must not be learned: it refuses (exit 2).

Real parts: CSV files read by the replay source, the converter's CLI in-process (it stops before any training).
"""
from __future__ import annotations

import pytest
import yaml

pytest.importorskip("torch")

from convert.cli import main  # noqa: E402

ROWS = 1200


def _train(tmp_path, labels: dict[int, str], normal: str = "0"):
    lines = ["timestamp;a;b;anomaly"]
    for i in range(ROWS):
        lines.append(f"{1.7e9 + i:.0f};{i % 7};{i % 5};{labels.get(i, normal)}")
    (tmp_path / "rec.csv").write_text("\n".join(lines) + "\n")
    cfg = {"node": {"id": "n", "site": "s"}, "tick_s": 1, "sensors": ["a", "b"], "topology": "none", "sinks": [],
           "sources": [{"type": "replay", "path": "rec.csv", "separator": ";", "label_columns": ["anomaly"]}],
           "window": {"steps": 8}, "warmup": {"ticks": 50}}
    (tmp_path / "agent.yaml").write_text(yaml.safe_dump(cfg))
    return main(["train", "-c", str(tmp_path / "agent.yaml"), "-o", str(tmp_path / "out"), "--epochs", "1",
                 "--no-export", "--quiet"])


@pytest.mark.parametrize("anomalous, normal", [("TRUE", "FALSE"), ("yes", "no"), ("1", "")])
def test_a_label_column_of_words_is_refused_by_file_line_column_and_value(tmp_path, capsys, anomalous, normal):
    code = _train(tmp_path, {i: anomalous for i in range(300, 340)}, normal)
    said = (capsys.readouterr().err.splitlines() or [""])[-1]
    assert code == 2, (code, said, sorted(p.name for p in (tmp_path / "out").glob("*")))  # main: 0, a bundle
    assert said.startswith("stad-convert train: ") and "rec.csv:2" in said and "'anomaly'" in said, said
    bad = ROWS if anomalous in ("TRUE", "yes") else ROWS - 40         # ("1", ""): the blank ones
    assert repr(normal) in said and f"{bad} rows" in said, said
    assert not (tmp_path / "out").exists()


def test_one_unreadable_label_among_numbers_is_refused_too(tmp_path, capsys):
    code = _train(tmp_path, {**{i: "1" for i in range(300, 340)}, 321: "1?"})
    said = (capsys.readouterr().err.splitlines() or [""])[-1]
    assert code == 2 and "rec.csv:323" in said and "'1?'" in said and "1 row " in said, said
