"""docs/ says what the code does."""

from pathlib import Path

DOCS = Path(__file__).parents[2] / "docs"


def test_every_sign_in_reason_code_is_documented():
    from gatehouse.signin.log import REASONS

    text = (DOCS / "signin-log.md").read_text()
    for code in REASONS:
        assert f"| `{code}` |" in text, code


def test_every_policy_key_is_documented():
    import re

    from gatehouse.access import policyfile

    keys = re.findall(r"^\| `([\w.]+)` +\|", policyfile.__doc__, re.M)
    assert len(keys) >= 15
    text = (DOCS / "policies.md").read_text()
    for key in keys:
        assert f"| `{key}` |" in text, key
