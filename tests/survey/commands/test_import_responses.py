"""import_responses: the long CSV of export_responses back into a study -- all or nothing, errors by line.

How the imported data then analyses (the paper's cohort, an exported study analysed twice) is in
tests/analysis/test_study.py.
"""

from __future__ import annotations

import csv
import io

import pytest
from django.core.management import CommandError, call_command
from django.db import IntegrityError

from survey import export, services
from survey.models import Answer, Participant, SheetEntry, ShownOption
from survey.services import ImportFailed, import_csv
from survey.testing import answer_all, correct_position, long_csv, make_study

pytestmark = pytest.mark.django_db


@pytest.fixture
def target(explanation_set):
    return make_study(explanation_set, slug="copy")


def _counts(study) -> tuple[int, int, int, int]:
    return (
        Participant.objects.filter(study=study).count(),
        SheetEntry.objects.filter(participant__study=study).count(),
        ShownOption.objects.filter(entry__participant__study=study).count(),
        Answer.objects.filter(item__study=study).count(),
    )


# --- export, then import -------------------------------------------------------------------------


@pytest.fixture
def source(explanation_set):
    """A study answered through the services: three finish (one fails the checks), one stops after 5 questions."""
    study = make_study(explanation_set, slug="source")

    def take(pick_real: int, checks_right: bool, stop_after: int | None = None) -> None:
        participant, _ = services.start_participant(study, services.EntryParams(platform="direct"))

        def pick(question: services.Question) -> int:
            if not question.is_attention:
                return pick_real
            right = correct_position(participant, question.position)
            return right if checks_right else right % 4 + 1

        answer_all(participant, pick, stop_after=stop_after)

    take(1, True)
    take(2, True)
    take(3, False)
    take(4, True, stop_after=5)
    return study


def exported(study) -> str:
    out = io.StringIO()
    export.write_csv(study, out)
    return out.getvalue()


def test_export_then_import_into_a_fresh_study_gives_back_the_same_rows(source, target):
    text = exported(source)
    result = import_csv(target, io.StringIO(text))
    assert (result.participants, result.finished, result.answers) == (4, 3, 3 * 25 + 5)
    # Apart from the study and the (new) participant ids, exporting the copy gives the same rows.
    strip = lambda t: [
        {k: v for k, v in r.items() if k not in ("study", "participant")} for r in csv.DictReader(io.StringIO(t))
    ]
    assert strip(exported(target)) == strip(text)


def test_imported_participants_are_consistent_with_the_survey_models(source, target):
    import_csv(target, io.StringIO(exported(source)))
    for p in Participant.objects.filter(study=target):
        assert p.checks_passed == Answer.objects.filter(participant=p, correct=True).count() or not p.is_finished
        assert SheetEntry.objects.filter(participant=p).count() == Answer.objects.filter(participant=p).count()
    assert (
        ShownOption.objects.filter(entry__participant__study=target).count()
        == 4 * Answer.objects.filter(participant__study=target).count()
    )
    finished = Participant.objects.filter(study=target, status="finished").order_by("started_at")
    assert [p.passed for p in finished] == [True, True, False]


def test_the_files_participant_ids_are_kept_as_imported_ids(source, target):
    import_csv(target, io.StringIO(exported(source)))
    sources = set(Participant.objects.filter(study=source).values_list("public_id", flat=True))
    assert {p.imported_id for p in Participant.objects.filter(study=target)} == {str(u) for u in sources}


def test_the_pass_rule_is_the_target_studys_whatever_the_file_says(explanation_set):
    strict = make_study(explanation_set, slug="strict", pass_threshold=5)
    people = [{"votes": [0] * 20, "checks": [True, True, True, True, False]}]
    text = corrupt(long_csv(strict, people), {line: {"participant_passed": "true"} for line in range(2, 27)})
    import_csv(strict, io.StringIO(text))
    assert Participant.objects.get(study=strict).passed is False


