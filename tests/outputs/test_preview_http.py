"""The preview's HTTP guard, probed as an attacker would on loopback: idle clients are closed, a foreign Host
(DNS rebinding) is refused, HEAD on the stream sends no body, clients past the bound get 503; and state.json
carries no internal ids and a readable engine panel."""

from __future__ import annotations

import json
import socket
import threading
import time
from dataclasses import replace

import numpy as np
import pytest
from test_outputs import info, pattern, wait_until

from performer.httpd import HostCheck, RateLimit, host_name, machine_names
from performer.outputs.preview import PreviewOutput
from performer.outputs.preview.panel import engine_panel


@pytest.fixture
def preview():
    out = PreviewOutput("web", port=0, fps=20, idle_timeout=0.5)
    out.open()
    yield out
    out.close()


def connect(out: PreviewOutput, timeout: float = 10.0) -> socket.socket:
    return socket.create_connection(("127.0.0.1", out.port), timeout=timeout)


def read_all(s: socket.socket, limit: int = 1 << 20) -> bytes:
    """Everything until the server closes (raises socket.timeout if it never does)."""
    data = b""
    while len(data) < limit:
        chunk = s.recv(65536)
        if not chunk:
            return data
        data += chunk
    raise AssertionError(f"the server sent more than {limit} bytes without closing")


def request(out: PreviewOutput, head: str) -> tuple[int, bytes, bytes]:
    with connect(out) as s:
        s.sendall(head.encode())
        data = read_all(s)
    top, _, body = data.partition(b"\r\n\r\n")
    return int(top.split(b" ", 2)[1]), top, body


def test_an_idle_connection_is_closed_after_the_timeout(preview):
    with connect(preview) as s:  # sends nothing at all
        assert s.recv(1024) == b""  # closed by the server (a timeout here raises instead)
    with connect(preview) as s:  # one request on a kept-alive connection, then silence
        s.sendall(b"GET /state.json HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        data = read_all(s)
    assert data.startswith(b"HTTP/1.1 200") and b'"frame": null' in data


@pytest.mark.parametrize("host", ["evil.example", "evil.example:8765", "attacker.localhost.evil.example", "10.0.0.7"])
def test_a_foreign_host_header_is_refused(preview, host):
    status, _, body = request(preview, f"GET /state.json HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n")
    assert status == 403
    assert body.decode().startswith(f"Host {host!r} is not a name of this server; allowed: 127.0.0.1, ::1, localhost")


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "LOCALHOST.", "[::1]", "127.0.0.1:{port}",
                                  "localhost:{port}", "[::1]:{port}"])
def test_a_loopback_host_header_is_served(preview, host):
    host = host.format(port=preview.port)
    status, _, body = request(preview, f"GET /state.json HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n")
    assert status == 200 and json.loads(body)["frame"] is None


def test_a_missing_host_is_allowed_only_for_http_1_0(preview):
    assert request(preview, "GET /state.json HTTP/1.0\r\n\r\n")[0] == 200
    status, _, body = request(preview, "GET /state.json HTTP/1.1\r\nConnection: close\r\n\r\n")
    assert status == 400 and b"no Host header" in body


