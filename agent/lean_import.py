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

`deferred` does the same for a plain module that is imported only for one function the agent
never calls: numpy.random's bit_generator runs `from secrets import randbits` at import (for
SeedSequence's entropy when no seed is given; the simulator always gives one), and `secrets`
imports random, hmac and hashlib with its builtin hashes, ~0.35 MiB resident after the demo's
run (perf44). The stand-in `randbits` runs the module's code on its first call, then calls the
real function; any other name asked for runs it too.
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


def deferred(name: str, *functions: str) -> ModuleType:
    """Module `name` (not a package), its code not run until it is needed: each of `functions` is
    a stand-in that runs the module's code (which replaces the stand-ins with the real functions)
    and calls the real one; a name the module lacks runs it too. Imported already, or not a plain
    module: the plain import."""
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.find_spec(name)
    if spec is None or spec.loader is None or spec.submodule_search_locations is not None:
        return importlib.import_module(name)
    module = importlib.util.module_from_spec(spec)
    once = threading.Lock()

    def complete() -> None:
        with once:
            if module.__dict__.get("__getattr__") is missing:
                del module.__dict__["__getattr__"]
                spec.loader.exec_module(module)

    def missing(attr: str):
        complete()
        return getattr(module, attr)

    def stand_in(function: str):
        def call(*args, **kwargs):
            complete()
            return getattr(module, function)(*args, **kwargs)
        call.__name__ = call.__qualname__ = function
        return call

    for function in functions:
        setattr(module, function, stand_in(function))
    module.__getattr__ = missing                    # type: ignore[method-assign]
    sys.modules[name] = module
    return module
