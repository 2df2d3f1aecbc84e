"""The unit's `python -OO` bytecode, built at install: the service compiles nothing at start, never runs stale code.

The unit runs the agent with PYTHONOPTIMIZE=2, PYTHONDONTWRITEBYTECODE=1 and PYTHONPYCACHEPREFIX=/opt/stad-edge/pycache,
read-only to it (ProtectSystem=strict). systemd/install.sh fills that prefix with the .opt-2.pyc of what the agent
imports, the standard library's modules included (all of the venv's sys.path before suite12): Debian's python3 ships
none for -OO, so without them those modules compiled from source at every start (+0.4 s; docs/measured/speed.md,
user19). Checked with real processes:
install.sh into a temporary root, then the installed unit's ExecStart line run directly with the installed unit's
`Environment=` (its paths moved into the root), a NOTIFY_SOCKET and PYTHONVERBOSE=1, whose "code object from" lines
say where each module's code came from (a quoted .pyc, or a source path when it was compiled).

- READY=1 arrives and a SIGTERM stops it cleanly, and no module was compiled from source on the way: every one came
  from the prefix, the agent's and the standard library's among them.
- A source changed after the install (what an apt upgrade of python3 does to the standard library) is compiled
  from its new source at the next start, never run from the old bytecode; the next install.sh rebuilds the prefix
  and the start compiles nothing again.
- --uninstall removes the prefix with /opt/stad-edge (tests/test_install.py).

Offline and quick: the venv is made first, --without-pip, with a .pth naming a directory of hard links to this
interpreter's numpy and PyYAML (all `stad-agent run` of a numpy-scorer config needs; compileall does not follow
symlinked directories); install.sh reuses that venv, installs the checkout's wheel --no-deps --no-index and compiles
what the agent imports, those included, into the root's prefix (nothing is written beside the linked
files). Nothing is written into the linked files either: the changed source is the installed agent's own copy.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

import yaml

from conftest import checkout_wheel, demo_dict
from installed_unit import PY, install, offline_venv, start_and_stop

UPGRADE_MARK = "stad-test: the upgraded source ran"


def test_the_unit_reads_the_installs_bytecode_and_never_stale_code(tmp_path):
    wheel = checkout_wheel()
    root = tmp_path / "root"
    venv = root / "opt/stad-edge/venv"
    deps = tmp_path / "deps"
    offline_venv(venv, deps)
    config = tmp_path / "agent.yaml"
    cfg = demo_dict(tmp_path / "state", chain=["numpy"], bundle=None)
    cfg["sources"][0]["speed"] = 0
    cfg["warmup"]["ticks"] = 300
    config.write_text(yaml.safe_dump(cfg))
    install(root, wheel, config)
    pycache = root / "opt/stad-edge/pycache"

    compiled, read, _ = start_and_stop(root, tmp_path / "first.log")
    assert compiled == [], f"{len(compiled)} modules compiled at start: {compiled[:10]}"
    assert all(p.startswith(f"{pycache}/") and p.endswith(".opt-2.pyc") for p in read), read[:10]
    names = {Path(p).name for p in read}
    assert f"pipeline.cpython-{sys.version_info.major}{sys.version_info.minor}.opt-2.pyc" in names   # the agent's
    assert any(p.endswith(f"/json/decoder.cpython-{sys.version_info.major}{sys.version_info.minor}.opt-2.pyc")
               for p in read)                                                                     # the stdlib's
    assert any(f"{deps}/numpy/" in p for p in read)                                               # a .pth's

    # An upgrade changes a source under the bytecode (its mtime and size): the new source runs, compiled at start.
    source = venv / "lib" / PY / "site-packages" / "agent" / "__init__.py"
    source.write_text(source.read_text() + f"\nimport sys as _sys\n_sys.stderr.write({UPGRADE_MARK!r} + '\\n')\n")
    compiled, _, text = start_and_stop(root, tmp_path / "changed.log")
    assert compiled == [str(source)], compiled
    assert UPGRADE_MARK in text

    # The next install rebuilds the prefix: nothing compiled at start again, the new code still the one that runs.
    install(root, wheel, config)
    compiled, _, text = start_and_stop(root, tmp_path / "reinstalled.log")
    assert compiled == [], compiled[:10]
    assert UPGRADE_MARK in text
    assert not (root / "opt/stad-edge/pycache.new").exists() and not (root / "opt/stad-edge/pycache.old").exists()


def _pycs(pycache: Path) -> dict[Path, int]:
    """Each .pyc under the prefix, by its path, to its inode: a file compileall rewrote is a new inode."""
    return {p: p.stat().st_ino for p in pycache.rglob("*.pyc")}


def test_a_rerun_compiles_only_what_changed_and_another_interpreter_starts_from_scratch(tmp_path):
    """user22: install.sh's re-run with the same interpreter reuses the prefix's bytecode (hard links to it, in a
    prefix still built whole beside the old one) and compiles only the sources changed since; a module gone loses its
    .pyc; an interpreter that is not the one recorded in the prefix's .interpreter gets every module compiled anew."""
    wheel = checkout_wheel()
    root = tmp_path / "root"
    venv = root / "opt/stad-edge/venv"
    offline_venv(venv, tmp_path / "deps")
    config = tmp_path / "agent.yaml"
    config.write_text(yaml.safe_dump(demo_dict(tmp_path / "state", chain=["numpy"], bundle=None)))
    install(root, wheel, config)
    pycache = root / "opt/stad-edge/pycache"
    first = _pycs(pycache)
    recorded = (pycache / ".interpreter").read_text()
    tag = sys.implementation.cache_tag
    assert f"\n{os.path.realpath(sys.executable)}\n" in recorded and f"\n{tag}\n" in recorded, recorded
    site = venv / "lib" / PY / "site-packages"
    changed = site / "agent" / "__init__.py"
    # Under a PYTHONPYCACHEPREFIX a source's .pyc is the prefix + the source's directory + its name (no __pycache__).
    changed_pyc = pycache / str(changed.parent).lstrip("/") / f"__init__.{tag}.opt-2.pyc"
    kept_pyc = pycache / str(site).lstrip("/") / "agent" / f"pipeline.{tag}.opt-2.pyc"
    assert changed_pyc in first and kept_pyc in first, sorted(first)[:5]
    # What an upgrade does to the venv: one source rewritten (a new mtime: the clock's second may not have turned
    # since the install, so it is set one second on), one module removed; and a stray .pyc of another cache tag.
    changed.write_text(changed.read_text() + "\n# upgraded\n")
    st = changed.stat()
    os.utime(changed, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
    gone = site / "agent" / "config_doc.py"
    gone_pyc = gone.parent.relative_to("/") / f"config_doc.{tag}.opt-2.pyc"
    assert pycache / gone_pyc in first
    gone.unlink()
    stray = kept_pyc.with_name("pipeline.cpython-10.opt-2.pyc")
    stray.write_bytes(b"")

    install(root, wheel, config)
    second = _pycs(pycache)
    assert changed_pyc in second and second[changed_pyc] != first[changed_pyc]        # compiled anew
    assert pycache / gone_pyc not in second and stray not in second                   # pruned
    kept = [p for p in second if first.get(p) == second[p]]
    assert len(kept) == len(second) - 1, [p for p in second if first.get(p) != second[p]][:10]
    assert (pycache / ".interpreter").read_text() == recorded
    assert not (root / "opt/stad-edge/pycache.new").exists() and not (root / "opt/stad-edge/pycache.old").exists()

    # Another interpreter's build (what apt upgrading python3.11 in place changes: sys.version's build date): nothing
    # of the prefix is reused, even though every header would still match its source.
    (pycache / ".interpreter").write_text(recorded.replace(sys.version.replace("\n", " "), "3.11.0 (another build)"))
    install(root, wheel, config)
    third = _pycs(pycache)
    assert set(third) == set(second)
    assert not any(third[p] == second[p] for p in third)
    assert (pycache / ".interpreter").read_text() == recorded
