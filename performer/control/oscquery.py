"""OSCQuery: the parameter tree as HTTP JSON, so VDMX, ossia score or Chataigne find every knob.

Follows the OSCQuery proposal: ``GET /`` is the whole tree (nodes with
FULL_PATH, CONTENTS, TYPE, RANGE, VALUE, DESCRIPTION, ACCESS, UNIT),
``GET /dream/iterations`` one node, ``GET /dream/iterations?VALUE`` one
attribute, ``GET /?HOST_INFO`` the server's OSC port and the extensions it
supports. Advertised over mDNS as ``_oscjson._tcp`` and ``_osc._udp`` when
zeroconf is installed. Values are read from the live store on each request.
LISTEN over WebSocket is not implemented (HOST_INFO says so); clients poll.
"""

from __future__ import annotations

import json
import logging
import socket
import threading
from collections.abc import Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

from performer.errors import ControlError
from performer.params import Param, ParamStore

if TYPE_CHECKING:
    from zeroconf import Zeroconf

log = logging.getLogger(__name__)

ACCESS_NONE, ACCESS_READ, ACCESS_WRITE, ACCESS_RW = 0, 1, 2, 3
_TYPE = {"float": "f", "int": "i", "bool": "T", "enum": "s", "string": "s", "trigger": "N"}
EXTENSIONS = {"ACCESS": True, "VALUE": True, "RANGE": True, "DESCRIPTION": True, "TAGS": False, "CLIPMODE": True,
              "UNIT": True, "CRITICAL": False, "LISTEN": False, "PATH_CHANGED": False}


def param_node(p: Param, value: Any) -> dict[str, Any]:
    node: dict[str, Any] = {"FULL_PATH": p.address, "TYPE": _TYPE[p.type], "DESCRIPTION": p.description,
                            "ACCESS": ACCESS_WRITE if p.type == "trigger" else ACCESS_RW}
    if p.type != "trigger":
        node["VALUE"] = [value]
    if p.numeric:
        node["RANGE"] = [{"MIN": p.min, "MAX": p.max}]
        node["CLIPMODE"] = ["both" if p.clamp else "none"]
    elif p.type == "enum":
        node["RANGE"] = [{"VALS": list(p.choices)}]
    if p.unit:
        node["UNIT"] = [p.unit]
    return node


def build_tree(store: ParamStore, commands: Sequence[tuple[str, str, str]] = ()) -> dict[str, Any]:
    """The whole OSCQuery tree: every parameter, plus ``commands`` as (address, type tags, description)."""
    root: dict[str, Any] = {"FULL_PATH": "/", "ACCESS": ACCESS_NONE, "DESCRIPTION": "Performer", "CONTENTS": {}}
    snap = store.snapshot()
    leaves = [(p.address, param_node(p, snap[p.name])) for p in store.registry]
    for address, types, description in commands:
        node: dict[str, Any] = {"FULL_PATH": address, "ACCESS": ACCESS_WRITE, "DESCRIPTION": description}
        if types:
            node["TYPE"] = types
        leaves.append((address, node))
    for address, node in leaves:
        parts = address.strip("/").split("/")
        parent = root
        for i, part in enumerate(parts[:-1]):
            parent = parent["CONTENTS"].setdefault(
                part, {"FULL_PATH": "/" + "/".join(parts[: i + 1]), "ACCESS": ACCESS_NONE, "CONTENTS": {}})
            parent.setdefault("CONTENTS", {})
        parent["CONTENTS"][parts[-1]] = node
    return root


def find_node(tree: dict[str, Any], path: str) -> dict[str, Any] | None:
    node = tree
    for part in [p for p in path.strip("/").split("/") if p]:
        node = node.get("CONTENTS", {}).get(part)
        if node is None:
            return None
    return node


class OscQueryServer:
    """Serves the tree over HTTP and advertises it over mDNS."""

    def __init__(self, store: ParamStore, *, osc_port: int, host: str = "127.0.0.1", port: int = 0,
                 name: str = "Performer", commands: Sequence[tuple[str, str, str]] = ()) -> None:
        self.store = store
        self.osc_port = osc_port
        self.host = host
        self.name = name
        self.commands = list(commands)
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                status, body = server.respond(self.path)
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                log.debug("OSCQuery %s", format % args)

        try:
            self.httpd = ThreadingHTTPServer((host, port), Handler)
        except OSError as e:
            raise ControlError(f"OSCQuery cannot listen on {host}:{port}: {e.strerror}") from None
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self._thread: threading.Thread | None = None
        self._zeroconf: Zeroconf | None = None
        self._services: list[Any] = []

    def respond(self, raw_path: str) -> tuple[int, dict[str, Any]]:
        parts = urlsplit(raw_path)
        path, query = unquote(parts.path), parts.query
        if query == "HOST_INFO":
            return 200, {"NAME": self.name, "OSC_IP": self.host, "OSC_PORT": self.osc_port, "OSC_TRANSPORT": "UDP",
                         "EXTENSIONS": EXTENSIONS}
        node = find_node(build_tree(self.store, self.commands), path)
        if node is None:
            return 404, {"error": f"no node at {path}"}
        if query:
            if query not in node:
                return 404 if query not in EXTENSIONS else 204, {"error": f"{path} has no attribute {query}"}
            return 200, {query: node[query]}
        return 200, node

    def start(self) -> None:
        self._thread = threading.Thread(target=self.httpd.serve_forever, name="oscquery", daemon=True)
        self._thread.start()
        log.info("OSCQuery on http://%s:%d/", self.host, self.port)
        self._advertise()

    def _advertise(self) -> None:
        try:
            from zeroconf import InterfaceChoice, ServiceInfo, Zeroconf
        except ImportError:
            log.info("zeroconf is not installed: OSCQuery is not advertised over mDNS "
                     "(pip install 'performer[oscquery]')")
            return
        try:
            ip = socket.gethostbyname(self.host) if self.host not in ("0.0.0.0", "") else "127.0.0.1"
            zc = Zeroconf(interfaces=[ip] if ip.startswith("127.") else InterfaceChoice.All)
            for kind, port in (("_oscjson._tcp.local.", self.port), ("_osc._udp.local.", self.osc_port)):
                info = ServiceInfo(kind, f"{self.name}.{kind}", addresses=[socket.inet_aton(ip)], port=port,
                                   server=f"{socket.gethostname()}.local.")
                zc.register_service(info, allow_name_change=True)
                self._services.append(info)
            self._zeroconf = zc
            log.info("OSCQuery advertised over mDNS (_oscjson._tcp, _osc._udp)")
        except Exception as e:  # no multicast on this network: the HTTP tree still works
            log.warning("mDNS advertisement failed (%s); clients can still use http://%s:%d/", e, self.host, self.port)

    def stop(self) -> None:
        if self._zeroconf is not None:
            try:
                for info in self._services:
                    self._zeroconf.unregister_service(info)
                self._zeroconf.close()
            except Exception as e:
                log.debug("zeroconf close: %s", e)
        self.httpd.shutdown()
        self.httpd.server_close()
