"""explainers.bundles: a set written as one checksummed zip and registered from it, the same set on both sides."""

import hashlib
import io
import json
import re
import zipfile

import numpy as np
import pytest

from explainers import bundles
from explainers.bundles import BundleError, export_set, import_set
from explainers.methods import registry
from explainers.models import ExplanationSet
from survey.services import create_study
from survey.testing import fake_pictures
from tests.explainers.bundling import class_maps, rebundle, written

pytestmark = pytest.mark.django_db

PAPER = list(registry.names(paper=True))


@pytest.fixture
def bundle(paper_set, tmp_path):
    path = tmp_path / "paper-set.zip"
    export_set(paper_set, path)
    return path


@pytest.fixture
def any_bundle(rendered_once, bundle):
    """The bundle of a refusal test: made as quickly as possible (its pictures are never compared)."""
    return bundle


@pytest.fixture
def refused(data_dir, monkeypatch):
    """Import a bundle that must fail: its one-line message, once sure nothing was unpacked or written."""

    def unpack(*args):
        raise AssertionError("unpacked before every check was done")

    monkeypatch.setattr(bundles, "_unpack", unpack)

    def check(path, name=None) -> str:
        before = written(data_dir)
        with pytest.raises(BundleError) as caught:
            import_set(path, name=name)
        assert written(data_dir) == before
        message = str(caught.value)
        assert "\n" not in message
        return message

    return check


def test_the_bundle_holds_the_maps_pictures_overview_and_manifest_each_with_its_checksum(paper_set, tmp_path):
    summary = export_set(paper_set, tmp_path / "b.zip")
    folder = tmp_path / "data" / "explanations" / "paper"
    with zipfile.ZipFile(tmp_path / "b.zip") as zf:
        names = zf.namelist()
        index = json.loads(zf.read("bundle.json"))
        contents = {name: zf.read(name) for name in names}
        assert all(info.compress_type == zipfile.ZIP_DEFLATED for info in zf.infolist())
    pngs = [f"png/{method}_{digit}.png" for method in sorted(PAPER) for digit in range(10)]
    assert names == ["maps.npz", "manifest.json", "overview.png", *pngs, "bundle.json"]  # the index last
    assert (index["format"], index["version"], index["name"]) == ("normlime-explanation-set", 1, "paper")
    assert index["members"] == summary.members and set(index["members"]) == set(names) - {"bundle.json"}
    for name, listed in index["members"].items():
        assert listed == {"sha256": hashlib.sha256(contents[name]).hexdigest(), "size": len(contents[name])}
    assert contents["maps.npz"] == (folder / "maps.npz").read_bytes()  # the raw maps, signed ones included
    assert contents["png/lime_3.png"] == (folder / "png" / "lime_3.png").read_bytes()
    assert json.loads(contents["manifest.json"]) == paper_set.manifest
    assert "local_weights.npz" not in names
    assert summary.size == (tmp_path / "b.zip").stat().st_size
    assert summary.sha256 == hashlib.sha256((tmp_path / "b.zip").read_bytes()).hexdigest()


def test_export_refuses_an_existing_file_unless_forced(paper_set, tmp_path):
    target = tmp_path / "b.zip"
    target.write_bytes(b"keep me")
    with pytest.raises(BundleError, match=r"b\.zip: exists \(--force replaces it\)"):
        export_set(paper_set, target)
    assert target.read_bytes() == b"keep me"
    export_set(paper_set, target, force=True)
    assert zipfile.is_zipfile(target)
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".b.zip")] == []  # no temporary file left


def test_export_refuses_a_set_whose_folder_lost_its_maps_naming_the_path(paper_set, tmp_path):
    maps = tmp_path / "data" / "explanations" / "paper" / "maps.npz"
    maps.unlink()
    with pytest.raises(BundleError, match=f"^{re.escape(str(maps))}: missing; the set's raw maps are needed"):
        export_set(paper_set, tmp_path / "b.zip")
    assert not (tmp_path / "b.zip").exists()


def test_export_refuses_a_folder_whose_maps_no_longer_give_the_registered_ones(paper_set, tmp_path):
    maps = tmp_path / "data" / "explanations" / "paper" / "maps.npz"
    with np.load(maps) as saved:
        arrays = dict(saved)
    arrays["smoothgrad"][4, 100] += 1.0
    np.savez(maps, **arrays)
    with pytest.raises(BundleError, match="does not give the registered maps of set 'paper'"):
        export_set(paper_set, tmp_path / "b.zip")
    assert not (tmp_path / "b.zip").exists()


