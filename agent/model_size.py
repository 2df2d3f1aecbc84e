"""How many numbers a manifest's `model` section says the PyTorch weights hold, and whether the bundle can hold them.

Why: `stad-convert export` and `verify` rebuild the model from the `model` section (sizes: `sensors`, `steps`,
`d_model`, `ff_hidden`, `members`) before they compare it with model.pt. A section written by hand or by another
tool with `d_model: 100000` built a model of 10^11 numbers first: where the allocation failed, a "builds no model"
refusal; where it succeeded, minutes and gigabytes before "does not match" (qa37, left; qa38). The bundle says how
much it holds — every file's size is in the manifest and checked against the file — so a section whose model
cannot fit in it is refused when the manifest is read, by the agent (check-config, run, a hot swap) and the
converter (export, verify, inspect) alike, naming the key.

The count is convert/model.py's architecture, written out here because the agent cannot import torch
(tests/test_qa38_model_size.py checks it against the real models' state dicts, ensembles included).
"""
from __future__ import annotations

#: The sizes the count reads (and `members`, 1 when left out).
SIZE_KEYS = ("sensors", "steps", "d_model", "ff_hidden")
WEIGHTS_FILE = "model.pt"
FLOAT32_BYTES = 4
#: The fewest bytes per number any artifact of this converter spends: int8 weights take one byte each, and the
#: folded form (convert/fold.py) drops at most the temporal key and value projections (2·d² of at least 10·d²).
#: Half a byte leaves room for both: an honest bundle is never refused, one a thousand times too small is.
MIN_ARTIFACT_BYTES_PER_NUMBER = 0.5


def _whole(x: object) -> bool:
    return isinstance(x, int) and not isinstance(x, bool) and x >= 1


def state_numbers(section: dict) -> int | None:
    """The numbers model.pt holds for the section's sizes (parameters and the neighbour-mask buffer, every
    member); None when a size is missing or not a whole number ≥ 1 (convert's load_model says which)."""
    members = section.get("members", 1)
    if not all(_whole(section.get(k)) for k in SIZE_KEYS) or not _whole(members):
        return None
    n, context, d, ff = section["sensors"], section["steps"] - 1, section["d_model"], section["ff_hidden"]
    member = (2 * d                         # value and missing embeddings
              + n * d + context * d         # sensor and step embeddings
              + 2 * 4 * (d * d + d)         # temporal and spatial attention: q, k, v, out
              + 2 * 2 * d                   # their layer norms
              + 2 * d * d + d               # gate
              + d * ff + ff + ff + 1        # head: hidden, out
              + 1                           # prior scale
              + n * n)                      # neighbour mask (a buffer, saved with the weights)
    return members * member


def _figure(value: int, grouped: bool = True) -> str:
    """A count as a person reads it (100 008 800 374; a size as the manifest writes it, ungrouped: d_model 100000),
    or its magnitude when it is a 400-digit number."""
    if value >= 10 ** 15:
        return f"about 10^{len(str(value)) - 1}"
    return f"{value:,}".replace(",", " ") if grouped else str(value)


def _bytes(size: int) -> str:
    for unit, scale in (("TB", 10 ** 12), ("GB", 10 ** 9), ("MB", 10 ** 6)):
        if 10 ** 15 > size >= scale:
            return f"{size / scale:.0f} {unit}"
    return f"{_figure(size)} bytes"


def size_problems(section: dict, file_bytes: dict[str, int]) -> list[tuple[str, str]]:
    """('model', why) when the section's model cannot be what the bundle holds: more float32 numbers than
    model.pt has bytes for (`file_bytes`: every listed file's size by name), or, without model.pt, more
    numbers than the listed files could hold at MIN_ARTIFACT_BYTES_PER_NUMBER. Short enough to be shown whole
    (a problem is cut at ~200 characters)."""
    numbers = state_numbers(section)
    if numbers is None:
        return []
    sizes = ", ".join(f"{k} {_figure(section.get(k, 1), grouped=False)}"
                      for k in ("d_model", "ff_hidden", "sensors", "steps", "members"))
    made = f"sizes {sizes} make {_figure(numbers)} numbers"
    if WEIGHTS_FILE in file_bytes:
        held = file_bytes[WEIGHTS_FILE]
        if numbers * FLOAT32_BYTES > held:
            return [("model", f"{made} ({_bytes(numbers * FLOAT32_BYTES)} as float32); {WEIGHTS_FILE} holds "
                              f"{_bytes(held)}: not this bundle's model")]
        return []
    held = sum(file_bytes.values())
    if numbers * MIN_ARTIFACT_BYTES_PER_NUMBER > held:
        return [("model", f"{made}; the bundle's files hold {_bytes(held)} in all: not this bundle's model")]
    return []
