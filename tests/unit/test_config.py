import pytest

from gatehouse import config


def write(tmp_path, text: str):
    path = tmp_path / "gatehouse.toml"
    path.write_text(text)
    return path


def test_defaults_need_no_file():
    loaded = config.load(None, environ={})
    assert loaded["server.public_url"] == "http://127.0.0.1:8000"
    assert loaded["session.lifetime"] == 24 * 3600
    assert loaded["session.idle_timeout"] == 3600
    assert loaded["throttle.account_failures"] == 10


def test_file_values_are_read_and_env_overrides_them(tmp_path):
    path = write(
        tmp_path,
        '[server]\npublic_url = "https://signin.example.org"\n[organisation]\nname = "Riverside"\n',
    )
    loaded = config.load(path, environ={"GATEHOUSE_ORGANISATION_NAME": "Lakeside"})
    assert loaded["server.public_url"] == "https://signin.example.org"
    assert loaded["organisation.name"] == "Lakeside"


def test_env_lists_are_comma_separated():
    loaded = config.load(None, environ={"GATEHOUSE_SERVER_TRUSTED_PROXIES": "10.0.0.0/8, ::1/128"})
    assert loaded["server.trusted_proxies"] == ("10.0.0.0/8", "::1/128")


def test_config_path_comes_from_environment(tmp_path):
    path = write(tmp_path, '[organisation]\nname = "From file"\n')
    assert (
        config.load(None, environ={"GATEHOUSE_CONFIG": str(path)})["organisation.name"]
        == "From file"
    )


def test_relative_paths_resolve_against_the_config_folder(tmp_path):
    path = write(tmp_path, '[database]\nurl = "sqlite:///data/gh.sqlite3"\n')
    loaded = config.load(path, environ={})
    assert loaded.sqlite_path == (tmp_path / "data" / "gh.sqlite3").resolve()
    assert loaded.path("secrets.key_file") == (tmp_path / "secret.key").resolve()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            '[server]\ntrusted_proxies = ["10.0.0.300/8"]\n',
            "server.trusted_proxies: ['10.0.0.300/8'] is not valid: '10.0.0.300/8' is not a CIDR range",
        ),
        ('[server]\ntrusted_proxies = ["10.1.2.3/8"]\n', "has host bits set"),
        (
            '[server]\npublic_url = "http://signin.example.org"\n',
            "plain http is only allowed for a loopback host",
        ),
        ('[server]\npublic_url = "ftp://x"\n', "expected an absolute http:// or https:// URL"),
        (
            '[server]\npublc_url = "https://x"\n',
            "unknown key 'server.publc_url'; valid keys in [server]: public_url",
        ),
        ("[sever]\n", "unknown section [sever]"),
        (
            '[session]\nlifetime = "forever"\n',
            "session.lifetime: 'forever' is not valid: expected a duration such as 90s",
        ),
        (
            '[session]\nlifetime = "9999999999999999999999d"\n',
            "expected a duration such as 90s",
        ),
        (
            "[throttle]\naccount_failures = 0\n",
            "throttle.account_failures: 0 is not valid: expected a whole number from 3 to 100",
        ),
        (
            '[database]\nurl = "mysql://x/y"\n',
            "database.url: 'mysql://x/y' is not valid: expected sqlite:///",
        ),
        ('[cache]\nurl = "memcached://x"\n', "expected empty (no shared cache) or redis://"),
        ("[server\n", "not valid TOML"),
    ],
)
def test_bad_values_name_the_key_the_value_and_what_is_valid(tmp_path, text, expected):
    with pytest.raises(config.ConfigError) as error:
        config.load(write(tmp_path, text), environ={})
    assert expected in str(error.value)


def test_bad_env_override_names_the_variable():
    with pytest.raises(
        config.ConfigError, match="environment variable GATEHOUSE_SESSION_IDLE_TIMEOUT: 'soon'"
    ):
        config.load(None, environ={"GATEHOUSE_SESSION_IDLE_TIMEOUT": "soon"})


def test_idle_timeout_cannot_exceed_lifetime():
    with pytest.raises(config.ConfigError, match="idle_timeout"):
        config.load(
            None,
            environ={"GATEHOUSE_SESSION_LIFETIME": "1h", "GATEHOUSE_SESSION_IDLE_TIMEOUT": "2h"},
        )


def test_missing_key_file_is_reported_with_its_path(tmp_path):
    loaded = config.load(write(tmp_path, ""), environ={})
    with pytest.raises(
        config.ConfigError,
        match=r"secrets.key_file: .*secret.key' does not exist; run `gatehouse init`",
    ):
        config.check(loaded)