def test_import_on_another_machine_registers_the_same_maps_pictures_and_overview(paper_set, bundle, settings, tmp_path):
    maps, overview, manifest = class_maps(paper_set), bytes(paper_set.overview_png), paper_set.manifest
    raw = (tmp_path / "data" / "explanations" / "paper" / "maps.npz").read_bytes()
    paper_set.delete()
    settings.DATA_DIR = tmp_path / "server"

    imported = import_set(bundle)

    assert imported.name == "paper" and len(maps) == 40
    assert class_maps(imported) == maps
    assert bytes(imported.overview_png) == overview
    assert imported.manifest == manifest
    assert (imported.model_sha256, imported.data_source) == ("ab" * 32, "embedded 5k MNIST subset")
    assert imported.parameters == {"per_class": 2, "seed": 0}
    folder = tmp_path / "server" / "explanations" / "paper"
    assert imported.directory == str(folder)
    assert (folder / "maps.npz").read_bytes() == raw
    assert (folder / "png" / "normlime_9.png").read_bytes() == maps[("normlime", 9)][1]
    assert (folder / "overview.png").read_bytes() == overview
    assert json.loads((folder / "manifest.json").read_text())["name"] == "paper"
    assert [p.name for p in folder.parent.iterdir()] == ["paper"]  # no temporary folder left


def test_a_new_name_gives_a_second_set_with_the_same_maps_and_its_name_in_the_manifest(paper_set, bundle, data_dir):
    copy = import_set(bundle, name="paper-copy")
    assert class_maps(copy) == class_maps(paper_set) and bytes(copy.overview_png) == bytes(paper_set.overview_png)
    assert copy.manifest == {**paper_set.manifest, "name": "paper-copy"}
    manifest = json.loads((data_dir / "explanations" / "paper-copy" / "manifest.json").read_text())
    assert manifest["name"] == "paper-copy"


def test_the_gallery_of_the_imported_set_shows_the_same_maps(paper_set, bundle, staff_client):
    import_set(bundle, name="copy")
    pages = {name: staff_client.get(f"/explanations/{name}/").content.decode() for name in ("paper", "copy")}
    shown = {name: re.findall(rf'src="/explanations/{name}/(maps/[^"]+)"', html) for name, html in pages.items()}
    assert len(shown["paper"]) == 10 * len(PAPER) and shown["copy"] == shown["paper"]
    for picture in [*shown["paper"], "overview.png"]:
        original = staff_client.get(f"/explanations/paper/{picture}")
        copied = staff_client.get(f"/explanations/copy/{picture}")
        assert original.status_code == copied.status_code
        assert copied.getvalue() == original.getvalue(), picture


def test_a_study_built_on_the_imported_set_is_the_same_study(paper_set, bundle):
    copy = import_set(bundle, name="copy")

    def items(study):
        return [
            (
                item.number,
                item.kind,
                item.digit,
                [(o.slot, o.method, o.is_correct, bytes(o.image.png)) for o in item.options.order_by("slot")],
            )
            for item in study.items.order_by("number")
        ]

    first = create_study(paper_set, name="A", slug="a", seed=7, pictures=fake_pictures())
    second = create_study(copy, name="B", slug="b", seed=7, pictures=fake_pictures())
    assert list(second.methods) == list(first.methods) == PAPER
    assert len(items(first)) == 25 and items(second) == items(first)


