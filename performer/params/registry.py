"""The parameter registry: every knob of Performer, declared once.

``PARAMS`` below is the only list of parameters. OSC addresses, MIDI mappings,
preset validation, OSCQuery and the documentation's parameter table are all
derived from it. A :class:`ParamStore` holds the live values; controllers (OSC,
MIDI, glove, presets, the mapping stage) write into it from any thread and the
render loop reads one consistent :class:`Snapshot` per frame.
"""

from __future__ import annotations

import json
import logging
import math
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal, get_args

from performer.errors import ParamRangeError, ParamTypeError, UnknownParamError

log = logging.getLogger(__name__)

ParamType = Literal["float", "int", "bool", "enum", "string", "trigger"]
Group = Literal["audio", "classifier", "mapping", "dream", "output", "control"]
GROUPS: tuple[str, ...] = get_args(Group)
PARAM_TYPES: tuple[str, ...] = get_args(ParamType)

_TRUE_WORDS = {"true", "on", "yes", "1"}
_FALSE_WORDS = {"false", "off", "no", "0"}


@dataclass(frozen=True)
class Param:
    """One parameter's declaration: what it is, what it accepts, how it moves."""

    name: str
    type: ParamType
    default: Any
    group: Group
    description: str
    unit: str = ""
    min: float | None = None
    max: float | None = None
    choices: tuple[str, ...] = ()
    clamp: bool = False
    """Out-of-range numbers are clamped (knobs) instead of rejected."""
    slew: float = 0.0
    """Seconds a jump takes to reach its target, so visuals glide instead of snapping."""
    address: str = ""
    """OSC address; derived from the name when left empty."""

    def __post_init__(self) -> None:
        if not self.address:
            object.__setattr__(self, "address", "/" + self.name.replace(".", "/"))
        if self.type not in PARAM_TYPES:
            raise ValueError(f"parameter {self.name}: type {self.type!r} is not one of {PARAM_TYPES}")
        if self.group not in GROUPS:
            raise ValueError(f"parameter {self.name}: group {self.group!r} is not one of {GROUPS}")
        if self.numeric and (self.min is None or self.max is None or self.min >= self.max):
            raise ValueError(f"parameter {self.name}: a {self.type} needs min < max")
        if self.type == "enum" and (not self.choices or self.default not in self.choices):
            raise ValueError(f"parameter {self.name}: enum default {self.default!r} is not in {self.choices}")
        if self.slew and self.type not in ("float", "int"):
            raise ValueError(f"parameter {self.name}: only numbers can slew")
        if self.type != "trigger":
            # The default must pass the parameter's own validation, unclamped.
            _validate(self, self.default, clamp=False)

    @property
    def numeric(self) -> bool:
        return self.type in ("float", "int")

    def allowed(self) -> str:
        """Human words for what this parameter accepts."""
        if self.numeric:
            return f"{self.type} in [{_fmt(self.min)}, {_fmt(self.max)}]"
        if self.type == "enum":
            return "one of " + ", ".join(self.choices)
        if self.type == "bool":
            return "true or false (1 or 0)"
        if self.type == "string":
            return "a string"
        return "a trigger (any value, or none)"

    def validate(self, value: Any, *, strict: bool = False) -> Any:
        """Return ``value`` converted to this parameter's type, or raise.

        Raises :class:`ParamTypeError` for a wrong type and
        :class:`ParamRangeError` for a value outside the range or choices.
        Numbers are clamped instead when the parameter declares ``clamp``,
        unless ``strict`` (preset files are checked strictly: an
        out-of-range number there is a typo, not a knob turned too far).
        """
        return _validate(self, value, clamp=self.clamp and not strict)

    def normalize(self, value: Any) -> float:
        """Map a valid value to 0..1 (numbers, bools and enums)."""
        if self.numeric:
            return (float(value) - self.min) / (self.max - self.min)  # type: ignore[operator]
        if self.type == "bool":
            return 1.0 if value else 0.0
        if self.type == "enum":
            n = len(self.choices)
            return self.choices.index(value) / (n - 1) if n > 1 else 0.0
        raise ParamTypeError(f"{self.name} is a {self.type} and has no normalised 0-1 form")

    def denormalize(self, x: Any) -> Any:
        """Map 0..1 (clamped) to a valid value of this parameter."""
        if isinstance(x, bool) or not isinstance(x, (int, float)) or not math.isfinite(x):
            raise ParamTypeError(f"{self.name} (normalised) expects a number in [0, 1], got {x!r}")
        x = min(1.0, max(0.0, float(x)))
        if self.numeric:
            v = self.min + x * (self.max - self.min)  # type: ignore[operator]
            return int(round(v)) if self.type == "int" else v
        if self.type == "bool":
            return x >= 0.5
        if self.type == "enum":
            return self.choices[int(round(x * (len(self.choices) - 1)))]
        raise ParamTypeError(f"{self.name} is a {self.type} and has no normalised 0-1 form")

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "name": self.name,
            "address": self.address,
            "type": self.type,
            "group": self.group,
            "default": self.default,
            "unit": self.unit,
            "description": self.description,
        }
        if self.numeric:
            d.update(min=self.min, max=self.max, clamp=self.clamp, slew=self.slew)
        if self.type == "enum":
            d["choices"] = list(self.choices)
        return d


