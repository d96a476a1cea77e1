"""The console transport's own part: the files the bot sends are written into a folder of
the operator's alone (the journey through `caucus run` is in tests/test_cli.py)."""

from __future__ import annotations

from pathlib import Path

from bot.transports.console import save_file
from bot.types import Media


def test_a_file_is_never_overwritten_nor_written_outside_its_folder(tmp_path: Path) -> None:
    folder = tmp_path / "data" / "exports"
    names = ["cases-demo.csv", "cases-demo.csv", "../../escape.csv", "/etc/passwd", "..", ".x"]
    saved = [save_file(folder, Media(name, "text/csv", name.encode())) for name in names]
    assert [path.name for path in saved] == [
        "cases-demo.csv",
        "cases-demo-2.csv",
        "escape.csv",
        "passwd",
        "file",
        "x",
    ]
    assert all(path.parent == folder for path in saved)
    assert [path.read_bytes() for path in saved] == [name.encode() for name in names]
    assert sorted(path.name for path in tmp_path.rglob("*") if path.is_file()) == sorted(
        path.name for path in saved
    )


def test_the_folder_and_its_files_are_the_operators_alone(tmp_path: Path) -> None:
    folder = tmp_path / "exports"
    folder.mkdir(mode=0o755)
    folder.chmod(0o755)  # made by hand, readable by all: the first export narrows it
    path = save_file(folder, Media("cases.json", "application/json", b"{}"))
    assert folder.stat().st_mode & 0o777 == 0o700
    assert path.stat().st_mode & 0o777 == 0o600