def test_short_key_is_refused(tmp_path):
    (tmp_path / "secret.key").write_text("short")
    with pytest.raises(config.ConfigError, match="at least 32"):
        config.check(config.load(write(tmp_path, ""), environ={}))


def test_commented_file_loads_to_the_defaults(tmp_path):
    path = write(tmp_path, config.render_commented())
    assert config.load(path, environ={}).values == config.load(None, environ={}).values


def test_rendered_overrides_round_trip(tmp_path):
    text = config.render_commented(
        {"server": {"trusted_proxies": ["127.0.0.0/8"]}, "organisation": {"name": 'Quote " me'}}
    )
    loaded = config.load(write(tmp_path, text), environ={})
    assert loaded["server.trusted_proxies"] == ("127.0.0.0/8",)
    assert loaded["organisation.name"] == 'Quote " me'


def test_configuration_reference_is_current():
    from pathlib import Path

    reference = Path(__file__).parents[2] / "docs" / "configuration.md"
    assert reference.read_text() == config.render_reference(), (
        "regenerate with: python -m gatehouse.config > docs/configuration.md"
    )


def test_email_settings_are_checked():
    loaded = config.load(
        None, environ={"GATEHOUSE_EMAIL_HOST": "smtp.example.org", "GATEHOUSE_EMAIL_PORT": "587"}
    )
    assert (loaded["email.host"], loaded["email.port"]) == ("smtp.example.org", 587)
    with pytest.raises(config.ConfigError, match="choose one"):
        config.load(
            None, environ={"GATEHOUSE_EMAIL_USE_TLS": "true", "GATEHOUSE_EMAIL_USE_SSL": "true"}
        )


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        ("ORGANISATION_TIME_ZONE", "Mars/Olympus", "expected an IANA time zone name"),
        ("ORGANISATION_ACCENT_COLOUR", "#ffff00", "white text #ffffff on it would be hard to read"),
        ("ORGANISATION_ACCENT_COLOUR", "blue", "expected a colour as #rrggbb"),
        ("ORGANISATION_BACKGROUND_COLOUR", "#333333", "grey text #57606a on it"),
        ("ORGANISATION_LOGO", "logo.gif", "expected empty or an image file"),
        ("LEARNING_IOS_GUIDE", "http://intranet/iphone", "an https:// URL"),
        ("LEARNING_VIDEO", "//evil.example/video", "an https:// URL"),
    ],
)
def test_branding_time_zone_and_learning_links_are_validated(variable, value, expected):
    with pytest.raises(config.ConfigError, match=expected):
        config.load(None, environ={f"GATEHOUSE_{variable}": value})


def test_branding_and_learning_defaults_are_readable_and_point_at_gatehouses_help():
    loaded = config.load(None, environ={})
    assert loaded["organisation.time_zone"] == "UTC"
    assert config.contrast(loaded["organisation.accent_colour"], "#ffffff") >= 4.5
    assert config.contrast(loaded["organisation.background_colour"], "#57606a") >= 4.5
    assert loaded["learning.get_started"] == "/help/get-started"
    assert loaded["learning.video"] == ""
    assert loaded["authenticator.fraud_block_everywhere"] is False


def test_a_logo_that_cannot_be_read_is_refused_by_check(tmp_path):
    from gatehouse.cli import write_secret_key

    write_secret_key(tmp_path / "secret.key")
    path = write(tmp_path, '[organisation]\nlogo = "missing.svg"\n')
    with pytest.raises(
        config.ConfigError, match=r"organisation\.logo: .*missing\.svg' cannot be read"
    ):
        config.check(config.load(path, environ={}))


SOURCE = """
[[directory.ldap]]
name = "corp"
kind = "active_directory"
urls = ["ldaps://dc1.corp.example.org", "ldaps://dc2.corp.example.org"]
bind_dn = "CN=svc,OU=Service,DC=corp,DC=example,DC=org"
bind_password_file = "corp.password"
user_base = "OU=Staff,DC=corp,DC=example,DC=org"
"""


def test_a_directory_source_takes_the_defaults_of_its_kind(tmp_path):
    loaded = config.load(write(tmp_path, SOURCE), environ={})
    (corp,) = loaded["directory.ldap"]
    assert corp.urls == ("ldaps://dc1.corp.example.org", "ldaps://dc2.corp.example.org")
    assert corp.attributes["username"] == "sAMAccountName"
    assert corp.attributes["id"] == "objectGUID"
    assert corp.nested_groups and corp.group_base == corp.user_base
    assert corp.bind_password_file == (tmp_path / "corp.password").resolve()
    openldap = SOURCE.replace("active_directory", "openldap")
    (lab,) = config.load(write(tmp_path, openldap), environ={})["directory.ldap"]
    assert lab.attributes["username"] == "uid" and lab.attributes["id"] == "entryUUID"
    assert not lab.nested_groups


