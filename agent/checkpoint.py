"""The agent's learned state on disk, so a restart (upgrade, watchdog, power cut, kill -9) does not
make it blind for a whole warm-up.

Five files in `state_dir`, each written atomically (temporary file, fsync, rename, fsync of the
directory), so a crash leaves either the old or the new version, never a torn one:

- `checkpoint.bin`: everything the pipeline learned (normaliser, the numpy fallback's AR / Markov /
  fusion state, thresholds, window, sensor health, alert tracker, warm-up rows while warming up,
  the recent ticks a hot-swapped bundle's profile is fitted on: agent/recent_ticks.py; the warm-up
  ticks a standby tier not loaded yet keeps: agent/scorers/standby.py) and the aligner's last closed tick. Written every `checkpoint_s` and on a clean stop.
- `alert-journal.json`: the alert tracker and the event, written for every alert event *before*
  any sink sees it. It is newer than the checkpoint whenever an alert event happened since, so
  a restarted agent continues an open alert with the next seq, and re-delivers the last event to
  any sink that may not have it (a crash between the journal and the sinks).
- `fault-journal.json`: the same for sensor-fault events (agent/faults/): the event and the open
  faults as subscribers know them after it. A fault raised or ended after the checkpoint is
  continued (or stays ended) after a restart, with its fault_id; with no usable checkpoint, the
  faults it holds open are ended with reason `restart`.
- `active-bundle.json` (agent/active_bundle.py): which bundle a hot swap made active.
- `alive.json` (agent/alive.py): when the agent was last alive with nothing new to checkpoint (a
  sender silent), naming the checkpoint it extends by its `created`.

The journals' atomic write needs a new file, which a full disk refuses: each journal then writes
into its spare (`<journal>.spare`, reserved at the start, written in place; EventJournal).

The checkpoint format is binary-safe and cannot execute code (no pickle): a magic, a format
version, a JSON header describing the state (numpy arrays stand in it as dtype/shape/offset into
the body, dtypes from a short allow-list), the raw array bytes, and a sha256 of all of it. A
checkpoint is refused — with one log line saying why — when it is truncated, corrupt, of another
format version, or was taken with another configuration (sensors, tick, window, the fallback's settings,
topology); the agent then warms up as if there were none. One taken with another bundle or `scoring.profile`
alone (TIER_KEYS: they shape the model tier's state only) is resumed but for the model tier, which is prepared
again as a hot-swapped bundle is (swap5: agent/resume.py, Pipeline.restore). The bundle is known by three digests
(agent/pipeline_state.py `bundle_identity`): its manifest as parsed (matched on), manifest.json's bytes (named in the
line), and its model's (Bundle.model_digest): under the same model_id, another model is said with both manifest
digests and its model state fitted again; the same model under a rewritten manifest keeps it, said (`model_kept`;
swap11: without models_dir the checkpoint is all that knows which release ran).
"""
from __future__ import annotations

import dataclasses
import errno
import json
import logging
import os
import struct
import time
from itertools import repeat
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterable, Iterator, TypeVar

import numpy as np

from . import json_read
from .bundle import NOT_SCORED, how_changed
from .digest import sha256
from .dirsync import sync_directory
from .held_file import ReservedFile

if TYPE_CHECKING:
    from .config import AgentConfig

log = logging.getLogger("stad.checkpoint")

CHECKPOINT_FILE = "checkpoint.bin"
JOURNAL_FILE = "alert-journal.json"
FAULT_JOURNAL_FILE = "fault-journal.json"
MAGIC = b"STADCKPT"
FORMAT_VERSION = 1
_PREFIX = struct.Struct("<8sIQQ")          # magic, format version, header bytes, body bytes
_DIGEST = 32
_DTYPES = {"<f8", "<f4", "<i8", "<i4", "<i2", "|i1", "|b1"}   # what state arrays are made of; nothing else loads
_ARRAY_KEY = "__ndarray__"
_OPENSSL_BYTES = 16 << 20   # a checkpoint from this size on is hashed by OpenSSL (_hasher)
_T = TypeVar("_T")


class CheckpointRefused(Exception):
    """This checkpoint cannot be used; the message says why, in words for the log."""


# ---- atomic files ---------------------------------------------------------------------------------

def atomic_write(path: Path, *parts) -> None:
    """Write `parts` (bytes, or C-contiguous arrays: their raw bytes) one after another to `path`
    so that a crash at any moment leaves the old file or the new one."""
    atomic_write_from(path, parts)


def atomic_write_from(path: Path, parts: Iterable) -> None:
    """atomic_write of the parts an iterable gives, each written before the next is asked for. An error it
    raises leaves the old file, as a failed write does."""
    atomic_write_by(path, lambda fd: _write_parts(fd, parts))