def _fmt(x: float | None) -> str:
    if x is None:
        return "?"
    return str(int(x)) if float(x).is_integer() else f"{x:g}"


def _validate(p: Param, value: Any, *, clamp: bool) -> Any:
    t = p.type
    if t == "trigger":
        return None
    if t == "float":
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ParamTypeError(f"{p.name} expects a float, got {value!r} ({type(value).__name__})")
        v = float(value)
        if not math.isfinite(v):
            raise ParamRangeError(f"{p.name} = {value!r} is not a finite number; allowed: {p.allowed()}")
        return _in_range(p, v, clamp)
    if t == "int":
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ParamTypeError(f"{p.name} expects an int, got {value!r} ({type(value).__name__})")
        if isinstance(value, float) and not (math.isfinite(value) and value.is_integer()):
            raise ParamTypeError(f"{p.name} expects an int, got {value!r} (a float with a fraction)")
        return int(_in_range(p, int(value), clamp))
    if t == "bool":
        if isinstance(value, bool):
            return value
        if isinstance(value, (int, float)) and value in (0, 1):
            return bool(value)
        if isinstance(value, str) and value.strip().lower() in _TRUE_WORDS | _FALSE_WORDS:
            return value.strip().lower() in _TRUE_WORDS
        raise ParamTypeError(f"{p.name} expects a bool (true/false or 1/0), got {value!r}")
    if t == "enum":
        if isinstance(value, str):
            if value in p.choices:
                return value
            raise ParamRangeError(f"{p.name} = {value!r} is not allowed; allowed: {p.allowed()}")
        if isinstance(value, int) and not isinstance(value, bool):
            if 0 <= value < len(p.choices):
                return p.choices[value]
            raise ParamRangeError(
                f"{p.name} = {value} is not a choice index; allowed: 0..{len(p.choices) - 1} or {p.allowed()}"
            )
        raise ParamTypeError(f"{p.name} expects one of {', '.join(p.choices)}, got {value!r}")
    if t == "string":
        if not isinstance(value, str):
            raise ParamTypeError(f"{p.name} expects a string, got {value!r} ({type(value).__name__})")
        return value
    raise AssertionError(t)  # pragma: no cover - guarded in __post_init__


def _in_range(p: Param, v: float, clamp: bool) -> float:
    lo, hi = p.min, p.max
    assert lo is not None and hi is not None
    if lo <= v <= hi:
        return v
    if clamp:
        return min(hi, max(lo, v))
    raise ParamRangeError(f"{p.name} = {_fmt(v) if isinstance(v, int) else v!r} is out of range; allowed: {p.allowed()}")


# ---------------------------------------------------------------------------
# The table. Every parameter of every stage is declared here and nowhere else.
# ---------------------------------------------------------------------------

