"""manage.py export_set"""

import hashlib
import json
import zipfile

import pytest
from django.core.management import CommandError, call_command

pytestmark = pytest.mark.django_db


def test_it_writes_the_bundle_and_says_what_it_holds(paper_set, tmp_path, capsys):
    out = tmp_path / "paper-set.zip"
    call_command("export_set", "paper", "-o", str(out))
    printed = capsys.readouterr().out
    with zipfile.ZipFile(out) as zf:
        members = json.loads(zf.read("bundle.json"))["members"]
    assert len(members) == 43  # maps.npz, manifest.json, overview.png and 4 x 10 PNGs
    assert f"Wrote set 'paper' to {out}: 43 members (maps.npz, manifest.json, 41 PNGs with the overview)" in printed
    assert f"{out.stat().st_size} bytes, sha256 {hashlib.sha256(out.read_bytes()).hexdigest()}." in printed


def test_an_existing_file_is_kept_unless_forced(paper_set, tmp_path):
    out = tmp_path / "paper-set.zip"
    out.write_bytes(b"older")
    with pytest.raises(CommandError, match=r"paper-set\.zip: exists \(--force replaces it\)$"):
        call_command("export_set", "paper", "-o", str(out))
    assert out.read_bytes() == b"older"
    call_command("export_set", "paper", "-o", str(out), "--force")
    assert zipfile.is_zipfile(out)


def test_an_unknown_set_is_a_one_line_error_naming_the_known_ones(paper_set, tmp_path):
    with pytest.raises(CommandError, match=r"^no explanation set 'papr' \(known: paper\)$"):
        call_command("export_set", "papr", "-o", str(tmp_path / "b.zip"))
    assert list(tmp_path.glob("*.zip")) == []


def test_a_set_without_its_maps_file_is_a_one_line_error(paper_set, data_dir, tmp_path):
    (data_dir / "explanations" / "paper" / "maps.npz").unlink()
    with pytest.raises(CommandError, match="maps.npz: missing; the set's raw maps are needed to export it$"):
        call_command("export_set", "paper", "-o", str(tmp_path / "b.zip"))
    assert not (tmp_path / "b.zip").exists()


def test_a_folder_that_does_not_exist_is_named(paper_set, tmp_path):
    with pytest.raises(CommandError, match=f"^{tmp_path / 'nowhere'}: no such folder$"):
        call_command("export_set", "paper", "-o", str(tmp_path / "nowhere" / "b.zip"))
