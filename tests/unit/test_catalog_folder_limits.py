"""Catalog files that once escaped the catalog's error handling: each is listed in
``errors`` and the rest of the catalog loads, on the first scan and on rescans."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from jobhost.catalog import Catalog
from jobhost.catalog import folder as catalog_folder

GOOD = 'name = "Good"\ncommand = "echo hi"\n'
VARIABLE = '[[variables]]\nname = "v"\npattern = "{}"\n'
OUTSIDE = "is a symbolic link to a file outside the catalog folder"
NESTED_ARRAY = "x = " + "[" * 2000 + "]" * 2000 + "\n"


def monotonic() -> float:
    return 0.0


def loaded(root: Path) -> tuple[list[str], dict[str, str]]:
    snapshot = Catalog(root, monotonic).snapshot()
    return list(snapshot.templates), {error.file: error.error for error in snapshot.errors}


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        (GOOD + 'timezone = "Europe"\n', "timezone"),
        (GOOD + 'timezone = "../../etc/passwd"\n', "timezone"),
        (NESTED_ARRAY, "nested too deeply"),
        (GOOD + VARIABLE.format("a{4294967296}"), "pattern"),
        (
            GOOD + '[[variables]]\nname = "v"\npattern = "' + "(" * 3000 + ")" * 3000 + '"\n',
            "pattern",
        ),
    ],
)
def test_a_file_that_raised_past_the_catalog_is_an_error(
    tmp_path: Path, text: str, problem: str
) -> None:
    (tmp_path / "good.toml").write_text(GOOD)
    (tmp_path / "bad.toml").write_text(text)
    templates, errors = loaded(tmp_path)
    assert templates == ["good"]
    assert problem in errors["bad.toml"]


def test_any_unexpected_failure_of_one_file_is_an_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "good.toml").write_text(GOOD)
    (tmp_path / "bad.toml").write_text(GOOD.replace("Good", "Bad"))
    original = catalog_folder.parse_template  # type: ignore[attr-defined]

    def failing(template_id: str, document: object) -> object:
        if template_id == "bad":
            raise ZeroDivisionError("boom")
        return original(template_id, document)  # type: ignore[arg-type]

    monkeypatch.setattr(catalog_folder, "parse_template", failing)
    templates, errors = loaded(tmp_path)
    assert templates == ["good"]
    assert errors == {"bad.toml": "cannot be used: ZeroDivisionError"}


def test_a_fifo_is_skipped_as_not_a_regular_file_without_blocking(tmp_path: Path) -> None:
    (tmp_path / "good.toml").write_text(GOOD)
    os.mkfifo(tmp_path / "pipe.toml")
    result: list[tuple[list[str], dict[str, str]]] = []
    scan = threading.Thread(target=lambda: result.append(loaded(tmp_path)), daemon=True)
    scan.start()
    scan.join(5)
    assert result, "the scan blocked on the FIFO"
    assert result[0] == (["good"], {"pipe.toml": "is not a regular file"})


def test_a_symlink_to_a_file_outside_the_catalog_is_an_error(tmp_path: Path) -> None:
    root, outside = tmp_path / "catalog", tmp_path / "elsewhere.toml"
    root.mkdir()
    outside.write_text(GOOD)
    (root / "link.toml").symlink_to(outside)
    assert loaded(root) == (
        [],
        {"link.toml": "is a symbolic link to a file outside the catalog folder"},
    )


def test_a_symlink_to_a_file_inside_the_catalog_is_read(tmp_path: Path) -> None:
    (tmp_path / "shared").mkdir()
    (tmp_path / "shared" / "real.toml").write_text(GOOD)
    (tmp_path / "alias.toml").symlink_to(tmp_path / "shared" / "real.toml")
    assert loaded(tmp_path) == (["alias", "shared/real"], {})


def test_a_dangling_symlink_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "gone.toml").symlink_to(tmp_path / "missing.toml")
    assert loaded(tmp_path)[1] == {"gone.toml": "is a symbolic link to a file that does not exist"}


def test_a_file_over_the_size_limit_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "big.toml").write_text(GOOD + "#" * catalog_folder.MAX_FILE_BYTES)
    assert loaded(tmp_path)[1] == {"big.toml": f"larger than {catalog_folder.MAX_FILE_BYTES} bytes"}


def test_files_past_the_count_limit_are_one_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(catalog_folder, "MAX_FILES", 3)
    for name in "abcde":
        (tmp_path / f"{name}.toml").write_text(GOOD)
    templates, errors = loaded(tmp_path)
    assert len(templates) == 3
    assert list(errors.values()) == ["not read: the catalog folder holds more than 3 files"]
