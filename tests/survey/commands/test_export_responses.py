"""export_responses (and survey.export): long format, one row per answer, safe for spreadsheets."""

import csv
import io
import json

import pytest
from django.core.management import CommandError, call_command

from explainers.files import format_bytes, space_needed
from survey import export, services
from survey.models import Answer, Participant, ShownOption
from survey.testing import answer_all, correct_position, mturk_params
from tests.disk import check_whole, leftovers

pytestmark = pytest.mark.django_db


@pytest.fixture
def finished(study):
    participant, _ = services.start_participant(study, mturk_params("W1", "A1", "H1"))
    answer_all(participant, pick=lambda q: correct_position(participant, q.position) or 2)
    participant.refresh_from_db()
    return participant


def _csv(study) -> list[dict]:
    out = io.StringIO()
    call_command("export_responses", study.slug, "--format", "csv", stdout=out, stderr=io.StringIO())
    return list(csv.DictReader(io.StringIO(out.getvalue())))


def test_the_csv_has_the_documented_columns_and_one_row_per_answer(study, finished):
    rows = _csv(study)
    assert len(rows) == 25 and tuple(rows[0]) == export.columns(4)
    assert [int(r["position"]) for r in rows] == list(range(1, 26))


def test_a_row_says_who_answered_what_was_shown_and_what_was_chosen(study, finished):
    rows = _csv(study)
    real = next(r for r in rows if r["kind"] == "real")
    shown = dict(
        ShownOption.objects.filter(entry__participant=finished, entry__position=int(real["position"])).values_list(
            "position", "option__method"
        )
    )
    assert [real[f"method_at_{p}"] for p in range(1, 5)] == [shown[p] for p in range(1, 5)]
    assert real["chosen_position"] == "2" and real["chosen_method"] == shown[2]
    assert real["check_passed"] == "" and real["correct_position"] == ""
    assert (real["participant"], real["platform"], real["worker_id"], real["assignment_id"], real["hit_id"]) == (
        str(finished.public_id),
        "mturk",
        "W1",
        "A1",
        "H1",
    )
    assert real["participant_passed"] == "true" and real["participant_checks_passed"] == "5"
    assert int(real["response_ms"]) >= 0 and real["shown_at"] <= real["answered_at"]


def test_attention_rows_say_where_the_correct_picture_was_and_whether_it_was_chosen(study, finished):
    checks = [r for r in _csv(study) if r["kind"] == "attention"]
    assert len(checks) == 5
    for row in checks:
        assert row["check_passed"] == "true" and row["chosen_position"] == row["correct_position"]
        assert row["chosen_method"] == "" and row["method_at_1"] == ""


def test_csv_cells_that_a_spreadsheet_would_run_are_escaped(study, finished):
    Participant.objects.filter(pk=finished.pk).update(worker_id="=HYPERLINK(1)", hit_id="+1", assignment_id="@SUM")
    row = _csv(study)[0]
    assert (row["worker_id"], row["hit_id"], row["assignment_id"]) == ("'=HYPERLINK(1)", "'+1", "'@SUM")


@pytest.mark.parametrize(
    "value, cell", [("-2", "'-2"), ("=1", "'=1"), ("\tx", "'\tx"), ("ok", "ok"), (None, ""), (True, "true"), (5, "5")]
)
def test_a_cell_is_escaped_only_when_it_would_be_a_formula(value, cell):
    assert export.csv_cell(value) == cell


@pytest.mark.parametrize(
    "cell, value", [("'=1", "=1"), ("'-2", "-2"), ("'plain", "'plain"), ("x'=1", "x'=1"), ("", "")]
)
def test_reading_a_cell_drops_only_the_quote_the_export_adds(cell, value):
    assert export.read_cell(cell) == value


