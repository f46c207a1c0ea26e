"""docs/commands.md, written from the management commands' own argparse parsers.

Every command of this project's apps (not Django's own, not third parties'), grouped by app:
its help line, its usage line and a table of its options. The text depends only on the
parsers (no terminal width, no environment), so a page generated once is the page
``command_reference --check`` expects until a parser changes.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from django.apps import apps
from django.conf import settings
from django.core.management import get_commands, load_command_class
from django.core.management.base import BaseCommand

PAGE = Path(settings.BASE_DIR) / "docs" / "commands.md"
PROGRAM = "manage.py"

HEADER = (
    "# Management commands\n"
    "\n"
    "Every command of this project, with every option, as its own parser states it. Run them as\n"
    "`.venv/bin/python manage.py COMMAND ...` (with `DJANGO_DEBUG=1` on a development machine, or the\n"
    "production variables of [production.md](production.md)); Django's own options (`--verbosity`,\n"
    "`--settings`, `--traceback`, ...) are left out. `var/` stands for the data folder\n"
    "(`NORMLIME_DATA_DIR`, by default `var/` in the checkout).\n"
    "\n"
    "This page is generated: `DJANGO_DEBUG=1 .venv/bin/python manage.py command_reference` rewrites it,\n"
    "and `--check` (run by the tests) fails when it and the parsers disagree.\n"
)


def project_commands() -> dict[str, list[str]]:
    """App label -> its command names (sorted), for the apps that live in this checkout.

    An app is ours when its package is a top-level folder of the checkout: Django's and third
    parties' apps live in the virtualenv, which may itself sit inside the checkout (``.venv``).
    """
    base = Path(settings.BASE_DIR).resolve()
    ours = {
        config.name: config.label
        for config in apps.get_app_configs()
        if Path(config.path).resolve() == base / config.name.split(".")[0]
    }
    grouped: dict[str, list[str]] = {}
    for name, app in get_commands().items():
        if app in ours:
            grouped.setdefault(app, []).append(name)
    order = [config.name for config in apps.get_app_configs() if config.name in grouped]
    return {app: sorted(grouped[app]) for app in order}


def _base_dests() -> set[str]:
    """The options every Django command has (left out of the page)."""
    return {action.dest for action in BaseCommand().create_parser(PROGRAM, "base")._actions}


def _portable(text: str) -> str:
    """Paths of this checkout as the reader's: the data folder as `var`, the checkout as relative paths."""
    for folder, shown in ((settings.DATA_DIR, "var"), (settings.BASE_DIR, "")):
        root = str(Path(folder).resolve())
        text = text.replace(root + "/", f"{shown}/" if shown else "").replace(root, shown or ".")
    return text


def _cell(text: str) -> str:
    return " ".join(_portable(str(text)).split()).replace("|", "\\|").replace("<", "&lt;")


def _metavar(action: argparse.Action) -> str:
    if action.metavar is not None:
        return action.metavar if isinstance(action.metavar, str) else " ".join(action.metavar)
    if action.choices is not None:
        return "{" + ",".join(str(c) for c in action.choices) + "}"
    return action.dest.upper() if action.option_strings else action.dest


def _takes_value(action: argparse.Action) -> bool:
    return action.nargs != 0


def _usage_part(action: argparse.Action) -> str:
    if not action.option_strings:
        name = _metavar(action)
        if action.nargs in ("+",):
            return f"{name} [{name} ...]"
        if action.nargs in ("*",):
            return f"[{name} ...]"
        if action.nargs == "?":
            return f"[{name}]"
        return name
    flag = max(action.option_strings, key=len)
    text = f"{flag} {_metavar(action)}" if _takes_value(action) else flag
    if action.nargs in ("+", "*"):
        text += " ..."
    return text if action.required else f"[{text}]"


def _default(action: argparse.Action) -> str:
    if not action.option_strings and action.default is None:
        return ""
    if isinstance(action, argparse._StoreTrueAction):
        return "off"
    if isinstance(action, argparse._StoreFalseAction):
        return "on"
    default = action.default
    if default is None or default is argparse.SUPPRESS:
        return "required" if action.required else ""
    if isinstance(default, list | tuple):
        if not default:
            return ""
        default = ",".join(str(item) for item in default)
    return f"`{_cell(default)}`" if str(default) != "" else '`""`'


def _help(action: argparse.Action) -> str:
    text = action.help or ""
    if text is argparse.SUPPRESS:
        return ""
    if "%(" in text:
        values = {**vars(action), "prog": PROGRAM}
        values["default"] = action.default
        try:
            text = text % values
        except (KeyError, TypeError, ValueError):
            pass
    if action.choices is not None and not isinstance(action.choices, dict):
        text = f"{text} (one of: {', '.join(str(c) for c in action.choices)})".strip()
    return _cell(text)


def command_section(app: str, name: str, base: set[str]) -> str:
    command = load_command_class(app, name)
    parser = command.create_parser(PROGRAM, name)
    actions = [a for a in parser._actions if a.dest not in base and a.help is not argparse.SUPPRESS]
    positionals = [a for a in actions if not a.option_strings]
    optionals = [a for a in actions if a.option_strings]
    usage = " ".join([PROGRAM, name, *(_usage_part(a) for a in optionals), *(_usage_part(a) for a in positionals)])
    lines = [f"### `{name}`", ""]
    help_text = _cell(str(command.help or "")).replace("\\|", "|")
    if help_text:
        lines += [help_text, ""]
    lines += ["```", _portable(usage), "```", ""]
    if actions:
        lines += ["| argument | default | help |", "|---|---|---|"]
        for action in positionals + optionals:
            if action.option_strings:
                flags = ", ".join(
                    f"`{flag} {_metavar(action)}`" if _takes_value(action) else f"`{flag}`"
                    for flag in action.option_strings
                )
            else:
                flags = f"`{_metavar(action)}`"
            lines.append(f"| {_cell(flags)} | {_default(action)} | {_help(action)} |")
        lines.append("")
    return "\n".join(lines)


def render() -> str:
    """The whole page."""
    base = _base_dests()
    parts = [HEADER]
    for app, names in project_commands().items():
        label = apps.get_app_config(app.rsplit(".", 1)[-1]).label
        parts.append(f"## {label}\n")
        parts.extend(command_section(app, name, base) for name in names)
    return "\n".join(parts).rstrip("\n") + "\n"


def differences(expected: str, actual: str) -> str:
    """One line: how ``actual`` (the page on disk) differs from ``expected`` (the parsers'), or '' when equal."""
    if expected == actual:
        return ""
    want, have = expected.splitlines(), actual.splitlines()
    first = next((i for i, (a, b) in enumerate(zip(want, have)) if a != b), min(len(want), len(have)))
    changed = sum(1 for a, b in zip(want, have) if a != b) + abs(len(want) - len(have))
    wanted = want[first] if first < len(want) else "(end of page)"
    return f"{changed} line(s) differ, the first at line {first + 1}: expected {wanted!r}"