def test_a_file_exported_from_the_study_itself_is_refused(source):
    before = _counts(source)
    with pytest.raises(
        ImportFailed, match=r"^line 2: participant [0-9a-f-]{36} is already in study source \(and 3 more"
    ):
        import_csv(source, io.StringIO(exported(source)))
    assert _counts(source) == before


def test_the_participant_ids_are_kept_when_free(target):
    people = [{"votes": [0] * 20, "checks": [True] * 5, "id": "5b1f4f32-8d3c-4d7e-9a0e-1c2d3e4f5a6b"}]
    result = import_csv(target, io.StringIO(long_csv(target, people)))
    assert result.new_ids == 0
    assert str(Participant.objects.get(study=target).public_id) == "5b1f4f32-8d3c-4d7e-9a0e-1c2d3e4f5a6b"


def test_ids_that_are_not_uuids_get_new_ones(target):
    people = [{"votes": [0] * 20, "checks": [True] * 5, "id": "R_3kLm9"}]
    assert import_csv(target, io.StringIO(long_csv(target, people))).new_ids == 1
    assert Participant.objects.get(study=target).imported_id == "R_3kLm9"


def test_cells_escaped_against_spreadsheet_formulas_are_unescaped(target):
    people = [
        {
            "votes": [0] * 20,
            "checks": [True] * 5,
            "platform": "mturk",
            "worker_id": "=HYPERLINK(1)",
            "assignment_id": "-A1",
            "hit_id": "+H1",
        }
    ]
    text = long_csv(target, people)
    assert "'=HYPERLINK(1)" in text
    import_csv(target, io.StringIO(text))
    p = Participant.objects.get(study=target)
    assert (p.worker_id, p.assignment_id, p.hit_id) == ("=HYPERLINK(1)", "-A1", "+H1")


def test_a_file_with_only_the_required_columns_is_imported(target):
    text = long_csv(target, [{"votes": [1] * 20, "checks": [True] * 5}])
    rows = list(csv.DictReader(io.StringIO(text)))
    out = io.StringIO()
    writer = csv.DictWriter(
        out, services.required_columns(target.n_options), extrasaction="ignore", lineterminator="\n"
    )
    writer.writeheader()
    writer.writerows(rows)
    assert import_csv(target, io.StringIO(out.getvalue())).answers == 25
    assert Participant.objects.get(study=target).checks_passed == 5


# --- the same file twice -------------------------------------------------------------------------


PLATFORMS = {
    "direct": {"id": "R_1"},
    "mturk": {"id": "R_1", "platform": "mturk", "worker_id": "W1", "assignment_id": "A1", "hit_id": "H1"},
    "prolific": {"id": "R_1", "platform": "prolific", "prolific_pid": "P1"},
}


@pytest.mark.parametrize("platform", PLATFORMS)
def test_importing_a_file_again_is_refused_in_one_line_naming_the_first_repeated_id(target, platform):
    people = [
        {"votes": [0] * 20, "checks": [True] * 5, **PLATFORMS[platform]},
        {"votes": [1] * 20, "checks": [True] * 5, "id": "R_2"},
    ]
    text = long_csv(target, people)
    import_csv(target, io.StringIO(text))
    before = _counts(target)
    with pytest.raises(ImportFailed) as excinfo:
        import_csv(target, io.StringIO(text))
    assert [str(e) for e in excinfo.value.errors] == [
        "line 2: participant R_1 is already in study copy (and 1 more of the file's 2 participants): "
        "this file, or one with the same participant ids, was imported before"
    ]
    assert _counts(target) == before


def test_a_file_that_repeats_one_participant_among_new_ones_writes_nothing(target):
    first = [{"votes": [0] * 20, "checks": [True] * 5, "id": "R_2"}]
    import_csv(target, io.StringIO(long_csv(target, first)))
    before = _counts(target)
    both = [{"votes": [1] * 20, "checks": [True] * 5, "id": "R_1"}, *first]
    with pytest.raises(
        ImportFailed, match=r"^line 27: participant R_2 is already in study copy: this file, or one with the same"
    ):
        import_csv(target, io.StringIO(long_csv(target, both)))
    assert _counts(target) == before


