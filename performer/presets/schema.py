"""The preset schema: a tiny declarative check per section, and :func:`parse_preset` built on it.

Checking reports every problem at once (up to :data:`MAX_PROBLEMS`), each with the
file, the key, the value and what is allowed; unknown keys, sound classes the
classifier does not know and ImageNet guides that do not exist are problems too, so
a typo never passes silently. A ``[classes.none]`` table is a problem as well: the
"none of these" class keeps the dream's picture and has no guide or image (``prob.none``
stays a route source). Loading a bad preset raises :class:`PresetError` carrying all of them.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from performer.errors import ParamError
from performer.mapping import CURVES, Route, allowed_sources, source_kind
from performer.outputs.factory import OutputSection
from performer.params import REGISTRY, Registry
from performer.presets.checks import (
    Check,
    Schema,
    arrays_of,
    is_int,
    is_num,
    number,
    one_of,
    param_name,
    schema_of,
    string,
)
from performer.presets.morph import parse_morph
from performer.presets.preset import FORMAT_VERSION, MISSING, Preset, Problem
from performer.presets.sections import (
    GloveSection,
    MidiCC,
    MidiNote,
    MidiProgram,
    MidiSection,
    OscDestination,
    OscSection,
)
from performer.sound.labels import NONE_CLASS, is_none
from performer.video.factory import VideoSection

MAX_PROBLEMS = 50
"""Problems listed per preset; the rest are counted in one last line (a preset may hold thousands of typos)."""
MAX_NAME_CHARS = 100
MAX_DESCRIPTION_CHARS = 2000
MAX_KEY_CHARS = 64
MAX_GUIDES = 100

def none_table_allowed(classes: Sequence[str]) -> str:
    """Why a preset's ``[classes.none]`` is refused, and what is allowed (:mod:`performer.sound.labels`)."""
    others = ", ".join(c for c in classes if not is_none(c))
    return (f"refused: {NONE_CLASS!r} (none of these) keeps the dream's picture and takes no guide or image "
            f"(prob.{NONE_CLASS} stays a route source); allowed: a table for one of the classifier's other classes"
            + (f": {others}" if others else ""))


def colour() -> Check:
    def check(v: Any) -> str | None:
        from performer.dream.grade import parse_colour

        try:
            parse_colour(v)
        except ValueError:
            return "a colour '#rrggbb' (hex, e.g. '#d02030')"
        return None

    return check


def mod_source() -> Check:
    return lambda v: None if isinstance(v, str) and source_kind(v) else f"a modulation source: {allowed_sources()}"


def _range_pair(v: Any) -> str | None:
    if isinstance(v, list) and len(v) == 2 and all(is_num(x) and math.isfinite(x) for x in v) and v[0] != v[1]:
        return None
    return "a list of two different finite numbers [from, to]"


GUIDE_WORDS = "a list of ImageNet classes: indices 0..999 or names, as `performer dream --guide` takes them"


def resolve_guide(v: Any) -> tuple[list[int] | None, str | None]:
    """A class's ``guide`` as ImageNet indices, or None and what is allowed."""
    if not isinstance(v, list) or len(v) > MAX_GUIDES or not all(is_int(x) or isinstance(x, str) for x in v):
        return None, f"{GUIDE_WORDS} (at most {MAX_GUIDES})"
    bad = [x for x in v if is_int(x) and not 0 <= x <= 999]
    if bad:
        return None, f"{GUIDE_WORDS}; {bad[0]} is outside 0..999"
    names = [x for x in v if isinstance(x, str)]
    if not names:
        return list(v), None
    from performer.dream.guides import resolve_guides  # imports torchvision's class list: only for names

    try:
        resolved = iter(resolve_guides(names))
    except ValueError as e:
        return None, f"{GUIDE_WORDS}; {e}"
    return [x if is_int(x) else next(resolved) for x in v], None


ROUTE: Schema = {
    "source": (mod_source(), True),
    "target": (param_name(numeric_only=True), True),
    "depth": (number(-1.0, 1.0), False),
    "curve": (one_of(*CURVES), False),
    "range": (_range_pair, False),
    "smoothing": (number(0.0, 30.0), False),
}
# The hardware and connection sections: derived from the dataclasses that declare them (performer.presets.checks).
MIDI_CC: Schema = schema_of(MidiCC)
MIDI_NOTE: Schema = schema_of(MidiNote)
MIDI_PROGRAM: Schema = schema_of(MidiProgram)
MIDI: Schema = schema_of(MidiSection)
GLOVE: Schema = schema_of(GloveSection)
OSC: Schema = schema_of(OscSection)
OSC_DEST: Schema = schema_of(OscDestination)
CLASS: Schema = {
    "image": (string(), False),
    "colour": (colour(), False),
    "guide": (lambda v: resolve_guide(v)[1], False),
}
OUTPUT: Schema = schema_of(OutputSection)
VIDEO: Schema = schema_of(VideoSection)
TOP_KEYS = ("format", "name", "description", "morph", "quantize", "params", "mapping", "midi", "glove", "osc",
            "classes", "outputs", "video")