PARAMS: tuple[Param, ...] = (
    # audio input
    Param("audio.gain", "float", 0.0, "audio", "Input gain applied before analysis.", "dB",
          -24.0, 24.0, clamp=True, slew=0.05),
    Param("audio.gate", "float", -70.0, "audio",
          "Level below which the input counts as silence: the classifier holds its last class.", "dBFS",
          -120.0, 0.0, clamp=True),
    # classifier
    Param("classifier.enabled", "bool", True, "classifier",
          "Run the sound classifier; when off the top class stays where it is."),
    Param("classifier.window", "float", 1.0, "classifier",
          "Length of the sound window each classification looks at.", "s", 0.5, 4.0, clamp=True),
    Param("classifier.hop", "float", 0.1, "classifier",
          "Time between two classifications of the sliding window.", "s", 0.1, 1.0, clamp=True),
    Param("classifier.smoothing", "float", 0.3, "classifier",
          "Time constant of the exponential smoothing of class probabilities.", "s", 0.0, 5.0, clamp=True),
    Param("classifier.hysteresis", "float", 0.1, "classifier",
          "How far a new class's smoothed probability must exceed the current class's before the top class changes.",
          "", 0.0, 0.5, clamp=True),
    Param("classifier.hold", "float", 1.0, "classifier",
          "Minimum time the top class is kept before it may change again.", "s", 0.0, 10.0, clamp=True),
    Param("classifier.lock", "bool", False, "classifier",
          "Freeze the top class: the dream keeps its image whatever the sound does."),
    Param("classifier.fast", "bool", True, "classifier",
          "The fast path: a new sound (see classifier.novelty) is named from its first moments, without waiting "
          "for it to fill the window, the smoothing or the hold."),
    Param("classifier.fast_window", "float", 0.15, "classifier",
          "How much of a new sound the fast path hears before it may name it.", "s", 0.1, 1.0, clamp=True),
    Param("classifier.fast_confidence", "float", 0.35, "classifier",
          "Probability the fast path's class needs before it takes over.", "",
          0.0, 1.0, clamp=True),
    Param("classifier.novelty", "float", 1.2, "classifier",
          "How different the latest hop must sound from the second before it to count as a new sound for the "
          "fast path: the mean change over mel bands, each in units of its own variation (std in dB + 3 dB).",
          "", 0.2, 5.0, clamp=True),
    # mapping
    Param("mapping.enabled", "bool", True, "mapping",
          "Apply the preset's modulation matrix (sound and glove acting on parameters)."),
    Param("mapping.depth", "float", 1.0, "mapping",
          "Master depth that scales every modulation route.", "", 0.0, 2.0, clamp=True, slew=0.1),
    # dream renderer
    Param("dream.network", "enum", "efficientnet_lite0", "dream",
          "ImageNet network the dream climbs; all but efficientnet_lite0 need torchvision's weights in TORCH_HOME.",
          choices=("efficientnet_lite0", "googlenet", "vgg16", "resnet50")),
    Param("dream.layers", "string", "", "dream",
          "Layers to dream on with weights, e.g. 'blocks.4=1,blocks.5=0.5'; empty means the network's default."),
    Param("dream.iterations", "int", 2, "dream",
          "Gradient-ascent steps per octave for each output frame.", "", 1, 20, clamp=True),
    Param("dream.octaves", "int", 1, "dream", "Number of image scales dreamed per frame.", "", 1, 6, clamp=True),
    Param("dream.octave_scale", "float", 1.4, "dream", "Size ratio between two octaves.", "", 1.1, 2.0, clamp=True),
    Param("dream.lr", "float", 0.02, "dream", "Step size (learning rate) of each gradient-ascent step.", "",
          0.001, 0.2, clamp=True, slew=0.2),
    Param("dream.jitter", "int", 8, "dream", "Random shift applied before each step, against grid artefacts.", "px",
          0, 64, clamp=True),
    Param("dream.grad_norm", "enum", "mean_abs", "dream", "How each step's gradient is normalised.",
          choices=("mean_abs", "std", "none")),
    Param("dream.grad_smooth", "float", 0.5, "dream", "Gaussian blur of the gradient, for smoother patterns.", "px",
          0.0, 4.0, clamp=True),
    Param("dream.width", "int", 224, "dream", "Width of the dreamed image.", "px", 64, 1920, clamp=True),
    Param("dream.height", "int", 224, "dream", "Height of the dreamed image.", "px", 64, 1080, clamp=True),
    Param("dream.guide_weight", "float", 1.0, "dream",
          "Weight of the push towards the current class's ImageNet targets (0 = plain Deep Dream).", "",
          0.0, 10.0, clamp=True, slew=0.3),
    Param("dream.seed", "enum", "class_image", "dream",
          "Where a new dream starts: the class's image from the preset (noise when it has none), the live "
          "spectrogram, noise, or the previous frame.",
          choices=("class_image", "spectrogram", "noise", "previous")),
    Param("dream.blend", "float", 0.0, "dream", "Pull of each frame back towards the seed image.", "",
          0.0, 1.0, clamp=True, slew=0.2),
    Param("dream.crossfade", "float", 1.0, "dream", "Cross-fade time when the class changes and a new dream starts.",
          "s", 0.0, 10.0, clamp=True),
    Param("dream.zoom", "float", 1.0, "dream", "Zoom applied to the image each frame (endless zoom above 1).", "x",
          0.9, 1.2, clamp=True, slew=0.2),
    Param("dream.rotate", "float", 0.0, "dream", "Rotation applied to the image each frame.", "deg",
          -10.0, 10.0, clamp=True, slew=0.2),
    Param("dream.translate_x", "float", 0.0, "dream", "Horizontal shift applied to the image each frame.", "px",
          -32.0, 32.0, clamp=True, slew=0.2),
    Param("dream.translate_y", "float", 0.0, "dream", "Vertical shift applied to the image each frame.", "px",
          -32.0, 32.0, clamp=True, slew=0.2),
    Param("dream.restart", "trigger", None, "dream", "Start the dream anew from the current class's seed."),
    # output
    Param("output.fps", "float", 30.0, "output", "Highest frame rate the renderer aims for.", "fps",
          1.0, 120.0, clamp=True),
    Param("output.layout", "enum", "dream", "output",
          "What the outputs show: the dream alone, or the paper's composite of dream, probabilities and spectrogram.",
          choices=("dream", "composite")),
    # control
    Param("control.osc_out_rate", "float", 30.0, "control", "Rate of the analysis messages sent over OSC.", "Hz",
          1.0, 120.0, clamp=True),
)


