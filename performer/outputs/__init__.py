"""Frames out: the output base class and its sinks (NDI, Syphon, Spout, preview, recorder, folder), the layouts.

One concept per module: :mod:`~performer.outputs.frame_info` (what is known about a frame),
:mod:`~performer.outputs.base` (the non-blocking output base class, its stats, the null output),
:mod:`~performer.outputs.layout` (dream and composite layouts, the spectrogram colours),
:mod:`~performer.outputs.convert` (RGBA conversion, resizing, sender names), one module per sink
(:mod:`~performer.outputs.folder`, :mod:`~performer.outputs.record`, :mod:`~performer.outputs.ndi`,
:mod:`~performer.outputs.syphon`, :mod:`~performer.outputs.spout`, :mod:`performer.outputs.preview`) and
:mod:`~performer.outputs.factory` (outputs from a preset's tables). This package re-exports their public names.
"""

from __future__ import annotations

from performer.outputs.base import FrameOutput, NullOutput, OutputStats
from performer.outputs.convert import sender_name, to_rgba
from performer.outputs.factory import OUTPUT_KINDS, build_outputs, make_output
from performer.outputs.folder import FolderOutput
from performer.outputs.frame_info import FrameInfo
from performer.outputs.layout import FITS, LAYOUTS, Layout, fit_into, spectrogram_rgb
from performer.outputs.ndi import NDIOutput
from performer.outputs.record import RecordOutput
from performer.outputs.spout import SpoutOutput
from performer.outputs.syphon import SyphonOutput

__all__ = [
    "FITS",
    "LAYOUTS",
    "OUTPUT_KINDS",
    "build_outputs",
    "fit_into",
    "FolderOutput",
    "FrameInfo",
    "FrameOutput",
    "Layout",
    "make_output",
    "NDIOutput",
    "NullOutput",
    "OutputStats",
    "RecordOutput",
    "sender_name",
    "spectrogram_rgb",
    "SpoutOutput",
    "SyphonOutput",
    "to_rgba",
]