QUANTIZE = ("off", "beat", "bar")
"""A preset's own launch quantise (its recall waits for the next beat or bar, whatever tempo.quantize says)."""


class _Checker:
    def __init__(self, file: str) -> None:
        self.file = file
        self.problems: list[Problem] = []
        self.unlisted = 0

    @property
    def full(self) -> bool:
        return len(self.problems) >= MAX_PROBLEMS

    def add(self, key: str, value: Any, allowed: str) -> None:
        if self.full:
            self.unlisted += 1
        else:
            self.problems.append(Problem(self.file, key, value, allowed))

    def hint(self, word: Any, choices: Sequence[str], words: str = " (did you mean {}?)") -> str:
        """A did-you-mean suggestion; none once the problem list is full (suggesting is the slow part)."""
        if self.full or not isinstance(word, str):
            return ""
        close = difflib.get_close_matches(word[:MAX_KEY_CHARS], choices, n=3, cutoff=0.6)
        return words.format(", ".join(close)) if close else ""

    def all_problems(self) -> list[Problem]:
        if not self.unlisted:
            return self.problems
        return self.problems + [Problem(self.file, "(more)", self.unlisted,
                                        "further problems not listed; fix the ones above first")]

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
                keys = list(schema) + list(extra)
                hint = self.hint(key, keys)
                self.add(f"{prefix}.{key}", value, f"no such key; allowed keys: {', '.join(keys)}{hint}")
                ok = False
                continue
            allowed = schema[key][0](value)
            if allowed:
                self.add(f"{prefix}.{key}", value, allowed)
                ok = False
        for key, (_, required) in schema.items():
            if required and key not in table:
                self.add(f"{prefix}.{key}", MISSING, "required")
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
    levels = max(name.count(".") for name in registry.names()) + 1 if len(registry) else 1

    def walk(prefix: str, node: dict[str, Any], level: int) -> None:
        # Parameter names have `levels` parts (dream.lr): deeper tables are not walked, only reported.
        for key, value in node.items():
            name = f"{prefix}.{key}" if prefix else key
            if isinstance(value, dict) and level < levels:
                walk(name, value, level + 1)
            else:
                flat[name] = value

    walk("", table, 1)
    values: dict[str, Any] = {}
    for name, value in flat.items():
        if name not in registry:
            hint = c.hint(name, registry.names(), "; did you mean {}?") or "; see `performer params`"
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


