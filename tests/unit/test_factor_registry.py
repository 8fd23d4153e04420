"""Factors describe themselves and the registry finds them: no list of factors by hand."""

from gatehouse.methods import registry


def test_every_factor_is_found_with_its_own_description():
    found = registry.factors()
    assert set(found) >= {"totp", "push", "recovery_codes", "tap"}
    names = {kind: f.verify_name for kind, f in found.items()}
    assert names["recovery_codes"] == "recovery_code" and names["totp"] == "totp"
    assert registry.by_verify_name("push").approved_on_device
    assert registry.by_verify_name("nothing") is None
    assert registry.fallback_kinds() == ("recovery_codes",)


def test_the_requirements_a_session_meets_come_from_the_factors_amr():
    assert registry.satisfied_by(["pwd"]) == frozenset()
    assert registry.satisfied_by(["pwd", "otp", "mfa"]) == {"mfa"}
    assert registry.satisfied_by(["pwd", "swk", "mfa"]) == {"mfa"}
    assert registry.satisfied_by(["pwd", "tap", "mfa"]) == {"mfa", "temporary_access_pass"}
    assert registry.leads_to_registration(["pwd", "tap", "mfa"])
    assert not registry.leads_to_registration(["pwd", "otp", "mfa"])