def test_the_same_file_may_go_into_two_studies(explanation_set, target):
    other = make_study(explanation_set, slug="other")
    people = [{"votes": [0] * 20, "checks": [True] * 5, "id": "R_1"}]
    import_csv(target, io.StringIO(long_csv(target, people)))
    import_csv(other, io.StringIO(long_csv(other, people)))
    assert Participant.objects.filter(imported_id="R_1").count() == 2


# --- bad files: every error by line, nothing written ---------------------------------------------


@pytest.fixture
def text(target) -> str:
    """A valid file for ``target``: 4 finish, 1 stops after 5."""
    people = [
        {"votes": [0] * 10 + [1] * 10, "checks": [True] * 5},
        {"votes": [1] * 20, "checks": [True, False, True, True, True]},
        {"votes": [2] * 20, "checks": [False] * 5},
        {"votes": [3] * 20, "checks": [True] * 5, "answered": 5},
        {"votes": [0] * 20, "checks": [True] * 5},
    ]
    return long_csv(target, people, seed=4)


def corrupt(text: str, changes: dict[int, dict[str, str]]) -> str:
    """``changes``: line number (header = 1) -> {column: new value}."""
    rows = list(csv.reader(io.StringIO(text)))
    header = rows[0]
    for line, cells in changes.items():
        for column, value in cells.items():
            rows[line - 1][header.index(column)] = value
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    return out.getvalue()


def _first_real_line(text: str, after: int) -> int:
    return next(
        i for i, r in enumerate(csv.DictReader(io.StringIO(text)), start=2) if r["kind"] == "real" and i > after
    )


def test_each_bad_row_is_reported_with_its_line_number_and_nothing_is_imported(text, target):
    real = _first_real_line(text, after=12)
    bad = corrupt(
        text,
        {
            3: {"chosen_position": "7"},
            real: {"chosen_method": "shap"},
            9: {"digit": "x"},
            12: {"answered_at": "yesterday"},
        },
    )
    with pytest.raises(ImportFailed) as excinfo:
        import_csv(target, io.StringIO(bad))
    messages = {e.line: e.message for e in excinfo.value.errors}
    assert messages[3] == "chosen_position 7 is not between 1 and 4"
    assert messages[real].startswith("chosen_method 'shap' but method_at_")
    assert messages[9] == "digit 'x' is not a whole number"
    assert messages[12] == "answered_at 'yesterday' is not an ISO 8601 date and time"
    assert _counts(target) == (0, 0, 0, 0)


def test_a_row_that_contradicts_the_target_study_is_refused(text, explanation_set):
    other = make_study(explanation_set, slug="other", seed=99)  # different attention checks
    with pytest.raises(ImportFailed, match=r"line \d+: digit \d but item 2\d of study other asks about digit \d"):
        import_csv(other, io.StringIO(text))


def test_a_participant_whose_rows_disagree_is_refused_at_the_row_that_differs(text, target):
    bad = corrupt(text, {4: {"platform": "prolific"}})
    with pytest.raises(ImportFailed) as excinfo:
        import_csv(target, io.StringIO(bad))
    assert (
        str(excinfo.value.errors[0])
        == "line 4: platform 'prolific' differs from 'direct' on line 2 for the same participant"
    )


def test_a_finished_participant_missing_an_answer_is_refused_and_nothing_is_imported(text, target):
    lines = text.splitlines(keepends=True)
    text = "".join(lines[:10] + lines[11:])  # drop line 11: the first participant's 10th answer
    with pytest.raises(ImportFailed) as excinfo:
        import_csv(target, io.StringIO(text))
    errors = [str(e) for e in excinfo.value.errors]
    assert any(e.startswith("line 2: participant ") and "answers must be the positions 1..n" in e for e in errors)
    assert any("marked finished but answered 24 of the study's 25 questions" in e for e in errors)
    assert _counts(target) == (0, 0, 0, 0)


