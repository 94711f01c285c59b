"""The typed views of a snapshot (``snap.dream.lr``), generated from the parameter table."""

from __future__ import annotations

import dataclasses
import typing

import pytest

from performer.params import PARAMS, Param, ParamStore
from performer.params import views as views_module
from performer.params.viewgen import VIEWS_PATH, field_name, section_of, views_source

PYTHON_TYPES = {"float": float, "int": int, "bool": bool, "string": str, "trigger": int}


def test_the_views_module_is_generated_from_the_table():
    assert VIEWS_PATH.read_text() == views_source(PARAMS), \
        "performer/params/views.py is stale: run `performer params --views`"


def test_every_parameter_reads_the_same_by_name_and_typed():
    snap = ParamStore().snapshot()
    for p in PARAMS:
        value = getattr(getattr(snap, section_of(p.name)), field_name(p.name))
        assert value == snap[p.name], p.name
        if p.type == "enum":
            assert value in p.choices
        else:
            assert type(value) is PYTHON_TYPES[p.type], p.name


def test_each_field_is_typed_as_its_parameter_declares():
    hints = {cls: typing.get_type_hints(cls) for cls in views_module.VIEWS}
    for p in PARAMS:
        cls = type(getattr(ParamStore().snapshot(), section_of(p.name)))
        hint = hints[cls][field_name(p.name)]
        if p.type == "enum":
            assert typing.get_args(hint) == p.choices, p.name
        else:
            assert hint is PYTHON_TYPES[p.type], p.name
    names = [n for cls in views_module.VIEWS for n in cls.NAMES]
    assert names == [p.name for p in PARAMS]  # every parameter in exactly one view, in the table's order


def test_a_view_is_frozen_built_once_and_follows_its_snapshot():
    store = ParamStore()
    store.set("dream.lr", 0.1, glide=False)
    snap = store.snapshot()
    assert snap.dream is snap.dream and snap.dream.lr == pytest.approx(0.1)
    with pytest.raises(dataclasses.FrozenInstanceError):
        snap.dream.lr = 0.5  # type: ignore[misc]
    store.set("dream.lr", 0.05, glide=False)
    assert snap.dream.lr == pytest.approx(0.1) and store.snapshot().dream.lr == pytest.approx(0.05)
    store.fire("dream.restart")
    assert store.snapshot().dream.restart == 1  # a trigger reads as its fire count


def test_with_values_replaces_some_values_and_keeps_the_instant():
    snap = ParamStore().snapshot()
    held = snap.with_values({"dream.restart": 7, "master.freeze": True})
    assert (held.version, held.time) == (snap.version, snap.time)
    assert held.dream.restart == 7 and held.master.freeze and held["dream.lr"] == snap["dream.lr"]
    assert snap.dream.restart == 0 and not snap.master.freeze  # the original is untouched


def test_names_become_identifiers_and_sections_may_not_shadow_the_snapshot():
    assert field_name("dream.translate_x") == "translate_x"
    assert field_name("x.class") == "class_" and field_name("x.1st-try") == "_1st_try"
    with pytest.raises(ValueError, match="cannot be an attribute"):
        views_source([Param("items.x", "float", 0.0, "dream", "d", min=0.0, max=1.0)])
