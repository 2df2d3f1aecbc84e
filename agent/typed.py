"""Build typed dataclasses from plain YAML data, collecting every problem with its key path.

Supported field types: bool, int, float, str, Literal[...], Optional[X], list[X],
dict[str, X], nested dataclasses, and plugin choices (a `PluginChoice`: one of a package's
plugin config dataclasses, chosen by the entry's `type` key and found only when named).
Range checks come from `field(metadata={"min": .., "max": ..})` (see `rng`); each field's
explanation from `metadata["doc"]` (see `doc`). Unknown keys are always an error; so is a float
that is NaN or infinite.

Each wrong value is reported once: a field that failed is passed on as INVALID, which
cross-field checks (`validate()`) cannot compare, so they do not report it again in other words.
Values in messages are shortened (an alias bomb must not print megabytes).
"""
from __future__ import annotations

import dataclasses
import math
import types
import typing
from typing import Any, Literal, Union, get_args, get_origin

from .plugins import PluginUnusable
from .records import short_repr, shorten


class ConfigError(Exception):
    """Every problem found in one config, each as 'path: message'."""

    def __init__(self, source: str, problems: list[str]):
        self.source = source
        self.problems = problems
        super().__init__("\n".join(f"{source}: {p}" for p in problems))


class PluginChoice:
    """A field type: the config dataclass that the value's `type` key names, one of a package's plugins.
    A subclass says how to find one (`find(tag)`: the dataclass whose TYPE is `tag`, importing only its
    module; None when there is none) and every one (`every()`: all of them, in their package's order — for
    an unknown type's message and the config reference). Building an entry loads the plugin it names and
    no other (agent/plugins.py)."""
    find: typing.ClassVar[typing.Callable[[str], Any]]
    every: typing.ClassVar[typing.Callable[[], list]]
    #: module name → why it cannot be imported: the package's plugin files that are there but broken, named in an
    #: unknown type's message (agent/plugins.py `unusable`)
    unusable: typing.ClassVar[typing.Callable[[], dict]] = staticmethod(lambda: {})


class _Invalid:
    """Stands in for a field whose value was wrong (already reported); compares with nothing."""
    __slots__ = ()

    def __repr__(self) -> str:
        return "<invalid>"


INVALID = _Invalid()


def _describe(value: Any) -> str:
    return type(value).__name__ if value is not None else "null"


class YamlNumeral(str):
    """A plain scalar that YAML 1.1 (PyYAML's reading) types as a number its writer hardly meant: `0300` (a leading
    zero: octal, 192) or `1:30` (base 60: 90). Both were read so without a word (`warmup.ticks: 0300` warmed up 192
    ticks; `node.id: 0300` was refused as `got int 192`); YAML 1.2 reads them as 300 and as text. agent/config_file.py
    keeps them as written; every key refuses them, saying what YAML made of them (qa49). The other YAML 1.1 numbers
    read as their writer means and are kept: `1_000` (1000), `0x10` (16), `0b101` (5)."""
    read_as: str        # what YAML 1.1 makes of it: 'octal, 192'
    instead: str        # what to write for the number meant: '300'

    def __new__(cls, text: str, read_as: str, instead: str):
        self = super().__new__(cls, text)
        self.read_as, self.instead = read_as, instead
        return self

    def as_number(self) -> str:
        return f"{short_repr(str(self))} (YAML 1.1 reads it as {self.read_as}: write {self.instead})"

    def as_text(self) -> str:
        return f"{short_repr(str(self))} (a number to YAML 1.1, {self.read_as}: quote it for text)"


def _got(value: Any) -> str:
    """'str 'two'', shortened; a YamlNumeral as written, with what YAML reads it as."""
    if isinstance(value, YamlNumeral):
        return value.as_number()
    return f"{_describe(value)} {short_repr(value)}"


def did_you_mean(value: Any, choices: list[str]) -> str:
    """' (did you mean 'x'?)' for the closest choice to a misspelt key or value, else ''."""
    if not isinstance(value, str):
        return ""
    import difflib      # only when a config has a mistake
    close = difflib.get_close_matches(value, choices, n=1, cutoff=0.6) \
        or [c for c in choices if len(value) >= 3 and c.startswith(value[:3])][:1]
    return f" (did you mean {close[0]!r}?)" if close else ""


def keys_here(path: str, fields: dict) -> str:
    """' (keys of warmup: ticks, …, replay, …)' for an unknown key no known one is close to: `warmup.from` said only
    'unknown key', and the key for a recording to warm up on (`replay`) was nowhere on the line (user36). A mapping
    of more than MAX_KEYS_SAID keys (the top level, a source) is left to docs/configuration.md."""
    if not path or len(fields) > MAX_KEYS_SAID:
        return ""
    return f" (keys of {path}: {', '.join(fields)})"


