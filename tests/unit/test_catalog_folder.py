"""The catalog folder: scanned at most once per interval, files re-read only when changed,
broken files listed and never fatal."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from jobhost.catalog import Catalog, DeclaredSchedule

GOOD = 'name = "{name}"\ncommand = "echo hi"\n'


class FakeTime:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def time() -> FakeTime:
    return FakeTime()


def write(root: Path, relative: str, text: str) -> None:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def test_templates_are_found_in_subfolders_by_their_relative_path(
    tmp_path: Path, time: FakeTime
) -> None:
    write(tmp_path, "b.toml", GOOD.format(name="B"))
    write(tmp_path, "ops/backups/nightly.toml", GOOD.format(name="N"))
    write(tmp_path, "notes.txt", "not a template")
    write(tmp_path, ".hidden/x.toml", GOOD.format(name="H"))
    catalog = Catalog(tmp_path, time)
    assert list(catalog.snapshot().templates) == ["b", "ops/backups/nightly"]
    assert catalog.snapshot().errors == ()


def test_a_missing_folder_is_created(tmp_path: Path, time: FakeTime) -> None:
    Catalog(tmp_path / "catalog", time)
    assert (tmp_path / "catalog").is_dir()


def test_a_broken_file_is_listed_and_the_rest_still_loads(tmp_path: Path, time: FakeTime) -> None:
    write(tmp_path, "good.toml", GOOD.format(name="G"))
    write(tmp_path, "broken.toml", "name = [unclosed")
    write(tmp_path, "bad name.toml", GOOD.format(name="X"))
    write(tmp_path, "binary.toml", "")
    (tmp_path / "binary.toml").write_bytes(b"\xff\xfe")
    snapshot = Catalog(tmp_path, time).snapshot()
    assert list(snapshot.templates) == ["good"]
    errors = {error.file: error.error for error in snapshot.errors}
    assert sorted(errors) == ["bad name.toml", "binary.toml", "broken.toml"]
    assert errors["broken.toml"].startswith("is not valid TOML")
    assert "invalid template id" in errors["bad name.toml"]
    assert errors["binary.toml"] == "is not UTF-8 text"


def test_a_change_is_seen_after_the_interval_and_only_then(tmp_path: Path, time: FakeTime) -> None:
    write(tmp_path, "a.toml", GOOD.format(name="First"))
    catalog = Catalog(tmp_path, time, interval=0.5)
    generation = catalog.generation
    write(tmp_path, "a.toml", GOOD.format(name="Second, longer"))
    time.now += 0.4
    assert catalog.snapshot().templates["a"].name == "First"
    time.now += 0.1
    assert catalog.snapshot().templates["a"].name == "Second, longer"
    assert catalog.generation == generation + 1


def test_a_rewrite_of_the_same_size_is_seen(tmp_path: Path, time: FakeTime) -> None:
    write(tmp_path, "a.toml", GOOD.format(name="AAAA"))
    catalog = Catalog(tmp_path, time)
    stat = (tmp_path / "a.toml").stat()
    write(tmp_path, "a.toml", GOOD.format(name="BBBB"))
    os.utime(tmp_path / "a.toml", ns=(stat.st_atime_ns, stat.st_mtime_ns))  # same mtime
    assert catalog.refresh().templates["a"].name == "BBBB"


def test_unchanged_files_are_not_read_again(
    tmp_path: Path, time: FakeTime, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(tmp_path, "a.toml", GOOD.format(name="A"))
    write(tmp_path, "b.toml", GOOD.format(name="B"))
    catalog = Catalog(tmp_path, time)
    generation = catalog.generation
    read: list[str] = []
    import jobhost.catalog.folder as folder

    original = folder._read_toml

    def counted(path: str) -> dict[str, object]:
        read.append(path)
        return original(path)

    monkeypatch.setattr(folder, "_read_toml", counted)
    catalog.refresh()
    assert (read, catalog.generation) == ([], generation)
    write(tmp_path, "b.toml", GOOD.format(name="B2"))
    catalog.refresh()
    assert read == [str(tmp_path / "b.toml")]


def test_removing_a_file_removes_its_template_and_its_error(tmp_path: Path, time: FakeTime) -> None:
    write(tmp_path, "a.toml", GOOD.format(name="A"))
    write(tmp_path, "b.toml", "broken =")
    catalog = Catalog(tmp_path, time)
    (tmp_path / "a.toml").unlink()
    (tmp_path / "b.toml").unlink()
    snapshot = catalog.refresh()
    assert (dict(snapshot.templates), snapshot.errors) == ({}, ())


def test_declared_schedules_follow_the_files(tmp_path: Path, time: FakeTime) -> None:
    write(tmp_path, "n.toml", GOOD.format(name="N") + 'schedule = "0 3 * * *"\n')
    hourly = 'schedule = "0  * * * *"\ntimezone = "Asia/Tokyo"'  # stored with single spaces
    write(tmp_path, "z.toml", GOOD.format(name="Z") + hourly)
    write(tmp_path, "plain.toml", GOOD.format(name="P"))
    catalog = Catalog(tmp_path, time)
    assert catalog.declared_schedules() == (
        DeclaredSchedule("n", "0 3 * * *", "UTC", "N"),
        DeclaredSchedule("z", "0 * * * *", "Asia/Tokyo", "Z"),
    )
    assert catalog.declared_schedules()[0] == ("n", "0 3 * * *", "UTC", "N")
