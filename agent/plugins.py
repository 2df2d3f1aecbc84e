"""Plugins found in their package, not in hand-kept tables.

A source, sink or model runtime is one module of its package (agent/sources, agent/sinks,
agent/scorers) that declares `PLUGIN = Plugin(config=<its config dataclass>, create=<factory>)`.
The config dataclass carries the plugin's `type` key as `TYPE` and is what the YAML entry is
built into; `create` builds the working part from that config. Adding a plugin is adding one
such file: agent/config.py builds a `sources[]` / `sinks[]` entry into the config class its `type`
names, and the `scoring` runtime sections, from what is found here.

The `type` key is the module's name (agent/sources/<type>.py; `discover` refuses a plugin whose
TYPE is not), so `find` imports the one module a config entry names and no other: a gateway's
start loads the plugins its config uses, not the ~0.5 MiB of code of every source and sink it
could have used (perf64; issue 16). `discover` imports every module of the package: for what needs
the whole list (an unknown type's "must be one of", the config reference, the runtimes' default
chain, the contract tests).

A plugin module that cannot be imported (a third party's file whose library is not installed, a file cut short by
a copy) is a config problem, not a traceback: `find` raises PluginUnusable, which the config reports on the entry's
`type` key path like any other bad value, and `discover` leaves it out of the list and keeps why (`unusable`), so an
unknown type's "must be one of" says which module is there but broken (qa36).

A plugin module must import its optional third-party dependency (paho, pymodbus, onnxruntime,
ai-edge-litert) lazily, inside the code that uses it: the config must load, and `check-config`
must answer, on a gateway without it. An ImportError then surfaces from `create`, where the
caller turns it into one line ("not available: install ...").
"""
from __future__ import annotations

import importlib
import importlib.util
import pkgutil
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Callable


@dataclass(frozen=True)
class Plugin:
    """What a plugin module declares as its `PLUGIN`."""
    config: type          # a dataclass with a ClassVar TYPE: the `type:` key in the YAML
    create: Callable[..., Any]
    #: runtimes only: position in the default scoring chain (lower is tried first)
    rank: int = 0
    #: imports the plugin's optional library, raising ImportError when it is not usable here; without one,
    #: `import_library` is the probe. One that imports more than its library names its modules from
    #: `libraries` (the one place they are declared: agent/scorers/tflite.py)
    probe: Callable[[], Any] | None = None
    #: the top-level modules its optional library may come as, in the order tried (any one will do):
    #: `installed` finds them, `import_library` imports them
    libraries: tuple[str, ...] = ()

    @property
    def type(self) -> str:
        return self.config.TYPE

    def available(self) -> bool:
        """Whether the plugin's optional library imports here (always, for one without)."""
        if self.probe is None and not self.libraries:
            return True
        try:
            (self.probe or self.import_library)()
        except ImportError:
            return False
        return True

    def installed(self) -> bool:
        """Whether one of `libraries` is installed here, found without importing it (importlib.util.find_spec
        reads the import path only): a standby tier's check at start, whose runtime is imported only when the
        chain needs it (agent/scorers/standby.py). Installed but broken is said when it is imported."""
        return not self.libraries or any(importlib.util.find_spec(m) is not None for m in self.libraries)

    def import_library(self):
        """The first of `libraries` that imports here (the module); the last one's ImportError when none does."""
        error: ImportError | None = None
        for name in self.libraries:
            try:
                return importlib.import_module(name)
            except ImportError as exc:
                error = exc
        raise error if error is not None else ImportError(f"{self.type}: no library declared")


class PluginUnusable(Exception):
    """A plugin module of the package that is there but cannot be imported; says which file and why."""


def _imported(name: str):
    """importlib.import_module(name), any failure to import said as PluginUnusable (the file, the error)."""
    try:
        return importlib.import_module(name)
    except Exception as exc:        # noqa: BLE001 — whatever a broken file raises at import (SyntaxError too)
        where = name.replace(".", "/") + ".py"
        raise PluginUnusable(f"{where} cannot be imported ({type(exc).__name__}: {str(exc)[:200]})") from exc


def _declared(module) -> Plugin | None:
    """The module's PLUGIN, checked: a Plugin whose type is the module's own name."""
    plugin = getattr(module, "PLUGIN", None)
    if plugin is None:
        return None
    if not isinstance(plugin, Plugin):
        raise TypeError(f"{module.__name__}.PLUGIN is not a Plugin")
    if plugin.type != module.__name__.rpartition(".")[2]:
        raise TypeError(f"{module.__name__}: PLUGIN's type {plugin.type!r} is not the module's name "
                        "(a config's `type` names the one module to import)")
    return plugin


@lru_cache(maxsize=None)
def find(package: str, type_key: str) -> Plugin | None:
    """The plugin of `package` whose type is `type_key`, importing that one module only; None when no
    module of the package by that name declares PLUGIN (the caller lists `discover`'s types then)."""
    if not type_key.isidentifier() or type_key.startswith("_"):
        return None
    name = f"{package}.{type_key}"
    if importlib.util.find_spec(name) is None:
        return None
    return _declared(_imported(name))


#: package → module name → why it cannot be imported: what `discover` left out of its last scan of the package
_UNUSABLE: dict[str, dict[str, str]] = {}


@lru_cache(maxsize=None)
def discover(package: str) -> dict[str, Plugin]:
    """type key → Plugin for every module of `package` that declares PLUGIN, in (rank, name) order; the modules
    that cannot be imported are left out (`unusable` says why)."""
    pkg = importlib.import_module(package)
    found: dict[str, Plugin] = {}
    broken = _UNUSABLE[package] = {}
    for info in sorted(pkgutil.iter_modules(pkg.__path__), key=lambda m: m.name):
        try:
            plugin = _declared(_imported(f"{package}.{info.name}"))
        except PluginUnusable as exc:
            broken[info.name] = str(exc)
            continue
        if plugin is not None:
            found[plugin.type] = plugin
    return dict(sorted(found.items(), key=lambda kv: (kv[1].rank, kv[0])))


def unusable(package: str) -> dict[str, str]:
    """module name → why it cannot be imported, for every module of `package` that `discover` left out so."""
    discover(package)
    return dict(_UNUSABLE.get(package, {}))


__all__ = ["Plugin", "PluginUnusable", "discover", "find", "unusable"]
