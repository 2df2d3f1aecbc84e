"""A JSON-lines recording whose `label` field holds words (qa52: qa51's left item), the real `stad-agent evaluate`.

qa51 made the replay say a CSV label column of words (`verdict`: `confirmed`, `false_alarm`) once, with the words and
what to write. A JSON line's `label` field of the same words was each line a `bad label` alone — the first five on the
log, then a count — and evaluate skipped the file `(no labels)` with no word of why. The replay now says it once (the
same wording, `label field 'label'`), and evaluate's skip says why. (JSON's true/false are read as labels since qa53:
tests/test_qa53_json_boolean_labels.py.)
"""
from __future__ import annotations

import json
import subprocess
import sys

import yaml

from conftest import REPO, agent_env

T0 = 1_767_225_600


def day(path, label) -> None:
    lines = [json.dumps({"ts": T0 + k, "a": (k * 7) % 11 / 10, "b": (k * 5) % 13 / 10,
                         **({} if label(k) is None else {"label": label(k)})}) for k in range(600)]
    path.write_text("\n".join(lines) + "\n")


def test_a_label_field_of_words_is_said_once_with_what_to_write(tmp_path):
    # On 19acb1bf: `rejected r1.jsonl:401: bad label — field 'label': 'confirmed'` five times, then the skip
    # "r1.jsonl (no labels)"; nothing of the words or of what to write.
    folder = tmp_path / "labelled"
    folder.mkdir()
    for name in ("r1.jsonl", "r2.jsonl"):
        day(folder / name, lambda k: "confirmed" if 400 <= k < 420 else "false_alarm" if 500 <= k < 505 else None)
    cfg = tmp_path / "eval.yaml"
    cfg.write_text(yaml.safe_dump({"sensors": ["a", "b"], "tick_s": 1, "window": {"steps": 8},
                                   "warmup": {"ticks": 200}, "sinks": [], "state_dir": str(tmp_path / "state"),
                                   "sources": [{"type": "replay", "path": str(folder)}]}))
    res = subprocess.run([sys.executable, "-m", "agent", "evaluate", "-c", str(cfg)], capture_output=True, text=True,
                         cwd=REPO, env=agent_env(), timeout=300)
    said = [line for line in res.stderr.splitlines() if "stad.replay: " in line and "holds words" in line]
    assert len(said) == 1, res.stderr[-3000:]
    for part in ("r1.jsonl: label field 'label' holds words, not numbers ('confirmed' on 20 rows, 'false_alarm' on 5 "
                 "rows): each such row is counted as `bad label`",
                 "write the field as 0/1 (its words are stad-agent's feedback verdicts: 1 on the 'confirmed' rows, 0 "
                 "on the others)"):
        assert part in said[0], said
    skips = [f"{name} (no labels: its lines' 'label' field holds words, not numbers (said above with them): write it "
             "as 0/1)" for name in ("r1.jsonl", "r2.jsonl")]
    assert all(skip in res.stderr for skip in skips), res.stderr[-3000:]
