"""The user directory: CSV import (all or nothing) and administrators."""

import pytest
from django.contrib.auth.hashers import identify_hasher

from gatehouse.cli import main
from gatehouse.csvimport import CsvImportError
from gatehouse.directory.importer import import_csv
from gatehouse.directory.models import User

pytestmark = pytest.mark.django_db

HEADER = "username,email,display_name,department,groups,password\n"


def test_import_creates_users_with_groups_and_argon2_passwords():
    result = import_csv(
        HEADER
        + "Alice,alice@example.org,Alice A,Clinical,Clinical staff;Ward 7,first-password\n"
        + "bob,bob@example.org,Bob B,Estates,,\n"
    )
    assert (result.created, result.updated) == (2, 0)
    alice = User.objects.get(username="alice")
    assert alice.group_names() == {"Clinical staff", "Ward 7"}
    assert identify_hasher(alice.password).algorithm == "argon2"
    assert alice.check_password("first-password")
    assert not User.objects.get(username="bob").has_usable_password()


def test_reimport_updates_and_never_duplicates():
    import_csv(HEADER + "alice,alice@example.org,Alice A,Clinical,Ward 7,first-password\n")
    result = import_csv(HEADER + "alice,alice@new.example.org,Alice B,Estates,Estates,\n")
    assert (result.created, result.updated) == (0, 1)
    alice = User.objects.get(username="alice")
    assert (alice.email, alice.display_name, alice.department) == (
        "alice@new.example.org",
        "Alice B",
        "Estates",
    )
    assert alice.group_names() == {"Estates"}
    assert alice.check_password("first-password")  # an empty password keeps the old one
    assert User.objects.count() == 1


def test_bad_row_is_reported_by_line_and_nothing_is_applied():
    text = (
        HEADER
        + "alice,alice@example.org,Alice,Clinical,,good-password\n"
        + "bob,not-an-email,Bob,Estates,,\n"
        + "alice,dup@example.org,Again,Clinical,,\n"
    )
    with pytest.raises(CsvImportError) as error:
        import_csv(text)
    assert "line 3: email 'not-an-email' is not a valid email address" in str(error.value)
    assert "line 4: username 'alice' already appears on line 2" in str(error.value)
    assert not User.objects.exists()


def test_wrong_header_is_refused():
    with pytest.raises(CsvImportError, match="line 1: the header must be exactly"):
        import_csv("user,mail\nalice,a@example.org\n")


def test_cli_import_reports_and_exits_non_zero(tmp_path, capsys):
    path = tmp_path / "users.csv"
    path.write_text(HEADER + "al ice,a@example.org,A,B,,\n")
    assert main(["users", "import", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "line 2: username 'al ice' is not valid" in err
    path.write_text(HEADER + "alice,a@example.org,A,B,,long-enough\n")
    assert main(["users", "import", str(path)]) == 0
    assert "1 created, 0 updated" in capsys.readouterr().out


def test_createadmin(capsys):
    assert main(["createadmin", "Root", "--password", "admin-password"]) == 0
    admin = User.objects.get(username="root")
    assert admin.is_superuser and admin.check_password("admin-password")


# --- the password rules (ASVS 5.0 V6.2) -------------------------------------------------------


@pytest.fixture
def context_words(settings):
    keys = settings.CONFIG.values["passwords"]
    keys["context_words"] = ("Ward Seven",)
    yield
    keys["context_words"] = ()


@pytest.mark.parametrize(
    ("password", "refusal"),
    [
        ("short", "too short"),
        ("iloveyou", "too common"),
        ("Password1", "too common"),
        ("alice@example.org", "too similar"),
        ("G@teh0use-2026", "contains 'gatehouse'"),
        ("wardseven-rota", "contains 'wardseven'"),
    ],
)
def test_a_password_set_through_gatehouse_follows_the_rules(context_words, password, refusal):
    with pytest.raises(CsvImportError, match=refusal):
        import_csv(HEADER + f"alice,alice@example.org,Alice A,Clinical,,{password}\n")
    assert (
        main(["createadmin", "alice", "--email", "alice@example.org", "--password", password]) == 2
    )
    assert not User.objects.exists()


def test_any_password_of_any_length_and_composition_is_kept_exactly_as_typed(api):
    # 124 characters, a space at the end: nothing is cut or changed.
    long = "ñ correct horse 🐎 battery staple, and then some more words " * 2
    import_csv(HEADER + f'alice,alice@example.org,Alice A,Clinical,,"{long}"\n')
    alice = User.objects.get(username="alice")
    assert alice.check_password(long)
    assert not alice.check_password(long[:64]) and not alice.check_password(long.upper())
    assert api.signin("alice", long).status_code == 200
    assert api.signin("alice", long.upper()).status_code == 401


def test_a_password_reset_by_import_leaves_the_second_factor_required(
    api, alice, with_totp, mfa_everywhere
):
    with_totp(alice)
    import_csv(HEADER + "alice,alice@example.org,Alice A,Clinical,,a-new-long-secret\n")
    assert api.signin("alice", "a-new-long-secret").json()["status"] == "mfa_required"
