"""Path resolution shared by the config and the plugins (kept apart so plugins need not import the config)."""
from __future__ import annotations

from pathlib import Path


def resolve_against(path: str | Path, base_dir: str | Path) -> Path:
    """A path from a config: `~` expanded, relative paths taken from the config file's directory."""
    p = Path(path).expanduser()
    return p if p.is_absolute() else Path(base_dir) / p
