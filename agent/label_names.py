"""The names and words that mark a label column — one list for every place that looks for one — and what a label
column of words is told to write.

Three places read them: training's scan for a label-like column the source does not name (convert/data.py),
evaluate's guess of the label column for a gateway config (agent/evaluate/labelled.py) and the replay, which says a
label column of words once (agent/sources/replay.py). Before (qa51) evaluate had its own two stems, `anomal` and `label`: a
`verdict` column — stad-agent's operator feedback (agent/feedback.py), a stem of training's since qa49 — was a label to
training and none to evaluate. The converter imports this (tests/test_layering.py: convert → agent, one way).
"""
from __future__ import annotations

from collections import Counter

#: Stems of a column name that marks rows, in the order evaluate prefers them when several name columns: the truth
#: itself first (SKAB's `anomaly`, `label`, `is_anomaly`; `verdict`, as stad-agent's feedback names its word), a plant's
#: own judgement next (`fault`, `attack`, `outlier`, `alarm`: a plant's alarm may be a detector's guess), SKAB's
#: `changepoint` last (it marks where an anomaly starts and ends; SKAB's protocol scores `anomaly`).
LABEL_STEMS = ("anomal", "label", "verdict", "fault", "attack", "outlier", "alarm", "changepoint")
#: Column names a label written as text is often under besides LABEL_STEMS' (`state: normal / anomaly`).
STATUS_NAMES = ("status", "state", "class", "condition", "health", "target")
#: A text cell that marks a row anomalous (compared lowercased): a column of them beside `normal` is a label.
ANOMALY_WORDS = frozenset(("anomaly", "anomalous", "abnormal", "anomalie", "fault", "faulty", "failure", "fail",
                           "attack", "outlier", "alarm", "alert", "broken", "defect", "defective", "nok", "not ok",
                           "confirmed"))        # (stad-agent's feedback verdict for a real anomaly: agent/feedback.py)
#: A JSON line's `label` written as JSON's boolean: true marks it anomalous, as `1` does (qa53: it was a `bad label`,
#: and training, evaluate and the replay read a recording of them as unlabelled). A CSV's cells are text: `TRUE` there
#: is a word, said with what to write.
JSON_LABELS = {True: 1, False: 0}
#: Distinct text cells past which a column is free text (a comment, an operator's note), not a label.
MAX_LABEL_WORDS = 20


def label_named(column: str) -> bool:
    """Whether the column's name holds a label stem."""
    return any(stem in column.lower() for stem in LABEL_STEMS)


def named_labels(columns: list[str]) -> list[str]:
    """The columns named by the first of LABEL_STEMS that names any (SKAB's `anomaly`, not its `changepoint`); []
    when none is."""
    for stem in LABEL_STEMS:
        named = [c for c in columns if stem in c.lower()]
        if named:
            return named
    return []


def words_shown(cells: Counter) -> str:
    """A column's text cells for a line: the four most common with their rows."""
    shown = ", ".join(f"{cell!r} on {n:,} rows" for cell, n in cells.most_common(4))
    return shown + (", and more" if len(cells) > 4 else "")


def what_to_write(cells: Counter) -> str:
    """What a column of label words is written as: 1 for the anomalous rows — named when its words are stad-agent's
    feedback verdicts or ANOMALY_WORDS — 0 for the others."""
    from .feedback import VERDICTS
    if any(cell.lower() in VERDICTS for cell in cells):
        return "its words are stad-agent's feedback verdicts: 1 on the 'confirmed' rows, 0 on the others"
    marked = [cell for cell in cells if cell.lower() in ANOMALY_WORDS]
    if marked:
        return f"1 on the {', '.join(map(repr, marked[:4]))} rows, 0 on the others"
    return "1 for the anomalous rows, 0 for the others"


__all__ = ["ANOMALY_WORDS", "JSON_LABELS", "LABEL_STEMS", "MAX_LABEL_WORDS", "STATUS_NAMES", "label_named",
           "named_labels", "what_to_write", "words_shown"]
