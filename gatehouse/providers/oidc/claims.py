"""What ID tokens and the userinfo endpoint say about a person and how they signed in."""

from __future__ import annotations

ACR_SINGLE_FACTOR = "urn:gatehouse:acr:pwd"
ACR_MFA = "urn:gatehouse:acr:mfa"
ACR_VALUES = (ACR_SINGLE_FACTOR, ACR_MFA)
# The scope that releases each claim about the person (`sub` comes with `openid`).
SCOPE_OF = {
    "preferred_username": "profile",
    "name": "profile",
    "email": "email",
    "groups": "groups",
}


def acr(amr: list[str]) -> str:
    """The authentication context class: MFA when the session proved a second factor."""
    return ACR_MFA if "mfa" in amr else ACR_SINGLE_FACTOR


def subject(user) -> str:
    """`sub`: the user's database id, which is never given to anyone else (ids are not reused)."""
    return str(user.pk)


def user_claims(user) -> dict:
    claims = {
        "preferred_username": user.username,
        "name": user.label,
        "groups": sorted(user.group_names()),
    }
    if user.email:
        claims["email"] = user.email
    return claims
