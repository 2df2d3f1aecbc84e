"""SHA-256 without OpenSSL, and imports that would otherwise load it.

`import hashlib` loads OpenSSL's libcrypto (~3.5 MiB resident, measured on the demo) even to
hash a few kilobytes. The agent hashes checkpoints, bundle files and its config fingerprint:
CPython's own SHA-256 (`_sha2` from 3.12, `_sha256` before) gives the same digests without it,
a little slower (~0.4 GB/s here; a bundle of a few hundred kB takes a millisecond). A build
without the builtin falls back to hashlib.

numpy.random imports `secrets`, which imports hashlib through hmac: `without_openssl` runs such an
import with hashlib's OpenSSL backend hidden, so hashlib takes its documented fallback,
the builtin hashes (same results). Once hashlib is loaded with OpenSSL it stays so (a test
process, a plugin that needed it): then this changes nothing.
"""
from __future__ import annotations

import sys
from typing import Callable, TypeVar

try:
    from _sha2 import sha256          # CPython >= 3.12
except ImportError:                    # pragma: no cover - depends on the Python version
    try:
        from _sha256 import sha256     # CPython <= 3.11
    except ImportError:                # a build without the builtin hashes
        from hashlib import sha256

__all__ = ["sha256", "without_openssl"]

T = TypeVar("T")


def without_openssl(load: Callable[[], T]) -> T:
    """`load()` (an import), with hashlib (if it is not loaded yet) using the builtin hashes
    instead of OpenSSL."""
    if "hashlib" in sys.modules or "_hashlib" in sys.modules:
        return load()
    sys.modules["_hashlib"] = None      # type: ignore[assignment]  # "not importable": hashlib falls back
    try:
        return load()
    finally:
        del sys.modules["_hashlib"]
