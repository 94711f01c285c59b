"""``performer bench osc`` end to end, small: the client floods only in flooded phases, and nothing is lost."""

from __future__ import annotations

import argparse

from performer.bench import osc


def test_flooded_phases_flood_quiet_ones_do_not_and_every_datagram_arrives(one_torch_thread):
    p = argparse.ArgumentParser()
    osc.add_arguments(p)
    args = p.parse_args(["--device", "cpu", "--size", "64", "--rate", "2000", "--seconds", "1.5", "--phases", "2"])
    r = osc.run(args)
    kinds = [ph["phase"] for ph in r["phases"]]
    assert kinds == ["quiet", "flooded", "quiet", "flooded", "quiet"]
    for ph in r["phases"]:
        if ph["phase"] == "quiet":
            assert ph["flood_sent"] == 0 and ph["flood_received"] == 0, ph
        else:  # about 2000 a second for the phase (less on a slow machine, never none)
            assert 500 <= ph["flood_sent"] <= 2000 * 3, ph
            assert ph["flood_received"] == ph["flood_sent"], ph
        assert ph["probes"] > 0 and ph["probes_lost"] == 0, ph
        assert ph["fps"] > 0, ph
    assert len(r["fps_change_pct_by_pair"]) == 2 and r["steady_cost"] is True
    assert r["flood_lost_pct"] == 0.0
    # Every kind in the flood was seen: garbage and an unknown address are counted, the sets coalesced.
    assert r["server"]["errors_by_kind"].get("malformed", 0) > 0
    assert r["server"]["errors_by_kind"].get("unknown_address", 0) > 0
    assert r["server"]["coalesced"] > 0
