"""The README is a short front page; README.md and docs/ name no issue numbers and link only to files that exist."""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
ISSUE = re.compile(r"\bissues?\s+#?\d+|(?<![\w&/])#\d+\b", re.IGNORECASE)
LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
FENCE = re.compile(r"^(```|~~~).*?^\1", re.MULTILINE | re.DOTALL)


def relative_links(text: str) -> list[str]:
    """The link targets of a markdown text outside fenced code, less web addresses and in-page anchors."""
    targets = LINK.findall(FENCE.sub("", text))
    return [t for t in targets if not re.match(r"[a-z][a-z0-9+.-]*:", t, re.IGNORECASE) and not t.startswith("#")]


def test_the_readme_is_a_front_page_under_10_kb():
    assert (ROOT / "README.md").stat().st_size < 10 * 1024


def test_the_readme_keeps_make_test_as_the_test_command_and_links_contributing():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "make test" in text
    assert "(CONTRIBUTING.md)" in text


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_page_mentions_an_issue_number(page):
    found = [m.group(0) for m in ISSUE.finditer(page.read_text(encoding="utf-8"))]
    assert found == []


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_points_at_a_file_that_exists(page):
    missing = [
        target
        for target in relative_links(page.read_text(encoding="utf-8"))
        if not (page.parent / target.split("#", 1)[0]).exists()
    ]
    assert missing == []


def test_the_issue_pattern_catches_both_styles_and_spares_colours_and_headings():
    assert ISSUE.findall("before issue 10, see #12 and Issues 8") == ["issue 10", "#12", "Issues 8"]
    assert ISSUE.findall("# Title\ncolour #8c564b, &#123; and a/b#3") == []


def test_relative_links_skip_web_addresses_anchors_and_code():
    text = '[a](docs/x.md) ![b](img.png "t") [c](https://x.org) [d](#top)\n```\n[e](nowhere.md)\n```\n'
    assert relative_links(text) == ["docs/x.md", "img.png"]


def test_production_documents_every_variable_the_settings_read():
    settings_source = (ROOT / "config" / "settings.py").read_text(encoding="utf-8")
    variables = set(re.findall(r"env_(?:str|bool|int|list)\(\s*\"([A-Z0-9_]+)\"", settings_source))
    assert {"DJANGO_SECRET_KEY", "DATABASE_URL", "NORMLIME_DATA_DIR", "DJANGO_ALLOWED_HOSTS"} <= variables
    production = (ROOT / "docs" / "production.md").read_text(encoding="utf-8")
    rows = set(re.findall(r"^\| `([A-Z0-9_]+)` \|", production, re.MULTILINE))
    assert variables - rows == set()


def test_the_tutorials_study_file_is_the_example_file_and_its_texts_are_study_texts():
    import tomllib

    from survey.services import TEXT_FIELDS, check_texts

    example = (ROOT / "docs" / "examples" / "study.toml").read_text(encoding="utf-8")
    tutorial = (ROOT / "docs" / "tutorial-own-study.md").read_text(encoding="utf-8")
    assert f"```toml\n{example}```" in tutorial
    study = tomllib.loads(example)
    assert set(study["texts"]) == set(TEXT_FIELDS)
    assert check_texts(study["texts"])["duration_minutes"] == 10
    assert study["methods"] == ["normlime", "lime", "ig"]


def console_commands(text: str) -> list[str]:
    """The `$ ` lines of a page's console blocks, in order."""
    blocks = re.findall(r"^```console\n(.*?)^```", text, re.MULTILINE | re.DOTALL)
    return [line[2:] for block in blocks for line in block.splitlines() if line.startswith("$ ")]


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_console_line_is_a_command_prefixed_by_a_dollar(page):
    blocks = re.findall(r"^```console\n(.*?)^```", page.read_text(encoding="utf-8"), re.MULTILINE | re.DOTALL)
    stray = [line for block in blocks for line in block.splitlines() if line.strip() and not line.startswith("$ ")]
    assert stray == []


def test_the_tutorial_runs_every_command_of_a_study_in_order():
    commands = console_commands((ROOT / "docs" / "tutorial-own-study.md").read_text(encoding="utf-8"))
    manage = [c.split("manage.py ", 1)[1].split()[0] for c in commands if "manage.py " in c]
    steps = ["generate_explanations", "create_study", "delete_participants", "export_set", "migrate", "import_set"]
    steps += ["create_study", "set_study_status", "prolific_ids", "export_responses", "analyze_study"]
    positions = [manage.index(steps[0])]
    for step in steps[1:]:
        positions.append(manage.index(step, positions[-1] + 1))
    assert positions == sorted(positions)


def test_the_methods_page_states_each_methods_channel_rule_as_the_registry_does():
    from explainers.methods import registry

    page = (ROOT / "docs" / "methods.md").read_text(encoding="utf-8")
    for method in registry.METHODS:
        assert f"- **{method.label}**: {method.channel_rule}." in page, method.name
