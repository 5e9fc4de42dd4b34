"""Objects kept on disk (``s3.objects``): what was saved loads back whole; a half-written one
(its sidecar never renamed into place) is not loaded; a deleted one is gone."""

from __future__ import annotations

from pathlib import Path

from hubbub.runtime.s3.objects import ObjectFiles, StoredObject


def test_saved_objects_load_back_and_deleted_ones_do_not(tmp_path: Path) -> None:
    files = ObjectFiles(tmp_path / "s3")
    cat = StoredObject("b", "attachments/room/at_1", "image/png", b"\x89PNG", {"who": "ann"})
    notes = StoredObject("b", "attachments/desk/at_2", "text/plain", b"hi")
    files.save(cat)
    files.save(notes)
    files.save(StoredObject("other", "k", "text/plain", b"x"))
    assert sorted(ObjectFiles(tmp_path / "s3").load("b"), key=lambda o: o.key) == [notes, cat]
    files.delete("b", cat.key)
    assert list(files.load("b")) == [notes]
    assert list(files.load("missing")) == []


def test_an_object_whose_sidecar_never_landed_is_not_loaded(tmp_path: Path) -> None:
    files = ObjectFiles(tmp_path / "s3")
    files.save(StoredObject("b", "k", "text/plain", b"x"))
    (sidecar,) = (tmp_path / "s3" / "b").glob("*.json")
    sidecar.rename(sidecar.with_name(sidecar.name + ".tmp"))  # as a crash before the rename
    assert list(files.load("b")) == []
