"""import_responses: the long CSV of export_responses back into a study -- all or nothing, errors by line.

Also the issue's reality check: a cohort shaped like the paper's (83 kept surveys x 20 votes =
939 / 438 / 151 / 132, plus participants who fail the checks or stop), imported from a generated
CSV and analysed through the ORM adapter, gives back exactly those totals, F with df (3, 328),
p < 1e-50 and Tukey separating NormLIME from every other method.
"""
from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta, timezone

import numpy as np
import pytest
from django.core.management import CommandError, call_command
from django.db import IntegrityError

from analysis import importing, simulate
from analysis.importing import ImportFailed, import_csv
from analysis.study import METHODS, analyze_study
from survey import export
from survey.models import Answer, Item, Participant, SheetEntry, ShownOption
from survey.testing import make_explanation_set, make_study

pytestmark = pytest.mark.django_db

T0 = datetime(2024, 5, 1, 9, 0, tzinfo=timezone.utc)


# --- a CSV in export_responses' format, generated without the survey ---------------------------


def generated_csv(study, people: list[dict], seed: int = 0) -> str:
    """Rows as export_responses writes them for ``people``: dicts with ``votes`` (method index per real
    item, in item order), ``checks`` (right or not, per check in item order) and optionally ``answered``
    (fewer than all: unfinished), ``platform`` and the platform's ids."""
    rng = np.random.default_rng(seed)
    items = list(Item.objects.filter(study=study).order_by("number").values_list("number", "kind", "digit"))
    real = [i for i in items if i[1] == "real"]
    checks = [i for i in items if i[1] == "attention"]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(export.COLUMNS)
    for k, person in enumerate(people):
        answered = person.get("answered", len(items))
        finished = answered == len(items)
        passed = sum(person["checks"])
        order = rng.permutation(len(items))
        start = T0 + timedelta(hours=k)
        for position, index in enumerate(order[:answered], start=1):
            number, kind, digit = items[index]
            row = {c: None for c in export.COLUMNS}
            row.update(
                study="elsewhere", participant=person.get("id", f"00000000-0000-4000-8000-{k:012d}"),
                platform=person.get("platform", "direct"), participant_status="finished" if finished else "started",
                participant_checks_passed=passed if finished else None, participant_passed=(passed >= 4) if finished else None,
                position=position, item_number=number, kind=kind, digit=digit,
                shown_at=start + timedelta(seconds=10 * position), answered_at=start + timedelta(seconds=10 * position + 4),
                response_ms=4000,
            )
            for key in ("worker_id", "assignment_id", "hit_id", "prolific_pid"):
                row[key] = person.get(key, "")
            if kind == "real":
                shown = [METHODS[m] for m in rng.permutation(4)]
                method = METHODS[person["votes"][real.index(items[index])]]
                chosen = shown.index(method) + 1
                row.update({f"method_at_{p}": m for p, m in enumerate(shown, start=1)},
                           chosen_position=chosen, chosen_method=method)
            else:
                right = person["checks"][checks.index(items[index])]
                correct = int(rng.integers(1, 5))
                chosen = correct if right else (correct % 4) + 1
                row.update(correct_position=correct, chosen_position=chosen, check_passed=right)
            writer.writerow([export.csv_cell(row[c]) for c in export.COLUMNS])
    return out.getvalue()


def paper_cohort(seed: int = 0) -> list[dict]:
    """83 kept participants whose 1,660 votes are exactly the paper's, 12 who fail the checks, 2 who stop."""
    rng = np.random.default_rng(seed)
    pool = np.array([0] * 939 + [1] * 438 + [3] * 151 + [2] * 132)  # normlime, lime, vargrad, smoothgrad
    rng.shuffle(pool)
    people = []
    for k in range(83):
        checks = [True] * 5
        if k % 3 == 0:
            checks[k % 5] = False  # a third of the kept slip once: 4 of 5 still counts
        people.append({"votes": pool[20 * k: 20 * k + 20].tolist(), "checks": checks})
    for k in range(12):
        right = k % 4  # 0-3 checks right: excluded
        people.append({"votes": rng.integers(0, 4, 20).tolist(), "checks": [True] * right + [False] * (5 - right)})
    people.append({"votes": [0] * 20, "checks": [True] * 5, "answered": 7})
    people.append({"votes": [1] * 20, "checks": [True] * 5, "answered": 24})
    return people


