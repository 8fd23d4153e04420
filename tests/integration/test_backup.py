"""`gatehouse backup` and `gatehouse restore` for SQLite (the online backup API), with the
key-file warning; PostgreSQL is refused with a pointer to pg_dump."""

import sqlite3
import stat

import pytest
from django.conf import settings

from gatehouse import crypto
from gatehouse.cli import main
from gatehouse.directory.models import User
from gatehouse.methods.models import AuthMethod

ON_SQLITE = settings.DATABASES["default"]["ENGINE"].endswith("sqlite3")
sqlite_only = pytest.mark.skipif(not ON_SQLITE, reason="backup and restore are SQLite's")


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


@sqlite_only
@pytest.mark.django_db(transaction=True)  # the backup reads what is committed
def test_backup_then_restore_brings_the_database_back(make_user, with_totp, tmp_path, capsys):
    alice = make_user("alice")
    secret = with_totp(alice)
    path = tmp_path / "gatehouse-backup.sqlite3"
    code, out, err = run(capsys, "backup", str(path))
    assert code == 0 and f"up to {path} (mode 0600)" in out
    assert "secrets.key_file" in err and "keep copies of them apart" in err
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    with sqlite3.connect(path) as copy:
        assert copy.execute("SELECT username FROM directory_user").fetchall() == [("alice",)]

    User.objects.all().delete()
    make_user("mallory")
    code, _, err = run(capsys, "restore", str(path))
    assert code == 2 and "stop every Gatehouse process" in err and "--yes" in err
    assert list(User.objects.values_list("username", flat=True)) == ["mallory"]
    code, out, _ = run(capsys, "restore", str(path), "--yes")
    assert code == 0 and "restored" in out
    assert list(User.objects.values_list("username", flat=True)) == ["alice"]
    method = AuthMethod.objects.get(user__username="alice", kind="totp")
    assert crypto.decrypt(method.secret) == secret


@sqlite_only
@pytest.mark.django_db(transaction=True)
def test_a_restore_says_when_the_key_file_cannot_read_its_secrets(
    make_user, with_totp, tmp_path, capsys, monkeypatch
):
    with_totp(make_user("alice"))
    path = tmp_path / "backup.sqlite3"
    assert run(capsys, "backup", str(path))[0] == 0
    monkeypatch.setattr(crypto, "_keys", lambda: ("another key, not the one of the backup " * 2,))
    code, _, err = run(capsys, "restore", str(path), "--yes")
    assert code == 2 and "does not decrypt its second factors" in err


@sqlite_only
@pytest.mark.django_db
def test_backup_and_restore_refuse_bad_files_in_one_line(tmp_path, capsys):
    existing = tmp_path / "there.sqlite3"
    existing.write_text("")
    code, _, err = run(capsys, "backup", str(existing))
    assert code == 2 and "already exists; not overwriting it" in err
    not_sqlite = tmp_path / "notes.txt"
    not_sqlite.write_text("hello\n" * 200)
    assert "not a SQLite database" in run(capsys, "restore", str(not_sqlite), "--yes")[2]
    other = tmp_path / "other.sqlite3"
    with sqlite3.connect(other) as database:
        database.execute("CREATE TABLE t (x)")
    assert "not a Gatehouse database" in run(capsys, "restore", str(other), "--yes")[2]
    assert "no such file" in run(capsys, "restore", str(tmp_path / "none"), "--yes")[2]


@pytest.mark.skipif(ON_SQLITE, reason="PostgreSQL's refusal")
@pytest.mark.django_db
def test_on_postgresql_backup_points_at_pg_dump(tmp_path, capsys):
    code, _, err = run(capsys, "backup", str(tmp_path / "x"))
    assert code == 2 and "pg_dump" in err and err.count("\n") == 1
