"""export_study_config: a study written back as a study file that builds the same study again."""

import io

import pytest
from django.core.management import CommandError, call_command

from survey import attention
from survey.models import Item, ItemOption, Study
from survey.testing import fake_pictures, make_study

pytestmark = pytest.mark.django_db


@pytest.fixture
def fake_digits(monkeypatch):
    monkeypatch.setattr(attention, "digit_pictures", lambda mnist_dir=None: fake_pictures())


def _run(command, *args):
    out = io.StringIO()
    call_command(command, *args, stdout=out)
    return out.getvalue()


def _questions(study):
    items = Item.objects.filter(study=study).order_by("number")
    return [
        (
            item.number,
            item.kind,
            item.digit,
            [(o.slot, o.method, o.is_correct, bytes(o.image.png)) for o in item.options.order_by("slot")],
        )
        for item in items
    ]


def test_the_written_file_builds_the_same_study_again(explanation_set, fake_digits, tmp_path):
    original = make_study(
        explanation_set,
        slug="first",
        methods=("smoothgrad", "normlime", "lime"),
        n_real_questions=30,
        seed=4321,
        status="draft",
        accept_mturk=False,
        accept_prolific=True,
        prolific_completion_code="C0DE",
        researcher="Dr Ada Lovelace",
        completion_message="Thanks!\n\nAll {questions} done.",
    )
    path = tmp_path / "study.toml"
    out = _run("export_study_config", "first", "-o", str(path))
    assert f"Wrote study first to {path}" in out
    original.slug = "second"  # the file, with another slug, on "another machine"
    Study.objects.filter(pk=original.pk).update(slug="moved")
    _run("create_study", "--config", str(path), "--slug", "second")
    copy = Study.objects.get(slug="second")
    moved = Study.objects.get(slug="moved")
    fields = [f.name for f in Study._meta.concrete_fields if f.name not in ("id", "slug", "created_at", "updated_at")]
    assert {f: getattr(copy, f) for f in fields} == {f: getattr(moved, f) for f in fields}
    assert _questions(copy) == _questions(moved)
    assert ItemOption.objects.filter(item__study=copy).count() == ItemOption.objects.filter(item__study=moved).count()


def test_without_a_file_it_prints_the_study_file(explanation_set):
    make_study(explanation_set, slug="printed", seed=9)
    out = _run("export_study_config", "printed")
    assert 'slug = "printed"' in out and "seed = 9" in out and "[texts]" in out


def test_an_existing_file_is_kept_unless_forced(explanation_set, tmp_path):
    make_study(explanation_set, slug="kept")
    path = tmp_path / "study.toml"
    path.write_text("mine")
    with pytest.raises(CommandError, match="exists; pass --force"):
        _run("export_study_config", "kept", "-o", str(path))
    assert path.read_text() == "mine"
    _run("export_study_config", "kept", "-o", str(path), "--force")
    assert 'slug = "kept"' in path.read_text()


@pytest.mark.parametrize(
    "args, problem", [(["nope"], "no study 'nope'"), (["s", "-o", "/no/such/dir/x.toml"], "no such folder")]
)
def test_bad_input_is_a_one_line_error(explanation_set, args, problem):
    make_study(explanation_set, slug="s")
    with pytest.raises(CommandError, match=problem):
        _run("export_study_config", *args)
