"""A package's submodule without running the package's `__init__` until something asks for a
name only the `__init__` defines — for the two packages whose `__init__` loads what the agent
never uses (measured on the demo, resident after the run):

- `numpy.random`: its `__init__` imports every bit generator and the legacy `RandomState` (mtrand,
  which also builds a global MT19937 at import), ~1 MiB. The simulator needs `default_rng` only:
  it lives in `numpy.random._generator`, which imports the PCG64 and SeedSequence it uses.
- `ai_edge_litert`: on Linux its `__init__` dlopens libLiteRt.so (8 MB, the runtime of LiteRT's
  CompiledModel API) into the global namespace, ~1.6 MiB. The tflite tier runs the classic
  `Interpreter`, whose wrapper links only libpywrap_litert_common.so.

How: the package's module object is made from its spec and put in `sys.modules` without running
its code, with a module `__getattr__` (PEP 562) that runs the `__init__` the first time a name the
module lacks is asked for (`np.random.default_rng`, `ai_edge_litert.__version__`, `from numpy.random
import RandomState`): whoever else uses the package in the process (a test, a plugin, convert's
parity run) gets the whole package, with the submodules loaded already as the same objects. A
package imported already, or one whose submodule does not import this way (another layout), is
a plain import.
"""
from __future__ import annotations

import importlib
import importlib.util
import sys
import threading
from types import ModuleType


def submodule(package: str, name: str) -> ModuleType:
    """`importlib.import_module(f"{package}.{name}")`, with `package`'s `__init__` (when it is not
    imported yet) deferred until a name only it defines is asked for."""
    full = f"{package}.{name}"
    if package in sys.modules:
        return importlib.import_module(full)
    spec = importlib.util.find_spec(package)
    if spec is None or spec.loader is None or spec.submodule_search_locations is None:
        return importlib.import_module(full)        # not a package: the plain import says why
    module = importlib.util.module_from_spec(spec)
    once = threading.Lock()

    def complete(attr: str):
        """The package's `__init__`, run on the first name the module lacks; then that name. Not
        for a submodule's name: `from package import submodule` asks `hasattr` before importing it."""
        if importlib.util.find_spec(f"{package}.{attr}") is not None:
            raise AttributeError(f"module {package!r} has no attribute {attr!r} (a submodule not imported yet)")
        with once:
            if module.__dict__.get("__getattr__") is complete:
                del module.__dict__["__getattr__"]
                spec.loader.exec_module(module)
        return getattr(module, attr)

    module.__getattr__ = complete                   # type: ignore[method-assign]
    sys.modules[package] = module
    parent, _, child = package.rpartition(".")
    if parent:
        setattr(sys.modules[parent], child, module)  # as the import system binds a loaded submodule
    try:
        return importlib.import_module(full)
    except ImportError:
        sys.modules.pop(package, None)              # it needs its __init__ after all
        if parent:
            delattr(sys.modules[parent], child)
        return importlib.import_module(full)
