"""A folder of recordings with one file that cannot be read (an I/O error; permissions for a user
other than root): the agent's replay counts it ('unreadable file', naming it) and goes on with the
next file; `stad-convert train` refuses to train on the others, naming the file, exit 2. On the old
code the OSError ended the replay there (the files after it never read) and was a traceback out of
stad-convert."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from agent.records import Rejects
from agent.sources.replay import ReplayConfig, ReplaySource

T0 = 1767225600


def recording(path: Path, start: float, rows: int = 200) -> None:
    lines = ["timestamp,a,b"] + [f"{start + 10 * i:.0f},{i % 7 * 0.5:.1f},{i % 5 * 0.25:.2f}" for i in range(rows)]
    path.write_text("\n".join(lines) + "\n")


def unreadable(path: Path) -> None:
    """A file whose read fails with an OSError, for root too: /proc/self/mem reads EIO at offset 0."""
    if os.geteuid() != 0:
        recording(path, T0)
        path.chmod(0)
        return
    if not Path("/proc/self/mem").exists():
        pytest.skip("running as root without /proc/self/mem: no file root cannot read")
    path.symlink_to("/proc/self/mem")


@pytest.fixture
def folder(tmp_path) -> Path:
    data = tmp_path / "data"
    data.mkdir()
    recording(data / "part0.csv", T0)
    unreadable(data / "part1.csv")
    recording(data / "part2.csv", T0 + 100_000)
    return data


def test_the_replay_counts_an_unreadable_file_and_goes_on_with_the_next(folder, caplog):
    rejects = Rejects()
    source = ReplaySource(ReplayConfig(path=str(folder)), ["a", "b"], rejects)
    records = list(source.records())
    assert len(records) == 400 and records[-1].ts == T0 + 100_000 + 10 * 199
    assert rejects.as_dict() == {"unreadable file": 1}
    assert "rejected part1.csv: unreadable file — cannot read it: " in caplog.text
    [line] = source.unreadable
    assert line.startswith(f"{folder / 'part1.csv'}: cannot read it: ")


def test_training_on_a_folder_with_an_unreadable_file_is_refused_naming_it(folder, tmp_path, capsys):
    pytest.importorskip("torch")
    from convert.cli import main
    cfg = tmp_path / "agent.yaml"
    cfg.write_text("sensors: [a, b]\ntick_s: 10\nwindow: {steps: 8}\nwarmup: {ticks: 50}\n"
                   f"sources: [{{type: replay, path: {folder}}}]\n")
    assert main(["train", "-c", str(cfg), "-o", str(tmp_path / "bundle"), "--epochs", "1", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert f"stad-convert train: cannot train on every file of the recording: {folder / 'part1.csv'}: cannot read it: " in err
    assert not (tmp_path / "bundle").exists()


def fail_reads_of(path: Path) -> None:
    """From now on every read of this process's open `path` fails with EIO, as a disk's bad block
    would: its descriptor is pointed at /proc/self/mem (whose offset 0 reads EIO) under it."""
    [fd] = [int(n) for n in os.listdir("/proc/self/fd") if os.path.realpath(f"/proc/self/fd/{n}") == str(path)]
    mem = os.open("/proc/self/mem", os.O_RDONLY)
    try:
        os.dup2(mem, fd)
    finally:
        os.close(mem)


@pytest.mark.parametrize("suffix", [".csv", ".jsonl"])
def test_a_file_that_fails_part_way_keeps_what_was_read_and_names_the_line(tmp_path, suffix, caplog):
    """A file readable for its first lines, then an I/O error: the records read before are kept and
    the reject names the line it failed at and how many were read. On the old code the reject said
    only 'cannot read it', as if nothing of the file had been read."""
    data = tmp_path / "data"
    data.mkdir()
    rows = 4000                                  # well past the reader's buffer: the failure is mid-file
    first = data / f"part0{suffix}"
    if suffix == ".csv":
        recording(first, T0, rows)
        header = 1
    else:
        first.write_text("".join(f'{{"ts": {T0 + 10 * i}, "a": {i % 7 * 0.5}, "b": 1.5}}\n' for i in range(rows)))
        header = 0
    recording(data / "part1.csv", T0 + 100_000)
    rejects = Rejects()
    source = ReplaySource(ReplayConfig(path=str(data)), ["a", "b"], rejects)
    records = source.records()
    taken = [next(records) for _ in range(100)]
    fail_reads_of(first.resolve())
    taken += list(records)
    before = [r for r in taken if r.ts < T0 + 100_000]
    assert 100 <= len(before) < rows                  # the buffer's lines, then the error
    assert [r.ts for r in before] == [T0 + 10 * i for i in range(len(before))]
    assert len(taken) - len(before) == 200            # the next file, whole
    assert rejects.as_dict() == {"unreadable file": 1}
    read = header + len(before)
    [line] = source.unreadable
    assert line.startswith(f"{first}: cannot read it from line {read + 1} on ({read} lines read, "
                           f"their records kept): ")
    assert f"rejected part0{suffix}:{read + 1}: unreadable file — cannot read it from line {read + 1}" in caplog.text


@pytest.mark.parametrize("suffix", [".csv", ".jsonl"])
def test_a_file_cut_short_while_read_says_so(tmp_path, suffix):
    """A file truncated while it is replayed (a rotation in place, `> file`): the reader meets its new
    end and the file ended in silence on the old code, the lines past the cut lost without a word.
    Now it is counted as an unreadable file naming the line, the sizes and what was kept."""
    path = tmp_path / f"cut{suffix}"
    rows = 4000                                     # well past the reader's buffer
    if suffix == ".csv":
        recording(path, T0, rows)
    else:
        path.write_text("".join(f'{{"ts": {T0 + 10 * i}, "a": {i % 7 * 0.5}, "b": 1.5}}\n' for i in range(rows)))
    size = path.stat().st_size
    rejects = Rejects()
    source = ReplaySource(ReplayConfig(path=str(path)), ["a", "b"], rejects)
    records = source.records()
    taken = [next(records) for _ in range(100)]
    os.truncate(path, 2000)                         # within what the reader has buffered already
    taken += list(records)
    assert 100 <= len(taken) < rows
    # (the line the reader's buffer ends in is cut too: it may be rejected on its own)
    assert rejects.counts["unreadable file"] == 1 and rejects.total - 1 <= 1
    [line] = source.unreadable
    assert line.startswith(f"{path}: it shrank from {size} to 2000 bytes while it was read (truncated or rotated "
                           "in place): ") and line.endswith(" lines read and kept, the rest of it is lost")