def parse_preset(
    data: Mapping[str, Any], file: str = "<preset>", registry: Registry = REGISTRY,
    classes: Sequence[str] | None = None,
) -> tuple[Preset | None, list[Problem]]:
    """Check parsed TOML data; return the preset (None if anything is wrong) and every problem.

    ``classes``: the sound classes ``[classes.*]`` and ``prob.*`` may name (default: the shipped classifier's).
    """
    if classes is None:
        from performer.presets.classes import shipped_classes

        classes = shipped_classes()
    c = _Checker(file)
    for key, value in data.items():
        if key not in TOP_KEYS:
            c.add(key, value, f"no such section; allowed: {', '.join(TOP_KEYS)}{c.hint(key, TOP_KEYS)}")
    fmt = data.get("format", FORMAT_VERSION)
    if fmt != FORMAT_VERSION:
        c.add("format", fmt, f"this Performer reads preset format {FORMAT_VERSION}")
    name = data.get("name", Path(file).stem[:MAX_NAME_CHARS])
    if not isinstance(name, str) or not name.strip() or len(name) > MAX_NAME_CHARS:
        c.add("name", name, f"a non-empty string of at most {MAX_NAME_CHARS} characters")
    description = data.get("description", "")
    if not isinstance(description, str) or len(description) > MAX_DESCRIPTION_CHARS:
        c.add("description", description, f"a string of at most {MAX_DESCRIPTION_CHARS} characters")
    morph, allowed = parse_morph(data["morph"]) if "morph" in data else (None, None)
    if allowed:
        c.add("morph", data["morph"], allowed)
    quantize = data.get("quantize")
    if quantize is not None and quantize not in QUANTIZE:
        c.add("quantize", quantize, f"one of {', '.join(QUANTIZE)} (or no quantize: the rig's tempo.quantize)")

    params = _flatten_params(c, data.get("params", {}), registry)

    routes: list[Route] = []
    mapping = c.fields("mapping", data.get("mapping", {}), {"routes": (lambda v: None, False)})
    sound = c.table("classes", data.get("classes", {})) or {}
    other = _for_another_classifier(sound, mapping.get("routes") if mapping else None, classes)
    if other:
        c.add("classes", other, f"the preset names the sound classes of another classifier: none of these "
              f"{len(other)} is one the classifier knows; allowed: [classes.*] tables and prob.<class> sources "
              f"naming its classes ({', '.join(classes)}), or none")
    if mapping is not None and not other:
        _check_prob_sources(c, mapping.get("routes"), classes)
    if mapping is not None:
        for r in c.array("mapping.routes", mapping.get("routes", []), ROUTE):
            rng = r.get("range")
            routes.append(Route(r["source"], r["target"], float(r.get("depth", 0.5)), r.get("curve", "linear"),
                                (float(rng[0]), float(rng[1])) if rng else None, float(r.get("smoothing", 0.0))))

    midi = c.fields("midi", data.get("midi", {}), MIDI, extra=tuple(arrays_of(MidiSection)))
    if midi is not None:
        for key, schema in (("cc", MIDI_CC), ("notes", MIDI_NOTE), ("programs", MIDI_PROGRAM)):
            if key in midi:
                c.array(f"midi.{key}", midi[key], schema)
    glove = c.fields("glove", data.get("glove", {}), GLOVE)
    osc = c.fields("osc", data.get("osc", {}), OSC, extra=tuple(arrays_of(OscSection)))
    if osc is not None and "destinations" in osc:
        c.array("osc.destinations", osc["destinations"], OSC_DEST)
    tables = [k for k in classes if not is_none(k)]  # the classes a [classes.*] table may name
    for cls, spec in sound.items():
        if is_none(cls):
            c.add(f"classes.{cls}", spec, none_table_allowed(classes))
        elif other:
            continue  # said once above
        elif cls not in tables:
            c.add(f"classes.{cls}", cls, f"a sound class the classifier knows{c.hint(cls, tables)}: "
                  + ", ".join(tables))
        else:
            c.fields(f"classes.{cls}", spec, CLASS)
    outputs = c.table("outputs", data.get("outputs", {})) or {}
    for out, spec in outputs.items():
        if len(out) > MAX_KEY_CHARS:
            c.add(f"outputs.{out}", out, f"an output name of at most {MAX_KEY_CHARS} characters")
        else:
            c.fields(f"outputs.{out}", spec, OUTPUT)
    video = c.fields("video", data.get("video", {}), VIDEO)

    if c.problems:
        return None, c.all_problems()
    preset = Preset(name=name, description=description, params=params, routes=routes,
                    midi=dict(midi or {}), glove=dict(glove or {}), osc=dict(osc or {}),
                    classes={k: _class_spec(v) for k, v in sound.items()},
                    outputs={k: dict(v) for k, v in outputs.items()}, video=dict(video or {}), morph=morph,
                    quantize=quantize, path=Path(file) if file != "<preset>" else None)
    return preset, []


def _class_spec(spec: dict[str, Any]) -> dict[str, Any]:
    """A checked ``[classes.*]`` table with its guide as ImageNet indices (names resolved)."""
    out = dict(spec)
    if "guide" in out:
        out["guide"] = resolve_guide(out["guide"])[0]
    return out


def _named_classes(sound: Mapping[str, Any], routes: Any) -> list[str]:
    """The sound classes a preset names, ``none`` aside: its ``[classes.*]`` tables, then its ``prob.*`` sources."""
    names = [k for k in sound if not is_none(k)]
    for r in routes if isinstance(routes, list) else ():
        source = r.get("source") if isinstance(r, dict) else None
        if isinstance(source, str) and source.startswith("prob.") and not is_none(source[5:]):
            names.append(source[5:])
    return list(dict.fromkeys(names))


def _for_another_classifier(sound: Mapping[str, Any], routes: Any, classes: Sequence[str]) -> list[str]:
    """The classes a preset names when it was written for another classifier (at least two, and not one of them
    is the classifier's): one problem then, instead of one a class. Empty otherwise (a typo keeps its own)."""
    named = _named_classes(sound, routes)
    known = {k for k in classes if not is_none(k)}
    return named if len(named) >= 2 and not known.intersection(named) else []


def _check_prob_sources(c: _Checker, routes: Any, classes: Sequence[str]) -> None:
    """``prob.<class>`` sources must name a class the classifier knows (else they silently read 0)."""
    if not isinstance(routes, list):
        return
    for i, r in enumerate(routes):
        source = r.get("source") if isinstance(r, dict) else None
        if isinstance(source, str) and source.startswith("prob.") and source[5:] not in classes:
            c.add(f"mapping.routes[{i}].source", source,
                  f"prob.<class> of a class the classifier knows{c.hint(source[5:], classes)}: " + ", ".join(classes))