def test_the_columns_are_the_study_the_participant_their_columns_and_the_answers():
    for k in (2, 4, 6):
        columns = export.columns(k)
        assert columns == ("study", "participant", *export.PARTICIPANT_COLUMNS, *export.answer_columns(k))
        assert len(set(columns)) == len(columns)
        assert [c for c in columns if c.startswith("method_at_")] == [f"method_at_{p}" for p in range(1, k + 1)]


def test_the_identity_columns_are_the_entry_parameters_and_the_participants_fields():
    entry = set(services.EntryParams.__dataclass_fields__)
    assert set(export.IDENTITY_COLUMNS) == entry - {"platform", "turk_submit_to"}
    assert all(hasattr(Participant, column) for column in export.IDENTITY_COLUMNS)


def test_the_json_export_has_the_same_rows_and_the_study(study, finished):
    out = io.StringIO()
    call_command("export_responses", study.slug, "--format", "json", stdout=out, stderr=io.StringIO())
    document = json.loads(out.getvalue())
    assert document["study"] == study.slug and document["columns"] == list(export.columns(4))
    assert len(document["rows"]) == 25 and document["rows"][0]["participant_passed"] is True


def test_unfinished_participants_are_exported_with_their_status(study):
    participant, _ = services.start_participant(study, mturk_params())
    answer_all(participant, stop_after=3)
    rows = _csv(study)
    assert len(rows) == 3 and {r["participant_status"] for r in rows} == {"started"}


def test_the_command_writes_a_file_and_says_so(study, finished, tmp_path):
    err = io.StringIO()
    call_command("export_responses", study.slug, "-o", str(tmp_path / "r.csv"), stderr=err, stdout=io.StringIO())
    assert "Wrote 25 answers" in err.getvalue()
    assert len((tmp_path / "r.csv").read_text().splitlines()) == 26


def test_an_unknown_study_is_a_one_line_error(db):
    with pytest.raises(CommandError, match="no study with slug 'nope'"):
        call_command("export_responses", "nope")


def test_an_output_folder_that_does_not_exist_is_a_one_line_error(study, tmp_path):
    with pytest.raises(CommandError, match="does not exist"):
        call_command("export_responses", study.slug, "-o", str(tmp_path / "no" / "r.csv"))


def test_an_export_reads_and_never_writes(study, finished):
    before = Answer.objects.count()
    _csv(study)
    assert Answer.objects.count() == before


def test_the_participant_kind_sits_next_to_the_platform_in_csv_and_json(study, finished):
    pilot = services.start_pilot(study)
    answer_all(pilot, stop_after=1)
    rows = _csv(study)
    header = list(rows[0])
    assert header[header.index("platform") + 1] == "participant_kind"
    assert [r["participant_kind"] for r in rows] == ["real"] * 25 + ["pilot"]
    out = io.StringIO()
    call_command("export_responses", study.slug, "--format", "json", stdout=out, stderr=io.StringIO())
    assert [r["participant_kind"] for r in json.loads(out.getvalue())["rows"]][-2:] == ["real", "pilot"]


def test_on_a_full_disk_it_stops_in_one_line_and_leaves_no_half_written_export(study, finished, small_volume):
    volume = small_volume("4k")  # one page: the 25 answers take more
    path = volume.path / "responses.csv"
    command = ["export_responses", study.slug, "-o", str(path)]
    with pytest.raises(CommandError) as info:
        call_command(*command, stderr=io.StringIO(), stdout=io.StringIO())
    assert list(volume.path.iterdir()) == []  # nothing under the name, no temporary file
    volume.resize("1m")  # space freed: the same command writes it whole
    call_command(*command, stderr=io.StringIO(), stdout=io.StringIO())
    assert check_whole(volume.path) == ["responses.csv"] and leftovers(volume.path) == []
    assert len(list(csv.DictReader(path.open()))) == 25
    needed = format_bytes(space_needed(volume.path, path.stat().st_size))
    assert str(info.value) == (
        f"No space left on device writing {path}: it needs about {needed}, 4.1 kB free on {volume.path}; "
        "free some space and run the same command again"
    )
