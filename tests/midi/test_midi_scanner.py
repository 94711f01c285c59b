"""The one MIDI input scanner: a reader process's frames handed over as mido messages, its ports and its bad bytes
reported; the thread here when no process starts."""

from __future__ import annotations

import logging

from performer.midi import scanner as scanner_module
from performer.midi.scanner import InputScanner


class FakeProcess:
    def __init__(self, settings, on_frame, starts=True):
        self.settings, self.on_frame, self.starts, self.stopped = settings, on_frame, starts, False
        self.pid = 4242 if starts else None

    def start(self):
        return self.starts

    def stop(self):
        self.stopped = True


def test_frames_from_the_reader_process_reach_the_owner(caplog):
    made, got, ports, bad = [], [], [], []

    def process(settings, on_frame):
        made.append(FakeProcess(settings, on_frame))
        return made[-1]

    owner_log = logging.getLogger("test.owner")
    s = InputScanner("clock", lambda port, msg, t: got.append((port, msg.type, t)), what="MIDI clock input",
                     client_name="performer-test", transport_only=True, process=process,
                     on_ports=lambda p, e: ports.append((p, e)), on_bad=lambda: bad.append(1), logger=owner_log)
    s.start()
    assert s.pid == 4242 and s.ready() is None
    assert made[0].settings == {"match": "clock", "scan_every": 1.0, "transport_only": True,
                                "client_name": "performer-test", "what": "MIDI clock input"}
    with caplog.at_level(logging.INFO, logger="test.owner"):
        made[0].on_frame({"lines": [(logging.INFO, "MIDI clock input open: a")], "ports": ["a"], "error": "",
                          "backend": "JACK", "events": [("a", bytes([0xFA]), 1.0), ("a", bytes([0xF0]), 1.5),
                                                        ("a", bytes([0xF8]), 2.0)]})
    assert got == [("a", "start", 1.0), ("a", "clock", 2.0)]
    assert ports == [(["a"], "")] and s.bad == 1 and bad == [1]
    assert [(r.name, r.getMessage()) for r in caplog.records] == [("test.owner", "MIDI clock input open: a")]
    s.stop()
    assert made[0].stopped


def test_a_process_that_does_not_start_leaves_the_reading_to_a_thread(monkeypatch):
    readers = []

    class FakeReader:
        def __init__(self, match, handler, **kwargs):
            self.match, self.handler, self.kwargs, self.error = match, handler, kwargs, "no MIDI"
            self.started = self.stopped = False
            readers.append(self)

        def start(self):
            self.started = True

        def stop(self):
            self.stopped = True

        def ready(self):
            return ["b"]

    monkeypatch.setattr(scanner_module, "PortReader", FakeReader)
    got, ports = [], []
    s = InputScanner("ctl", lambda port, msg, t: got.append((port, msg, t)), what="MIDI input",
                     client_name="performer-test", process=lambda st, f: FakeProcess(st, f, starts=False),
                     on_ports=lambda p, e: ports.append((p, e)), exclude=lambda name: name == "ours")
    s.start()
    (reader,) = readers
    assert reader.started and s.pid is None and s.ready() == ["b"]
    assert reader.kwargs["accept"] is None and reader.kwargs["exclude"]("ours")
    reader.handler("b", "msg", 3.0)
    assert got == [("b", "msg", 3.0)] and ports == [(["b"], "no MIDI")]
    s.stop()
    assert reader.stopped and s.ready() is None


def test_the_midi_package_stays_below_control_and_tempo():
    import ast
    from pathlib import Path

    import performer.midi

    found = []
    for path in Path(performer.midi.__file__).parent.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            found += [f"{path.name}: {n}" for n in names if n.startswith(("performer.control", "performer.tempo"))]
    assert found == []
