"""Argument types for the command line: a bad option is refused while parsing, before any model loads.

Each function takes the option's text and returns the parsed value, or raises
:class:`argparse.ArgumentTypeError` with a message naming the value and what is
allowed; argparse prints it as ``performer serve: error: argument --osc-out:
...`` and exits with status 2.
"""

from __future__ import annotations

import argparse
import ipaddress
import math
import os
import stat
from collections.abc import Callable
from pathlib import Path


def _number(text: str, kind: type, what: str) -> float:
    try:
        value = kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not {what}") from None
    if isinstance(value, float) and not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"{text!r} is not {what}")
    return value


def int_range(lo: int, hi: int | None = None, what: str = "") -> Callable[[str], int]:
    """An integer in ``[lo, hi]`` (no upper bound when ``hi`` is None)."""
    allowed = f"an integer in [{lo}, {hi}]" if hi is not None else f"an integer >= {lo}"

    def parse(text: str) -> int:
        value = int(_number(text.strip(), int, allowed))
        if value < lo or (hi is not None and value > hi):
            raise argparse.ArgumentTypeError(f"{text!r} is not {allowed}{what}")
        return value

    parse.__name__ = "integer"  # argparse names the type in some messages
    return parse


def float_range(lo: float, hi: float | None = None, *, lo_open: bool = False) -> Callable[[str], float]:
    """A finite number above ``lo`` (or at it, unless ``lo_open``) and at most ``hi``."""
    low = f"> {lo:g}" if lo_open else f">= {lo:g}"
    allowed = f"a number {low}" + (f" and <= {hi:g}" if hi is not None else "")

    def parse(text: str) -> float:
        value = float(_number(text.strip(), float, allowed))
        if value < lo or (lo_open and value == lo) or (hi is not None and value > hi):
            raise argparse.ArgumentTypeError(f"{text!r} is not {allowed}")
        return value

    parse.__name__ = "number"
    return parse


positive_int = int_range(1)
positive_float = float_range(0.0, lo_open=True)
udp_port = int_range(1, 65535)
port_or_off = int_range(0, 65535, " (0: off)")
port_or_any = int_range(0, 65535, " (0: any free port)")


def nonempty(text: str) -> str:
    """Any text but an empty one (``--input ""`` is a mistake, not a request for the default)."""
    if not text.strip():
        raise argparse.ArgumentTypeError("an empty value is not allowed; leave the option out for the default")
    return text


def host(text: str) -> str:
    """A host name or IP address (not checked for existence: a name may resolve later)."""
    text = text.strip()
    if not text or any(c.isspace() for c in text) or "/" in text:
        raise argparse.ArgumentTypeError(f"{text!r} is not a host name or IP address")
    return text


def ip_address(text: str) -> str:
    """An IPv4 or IPv6 address such as 192.168.1.20."""
    try:
        return str(ipaddress.ip_address(text.strip()))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an IP address (e.g. 192.168.1.20)") from None


def host_port(text: str) -> tuple[str, int]:
    """``HOST:PORT`` (``[IPv6]:PORT`` for IPv6), e.g. 127.0.0.1:7000."""
    example = "HOST:PORT, e.g. 127.0.0.1:7000"
    name, sep, port = text.strip().rpartition(":")
    if name.startswith("[") and name.endswith("]"):
        name = name[1:-1]
    if not sep or not name:
        raise argparse.ArgumentTypeError(f"{text!r} is not {example}")
    try:
        number = udp_port(port)
        host(name)
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(f"{text!r} is not {example} (port 1-65535)") from None
    return name, number


def path_kind(path: Path) -> str:
    """What a path that is there but is no regular file is, in words: ``a folder``, ``a character device`` ..."""
    try:
        mode = path.stat().st_mode
    except OSError as e:
        return f"unreadable ({e.strerror or e})"
    for test, words in ((stat.S_ISDIR, "a folder"), (stat.S_ISCHR, "a character device"),
                        (stat.S_ISBLK, "a block device"), (stat.S_ISFIFO, "a named pipe"), (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return words
    return "not a regular file"


def is_special(path: Path) -> bool:
    """``path`` is there but is neither a regular file nor a folder (a device, a pipe, a socket)."""
    return os.path.lexists(path) and not path.is_file() and not path.is_dir()


def existing_file(text: str) -> Path:
    """A path to a file that exists."""
    path = Path(text).expanduser()
    if not text.strip():
        raise argparse.ArgumentTypeError("an empty path is not allowed")
    if path.is_dir() or is_special(path):
        raise argparse.ArgumentTypeError(f"{text} is {path_kind(path)}, not a file")
    if not path.is_file():
        raise argparse.ArgumentTypeError(f"{text} does not exist")
    return path


SOUND_FILES = "a sound file (WAV, FLAC, OGG, AIFF, MP3, ...)"


def sound_file(text: str) -> str:
    """A sound file's path or a name that is no path (an input device, ``demo``): not empty, and not a device, pipe
    or socket. A missing file or a folder is left to the command, which names it."""
    text = nonempty(text)
    path = Path(text).expanduser()
    if is_special(path):
        raise argparse.ArgumentTypeError(f"{text} is {path_kind(path)}, not a sound file; allowed: {SOUND_FILES}")
    return text


def existing_dir(text: str) -> Path:
    """A path to a folder that exists."""
    path = Path(text).expanduser()
    if not text.strip() or not path.is_dir():
        raise argparse.ArgumentTypeError(f"{text!r} is not an existing folder")
    return path


def writable_dir(text: str) -> Path:
    """A folder that exists or can be created (its nearest existing parent is a writable folder)."""
    path = Path(text).expanduser()
    if not text.strip():
        raise argparse.ArgumentTypeError("an empty path is not allowed")
    if path.exists() and not path.is_dir():
        raise argparse.ArgumentTypeError(f"{text} exists and is not a folder")
    _writable_parent(path, text)
    return path


def writable_file(text: str) -> Path:
    """A file that can be written: not a folder, in a folder that exists or can be created."""
    path = Path(text).expanduser()
    if not text.strip():
        raise argparse.ArgumentTypeError("an empty path is not allowed")
    if path.is_dir():
        raise argparse.ArgumentTypeError(f"{text} is a folder, not a file")
    _writable_parent(path.parent, text)
    return path


def _writable_parent(path: Path, text: str) -> None:
    probe = path
    while not probe.exists():
        if probe.parent == probe:
            break
        probe = probe.parent
    if not probe.is_dir():
        raise argparse.ArgumentTypeError(f"{text} cannot be created: {probe} is not a folder")
    if not os.access(probe, os.W_OK):
        raise argparse.ArgumentTypeError(f"{text} cannot be created: {probe} is not writable")


def number_list(lo: float = 0.0) -> Callable[[str], str]:
    """Comma-separated numbers above ``lo``, e.g. ``0.5,1,2``; checked, and passed on as the text."""
    item = float_range(lo, lo_open=True)

    def parse(text: str) -> str:
        parts = [p for p in text.split(",") if p.strip()]
        if not parts:
            raise argparse.ArgumentTypeError(f"{text!r} is not a comma-separated list of numbers, e.g. 0.5,1,2")
        try:
            return ",".join(f"{item(p):g}" for p in parts)
        except argparse.ArgumentTypeError as e:
            raise argparse.ArgumentTypeError(f"in {text!r}: {e}") from None

    parse.__name__ = "list"
    return parse
