"""A raw UDP OSC client for the OSC tests: sends messages or any bytes, reads the server's replies."""

from __future__ import annotations

import socket
import time

from pythonosc.osc_packet import OscPacket

from performer.control.osc import build_message


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def receive(sock: socket.socket, seconds: float, limit: int = 2000) -> list[tuple[str, list]]:
    """Every message ``sock`` receives within ``seconds`` (at most ``limit`` packets), as (address, arguments)."""
    out: list[tuple[str, list]] = []
    deadline = time.monotonic() + seconds
    sock.settimeout(0.05)
    packets = 0
    while time.monotonic() < deadline and packets < limit:
        try:
            data, _ = sock.recvfrom(65536)
        except TimeoutError:
            continue
        packets += 1
        out += [(m.message.address, list(m.message.params)) for m in OscPacket(data).messages]
    return out


class Client:
    """A raw UDP OSC client on 127.0.0.1 that can read the server's replies."""

    def __init__(self, port: int, timeout: float = 2.0) -> None:
        self.port = port
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(timeout)

    def send(self, address: str, *args) -> None:
        self.sock.sendto(build_message(address, args), ("127.0.0.1", self.port))

    def raw(self, data: bytes) -> None:
        self.sock.sendto(data, ("127.0.0.1", self.port))

    def reply(self) -> tuple[str, list]:
        data, _ = self.sock.recvfrom(65536)
        msg = OscPacket(data).messages[0].message
        return msg.address, list(msg.params)

    def drain(self, quiet: float = 0.2) -> int:
        """Read replies until none comes for ``quiet`` seconds; returns how many were read."""
        n, timeout = 0, self.sock.gettimeout()
        self.sock.settimeout(quiet)
        try:
            while True:
                self.sock.recvfrom(65536)
                n += 1
        except OSError:  # socket.timeout
            return n
        finally:
            self.sock.settimeout(timeout)

    def reply_to(self, address: str) -> list:
        """The arguments of the next reply at ``address``, skipping others (error replies of earlier packets)."""
        while True:
            got, args = self.reply()
            if got == address:
                return args

    def close(self) -> None:
        self.sock.close()