class Registry:
    """The declared parameters, looked up by name or OSC address."""

    def __init__(self, params: Iterable[Param]) -> None:
        self._by_name: dict[str, Param] = {}
        self._by_address: dict[str, Param] = {}
        for p in params:
            if p.name in self._by_name:
                raise ValueError(f"parameter {p.name} is declared twice")
            if p.address in self._by_address:
                raise ValueError(f"OSC address {p.address} is used by {self._by_address[p.address].name} and {p.name}")
            self._by_name[p.name] = p
            self._by_address[p.address] = p

    def __iter__(self) -> Iterator[Param]:
        return iter(self._by_name.values())

    def __len__(self) -> int:
        return len(self._by_name)

    def __contains__(self, name: object) -> bool:
        return name in self._by_name

    def names(self) -> list[str]:
        return list(self._by_name)

    def get(self, name: str) -> Param:
        try:
            return self._by_name[name]
        except KeyError:
            raise UnknownParamError(f"no parameter named {name!r}{_suggest(name, self._by_name)}") from None

    def by_address(self, address: str) -> Param:
        try:
            return self._by_address[address]
        except KeyError:
            raise UnknownParamError(f"no parameter at OSC address {address!r}{_suggest(address, self._by_address)}") from None

    def in_group(self, group: str) -> list[Param]:
        return [p for p in self if p.group == group]

    def defaults(self) -> dict[str, Any]:
        return {p.name: (0 if p.type == "trigger" else p.default) for p in self}

    # --- derived documents -------------------------------------------------
    def to_json(self) -> str:
        return json.dumps([p.to_dict() for p in self], indent=2)

    def to_markdown(self) -> str:
        rows = ["| name | OSC address | type | range / choices | default | unit | description |",
                "|---|---|---|---|---|---|---|"]
        for p in self:
            rows.append(
                f"| `{p.name}` | `{p.address}` | {p.type} | {_range_words(p)} | {_default_words(p)} "
                f"| {p.unit} | {p.description}{_extras(p)} |"
            )
        return "\n".join(rows) + "\n"

    def to_text(self) -> str:
        lines = []
        for g in GROUPS:
            params = self.in_group(g)
            if not params:
                continue
            lines.append(f"[{g}]")
            for p in params:
                unit = f" {p.unit}" if p.unit else ""
                lines.append(f"  {p.name:<24} {p.type:<7} {_range_words(p):<28} default {_default_words(p)}{unit}")
                lines.append(f"  {'':<24} {p.description}{_extras(p)}")
            lines.append("")
        return "\n".join(lines)


