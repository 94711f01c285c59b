"""Performance presets: TOML files holding parameter values and each stage's settings.

A preset has these top-level keys, every one optional::

    name = "club"                   # defaults to the file name
    description = "..."
    [params.dream]                  # parameter values, nested by the registry's dotted names
    iterations = 3
    [[mapping.routes]]              # the modulation matrix (performer.mapping)
    source = "level"; target = "dream.lr"; depth = 0.4
    [midi] ... [glove] ... [osc] ...    # controllers
    [classes.dog_bark]              # per sound class: seed image, ImageNet classes to dream towards
    image = "images/dog.jpg"; guide = [207, 208]
    [outputs.main]                  # frame outputs
    type = "ndi"

Checking reports every problem at once, each with the file, the key, the value
and what is allowed; unknown keys are problems too, so a typo never passes
silently. Loading a bad preset raises :class:`PresetError` carrying all of them.
"""

from __future__ import annotations

import difflib
import logging
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from performer.errors import ParamError, PresetError
from performer.mapping import CURVES, Route, allowed_sources, source_kind
from performer.params import REGISTRY, ParamStore, Registry
from performer.resources import presets_dir

log = logging.getLogger(__name__)

FORMAT_VERSION = 1
OUTPUT_TYPES = ("ndi", "syphon", "spout", "preview", "record", "frames")


@dataclass(frozen=True)
class Problem:
    """One thing wrong in a preset."""

    file: str
    key: str
    value: Any
    allowed: str

    def __str__(self) -> str:
        value = "(missing)" if self.value is _MISSING else repr(self.value)
        return f"{self.file}: {self.key} = {value}: {self.allowed}"


_MISSING = object()


@dataclass
class Preset:
    """A parsed, valid preset."""

    name: str
    description: str = ""
    params: dict[str, Any] = field(default_factory=dict)
    """Flat dotted parameter names -> values; parameters not named keep their defaults on recall."""
    routes: list[Route] = field(default_factory=list)
    midi: dict[str, Any] = field(default_factory=dict)
    glove: dict[str, Any] = field(default_factory=dict)
    osc: dict[str, Any] = field(default_factory=dict)
    classes: dict[str, dict[str, Any]] = field(default_factory=dict)
    outputs: dict[str, dict[str, Any]] = field(default_factory=dict)
    path: Path | None = None

    def resolve(self, relative: str) -> Path:
        """A path named in the preset, taken relative to the preset's own folder."""
        p = Path(relative).expanduser()
        if p.is_absolute() or self.path is None:
            return p
        return self.path.parent / p

    def values(self, registry: Registry = REGISTRY) -> dict[str, Any]:
        """Every non-trigger parameter: the registry's defaults overlaid with this preset's values."""
        values = {p.name: p.default for p in registry if p.type != "trigger"}
        values.update(self.params)
        return values

    def to_toml_data(self) -> dict[str, Any]:
        data: dict[str, Any] = {"format": FORMAT_VERSION, "name": self.name}
        if self.description:
            data["description"] = self.description
        if self.params:
            nested: dict[str, Any] = {}
            for name, value in self.params.items():
                group, _, key = name.partition(".")
                nested.setdefault(group, {})[key] = value
            data["params"] = nested
        if self.routes:
            data["mapping"] = {"routes": [_route_to_dict(r) for r in self.routes]}
        for section in ("midi", "glove", "osc", "classes", "outputs"):
            if getattr(self, section):
                data[section] = getattr(self, section)
        return data


def _route_to_dict(r: Route) -> dict[str, Any]:
    d: dict[str, Any] = {"source": r.source, "target": r.target, "depth": r.depth, "curve": r.curve}
    if r.range is not None:
        d["range"] = list(r.range)
    if r.smoothing:
        d["smoothing"] = r.smoothing
    return d


# ---------------------------------------------------------------------------
# Checking: a tiny declarative schema per section
# ---------------------------------------------------------------------------

