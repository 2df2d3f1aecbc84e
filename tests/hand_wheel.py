"""A pure-python wheel made by hand: what pip installs offline in a second into a venv made --without-pip, for the
install.sh tests (test_user3_install_python, test_install_python_upgrade) that need a package but no network."""
from __future__ import annotations

import base64
import hashlib
import zipfile
from pathlib import Path


def hand_wheel(out: Path, name: str, files: dict[str, bytes], entry_points: str = "") -> Path:
    """`name`-0.1-py3-none-any.whl in `out` holding `files` (paths inside the wheel), its metadata and RECORD;
    `entry_points`: the body of entry_points.txt (e.g. console scripts), none when empty."""
    info = f"{name}-0.1.dist-info"
    files = dict(files)
    files[f"{info}/METADATA"] = f"Metadata-Version: 2.1\nName: {name}\nVersion: 0.1\n".encode()
    files[f"{info}/WHEEL"] = b"Wheel-Version: 1.0\nGenerator: hand\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    if entry_points:
        files[f"{info}/entry_points.txt"] = entry_points.encode()
    record = []
    for path, data in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record.append(f"{path},sha256={digest},{len(data)}")
    record.append(f"{info}/RECORD,,")
    whl = out / f"{name}-0.1-py3-none-any.whl"
    with zipfile.ZipFile(whl, "w") as z:
        for path, data in files.items():
            z.writestr(path, data)
        z.writestr(f"{info}/RECORD", "\n".join(record) + "\n")
    return whl
