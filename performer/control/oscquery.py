"""OSCQuery: the parameter tree as HTTP JSON, so VDMX, ossia score or Chataigne find every knob.

Follows the OSCQuery proposal: ``GET /`` is the whole tree (nodes with
FULL_PATH, CONTENTS, TYPE, RANGE, VALUE, DESCRIPTION, ACCESS, UNIT),
``GET /dream/iterations`` one node, ``GET /dream/iterations?VALUE`` one
attribute, ``GET /?HOST_INFO`` the server's OSC port and the extensions it
supports. The analysis values (class, probabilities, levels, bands, tempo,
glove: whatever OSC out sends, :mod:`performer.control.oscquery_nodes`) are
read-only nodes (ACCESS 1) with types and ranges. A WebSocket upgrade on the
same port gives LISTEN / IGNORE with values pushed as binary OSC, and
PATH_CHANGED when analysis nodes come and go (:mod:`performer.control.oscquery_ws`).
Every answer carries ``Access-Control-Allow-Origin: *`` so browser clients can
read the tree (it is read-only; nothing is set over HTTP).

Advertised over mDNS as ``_oscjson._tcp`` and ``_osc._udp`` when zeroconf is
installed and OSC listens beyond loopback (on that address's interface, or on
every interface for ``0.0.0.0``); on loopback nothing is advertised and no
multicast socket is opened. Values are read from the live
store on each request. The HTTP side is a :class:`~performer.httpd.GuardedHTTPServer`
(64 clients at once, half of them per address, a 128-deep backlog, each request's
head due within 15 s, idle clients closed after 15 s, ``Host`` checked, at most 200
requests a second: each builds the tree, about 0.3 ms here, in the renderer's
process). A WebSocket client keeps its connection's thread on a session slot of
its own (at most 16 at once, 8 per address), must come without an ``Origin`` (a
tool) or from this server's own origin, and is dropped when it stops answering
pings or reading.
"""

from __future__ import annotations

import json
import logging
import socket
import threading
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

from performer.control.oscquery_nodes import ANALYSIS, Messages, analysis_leaves, shape
from performer.control.oscquery_ws import ListenHub
from performer.errors import ControlError
from performer.httpd import GuardedHandler, GuardedHTTPServer, is_loopback, is_wildcard
from performer.params import Param, ParamStore

if TYPE_CHECKING:
    from zeroconf import Zeroconf

log = logging.getLogger(__name__)

ACCESS_NONE, ACCESS_READ, ACCESS_WRITE, ACCESS_RW = 0, 1, 2, 3
_TYPE = {"float": "f", "int": "i", "bool": "T", "enum": "s", "string": "s", "trigger": "N"}
EXTENSIONS = {"ACCESS": True, "VALUE": True, "RANGE": True, "DESCRIPTION": True, "TAGS": False, "CLIPMODE": True,
              "UNIT": True, "CRITICAL": False, "LISTEN": True, "PATH_CHANGED": True, "PATH_ADDED": False,
              "PATH_REMOVED": False, "PATH_RENAMED": False, "HTML": False}
CORS = {"Access-Control-Allow-Origin": "*"}


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


def build_tree(store: ParamStore, commands: Sequence[tuple[str, str, str]] = (),
               analysis: Messages = ()) -> dict[str, Any]:
    """The whole OSCQuery tree: every parameter, ``commands`` as (address, type tags, description), and the
    ``analysis`` messages (address, args) as read-only nodes."""
    root: dict[str, Any] = {"FULL_PATH": "/", "ACCESS": ACCESS_NONE, "DESCRIPTION": "Performer", "CONTENTS": {}}
    snap = store.snapshot()
    leaves = [(p.address, param_node(p, snap[p.name])) for p in store.registry]
    for address, types, description in commands:
        node: dict[str, Any] = {"FULL_PATH": address, "ACCESS": ACCESS_WRITE, "DESCRIPTION": description}
        if types:
            node["TYPE"] = types
        leaves.append((address, node))
    leaves += analysis_leaves(analysis)
    for address, node in leaves:
        parts = address.strip("/").split("/")
        parent = root
        for i, part in enumerate(parts[:-1]):
            parent = parent["CONTENTS"].setdefault(
                part, {"FULL_PATH": "/" + "/".join(parts[: i + 1]), "ACCESS": ACCESS_NONE, "CONTENTS": {}})
            parent.setdefault("CONTENTS", {})
        if "CONTENTS" in parent["CONTENTS"].get(parts[-1], {}):  # a node that holds others, e.g. /performer/glove
            node = {**node, "CONTENTS": parent["CONTENTS"][parts[-1]]["CONTENTS"]}
        parent["CONTENTS"][parts[-1]] = node
    return root