MAX_KEYS_SAID = 12


def _join(path: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    key = shorten(key, 60)
    return f"{path}.{key}" if path else key


class _Builder:
    def __init__(self) -> None:
        self.problems: list[str] = []

    def fail(self, path: str, message: str) -> None:
        self.problems.append(f"{path or '<top>'}: {message}")

    def build(self, tp: Any, value: Any, path: str) -> Any:
        origin = get_origin(tp)
        if tp is Any:
            return value
        if dataclasses.is_dataclass(tp):
            return self.build_dataclass(tp, value, path)
        if isinstance(tp, type) and issubclass(tp, PluginChoice):
            return self.build_choice(tp, value, path)
        if origin is Union or origin is types.UnionType:
            return self.build_union(tp, value, path)
        if origin is Literal:
            choices = get_args(tp)
            if value not in choices:
                self.fail(path, f"must be one of {', '.join(repr(c) for c in choices)}, got {short_repr(value)}"
                                f"{did_you_mean(value, [c for c in choices if isinstance(c, str)])}")
                return None
            return value
        if origin is list:
            (item_tp,) = get_args(tp)
            if not isinstance(value, list):
                self.fail(path, f"expected a list, got {_describe(value)}")
                return []
            return [self.build(item_tp, v, _join(path, i)) for i, v in enumerate(value)]
        if origin is dict:
            key_tp, item_tp = get_args(tp)
            if not isinstance(value, dict):
                self.fail(path, f"expected a mapping, got {_describe(value)}")
                return {}
            out = {}
            for k, v in value.items():
                if not isinstance(k, str) or isinstance(k, YamlNumeral):
                    got = k.as_text() if isinstance(k, YamlNumeral) else short_repr(k)
                    self.fail(path, f"keys must be strings, got {got}")
                    continue
                out[k] = self.build(item_tp, v, _join(path, k))
            return out
        if tp is bool:
            if not isinstance(value, bool):
                self.fail(path, f"expected true/false, got {_got(value)}")
            return value
        if tp is int:
            if isinstance(value, bool) or not isinstance(value, int):
                self.fail(path, f"expected an integer, got {_got(value)}")
            return value
        if tp is float:
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                self.fail(path, f"expected a number, got {_got(value)}")
                return value
            try:
                number = float(value)
            except OverflowError:
                number = math.inf
            if not math.isfinite(number):
                self.fail(path, f"must be a finite number, got {short_repr(value)}")
            return number
        if tp is str:
            if isinstance(value, YamlNumeral):
                self.fail(path, f"expected a string, got {value.as_text()}")
            elif not isinstance(value, str):
                self.fail(path, f"expected a string, got {_got(value)}")
            return value
        raise TypeError(f"unsupported config type {tp!r} at {path}")

    def build_union(self, tp: Any, value: Any, path: str) -> Any:
        args = [a for a in get_args(tp) if a is not type(None)]
        if value is None:
            if len(args) < len(get_args(tp)):
                return None
            self.fail(path, "must not be null")
            return None
        if len(args) == 1:
            return self.build(args[0], value, path)
        # A plain union such as str | SensorSpec: the first type whose shape fits wins.
        for a in args:
            if dataclasses.is_dataclass(a) and isinstance(value, dict):
                return self.build_dataclass(a, value, path)
            if isinstance(value, YamlNumeral):
                break                           # a number to YAML that is no number here: said below
            if a in (str, int, float, bool) and isinstance(value, a) and not (a is not bool and isinstance(value, bool)):
                return value
        text = isinstance(value, YamlNumeral) and str in args        # a name (a sensor's) written as a number
        self.fail(path, f"unexpected {value.as_text() if text else _got(value)}")
        return None

    def build_choice(self, tp: type[PluginChoice], value: Any, path: str) -> Any:
        if value is None:
            self.fail(path, "must not be null")
            return None
        if not isinstance(value, dict):
            self.fail(path, f"expected a mapping, got {_describe(value)}")
            return None
        tag = value.get("type")
        try:
            cls = tp.find(tag) if isinstance(tag, str) else None       # a list or mapping there names no plugin
        except PluginUnusable as exc:                                  # its module is there but does not import
            self.fail(_join(path, "type"), f"{short_repr(tag)} is not usable: {exc}")
            return None
        if cls is None:
            known = [c.TYPE for c in tp.every()]
            broken = "".join(f"; not usable: {why}" for why in tp.unusable().values())
            self.fail(_join(path, "type"), f"must be one of {', '.join(sorted(known))}, got {short_repr(tag)}"
                                           f"{did_you_mean(tag, known)}{broken}")
            return None
        return self.build_dataclass(cls, value, path)

    def build_dataclass(self, cls: Any, value: Any, path: str) -> Any:
        if value is None:
            value = {}
        if not isinstance(value, dict):
            self.fail(path, f"expected a mapping, got {_describe(value)}")
            return None
        hints = typing.get_type_hints(cls)
        fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
        known = set(fields) | ({"type"} if hasattr(cls, "TYPE") else set())
        refused = getattr(cls, "REFUSED", {})     # an override block's keys left out, each with why
        for key in value:
            if key in refused:
                self.fail(_join(path, str(key)), refused[key])
            elif key not in known:
                self.fail(_join(path, str(key)), f"unknown key{did_you_mean(key, list(known)) or keys_here(path, fields)}")
        before = len(self.problems)
        kwargs = {}
        missing = False
        for name, f in fields.items():
            sub = _join(path, name)
            if name in value:
                start = len(self.problems)
                built = self.build(hints[name], value[name], sub)
                if len(self.problems) == start:
                    self.check_range(f, built, sub)
                if len(self.problems) > start and not isinstance(built, (list, dict)) \
                        and not dataclasses.is_dataclass(built):
                    built = INVALID     # reported; cross-field checks must not report it again
                kwargs[name] = built
            elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                self.fail(sub, "required key is missing")
                missing = True
        if missing:
            return None     # constructing it would only repeat 'missing' as a TypeError
        try:
            obj = cls(**kwargs)
        except (TypeError, ValueError) as exc:
            self.fail(path, shorten(str(exc)))
            return None
        check = getattr(obj, "validate", None)
        if check is not None:
            try:
                found = check()
            except (TypeError, AttributeError, ValueError):
                # Cross-field checks assume well-typed fields; the type errors are already reported.
                found = [] if len(self.problems) > before else [("", "inconsistent values")]
            for sub, message in found:
                self.fail(_join(path, sub) if sub else path, shorten(message))
        return obj

    def check_range(self, f: dataclasses.Field, value: Any, path: str) -> None:
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            return
        lo, hi = f.metadata.get("min"), f.metadata.get("max")
        if isinstance(value, float) and not math.isfinite(value):
            return      # already reported as not finite
        if lo is not None and value < lo:
            self.fail(path, f"must be >= {lo}, got {value}")
        if hi is not None and value > hi:
            self.fail(path, f"must be <= {hi}, got {value}")


def build(cls: Any, data: Any, source: str = "<config>") -> Any:
    """Build `cls` from `data`; raise ConfigError listing every problem."""
    b = _Builder()
    obj = b.build(cls, data, "")
    if b.problems:
        raise ConfigError(source, b.problems)
    return obj


def rng(lo: float | None = None, hi: float | None = None, doc: str = "", **kw: Any) -> Any:
    """A dataclass field with a range check and its explanation (`doc`, see `doc`)."""
    meta = {"min": lo, "max": hi, "doc": doc}
    return dataclasses.field(metadata=meta, **kw)


def overrides_of(cls: Any, name: str, exclude: dict[str, str], module: str) -> Any:
    """A dataclass with `cls`'s keys (but `exclude`: key → why it is refused), each optional, default null:
    an override block, where the keys given replace `cls`'s and the rest (null or absent) are `cls`'s.
    Types, ranges and explanations are `cls`'s own, so a key is explained and checked in one place. Its
    `given()`: the keys set; `OVERRIDES`: `cls` (agent/config_doc.py renders the block as one row)."""
    keep = [f for f in dataclasses.fields(cls) if f.init and f.name not in exclude]
    # The kept keys' types only: an excluded one may name the block itself, not defined yet.
    hints = typing.get_type_hints(type("_", (), {"__annotations__": {f.name: f.type for f in keep},
                                                 "__module__": cls.__module__}))
    fields = [(f.name, Union[hints[f.name], None], dataclasses.field(default=None, metadata=f.metadata))
              for f in keep]
    return dataclasses.make_dataclass(name, fields, namespace={
        "__module__": module, "OVERRIDES": cls, "REFUSED": {k: why for k, why in exclude.items() if why},
        "given": lambda self: {f.name: getattr(self, f.name) for f in dataclasses.fields(self)
                               if getattr(self, f.name) is not None}})


def doc(text: str, **kw: Any) -> Any:
    """A dataclass field with its explanation: the one place a config key is explained. The
    configuration reference (docs/configuration.md) is generated from it (python -m agent.config_doc)."""
    return dataclasses.field(metadata={"doc": text}, **kw)
