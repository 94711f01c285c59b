"""The OSC command table: each command declared once, the listed ones in COMMANDS, the types checked where asked."""

from __future__ import annotations

import pytest

from performer.control import COMMANDS
from performer.control.commands import TABLE, CommandTable
from performer.errors import ControlError


def test_an_address_declared_twice_is_refused():
    table = CommandTable()
    table.map("/a", "", "one")(lambda c, args, reply: None)
    with pytest.raises(ValueError, match="/a is declared twice"):
        table.map("/a", "s", "two")(lambda c, args, reply: None)


def test_commands_are_the_listed_entries_of_the_table_in_order():
    assert COMMANDS == tuple((c.address, c.types, c.help) for c in TABLE.commands.values() if c.listed)
    assert "/performer/classes" in TABLE.commands and "/performer/classes" not in {a for a, _, _ in COMMANDS}
    assert [a for a, _, _ in COMMANDS][:2] == ["/preset/load", "/preset/save"]


def test_bound_handlers_check_declared_types_before_calling():
    table = CommandTable()
    calls = []
    table.map("/d", "si", "a host and a port", checked=True)(lambda c, args, reply: calls.append((c, list(args))))
    handler = table.bind("target")["/d"]  # type: ignore[arg-type]
    handler(["host", 9000], print)
    assert calls == [("target", ["host", 9000])]
    for bad in (["host"], ["host", "9000"], ["host", True], []):
        with pytest.raises(ControlError, match="/d takes a string, an int"):
            handler(bad, print)
    assert len(calls) == 1


def test_readme_command_table_is_current():
    from conftest import REPO
    from performer.cli.presets import COMMANDS_END, COMMANDS_START, generated_table

    table = generated_table((REPO / "README.md").read_text(), COMMANDS_START, COMMANDS_END)
    assert table is not None, "README.md lost its OSC command table markers"
    assert table == TABLE.to_markdown(), "README.md is stale: run `performer params --update README.md`"
    assert all(f"| `{address}` |" in table for address in TABLE.commands)
