"""manage.py command_reference: docs/commands.md written from the parsers, and --check that fails when they disagree."""

import pytest
from django.core.management import CommandError, call_command

from demo import reference


def test_the_committed_page_matches_the_parsers(capsys):
    call_command("command_reference", "--check")
    assert capsys.readouterr().out.strip() == "commands.md matches the parsers"


def test_a_page_that_disagrees_with_the_parsers_fails_the_check_in_one_line(tmp_path):
    page = tmp_path / "commands.md"
    call_command("command_reference", "--out", str(page))
    page.write_text(page.read_text().replace("| `--epochs EPOCHS` | `30` |", "| `--epochs EPOCHS` | `31` |"))
    with pytest.raises(CommandError) as caught:
        call_command("command_reference", "--check", "--out", str(page))
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith("commands.md is out of date (1 line(s) differ, the first at line ")
    assert "`--epochs EPOCHS` | `30` |" in message


def test_a_missing_page_fails_the_check(tmp_path):
    with pytest.raises(CommandError, match="the page does not exist"):
        call_command("command_reference", "--check", "--out", str(tmp_path / "none.md"))


def test_every_command_of_the_project_is_there_grouped_by_app_and_none_of_djangos():
    commands = reference.project_commands()
    assert list(commands) == ["explainers", "survey", "analysis", "kar", "demo"]
    assert "train_model" in commands["explainers"]
    assert "command_reference" in commands["demo"]
    everything = {name for names in commands.values() for name in names}
    assert not everything & {"migrate", "runserver", "collectstatic", "createsuperuser"}
    page = reference.render()
    for names in commands.values():
        for name in names:
            assert f"### `{name}`" in page


def test_an_option_row_has_its_flags_default_and_help_and_djangos_own_options_are_left_out():
    page = reference.render()
    assert "| `--epochs EPOCHS` | `30` | training epochs (default 30) |" in page
    assert "| `--check` | off | compare the page with the parsers instead of writing it |" in page
    assert "| `-o OUT`, `--out OUT` | `docs/commands.md` |" in page
    assert "manage.py command_reference [--check] [--out OUT]\n" in page
    assert "--verbosity" not in page.split("left out.")[1]
    assert "--traceback" not in page.split("left out.")[1]


def test_the_page_depends_neither_on_the_terminal_width_nor_on_where_the_checkout_is(monkeypatch, settings):
    monkeypatch.setenv("COLUMNS", "200")
    wide = reference.render()
    monkeypatch.setenv("COLUMNS", "30")
    assert reference.render() == wide
    assert str(settings.BASE_DIR) not in wide


def test_differences_names_the_number_of_changed_lines_and_the_first():
    assert reference.differences("a\nb\nc\n", "a\nb\nc\n") == ""
    assert reference.differences("a\nb\nc\n", "a\nx\ny\n") == "2 line(s) differ, the first at line 2: expected 'b'"
    assert reference.differences("a\nb\n", "a\n") == "1 line(s) differ, the first at line 2: expected 'b'"
