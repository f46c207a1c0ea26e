"""tests/config/tutorials.py: reading a docs page's console commands."""

from tests.config.tutorials import console_commands


def test_console_commands_reads_dollar_lines_and_joins_continued_ones():
    page = "text\n```console\n$ a 1\noutput\n$ b \\\n  2\n```\n```sh\n$ not this\n```\n"
    assert console_commands(page) == ["a 1", "b   2"]
