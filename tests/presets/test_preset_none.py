"""A preset's ``[classes.none]`` is refused when it is parsed (so `performer preset check` catches it), in one line
naming the file, the table and what is allowed; ``prob.none`` stays a route source."""

from __future__ import annotations

import argparse

import pytest

from performer.cli.presets import cmd_check
from performer.errors import PresetError
from performer.presets import load_preset, parse_preset

WITH_NONE = ["low", "high", "none"]


def test_a_classes_none_table_fails_parsing_in_one_line():
    data = {"classes": {"none": {"guide": [5]}, "low": {"guide": [1]}}}
    preset, problems = parse_preset(data, "show.toml", classes=WITH_NONE)
    assert preset is None
    [line] = [str(p) for p in problems]
    assert line.startswith("show.toml: classes.none = ") and "\n" not in line
    assert "refused" in line and "allowed: a table for one of the classifier's other classes: low, high" in line
    assert "prob.none" in line  # says what still works


def test_a_classes_none_table_is_refused_with_a_classifier_without_none_too():
    preset, problems = parse_preset({"classes": {"none": {}}}, "show.toml", classes=["low", "high"])
    assert preset is None and len(problems) == 1 and "'none' (none of these)" in str(problems[0])


def test_a_typo_table_is_not_pointed_at_none():
    _, [problem] = parse_preset({"classes": {"non": {}}}, "show.toml", classes=WITH_NONE)
    assert "a sound class the classifier knows: low, high" in str(problem) and "none" not in problem.allowed


def test_a_route_from_prob_none_parses():
    data = {"mapping": {"routes": [{"source": "prob.none", "target": "dream.blend", "depth": 0.5}]},
            "classes": {"low": {"guide": [1]}}}
    preset, problems = parse_preset(data, "show.toml", classes=WITH_NONE)
    assert problems == [] and preset is not None
    assert [(r.source, r.target) for r in preset.routes] == [("prob.none", "dream.blend")]


def test_preset_check_and_load_catch_a_classes_none_table(tmp_path, capsys):
    path = tmp_path / "room.toml"
    path.write_text("[classes.none]\nguide = [5]\n")
    assert cmd_check(argparse.Namespace(files=[str(path)])) == 1
    out = capsys.readouterr().out.splitlines()
    assert out[0] == f"{path}: 1 problem(s)" and len(out) == 2
    assert str(path) in out[1] and "classes.none" in out[1] and "allowed:" in out[1]
    with pytest.raises(PresetError, match="classes.none"):
        load_preset(path, classes=WITH_NONE)