def test_a_truncated_bundle_is_refused_and_nothing_is_written(any_bundle, tmp_path, refused):
    cut = tmp_path / "cut.zip"
    cut.write_bytes(any_bundle.read_bytes()[: any_bundle.stat().st_size * 2 // 3])
    assert refused(cut, name="new") == f"{cut}: not a complete bundle (truncated or not a zip)"


def test_a_file_that_is_not_a_zip_is_refused(tmp_path, db, refused):
    text = tmp_path / "notes.zip"
    text.write_text("not a zip")
    assert refused(text) == f"{text}: not a complete bundle (truncated or not a zip)"
    assert refused(tmp_path / "absent.zip") == f"{tmp_path / 'absent.zip'}: no such file"


def test_a_member_changed_after_export_is_refused_naming_it(any_bundle, tmp_path, refused):
    with zipfile.ZipFile(any_bundle) as zf:
        maps = zf.read("maps.npz")
    changed = rebundle(any_bundle, tmp_path / "t.zip", {"maps.npz": maps[:-1] + bytes([maps[-1] ^ 1])}, relist=False)
    message = refused(changed, name="new")
    assert message == f"{changed}: maps.npz: checksum differs from the bundle's (damaged or changed)"
    longer = rebundle(any_bundle, tmp_path / "s.zip", {"png/lime_0.png": b"other"}, relist=False)
    assert refused(longer, name="new").endswith("png/lime_0.png: size differs from the bundle's (damaged or changed)")


def test_bytes_damaged_inside_the_zip_are_refused_naming_the_member(any_bundle, tmp_path, refused):
    data = bytearray(any_bundle.read_bytes())
    with zipfile.ZipFile(any_bundle) as zf:
        info = zf.getinfo("maps.npz")
    start = info.header_offset + 30 + len(info.filename) + len(info.extra)  # the member's compressed bytes
    data[start + info.compress_size // 2] ^= 0xFF
    damaged = tmp_path / "d.zip"
    damaged.write_bytes(bytes(data))
    assert refused(damaged, name="new").startswith(f"{damaged}: maps.npz: ")


def test_a_zip_that_is_not_a_bundle_is_refused(tmp_path, db, refused):
    foreign = tmp_path / "photos.zip"
    with zipfile.ZipFile(foreign, "w") as zf:
        zf.writestr("holiday.jpg", b"\xff\xd8")
    assert refused(foreign) == f"{foreign}: not an explanation-set bundle (no bundle.json)"
    with zipfile.ZipFile(foreign, "w") as zf:
        zf.writestr("bundle.json", json.dumps({"format": "something-else", "version": 1}))
    assert refused(foreign).startswith(f"{foreign}: not an explanation-set bundle")


def test_a_bundle_of_an_unknown_version_is_refused(any_bundle, tmp_path, refused):
    later = rebundle(any_bundle, tmp_path / "v2.zip", index={"version": 2})
    assert "bundle version 2 is unknown here (known: 1)" in refused(later, name="new")
    odd = rebundle(any_bundle, tmp_path / "odd.zip", index={"version": [1]})
    assert "bundle version [1] is unknown here (known: 1)" in refused(odd, name="new")


@pytest.mark.parametrize("member", ["../evil.py", "/etc/evil", "png/../../evil", "a\\..\\evil", "C:evil"])
def test_a_member_that_would_land_outside_the_folder_is_refused(any_bundle, tmp_path, member, refused):
    slip = rebundle(any_bundle, tmp_path / "slip.zip", {member: b"print('owned')"})
    with zipfile.ZipFile(slip) as zf:
        assert member in zf.namelist()
    message = refused(slip, name="new")
    assert message == f"{slip}: member {member!r} would be written outside the set's folder; refused"
    assert not (tmp_path / "evil.py").exists()


def test_a_member_not_listed_in_the_index_is_refused(any_bundle, tmp_path, refused):
    extra = rebundle(any_bundle, tmp_path / "x.zip", {"png/extra.png": b"\x89PNG"}, relist=False)
    assert refused(extra, name="new") == f"{extra}: png/extra.png: not listed in bundle.json (added to the bundle?)"


def test_a_listed_member_that_is_missing_is_refused(any_bundle, tmp_path, refused):
    short = rebundle(any_bundle, tmp_path / "m.zip", {"png/vargrad_2.png": None}, relist=False)
    assert refused(short, name="new") == f"{short}: png/vargrad_2.png: missing from the bundle"
    bare = rebundle(any_bundle, tmp_path / "n.zip", {"overview.png": None})
    assert refused(bare, name="new") == f"{bare}: overview.png: missing from the bundle"


def test_a_bundle_that_unpacks_to_more_than_the_bound_is_refused(any_bundle, tmp_path, monkeypatch, refused):
    bomb = rebundle(any_bundle, tmp_path / "bomb.zip", {"png/zeros.png": bytes(3 << 20)})
    assert bomb.stat().st_size < any_bundle.stat().st_size + (100 << 10)  # 3 MiB of zeros squeezed into a few KiB
    monkeypatch.setattr(bundles, "MAX_UNPACKED", 2 << 20)
    assert refused(bomb, name="new") == f"{bomb}: unpacks to more than 2 MiB; refused"


def npz(**arrays) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


@pytest.mark.parametrize(
    "maps, says",
    [
        (npz(lime=np.array([{"a": 1}], dtype=object)), "not maps saved by NumPy without pickled objects"),
        (b"PK\x03\x04 not an npz", "not maps saved by NumPy without pickled objects"),
        (
            npz(smoothgrad=np.zeros((10, 784)), gradcam=np.zeros((10, 784))),
            f"'gradcam' is not a map of a registered method ({', '.join(registry.names())})",
        ),
        (npz(smoothgrad=np.zeros((10, 783))), "smoothgrad's maps are 10x783, not 10x784 finite numbers"),
        (npz(smoothgrad=np.full((10, 784), np.nan)), "smoothgrad's maps are 10x784, not 10x784 finite numbers"),
        (npz(lime=np.full((10, 784), "x")), "'lime' holds <U1 values, not numbers"),
        (npz(normlime_global=np.zeros(784)), "holds no displayed map of a registered method"),
    ],
)
def test_maps_that_are_pickled_foreign_or_of_the_wrong_shape_are_refused(any_bundle, tmp_path, maps, says, refused):
    bad = rebundle(any_bundle, tmp_path / "bad.zip", {"maps.npz": maps})
    assert refused(bad, name="new") == f"{bad}: maps.npz: {says}"


def test_a_manifest_without_the_model_or_data_is_refused(any_bundle, tmp_path, refused):
    bad = rebundle(any_bundle, tmp_path / "bad.zip", {"manifest.json": json.dumps({"model": {}}).encode()})
    assert (
        refused(bad, name="new") == f"{bad}: manifest.json: not a set's manifest (needs model.sha256 and data.source)"
    )


def test_a_name_that_exists_is_refused_and_another_one_is_offered(any_bundle, refused):
    assert refused(any_bundle) == "explanation set 'paper' exists; import with --name NEW"


def test_a_name_that_is_not_a_slug_is_refused(any_bundle, tmp_path, refused):
    assert refused(any_bundle, name="my set") == "--name 'my set': use letters, digits, '-' and '_' only"
    spaced = rebundle(any_bundle, tmp_path / "s.zip", index={"name": "../paper"})
    assert refused(spaced) == "the bundle's name '../paper': use letters, digits, '-' and '_' only"


def test_a_folder_that_holds_files_under_the_new_name_is_refused(any_bundle, data_dir, refused):
    (data_dir / "explanations" / "other").mkdir()
    (data_dir / "explanations" / "other" / "notes.txt").write_text("mine")
    message = refused(any_bundle, name="other")
    assert message == f"{data_dir / 'explanations' / 'other'}: exists and is not empty; import with --name NEW"


def test_an_empty_folder_under_the_new_name_is_used(bundle, data_dir):
    (data_dir / "explanations" / "other").mkdir()
    assert import_set(bundle, name="other").maps.count() == 40
    assert (data_dir / "explanations" / "other" / "maps.npz").exists()


def test_a_failed_registration_removes_the_unpacked_folder(any_bundle, data_dir, monkeypatch):
    def fail(*args, **kwargs):
        raise RuntimeError("database gone")

    monkeypatch.setattr(bundles, "register_explanation_set", fail)
    before = written(data_dir)
    with pytest.raises(RuntimeError, match="database gone"):
        import_set(any_bundle, name="other")
    assert written(data_dir) == before
    assert not ExplanationSet.objects.filter(name="other").exists()


def test_a_member_that_appears_twice_is_refused(any_bundle, tmp_path, refused):
    twice = tmp_path / "twice.zip"
    twice.write_bytes(any_bundle.read_bytes())
    with pytest.warns(UserWarning, match="Duplicate name"), zipfile.ZipFile(twice, "a") as zf:
        zf.writestr("maps.npz", npz(smoothgrad=np.zeros((10, 784))))
    assert refused(twice, name="new") == f"{twice}: member maps.npz appears more than once; refused"


def test_a_colour_set_travels_with_its_classes_and_map_shape(data_dir, settings, tmp_path):
    from tests.explainers.bundling import COLOUR_LAYOUT, write_set

    shapes = write_set(data_dir / "explanations", "shapes", layout=COLOUR_LAYOUT)
    maps = class_maps(shapes)
    export_set(shapes, tmp_path / "shapes.zip")
    shapes.delete()
    settings.DATA_DIR = tmp_path / "server"
    imported = import_set(tmp_path / "shapes.zip")
    assert imported.classes == ["circle", "square", "triangle"] and imported.map_shape == (12, 16)
    assert class_maps(imported) == maps and len(maps) == 3 * len(PAPER)
    assert imported.map_for("lime", 2).array().shape == (12, 16)


def test_maps_that_do_not_fit_the_manifests_layout_are_refused(data_dir, tmp_path, refused):
    from tests.explainers.bundling import COLOUR_LAYOUT, write_set

    shapes = write_set(data_dir / "explanations", "shapes", layout=COLOUR_LAYOUT)
    export_set(shapes, tmp_path / "shapes.zip")
    bad = rebundle(tmp_path / "shapes.zip", tmp_path / "bad.zip", {"maps.npz": npz(smoothgrad=np.zeros((10, 784)))})
    assert refused(bad, name="new") == f"{bad}: maps.npz: smoothgrad's maps are 10x784, not 3x192 finite numbers"
    manifest = {"model": {"sha256": "a"}, "data": {"source": "x", "classes": ["a"], "shape": [3, "12", 16]}}
    broken = rebundle(
        tmp_path / "shapes.zip", tmp_path / "broken.zip", {"manifest.json": json.dumps(manifest).encode()}
    )
    assert refused(broken, name="new") == (
        f"{broken}: manifest.json: data's classes and shape [C, H, W] are not a data set's layout"
    )
