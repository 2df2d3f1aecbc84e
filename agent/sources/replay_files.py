"""Which files a replay reads: the walk of its path (a file, or a folder's *.csv / *.jsonl / *.ndjson in name order),
the recordings under it that it leaves out (`day2.csv.gz`), and a file it cannot read as text (UTF-16/32).

Apart from the replay's reading because check-config (ReplayConfig.preflight, agent/preflight.py) and the converter
(convert/data.py) ask the same questions of the same path before any line is read, and must answer them as `run` does.
"""
from __future__ import annotations

from pathlib import Path

from ..host_checks import Note


JSONL_SUFFIXES = {".jsonl", ".ndjson"}


def _suffixes(fmt: str) -> set[str]:
    return {"csv": {".csv"}, "jsonl": JSONL_SUFFIXES, "auto": {".csv"} | JSONL_SUFFIXES}[fmt]


#: The byte-order marks of the text encodings wider than UTF-8, longest first (UTF-32LE's begins with UTF-16LE's).
WIDE_BOMS = ((b"\xff\xfe\x00\x00", "UTF-32LE"), (b"\x00\x00\xfe\xff", "UTF-32BE"), (b"\xff\xfe", "UTF-16LE"),
             (b"\xfe\xff", "UTF-16BE"))


def wide_text(path: Path) -> str | None:
    """Why `path` cannot be replayed when it is UTF-16 or UTF-32 text (Windows PowerShell 5's `>` and `Out-File`,
    Excel's "Unicode text"), else None. The replay reads UTF-8: such a file was read as UTF-8 with every other byte a NUL —
    each line a `bad json` at character 1 (201 of a 100-line file), or a CSV header `��t i m e s t a m p` mapping
    no sensor; check-config said ok to the JSON lines (chaos6). Told by its byte-order mark, or without one by NULs
    in every other byte of its start (ASCII text written two bytes a character)."""
    try:
        with open(path, "rb") as f:
            head = f.read(64)
    except OSError:
        return None                 # said as the file that cannot be read, where it is read
    found = next((name for bom, name in WIDE_BOMS if head.startswith(bom)), None)
    if found is None and len(head) >= 8:
        even, odd = head[0:8:2], head[1:8:2]
        found = ("UTF-16LE" if odd == b"\0" * 4 and b"\0" not in even else
                 "UTF-16BE" if even == b"\0" * 4 and b"\0" not in odd else None)
    if found is None:
        return None
    return (f"{found} text: the replay reads UTF-8 — save it as UTF-8 (PowerShell: `Out-File -Encoding utf8`; Excel: "
            f"\"CSV UTF-8\"), or convert it: `iconv -f {found} -t UTF-8`")


def wide_text_problems(files: list[Path], root: Path) -> list[str]:
    """check-config's word on the replay's UTF-16/32 files (`wide_text`): `run` would read nothing of them. A reader
    without preflight (training, evaluate) reads their lines as ever, each a reject, and says why once per file —
    each line counted, as every reader of a recording counts its lines (test_qa21's property)."""
    found = [(f, why) for f in files if (why := wide_text(f))]
    if not found:
        return []
    name = found[0][0].name if found[0][0] == root else found[0][0].relative_to(root).as_posix()
    more = f" (and {len(found) - 1} more of its {len(files)} files)" if len(found) > 1 else ""
    return [f"{name}{more} is {found[0][1]}"]


def walk_replay(root: Path, fmt: str) -> tuple[list[Path], list[str]]:
    """One walk of a replay path: the files the replay reads, in name order, and the files under a
    folder named like a recording that it does not read — a compressed, rotated or renamed copy
    (`day2.csv.gz`, `day2.csv.1`), whose last suffix is not one it reads. A historian's `.csv.gz`
    export was left out of a replay, a warm-up and a trained model without a word (review19); other
    files (a README) are no recording and are not named."""
    if root.is_file():
        return [root], []
    if not root.is_dir():
        if root.exists():
            from ..host_checks import special_kind
            raise FileNotFoundError(f"replay path {str(root)!r} is {special_kind(root)}, not a file or a directory")
        raise FileNotFoundError(f"replay path {str(root)!r} does not exist")
    suffixes = _suffixes(fmt)
    read, unread = [], []
    for p in root.rglob("*"):
        if not p.is_file():
            continue
        if p.suffix.lower() in suffixes:
            read.append(p)
        elif any(x.lower() in suffixes for x in p.suffixes[:-1]):
            unread.append(p.relative_to(root).as_posix())
    return sorted(read, key=lambda p: p.relative_to(root).as_posix()), sorted(unread)


def unread_text(unread: list[str], fmt: str) -> str:
    shown = ", ".join(unread[:5]) + (f" and {len(unread) - 5} more" if len(unread) > 5 else "")
    return (f"{len(unread)} file(s) named like recordings not read: {shown} (the replay reads plain "
            f"{_kinds(fmt)} only: decompress or rename them)")


def _kinds(fmt: str) -> str:
    return " / ".join(f"*{s}" for s in sorted(_suffixes(fmt)))


def folder_problems(root: Path, fmt: str, walked: tuple[list[Path], list[str]] | None = None) -> list[str]:
    """A replay folder with no file the replay reads is a problem (it would end at once, having read
    nothing); one with recordings it leaves out, a Note naming them. `walked`: walk_replay's answer,
    when the caller has it (a source opened on the folder)."""
    if not root.is_dir():
        return []
    files, unread = walk_replay(root, fmt) if walked is None else walked
    if not files:
        return ["no file the replay reads in this folder; " + unread_text(unread, fmt) if unread
                else f"no file the replay reads in this folder (plain {_kinds(fmt)})"]
    return [Note(unread_text(unread, fmt))] if unread else []
