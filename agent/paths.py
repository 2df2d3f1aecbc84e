"""Path resolution shared by the config and the plugins (kept apart so plugins need not import the config)."""
from __future__ import annotations

from pathlib import Path


# `check-config --root DIR` (systemd/install.sh --root DIR): the config is checked as the staged tree will run it,
# every absolute path it names read under DIR. It read them on this machine, so a correct staged config naming
# /etc/credstore/… or /etc/stad-edge/… was reported as not passing (user31, user32). Set once, by check-config only.
_STAGED_ROOT: list[Path] = []


def read_under(root: str | Path) -> None:
    """Every absolute path a config names read under `root` from now on (check-config --root)."""
    _STAGED_ROOT[:] = [Path(root).resolve()]


def staged(path: Path) -> Path:
    """An absolute `path` as the staged tree holds it (under check-config's --root); else `path`."""
    if not _STAGED_ROOT or not path.is_absolute():
        return path
    root = _STAGED_ROOT[0]
    return path if path == root or root in path.parents else root / path.relative_to(path.anchor)


def resolve_against(path: str | Path, base_dir: str | Path) -> Path:
    """A path from a config: `~` expanded, relative paths taken from the config file's directory (absolute ones under
    check-config's --root, `staged`)."""
    p = Path(path).expanduser()
    return staged(p) if p.is_absolute() else Path(base_dir) / p
