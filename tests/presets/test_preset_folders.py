"""The preset folders: names only, the user's folder first, shipped presets read-only, overwriting on request."""

from __future__ import annotations

import pytest

from performer.errors import PresetError
from performer.presets import Preset, PresetFolders, find_preset, load_preset, name_problem, save_preset
from performer.resources import presets_dir, user_presets_dir


@pytest.mark.parametrize("name", ["club", "club.toml", "my set", "v1.2-b_c+d", "sets/club", "a/b/c"])
def test_valid_names(name):
    assert name_problem(name) is None


@pytest.mark.parametrize("name", ["", "/etc/passwd", "../x", "sets/../../x", "..", ".hidden", "a//b", "a/b/c/d",
                                  "a\\b", "x" * 101, "tab\there", "nul\0", "-rf", 7])
def test_invalid_names(name):
    assert name_problem(name) is not None


@pytest.fixture
def folders(tmp_path):
    return PresetFolders.default(tmp_path / "mine")


def test_the_user_folder_is_platformdirs_config_folder(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    import sys

    if sys.platform.startswith("linux"):
        assert user_presets_dir() == tmp_path / "performer" / "presets"
    assert PresetFolders.default().user == user_presets_dir()
    assert PresetFolders.default().shipped == presets_dir()


def test_find_looks_in_the_user_folder_first(folders):
    assert folders.find("club") == presets_dir() / "club.toml"
    save_preset(Preset(name="club"), folders.user / "club.toml")  # the user's own club hides the shipped one
    assert folders.find("club") == folders.user / "club.toml"
    save_preset(Preset(name="a"), folders.user / "sets" / "a.toml")
    assert folders.find("sets/a.toml") == folders.user / "sets" / "a.toml"
    for bad in ("../mine/club", "/etc/passwd", str(folders.user / "club.toml")):
        with pytest.raises(PresetError, match="is not a preset name"):
            folders.find(bad)
    with pytest.raises(PresetError, match="no preset named 'nope'.*default"):
        folders.find("nope")


def test_saving_is_by_name_into_the_user_folder_only(folders):
    assert folders.save_path("mine") == folders.user / "mine.toml"
    for shipped in ("default", "club.toml"):
        with pytest.raises(PresetError, match="shipped presets are read-only"):
            folders.save_path(shipped, overwrite=True)
    with pytest.raises(PresetError, match="has no '/'"):
        folders.save_path("sets/mine")
    with pytest.raises(PresetError, match="is not a preset name"):
        folders.save_path("../escape")
    save_preset(Preset(name="mine"), folders.save_path("mine"))
    with pytest.raises(PresetError, match="already exists.*overwrite"):
        folders.save_path("mine")
    assert folders.save_path("mine", overwrite=True) == folders.user / "mine.toml"


def test_save_preset_never_overwrites_unless_asked(tmp_path):
    path = save_preset(Preset(name="a"), tmp_path / "a.toml", overwrite=False)
    with pytest.raises(PresetError, match="not overwriting"):
        save_preset(Preset(name="b"), path, overwrite=False)
    assert load_preset(path).name == "a"
    save_preset(Preset(name="b"), path, overwrite=True)
    assert load_preset(path).name == "b"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.toml"]  # no temporary files left behind


def test_find_preset_takes_paths_and_names(folders, tmp_path):
    own = save_preset(Preset(name="x"), tmp_path / "x.toml")
    assert find_preset(own) == own  # the command line may name any file
    save_preset(Preset(name="y"), folders.user / "y.toml")
    assert find_preset("y", folders) == folders.user / "y.toml"
    assert find_preset("default", folders) == presets_dir() / "default.toml"
