"""A label that is no finite number (review38): the replay read a CSV label cell `nan` (pandas' `astype(str)` of a
missing label) or `inf`, and a JSON line's `"label": NaN`, as a non-zero number — the row marked anomalous, an
event evaluate scored and training left out. Now such a label is a `bad label`, as `TRUE` or a blank is (train
refuses it, naming the row); one rule for the three readers (agent/sources/lines.py `label_flag`)."""
from __future__ import annotations

from agent.records import Rejects
from agent.sources.lines import parse_json_line
from agent.sources.replay import ReplayConfig, ReplaySource


def test_a_csv_label_of_nan_or_inf_is_a_bad_label_not_an_anomaly(tmp_path):
    (tmp_path / "a.csv").write_text("timestamp,a,anomaly\n1767225600,1,0\n1767225630,2,nan\n1767225660,3,inf\n"
                                    "1767225690,4,1\n")
    rejects = Rejects()
    records = list(ReplaySource(ReplayConfig(path=str(tmp_path / "a.csv"), label_columns=["anomaly"]), ["a"],
                                rejects).records())
    assert [r.label for r in records] == [0, None, None, 1]
    assert dict(rejects.counts) == {"bad label": 2} and rejects.first["bad label"][0] == "a.csv:3"


def test_a_json_label_of_nan_is_a_bad_label():
    rejects = Rejects()
    rec = parse_json_line('{"ts": 1767225600, "a": 1, "label": NaN}', "x.jsonl:1", rejects)
    assert rec is not None and rec.label is None and dict(rejects.counts) == {"bad label": 1}