def test_a_participant_with_the_wrong_stated_score_is_refused(text, target):
    bad = corrupt(text, {line: {"participant_checks_passed": "3"} for line in range(2, 27)})
    with pytest.raises(ImportFailed, match=r"^line 2: participant \S+: participant_checks_passed is 3 but 5 of the"):
        import_csv(target, io.StringIO(bad))


@pytest.mark.parametrize(
    "ids, message",
    [
        ({"platform": "mturk", "worker_id": "W1"}, "an MTurk participant needs worker_id, assignment_id and hit_id"),
        ({"platform": "prolific"}, "a Prolific participant needs prolific_pid"),
        ({"platform": "email"}, "platform 'email' is not one of mturk, prolific, direct"),
    ],
)
def test_a_participant_without_their_platforms_ids_is_refused_as_the_survey_refuses_them(target, ids, message):
    text = long_csv(target, [{"votes": [0] * 20, "checks": [True] * 5, "id": "R_1", **ids}])
    with pytest.raises(ImportFailed) as excinfo:
        import_csv(target, io.StringIO(text))
    assert [str(e) for e in excinfo.value.errors] == [f"line 2: participant R_1: {message}"]


def test_a_failure_while_writing_rolls_everything_back(text, target, monkeypatch):
    def refuse(*args, **kwargs):
        raise IntegrityError("simulated clash")

    monkeypatch.setattr(Answer.objects, "bulk_create", refuse)
    with pytest.raises(ImportFailed, match="the database refused the import"):
        import_csv(target, io.StringIO(text))
    assert _counts(target) == (0, 0, 0, 0)


def test_a_missing_column_is_reported_on_line_1(target):
    with pytest.raises(ImportFailed, match=r"^line 1: missing column\(s\) participant_status, position, item_number"):
        import_csv(target, io.StringIO("participant,platform\n"))


def test_mturk_ids_already_in_the_database_are_refused(explanation_set, target):
    source = make_study(explanation_set, slug="source")
    people = [
        {
            "votes": [0] * 20,
            "checks": [True] * 5,
            "platform": "mturk",
            "worker_id": "W1",
            "assignment_id": "A1",
            "hit_id": "H1",
        }
    ]
    import_csv(source, io.StringIO(long_csv(source, people)))
    with pytest.raises(ImportFailed, match=r"assignment 'A1' is already a participant's"):
        import_csv(target, io.StringIO(long_csv(target, people)))


def test_a_worker_who_took_part_here_is_refused(target):
    services.start_participant(
        target, services.EntryParams(platform="mturk", worker_id="W1", assignment_id="A0", hit_id="H0")
    )
    people = [
        {
            "votes": [0] * 20,
            "checks": [True] * 5,
            "id": "R_1",
            "platform": "mturk",
            "worker_id": "W1",
            "assignment_id": "A1",
            "hit_id": "H1",
        }
    ]
    with pytest.raises(ImportFailed, match=r"^line 2: participant R_1: worker 'W1' already took part in study copy$"):
        import_csv(target, io.StringIO(long_csv(target, people)))


# --- the command ---------------------------------------------------------------------------------


def test_the_command_imports_a_file_and_says_what_it_did(text, target, tmp_path):
    path = tmp_path / "responses.csv"
    path.write_text(text, encoding="utf-8")
    out = io.StringIO()
    call_command("import_responses", str(path), "--study", "copy", stdout=out)
    assert (
        out.getvalue().strip() == f"Imported 5 participants (4 finished) and 105 answers from {path} into study copy."
    )