@pytest.fixture
def explanation_set():
    return make_explanation_set()


@pytest.fixture
def target(explanation_set):
    return make_study(explanation_set, slug="copy")


def test_a_cohort_shaped_like_the_papers_gives_back_the_papers_totals_df_and_conclusions(target):
    result = import_csv(target, io.StringIO(generated_csv(target, paper_cohort())))
    assert (result.participants, result.finished, result.answers) == (97, 95, 95 * 25 + 7 + 24)
    report = analyze_study(target, n_boot=500)
    a = report.analysis
    assert (report.n_kept, len(report.exclusions)) == (83, 14)
    assert dict(zip(a.methods, a.tally.totals.tolist())) == {"normlime": 939, "lime": 438, "vargrad": 151, "smoothgrad": 132}
    assert report.n_votes == 1660 == 83 * 20
    assert (a.anova.df_between, a.anova.df_within) == (3, 328)
    assert a.anova.p < 1e-50
    assert all(a.tukey.row("normlime", other).reject for other in ("lime", "smoothgrad", "vargrad"))
    assert all(a.tukey.row("normlime", other).meandiff < 0 for other in ("lime", "smoothgrad", "vargrad"))  # NormLIME larger
    assert dict(report.exclusion_summary())["did not finish the survey"] == 2


# --- export, then import -------------------------------------------------------------------------


def plan(votes, checks_right, answered=25) -> simulate.Plan:
    return simulate.Plan(careless=False, votes=tuple(votes), checks_right=tuple(checks_right), wrong_picks=(2,) * 5,
                         seconds=(6.0,) * answered)


@pytest.fixture
def source(explanation_set):
    """A study answered through the services: three finish (one fails the checks), one stops after 5 questions."""
    study = make_study(explanation_set, slug="source")
    layout = simulate.study_layout(study)
    people = [
        plan([0] * 11 + [1] * 5 + [2] * 2 + [3] * 2, [True] * 5),
        plan([0] * 7 + [1] * 7 + [3] * 6, [True, True, False, True, True]),
        plan([2] * 20, [False, False, True, False, True]),
        plan([1] * 20, [True] * 5, answered=5),
        plan([0] * 9 + [1] * 9 + [2] + [3], [True] * 5),
    ]
    for i, p in enumerate(people):
        simulate.simulate_participant(study, p, T0 + timedelta(minutes=30 * i), layout)
    return study


def exported(study) -> str:
    out = io.StringIO()
    export.write_csv(study, out)
    return out.getvalue()


def test_export_then_import_into_a_fresh_study_gives_back_the_same_analysis(source, target):
    text = exported(source)
    result = import_csv(target, io.StringIO(text))
    assert (result.participants, result.finished, result.answers) == (5, 4, 4 * 25 + 5)
    before, after = analyze_study(source, n_boot=300), analyze_study(target, n_boot=300)
    assert after.analysis.to_dict() == before.analysis.to_dict()
    assert [e.reason for e in after.exclusions] == [e.reason for e in before.exclusions]
    # ... and exporting the copy gives the same rows, apart from the study and the (new) participant ids.
    strip = lambda t: [{k: v for k, v in r.items() if k not in ("study", "participant")} for r in csv.DictReader(io.StringIO(t))]
    assert strip(exported(target)) == strip(text)


def test_imported_participants_are_consistent_with_the_survey_models(source, target):
    import_csv(target, io.StringIO(exported(source)))
    for p in Participant.objects.filter(study=target):
        assert p.checks_passed == Answer.objects.filter(participant=p, correct=True).count() or not p.is_finished
        assert SheetEntry.objects.filter(participant=p).count() == Answer.objects.filter(participant=p).count()
    assert ShownOption.objects.filter(entry__participant__study=target).count() == 4 * Answer.objects.filter(participant__study=target).count()
    finished = Participant.objects.filter(study=target, status="finished")
    assert [p.passed for p in finished] == [True, True, False, True]


