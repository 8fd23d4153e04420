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


def test_every_image_the_docs_show_exists():
    import re

    for page in DOCS.glob("*.md"):
        for source in re.findall(
            r'<img src="([^"]+)"|!\[[^\]]*\]\(([^)]+\.png)\)', page.read_text()
        ):
            path = next(s for s in source if s)
            assert (page.parent / path).is_file(), f"{page.name}: {path}"


def test_every_sign_in_reason_code_has_plain_words_for_people():
    from gatehouse.signin.log import FOR_PEOPLE, REASONS

    assert set(FOR_PEOPLE) == set(REASONS)