def _range_words(p: Param) -> str:
    if p.numeric:
        return f"{_fmt(p.min)} .. {_fmt(p.max)}"
    if p.type == "enum":
        return " / ".join(p.choices)
    return ""


def _default_words(p: Param) -> str:
    if p.type == "trigger":
        return ""
    if p.type == "string":
        return repr(p.default) if p.default else "''"
    if p.type == "bool":
        return "true" if p.default else "false"
    return str(p.default)


def _extras(p: Param) -> str:
    bits = []
    if p.clamp:
        bits.append("clamps")
    if p.slew:
        bits.append(f"slews over {_fmt(p.slew)} s")
    return f" ({', '.join(bits)})" if bits else ""


def _suggest(name: str, known: Mapping[str, Any]) -> str:
    import difflib

    close = difflib.get_close_matches(name, list(known), n=3, cutoff=0.6)
    return f"; did you mean {', '.join(close)}?" if close else ""


REGISTRY = Registry(PARAMS)


# ---------------------------------------------------------------------------
# The live store
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Change:
    """One accepted change, as delivered to subscribers."""

    name: str
    value: Any
    previous: Any
    source: str


class Snapshot(Mapping[str, Any]):
    """An immutable, consistent view of every parameter at one instant.

    Values are the smoothed (slewed) values at the snapshot's time; triggers
    read as the number of times they have fired.
    """

    __slots__ = ("_values", "version", "time")

    def __init__(self, values: dict[str, Any], version: int, t: float) -> None:
        self._values = values
        self.version = version
        self.time = t

    def __getitem__(self, name: str) -> Any:
        try:
            return self._values[name]
        except KeyError:
            raise UnknownParamError(f"no parameter named {name!r}") from None

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def fired(self, name: str, since: Snapshot | None) -> bool:
        """Whether trigger ``name`` fired between ``since`` and this snapshot."""
        if since is None:
            return self._values[name] > 0
        return self._values[name] != since[name]


@dataclass
class _Ramp:
    start: float
    target: float
    t0: float
    duration: float

    def at(self, t: float) -> float:
        if self.duration <= 0 or t >= self.t0 + self.duration:
            return self.target
        k = max(0.0, (t - self.t0) / self.duration)
        return self.start + (self.target - self.start) * k


Subscriber = Callable[[Change], None]


