"""Active Directory's bind diagnostics, as Windows Server writes them (messages recorded from
Windows Server 2008 R2 to 2022: the DSID and version differ, the `data` field does not).
Samba's AD DC, which the integration tests run, writes the same format but answers 52e where
Windows answers 525 (no such user)."""

import ldap
import pytest

from gatehouse.directory.sources.base import Verdict
from gatehouse.directory.sources.ldap import refusals


@pytest.mark.parametrize(
    ("diagnostic", "verdict"),
    [
        (
            "80090308: LdapErr: DSID-0C0903A9, comment: AcceptSecurityContext error, data 52e, v1db1",
            Verdict.BAD_PASSWORD,
        ),
        (
            "80090308: LdapErr: DSID-0C09042F, comment: AcceptSecurityContext error, data 525, v2580",
            Verdict.UNKNOWN_USER,
        ),
        (
            "80090308: LdapErr: DSID-0C09042F, comment: AcceptSecurityContext error, data 530, v2580",
            Verdict.LOGON_HOURS,
        ),
        (
            "80090308: LdapErr: DSID-0C09044E, comment: AcceptSecurityContext error, data 531, v3839",
            Verdict.WORKSTATION,
        ),
        (
            "80090308: LdapErr: DSID-0C09044E, comment: AcceptSecurityContext error, data 532, v4563",
            Verdict.PASSWORD_EXPIRED,
        ),
        (
            "80090308: LdapErr: DSID-0C09044E, comment: AcceptSecurityContext error, data 533, v4563",
            Verdict.ACCOUNT_DISABLED,
        ),
        (
            "80090308: LdapErr: DSID-0C090447, comment: AcceptSecurityContext error, data 701, v3839",
            Verdict.ACCOUNT_EXPIRED,
        ),
        (
            "80090308: LdapErr: DSID-0C09042F, comment: AcceptSecurityContext error, data 773, v2580",
            Verdict.MUST_CHANGE_PASSWORD,
        ),
        (
            "8009030C: LdapErr: DSID-0C09056B, comment: AcceptSecurityContext error, data 775, v4563",
            Verdict.LOCKED,
        ),
        (
            "8009030C: LdapErr: DSID-0C0906B5, comment: AcceptSecurityContext error, data 52E, v4f7c",
            Verdict.BAD_PASSWORD,
        ),
        # A sub-code we do not know is a refusal like any wrong password, never a sign-in.
        (
            "80090308: LdapErr: DSID-0C09042F, comment: AcceptSecurityContext error, data 569, v2580",
            Verdict.BAD_PASSWORD,
        ),
        ("Invalid credentials", Verdict.BAD_PASSWORD),
    ],
)
def test_active_directory_sub_codes(diagnostic, verdict):
    error = ldap.INVALID_CREDENTIALS(
        {"result": 49, "desc": "Invalid credentials", "info": diagnostic}
    )
    assert refusals.refused(error).verdict == verdict


@pytest.mark.parametrize(
    ("code", "right"),
    [("525", False), ("52e", False), ("775", False)]
    + [(code, True) for code in ("530", "531", "532", "533", "701", "773")],
)
def test_only_refusals_that_need_the_right_password_say_it_was_right(code, right):
    """Active Directory answers 530-773 only to the right password; 525, 52e and 775 to any."""
    diagnostic = (
        f"80090308: LdapErr: DSID-0C09042F, comment: AcceptSecurityContext error, data {code}"
    )
    error = ldap.INVALID_CREDENTIALS({"result": 49, "info": diagnostic})
    assert refusals.refused(error).verdict.password_was_right is right
