"""The live data's pace read back from a checkpoint (agent/live_pace.py `pace_in`) checks its numbers as every other
state reader does (agent/json_read.py `finite_number`): a 400-digit integer (JSON has no limit; a hand edit, another
release) is refused by name as a ValueError, where its own copy of the check raised a bare OverflowError (review36)."""
import pytest

from agent.live_pace import LivePace


@pytest.mark.parametrize("state, key", [
    ({"live_received": 10**400}, "aligner.live_received"),
    ({"live_pace": 10**400}, "aligner.live_pace"),
    ({"live_pace": True}, "aligner.live_pace"),
    ({"pace_from": [1.0, 10**400]}, "aligner.pace_from"),
    ({"pace_from": [1.0, float("nan")]}, "aligner.pace_from"),
    ({"pace_from": [1.0, False]}, "aligner.pace_from"),
])
def test_a_pace_that_is_no_finite_number_is_refused_by_name(state, key):
    with pytest.raises(ValueError, match=key):
        LivePace.pace_in(state)


def test_a_pace_as_written_reads_back_and_an_older_checkpoint_reads_as_this_hosts():
    assert LivePace.pace_in({"live_received": 100, "live_pace": 2.5, "pace_from": [10, 20.5]}) == (100.0, 2.5, (10.0, 20.5))
    assert LivePace.pace_in({}) == (None, 1.0, None)


@pytest.mark.parametrize("key", ["host_ahead_s", "live_offset"])
def test_an_aligners_offsets_that_are_no_finite_number_are_refused_by_name(key):
    """The same for the aligner's own seconds in the checkpoint (agent/window.py `Aligner.restore`)."""
    from agent.records import Rejects
    from agent.window import Aligner
    from conftest import through_file
    state = through_file({"aligner": Aligner(["a", "b"], 1.0, 3.0, 1, Rejects()).state_dict()})["aligner"]
    state[key] = 10**400
    with pytest.raises(ValueError, match=f"aligner.{key}"):
        Aligner(["a", "b"], 1.0, 3.0, 1, Rejects()).restore(state)
    state[key] = 2.5
    Aligner(["a", "b"], 1.0, 3.0, 1, Rejects()).restore(state)
