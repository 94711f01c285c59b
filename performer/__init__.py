"""Performer: a headless live-performance server that turns sound into Deep Dream images."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("performer")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+source"

__all__ = ["__version__"]