class ParamStore:
    """Thread-safe live values of the registry's parameters.

    Writers call :meth:`set` (or :meth:`set_normalized`, :meth:`update`,
    :meth:`fire`) from any thread; the value is validated first and an invalid
    value leaves the store untouched. Readers take a :meth:`snapshot` per frame.
    Subscribers are called after each accepted change, outside the lock, on the
    writer's thread; they must be quick and must not raise (errors are logged).
    """

    def __init__(self, registry: Registry = REGISTRY, clock: Callable[[], float] = time.monotonic) -> None:
        self.registry = registry
        self._clock = clock
        self._lock = threading.Lock()
        self._targets: dict[str, Any] = registry.defaults()
        self._ramps: dict[str, _Ramp] = {}
        self._version = 0
        self._subscribers: list[Subscriber] = []

    # --- writing -------------------------------------------------------------
    def set(self, name: str, value: Any, *, source: str = "api", glide: bool = True) -> Any:
        """Validate and set one parameter; returns the value stored (clamped where allowed)."""
        p = self.registry.get(name)
        if p.type == "trigger":
            return self.fire(name, source=source)
        v = p.validate(value)
        change = self._commit({name: v}, source, glide)
        self._notify(change)
        return v

    def set_normalized(self, name: str, x: float, *, source: str = "api", glide: bool = True) -> Any:
        """Set a parameter from 0..1 (what MIDI CCs and Resolume-style clients send)."""
        p = self.registry.get(name)
        return self.set(name, p.denormalize(x), source=source, glide=glide)

    def update(self, values: Mapping[str, Any], *, source: str = "api", glide: bool = True) -> dict[str, Any]:
        """Set several parameters at once: all are validated first, and none is set if one fails."""
        checked: dict[str, Any] = {}
        for name, value in values.items():
            p = self.registry.get(name)
            if p.type == "trigger":
                raise ParamTypeError(f"{name} is a trigger; fire it instead of setting it")
            checked[name] = p.validate(value)
        self._notify(self._commit(checked, source, glide))
        return checked

    def fire(self, name: str, *, source: str = "api") -> int:
        """Fire a trigger parameter; returns how many times it has fired."""
        p = self.registry.get(name)
        if p.type != "trigger":
            raise ParamTypeError(f"{name} is a {p.type}, not a trigger")
        with self._lock:
            count = self._targets[name] + 1
            self._targets[name] = count
            self._version += 1
        self._notify([Change(name, count, count - 1, source)])
        return count

    def reset(self, *, source: str = "reset") -> None:
        """Return every parameter (but triggers) to its declared default, without gliding."""
        self.update({p.name: p.default for p in self.registry if p.type != "trigger"}, source=source, glide=False)

    def _commit(self, values: dict[str, Any], source: str, glide: bool) -> list[Change]:
        changes = []
        with self._lock:
            now = self._clock()
            for name, v in values.items():
                previous = self._targets[name]
                if previous == v:
                    continue
                p = self.registry.get(name)
                if glide and p.slew > 0:
                    current = self._current(name, now)
                    self._ramps[name] = _Ramp(float(current), float(v), now, p.slew)
                else:
                    self._ramps.pop(name, None)
                self._targets[name] = v
                changes.append(Change(name, v, previous, source))
            if changes:
                self._version += 1
        return changes

    def _notify(self, changes: list[Change]) -> None:
        if not changes:
            return
        with self._lock:
            subscribers = list(self._subscribers)
        for change in changes:
            for fn in subscribers:
                try:
                    fn(change)
                except Exception:  # a broken listener must not stop the show
                    log.exception("parameter subscriber %r failed on %s", fn, change.name)

    # --- reading -------------------------------------------------------------
    def _current(self, name: str, now: float) -> Any:
        ramp = self._ramps.get(name)
        if ramp is None:
            return self._targets[name]
        v = ramp.at(now)
        if v == ramp.target:
            del self._ramps[name]
            return self._targets[name]
        return int(round(v)) if self.registry.get(name).type == "int" else v

    def get(self, name: str) -> Any:
        """The current value (mid-glide values included)."""
        self.registry.get(name)
        with self._lock:
            return self._current(name, self._clock())

    def target(self, name: str) -> Any:
        """The value last set, which a gliding parameter is heading for."""
        self.registry.get(name)
        with self._lock:
            return self._targets[name]

    def get_normalized(self, name: str) -> float:
        return self.registry.get(name).normalize(self.get(name))

    def snapshot(self) -> Snapshot:
        """Every parameter at one instant, consistent across parameters."""
        with self._lock:
            now = self._clock()
            values = {name: self._current(name, now) for name in self._targets}
            return Snapshot(values, self._version, now)

    @property
    def version(self) -> int:
        with self._lock:
            return self._version

    def subscribe(self, fn: Subscriber) -> Callable[[], None]:
        """Call ``fn(change)`` after every accepted change; returns a function that unsubscribes."""
        with self._lock:
            self._subscribers.append(fn)

        def unsubscribe() -> None:
            with self._lock:
                if fn in self._subscribers:
                    self._subscribers.remove(fn)

        return unsubscribe


__all__ = [
    "GROUPS",
    "PARAMS",
    "PARAM_TYPES",
    "REGISTRY",
    "Change",
    "Param",
    "ParamStore",
    "Registry",
    "Snapshot",
]
