"""OSCQuery read by a published client: python-oscquery (PyPI) fetches HOST_INFO, parameters and analysis nodes over
HTTP on loopback (given the service as mDNS would, without multicast). It does not speak the WebSocket side (LISTEN),
and it refuses two kinds of node the proposal allows: a write-only node without VALUE (our triggers and commands,
so it cannot read ``/`` whole) and a node with both VALUE and CONTENTS (``/performer/glove``); those are left out."""

from __future__ import annotations

import socket

import pytest

from performer.control import COMMANDS
from performer.control.oscquery import OscQueryServer
from performer.params import ParamStore

pytest.importorskip("pythonoscquery", reason="python-oscquery is not installed (pip install 'performer[test]')")

ANALYSIS = [("/performer/class", ["snare", 1, 0.5]), ("/performer/probs", [0.25, 0.5, 0.25]),
            ("/performer/level", [-12.0]), ("/performer/onset", [0.0]), ("/performer/tempo/bpm", [128.0])]


def test_python_oscquery_client_reads_host_info_and_the_tree():
    from pythonoscquery.osc_query_client import OSCQueryClient
    from pythonoscquery.shared.osc_access import OSCAccess
    from zeroconf import ServiceInfo

    store = ParamStore()
    srv = OscQueryServer(store, osc_port=9999, port=0, commands=COMMANDS, analysis=lambda: list(ANALYSIS))
    srv.start()
    try:
        info = ServiceInfo("_oscjson._tcp.local.", "Performer._oscjson._tcp.local.",
                           addresses=[socket.inet_aton("127.0.0.1")], port=srv.port)
        client = OSCQueryClient(info)
        host = client.get_host_info()
        assert host is not None and host.osc_port == 9999 and host.osc_transport == "UDP"
        assert host.extensions["LISTEN"] is True and host.extensions["PATH_CHANGED"] is True
        store.set("dream.iterations", 5)
        node = client.query_node("/dream/iterations")
        assert node is not None and node.value == [5] and node.access == OSCAccess.READWRITE_VALUE
        for address, args in ANALYSIS:
            node = client.query_node(address)
            assert node is not None and node.access == OSCAccess.READONLY_VALUE and node.value == args, address
            assert node.description
        for p in store.registry:  # every parameter but the triggers (write-only, no VALUE), one by one
            if p.type != "trigger":
                node = client.query_node(p.address)
                assert node is not None and node.full_path == p.address and len(node.value) == 1, p.address
        assert client.query_node("/no/such/node") is None
    finally:
        srv.stop()
