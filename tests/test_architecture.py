"""The import rules of ARCHITECTURE.md, checked on the source: which part may import what."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PLATFORM_LIBRARIES = ("telegram", "nio", "aiohttp")
DATABASE_LIBRARIES = ("sqlalchemy", "alembic")
HANDLER_FORBIDDEN = ("bot.transports", "bot.app", "bot.inbox", "bot.outbox")


def _modules(*folders: str) -> list[Path]:
    return sorted(path for folder in folders for path in (ROOT / folder).rglob("*.py"))


def _imports(path: Path) -> Iterator[str]:
    """Every module a file imports, at any depth (lazy imports inside functions included)."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module


def _within(name: str, packages: tuple[str, ...]) -> bool:
    return any(name == package or name.startswith(package + ".") for package in packages)


def _relative(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def _violations(
    folders: tuple[str, ...], forbidden: tuple[str, ...], allowed: str = ""
) -> list[str]:
    return [
        f"{_relative(path)} imports {name}"
        for path in _modules(*folders)
        if not (allowed and _relative(path).startswith(allowed))
        for name in _imports(path)
        if _within(name, forbidden)
    ]


def test_only_the_transports_import_a_chat_library() -> None:
    assert _violations(("bot", "handlers", "storage"), PLATFORM_LIBRARIES, "bot/transports/") == []


def test_only_storage_imports_the_database_libraries() -> None:
    assert _violations(("bot", "handlers"), DATABASE_LIBRARIES) == []


def test_storage_imports_nothing_of_the_bot_but_its_neutral_types() -> None:
    found = [
        f"{_relative(path)} imports {name}"
        for path in _modules("storage")
        for name in _imports(path)
        if _within(name, ("bot", "handlers")) and name != "bot.types"
    ]
    assert found == []


def test_handlers_reach_no_transport_and_no_delivery_machinery() -> None:
    assert _violations(("handlers",), HANDLER_FORBIDDEN) == []


@pytest.mark.parametrize("path", _modules("bot"), ids=_relative)
def test_the_core_reaches_transports_only_through_wiring_and_planning(path: Path) -> None:
    relative = _relative(path)
    if relative.startswith("bot/transports/") or relative == "bot/app.py":
        return  # the wiring builds the configured transports, importing each only when used
    reached = [
        name
        for name in _imports(path)
        if _within(name, ("bot.transports",))
        and name not in ("bot.transports", "bot.transports.planning")
    ]
    assert reached == []


def test_every_package_is_installed_with_the_project() -> None:
    """A package missing from pyproject's list works from the checkout and is absent from an
    installed bot (``pip install .``): its capability would vanish without an error."""
    import tomllib

    listed = set(
        tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))["tool"]["setuptools"][
            "packages"
        ]
    )
    found = {
        init.parent.relative_to(ROOT).as_posix().replace("/", ".")
        for top in ("bot", "handlers", "storage", "locales")
        for init in (ROOT / top).rglob("__init__.py")
    }
    assert found - listed == set()
