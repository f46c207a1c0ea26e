"""manage.py import_set"""

import pytest
from django.core.management import CommandError, call_command

from explainers.bundles import export_set
from explainers.models import ExplanationSet
from tests.explainers.bundling import class_maps, written

pytestmark = pytest.mark.django_db


@pytest.fixture
def bundle(paper_set, tmp_path):
    path = tmp_path / "paper-set.zip"
    export_set(paper_set, path)
    return path


def test_it_registers_the_set_and_says_where_to_see_it(paper_set, bundle, settings, tmp_path, capsys):
    maps = class_maps(paper_set)
    paper_set.delete()
    settings.DATA_DIR = tmp_path / "server"
    call_command("import_set", str(bundle))
    folder = tmp_path / "server" / "explanations" / "paper"
    assert capsys.readouterr().out.strip() == (
        f"Imported set 'paper' with 40 maps into {folder}; gallery: /explanations/paper/"
    )
    assert class_maps(ExplanationSet.objects.get(name="paper")) == maps


def test_name_registers_the_set_under_another_name(paper_set, bundle, capsys):
    call_command("import_set", str(bundle), "--name", "paper-2")
    assert "Imported set 'paper-2' with 40 maps" in capsys.readouterr().out
    assert class_maps(ExplanationSet.objects.get(name="paper-2")) == class_maps(paper_set)


def test_a_name_that_exists_is_a_one_line_error_and_nothing_is_written(bundle, data_dir):
    before = written(data_dir)
    with pytest.raises(CommandError, match=r"^explanation set 'paper' exists; import with --name NEW$"):
        call_command("import_set", str(bundle))
    assert written(data_dir) == before


def test_a_truncated_file_is_a_one_line_error_and_nothing_is_written(bundle, data_dir, tmp_path):
    cut = tmp_path / "cut.zip"
    cut.write_bytes(bundle.read_bytes()[:-100])
    before = written(data_dir)
    with pytest.raises(CommandError, match=r"cut\.zip: not a complete bundle \(truncated or not a zip\)$"):
        call_command("import_set", str(cut), "--name", "new")
    assert written(data_dir) == before
