"""`gatehouse init` and `gatehouse check`: files written, bad input refused in one line."""

import stat

import pytest

from gatehouse.cli import main


@pytest.fixture(autouse=True)
def _restore_config_env(monkeypatch):
    # `--config` exports GATEHOUSE_CONFIG for the process; keep it from leaking between tests.
    monkeypatch.delenv("GATEHOUSE_CONFIG", raising=False)


def test_init_writes_a_commented_config_and_a_private_key(tmp_path, capsys):
    assert main(["init", "--dir", str(tmp_path)]) == 0
    config = (tmp_path / "gatehouse.toml").read_text()
    assert "# [server]" not in config and "[server]" in config and "# public_url =" in config
    assert stat.S_IMODE((tmp_path / "secret.key").stat().st_mode) == 0o600
    assert main(["--config", str(tmp_path / "gatehouse.toml"), "check"]) == 0
    assert "configuration OK" in capsys.readouterr().out


def test_init_refuses_to_overwrite(tmp_path, capsys):
    main(["init", "--dir", str(tmp_path)])
    assert main(["init", "--dir", str(tmp_path)]) == 2
    assert "already exists" in capsys.readouterr().err


def test_check_names_the_bad_key(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("GATEHOUSE_SECRETS_KEY_FILE")
    main(["init", "--dir", str(tmp_path)])
    path = tmp_path / "gatehouse.toml"
    path.write_text(path.read_text().replace('# url = ""', 'url = "memcached://x"'))
    capsys.readouterr()
    assert main(["--config", str(path), "check"]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err
    assert (
        "cache.url: 'memcached://x' is not valid: expected empty (no shared cache) or redis://"
        in err
    )


def test_bad_arguments_exit_2_with_one_line(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["serve", "--port", "70000"])
    assert exit_.value.code == 2
    assert capsys.readouterr().err.strip().count("\n") == 0


def test_check_validates_directory_sources(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("GATEHOUSE_SECRETS_KEY_FILE")
    main(["init", "--dir", str(tmp_path)])
    path = tmp_path / "gatehouse.toml"
    source = (
        '\n[[directory.ldap]]\nname = "corp"\nkind = "active_directory"\n'
        'urls = ["ldaps://dc1.corp.test"]\nbind_dn = "svc@corp.test"\n'
        'bind_password_file = "corp.password"\nuser_base = "OU=Staff,DC=corp,DC=test"\n'
    )
    text = path.read_text()
    path.write_text(text.replace("\n[log]", source + "\n[log]"))
    capsys.readouterr()
    assert main(["--config", str(path), "check"]) == 2
    assert "corp.password' cannot be read" in capsys.readouterr().err
    (tmp_path / "corp.password").write_text("s3cret\n")
    assert main(["--config", str(path), "check"]) == 0
    assert "directory source corp: active_directory at ldaps://dc1.corp.test" in (
        capsys.readouterr().out
    )