def test_the_participant_ids_are_kept_when_free(target):
    people = [{"votes": [0] * 20, "checks": [True] * 5, "id": "5b1f4f32-8d3c-4d7e-9a0e-1c2d3e4f5a6b"}]
    result = import_csv(target, io.StringIO(generated_csv(target, people)))
    assert result.new_ids == 0
    assert str(Participant.objects.get(study=target).public_id) == "5b1f4f32-8d3c-4d7e-9a0e-1c2d3e4f5a6b"
    with pytest.raises(ImportFailed, match="is already in study copy"):
        import_csv(target, io.StringIO(generated_csv(target, people)))


def test_ids_that_are_not_uuids_get_new_ones(target):
    people = [{"votes": [0] * 20, "checks": [True] * 5, "id": "R_3kLm9"}]
    assert import_csv(target, io.StringIO(generated_csv(target, people))).new_ids == 1


def test_cells_escaped_against_spreadsheet_formulas_are_unescaped(target):
    people = [{"votes": [0] * 20, "checks": [True] * 5, "platform": "mturk", "worker_id": "=HYPERLINK(1)",
               "assignment_id": "-A1", "hit_id": "+H1"}]
    text = generated_csv(target, people)
    assert "'=HYPERLINK(1)" in text
    import_csv(target, io.StringIO(text))
    p = Participant.objects.get(study=target)
    assert (p.worker_id, p.assignment_id, p.hit_id) == ("=HYPERLINK(1)", "-A1", "+H1")


@pytest.mark.parametrize("cell, value", [("'=1", "=1"), ("'-2", "-2"), ("'plain", "'plain"), ("x'=1", "x'=1"), ("", "")])
def test_unescape_drops_only_the_quote_export_adds(cell, value):
    assert importing.unescape(cell) == value


# --- bad files: every error by line, nothing written ---------------------------------------------


@pytest.fixture
def text(target) -> str:
    """A valid file for ``target`` (made without the services, so quickly): 4 finish, 1 stops after 5."""
    people = [
        {"votes": [0] * 10 + [1] * 10, "checks": [True] * 5},
        {"votes": [1] * 20, "checks": [True, False, True, True, True]},
        {"votes": [2] * 20, "checks": [False] * 5},
        {"votes": [3] * 20, "checks": [True] * 5, "answered": 5},
        {"votes": [0] * 20, "checks": [True] * 5},
    ]
    return generated_csv(target, people, seed=4)


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
    return next(i for i, r in enumerate(csv.DictReader(io.StringIO(text)), start=2) if r["kind"] == "real" and i > after)


def test_each_bad_row_is_reported_with_its_line_number_and_nothing_is_imported(text, target):
    real = _first_real_line(text, after=12)
    bad = corrupt(text, {
        3: {"chosen_position": "7"},
        real: {"chosen_method": "shap"},
        9: {"digit": "x"},
        12: {"answered_at": "yesterday"},
    })
    with pytest.raises(ImportFailed) as excinfo:
        import_csv(target, io.StringIO(bad))
    messages = {e.line: e.message for e in excinfo.value.errors}
    assert messages[3] == "chosen_position 7 is not between 1 and 4"
    assert messages[real].startswith("chosen_method 'shap' but method_at_")
    assert messages[9] == "digit 'x' is not a whole number"
    assert messages[12] == "answered_at 'yesterday' is not an ISO 8601 date and time"
    assert Participant.objects.filter(study=target).count() == 0 and Answer.objects.filter(item__study=target).count() == 0


def test_a_row_that_contradicts_the_target_study_is_refused(text, explanation_set):
    other = make_study(explanation_set, slug="other", seed=99)  # different attention checks
    with pytest.raises(ImportFailed, match=r"line \d+: digit \d but item 2\d of study other asks about digit \d"):
        import_csv(other, io.StringIO(text))


