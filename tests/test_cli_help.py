"""`accel --help` documents the exit codes; every command's --help shows each option's help text and
default (or says it is required / a flag) and ends with examples."""

import re

import pytest

from accel.cli import build_parser, main

PARSER = build_parser()
COMMANDS = PARSER._subparsers._group_actions[0].choices


def help_of(capsys, *argv) -> str:
    with pytest.raises(SystemExit) as exc:
        main([*argv, "--help"])
    assert exc.value.code == 0
    return capsys.readouterr().out


def test_top_level_help_documents_exit_codes(capsys):
    text = help_of(capsys)
    assert "exit codes:" in text
    for code in ("0", "1", "2", "3", "130", "143"):
        assert re.search(rf"(^|\s){code}\s", text), code
    assert "import accel" in text


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_command_help_shows_defaults_and_examples(capsys, name):
    text = help_of(capsys, name)
    examples = text.split("examples:\n", 1)
    assert len(examples) == 2, f"accel {name} --help has no examples section"
    assert all(line.startswith(f"  accel {name}") for line in examples[1].splitlines() if line)
    for action in COMMANDS[name]._actions:
        opt = (action.option_strings or [action.dest])[-1]
        if opt == "--help":
            continue
        assert action.help, f"accel {name} {opt} has no help text"
        if not action.option_strings or action.nargs == 0:
            continue  # positionals and flags: nothing to default
        entry = COMMANDS[name]._get_formatter()._expand_help(action)  # as --help shows it
        group = next(g for g in COMMANDS[name]._action_groups if action in g._group_actions)
        entry += f" [{group.title}]"  # a group may state its options' default once
        assert re.search(r"\(default|\(required\)|default: |required here|defaults to", entry), \
            f"accel {name} {opt}: no default shown: {entry!r}"
        assert "default: None" not in entry, entry


def test_defaults_shown_are_the_real_ones(capsys):
    flat = " ".join(help_of(capsys, "sim").split())
    assert "(default: verilator)" in flat and "(default: 8)" in flat
    flat = " ".join(help_of(capsys, "build").split())
    assert "(default: build)" in flat and "(default: 32)" in flat and "(default: hls)" in flat
