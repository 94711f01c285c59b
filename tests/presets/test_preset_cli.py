"""`performer preset ...` and `serve --preset` on broken files: one line per problem, never a traceback."""

from __future__ import annotations

import tomllib

import pytest

from performer.dream import DEFAULT_CLASS_GUIDES
from performer.params import REGISTRY
from performer.presets import find_preset, load_preset, parse_preset


@pytest.fixture
def user_config(tmp_path, monkeypatch):
    """Point platformdirs' user config folder (on Linux) at a temporary folder, for the subprocesses too."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    return tmp_path / "config" / "performer" / "presets"


@pytest.fixture
def broken(tmp_path):
    files = {
        "binary.toml": bytes(range(128, 256)),
        "deep.toml": b"x = " + b"[" * 3000 + b"]" * 3000 + b"\n",
        "typo.toml": b'[classes.dog_brak]\nguide = [207]\n',
    }
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    return [tmp_path / name for name in files] + [tmp_path / ("a" * 300)]


def test_check_reports_broken_files_in_one_line_each(cli, broken):
    proc = cli("preset", "check", *map(str, broken), timeout=120)
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr and proc.stderr == ""
    lines = proc.stdout.splitlines()
    assert len(lines) == 2 * len(broken)  # "FILE: 1 problem(s)" and the problem
    assert any("(encoding)" in line and "UTF-8" in line for line in lines)
    assert any("(syntax)" in line and "nested too deeply" in line for line in lines)
    assert any("classes.dog_brak" in line and "dog_bark" in line for line in lines)
    assert any("File name too long" in line for line in lines)


@pytest.mark.parametrize("which", [0, 3], ids=["binary", "long-name"])
def test_serve_refuses_a_broken_preset_in_one_line(cli, broken, which):
    proc = cli("serve", "--preset", str(broken[which]), "--input", "demo", "--duration", "1", "--no-status",
               "--no-osc", timeout=120)
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    assert str(broken[which])[:60] in proc.stderr and proc.stderr.count("ERROR") == 1


def test_show_prints_toml_that_reads_back_as_the_same_preset(cli, user_config):
    proc = cli("preset", "show", "club", check=True)
    data = tomllib.loads(proc.stdout)
    shown, problems = parse_preset(data, "shown.toml")
    assert problems == []
    club = load_preset(find_preset("club"))
    assert shown.values() == club.values() and shown.routes == club.routes and shown.classes == club.classes
    assert shown.outputs == club.outputs and shown.name == "club"
    assert "  # default" in proc.stdout and "'" not in proc.stdout.split("[params]")[1].split("\n\n")[0]


def test_new_writes_the_class_guides_and_list_shows_your_presets(cli, user_config):
    out = user_config / "mine.toml"
    cli("preset", "new", str(out), check=True)
    assert {c: tuple(s["guide"]) for c, s in load_preset(out).classes.items()} == DEFAULT_CLASS_GUIDES
    listed = cli("preset", "list", check=True).stdout
    assert f"yours ({user_config})" in listed and "mine" in listed and "default" in listed
    default = REGISTRY.get("dream.iterations").default
    shown = cli("preset", "show", "mine", check=True).stdout  # a name finds your presets
    assert f"\ndream.iterations = {default}\n" in shown  # every parameter is in the new preset: none marked