def test_a_participant_whose_rows_disagree_is_refused_at_the_row_that_differs(text, target):
    bad = corrupt(text, {4: {"platform": "prolific"}})
    with pytest.raises(ImportFailed) as excinfo:
        import_csv(target, io.StringIO(bad))
    assert str(excinfo.value.errors[0]) == "line 4: platform 'prolific' differs from 'direct' on line 2 for the same participant"


def test_a_finished_participant_missing_an_answer_is_refused_and_nothing_is_imported(text, target):
    lines = text.splitlines(keepends=True)
    text = "".join(lines[:10] + lines[11:])  # drop line 11: the first participant's 10th answer
    with pytest.raises(ImportFailed) as excinfo:
        import_csv(target, io.StringIO(text))
    errors = [str(e) for e in excinfo.value.errors]
    assert any(e.startswith("line 2: participant ") and "answers must be the positions 1..n" in e for e in errors)
    assert any("marked finished but answered 24 of the study's 25 questions" in e for e in errors)
    assert Participant.objects.filter(study=target).count() == 0


def test_a_failure_while_writing_rolls_everything_back(text, target, monkeypatch):
    def refuse(*args, **kwargs):
        raise IntegrityError("simulated clash")

    monkeypatch.setattr(Answer.objects, "bulk_create", refuse)
    with pytest.raises(ImportFailed, match="the database refused the import"):
        import_csv(target, io.StringIO(text))
    assert Participant.objects.filter(study=target).count() == 0
    assert SheetEntry.objects.filter(participant__study=target).count() == 0


def test_a_missing_column_is_reported_on_line_1(target):
    with pytest.raises(ImportFailed, match=r"^line 1: missing column\(s\) participant_status, position, item_number"):
        import_csv(target, io.StringIO("participant,platform\n"))


def test_mturk_ids_already_in_the_database_are_refused(explanation_set, target):
    source = make_study(explanation_set, slug="source")
    people = [{"votes": [0] * 20, "checks": [True] * 5, "platform": "mturk", "worker_id": "W1", "assignment_id": "A1",
               "hit_id": "H1"}]
    import_csv(source, io.StringIO(generated_csv(source, people)))
    with pytest.raises(ImportFailed, match=r"assignment 'A1' is already a participant's"):
        import_csv(target, io.StringIO(generated_csv(target, people)))


# --- the command ---------------------------------------------------------------------------------


def test_the_command_imports_a_file_and_says_what_it_did(text, target, tmp_path):
    path = tmp_path / "responses.csv"
    path.write_text(text, encoding="utf-8")
    out = io.StringIO()
    call_command("import_responses", str(path), "--study", "copy", stdout=out)
    assert out.getvalue().strip() == f"Imported 5 participants (4 finished) and 105 answers from {path} into study copy."


def test_the_command_lists_bad_rows_on_stderr_and_imports_nothing(text, target, tmp_path):
    path = tmp_path / "responses.csv"
    path.write_text(corrupt(text, {3: {"chosen_position": "0"}, 5: {"kind": "bonus"}}), encoding="utf-8")
    err = io.StringIO()
    with pytest.raises(CommandError, match=r"responses.csv: 2 errors; nothing was imported$"):
        call_command("import_responses", str(path), "--study", "copy", stderr=err, stdout=io.StringIO())
    assert f"{path}: line 3: chosen_position 0 is not between 1 and 4" in err.getvalue()
    assert f"{path}: line 5: kind 'bonus' but item" in err.getvalue()
    assert Participant.objects.filter(study=target).count() == 0


def test_the_command_refuses_a_missing_file_or_study(target, tmp_path):
    with pytest.raises(CommandError, match="no such file"):
        call_command("import_responses", str(tmp_path / "none.csv"), "--study", "copy")
    with pytest.raises(CommandError, match="no study with slug 'nope'"):
        call_command("import_responses", str(tmp_path / "none.csv"), "--study", "nope")
