"""Performance presets: TOML files holding parameter values and each stage's settings.

A preset has these top-level keys, every one optional::

    name = "club"                   # defaults to the file name
    description = "..."
    morph = 4.0                     # a recall glides over 4 s (or "8 beats", "2 bars"); see presets.morph
    quantize = "bar"                # the recall lands on the next bar ("beat", "off"), whatever tempo.quantize
    [params.dream]                  # parameter values, nested by the registry's dotted names
    iterations = 3
    [[mapping.routes]]              # the modulation matrix (performer.mapping)
    source = "level"; target = "dream.lr"; depth = 0.4
    [midi] ... [glove] ... [osc] ...    # controllers
    [classes.dog_bark]              # per sound class: seed image, ImageNet classes to dream towards
    image = "images/dog.jpg"; guide = [207, 208]
    [outputs.main]                  # frame outputs
    type = "ndi"
    [video]                         # the live video the dream works on (video.weight): NDI, a camera, a file
    source = "ndi:Resolume"

A :class:`Preset` is the parsed, valid form; :mod:`performer.presets.schema`
checks and parses the data, :mod:`performer.presets.files` reads and writes the
files. This module also captures a store's values as a preset, compares two
presets and recalls one into a store.
"""

from __future__ import annotations

import logging
import reprlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from performer.errors import PerformerError
from performer.mapping import Route
from performer.params import REGISTRY, ParamStore, Registry
from performer.presets.morph import Morph, morph_durations, morph_seconds

log = logging.getLogger(__name__)

FORMAT_VERSION = 1
OUTPUT_TYPES = ("ndi", "syphon", "spout", "preview", "record", "frames")
RIG_GROUP = "control"
"""The parameter group a recall leaves alone unless the preset names it: the rig's tempo sync and OSC-out rate."""
LIVE_ONLY = ("crossfader.a", "crossfader.b", "crossfader.position")
"""Parameters no preset holds: the crossfader between two presets (:mod:`performer.presets.crossfader`) is not
saved, and a preset that names it is recalled without it (said in the log)."""

MISSING = object()
"""The value a :class:`Problem` reports for a required key that is absent."""

_REPR = reprlib.Repr()
_REPR.maxstring, _REPR.maxother, _REPR.maxlevel, _REPR.maxlist, _REPR.maxdict = 80, 80, 3, 8, 6


def cut_middle(text: str, limit: int = 160) -> str:
    """``text``, its middle replaced by ... when longer than ``limit`` (a path someone typed, say)."""
    return text if len(text) <= limit else f"{text[:limit // 2 - 2]}...{text[-(limit // 2 - 2):]}"


@dataclass(frozen=True)
class Problem:
    """One thing wrong in a preset."""

    file: str
    key: str
    value: Any
    allowed: str

    def __str__(self) -> str:
        """One line: file, key, value (shortened: a preset may hold anything) and what is allowed."""
        value = "(missing)" if self.value is MISSING else _REPR.repr(self.value)
        line = f"{cut_middle(self.file)}: {cut_middle(self.key)} = {value}: {self.allowed}"
        return "".join(ch if ch.isprintable() else "?" for ch in line)


@dataclass
class Preset:
    """A parsed, valid preset."""

    name: str
    description: str = ""
    params: dict[str, Any] = field(default_factory=dict)
    """Flat dotted parameter names -> values; parameters not named return to their defaults on recall (the rig's,
    group ``control``, keep their running values: :func:`apply_preset`)."""
    routes: list[Route] = field(default_factory=list)
    midi: dict[str, Any] = field(default_factory=dict)
    glove: dict[str, Any] = field(default_factory=dict)
    osc: dict[str, Any] = field(default_factory=dict)
    classes: dict[str, dict[str, Any]] = field(default_factory=dict)
    outputs: dict[str, dict[str, Any]] = field(default_factory=dict)
    video: dict[str, Any] = field(default_factory=dict)
    """The ``[video]`` table: source (ndi:NAME, camera:N, a file), extra_ips, bandwidth."""
    morph: Morph | None = None
    """How long a recall glides (None: values jump, or glide over their own slew)."""
    quantize: str | None = None
    """``off``, ``beat`` or ``bar``: the recall waits for that, whatever ``tempo.quantize`` (None: as it says)."""
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
        if self.morph is not None:
            data["morph"] = self.morph.to_toml()
        if self.quantize is not None:
            data["quantize"] = self.quantize
        if self.params:
            nested: dict[str, Any] = {}
            for name, value in self.params.items():
                group, _, key = name.partition(".")
                nested.setdefault(group, {})[key] = value
            data["params"] = nested
        if self.routes:
            data["mapping"] = {"routes": [_route_to_dict(r) for r in self.routes]}
        for section in ("midi", "glove", "osc", "classes", "outputs", "video"):
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


