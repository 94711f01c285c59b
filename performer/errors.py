"""Exception classes, one family per subsystem.

Every message names the thing, the value and what is allowed, so that a
performer reading a log line on stage knows what to change.
"""

from __future__ import annotations


class PerformerError(Exception):
    """Base class for every error Performer raises on purpose."""


class ParamError(PerformerError):
    """A parameter could not be set or read."""


class UnknownParamError(ParamError, LookupError):
    """No parameter of that name or address exists."""


class ParamTypeError(ParamError, TypeError):
    """A value of the wrong type was given to a parameter."""


class ParamRangeError(ParamError, ValueError):
    """A value outside a parameter's range or choices was given."""


class PresetError(PerformerError):
    """A preset file is unreadable or invalid; ``problems`` lists every issue found."""

    def __init__(self, message: str, problems: list | None = None) -> None:
        super().__init__(message)
        self.problems = list(problems or [])


class AudioError(PerformerError):
    """An audio device or file could not be opened or read."""


class FeatureError(PerformerError):
    """Audio could not be turned into features (NaN samples, wrong shape, ...)."""


class DataError(PerformerError):
    """A dataset is missing, malformed or has unreadable files."""


class ModelError(PerformerError):
    """A model checkpoint or pretrained weights could not be loaded."""


class DreamError(PerformerError):
    """The dream renderer was given settings it cannot use."""


class OutputError(PerformerError):
    """A frame output could not be opened or failed while sending."""


class ControlError(PerformerError):
    """A controller (OSC, MIDI, glove) received or produced something invalid."""
