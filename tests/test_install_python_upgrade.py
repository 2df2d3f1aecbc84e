"""systemd/install.sh after the gateway's Python changed under the installed venv: rebuilt, never reused broken.

A minor upgrade (Debian 12 -> 13: /usr/bin/python3 goes from 3.11 to 3.13) leaves the venv's bin/python following
the new python, which does not look in the venv's lib/python3.11: nothing installed is found and the unit fails at
every start. install.sh used to reuse any venv whose bin/python was executable. Now it says in one line why and
rebuilds the venv from scratch beside the old one ($VENV.new), moving it into place only once it is complete; a
patch-level change keeps the venv; a venv whose python does not start is rebuilt; a python older than pyproject's
requires-python is refused before anything is made.

Real interpreters, offline: a `python3` symlink in the test's directory plays /usr/bin/python3 and is pointed at
another installation between two installs (what apt does). The venvs are made --without-pip and filled by the
interpreter's own pip from a tiny hand-made wheel whose console script (made by pip, like the unit's
bin/stad-agent) prints the version and prefix it runs on. A test whose interpreters are not on this machine is
skipped and says which it needs.
"""
from __future__ import annotations

import glob
import json
import os
import shutil
import subprocess
from functools import lru_cache
from pathlib import Path

import pytest

from hand_wheel import hand_wheel

REPO = Path(__file__).resolve().parents[1]
INSTALL = REPO / "systemd" / "install.sh"
CANDIDATES = ("/usr/bin/python3.*", "/usr/local/bin/python3.*", "/root/.pyenv/versions/3.*/bin/python3.*",
              os.path.expanduser("~/.pyenv/versions/3.*/bin/python3.*"))


@lru_cache(maxsize=None)
def interpreters() -> tuple[tuple[tuple[int, int, int], str], ...]:
    """Every python3.X on this machine that runs and has a pip that can fill another venv (--python): version, path."""
    found = {}
    for pattern in CANDIDATES:
        for path in glob.glob(pattern):
            if not os.path.basename(path)[len("python3."):].isdigit() or not os.access(path, os.X_OK):
                continue
            real = os.path.realpath(path)
            res = subprocess.run([path, "-c", "import sys, pip; print(*sys.version_info[:3], pip.__version__)"],
                                 capture_output=True, text=True, timeout=60)
            if res.returncode != 0:
                continue
            major, minor, micro, pip_version = res.stdout.split()
            if tuple(int(x) for x in pip_version.split(".")[:2]) < (22, 3):   # pip --python
                continue
            found.setdefault(real, ((int(major), int(minor), int(micro)), path))
    return tuple(sorted(found.values()))


def two_minors() -> tuple[str, str]:
    """Two supported interpreters of different minor versions, older first."""
    by_minor = {v[:2]: p for v, p in interpreters() if v >= (3, 10, 0)}
    if len(by_minor) < 2:
        pytest.skip(f"needs two Pythons >=3.10 of different minor versions (found {sorted(by_minor)}): "
                    "e.g. pyenv install 3.12 3.13")
    older, newer = sorted(by_minor)[-2:]
    return by_minor[older], by_minor[newer]


def probe_wheel(out: Path) -> Path:
    """A pure-python wheel with a console script `u20probe` that prints the version and prefix it runs on."""
    return hand_wheel(out, "u20probe", {
        "u20probe/__init__.py": b"import json, sys\n\ndef main():\n"
                                b"    print(json.dumps({'version': list(sys.version_info[:3]), 'prefix': sys.prefix}))\n"},
        entry_points="[console_scripts]\nu20probe = u20probe:main\n")


def install(root: Path, python: str | Path, source: str | Path) -> subprocess.CompletedProcess:
    return subprocess.run(["sh", str(INSTALL), "--root", str(root), "--python", str(python), "--venv-args",
                           "--without-pip", "--source", str(source), "--pip-args", "--no-deps --no-index",
                           "--no-start"], capture_output=True, text=True, timeout=900)