def preset_from_store(store: ParamStore, name: str, base: Preset | None = None) -> Preset:
    """A preset holding the store's current values (targets), keeping ``base``'s other sections."""
    params = {p.name: store.target(p.name) for p in store.registry if p.type != "trigger" and p.name not in LIVE_ONLY}
    if base is None:
        return Preset(name=name, params=params)
    return copy_preset(base, name, params)


def copy_preset(base: Preset, name: str, params: dict[str, Any] | None = None) -> Preset:
    """``base`` under another name (with ``params``, default every value of ``base``), for saving elsewhere:
    the files it names (class images, glove calibration) are made absolute, so the copy still finds them."""
    return Preset(name=name, description=base.description,
                  params=dict(params) if params is not None else base.values(), routes=list(base.routes),
                  midi=dict(base.midi), glove=_absolute(base, base.glove, "calibration"), osc=dict(base.osc),
                  classes={c: _absolute(base, spec, "image") for c, spec in base.classes.items()},
                  outputs=dict(base.outputs), video=_video_absolute(base), morph=base.morph, quantize=base.quantize)


def _absolute(base: Preset, table: dict[str, Any], key: str) -> dict[str, Any]:
    """``table`` with its file ``key`` made absolute, so a copy saved in another folder still finds the file."""
    table = dict(table)
    if isinstance(table.get(key), str):
        table[key] = str(base.resolve(table[key]).absolute())
    return table


def _video_absolute(base: Preset) -> dict[str, Any]:
    """``base.video`` with a video file it names made absolute (NDI sources and cameras stay as they are)."""
    from performer.video import parse_spec

    table = dict(base.video)
    try:
        kind, target = parse_spec(table.get("source"))
    except PerformerError:
        return table
    if kind == "file":
        table["source"] = "file:" + str(base.resolve(str(target)).absolute())
    return table


def diff_presets(a: Preset, b: Preset, registry: Registry = REGISTRY) -> list[tuple[str, Any, Any]]:
    """(key, value in a, value in b) for every key whose effective value differs; missing reads as None."""
    fa, fb = _flat(a, registry), _flat(b, registry)
    return [(k, fa.get(k), fb.get(k)) for k in sorted(set(fa) | set(fb)) if fa.get(k) != fb.get(k)]


def _flat(p: Preset, registry: Registry) -> dict[str, Any]:
    out: dict[str, Any] = {f"params.{k}": v for k, v in p.values(registry).items()}
    data = p.to_toml_data()
    for section in ("mapping", "midi", "glove", "osc", "classes", "outputs", "video", "description", "morph",
                    "quantize"):
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


def apply_preset(store: ParamStore, preset: Preset, *, source: str = "preset",
                 bpm: Callable[[], float] | None = None) -> None:
    """Recall a preset's parameters: all of them at once, gliding where parameters slew, or over the preset's
    ``morph`` (:mod:`performer.presets.morph`; ``bpm`` gives the live tempo a morph in beats or bars counts by).

    Parameters the preset does not name return to their defaults, so a recall
    always gives the same picture -- except the rig's (group ``control``: the
    tempo source, its MIDI input and latency, the tempo, the OSC-out rate),
    which keep their running values, as the outputs and controllers do: a
    recall mid-show must not drop the Link or MIDI-clock sync. Raises a
    ParamError and changes nothing if a value is invalid for this registry.
    """
    values = {name: value for name, value in preset.values(store.registry).items()
              if (name in preset.params or store.registry.get(name).group != RIG_GROUP) and name not in LIVE_ONLY}
    named = [name for name in LIVE_ONLY if name in preset.params]
    if named:
        log.warning("preset %s: %s not recalled (the crossfader is a live control; presets do not hold it)",
                    preset.name, ", ".join(named))
    seconds = morph_seconds(preset.morph, store.get, store.registry, bpm) if preset.morph is not None else 0.0
    store.update(values, source=source, durations=morph_durations(values, store.registry, seconds))
    log.info("preset %s recalled (%d parameter values%s)", preset.name, len(preset.params),
             f", morphing over {seconds:.2f} s" if seconds > 0 else "")
