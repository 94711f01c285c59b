"""Which MIDI system to use: the ALSA sequencer, JACK MIDI, or what ``MIDO_BACKEND`` names.

mido's rtmidi backend asks for the ALSA sequencer on Linux by default. Where
there is none (no ``/dev/snd/seq``: containers, machines without the snd-seq
module) ALSA prints its own errors and nothing says what to do. So on Linux the
choice is made here, before rtmidi is asked anything: the ALSA sequencer when it
exists, else JACK MIDI when a JACK server is running, else an error that says
how to get MIDI. The JACK server is probed through JACK-Client with libjack's
messages silenced, so a missing server costs no noise. ``MIDO_BACKEND`` set in
the environment is always honoured (and checked the same way). Elsewhere (macOS,
Windows) mido's default is kept.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass

from performer.errors import ControlError

log = logging.getLogger(__name__)

ALSA = "mido.backends.rtmidi/LINUX_ALSA"
JACK = "mido.backends.rtmidi/UNIX_JACK"
ALSA_SEQUENCER = "/dev/snd/seq"


@dataclass(frozen=True)
class Backend:
    name: str | None
    """mido backend name; None: mido's default (not Linux)."""
    description: str


def alsa_sequencer_present(path: str = ALSA_SEQUENCER) -> bool:
    return os.path.exists(path)


def _quiet(message: str) -> None:
    log.debug("libjack: %s", message)


def jack_server_running() -> bool:
    """Whether a JACK server answers (never starts one; libjack's complaints go to the debug log)."""
    try:
        import jack
    except (ImportError, OSError) as e:  # JACK-Client or libjack not installed: no JACK here
        log.debug("JACK is not available: %s", e)
        return False
    jack.set_error_function(_quiet)
    jack.set_info_function(_quiet)
    try:
        client = jack.Client("performer-probe", no_start_server=True)
    except jack.JackError:
        return False
    client.close()
    return True


def choose_backend(env: Mapping[str, str] | None = None) -> Backend:
    """Pick (and select in mido) the MIDI system that works here; :class:`ControlError` says how when none does."""
    env = os.environ if env is None else env
    requested = env.get("MIDO_BACKEND", "").strip()
    if requested:
        if "UNIX_JACK" in requested and not jack_server_running():
            raise ControlError(f"MIDO_BACKEND={requested} asks for JACK MIDI, but no JACK server is running: "
                               "start one (e.g. `jackd -d alsa`, or `jackd -d dummy` without a sound card)")
        if "LINUX_ALSA" in requested and not alsa_sequencer_present():
            raise ControlError(f"MIDO_BACKEND={requested} asks for the ALSA sequencer, but {ALSA_SEQUENCER} "
                               f"does not exist (load it with `modprobe snd-seq`, or use JACK: {JACK})")
        _select(requested)
        return Backend(requested, f"{requested} (from MIDO_BACKEND)")
    if not sys.platform.startswith("linux"):
        return Backend(None, "the system's MIDI (mido's default backend)")
    if alsa_sequencer_present():
        _select(ALSA)
        return Backend(ALSA, "ALSA sequencer")
    if jack_server_running():
        _select(JACK)
        return Backend(JACK, f"JACK MIDI (there is no ALSA sequencer, {ALSA_SEQUENCER})")
    raise ControlError(f"MIDI is unavailable: there is no ALSA sequencer ({ALSA_SEQUENCER} is missing) and no "
                       "JACK server is running; start a JACK server (e.g. `jackd -d alsa`, or `jackd -d dummy` "
                       "without a sound card) and Performer uses JACK MIDI, or load the ALSA sequencer "
                       f"(`modprobe snd-seq`); MIDO_BACKEND chooses a mido backend explicitly (e.g. {JACK})")


def _select(name: str) -> None:
    import mido

    if getattr(mido.backend, "name", None) != name:
        mido.set_backend(name, load=True)
        log.debug("MIDI backend: %s", name)
