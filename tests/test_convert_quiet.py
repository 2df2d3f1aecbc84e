"""Third-party noise during export is routed to DEBUG logging; real warnings still show (convert/quiet.py).

The lines below are what torch 2.13, torchao, litert-torch, TensorFlow's converter and
ai-edge-quantizer printed during one `stad-convert train` before this routing existed."""
from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

from convert.quiet import route

REPO = Path(__file__).resolve().parent.parent

NOISE = """\
WARNING: All log messages before absl::InitializeLog() is called are written to STDERR
I0000 00:00:1796038349.469678   11910 port.cc:153] oneDNN custom operations are on. You may see slightly different numerical results due to floating-point round-off errors from different computation orders.
WARNING:torchao:Failed to load /venv/lib/python3.11/site-packages/torchao/_C_mxfp8.cpython-310-x86_64-linux-gnu.so: Could not load this library
Failed to load /venv/lib/python3.11/site-packages/torchao/_C_cutlass_90a.abi3.so: Could not load this library
WARNING:torchao.kernel.intmm:Warning: Detected no triton, on systems without Triton certain kernels will not work
W1130 11:32:33.882000 11910 torch/utils/_pytree.py:630] <enum 'KernelPreference'> is an Enum subclass and is now natively supported by torch.compile as an opaque value type.
/usr/lib/python3.11/copyreg.py:105: FutureWarning: `isinstance(treespec, LeafSpec)` is deprecated, use `isinstance(treespec, TreeSpec) and treespec.is_leaf()` instead.
  return cls.__new__(cls, *args)
I0000 00:00:1796038369.577277   11910 flatbuffer_export.cc:4410] Estimated count of arithmetic ops: 2.891 M  ops, equivalently 1.446 M  MACs
Generating Quantization Parameters::   0%|          | 0/105 [00:00<?, ?it/s]\rGenerating Quantization Parameters:: 100%|##########| 105/105 [00:00<00:00, 2261.32it/s]
Applying Transformations to tensors::   0%|          | 0/168 [00:00<?, ?it/s]\rApplying Transformations to tensors:: 100%|##########| 168/168 [00:00<00:00, 12251.25it/s]
Original model size: 87.99 KiB
Quantized model size: 60.88 KiB
Quantization Ratio: 0.69 (1.4x smaller)
Total time: 100.52 ms
INFO: Created TensorFlow Lite XNNPACK delegate for CPU.
WARNING:root:Your model is converted in training mode. Please set the module in evaluation mode with `module.eval()` for better on-device performance and compatibility.
I0000 00:00:1796038397.196346   11910 status_scoped_diagnostic_handler.cc:61] convert/model.py:135:0: warning: Missing quantization parameter on the output might introduce quantization error!

"""
REAL = """\
/venv/lib/python3.11/site-packages/onnx/helper.py:12: UserWarning: opset 99 is not supported
  warnings.warn(msg)
E0000 00:00:1796038397.2 11910 converter.cc:1] failed to legalize operation 'tfl.foo'
"""


def test_known_noise_goes_to_debug_and_real_warnings_stay(caplog):
    with caplog.at_level(logging.DEBUG, logger="stad.convert.thirdparty"):
        shown = route(NOISE + REAL)
    assert shown == REAL        # a warning we do not know, its source line, and a C++ error: all kept
    debug = [r.getMessage() for r in caplog.records if r.levelno == logging.DEBUG]
    assert len(debug) == 20 and "converted in training mode" in debug[-2]


def test_capture_covers_print_logging_warnings_and_the_descriptors():
    """In a process of its own, as stad-convert runs: sys.stdout/stderr are the real descriptors."""
    script = """
import logging, os, sys, warnings
from convert.quiet import third_party_output
print("before", file=sys.stderr, flush=True)
with third_party_output():
    os.write(2, b"INFO: Created TensorFlow Lite XNNPACK delegate for CPU.\\n")
    os.write(1, b"Original model size: 87.99 KiB\\n")
    print("Quantization Ratio: 0.69 (1.4x smaller)")
    logging.warning("Your model is converted in training mode. Please set ...")
    warnings.warn("a real problem")
print("after", file=sys.stderr)
"""
    proc = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": str(REPO)})
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == ""
    lines = proc.stderr.splitlines()
    assert lines[0] == "before" and lines[-1] == "after"
    assert lines[1:-1] == ["<string>:10: UserWarning: a real problem"]     # no source line for -c code


def test_verbose_shows_the_noise():
    script = """
import os
from convert.cli import _setup_logging
from convert.quiet import third_party_output
_setup_logging(verbose=True)
with third_party_output():
    os.write(2, b"INFO: Created TensorFlow Lite XNNPACK delegate for CPU.\\n")
"""
    proc = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": str(REPO)})
    assert proc.returncode == 0 and proc.stderr == "INFO: Created TensorFlow Lite XNNPACK delegate for CPU.\n"
