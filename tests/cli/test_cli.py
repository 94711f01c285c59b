"""The command line, run as real subprocesses."""

from __future__ import annotations

import json

from conftest import REPO
from performer.cli.presets import generated_table
from performer.params import REGISTRY
from performer.presets import find_preset, load_preset


def test_help_and_version(cli):
    proc = cli("--help", check=True)
    for command in ("serve", "params", "preset", "bench", "train", "evaluate", "classify", "dream", "devices"):
        assert command in proc.stdout, command
    assert cli("--version", check=True).stdout.startswith("performer ")
    assert cli().returncode == 2  # no command: usage, not a crash


def test_params_formats(cli):
    text = cli("params", check=True).stdout
    assert "dream.iterations" in text and "[dream]" in text
    data = json.loads(cli("params", "--format", "json", check=True).stdout)
    assert {d["name"] for d in data} == set(REGISTRY.names())
    md = cli("params", "--format", "markdown", check=True).stdout
    assert md == REGISTRY.to_markdown()


def test_readme_parameter_table_is_current():
    table = generated_table((REPO / "README.md").read_text())
    assert table is not None, "README.md lost its generated-table markers"
    assert table == REGISTRY.to_markdown(), "README.md is stale: run `performer params --update README.md`"


def test_preset_check_reports_problems_with_exit_status(cli, tmp_path):
    good = cli("preset", "check", str(REPO / "presets" / "default.toml"))
    assert good.returncode == 0 and "ok" in good.stdout
    bad = tmp_path / "bad.toml"
    bad.write_text("[params.dream]\niterations = 0\nlrr = 0.1\n")
    proc = cli("preset", "check", str(bad))
    assert proc.returncode == 1
    assert "params.dream.iterations = 0" in proc.stdout and "[1, 20]" in proc.stdout
    assert "params.dream.lrr" in proc.stdout and "did you mean dream.lr" in proc.stdout


def test_preset_new_show_and_diff(cli, tmp_path):
    out = tmp_path / "mine.toml"
    cli("preset", "new", str(out), check=True)
    assert cli("preset", "check", str(out)).returncode == 0
    assert "dream.iterations = 2" in cli("preset", "show", str(out), check=True).stdout
    assert cli("preset", "new", str(out)).returncode == 1  # never overwrites
    text = out.read_text().replace("iterations = 2", "iterations = 6")
    out.write_text(text)
    diff = cli("preset", "diff", "default", str(out))
    shipped = load_preset(find_preset("default")).values()["dream.iterations"]
    assert diff.returncode == 1 and f"params.dream.iterations: {shipped} -> 6" in diff.stdout
    assert "default" in cli("preset", "list", check=True).stdout


def test_preset_new_shows_how_to_add_outputs_and_the_example_is_valid(cli, tmp_path):
    import re

    out = tmp_path / "mine.toml"
    cli("preset", "new", str(out), check=True)
    text = out.read_text()
    assert "# [outputs.preview]" in text and "docs/outputs.md" in text
    assert load_preset(out).outputs == {}  # commented out: a new preset sends frames nowhere it was not told to
    # Uncommented, every example table is a valid output of its kind.
    on = tmp_path / "on.toml"
    on.write_text(re.sub(r"(?m)^# (\[outputs\.|[a-z_]+ = )", r"\1", text))
    assert cli("preset", "check", str(on)).returncode == 0, cli("preset", "check", str(on)).stdout
    kinds = {spec["type"] for spec in load_preset(on).outputs.values()}
    assert kinds == {"preview", "ndi", "syphon", "spout", "record", "frames"}


def test_logging_goes_to_stderr_and_quiet_silences_info(cli, tmp_path):
    proc = cli("-q", "params", "--format", "json", check=True)
    json.loads(proc.stdout)  # nothing but JSON on stdout
    assert "INFO" not in proc.stderr


def test_the_readmes_command_table_names_every_command_and_benchmark():
    import argparse
    import re

    from performer.cli.bench import BENCHMARKS
    from performer.cli.main import build_parser

    readme = (REPO / "README.md").read_text()
    table = readme[readme.index("## Commands"):readme.index("## Documentation")]
    named = set(re.findall(r"`performer ([a-z]+)", table))
    for cell in re.findall(r"`performer ([a-z]+) ([a-z|]+)", table):
        named |= {f"{cell[0]} {sub}" for sub in cell[1].split("|")}
    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    commands = set(sub.choices) | {f"bench {name}" for name in BENCHMARKS}
    assert commands - named == set(), "commands the README's table leaves out"
    assert {n for n in named if " " not in n} - set(sub.choices) == set(), "commands the README names that do not exist"
    assert {n.split()[1] for n in named if n.startswith("bench ")} == set(BENCHMARKS)
