"""``performer glove calibrate`` and ``performer midi ports|learn``."""

from __future__ import annotations

import argparse
import sys
import time

from performer.cli.types import (
    existing_file,
    float_range,
    int_range,
    nonempty,
    positive_float,
    positive_int,
    writable_file,
)


def register(sub: argparse._SubParsersAction) -> None:
    g = sub.add_parser("glove", help="flex-sensor glove tools (calibrate)")
    gsub = g.add_subparsers(dest="glove_command", metavar="ACTION", required=True)
    c = gsub.add_parser("calibrate", help="record the open hand and the fist, save the calibration file",
                        description="Reads the glove on a serial port: hold the hand open, then make a fist. "
                        "Name the saved file in the preset's [glove] calibration key.")
    c.add_argument("--port", required=True, type=nonempty, help="serial port, e.g. /dev/ttyACM0 or COM3")
    c.add_argument("--baud", type=positive_int, default=115200, help="serial speed in baud (default 115200)")
    c.add_argument("--fingers", type=int_range(1, 32), default=5,
                   help="readings per line, one per flex sensor (default 5)")
    c.add_argument("--seconds", type=positive_float, default=3.0,
                   help="length of each recording in seconds (default 3)")
    c.add_argument("--pause", type=float_range(0.0), default=2.0,
                   help="seconds to get into each pose before it is recorded, counted down; the readings of that "
                   "time are thrown away (default 2)")
    c.add_argument("--out", type=writable_file, default="glove-calibration.json",
                   help="calibration file to write (default glove-calibration.json); name it in the preset's "
                   "[glove] calibration key")
    c.set_defaults(func=cmd_calibrate)

    m = sub.add_parser("midi", help="MIDI tools (list ports, learn a mapping into a preset)")
    msub = m.add_subparsers(dest="midi_command", metavar="ACTION", required=True)
    p = msub.add_parser("ports", help="list MIDI input and output ports",
                        description="List MIDI ports through the MIDI system that works here: the ALSA sequencer, "
                        "else JACK MIDI when a JACK server runs; MIDO_BACKEND chooses one explicitly.")
    p.set_defaults(func=cmd_ports)
    learn = msub.add_parser("learn", help="map the next control moved to a parameter and save it in a preset file")
    learn.add_argument("param", type=nonempty, help="parameter name or OSC address, e.g. dream.lr")
    learn.add_argument("--preset", type=existing_file, required=True, help="preset file to add the mapping to")
    learn.add_argument("--port", default="", help="input port name substring (default: every input)")
    learn.add_argument("--timeout", type=positive_float, default=30.0,
                       help="seconds to wait for a control to move (default 30)")
    learn.set_defaults(func=cmd_learn)


def cmd_calibrate(args: argparse.Namespace) -> int:
    import serial

    from performer.control.glove import calibrate, parse_line

    try:
        ser = serial.Serial(args.port, args.baud, timeout=0.2)
    except (OSError, serial.SerialException) as e:
        print(f"cannot open glove port {args.port}: {e}", file=sys.stderr)
        return 1
    with ser:
        ser.reset_input_buffer()

        def read_sample():
            return parse_line(ser.readline(), args.fingers)

        try:
            cal = calibrate(read_sample, seconds=args.seconds, pause=args.pause,
                            say=lambda text: print(text, flush=True))
        except ValueError as e:
            print(e, file=sys.stderr)
            return 1
    cal.save(args.out)
    print(f"open: {[round(v) for v in cal.open]}\nfist: {[round(v) for v in cal.fist]}\nsaved {args.out}")
    return 0


def cmd_ports(args: argparse.Namespace) -> int:
    import mido

    from performer.errors import ControlError
    from performer.midi.backend import choose_backend

    try:
        backend = choose_backend()
        ins, outs = mido.get_input_names(), mido.get_output_names()
    except ControlError as e:
        print(e, file=sys.stderr)
        return 1
    except Exception as e:
        print(f"MIDI is unavailable: {e}", file=sys.stderr)
        return 1
    print(f"MIDI system: {backend.description}")
    print("inputs:\n" + "".join(f"  {n}\n" for n in ins) + "outputs:\n" + "".join(f"  {n}\n" for n in outs), end="")
    return 0


def cmd_learn(args: argparse.Namespace) -> int:
    from performer.control.midi import MidiController
    from performer.errors import PerformerError
    from performer.midi.backend import choose_backend
    from performer.params import ParamStore
    from performer.presets import load_preset, save_preset

    try:
        preset = load_preset(args.preset)
        choose_backend()  # no MIDI system at all: say so now rather than after the timeout
    except PerformerError as e:
        print(e, file=sys.stderr)
        return 1
    learned: list = []
    midi = MidiController(ParamStore(), {**preset.midi, "input": args.port}, on_learned=learned.append)
    try:
        midi.arm(args.param)
    except PerformerError as e:
        print(e, file=sys.stderr)
        return 1
    midi.start()
    print(f"move a control to map it to {midi.armed} ...", flush=True)
    deadline = time.monotonic() + args.timeout
    while not learned and time.monotonic() < deadline:
        time.sleep(0.05)
    midi.stop()
    if not learned:
        print(f"no control moved within {args.timeout:g} s; ports seen: {', '.join(midi.stats.ports) or 'none'}",
              file=sys.stderr)
        return 1
    preset.midi = {**preset.midi, "cc": learned[-1]}
    save_preset(preset, args.preset)
    m = learned[-1][-1]
    print(f"CC {m['cc']} on channel {m.get('channel', 'any')} -> {m['param']}; saved in {args.preset}")
    return 0