def find_node(tree: dict[str, Any], path: str) -> dict[str, Any] | None:
    node = tree
    for part in [p for p in path.strip("/").split("/") if p]:
        node = node.get("CONTENTS", {}).get(part)
        if node is None:
            return None
    return node


def mdns_plan(host: str) -> tuple[str, list[str]] | None:
    """Where to advertise for an OSC host: None on loopback (nothing to find from elsewhere), else
    ``("all", [])`` for every interface (``0.0.0.0``, ``::``) or ``("one", [ip])`` for that address."""
    if is_wildcard(host):
        return "all", []
    try:
        ip = socket.getaddrinfo(host, None)[0][4][0] if not is_loopback(host) else "127.0.0.1"
    except OSError:
        return None  # a name that does not resolve: the server could not have bound it either
    return None if is_loopback(str(ip)) else ("one", [str(ip)])


class OscQueryServer:
    """Serves the tree over HTTP and advertises it over mDNS."""

    def __init__(self, store: ParamStore, *, osc_port: int, host: str = "127.0.0.1", port: int = 0,
                 name: str = "Performer", commands: Sequence[tuple[str, str, str]] = (), max_clients: int = 64,
                 idle_timeout: float = 15.0, max_rate: float | None = 200.0,
                 analysis: Callable[[], Messages] | None = None, max_listeners: int = 16) -> None:
        """``analysis()``: the analysis messages (address, args), as OSC out sends them (``Controls``)."""
        self.store = store
        self.analysis = analysis
        self.osc_port = osc_port
        self.host = host
        self.name = name
        self.commands = list(commands)
        server = self

        class Handler(GuardedHandler):
            def do_GET(self) -> None:  # noqa: N802
                if self.command == "GET" and "websocket" in self.headers.get("Upgrade", "").lower():
                    lines = [self.requestline, *(f"{k}: {v}" for k, v in self.headers.items()), "", ""]
                    raw = "\r\n".join(lines).encode("latin-1", "replace")
                    self.close_connection = True
                    server.hub.serve(self.connection, raw, self.client_address, host=self.headers.get("Host"),
                                     begin=lambda: self.server.start_session(self.request))
                    return
                status, body = server.respond(self.path, local_ip=str(self.connection.getsockname()[0]))
                data = json.dumps(body).encode()
                self.send_response(status)
                for k, v in CORS.items():
                    self.send_header(k, v)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)

            def do_HEAD(self) -> None:  # noqa: N802
                self.do_GET()

            def do_OPTIONS(self) -> None:  # noqa: N802  (a browser's CORS preflight)
                self.send_response(204)
                for k, v in CORS.items():
                    self.send_header(k, v)
                self.send_header("Access-Control-Allow-Methods", "GET, HEAD, OPTIONS")
                self.send_header("Access-Control-Allow-Headers", "*")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                log.debug("OSCQuery %s", format % args)

        try:
            self.httpd = GuardedHTTPServer((host, port), Handler, label="OSCQuery", max_clients=max_clients,
                                           idle_timeout=idle_timeout, max_rate=max_rate, max_sessions=max_listeners)
        except OSError as e:
            raise ControlError(f"OSCQuery cannot listen on {host}:{port}: {e.strerror or e}") from None
        self.port = self.httpd.server_address[1]
        self.hub = ListenHub(store, is_node=self.is_listenable, analysis=analysis,
                             shape=lambda messages: shape(analysis_leaves(messages)), pace=self.httpd.pace,
                             max_clients=max_listeners, idle_timeout=idle_timeout)
        self._thread: threading.Thread | None = None
        self._zeroconf: Zeroconf | None = None
        self._services: list[Any] = []

    def respond(self, raw_path: str, local_ip: str | None = None) -> tuple[int, dict[str, Any]]:
        """(status, JSON body) for a request path; ``local_ip``: the address the client reached (the OSC_IP
        reported when OSC listens on every interface)."""
        parts = urlsplit(raw_path)
        path, query = unquote(parts.path), parts.query
        if query == "HOST_INFO":
            osc_ip = local_ip if is_wildcard(self.host) and local_ip else self.host
            return 200, {"NAME": self.name, "OSC_IP": osc_ip, "OSC_PORT": self.osc_port, "OSC_TRANSPORT": "UDP",
                         "EXTENSIONS": EXTENSIONS}
        node = find_node(build_tree(self.store, self.commands, self._analysis()), path)
        if node is None:
            return 404, {"error": f"no node at {path}"}
        if query:
            if query not in node:
                return 404 if query not in EXTENSIONS else 204, {"error": f"{path} has no attribute {query}"}
            return 200, {query: node[query]}
        return 200, node

    def _analysis(self) -> Messages:
        if self.analysis is None:
            return ()
        try:
            return self.analysis()
        except Exception as e:  # the engine mid-restart: the parameters are still served
            log.debug("OSCQuery: analysis not available: %s", e)
            return ()

    def is_listenable(self, path: str) -> bool:
        """Whether a WebSocket client may LISTEN to ``path``: a parameter, or an analysis value (also one that
        appears later, such as the glove's before it sends)."""
        if path in ANALYSIS or any(p.address == path for p in self.store.registry):
            return True
        return any(address == path for address, _ in self._analysis())

    def start(self) -> None:
        self._thread = threading.Thread(target=self.httpd.serve_forever, name="oscquery", daemon=True)
        self._thread.start()
        log.info("OSCQuery on http://%s:%d/", self.host, self.port)
        self._advertise()

    def _advertise(self) -> None:
        plan = mdns_plan(self.host)
        if plan is None:
            log.info("OSC listens on %s (this machine only): not advertised over mDNS; listen on 0.0.0.0 or a "
                     "network address to be found by other machines", self.host)
            return
        try:
            from zeroconf import Error, InterfaceChoice, ServiceInfo, Zeroconf, get_all_addresses
        except ImportError:
            log.info("zeroconf is not installed: OSCQuery is not advertised over mDNS "
                     "(pip install 'performer[oscquery]')")
            return
        try:
            how, ips = plan
            if how == "all":
                ips = [ip for ip in get_all_addresses() if not is_loopback(ip)]
                if not ips:
                    log.info("no network address on this machine: OSCQuery is not advertised over mDNS")
                    return
            zc = Zeroconf(interfaces=InterfaceChoice.All if how == "all" else ips)
            self._zeroconf = zc
            for kind, port in (("_oscjson._tcp.local.", self.port), ("_osc._udp.local.", self.osc_port)):
                info = ServiceInfo(kind, f"{self.name}.{kind}", parsed_addresses=ips, port=port,
                                   server=f"{socket.gethostname()}.local.")
                zc.register_service(info, allow_name_change=True)
                self._services.append(info)
            log.info("OSCQuery advertised over mDNS (_oscjson._tcp, _osc._udp)")
        except (OSError, ValueError, Error) as e:  # no multicast on this network: the HTTP tree still works
            log.warning("mDNS advertisement failed (%s); clients can still use http://%s:%d/", e, self.host, self.port)

    def stop(self) -> None:
        self.hub.stop()
        if self._zeroconf is not None:
            from zeroconf import Error

            try:
                for info in self._services:
                    self._zeroconf.unregister_service(info)
                self._zeroconf.close()
            except (OSError, Error) as e:  # the network went away first
                log.debug("zeroconf close: %s", e)
            self._zeroconf, self._services = None, []
        if self._thread is not None:  # shutdown() waits for serve_forever, which never ran if start() did not
            self.httpd.shutdown()
            self._thread = None
        self.httpd.server_close()
