"""Why a directory refused a bind, told apart: Active Directory's diagnostic sub-codes, and
OpenLDAP's password-policy response control (draft-behera-ldap-password-policy).

Active Directory answers every refused simple bind with invalidCredentials (49) and a
diagnostic message such as

  80090308: LdapErr: DSID-0C09044E, comment: AcceptSecurityContext error, data 52e, v4563

whose `data` field is the Windows error: 525 no such user, 52e wrong password, 530 not
permitted at this time, 531 not permitted from this workstation, 532 password expired, 533
account disabled, 701 account expired, 773 password must be changed, 775 account locked out.
Only 52e, 525 and 775 come back for a wrong password; the others mean the password was right."""

from __future__ import annotations

import re

import ldap
from ldap.controls import DecodeControlTuples
from ldap.controls.ppolicy import PasswordPolicyControl

from gatehouse.directory.sources.base import Checked, Verdict

AD_SUB_CODES = {
    "525": Verdict.UNKNOWN_USER,
    "52e": Verdict.BAD_PASSWORD,
    "530": Verdict.LOGON_HOURS,
    "531": Verdict.WORKSTATION,
    "532": Verdict.PASSWORD_EXPIRED,
    "533": Verdict.ACCOUNT_DISABLED,
    "701": Verdict.ACCOUNT_EXPIRED,
    "773": Verdict.MUST_CHANGE_PASSWORD,
    "775": Verdict.LOCKED,
}
_AD_DATA = re.compile(r"\bdata ([0-9a-fA-F]{1,8})\b")

# draft-behera-ldap-password-policy PasswordPolicyResponseValue.error
PPOLICY_EXPIRED, PPOLICY_LOCKED, PPOLICY_CHANGE_AFTER_RESET = 0, 1, 2


def ad_sub_code(diagnostic: str) -> str | None:
    """The `data` field of an Active Directory bind diagnostic, lower case ('52e'), if any."""
    match = _AD_DATA.search(diagnostic or "")
    return match.group(1).lower() if match else None


def refused(error: ldap.INVALID_CREDENTIALS) -> Checked:
    """The verdict for an invalidCredentials answer to a user's bind."""
    info = error.args[0] if error.args and isinstance(error.args[0], dict) else {}
    diagnostic = info.get("info") or ""
    code = ad_sub_code(diagnostic)
    if code is not None:
        return Checked(AD_SUB_CODES.get(code, Verdict.BAD_PASSWORD), f"data {code}")
    policy = _ppolicy(info.get("ctrls") or [])
    if policy == PPOLICY_EXPIRED:
        return Checked(Verdict.PASSWORD_EXPIRED, "ppolicy passwordExpired")
    if policy == PPOLICY_LOCKED:
        return Checked(Verdict.LOCKED, "ppolicy accountLocked")
    return Checked(Verdict.BAD_PASSWORD, diagnostic)


def accepted(controls: list) -> Checked:
    """The verdict for a successful bind: OpenLDAP lets a reset password bind, only to change
    it (ppolicy changeAfterReset)."""
    for control in controls:
        if isinstance(control, PasswordPolicyControl) and (
            control.error == PPOLICY_CHANGE_AFTER_RESET
        ):
            return Checked(Verdict.MUST_CHANGE_PASSWORD, "ppolicy changeAfterReset")
    return Checked(Verdict.OK)


def _ppolicy(raw_controls: list) -> int | None:
    try:
        controls = DecodeControlTuples(raw_controls)
    except ldap.LDAPError:
        return None
    for control in controls:
        if isinstance(control, PasswordPolicyControl):
            return control.error
    return None
