"""Studies of 2, 3 and 6 methods end to end: create (the command), answer (the real pages),
export, import into a fresh study, analyse -- the issue's "Done when" for k methods.

k = 3 is the issue's own example: NormLIME, LIME and Integrated Gradients.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections import Counter

import numpy as np
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse

from analysis import reports
from analysis.study import analyze_study
from survey.models import Participant, ShownOption, Study
from survey.testing import long_csv, make_explanation_set

pytestmark = pytest.mark.django_db

STUDIES = {
    2: ("normlime", "lime"),
    3: ("normlime", "lime", "ig"),
    6: ("normlime", "lime", "smoothgrad", "vargrad", "shap", "random"),
}
# Real questions by default: the smallest multiple of lcm(10, k) that is at least 20.
DEFAULT_REAL = {2: 20, 3: 30, 6: 30}
WORDS = {2: "two", 3: "three", 6: "six"}
N_PARTICIPANTS = 4


def _create(explanation_set, slug: str, methods: tuple[str, ...], *options: str) -> Study:
    out = io.StringIO()
    call_command(
        "create_study",
        explanation_set.name,
        "--slug",
        slug,
        "--methods",
        ",".join(methods),
        "--seed",
        "7",
        *options,
        stdout=out,
        stderr=io.StringIO(),
    )
    assert f"comparing {len(methods)} methods ({', '.join(methods)})" in out.getvalue()
    return Study.objects.get(slug=slug)


def _take_the_survey(client, study: Study, favourite: int, rng: np.random.Generator) -> Participant:
    """Landing -> consent -> instructions -> every question -> finish, as a browser does.

    The participant passes every check and, on a real question, picks the map of method
    ``favourite`` two times in three, another at random otherwise.
    """
    k = study.n_options
    landing = client.get(reverse("survey:landing", args=[study.slug]))
    assert landing.status_code == 200
    n_questions = study.n_real_questions + study.n_attention_checks
    assert f"{n_questions} sets of {WORDS[k]} images" in landing.content.decode()
    started = client.post(reverse("survey:start", args=[study.slug]), {"consent": "on"})
    assert started.status_code == 303
    home = started["Location"]
    instructions = client.get(home).content.decode()
    assert f"<kbd>1</kbd>–<kbd>{k}</kbd>" in instructions and f"each set of {WORDS[k]} images" in instructions
    participant = Participant.objects.filter(study=study).order_by("-started_at", "-pk").first()
    url = f"{home}q/1/"
    for _ in range(2 * n_questions + 2):
        if "/finish/" in url:
            break
        page = client.get(url)
        if page.status_code == 302:
            url = page["Location"]
            continue
        html = page.content.decode()
        assert html.count('type="radio"') == k and f"set of {WORDS[k]} images" in html
        assert not any(re.search(rf"\b{method}\b", html.lower()) for method in study.methods)  # still blind
        position = int(re.search(r"/q/(\d+)/$", url).group(1))
        shown = list(
            ShownOption.objects.filter(entry__participant=participant, entry__position=position)
            .order_by("position")
            .values_list("option__method", "option__is_correct")
        )
        assert len(shown) == k
        if shown[0][0]:  # a real question: the on-screen position of the method chosen
            wanted = study.methods[favourite] if rng.random() < 2 / 3 else study.methods[rng.integers(k)]
            choice = [method for method, _ in shown].index(wanted) + 1
        else:
            choice = [ok for _, ok in shown].index(True) + 1
        item = int(re.search(r'name="item" value="(\d+)"', html).group(1))
        posted = client.post(url, {"item": item, "choice": choice})
        assert posted.status_code == 303
        url = posted["Location"]
    assert client.get(url).status_code == 200
    participant.refresh_from_db()
    assert participant.is_finished and participant.passed
    return participant


@pytest.mark.parametrize("k", sorted(STUDIES))
def test_a_study_of_k_methods_is_created_taken_exported_imported_and_analysed(k, client, staff_user, tmp_path):
    methods = STUDIES[k]
    explanation_set = make_explanation_set("k-set", methods)
    study = _create(explanation_set, "pilot", methods)
    assert (tuple(study.methods), study.n_options, study.n_real_questions) == (methods, k, DEFAULT_REAL[k])

    rng = np.random.default_rng(k)
    people = [_take_the_survey(client.__class__(), study, i % k, rng) for i in range(N_PARTICIPANTS)]

    # Each method sat in each position equally often on every participant's real questions.
    for participant in people:
        at = Counter(
            ShownOption.objects.filter(entry__participant=participant, entry__item__kind="real").values_list(
                "position", "option__method"
            )
        )
        assert set(at.values()) == {study.n_real_questions // k} and len(at) == k * k

    # Export: method_at_1..k, no more.
    exported = tmp_path / "pilot.csv"
    call_command("export_responses", study.slug, "-o", str(exported), stdout=io.StringIO(), stderr=io.StringIO())
    rows = list(csv.DictReader(exported.open()))
    assert len(rows) == N_PARTICIPANTS * study.n_questions
    assert [c for c in rows[0] if c.startswith("method_at_")] == [f"method_at_{p}" for p in range(1, k + 1)]

    # Import into a fresh study of the same methods and seed (the same questions).
    fresh = _create(explanation_set, "replica", methods)
    out = io.StringIO()
    call_command("import_responses", str(exported), "--study", fresh.slug, stdout=out, stderr=io.StringIO())
    assert Participant.objects.filter(study=fresh, status="finished").count() == N_PARTICIPANTS

    # Analyse the imported votes: every test sized for k, no comparison with the paper.
    report = analyze_study(fresh, n_boot=200)
    a = report.analysis
    n = N_PARTICIPANTS
    assert report.methods == methods and a.tally.counts.sum() == n * study.n_real_questions
    assert (a.anova.df_between, a.anova.df_within) == (k - 1, k * (n - 1))
    assert len(a.tukey.rows) == len(a.wilcoxon.rows) == k * (k - 1) // 2
    assert (a.hotelling.df1, a.hotelling.df2) == (k - 1, n - (k - 1))
    assert a.friedman.df == k - 1 and len(a.bootstrap.lower) == k
    text = reports.text_report(report)
    assert "paper" not in text.lower().replace("the paper's analysis", "")
    assert reports.report_dict(report)["paper"] is None
    assert f"a participant's {WORDS[k]} shares sum to 1" in text

    # The same analysis from the command and on the staff page.
    call_command(
        "analyze_study",
        fresh.slug,
        "--out",
        str(tmp_path / "report"),
        "--n-boot",
        "50",
        stdout=io.StringIO(),
        stderr=io.StringIO(),
    )
    saved = json.loads((tmp_path / "report" / reports.REPORT_JSON).read_text())
    assert saved["methods"] == list(methods) and saved["paper"] is None
    staff = client.__class__()
    staff.force_login(staff_user)
    page = staff.get(reverse("analysis:report", args=[fresh.slug]))
    assert page.status_code == 200
    html = page.content.decode()
    assert "Paper:" not in html and "Paper (" not in html
    assert f"F({k - 1}, {k * (n - 1)})" in html


def test_a_file_of_a_study_with_more_methods_is_refused_by_a_study_of_fewer(tmp_path):
    methods = ("normlime", "lime", "vargrad")
    explanation_set = make_explanation_set("k-set", methods)
    three = _create(explanation_set, "three", methods)
    two = _create(explanation_set, "two", methods[:2], "--real-questions", "30")  # the same questions
    path = tmp_path / "three.csv"
    path.write_text(long_csv(three, [{"votes": [2] * 30, "checks": [True] * 5}]))
    errors = io.StringIO()
    with pytest.raises(CommandError, match="nothing was imported"):
        call_command("import_responses", str(path), "--study", two.slug, stdout=io.StringIO(), stderr=errors)
    assert "method_at_3 is 'vargrad' but study two shows 2 options (normlime, lime)" in errors.getvalue()
    assert not Participant.objects.exists()
