"""Frames out: the output base class and its sinks (NDI, Syphon, Spout, preview, recorder, folder), the layouts."""

from __future__ import annotations

from performer.outputs.sinks import (
    FITS,
    LAYOUTS,
    OUTPUT_KINDS,
    build_outputs,
    fit_into,
    FolderOutput,
    FrameInfo,
    FrameOutput,
    Layout,
    make_output,
    ndi_library,
    NDIOutput,
    NullOutput,
    OutputStats,
    RecordOutput,
    sender_name,
    spectrogram_rgb,
    SpoutOutput,
    SyphonOutput,
    to_rgba,
)

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
    "ndi_library",
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
