"""qa55 (qa54's left item): the aligner's used readings (a ring of the newest closed ticks', `Aligner.used`) were not
checkpointed, so after a restart the last run's final readings sent again — a forwarder re-sending its buffer, a file
read again, an MQTT QoS 1 redelivery — met the old rules: the last few `late`, twenty of them a step back of the
data's clock (`time base moved back: the data stepped -19 s`, the window refilled). The ring is checkpointed now
(bounded: USED_READINGS), and a checkpoint written before it restores an empty ring.

The real `stad-agent run` twice on one state_dir, the second run's file starting with the first's last records."""
from __future__ import annotations

import numpy as np
import pytest

from agent.records import Record, Rejects
from agent.window import Aligner
from conftest import through_file
from jsonl_replay import replayed

T0 = 1_767_225_600


def reading(k: int) -> dict:
    return {"ts": T0 + k, "a": (k * 7) % 11 / 10, "b": (k * 5) % 13 / 10, "c": (k * 3) % 17 / 10}


def summary_of(res) -> str:
    return next(line for line in res.stderr.splitlines() if "summary:" in line)


@pytest.mark.parametrize("again", [3, 20])
def test_the_last_runs_final_readings_sent_again_after_a_restart_are_repeated_not_late_nor_a_step_back(tmp_path, again):
    first = replayed(tmp_path, [reading(k) for k in range(200)], ["a", "b", "c"], lateness_ticks=0, carry_forward_s=2)
    assert "rejected 0" in summary_of(first)
    second = replayed(tmp_path, [reading(k) for k in range(200 - again, 300)], ["a", "b", "c"], lateness_ticks=0,
                      carry_forward_s=2)
    summary = summary_of(second)
    # on 3ed21786: 3 again, "rejected 3 (late: 3)"; 20 again, "time base moved: back 1" (-19 s, the window refilled)
    assert f"rejected {again} (repeated reading: {again})" in summary, summary
    assert "moved back" not in second.stderr and "time base moved" not in summary, second.stderr[-3000:]


def _aligner() -> Aligner:
    return Aligner(["a", "b"], 1.0, 0.0, 0, Rejects())


def test_a_checkpoint_keeps_the_used_readings_and_one_written_before_them_restores_none():
    al = _aligner()
    for k in range(5):
        al.push(Record(ts=T0 + k, values={"a": float(k), "b": 1.0}, origin="f:1"))
    state = through_file({"aligner": al.state_dict()})["aligner"]
    assert state["used_k"].tolist() == [T0 + k for k in range(4)]         # (tick 4 open)
    assert state["used_stamps"][1].tolist() == [T0 + 1, T0 + 1]
    again = _aligner()
    again.restore(state)
    again.push(Record(ts=T0 + 2, values={"a": 2.0, "b": 1.0}, origin="f:9"))
    assert again.rejects.as_dict() == {"repeated reading": 1}
    older = {k: v for k, v in state.items() if not k.startswith("used_")}      # a checkpoint from before qa55
    before = _aligner()
    before.restore(older)
    before.push(Record(ts=T0 + 2, values={"a": 2.0, "b": 1.0}, origin="f:9"))
    assert "repeated reading" not in before.rejects.counts      # (the old rules: held as a restart's first record)
    bad = dict(state, used_stamps=np.zeros((4, 3)))
    with pytest.raises(ValueError, match="aligner.used_stamps: 3 columns, expected 2"):
        _aligner().restore(bad)
    with pytest.raises(ValueError, match="aligner.used_k: ticks, values and stamps differ in length"):
        _aligner().restore(dict(state, used_k=np.arange(3)))
    empty = _aligner().state_dict()
    assert empty["used_k"].shape == (0,) and empty["used_values"].shape == empty["used_stamps"].shape == (0, 2)