def atomic_write_by(path: Path, write: Callable[[int], _T]) -> _T:
    """`write(fd)` fills a temporary file (opened for reading too: a checkpoint hashes its header back,
    `_write_checkpoint`), which then replaces `path` so that a crash at any moment leaves the old file or
    the new one: fsync, rename, fsync of the directory. Any error leaves the old file and no temporary one;
    returns what `write` returned."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        result = write(fd)
        os.fsync(fd)
        os.close(fd)
        fd = -1
        os.replace(tmp, path)
    except BaseException:
        if fd >= 0:
            os.close(fd)
        try:                    # a full disk: the part written must not keep the room the outbox needs
            os.unlink(tmp)
        except OSError:
            pass                # the write's own error is the one to report
        raise
    sync_directory(path.parent)     # the rename itself survives a power cut once the directory is synced
    return result


def _write_parts(fd: int, parts: Iterable) -> None:
    for part in parts:
        _write_all(fd, part)
        del part                # (this part's memory goes before the next is made)


def _write_all(fd: int, part) -> None:
    view = memoryview(part).cast("B") if isinstance(part, np.ndarray) else memoryview(part)
    while view:
        view = view[os.write(fd, view):]


# ---- encoding ------------------------------------------------------------------------------------

def encode(meta: dict, state: dict) -> bytes:
    """meta + state (nested dicts / lists / scalars / numpy arrays) → checkpoint bytes, whole in memory
    (tests, bench/restart.py); a saved checkpoint is the same bytes, written in pieces (`write_checkpoint`)."""
    header, arrays, size, _ = _described(meta, state)
    text = json.dumps(header, separators=(",", ":")).encode()
    parts = [_PREFIX.pack(MAGIC, FORMAT_VERSION, len(text), size), text,
             *(memoryview(_written(a, dtype)).cast("B") for a, dtype in arrays)]
    digest = _hasher(len(parts[0]) + len(text) + size)
    for part in parts:
        digest.update(part)
    return b"".join([*parts, digest.digest()])


#: Characters of the JSON header made, encoded and written at a time (`_write_checkpoint`).
_HEADER_PIECE = 8192
#: Bytes of the written header read back at a time to be hashed (`_hashed_back`).
_READ_BACK = 16384


def write_checkpoint(path: Path, meta: dict, state: dict) -> int:
    """Write the checkpoint `encode` makes of meta + state to `path` (atomic_write_by's guarantees); returns
    its size. Written in pieces (perf67: the stop's checkpoint was the demo's RSS peak, +0.25 MiB: its arrays'
    copies, 136 KiB of them non-contiguous views of the state's, the header's text and bytes, ~55 KB each, and
    the C encoder's ~250 KiB of pieces while it made the text): never the file, its header's text or its
    arrays' written copies whole in memory beside the state. What cannot be checkpointed (an array's dtype) is
    refused before the file is touched. The state must not change until it returns."""
    header, arrays, size, sizes = _described(meta, state)
    return atomic_write_by(path, lambda fd: _write_checkpoint(fd, header, arrays, size, sizes))


def _write_checkpoint(fd: int, header: dict, arrays: list, size: int, sizes: dict) -> int:
    """The checkpoint written at `fd`'s start: the prefix's room, the JSON header in pieces of ~_HEADER_PIECE
    characters (made once, counted as written: `_header_texts`), then the prefix (the header's length is in
    it) written into its room; the sha256 over the prefix and the header read back from the file (perf68:
    perf67 made the header twice, counted then written, for the prefix before it: +40 ms at 256 sensors),
    then over each array as it is written (C-contiguous, narrowed: `_written`); the digest last."""
    _write_all(fd, bytes(_PREFIX.size))
    header_len = 0
    for text in _joined(_header_texts(header, sizes), _HEADER_PIECE):
        data = text.encode("ascii")             # (ensure_ascii: one byte a character)
        header_len += len(data)
        _write_all(fd, data)
        del text, data
    head = _PREFIX.pack(MAGIC, FORMAT_VERSION, header_len, size)
    if os.pwrite(fd, head, 0) != len(head):
        raise OSError(errno.EIO, "the checkpoint's prefix was not written whole")
    digest = _hasher(len(head) + header_len + size)
    digest.update(head)
    _hashed_back(fd, digest, len(head), header_len)
    for a, dtype in arrays:
        part = _written(a, dtype)
        digest.update(part)
        _write_all(fd, part)
        del part
    _write_all(fd, digest.digest())
    return len(head) + header_len + size + _DIGEST


def _hashed_back(fd: int, digest, offset: int, n: int) -> None:
    """`digest` updated with the `n` bytes at `offset` of the file `fd` — what was written (the page cache's)."""
    while n:
        data = os.pread(fd, min(n, _READ_BACK), offset)
        if not data:
            raise OSError(errno.EIO, f"the checkpoint's temporary file ends at {offset}, before its header's end")
        digest.update(data)
        offset += len(data)
        n -= len(data)


#: Values of the header encoded by one json.dumps call at most (`_header_texts`).
_SCALAR_RUN = 256


def _dumps(x) -> str:
    return json.dumps(x, separators=(",", ":"))


def _header_texts(x, sizes: dict) -> Iterator[str]:
    """json.dumps(x, separators=(",", ":"))'s text in pieces, each made by json.dumps itself (its C encoder):
    a container `_described` found large (`sizes`: its id → the values in each of its items) is made in runs
    of items holding ~_SCALAR_RUN values together (one json.dumps of the run: a list, or a dict of its keys),
    a large item in pieces of its own; any other container whole. One dumps of the whole header peaked at
    ~4.5× its text in the encoder's pieces (perf67); one dumps per small item was 5400 calls at 256 sensors
    (drift's 1272 mu and cov rows: +7 ms, perf68)."""
    if id(x) not in sizes:
        yield _dumps(x)
        return
    counts = sizes[id(x)]
    is_dict = isinstance(x, dict)       # (a large one is the header's or _described's: its keys are strings)
    yield "{" if is_dict else "["
    run: dict | list = {} if is_dict else []
    held = 0
    first = True
    for item, m in zip(x.items() if is_dict else x, repeat(1) if counts is None else counts):
        v = item[1] if is_dict else item
        if id(v) in sizes:
            if run:
                yield ("" if first else ",") + _dumps(run)[1:-1]
                run, held, first = ({} if is_dict else []), 0, False
            yield ("" if first else ",") + (_encode_key(item[0]) + ":" if is_dict else "")
            yield from _header_texts(v, sizes)
            first = False
            continue
        if is_dict:
            run[item[0]] = v
        else:
            run.append(v)
        held += max(m, 1)
        if held >= _SCALAR_RUN:
            yield ("" if first else ",") + _dumps(run)[1:-1]
            run, held, first = ({} if is_dict else []), 0, False
    if run:
        yield ("" if first else ",") + _dumps(run)[1:-1]
    yield "}" if is_dict else "]"


_encode_key = json.encoder.encode_basestring_ascii     # a str key as json.dumps writes it


def _joined(texts: Iterable[str], at_least: int) -> Iterator[str]:
    """`texts` joined into strings of `at_least` characters (the last one shorter)."""
    buf: list[str] = []
    n = 0
    for text in texts:
        buf.append(text)
        n += len(text)
        if n >= at_least:
            yield "".join(buf)
            buf.clear()
            n = 0
    if buf:
        yield "".join(buf)


#: Values the header holds as they are (`_described`; numpy's scalars, subclasses of float and int, are made
#: Python's: their own type is not in it).
_PLAIN = frozenset({float, int, str, bool, type(None)})


def _described(meta: dict, state: dict) -> tuple[dict, list, int, dict]:
    """(header document, arrays, body bytes, sizes): the header with each state array as its descriptor (the dtype
    it is written in, shape, offset into the body, its own dtype); the arrays in body order with the dtype each is
    written in — the arrays themselves, no copy (`_written` makes each one's when it is written); for each of the
    header's containers holding more than _SCALAR_RUN values, by id, the values in each of its items (scalars
    and arrays 1; None when each holds one; `_header_texts` makes those containers in runs of items)."""
    arrays: list[tuple[np.ndarray, np.dtype]] = []
    sizes: dict[int, list[int] | None] = {}
    size = 0

    def walk(x):
        nonlocal size
        if isinstance(x, np.ndarray):
            dtype = x.dtype.str
            if dtype not in _DTYPES:
                raise TypeError(f"cannot checkpoint an array of dtype {dtype}")
            narrow = _narrowed(x).dtype
            shape = x.shape if x.ndim else (1,)     # (as np.ascontiguousarray has it)
            nbytes = x.size * narrow.itemsize
            desc = {_ARRAY_KEY: [narrow.str, list(shape), size, dtype]}
            if nbytes:
                arrays.append((x, narrow))
            size += nbytes
            return desc, 1
        if isinstance(x, dict):
            values, counts = walk_each(x.values())
            out = dict(zip(map(str, x), values))
        elif isinstance(x, (list, tuple)):
            out, counts = walk_each(x)
        elif isinstance(x, (np.floating, np.integer, np.bool_)):
            return x.item(), 1
        else:
            return x, 1
        n = len(out) if counts is None else sum(counts)
        if n > _SCALAR_RUN:
            sizes[id(out)] = counts     # (None: one value each)
        return out, n

    def walk_each(values) -> tuple[list, list[int] | None]:
        """The walked values of a container's items, and how many values each holds (None: one each)."""
        out, counts = [], None
        for v in values:
            if type(v) in _PLAIN:           # (as walk returns it, without the call: perf68)
                out.append(v)
                if counts is not None:
                    counts.append(1)
            else:
                v, m = walk(v)
                if counts is None:
                    counts = [1] * len(out)
                out.append(v)
                counts.append(m)
        return out, counts

    header = {"meta": meta, "state": walk(state)[0]}
    sizes[id(header)] = [1, 1]      # (meta as one value: made whole unless the state is small too)
    # walk calls itself through its closure: a reference cycle (walk → its cell → walk) that would
    # hold `arrays` — this checkpoint's, views of the state's — until the cyclic GC's next
    # full pass; the warm-up's raw values, viewed by a checkpoint written during the warm-up,
    # stayed resident through the fit (perf44).
    del walk, walk_each
    return header, arrays, size, sizes


def _written(a: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """The array as the body holds it: C-contiguous, in `dtype` (its own, or the narrower one `_narrowed` chose)."""
    return np.ascontiguousarray(a) if dtype == a.dtype else np.ascontiguousarray(a.astype(dtype, order="C"))


def read_meta(path: Path) -> dict:
    """The meta of the checkpoint at `path` from its header alone (a few hundred bytes, not the body
    and not its sha256: `decode` checks those when the checkpoint is loaded); CheckpointRefused when
    the header is not one, OSError when the file cannot be read."""
    with open(path, "rb") as f:
        prefix = f.read(_PREFIX.size)
        if len(prefix) < _PREFIX.size:
            raise CheckpointRefused(f"truncated: {len(prefix)} bytes, not even a header")
        magic, version, header_len, _ = _PREFIX.unpack(prefix)
        if magic != MAGIC or version != FORMAT_VERSION:
            raise CheckpointRefused("not a checkpoint file of this format")
        # (a length past the file — a flipped bit of the prefix — asked for that many bytes at once: MemoryError
        # from 2**40, OverflowError past 2**63, and the start that read it died: qa36)
        size = os.fstat(f.fileno()).st_size
        if header_len > size - _PREFIX.size:
            raise CheckpointRefused(f"truncated: a header of {header_len} bytes in a file of {size} bytes")
        try:
            return json_read.loads(f.read(header_len).decode())["meta"]
        except (ValueError, KeyError, TypeError) as exc:
            raise CheckpointRefused(f"corrupt: unreadable header ({exc})") from None


def _hasher(nbytes: int):
    """A SHA-256 for `nbytes` of checkpoint (the same digest either way). CPython's builtin (agent/digest.py:
    OpenSSL's libcrypto is ~3.5 MiB resident) up to _OPENSSL_BYTES; OpenSSL's past it, with the CPU's SHA
    instructions: the fault tracker's rings full at 1-ms ticks are a 317 MB checkpoint, 1.2–1.6 s to hash
    builtin, 0.2 s with OpenSSL here (clock20), and an agent holding that state is hundreds of MB
    resident already. From `_hashlib` itself: the agent's hashlib is loaded on the builtins
    (digest.without_openssl), so hashlib.sha256 is the builtin's too."""
    if nbytes < _OPENSSL_BYTES:
        return sha256()
    try:
        from _hashlib import openssl_sha256
    except ImportError:         # a build without OpenSSL
        return sha256()
    return openssl_sha256()


def _narrowed(a: np.ndarray) -> np.ndarray:
    """`a` in fewer bytes when nothing is lost (read back in its own dtype): counts kept as floats
    or int64 as int16; window rows and the features built from them, float32 values, as float32."""
    if a.dtype.str not in ("<f8", "<i8") or a.size == 0:
        return a
    with np.errstate(invalid="ignore"):
        small = a.astype(np.int16)
        # (not with a −0.0 in it: read back as +0.0, another bit pattern than the state had)
        if np.array_equal(small, a) and (a.dtype.kind != "f" or not np.signbit(a[a == 0]).any()):
            return small
    if a.dtype.str == "<f8":
        narrow = a.astype(np.float32)
        if np.array_equal(narrow, a, equal_nan=True):
            return narrow
    return a


def decode(data: bytes) -> tuple[dict, dict]:
    """Checkpoint bytes → (meta, state); CheckpointRefused saying what is wrong with them."""
    if len(data) < _PREFIX.size:
        raise CheckpointRefused(f"truncated: {len(data)} bytes, not even a header")
    magic, version, header_len, body_len = _PREFIX.unpack_from(data)
    if magic != MAGIC:
        raise CheckpointRefused("not a checkpoint file (bad magic)")
    if version != FORMAT_VERSION:
        raise CheckpointRefused(f"format version {version}; this agent reads version {FORMAT_VERSION}")
    expected = _PREFIX.size + header_len + body_len + _DIGEST
    if len(data) < expected:
        raise CheckpointRefused(f"truncated: {len(data)} of {expected} bytes")
    if len(data) > expected:
        raise CheckpointRefused(f"corrupt: {len(data) - expected} unexpected bytes after the end")
    digest = _hasher(expected)
    digest.update(memoryview(data)[:expected - _DIGEST])       # (a view: a slice of bytes is a copy)
    if digest.digest() != data[expected - _DIGEST:]:
        raise CheckpointRefused("corrupt: sha256 mismatch")
    header_end = _PREFIX.size + header_len
    try:
        doc = json_read.loads(data[_PREFIX.size:header_end].decode())
        meta, raw = doc["meta"], doc["state"]
    except (ValueError, KeyError, TypeError) as exc:
        raise CheckpointRefused(f"corrupt: unreadable header ({exc})") from None
    body = memoryview(data)[header_end:header_end + body_len]

    def walk(x):
        if isinstance(x, dict):
            if _ARRAY_KEY in x:
                dtype, shape, offset, original = x[_ARRAY_KEY]
                if dtype not in _DTYPES or original not in _DTYPES:
                    raise CheckpointRefused(f"corrupt: array dtype {dtype!r} is not allowed")
                count = int(np.prod(shape, dtype=np.int64)) if shape else 1
                nbytes = count * np.dtype(dtype).itemsize
                if offset < 0 or offset + nbytes > body_len:
                    raise CheckpointRefused("corrupt: an array lies outside the file")
                return np.frombuffer(body[offset:offset + nbytes], dtype=dtype).reshape(shape).astype(original)
            return {k: walk(v) for k, v in x.items()}
        if isinstance(x, list):
            return [walk(v) for v in x]
        return x

    try:
        return meta, walk(raw)
    except (ValueError, TypeError) as exc:
        raise CheckpointRefused(f"corrupt: {exc}") from None
    except RecursionError:
        raise CheckpointRefused(f"corrupt: its state is {json_read.NESTED_TOO_DEEP}") from None


# ---- restoring arrays (used by every component's restore) ---------------------------------------

def array_like(value, like: np.ndarray, name: str) -> np.ndarray:
    """`value` as an array of `like`'s shape and dtype, or ValueError naming the key."""
    if not isinstance(value, np.ndarray):
        raise ValueError(f"{name}: expected an array, got {type(value).__name__}")
    if value.shape != like.shape:
        raise ValueError(f"{name}: shape {value.shape}, expected {like.shape}")
    return value.astype(like.dtype, copy=True)


def array_of(value, name: str, dtype, ndim: int, width: int | None = None) -> np.ndarray:
    """A restored array whose length varies (ring contents, buffers); `width`: size of axis 1."""
    if not isinstance(value, np.ndarray) or value.ndim != ndim:
        raise ValueError(f"{name}: expected a {ndim}-d array")
    if width is not None and value.shape[1] != width:
        raise ValueError(f"{name}: {value.shape[1]} columns, expected {width}")
    return value.astype(dtype, copy=True)


# ---- what a checkpoint must match ---------------------------------------------------------------

def fingerprint(cfg: AgentConfig, adjacency: np.ndarray, bundle: dict | None) -> dict:
    """The configuration a checkpoint's state depends on; a checkpoint for any other is refused."""
    np_cfg = cfg.scoring.numpy
    return {
        "sensors": cfg.sensor_names(),
        "tick_s": cfg.tick_s,
        "window_steps": cfg.window.steps,
        "topology": sha256(np.ascontiguousarray(adjacency, np.float64).tobytes()).hexdigest()[:16],
        "numpy_scorer": {"ar_order": np_cfg.ar_order, "markov_bins": np_cfg.markov_bins,
                         "weights": dict(sorted(np_cfg.weights.items())),
                         "seasonal_periods_s": list(np_cfg.seasonal_periods_s)},
        "threshold_method": cfg.threshold.method,
        "profile": _keys_of(cfg.scoring.profile),
        "bundle": bundle,
    }


def _keys_of(section) -> dict:
    """A config section's keys and values, without the fields from_dict sets that are no key (`drifting_given`:
    whether the list was given shapes the alert hold, not any state; a checkpoint from before it fits)."""
    return {k: v for k, v in dataclasses.asdict(section).items()
            if "internal" not in section.__dataclass_fields__[k].metadata}


#: The value an agent before the skab32 round ran for a `scoring.profile` key its checkpoint does not carry: that
#: round made these defaults (the profile on with a bundle), so today's defaults are not what such an agent ran.
PROFILE_BEFORE_SKAB32 = {"enabled": False, "drifting": [], "lasting_shift": True, "per_sensor_fraction": 0.0,
                         "trained_wander": False}


#: `scoring.profile` keys no state depends on: the alert rules read them on each tick (residue_fraction, through the
#: alert tracker: agent/alert_residue.py). Another value at a restart applies from the first tick; counted, it was
#: "scoring.profile changed" and the model tier was prepared again — with the fallback scoring until a warm-up's
#: worth of live ticks had filled the recent ticks, when the checkpoint held fewer (review32).
PROFILE_RULE_KEYS = ("residue_fraction",)


def _profile_key(profile: dict | None) -> dict | None:
    """A fingerprint's `scoring.profile` as its state depends on it. A disabled profile fits no state, so only
    that it is off counts: a config pinned `profile: {enabled: false}` resumes a checkpoint its agent took
    before skab32 changed the other keys' defaults. An enabled one: every key but PROFILE_RULE_KEYS, those its
    agent did not know at what it ran (PROFILE_BEFORE_SKAB32, else the default: a key a later release adds —
    per_sensor_fraction, trained_wander — left at its off value changes nothing the state depends on, so an
    upgrade resumes instead of warming up again)."""
    if not isinstance(profile, dict):
        return profile
    from .scorers.profile import ProfileConfig
    full = {**_keys_of(ProfileConfig()), **PROFILE_BEFORE_SKAB32, **profile}
    for key in PROFILE_RULE_KEYS:
        full.pop(key, None)
    return {"enabled": False} if full["enabled"] is False else full


def _bundle_text(b: dict | None) -> str:
    return f"{b['model_id']} ({b['path']})" if b else "no bundle"


def _manifest_text(b: dict) -> str:
    """A fingerprint's bundle by its manifest.json's sha256 (what `sha256sum manifest.json` prints, and swap9's and
    swap10's lines name a release by); a checkpoint written before swap11 kept only the parsed manifest's."""
    digest = b.get("manifest_sha256")
    if digest:
        return f"manifest.json sha256 {digest[:12]}…"
    return "its manifest.json digest not kept (an earlier release's checkpoint)"


#: What a restart onto another model under the checkpoint's model_id does with the model state it carried (`mismatch`).
NOT_CARRIED = ("the model tier's state fitted for the release that ran — its profile, its threshold, the alerts' score "
               "scale — is not carried onto another model; the fallback's state, the window, the alerts and faults are")


def _same_release_elsewhere(sb: dict, cb: dict) -> str:
    """How the bundle a checkpoint was taken with (`sb`) and the one the agent starts with (`cb`), the same model_id,
    came to differ: the same folder rewritten while the agent was down, a builtin's changed with the package, or
    `scoring.bundle` pointed at another folder."""
    if sb.get("path") != cb.get("path"):
        return f"the checkpoint was taken with {sb.get('path')}, the agent starts with {cb['path']}"
    return f"{cb['path']}, the bundle the checkpoint was taken with, was {how_changed(Path(cb['path']))}"


def _model_differs(sb: dict | None, cb: dict | None) -> str:
    """`mismatch`'s words for a checkpoint taken with another bundle than the agent starts with: by model_id when they
    differ; under the same model_id, with both manifests' digests and what becomes of the state (swap11: the line
    named the same model_id and path twice, which told a rewritten bundle from nothing)."""
    if not (sb and cb and sb.get("model_id") == cb["model_id"]):
        return f"the model differs: checkpoint taken with {_bundle_text(sb)}, the agent starts with {_bundle_text(cb)}"
    known = sb.get("model_sha256") is not None
    return (f"the model differs: {_same_release_elsewhere(sb, cb)}: another release under the same model_id "
            f"{cb['model_id']} ({_manifest_text(cb)} now, {_manifest_text(sb)} when the checkpoint was taken), "
            + ("its model another (its artifacts, normalisation, residual scale, threshold or training rows differ)"
               if known else "whether its model is another not known (the checkpoint kept no digest of it): taken as "
               "another") + f"; {NOT_CARRIED}")


def _same_model(sb: dict | None, cb: dict | None) -> bool:
    """Whether a checkpoint's bundle and the agent's are the same model (model_id and Bundle.model_digest), their
    manifests another: the model tier's state was fitted for this model and carries (`model_kept` says it)."""
    return bool(sb and cb and sb.get("model_id") == cb["model_id"] and sb.get("model_sha256") is not None
                and sb.get("model_sha256") == cb.get("model_sha256"))


def model_kept(saved: dict, current: dict) -> str | None:
    """What a restart says when the checkpoint's bundle and the agent's have other manifests but the same model
    (`_same_model`: e.g. `stad-convert verify --record` rewrote manifest.json, or a release re-exported with its
    files the same): the model tier's state is carried, said with both digests. None otherwise."""
    sb, cb = saved.get("bundle"), current["bundle"]
    if not _same_model(sb, cb) or sb.get("sha256") == cb.get("sha256"):
        return None
    return (f"{_same_release_elsewhere(sb, cb)}: its manifest another ({_manifest_text(cb)} now, {_manifest_text(sb)} "
            f"when the checkpoint was taken), the model it describes the same (model_id {cb['model_id']}, the artifacts "
            f"run, sensors, normalisation, residual scale, threshold and training rows; only {', '.join(NOT_SCORED)} "
            "may differ): the model tier's state — its profile, its threshold, the alerts' score scale — carried")


#: The fingerprint's keys that shape a model tier's state alone (its bundle's tier, its profile and threshold). A
#: checkpoint differing in these only is resumed with the model tier prepared again (`tier_mismatch`).
TIER_KEYS = ("profile", "bundle")


def tier_mismatch(saved: dict, current: dict) -> str | None:
    """Why the model tier of a checkpoint taken with `saved` does not fit `current` (the bundle, `scoring.profile`:
    TIER_KEYS), or None when it does. The rest of the state — the fallback, its threshold, the window, alerts, faults,
    the recent ticks — does not depend on them: a restart onto another bundle or profile resumes it and prepares the
    model tier as a hot-swapped bundle is (Pipeline.restore's `tier_changed`)."""
    whys = [mismatch({**current, k: saved.get(k)}, current) for k in TIER_KEYS]
    return "; ".join(w for w in whys if w) or None


def mismatch(saved: dict, current: dict, tier: bool = True) -> str | None:
    """Why a checkpoint taken with `saved` does not fit `current`, or None when it does; `tier` False: a
    difference in the model tier's keys alone (TIER_KEYS, `tier_mismatch`) is not one."""
    if not tier:
        saved = {**saved, **{k: current[k] for k in TIER_KEYS}}
    s_sensors, c_sensors = saved.get("sensors"), current["sensors"]
    if s_sensors != c_sensors:
        if isinstance(s_sensors, list) and set(s_sensors) == set(c_sensors):
            return "the sensors are in another order"
        gone = [x for x in (s_sensors or []) if x not in c_sensors]
        new = [x for x in c_sensors if x not in (s_sensors or [])]
        parts = ([f"removed {', '.join(gone[:4])}{' …' if len(gone) > 4 else ''}"] if gone else []) + \
                ([f"added {', '.join(new[:4])}{' …' if len(new) > 4 else ''}"] if new else [])
        return f"sensors differ ({'; '.join(parts)})"
    words = {"tick_s": "tick_s", "window_steps": "window.steps", "topology": "the topology (neighbours)",
             "numpy_scorer": "scoring.numpy", "threshold_method": "threshold.method",
             "profile": "scoring.profile"}
    for key, word in words.items():
        was, now = saved.get(key), current[key]
        if key == "profile":        # it shapes a model tier's state only: without a bundle on either side, none
            was, now = (None, None) if not (saved.get("bundle") or current["bundle"]) else (_profile_key(was), _profile_key(now))
        if was != now:
            if key in ("topology", "numpy_scorer", "profile"):
                return f"{word} changed"
            return f"{word} is {current[key]}, the checkpoint was taken with {saved.get(key)}"
    sb, cb = saved.get("bundle"), current["bundle"]
    if (sb or {}).get("model_id") != (cb or {}).get("model_id") or (sb or {}).get("sha256") != (cb or {}).get("sha256"):
        return None if _same_model(sb, cb) else _model_differs(sb, cb)
    return None


# ---- the checkpoint file -------------------------------------------------------------------------

class CheckpointStore:
    """checkpoint.bin in a state directory: save (atomic) and load (or refuse, saying why)."""

    def __init__(self, state_dir: str | Path):
        self.path = Path(state_dir) / CHECKPOINT_FILE

    def save(self, meta: dict, state: dict) -> dict:
        """Write it; returns {"bytes", "seconds"} for the log and the benchmark, and its header's
        "created" (what the agent's sign of life names: agent/alive.py)."""
        t0 = time.perf_counter()
        created = time.time()
        nbytes = write_checkpoint(self.path, {**meta, "created": created}, state)
        return {"bytes": nbytes, "seconds": time.perf_counter() - t0,
                "created": created}

    def load(self, current: dict, tier_apart: bool = False) -> tuple[dict, dict] | None:
        """(meta, state) of a checkpoint that fits `current` (a fingerprint); None when there is none.
        Raises CheckpointRefused when there is one that cannot be used. `tier_apart`: one that differs in the
        model tier's keys alone fits (the caller prepares the tier again: `tier_mismatch`)."""
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            tmp = self.path.with_name(self.path.name + ".tmp")
            if tmp.is_file():   # (a kill -9 or a power cut during a first write: its rename never made; chaos9)
                raise CheckpointRefused(f"missing; only {tmp.name} ({tmp.stat().st_size} bytes) is there, a first "
                                        "checkpoint whose write a power cut or a kill -9 cut short (not used: it "
                                        "may be incomplete)") from None
            return None
        except OSError as exc:
            raise CheckpointRefused(f"unreadable: {exc.strerror}") from None
        meta, state = decode(data)
        if not isinstance(meta, dict) or not isinstance(meta.get("config"), dict):
            raise CheckpointRefused("corrupt: no configuration in the header")
        try:
            why = mismatch(meta["config"], current, tier=not tier_apart)
        except (TypeError, AttributeError, KeyError, ValueError) as exc:     # (another release's form, a hand)
            raise CheckpointRefused(f"corrupt: the configuration in its header is not in the expected form "
                                    f"({type(exc).__name__}: {exc})") from None
        if why:
            raise CheckpointRefused(f"taken with another configuration: {why}")
        return meta, state


# ---- the alert journal ---------------------------------------------------------------------------

SPARE_BYTES = 16 * 1024      # an alert journal is ~1 KB with few sensors
FAULT_SPARE_BYTES_PER_SENSOR = 2048     # a fault event (~0.6 KB, its evidence naming neighbours) and an open fault
#: an open alert's per-sensor maps (the residue rule's score_peak and level_high, with a model tier) and the floors
#: one that subsided leaves: ~50 bytes a sensor each at a 35-character name — 13.9 KB at 256 sensors (review40)
ALERT_SPARE_BYTES_PER_SENSOR = 256


def alert_spare_bytes(sensors: int) -> int:
    """The alert journal's spare: room for the journal of a site of `sensors` — it was SPARE_BYTES for any site, and an
    open alert's document on a model tier outgrew it from ~300 sensors (fewer with longer names): on a full disk that
    journal was then written nowhere, and a kill -9 left the restart an older one (review40)."""
    return max(SPARE_BYTES, ALERT_SPARE_BYTES_PER_SENSOR * sensors)


def fault_spare_bytes(sensors: int) -> int:
    """The fault journal's spare: room for one tick's fault events for every sensor (a station's power
    cut takes all of its sensors at once) — it was SPARE_BYTES for any site, too little from ~35."""
    return max(SPARE_BYTES, FAULT_SPARE_BYTES_PER_SENSOR * sensors)


class EventJournal:
    """The last event of a kind (alert-journal.json, fault-journal.json) with the state that goes
    with it (the alert tracker; the open faults), written before the sinks see the event.

    A full state disk refuses the atomic write (it needs a new file): the document then goes to
    the journal's spare (`<journal>.spare`, agent/held_file.py ReservedFile: reserved at the start
    while the disk has room, written in place). Without it a run killed on a full disk left the
    restart an older journal, and an alert it had raised since stayed open for good for every
    subscriber that only the MQTT sink feeds (only the JSONL could tell the restart otherwise).
    Every document carries a count `n`; read() takes the newer of the two."""

    def __init__(self, state_dir: str | Path, name: str = JOURNAL_FILE, what: str = "alert",
                 spare_bytes: int = SPARE_BYTES):
        self.path = Path(state_dir) / name
        self.what = what
        self.spare = ReservedFile(self.path.with_name(name + ".spare"), spare_bytes, f"stad-{what}-journal-spare/1")
        self._n: int | None = None          # the newest document's count, found at the first record
        self.problem: str | None = None     # why a file of it could not be read at start ('path: why')

    def reserve(self) -> bool:
        """Make the spare while the disk has room (the agent's start); False when it cannot."""
        return self.spare.reserve()

    def record(self, event: dict, tracker: dict) -> None:
        """Write the document. OSError when the journal cannot be written — its `kept_in` the spare's
        name when the spare took the document (the caller says so and writes the journal again)."""
        if self._n is None:
            self._n = max((n for _, n in self._documents(quiet=True)), default=0)
        self._n += 1
        data = json.dumps({"version": FORMAT_VERSION, "n": self._n, "event": event, "tracker": tracker},
                          separators=(",", ":")).encode()
        try:
            atomic_write(self.path, data)
        except OSError as exc:
            if self.spare.put({"n": self._n}, data, sync=True):
                exc.kept_in = self.spare.path.name
            raise

    def read(self) -> dict | None:
        """{"event", "tracker"} of the last event, None when there is none or it is unreadable."""
        docs = self._documents(quiet=False)
        if not docs:
            return None
        doc, self._n = max(docs, key=lambda d: d[1])
        return doc

    def _documents(self, quiet: bool) -> list[tuple[dict, int]]:
        """(document, n) of the journal and of its spare, those that can be read."""
        found = []
        for where, load in ((self.path, lambda: self.path.read_bytes()), (self.spare.path, self._spare_bytes)):
            try:
                data = load()
                if data is None:
                    continue
                doc = json_read.loads(data)
            except FileNotFoundError:
                continue
            except (OSError, ValueError) as exc:
                if not quiet:
                    log.warning("%s journal %s unreadable (%s); its last event is not delivered again from it, nor "
                                "its open %ss continued from it", self.what, where, exc, self.what)
                    self.problem = f"{where}: unreadable ({exc})"
                continue
            if not (isinstance(doc, dict) and doc.get("version") == FORMAT_VERSION
                    and isinstance(doc.get("event"), dict) and isinstance(doc.get("tracker"), dict)):
                if not quiet:
                    log.warning("%s journal %s is not in the expected form; ignored", self.what, where)
                    self.problem = f"{where}: not in the expected form"
                continue
            found.append((doc, int(doc.get("n", 0)) if isinstance(doc.get("n", 0), int) else 0))
        return found

    def _spare_bytes(self) -> bytes | None:
        got = self.spare.get()
        return None if got is None else got[1]

    def close(self) -> None:
        self.spare.close()


__all__ = ["CheckpointStore", "CheckpointRefused", "EventJournal", "FAULT_JOURNAL_FILE", "alert_spare_bytes", "atomic_write", "encode", "decode", "read_meta",
           "fingerprint", "mismatch", "model_kept", "tier_mismatch", "TIER_KEYS", "array_like", "array_of", "CHECKPOINT_FILE", "JOURNAL_FILE",
           "FORMAT_VERSION"]
