"""Third-party noise during export, routed through logging instead of printed.

Exporting one bundle runs torch.export, torchao's PT2E quantizer, litert-torch, TensorFlow's MLIR
converter, ai-edge-quantizer and a LiteRT interpreter. Between them they print about thirty lines
that say nothing about this run — C++ INFO lines, CUDA kernels a CPU machine cannot load, a
deprecation inside torch's own pickling, progress bars of sub-second steps, and litert-torch's
"converted in training mode" (a false alarm here: every graph is traced from `model.eval()`, and
litert-torch looks at the `training` flag an exported GraphModule always carries). They come from
Python logging, `warnings`, `print` and C++ writing straight to file descriptors 1 and 2, so only
capturing the descriptors catches them all.

`third_party_output()` captures fds 1 and 2 around one third-party step. Afterwards each line
that matches a known pattern (NOISE, each with why it is noise) becomes a DEBUG record of the
`stad.convert.thirdparty` logger — `stad-convert ... --verbose` shows them — and every other line,
a real warning or error, is written to stderr as it was.
"""
from __future__ import annotations

import contextlib
import logging
import os
import re
import sys
import tempfile

log = logging.getLogger("stad.convert.thirdparty")

#: Lines known to say nothing about the run, matched at the start of the line.
NOISE = [re.compile(p) for p in (
    r"WARNING: All log messages before absl::InitializeLog\(\) is called",   # absl, before the first C++ log
    r"I\d{4} [\d:.]+ +\d+ \S+\] ",                           # C++ INFO (glog format): oneDNN, op counts, MLIR remarks
    r"INFO: ",                                          # LiteRT's interpreter: "Created ... XNNPACK delegate"
    r"(WARNING:torchao:)?Failed to load \S*torchao/_C", # torchao's CUDA kernels, on a CPU-only machine
    r"(WARNING:torchao\S*:)?(Warning: )?Detected no triton",
    r"W\d{4} .*\] <enum '\w+'> is an Enum subclass and is now natively supported",   # torch _pytree, inside torchao
    r".*FutureWarning: `isinstance\(treespec, LeafSpec\)` is deprecated",            # torch, unpickling its own specs
    r"(WARNING:root:)?Your model (\"\w+\" )?is converted in training mode",          # see the module docstring
    r"\s*(Generating Quantization Parameters|Applying Transformations to tensors)::",  # ai-edge-quantizer's bars
    r"(Original model size|Quantized model size|Quantization Ratio|Total time): ",   # its summary (the bundle has sizes)
)]


def is_noise(line: str) -> bool:
    return any(p.match(line) for p in NOISE)


def route(text: str) -> str:
    """Log the noise in `text` at DEBUG; return the rest, line for line, to be shown.

    An indented line after a noise line (the source line `warnings` prints under its message)
    belongs to it; blank lines are dropped."""
    shown, after_noise = [], False
    for line in re.split(r"\r\n|\r|\n", text):
        if not line.strip():
            continue
        if is_noise(line) or (after_noise and line[:1].isspace()):
            log.debug("%s", line.rstrip())
            after_noise = True
        else:
            shown.append(line)
            after_noise = False
    return "".join(f"{line}\n" for line in shown)


@contextlib.contextmanager
def third_party_output():
    """Capture fds 1 and 2 for one third-party step, then route what was written (see `route`)."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = {fd: os.dup(fd) for fd in (1, 2)}
    with tempfile.TemporaryFile() as captured:
        for fd in saved:
            os.dup2(captured.fileno(), fd)
        try:
            yield
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            for fd, copy in saved.items():
                os.dup2(copy, fd)
                os.close(copy)
            captured.seek(0)
            rest = route(captured.read().decode("utf-8", "replace"))
            if rest:
                sys.stderr.write(rest)
                sys.stderr.flush()