def test_a_source_key_is_overridden_from_the_environment_by_the_source_name(tmp_path):
    environ = {
        "GATEHOUSE_DIRECTORY_LDAP_CORP_PAGE_SIZE": "200",
        "GATEHOUSE_DIRECTORY_LDAP_CORP_BIND_PASSWORD": "from the environment",
    }
    (corp,) = config.load(write(tmp_path, SOURCE), environ=environ)["directory.ldap"]
    assert corp.page_size == 200
    assert corp.bind_password(environ) == "from the environment"


def test_the_service_password_comes_from_its_file(tmp_path):
    loaded = config.load(write(tmp_path, SOURCE), environ={})
    (corp,) = loaded["directory.ldap"]
    with pytest.raises(config.ConfigError, match=r"corp\.password' cannot be read"):
        corp.bind_password({})
    (tmp_path / "corp.password").write_text("s3cret\n")
    assert corp.bind_password({}) == "s3cret"


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (('name = "corp"', 'name = "Corp!"'), "name 'Corp!' is not valid"),
        (('name = "corp"', 'name = "local"'), "(not 'local')"),
        (('kind = "active_directory"', 'kind = "novell"'), "kind 'novell' is not valid"),
        (
            ('urls = ["ldaps://dc1.corp.example.org", ', 'urls = ["ldap://dc1.corp.example.org", '),
            "would send passwords in clear; use ldaps:// or start_tls = true",
        ),
        (("urls = [", "start_tls = true\nurls = ["), "start_tls is for ldap:// URLs"),
        (
            ("urls = [", 'bind_password = "x"\nurls = ['),
            "bind_password does not belong in the file",
        ),
        (("urls = [", "page_sise = 5\nurls = ["), "unknown key 'page_sise'"),
        (('user_base = "OU=', 'user_base = "not a dn OU='), "user_base: 'not a dn OU="),
        (("urls = [", 'user_filter = "objectClass=user"\nurls = ['), "expected an LDAP filter"),
        (("urls = [", 'attributes = { usrname = "uid" }\nurls = ['), "unknown attribute usrname"),
        (('bind_dn = "CN=svc', 'xbind_dn = "CN=svc'), "unknown key 'xbind_dn'"),
    ],
)
def test_a_bad_source_is_refused_with_the_key_and_what_is_valid(tmp_path, change, expected):
    old, new = change
    assert old in SOURCE
    with pytest.raises(config.ConfigError) as error:
        config.load(write(tmp_path, SOURCE.replace(old, new, 1)), environ={})
    assert expected in str(error.value)


def test_two_sources_may_not_share_a_name(tmp_path):
    with pytest.raises(config.ConfigError, match=r"two \[\[directory\.ldap\]\] sources"):
        config.load(write(tmp_path, SOURCE + SOURCE), environ={})


def test_check_reads_the_service_password_and_the_ca(tmp_path):
    (tmp_path / "secret.key").write_text("k" * 40)
    path = write(tmp_path, SOURCE.replace("user_base", 'ca_file = "ca.pem"\nuser_base'))
    loaded = config.load(path, environ={})
    with pytest.raises(config.ConfigError, match=r"corp\.password' cannot be read"):
        config.check(loaded)
    (tmp_path / "corp.password").write_text("s3cret")
    with pytest.raises(config.ConfigError, match=r"ca_file .*ca\.pem' cannot be read"):
        config.check(loaded)
    (tmp_path / "ca.pem").write_text("not a certificate")
    with pytest.raises(config.ConfigError, match="holds no PEM certificate"):
        config.check(loaded)


def test_rendered_sources_round_trip(tmp_path):
    table = {
        "name": "lab",
        "kind": "openldap",
        "urls": ["ldaps://ldap.lab"],
        "bind_dn": "cn=svc,dc=lab",
        "user_base": "ou=people,dc=lab",
        "attributes": {"email": "mailPrimaryAddress"},
    }
    text = config.render_commented({"directory": {"ldap": [table]}})
    (lab,) = config.load(write(tmp_path, text), environ={})["directory.ldap"]
    assert lab.attributes["email"] == "mailPrimaryAddress" and lab.urls == ("ldaps://ldap.lab",)
