"""systemd/install.sh run again with a new release's wheel installs that release (user39).

Every build of stad-edge is version 0.1.0, and pip keeps an installed distribution whose version a wheel's matches
("already installed with the same version as the provided wheel", silenced by --quiet; from an index or
--find-links "already satisfied"): a fleet operator re-running the script with this week's wheel on a gateway kept
last week's code in the venv, and the script said "installed". The script now compares the wheel's RECORD with the
installed one and installs the package alone over a different build; the same build again stays a no-op.

Two hand-made wheels of one name and version, differing in one file (as two releases of this project do), into a
venv made --without-pip: no network, seconds.
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import yaml

from conftest import checkout_wheel, linked_deps
from hand_wheel import hand_wheel

REPO = Path(__file__).resolve().parents[1]
INSTALL = REPO / "systemd" / "install.sh"


def release(out: Path, which: str) -> Path:
    """A wheel `stad_edge` 0.1 whose module says which release it is, in a folder of its own."""
    out.mkdir()
    return hand_wheel(out, "stad_edge", {"user39probe/__init__.py": f"RELEASE = {which!r}\n".encode()})


def run_install(root: Path, source: str, *pip_args: str, config: Path | None = None,
                cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(["sh", str(INSTALL), "--root", str(root), "--python", sys.executable, "--venv-args",
                           "--without-pip", "--source", source, "--extras", "", "--no-start",
                           *(["--config", str(config)] if config else []),
                           "--pip-args", " ".join(["--no-deps", "--no-index", *pip_args])],
                          capture_output=True, text=True, timeout=600, cwd=cwd)


def install(root: Path, source: str, *pip_args: str, config: Path | None = None, cwd: Path | None = None) -> str:
    res = run_install(root, source, *pip_args, config=config, cwd=cwd)
    assert res.returncode == 0, res.stdout + res.stderr
    return res.stdout + res.stderr


def installed(root: Path) -> str:
    [probe] = (root / "opt/stad-edge/venv/lib").glob("python3*/site-packages/user39probe/__init__.py")
    return probe.read_text()


def test_a_new_release_under_the_same_version_is_installed_and_the_same_one_again_is_a_no_op(tmp_path):
    root = tmp_path / "root"
    old, new = release(tmp_path / "old", "old"), release(tmp_path / "new", "new")
    install(root, str(old))
    assert installed(root) == "RELEASE = 'old'\n"

    said = install(root, str(new))                  # the upgrade: on the code before, the old release stayed
    assert installed(root) == "RELEASE = 'new'\n", said
    assert f"the venv held another build of {new.name} under the same version: installing this one over it" in said

    [probe] = (root / "opt/stad-edge/venv/lib").glob("python3*/site-packages/user39probe/__init__.py")
    before = probe.stat().st_mtime_ns
    said = install(root, str(new))                  # the same release again: nothing installed over it
    assert "held another build" not in said and probe.stat().st_mtime_ns == before

    install(root, str(old))                         # a rollback is an install like the upgrade
    assert installed(root) == "RELEASE = 'old'\n"


def test_run_from_a_checkout_with_an_editable_installs_egg_info_the_same_release_is_still_a_no_op(tmp_path):
    """README's quick start runs `pip install -e .` in the checkout, which leaves stad_edge.egg-info there; install.sh
    is then run from that checkout. Its `python -c` checks found that egg-info first (the working directory leads
    sys.path) — no RECORD, so every re-run installed over the venv, and a fresh venv counted as holding a release
    (ci88: four install tests failed on a fresh clone, none in a worktree without the egg-info)."""
    root, checkout = tmp_path / "root", tmp_path / "checkout"
    (checkout / "stad_edge.egg-info").mkdir(parents=True)
    (checkout / "stad_edge.egg-info" / "PKG-INFO").write_text("Metadata-Version: 2.1\nName: stad-edge\nVersion: 0.1.0\n")
    new = release(tmp_path / "new", "new")
    install(root, str(new), cwd=checkout)
    [probe] = (root / "opt/stad-edge/venv/lib").glob("python3*/site-packages/user39probe/__init__.py")
    before = probe.stat().st_mtime_ns
    said = install(root, str(new), cwd=checkout)
    assert "held another build" not in said and probe.stat().st_mtime_ns == before, said


def test_a_release_from_find_links_by_name_is_installed_too(tmp_path):
    """An offline gateway's form (`--source stad-edge --pip-args "--no-index --find-links /media/wheels"`)."""
    root = tmp_path / "root"
    old, new = release(tmp_path / "old", "old"), release(tmp_path / "new", "new")
    install(root, "stad_edge", "--find-links", str(old.parent))
    said = install(root, "stad_edge", "--find-links", str(new.parent))
    assert installed(root) == "RELEASE = 'new'\n", said


def test_a_release_that_refuses_the_installed_config_is_not_installed(tmp_path):
    """An upgrade (or a rollback) to a release that refuses the gateway's config — here a key it does not know, as a
    release before that key refuses it — installs nothing: on 740108ec the script put the release in the venv, then
    said its check failed, and the next restart of the service ran a release that exits 2 on its config."""
    root = tmp_path / "root"
    config = tmp_path / "agent.yaml"
    config.write_text(yaml.safe_dump({
        "node": {"id": "gw-07", "site": "lab"}, "tick_s": 1, "sensors": ["a", "b"], "sources": [{"type": "stdin"}],
        "window": {"steps": 8}, "warmup": {"ticks": 16}, "scoring": {"chain": ["numpy"]},
        "alerts": {"clear_ticks": 4, "not_this_releases_key": 1}, "sinks": [], "state_dir": "/var/lib/stad-edge"}))
    install(root, str(release(tmp_path / "old", "old")), config=config)     # what ran before (it took the key)
    [site] = (root / "opt/stad-edge/venv/lib").glob("python3*/site-packages")
    (site / "zz_test_deps.pth").write_text(f"{linked_deps(tmp_path / 'deps')}\n")
    agent_yaml = root / "etc/stad-edge/agent.yaml"

    refused = run_install(root, str(checkout_wheel()))
    said = refused.stdout + refused.stderr
    assert refused.returncode == 1, said
    assert f"{agent_yaml}: alerts.not_this_releases_key: unknown key" in said
    assert f"refuses {agent_yaml} (above): nothing was installed" in said
    assert installed(root) == "RELEASE = 'old'\n" and not (site / "agent").exists()

    doc = yaml.safe_load(agent_yaml.read_text())
    del doc["alerts"]["not_this_releases_key"]          # the config fixed for it: installed
    agent_yaml.write_text(yaml.safe_dump(doc))
    said = install(root, str(checkout_wheel()))
    assert (site / "agent" / "build_id.py").exists() and "passes check-config" in said, said