def test_the_command_lists_bad_rows_on_stderr_and_imports_nothing(text, target, tmp_path):
    path = tmp_path / "responses.csv"
    path.write_text(corrupt(text, {3: {"chosen_position": "0"}, 5: {"kind": "bonus"}}), encoding="utf-8")
    err = io.StringIO()
    with pytest.raises(CommandError, match=r"responses.csv: 2 errors; nothing was imported$"):
        call_command("import_responses", str(path), "--study", "copy", stderr=err, stdout=io.StringIO())
    assert f"{path}: line 3: chosen_position 0 is not between 1 and 4" in err.getvalue()
    assert f"{path}: line 5: kind 'bonus' but item" in err.getvalue()
    assert Participant.objects.filter(study=target).count() == 0


def test_the_command_refuses_a_file_imported_before_in_one_line(target, tmp_path):
    path = tmp_path / "responses.csv"
    path.write_text(long_csv(target, [{"votes": [0] * 20, "checks": [True] * 5, "id": "R_1"}]), encoding="utf-8")
    call_command("import_responses", str(path), "--study", "copy", stdout=io.StringIO())
    err = io.StringIO()
    with pytest.raises(CommandError) as excinfo:
        call_command("import_responses", str(path), "--study", "copy", stderr=err, stdout=io.StringIO())
    assert str(excinfo.value) == (
        f"{path}: line 2: participant R_1 is already in study copy: this file, or one "
        "with the same participant ids, was imported before; nothing was imported"
    )
    assert err.getvalue() == ""
    assert Participant.objects.filter(study=target).count() == 1


def test_the_command_refuses_a_missing_file_or_study(target, tmp_path):
    with pytest.raises(CommandError, match="no such file"):
        call_command("import_responses", str(tmp_path / "none.csv"), "--study", "copy")
    with pytest.raises(CommandError, match="no study with slug 'nope'"):
        call_command("import_responses", str(tmp_path / "none.csv"), "--study", "nope")


# --- participant kinds ---------------------------------------------------------------------------


def test_imported_pilot_and_simulated_participants_keep_their_kind(target):
    text = long_csv(
        target,
        [
            {"votes": [0] * 20, "checks": [True] * 5, "kind": "pilot"},
            {"votes": [1] * 20, "checks": [True] * 5, "kind": "simulated"},
            {"votes": [2] * 20, "checks": [True] * 5},
        ],
    )
    import_csv(target, io.StringIO(text))
    kinds = list(Participant.objects.filter(study=target).order_by("started_at").values_list("kind", flat=True))
    assert kinds == ["pilot", "simulated", "real"]


def test_a_file_without_the_kind_column_imports_real_participants(target):
    rows = list(csv.DictReader(io.StringIO(long_csv(target, [{"votes": [0] * 20, "checks": [True] * 5}]))))
    out = io.StringIO()
    writer = csv.DictWriter(out, [c for c in rows[0] if c != "participant_kind"], extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    import_csv(target, io.StringIO(out.getvalue()))
    assert list(Participant.objects.filter(study=target).values_list("kind", flat=True)) == ["real"]


def test_an_unknown_kind_is_an_error_naming_the_line_and_the_value(target):
    text = long_csv(target, [{"votes": [0] * 20, "checks": [True] * 5, "kind": "robot"}])
    with pytest.raises(ImportFailed) as failed:
        import_csv(target, io.StringIO(text))
    assert str(failed.value.errors[0]) == "line 2: participant_kind 'robot' is not one of real, pilot, simulated"
    assert not Participant.objects.filter(study=target).exists()


def test_an_mnist_export_of_before_without_a_class_name_column_still_imports(target):
    text = long_csv(target, [{"votes": [0] * 20, "checks": [True] * 5}])
    rows = list(csv.reader(io.StringIO(text)))
    drop = rows[0].index(export.CLASS_NAME)
    old = io.StringIO()
    csv.writer(old, lineterminator="\n").writerows([row[:drop] + row[drop + 1 :] for row in rows])
    assert export.CLASS_NAME in text.splitlines()[0] and export.CLASS_NAME not in old.getvalue().splitlines()[0]
    import_csv(target, io.StringIO(old.getvalue()))
    assert Participant.objects.filter(study=target, status="finished").count() == 1
