"""The ``caucus`` command line, run as a real process where the exit code matters."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.harness.case_intake import ReportAnswers, option, text

REPO = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.e2e  # each test runs `caucus` as a process of its own


def caucus(
    *args: str, cwd: Path, stdin: str = "", env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    environment = {key: value for key, value in os.environ.items() if not key.startswith("CAUCUS_")}
    environment.update(env or {})
    environment["PYTHONPATH"] = str(REPO)
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=cwd,
        input=stdin,
        capture_output=True,
        text=True,
        env=environment,
        timeout=120,
        check=False,
    )


def test_help_lists_every_command(tmp_path: Path) -> None:
    result = caucus("--help", cwd=tmp_path)
    assert result.returncode == 0
    for command in ("run", "check-config", "db", "keygen", "rotate-key"):
        assert command in result.stdout


def test_run_without_configuration_chats_on_the_console_with_sqlite_in_data(
    tmp_path: Path,
) -> None:
    result = caucus("run", cwd=tmp_path, stdin="/start\n1\n/help\n")
    assert result.returncode == 0, result.stderr
    assert "Welcome to Caucus" in result.stdout
    assert "/whoami" in result.stdout
    (line,) = result.stderr.splitlines()  # the demo's start-up line, and nothing else
    assert line.startswith("caucus: demo: ")
    assert (tmp_path / "data" / "demo.db").is_file()


def demo_report(answers: ReportAnswers) -> list[str]:
    """The lines a member types to file a report in the demo (its only working group)."""
    done = text("conversation.done")
    return [
        "/report",
        text("cases.consent_agree"),
        option("reporter", "organization"),
        answers.organization,
        option("naming", "public"),
        answers.title,
        answers.country,
        answers.locality,
        answers.company,
        option("company_role", "operator"),
        "/skip",
        done,
        option("sector", "mining"),
        option("right", "water"),
        done,
        answers.affected,
        "/skip",
        done,
        answers.started,
        option("yes_no", "yes"),
        *answers.narrative(),
        done,
        option("state_role", "none_known"),
        done,
        option("step_taken", "none"),
        done,
        answers.outcome,
        answers.remedy,
        done,
        option("yes_no", "no"),
        option("publication", "named"),
        option("yes_no", "yes"),
        text("conversation.submit"),
    ]


def test_run_without_configuration_is_a_demo_group_where_report_cases_and_export_work(
    tmp_path: Path,
) -> None:
    """`make run` on a fresh machine: the console's operator runs the demo working group, so
    a report can be filed, listed, read, verified and exported, the files landing in
    data/exports/ (theirs alone, under names of their own) and nowhere else."""
    answers = ReportAnswers(marker="Demo")
    typed = [
        *demo_report(answers),
        "/cases",
        "/case 1",
        "/casestatus 1 under_review",
        "/casestatus 1 verified",
        "/export",
        "/export",
    ]
    result = caucus("run", cwd=tmp_path, stdin="\n".join(typed) + "\n")
    assert result.returncode == 0, result.stderr
    (line,) = result.stderr.splitlines()
    assert '"Demo working group"' in line
    assert "console:local" in line
    assert "admin and coordinator" in line
    assert "config.example.toml" in line and "[[working_groups]]" in line
    submitted = text("cases.submitted", number=1, mine="/myreports", withdraw="/withdraw")
    assert submitted in result.stdout
    after = result.stdout.split(submitted)[1]
    listed, read = after.split(text("cases.list_footer", case="/case"))
    assert answers.title in listed
    assert answers.narrative()[0] in read  # /case 1
    assert read.count("Case 1 is now") == 2
    exports = tmp_path / "data" / "exports"
    files = sorted(exports.iterdir())
    assert sorted(path.suffix for path in files) == [".csv", ".csv", ".json", ".json"]
    assert len({path.name for path in files}) == 4
    for path in files:
        assert f"[{path}, {path.stat().st_size} B]" in result.stdout  # the reply says where
        assert path.stat().st_mode & 0o777 == 0o600
        assert answers.title in path.read_text(encoding="utf-8-sig")
    assert exports.stat().st_mode & 0o777 == 0o700
    written = {path for path in tmp_path.rglob("*") if path.is_file()}
    assert {path for path in written if path.suffix in (".csv", ".json")} == set(files)
    assert all(path.parent in (tmp_path / "data", exports) for path in written)


def test_a_configuration_file_leaves_the_demo_out(tmp_path: Path) -> None:
    """The demo keeps to its own database: a configuration file written later, even one
    that keeps the same data_dir, shows nothing of it."""
    demo = caucus("run", cwd=tmp_path, stdin="/groups\n")
    assert "Demo working group" in demo.stdout
    (tmp_path / "config.toml").write_text('data_dir = "data"\n', encoding="utf-8")
    configured = caucus("run", cwd=tmp_path, stdin="/whoami\n/as local admin\n/groups\n/report\n")
    assert configured.returncode == 0, configured.stderr
    assert configured.stderr == ""
    assert "Demo working group" not in configured.stdout
    assert text("members.no_groups") in configured.stdout
    assert text("cases.no_groups") in configured.stdout
    assert (tmp_path / "data" / "caucus.db").is_file()


def test_the_data_directory_and_its_files_are_its_users_alone_whatever_the_umask(
    tmp_path: Path,
) -> None:
    """The database, its journal, the log and the keys are readable by the bot's user only,
    even when the bot is started with a permissive umask."""
    previous = os.umask(0o002)
    try:
        result = caucus("run", cwd=tmp_path, stdin="/start\n1\n/profile\nAna\n")
    finally:
        os.umask(previous)
    assert result.returncode == 0, result.stderr
    data = tmp_path / "data"
    assert data.stat().st_mode & 0o777 == 0o700
    files = sorted(path for path in data.rglob("*") if path.is_file())
    assert {path.name for path in files} >= {"demo.db", "caucus.log", "encryption.key"}
    assert {path.name: path.stat().st_mode & 0o777 for path in files} == {
        path.name: 0o600 for path in files
    }


def test_run_takes_config_toml_from_the_working_directory(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text('data_dir = "state"\n', encoding="utf-8")
    result = caucus("run", cwd=tmp_path, stdin="/help\n")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "state" / "caucus.db").is_file()


def test_run_in_spanish_answers_in_spanish(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text('default_language = "es"\n', encoding="utf-8")
    result = caucus("run", cwd=tmp_path, stdin="/help\n")
    assert result.returncode == 0, result.stderr
    assert "Lo que puede hacer aquí" in result.stdout
    assert "What you can do here" not in result.stdout


def test_check_config_accepts_the_example_file(tmp_path: Path) -> None:
    result = caucus("check-config", str(REPO / "config.example.toml"), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "valid" in result.stdout


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("time_zone = 'Mars/Base'\n", "time_zone"),
        ("colour = 'red'\n", "colour"),
        ("[telegram]\nmode = 'polling'\n", "telegram.token"),
        ("this is not toml\n", "line 1"),
        ("[[working_groups]]\nslug = 'ok'\nname = 'A'\nlanguages = 'en'\n", "languages"),
    ],
    ids=["bad value", "unknown key", "missing value", "malformed", "wrong type"],
)
def test_bad_configuration_stops_with_exit_2_and_one_line(
    tmp_path: Path, text: str, key: str
) -> None:
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    for command in (("check-config", str(path)), ("run", "--config", str(path))):
        result = caucus(*command, cwd=tmp_path)
        assert result.returncode == 2
        assert result.stdout == ""
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1, result.stderr
        assert "config.toml" in lines[0]
        assert key in lines[0]
        assert "fix" in lines[0]
        assert "Traceback" not in result.stderr


def test_missing_configuration_file_is_named(tmp_path: Path) -> None:
    result = caucus("run", "--config", str(tmp_path / "nope.toml"), cwd=tmp_path)
    assert result.returncode == 2
    assert "nope.toml" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_matrix_without_a_pickle_key_is_refused_plainly_by_run_and_check_config(
    tmp_path: Path, database_url: str
) -> None:
    path = tmp_path / "config.toml"
    path.write_text(
        "[matrix]\nhomeserver = 'http://127.0.0.1:1'\nuser_id = '@bot:example.org'\n",
        encoding="utf-8",
    )
    env = {"CAUCUS_MATRIX_PASSWORD": "pw-secret", "CAUCUS_DATABASE_URL": database_url}
    for command in (("check-config", str(path)), ("run", "--config", str(path))):
        result = caucus(*command, cwd=tmp_path, env=env)
        assert result.returncode == 2, command
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1, result.stderr
        assert "matrix.pickle_key" in lines[0]
        assert "CAUCUS_MATRIX_PICKLE_KEY" in lines[0]
        assert "pw-secret" not in result.stderr
    # The start failed: it leaves no key behind.
    assert not (tmp_path / "data" / "encryption.key").exists()


def test_matrix_homeserver_unreachable_at_start_says_so_in_one_line(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(
        "[matrix]\nhomeserver = 'http://127.0.0.1:1'\nuser_id = '@bot:example.org'\n",
        encoding="utf-8",
    )
    result = caucus(
        "run",
        "--config",
        str(path),
        cwd=tmp_path,
        env={"CAUCUS_MATRIX_PASSWORD": "pw-secret", "CAUCUS_MATRIX_PICKLE_KEY": "pk-secret"},
    )
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "cannot reach the homeserver" in lines[0]
    assert "secret" not in result.stderr


def test_telegram_unreachable_at_start_says_so_in_one_line(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(
        "[telegram]\nmode = 'polling'\napi_base_url = 'http://127.0.0.1:1'\n", encoding="utf-8"
    )
    result = caucus(
        "run", "--config", str(path), cwd=tmp_path, env={"CAUCUS_TELEGRAM_TOKEN": "1:tok-secret"}
    )
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "cannot reach the Bot API" in lines[0]
    assert "tok-secret" not in result.stderr


def test_unusable_data_dir_stops_with_one_line(tmp_path: Path) -> None:
    (tmp_path / "afile").write_text("", encoding="utf-8")
    (tmp_path / "config.toml").write_text('data_dir = "afile"\n', encoding="utf-8")
    result = caucus("run", cwd=tmp_path, stdin="/help\n")
    assert result.returncode == 2
    assert "data_dir" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_unreachable_database_stops_with_one_line_naming_database_url(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(
        "[database]\nurl = 'postgresql://nobody:secret-pw@127.0.0.1:1/none'\n", encoding="utf-8"
    )
    result = caucus("db", "upgrade", "--config", str(path), cwd=tmp_path)
    assert result.returncode == 2
    assert "database.url" in result.stderr
    assert "secret-pw" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


@pytest.mark.empty_database
def test_db_upgrade_migrates_and_reports_the_revision(tmp_path: Path, database_url: str) -> None:
    result = caucus("db", "upgrade", cwd=tmp_path, env={"CAUCUS_DATABASE_URL": database_url})
    assert result.returncode == 0, result.stderr
    assert "revision" in result.stdout
    again = caucus("db", "upgrade", cwd=tmp_path, env={"CAUCUS_DATABASE_URL": database_url})
    assert again.returncode == 0
    assert again.stdout == result.stdout


def test_keygen_prints_a_key_the_configuration_accepts(tmp_path: Path) -> None:
    result = caucus("keygen", cwd=tmp_path)
    assert result.returncode == 0
    key = result.stdout.strip()
    checked = caucus("check-config", cwd=tmp_path, env={"CAUCUS_ENCRYPTION_KEYS": key})
    assert checked.returncode == 0, checked.stderr


def test_rotate_key_reseals_with_the_new_key_so_the_old_one_can_go(
    tmp_path: Path, database_url: str
) -> None:
    from storage.sealing import generate_key

    old, new = generate_key(), generate_key()
    first = {"CAUCUS_DATABASE_URL": database_url, "CAUCUS_ENCRYPTION_KEYS": old}
    started = caucus("run", cwd=tmp_path, stdin="/profile\nAna\n", env=first)
    assert started.returncode == 0, started.stderr
    both = {**first, "CAUCUS_ENCRYPTION_KEYS": f"{new},{old}"}
    rotated = caucus("rotate-key", cwd=tmp_path, env=both)
    assert rotated.returncode == 0, rotated.stderr
    assert "re-sealed 2 values" in rotated.stdout  # the profile's and the keys' check value
    only_new = {**first, "CAUCUS_ENCRYPTION_KEYS": new}
    resumed = caucus("run", cwd=tmp_path, stdin="", env=only_new)
    assert resumed.returncode == 0, resumed.stderr
    assert "Ana" in resumed.stdout or "organization" in resumed.stdout
    stranger = {**first, "CAUCUS_ENCRYPTION_KEYS": generate_key()}
    refused = caucus("rotate-key", cwd=tmp_path, env=stranger)
    assert refused.returncode == 2
    assert "encryption_keys" in refused.stderr
    assert "fix" in refused.stderr


def test_run_with_a_key_that_does_not_open_the_data_stops_with_the_fix(
    tmp_path: Path, database_url: str
) -> None:
    from storage.sealing import generate_key

    sealed_with = {"CAUCUS_DATABASE_URL": database_url, "CAUCUS_ENCRYPTION_KEYS": generate_key()}
    started = caucus("run", cwd=tmp_path, stdin="/profile\nAna\n", env=sealed_with)
    assert started.returncode == 0, started.stderr
    stranger = {**sealed_with, "CAUCUS_ENCRYPTION_KEYS": generate_key()}
    refused = caucus("run", cwd=tmp_path, stdin="/help\n", env=stranger)
    assert refused.returncode == 2
    (line,) = refused.stderr.strip().splitlines()
    assert "encryption_keys: none of the configured encryption keys opens the data" in line
    assert "fix: give the key it was sealed with in CAUCUS_ENCRYPTION_KEYS" in line
    assert "Welcome" not in refused.stdout  # it stopped before answering anything


def test_the_key_file_is_made_by_the_first_sealed_value_and_that_data_then_needs_it(
    tmp_path: Path, database_url: str
) -> None:
    env = {"CAUCUS_DATABASE_URL": database_url}
    key_file = tmp_path / "data" / "encryption.key"
    nothing_sealed = caucus("run", cwd=tmp_path, stdin="/help\n", env=env)
    assert nothing_sealed.returncode == 0, nothing_sealed.stderr
    assert not key_file.exists()
    sealed = caucus("run", cwd=tmp_path, stdin="/profile\nAna\n", env=env)
    assert sealed.returncode == 0, sealed.stderr
    assert key_file.is_file()
    key_file.rename(tmp_path / "elsewhere.key")
    for command in ("check-config", "run"):
        refused = caucus(command, cwd=tmp_path, stdin="/help\n", env=env)
        assert refused.returncode == 2, command
        (line,) = refused.stderr.strip().splitlines()
        assert f"no key is configured and {key_file} is gone" in line
        assert "fix: give the key it was sealed with in CAUCUS_ENCRYPTION_KEYS" in line
        assert f"or put back {key_file}" in line
        assert not key_file.exists()  # not a new key that opens nothing
    rotated = caucus("rotate-key", cwd=tmp_path, env=env)
    assert rotated.returncode == 2
    assert f"no key is configured and {key_file} does not exist" in rotated.stderr
    assert not key_file.exists()


def test_check_config_reports_keys_that_do_not_open_the_data_and_makes_no_key_file(
    tmp_path: Path, database_url: str
) -> None:
    from storage.sealing import generate_key

    sealed_with = {"CAUCUS_DATABASE_URL": database_url, "CAUCUS_ENCRYPTION_KEYS": generate_key()}
    started = caucus("run", cwd=tmp_path, stdin="/profile\nAna\n", env=sealed_with)
    assert started.returncode == 0, started.stderr
    stranger = {**sealed_with, "CAUCUS_ENCRYPTION_KEYS": generate_key()}
    refused = caucus("check-config", cwd=tmp_path, env=stranger)
    assert refused.returncode == 2
    assert refused.stdout == ""
    (line,) = refused.stderr.strip().splitlines()
    assert "encryption_keys: none of the configured encryption keys opens the data" in line
    assert "fix: give the key it was sealed with in CAUCUS_ENCRYPTION_KEYS" in line
    checked = caucus("check-config", cwd=tmp_path, env=sealed_with)
    assert checked.returncode == 0, checked.stderr
    assert "encryption keys: 1 from CAUCUS_ENCRYPTION_KEYS (checked against the" in checked.stdout
    assert not (tmp_path / "data" / "encryption.key").exists()  # keys came from the environment


@pytest.mark.parametrize(
    ("spoil", "problem"),
    [
        (lambda path: path.write_text("not a key\n", encoding="ascii"), "holds no key"),
        (lambda path: path.write_bytes(b"\xff\xfe"), "cannot read"),
        (lambda path: path.mkdir(), "cannot read"),
    ],
    ids=["malformed", "not text", "a directory"],
)
def test_an_unusable_key_file_stops_run_and_check_config_with_the_fix(
    tmp_path: Path, spoil: Callable[[Path], object], problem: str
) -> None:
    key_file = tmp_path / "data" / "encryption.key"
    key_file.parent.mkdir()
    spoil(key_file)
    for command in ("check-config", "run"):
        result = caucus(command, cwd=tmp_path, stdin="/help\n")
        assert result.returncode == 2, command
        assert "Traceback" not in result.stderr
        (line,) = result.stderr.strip().splitlines()
        assert f"encryption_keys: {problem}" in line or f"{key_file} {problem}" in line
        assert str(key_file) in line
        assert "fix:" in line and "CAUCUS_ENCRYPTION_KEYS" in line