Check = Callable[[Any], str | None]
"""Returns None when the value is allowed, else the words for what is allowed."""


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_num(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def string() -> Check:
    return lambda v: None if isinstance(v, str) else "a string"


def boolean() -> Check:
    return lambda v: None if isinstance(v, bool) else "true or false"


def integer(lo: int, hi: int) -> Check:
    return lambda v: None if _is_int(v) and lo <= v <= hi else f"an integer in [{lo}, {hi}]"


def number(lo: float, hi: float) -> Check:
    return lambda v: None if _is_num(v) and lo <= v <= hi else f"a number in [{lo:g}, {hi:g}]"


def one_of(*choices: Any) -> Check:
    return lambda v: None if v in choices else "one of " + ", ".join(map(str, choices))


def list_of(item: Check, what: str) -> Check:
    def check(v: Any) -> str | None:
        if isinstance(v, list) and all(item(x) is None for x in v):
            return None
        return f"a list of {what}"

    return check


def param_name(numeric_only: bool = False) -> Check:
    def check(v: Any) -> str | None:
        if not isinstance(v, str) or v not in REGISTRY:
            close = difflib.get_close_matches(str(v), REGISTRY.names(), n=3, cutoff=0.6)
            hint = f" (did you mean {', '.join(close)}?)" if close else ""
            return "the name of a parameter (see `performer params`)" + hint
        if numeric_only and not REGISTRY.get(v).numeric:
            return "a float or int parameter (only those can be modulated)"
        return None

    return check


def mod_source() -> Check:
    return lambda v: None if isinstance(v, str) and source_kind(v) else f"a modulation source: {allowed_sources()}"


def _range_pair(v: Any) -> str | None:
    if isinstance(v, list) and len(v) == 2 and all(_is_num(x) for x in v) and v[0] != v[1]:
        return None
    return "a list of two different numbers [from, to]"


Schema = dict[str, tuple[Check, bool]]  # key -> (check, required)

ROUTE: Schema = {
    "source": (mod_source(), True),
    "target": (param_name(numeric_only=True), True),
    "depth": (number(-4.0, 4.0), False),
    "curve": (one_of(*CURVES), False),
    "range": (_range_pair, False),
    "smoothing": (number(0.0, 30.0), False),
}
MIDI_CC: Schema = {
    "param": (param_name(), True),
    "cc": (integer(0, 127), True),
    "channel": (integer(1, 16), False),
    "bits": (one_of(7, 14), False),
    "takeover": (boolean(), False),
}
MIDI_NOTE: Schema = {
    "note": (integer(0, 127), True),
    "channel": (integer(1, 16), False),
    "preset": (string(), False),
    "param": (param_name(), False),
}
MIDI_PROGRAM: Schema = {"program": (integer(0, 127), True), "preset": (string(), True)}
MIDI: Schema = {"input": (string(), False), "output": (string(), False), "feedback": (boolean(), False)}
GLOVE: Schema = {
    "source": (one_of("serial", "osc"), False),
    "port": (string(), False),
    "baud": (integer(300, 2_000_000), False),
    "fingers": (integer(1, 10), False),
    "calibration": (string(), False),
    "smoothing": (number(0.0, 5.0), False),
}
OSC: Schema = {
    "host": (string(), False),
    "port": (integer(1, 65535), False),
    "allow": (list_of(string(), "client addresses"), False),
    "oscquery_port": (integer(0, 65535), False),
    "thumbnail": (integer(0, 512), False),
}
OSC_DEST: Schema = {"host": (string(), True), "port": (integer(1, 65535), True)}
CLASS: Schema = {
    "image": (string(), False),
    "guide": (list_of(integer(0, 999), "ImageNet class indices 0..999"), False),
}
OUTPUT: Schema = {
    "type": (one_of(*OUTPUT_TYPES), True),
    "enabled": (boolean(), False),
    "name": (string(), False),
    "width": (integer(16, 7680), False),
    "height": (integer(16, 4320), False),
    "layout": (one_of("dream", "composite"), False),
    "fit": (one_of("scale", "letterbox"), False),
    "path": (string(), False),
    "host": (string(), False),
    "port": (integer(0, 65535), False),
    "fps": (number(0.1, 240.0), False),
}
TOP_KEYS = ("format", "name", "description", "params", "mapping", "midi", "glove", "osc", "classes", "outputs")


class _Checker:
    def __init__(self, file: str) -> None:
        self.file = file
        self.problems: list[Problem] = []

    def add(self, key: str, value: Any, allowed: str) -> None:
        self.problems.append(Problem(self.file, key, value, allowed))

    def table(self, key: str, value: Any) -> dict[str, Any] | None:
        if isinstance(value, dict):
            return value
        self.add(key, value, "a table")
        return None

    def fields(self, prefix: str, data: Any, schema: Schema, extra: tuple[str, ...] = ()) -> dict[str, Any] | None:
        table = self.table(prefix, data)
        if table is None:
            return None
        ok = True
        for key, value in table.items():
            if key in extra:
                continue
            if key not in schema:
                close = difflib.get_close_matches(key, list(schema) + list(extra), n=2, cutoff=0.6)
                hint = f" (did you mean {', '.join(close)}?)" if close else ""
                self.add(f"{prefix}.{key}", value, f"no such key; allowed keys: {', '.join(list(schema) + list(extra))}{hint}")
                ok = False
                continue
            allowed = schema[key][0](value)
            if allowed:
                self.add(f"{prefix}.{key}", value, allowed)
                ok = False
        for key, (_, required) in schema.items():
            if required and key not in table:
                self.add(f"{prefix}.{key}", _MISSING, "required")
                ok = False
        return table if ok else None

    def array(self, prefix: str, data: Any, schema: Schema) -> list[dict[str, Any]]:
        if not isinstance(data, list):
            self.add(prefix, data, "an array of tables ([[...]])")
            return []
        good = []
        for i, item in enumerate(data):
            checked = self.fields(f"{prefix}[{i}]", item, schema)
            if checked is not None:
                good.append(checked)
        return good


def _flatten_params(c: _Checker, data: Any, registry: Registry) -> dict[str, Any]:
    table = c.table("params", data)
    if table is None:
        return {}
    flat: dict[str, Any] = {}

    def walk(prefix: str, node: dict[str, Any]) -> None:
        for key, value in node.items():
            name = f"{prefix}.{key}" if prefix else key
            if isinstance(value, dict):
                walk(name, value)
            else:
                flat[name] = value

    walk("", table)
    values: dict[str, Any] = {}
    for name, value in flat.items():
        if name not in registry:
            close = difflib.get_close_matches(name, registry.names(), n=3, cutoff=0.6)
            hint = f"; did you mean {', '.join(close)}?" if close else "; see `performer params`"
            c.add(f"params.{name}", value, "no such parameter" + hint)
            continue
        p = registry.get(name)
        if p.type == "trigger":
            c.add(f"params.{name}", value, "a trigger has no value to store")
            continue
        try:
            values[name] = p.validate(value, strict=True)
        except ParamError:
            c.add(f"params.{name}", value, p.allowed())
    return values


def parse_preset(data: Mapping[str, Any], file: str = "<preset>", registry: Registry = REGISTRY) -> tuple[Preset | None, list[Problem]]:
    """Check parsed TOML data; return the preset (None if anything is wrong) and every problem."""
    c = _Checker(file)
    for key, value in data.items():
        if key not in TOP_KEYS:
            close = difflib.get_close_matches(key, TOP_KEYS, n=2, cutoff=0.6)
            hint = f" (did you mean {', '.join(close)}?)" if close else ""
            c.add(key, value, f"no such section; allowed: {', '.join(TOP_KEYS)}{hint}")
    fmt = data.get("format", FORMAT_VERSION)
    if fmt != FORMAT_VERSION:
        c.add("format", fmt, f"this Performer reads preset format {FORMAT_VERSION}")
    name = data.get("name", Path(file).stem)
    if not isinstance(name, str) or not name.strip():
        c.add("name", name, "a non-empty string")
    description = data.get("description", "")
    if not isinstance(description, str):
        c.add("description", description, "a string")

    params = _flatten_params(c, data.get("params", {}), registry)

    routes: list[Route] = []
    mapping = c.fields("mapping", data.get("mapping", {}), {"routes": (lambda v: None, False)})
    if mapping is not None:
        for r in c.array("mapping.routes", mapping.get("routes", []), ROUTE):
            rng = r.get("range")
            routes.append(Route(r["source"], r["target"], float(r.get("depth", 0.5)), r.get("curve", "linear"),
                                (float(rng[0]), float(rng[1])) if rng else None, float(r.get("smoothing", 0.0))))

    midi = c.fields("midi", data.get("midi", {}), MIDI, extra=("cc", "notes", "programs"))
    if midi is not None:
        for key, schema in (("cc", MIDI_CC), ("notes", MIDI_NOTE), ("programs", MIDI_PROGRAM)):
            if key in midi:
                c.array(f"midi.{key}", midi[key], schema)
    glove = c.fields("glove", data.get("glove", {}), GLOVE)
    osc = c.fields("osc", data.get("osc", {}), OSC, extra=("destinations",))
    if osc is not None and "destinations" in osc:
        c.array("osc.destinations", osc["destinations"], OSC_DEST)
    classes = c.table("classes", data.get("classes", {})) or {}
    for cls, spec in classes.items():
        c.fields(f"classes.{cls}", spec, CLASS)
    outputs = c.table("outputs", data.get("outputs", {})) or {}
    for out, spec in outputs.items():
        c.fields(f"outputs.{out}", spec, OUTPUT)

    if c.problems:
        return None, c.problems
    preset = Preset(name=name, description=description, params=params, routes=routes,
                    midi=dict(midi or {}), glove=dict(glove or {}), osc=dict(osc or {}),
                    classes={k: dict(v) for k, v in classes.items()}, outputs={k: dict(v) for k, v in outputs.items()},
                    path=Path(file) if file != "<preset>" else None)
    return preset, []


def read_toml(path: Path) -> dict[str, Any]:
    """Parse a TOML file; a missing file or a syntax error is a PresetError naming the file."""
    try:
        with open(path, "rb") as f:
            return tomllib.load(f)
    except FileNotFoundError:
        raise PresetError(f"preset file {path} does not exist",
                          [Problem(str(path), "(file)", str(path), "an existing .toml file")]) from None
    except tomllib.TOMLDecodeError as e:
        raise PresetError(f"preset file {path} is not valid TOML: {e}",
                          [Problem(str(path), "(syntax)", str(e), "valid TOML")]) from None
    except OSError as e:
        raise PresetError(f"preset file {path} cannot be read: {e}",
                          [Problem(str(path), "(file)", str(path), f"a readable file ({e.strerror})")]) from None


def check_preset(path: str | Path) -> list[Problem]:
    """Every problem in the preset file (an empty list when it is valid)."""
    try:
        data = read_toml(Path(path))
    except PresetError as e:
        return e.problems
    return parse_preset(data, str(path))[1]


def load_preset(path: str | Path) -> Preset:
    """Load and check a preset file; raises PresetError listing every problem."""
    path = Path(path)
    preset, problems = parse_preset(read_toml(path), str(path))
    if preset is None:
        lines = "\n  ".join(str(p) for p in problems)
        raise PresetError(f"preset {path} has {len(problems)} problem(s):\n  {lines}", problems)
    return preset


def find_preset(name_or_path: str | Path) -> Path:
    """A preset path from a file path or a shipped preset's name (``club`` -> presets/club.toml)."""
    p = Path(name_or_path)
    if p.suffix == ".toml" or p.exists() or len(p.parts) > 1:
        return p
    shipped = presets_dir() / f"{p.name}.toml"
    if shipped.exists():
        return shipped
    names = ", ".join(sorted(q.stem for q in presets_dir().glob("*.toml")))
    raise PresetError(f"no preset named {str(name_or_path)!r}; shipped presets: {names}",
                      [Problem(str(name_or_path), "(name)", str(name_or_path), f"a file or one of: {names}")])


def save_preset(preset: Preset, path: str | Path) -> Path:
    """Write a preset as TOML (after checking it round-trips)."""
    import tomli_w

    path = Path(path)
    data = preset.to_toml_data()
    _, problems = parse_preset(data, str(path))
    if problems:
        raise PresetError(f"refusing to save an invalid preset to {path}", problems)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(tomli_w.dumps(data))
    tmp.replace(path)  # atomic: a crash mid-save never leaves half a preset
    return path


def preset_from_store(store: ParamStore, name: str, base: Preset | None = None) -> Preset:
    """A preset holding the store's current values (targets), keeping ``base``'s other sections."""
    params = {p.name: store.target(p.name) for p in store.registry if p.type != "trigger"}
    if base is None:
        return Preset(name=name, params=params)
    return Preset(name=name, description=base.description, params=params, routes=list(base.routes),
                  midi=dict(base.midi), glove=dict(base.glove), osc=dict(base.osc),
                  classes=dict(base.classes), outputs=dict(base.outputs))


def diff_presets(a: Preset, b: Preset, registry: Registry = REGISTRY) -> list[tuple[str, Any, Any]]:
    """(key, value in a, value in b) for every key whose effective value differs; missing reads as None."""
    fa, fb = _flat(a, registry), _flat(b, registry)
    return [(k, fa.get(k), fb.get(k)) for k in sorted(set(fa) | set(fb)) if fa.get(k) != fb.get(k)]


def _flat(p: Preset, registry: Registry) -> dict[str, Any]:
    out: dict[str, Any] = {f"params.{k}": v for k, v in p.values(registry).items()}
    data = p.to_toml_data()
    for section in ("mapping", "midi", "glove", "osc", "classes", "outputs", "description"):
        if section not in data:
            continue

        def walk(prefix: str, node: Any) -> None:
            if isinstance(node, dict):
                for k, v in node.items():
                    walk(f"{prefix}.{k}", v)
            elif isinstance(node, list) and node and all(isinstance(x, dict) for x in node):
                for i, v in enumerate(node):
                    walk(f"{prefix}[{i}]", v)
            else:
                out[prefix] = node

        walk(section, data[section])
    return out


def apply_preset(store: ParamStore, preset: Preset, *, source: str = "preset") -> None:
    """Recall a preset's parameters: all of them at once, gliding where parameters slew.

    Parameters the preset does not name return to their defaults, so a recall
    always gives the same state. Raises a ParamError and changes nothing if a
    value is invalid for this registry.
    """
    store.update(preset.values(store.registry), source=source)
    log.info("preset %s recalled (%d parameter values)", preset.name, len(preset.params))
