"""A CSV whose lines end in a bare carriage return (a spreadsheet's 'CSV (Macintosh)' export) with
one line too long in it: the line is counted as `line too long` and every record after it is
replayed (review13). The long line's tail was read past up to the next '\\n', which such a file
never has: the rest of the file went with it, every record after the long line lost uncounted.

In process, on a real file: the replay source's records and rejects."""
from __future__ import annotations

from agent.records import Rejects
from agent.sources.replay import ReplayConfig, ReplaySource
from agent.sources.replay_lines import MAX_LINE_CHARS

T0 = 1_767_600_000


def test_a_long_line_in_a_carriage_return_csv_costs_only_itself(tmp_path):
    data = tmp_path / "mac.csv"
    lines = ["timestamp,a,b"] + [f"{T0 + 10 * i},{i % 7 * 0.5},1.5" for i in range(300)]
    lines.insert(101, "9" * (MAX_LINE_CHARS + 5000))        # line 102: over the bound
    data.write_bytes("\r".join(lines).encode() + b"\r")
    rejects = Rejects()
    records = list(ReplaySource(ReplayConfig(path=str(data)), ["a", "b"], rejects).records())
    assert rejects.as_dict() == {"line too long": 1}, rejects.as_dict()
    assert [r.ts for r in records] == [T0 + 10 * i for i in range(300)], len(records)
