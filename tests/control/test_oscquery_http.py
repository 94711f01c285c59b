"""OSCQuery's HTTP side under load and attack on loopback (50 clients at once, idle clients, a foreign Host), and
mDNS: nothing is advertised, and no multicast socket opened, while OSC listens on loopback only."""

from __future__ import annotations

import json
import logging
import select
import socket
import threading
import urllib.request

import pytest

from performer.control import COMMANDS
from performer.control.oscquery import OscQueryServer, mdns_plan
from performer.params import ParamStore

CLIENTS = 50


@pytest.fixture
def server():
    srv = OscQueryServer(ParamStore(), osc_port=9999, port=0, commands=COMMANDS, idle_timeout=0.5)
    yield srv
    srv.stop()


def raw(port: int, head: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(head)
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    return data


def test_fifty_clients_connecting_at_once_are_all_queued_and_answered(server):
    # The listen backlog decides how many connections the kernel completes before the server accepts any: connect
    # 50 while the server is not accepting yet (bound, not started), then let it serve them all.
    socks = []
    try:
        for _ in range(CLIENTS):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.setblocking(False)
            s.connect_ex(("127.0.0.1", server.port))
            socks.append(s)
        pending = list(socks)
        for _ in range(30):  # up to 3 s; a queued connection completes at once, a refused one never does
            _, ready, _ = select.select([], pending, [], 0.1)
            pending = [s for s in pending if s not in ready]
            if not pending:
                break
        connected = [s for s in socks if s not in pending and s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0]
        assert len(connected) == CLIENTS, f"only {len(connected)} of {CLIENTS} connections were queued"
        server.start()
        for s in socks:
            s.setblocking(True)
            s.settimeout(10)
            s.sendall(b"GET /?HOST_INFO HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        answers = []
        for s in socks:
            data = b""
            while chunk := s.recv(65536):
                data += chunk
            answers.append(data)
    finally:
        for s in socks:
            s.close()
    assert all(a.startswith(b"HTTP/1.0 200") and b'"OSC_PORT": 9999' in a for a in answers)


def test_fifty_concurrent_requests_all_succeed(server):
    server.start()
    barrier, results = threading.Barrier(CLIENTS), []

    def client() -> None:
        barrier.wait(10)
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{server.port}/dream/iterations?VALUE", timeout=10) as r:
                results.append((r.status, json.loads(r.read())))
        except Exception as e:
            results.append((0, repr(e)))

    threads = [threading.Thread(target=client) for _ in range(CLIENTS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert len(results) == CLIENTS and all(code == 200 and "VALUE" in body for code, body in results), results


def test_an_idle_client_is_closed_and_a_foreign_host_refused(server):
    server.start()
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as s:
        assert s.recv(1024) == b""  # sent nothing; closed after idle_timeout (a hang raises socket.timeout)
    refused = raw(server.port, b"GET / HTTP/1.1\r\nHost: rebind.evil.example:80\r\n\r\n")
    assert refused.startswith(b"HTTP/1.0 403") and b"'rebind.evil.example:80' is not a name of this server" in refused
    served = raw(server.port, f"GET /?HOST_INFO HTTP/1.1\r\nHost: localhost:{server.port}\r\n\r\n".encode())
    assert served.startswith(b"HTTP/1.0 200")
    head = raw(server.port, b"HEAD / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    assert head.startswith(b"HTTP/1.0 200") and head.endswith(b"\r\n\r\n")


def test_mdns_is_planned_only_beyond_loopback():
    assert mdns_plan("127.0.0.1") is None and mdns_plan("localhost") is None and mdns_plan("127.0.0.2") is None
    assert mdns_plan("::1") is None
    assert mdns_plan("0.0.0.0") == ("all", []) and mdns_plan("") == ("all", []) and mdns_plan("::") == ("all", [])
    assert mdns_plan("192.168.1.5") == ("one", ["192.168.1.5"])


def test_zeroconf_is_not_started_for_a_loopback_host(server, caplog):
    with caplog.at_level(logging.INFO, logger="performer.control.oscquery"):
        server.start()
    assert server._zeroconf is None and server._services == []
    assert "OSC listens on 127.0.0.1 (this machine only): not advertised over mDNS" in caplog.text


def test_stop_without_start_returns():
    srv = OscQueryServer(ParamStore(), osc_port=9999, port=0)
    stopper = threading.Thread(target=srv.stop, daemon=True)
    stopper.start()
    stopper.join(10)
    assert not stopper.is_alive(), "stop() hung waiting for a server loop that never ran"
