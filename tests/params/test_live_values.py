"""Issue #16 item 16: live control rounds a fader's float for an int parameter; preset files stay strict."""

from __future__ import annotations

import math

import pytest

from performer.errors import ParamRangeError, ParamTypeError
from performer.params import REGISTRY, ParamStore
from performer.presets import check_preset


def test_an_int_parameter_takes_a_float_and_rounds_it():
    store = ParamStore()
    assert store.set("dream.iterations", 3.6, glide=False) == 4
    assert store.get("dream.iterations") == 4 and isinstance(store.get("dream.iterations"), int)
    assert store.set("dream.iterations", 2.4, glide=False) == 2
    assert store.set("dream.iterations", 99.7, glide=False) == 20  # rounded, then clamped like any knob
    assert store.update({"dream.jitter": 7.2})["dream.jitter"] == 7


def test_an_int_parameter_refuses_what_is_not_a_finite_number():
    store = ParamStore()
    for bad in (math.nan, math.inf, -math.inf):
        with pytest.raises(ParamRangeError, match="finite"):
            store.set("dream.iterations", bad)
    with pytest.raises(ParamTypeError):
        store.set("dream.iterations", "3.6")
    with pytest.raises(ParamTypeError):
        store.set("dream.iterations", True)
    assert store.get("dream.iterations") == REGISTRY.get("dream.iterations").default


def test_strict_checking_still_refuses_a_fraction():
    p = REGISTRY.get("dream.iterations")
    with pytest.raises(ParamTypeError, match="fraction"):
        p.validate(3.6, strict=True)
    assert p.validate(3.0, strict=True) == 3


def test_a_preset_file_with_a_fraction_for_an_int_is_still_an_error(tmp_path):
    path = tmp_path / "fraction.toml"
    path.write_text("[params.dream]\niterations = 3.6\n")
    problems = check_preset(path)
    assert [p.key for p in problems] == ["params.dream.iterations"]
    assert problems[0].value == 3.6 and "int in [1, 20]" in problems[0].allowed