def probe(venv: Path) -> dict:
    res = subprocess.run([str(venv / "bin" / "u20probe")], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    return json.loads(res.stdout)


def rebuild_lines(res: subprocess.CompletedProcess) -> list[str]:
    return [line for line in (res.stdout + res.stderr).splitlines() if "rebuilding the virtualenv" in line]


def point(link: Path, target: str) -> None:
    """What apt does to /usr/bin/python3."""
    link.parent.mkdir(parents=True, exist_ok=True)
    if link.is_symlink():
        link.unlink()
    link.symlink_to(target)


def version_of(python: str) -> str:
    return subprocess.run([python, "-c", "import sys; print('%d.%d.%d' % sys.version_info[:3])"],
                          capture_output=True, text=True, check=True, timeout=60).stdout.strip()


def installed_on(tmp_path: Path, python: str) -> tuple[Path, Path, Path, Path, subprocess.CompletedProcess]:
    """install.sh into tmp_path/root with a `python3` symlink (what apt points /usr/bin/python3 at) on `python`:
    (that python3, the root, the probe wheel, the venv, the install's result: it succeeded)."""
    python3 = tmp_path / "usr" / "bin" / "python3"
    root, whl = tmp_path / "root", probe_wheel(tmp_path)
    point(python3, python)
    first = install(root, python3, whl)
    assert first.returncode == 0, first.stdout + first.stderr
    return python3, root, whl, root / "opt" / "stad-edge" / "venv", first


def test_a_minor_upgrade_under_the_venv_rebuilds_it(tmp_path):
    older, newer = two_minors()
    python3, root, whl, venv, first = installed_on(tmp_path, older)
    assert f"creating the virtualenv {venv} (Python {version_of(older)})" in first.stdout, first.stdout
    assert probe(venv) == {"version": [int(x) for x in version_of(older).split(".")], "prefix": str(venv)}
    (venv / "stad-test-marker").write_text("the old venv\n")

    point(python3, newer)   # the distribution upgrade
    broken = subprocess.run([str(venv / "bin" / "u20probe")], capture_output=True, text=True, timeout=120)
    assert broken.returncode != 0 and "u20probe" in broken.stderr, "the old venv should be broken by the upgrade"

    second = install(root, python3, whl)
    assert second.returncode == 0, second.stdout + second.stderr
    old_minor, new_minor = version_of(older).rsplit(".", 1)[0], version_of(newer).rsplit(".", 1)[0]
    (line,) = rebuild_lines(second)
    assert f"made for Python {old_minor} and its python runs {new_minor}, but {python3} is {version_of(newer)}" in line
    assert not (venv / "stad-test-marker").exists(), "the venv was not rebuilt from scratch"
    assert probe(venv) == {"version": [int(x) for x in version_of(newer).split(".")], "prefix": str(venv)}
    assert sorted(p.name for p in (venv / "lib").iterdir()) == [f"python{new_minor}"]
    # The unit's ExecStart is such a script: it must name the venv where it now is, not where it was built.
    assert (venv / "bin" / "u20probe").read_text().splitlines()[0] == f"#!{venv}/bin/python"
    assert "venv.new" not in (venv / "pyvenv.cfg").read_text()
    assert sorted(p.name for p in venv.parent.iterdir()) == ["pycache", "venv"], "venv.new or venv.old left behind"
    tags = {p.name.split(".")[-3] for p in (venv.parent / "pycache").rglob("*.opt-2.pyc")}
    assert tags == {f"cpython-{new_minor.replace('.', '')}"}, tags

    third = install(root, python3, whl)   # nothing changed: the venv is kept
    assert third.returncode == 0 and not rebuild_lines(third), third.stdout + third.stderr
    assert "creating the virtualenv" not in third.stdout


def test_a_patch_level_change_keeps_the_venv(tmp_path):
    by_minor: dict[tuple[int, int], list[tuple[tuple[int, int, int], str]]] = {}
    for version, path in interpreters():
        if version >= (3, 10, 0):
            by_minor.setdefault(version[:2], []).append((version, path))
    pairs = [(vs[0][1], vs[-1][1]) for vs in by_minor.values() if vs[0][0] != vs[-1][0]]
    if not pairs:
        pytest.skip("needs two installations of one Python minor version with different patch levels "
                    "(e.g. Debian's /usr/bin/python3.11 and a pyenv 3.11.x)")
    older, newer = pairs[0]
    python3, root, whl, venv, first = installed_on(tmp_path, older)
    (venv / "stad-test-marker").write_text("the old venv\n")

    point(python3, newer)
    second = install(root, python3, whl)
    assert second.returncode == 0, second.stdout + second.stderr
    assert not rebuild_lines(second) and "creating the virtualenv" not in second.stdout, second.stdout
    assert (venv / "stad-test-marker").exists()
    assert probe(venv)["version"] == [int(x) for x in version_of(newer).split(".")]


@pytest.mark.parametrize("how", ["removed", "another architecture"])
def test_a_venv_whose_python_no_longer_starts_is_rebuilt(tmp_path, how):
    older, newer = two_minors()
    python_old = tmp_path / "usr" / "bin" / "python3.old"   # a venv made with --python /usr/bin/python3.11
    root, whl = tmp_path / "root", probe_wheel(tmp_path)
    venv = root / "opt" / "stad-edge" / "venv"
    point(python_old, older)
    assert install(root, python_old, whl).returncode == 0
    python_old.unlink()
    if how == "another architecture":   # an image copied from another machine: an ELF this kernel will not run
        python_old.write_bytes(b"\x7fELF\x02\x01\x01" + bytes(9) + b"\x02\x00\xb7\x00" + bytes(44))
        python_old.chmod(0o755)
        why = "Exec format error"
    else:                               # apt removed python3.11
        why = f"{venv}/bin/python leads to {python_old}, which is gone"

    res = install(root, newer, whl)
    assert res.returncode == 0, res.stdout + res.stderr
    (line,) = rebuild_lines(res)
    assert "its python does not start: " in line and why in line, line
    assert probe(venv) == {"version": [int(x) for x in version_of(newer).split(".")], "prefix": str(venv)}


def test_a_rebuild_that_fails_leaves_the_old_venv_as_it_was(tmp_path):
    """What the unit runs stays in place until the new venv is complete: a pip that fails changes nothing."""
    older, newer = two_minors()
    root, whl = tmp_path / "root", probe_wheel(tmp_path)
    venv = root / "opt" / "stad-edge" / "venv"
    assert install(root, older, whl).returncode == 0
    before = probe(venv)

    res = install(root, newer, tmp_path / "missing" / "u20probe-0.2-py3-none-any.whl")
    assert res.returncode != 0
    assert len(rebuild_lines(res)) == 1
    assert f"pip could not install {tmp_path}/missing/u20probe-0.2-py3-none-any.whl" in res.stderr, res.stderr
    assert f"{venv} is left as it was" in res.stderr
    assert probe(venv) == before
    assert sorted(p.name for p in venv.parent.iterdir()) == ["pycache", "venv"], "venv.new left behind"


def test_a_python_older_than_requires_python_is_refused_before_anything_is_made(tmp_path):
    old = [p for v, p in interpreters() if v < (3, 10, 0)]
    if not old:
        pytest.skip("needs a Python older than pyproject's requires-python (>=3.10), e.g. pyenv install 3.9")
    root = tmp_path / "root"
    res = install(root, old[0], REPO)
    assert res.returncode == 1
    assert res.stderr.strip().splitlines() == [
        f"install.sh: {old[0]} is Python {version_of(old[0])}; stad-edge needs Python >=3.10 (requires-python in "
        f"{REPO}/pyproject.toml): pass --python with a Python >=3.10; nothing was installed"]
    assert not (root / "opt").exists() and not (root / "etc").exists()


#: Where power can be lost in the swap (`mv venv venv.old; mv venv.new venv; rm -rf venv.old`), and what the next
#: install then finds: a venv.new of unknown state (pip may have been cut short too), the old venv wherever it is.
INTERRUPTED = {
    "between the two renames": ("venv.old", "venv.new"),
    "before the old one's removal": ("venv", "venv.old"),
    "a venv without its python beside both": ("venv", "venv.old", "venv.new"),
}


@pytest.mark.parametrize("state", INTERRUPTED, ids=list(INTERRUPTED))
def test_an_interrupted_swap_is_finished_by_the_next_install(tmp_path, state):
    """Whatever the swap left, the next install ends with one complete venv and nothing beside it. Before review31
    the test made only the third state (its docstring said the first), and in the second — the new venv complete
    and in place, so kept — venv.old (the old venv whole: hundreds of MB with onnxruntime and tflite) stayed for
    good: it was removed only on the way to a rebuild."""
    usable = [p for v, p in interpreters() if v >= (3, 10, 0)]
    if not usable:
        pytest.skip("needs a Python >=3.10 with pip >=22.3")
    root, whl = tmp_path / "root", probe_wheel(tmp_path)
    opt = root / "opt" / "stad-edge"
    if state == "before the old one's removal":
        assert install(root, usable[-1], whl).returncode == 0       # the new venv, complete, in place
    for name in INTERRUPTED[state]:
        (opt / name).mkdir(parents=True, exist_ok=True)
        (opt / name / "stad-test-marker").write_text(name)
    res = install(root, usable[-1], whl)
    assert res.returncode == 0, res.stdout + res.stderr
    if state == "between the two renames":
        assert f"creating the virtualenv {opt}/venv" in res.stdout and not rebuild_lines(res), res.stdout
    elif state == "before the old one's removal":
        assert not rebuild_lines(res) and "creating the virtualenv" not in res.stdout, res.stdout
    else:
        (line,) = rebuild_lines(res)
        assert f"its python does not start: there is no {opt}/venv/bin/python" in line, line
        assert not (opt / "venv" / "stad-test-marker").exists()
    assert probe(opt / "venv")["prefix"] == str(opt / "venv")
    assert sorted(p.name for p in opt.iterdir()) == ["pycache", "venv"]
