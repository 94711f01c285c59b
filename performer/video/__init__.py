"""Video in: the VJ's own content as a live seed the dream works on (``video.weight``, ``video.mode``).

One concept per module: :mod:`~performer.video.base` (the source base class: its thread, newest-frame slot,
stats and :class:`VideoError`), :mod:`~performer.video.convert` (NDI's and OpenCV's pixel formats to RGB), one
module per kind of source (:mod:`~performer.video.ndi`, :mod:`~performer.video.camera` for cameras and files)
and :mod:`~performer.video.factory` (a source from a spec such as ``ndi:Stage`` or ``camera:0``, or from a
preset's ``[video]`` table). Each source's library (ndi-python, OpenCV) is imported only when it opens.
"""

from __future__ import annotations

from performer.video.base import VideoError, VideoSource, VideoStats
from performer.video.camera import CameraVideo
from performer.video.convert import shrink, to_rgb, uyvy_to_rgb
from performer.video.factory import SPEC_WORDS, open_video, parse_spec, spec_problem, video_from_preset
from performer.video.ndi import NDIVideo, name_matches

__all__ = [
    "SPEC_WORDS",
    "CameraVideo",
    "NDIVideo",
    "VideoError",
    "VideoSource",
    "VideoStats",
    "name_matches",
    "open_video",
    "parse_spec",
    "shrink",
    "spec_problem",
    "to_rgb",
    "uyvy_to_rgb",
    "video_from_preset",
]