def test_head_on_the_stream_sends_headers_only_and_closes(preview):
    stop = threading.Event()

    def feed():
        n = 0
        while not stop.is_set():
            n += 1
            preview.send(pattern(32, 32, n), info(n))
            time.sleep(0.03)

    threading.Thread(target=feed, daemon=True).start()
    try:
        assert wait_until(lambda: preview.stats.sent > 2, 5)
        status, top, body = request(preview, "HEAD /stream.mjpg HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    finally:
        stop.set()
    assert status == 200 and b"multipart/x-mixed-replace; boundary=frame" in top and body == b""


def test_clients_past_the_bound_get_503_and_the_others_are_still_served():
    out = PreviewOutput("busy", port=0, max_clients=2, idle_timeout=5.0)
    out.open()
    assert out._server is not None
    out._server.per_address = 2  # every client here is 127.0.0.1: let one address hold them all
    held = []
    try:
        for _ in range(2):  # two MJPEG streams: each holds a thread (busy, not stalled: nothing to close for room)
            s = connect(out)
            s.sendall(b"GET /stream.mjpg HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            assert s.recv(4096).startswith(b"HTTP/1.1 200")
            held.append(s)
        probe = "GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
        status, top, body = request(out, probe)
        assert status == 503 and b"Retry-After: 1" in top and b"2 clients are connected" in body
        held.pop().close()
        n = [0]

        def served() -> bool:  # the stream notices its client left when it writes the next frame
            n[0] += 1
            out.send(pattern(16, 16, n[0]), info(n[0]))
            return request(out, "GET /state.json HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")[0] == 200

        assert wait_until(served, 5, 0.1)
    finally:
        for s in held:
            s.close()
        out.close()


def test_the_rate_limit_lets_a_burst_through_then_queues_callers_in_turn():
    now, slept = [0.0], []
    rl = RateLimit(10, burst=2, clock=lambda: now[0], sleep=slept.append)
    assert [rl.delay(), rl.delay()] == [0.0, 0.0]  # the burst
    assert [round(rl.delay(), 6), round(rl.delay(), 6)] == [0.1, 0.2]  # then one slot every 1/rate, in order
    now[0] = 1.0  # a quiet second refills the bucket, up to the burst only
    rl.wait()
    rl.wait()
    rl.wait()
    assert [round(d, 6) for d in slept] == [0.1] and rl.waited == 3
    with pytest.raises(ValueError, match="rate 0 must be > 0"):
        RateLimit(0)


def test_requests_past_the_preview_rate_wait_their_turn():
    out = PreviewOutput("paced", port=0, max_rate=5)
    out.open()
    try:
        codes = [request(out, "GET /state.json HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")[0]
                 for _ in range(4)]
        limit = out._server.rate_limit if out._server is not None else None
        assert codes == [200] * 4 and limit is not None and limit.waited >= 2  # served, each after its wait
    finally:
        out.close()


def test_the_host_check_beyond_loopback():
    lan = HostCheck("192.168.1.5")
    assert lan.problem("192.168.1.5:8765") is None and lan.problem("localhost") is None
    assert lan.problem("[::1]:8765") is None and lan.problem("127.0.0.1") is None
    for name in machine_names():
        assert lan.problem(name) is None
    assert "not a name of this server" in str(lan.problem("192.168.1.6"))
    assert "not a name of this server" in str(lan.problem("evil.example"))
    every = HostCheck("0.0.0.0")
    assert every.problem("192.168.1.6:8765") is None and every.problem("[fe80::1]:80") is None
    assert every.problem("evil.example") is not None and "or any IP address" in str(every.problem("evil.example"))
    local = HostCheck("127.0.0.1")
    assert local.problem("192.168.1.5") is not None
    assert all(local.problem(n) is not None for n in machine_names() if n != "localhost")
    assert host_name("[::1]:80") == "::1" and host_name("Example.COM.:80") == "example.com"


def test_state_json_numbers_the_spectrogram_instead_of_exposing_an_id(preview):
    first = info(1)
    preview.send(pattern(16, 16), first)
    assert wait_until(lambda: preview.state()["frame"] == 1, 5)
    assert preview.state()["spectrogram"] == 1
    preview.send(pattern(16, 16), replace(first, number=2))  # the same spectrogram again
    assert wait_until(lambda: preview.state()["frame"] == 2, 5)
    assert preview.state()["spectrogram"] == 1
    png1 = preview.spectrogram_png()
    new = replace(first, number=3, spectrogram=np.zeros((64, 44), np.float32) - 80)
    preview.send(pattern(16, 16), new)
    assert wait_until(lambda: preview.state()["frame"] == 3, 5)
    assert preview.state()["spectrogram"] == 2 and preview.spectrogram_png() != png1
    status, _, body = request(preview, "GET /state.json HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
    state = json.loads(body)
    assert status == 200 and state["spectrogram"] == 2
    assert {r["label"]: r["value"] for r in state["panel"]["rows"]}["Frames"] == "30.0 fps · frame 3"


def test_the_engine_panel_reads_as_text_whatever_the_status_holds():
    status = {"uptime_s": 83.4, "preset": "club", "input": "demo", "input_lost": False, "fps": 14.96, "frames": 1200,
              "frame_ms": 66.8, "top_class": "dog_bark", "confidence": 0.873, "level_db": -23.44,
              "dropped_audio_blocks": 1, "skipped_hops": 0, "render_errors": 0, "analysis_errors": 0,
              "outputs": {"ndi": {"state": "open", "sent": 1190, "dropped": 10, "skipped": 0, "errors": 0, "fps": 14.9,
                                  "error": None},
                          "rec": {"state": "failed", "sent": 0, "dropped": 0, "skipped": 0, "errors": 1, "fps": 0.0,
                                  "error": "ffmpeg is not installed"}},
              "future_thing": {"a": [1, 2], "b": None}}
    panel = engine_panel(status, 1200, -23.44)
    rows = {r["label"]: (r["value"], r["warn"]) for r in panel["rows"]}
    assert rows["Engine"] == ("running · up 1 min 23 s", False)
    assert rows["Frames"] == ("15.0 fps · 66.8 ms a frame · frame 1200", False)
    assert rows["Sound"] == ("dog bark · confidence 0.87 · -23.4 dB", False)
    assert rows["Drops"] == ("1 audio block · 0 analysis hops", True)
    assert rows["Errors"] == ("none", False) and rows["Future thing"] == ("a 1, 2, b -", False)
    assert [o["output"] for o in panel["outputs"]] == ["ndi", "rec"]
    rec = panel["outputs"][1]
    assert rec["state"] == "failed" and rec["errors"] == "1" and rec["warn"]
    assert rec["error"] == "ffmpeg is not installed"
    values = [r["value"] for r in panel["rows"]] + [str(v) for o in panel["outputs"] for v in o.values()]
    assert not any(c in v for v in values for c in "{}[]")
    lost = engine_panel({"input_lost": True, "input_error": "device vanished", "fps": float("nan"), "outputs": [1]})
    lost_rows = {r["label"]: (r["value"], r["warn"]) for r in lost["rows"]}
    assert lost_rows["Engine"] == ("running, input lost", True) and lost_rows["Frames"] == ("- fps", False)
    assert lost_rows["Errors"] == ("input: device vanished", True) and lost["outputs"] == []
    assert engine_panel(None)["rows"][0]["value"] == "waiting for the engine"
    clocked = engine_panel({"state": "warming up", "uptime_s": 3, "fps": 30.0, "fps_p5": 28.44, "late_ticks": 2,
                            "dream_fps": 9.5, "frame_ms": 105.2, "dream_size": [512, 288], "dream_frames": 31,
                            "video": None}, 90)
    clocked_rows = {r["label"]: (r["value"], r["warn"]) for r in clocked["rows"]}
    assert clocked_rows["Engine"] == ("warming up · up 3 s", False)
    assert clocked_rows["Frames"] == ("30.0 fps · slowest 5% 28.4 fps · frame 90 · 2 late ticks", False)
    assert clocked_rows["Dream"] == ("9.5 fps · 105.2 ms a frame · 512×288 · 31 frames", False)
    assert "Video" not in clocked_rows


@pytest.mark.parametrize("kw, message", [({"max_clients": 0}, "max_clients 0 is not a whole number >= 1"),
                                         ({"idle_timeout": 0}, r"idle_timeout 0 is not in \(0, 3600\] seconds"),
                                         ({"max_rate": 0.5}, "max_rate 0.5 is not in 1..10000 requests a second")])
def test_the_guard_settings_are_checked_with_what_is_allowed(kw, message):
    from performer.errors import OutputError

    with pytest.raises(OutputError, match=f"preview output 'web': {message}"):
        PreviewOutput("web", port=0, **kw)
