"""`gatehouse secrets rotate`: a new key, every stored secret re-encrypted, nothing lost."""

import stat

import pytest

from gatehouse import crypto
from gatehouse.audit.models import AuditEvent
from gatehouse.config import read_secret_keys
from gatehouse.keyrotation import rotate
from gatehouse.methods.models import AuthMethod

pytestmark = pytest.mark.django_db


def test_rotation_reencrypts_every_secret_with_the_new_key(alice, with_totp, tmp_path, settings):
    secret = with_totp(alice)
    key_file = tmp_path / "secret.key"
    key_file.write_text(settings.SECRET_KEY + "\n")
    before = AuthMethod.objects.get().secret

    assert rotate(key_file, actor="cli:root") == 1

    keys = read_secret_keys(key_file)
    assert len(keys) == 2 and keys[1] == settings.SECRET_KEY
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    after = AuthMethod.objects.get().secret
    assert after != before
    # A server restarted on the new file decrypts it; the old key alone no longer does.
    settings.SECRET_KEY, settings.SECRET_KEY_FALLBACKS = keys[0], keys[1:]
    assert crypto.decrypt(after) == secret
    settings.SECRET_KEY_FALLBACKS = []
    assert crypto.decrypt(after) == secret
    settings.SECRET_KEY = keys[1]
    with pytest.raises(crypto.DecryptionError):
        crypto.decrypt(after)
    assert AuditEvent.objects.filter(action="secrets.rotate").get().details == {"reencrypted": 1}


def test_sign_in_with_totp_still_works_after_rotation(
    api, alice, with_totp, mfa_everywhere, tmp_path, settings
):
    from tests.conftest import totp_code

    secret = with_totp(alice)
    key_file = tmp_path / "secret.key"
    key_file.write_text(settings.SECRET_KEY + "\n")
    rotate(key_file, actor="cli:root")
    keys = read_secret_keys(key_file)
    settings.SECRET_KEY, settings.SECRET_KEY_FALLBACKS = keys[0], keys[1:]
    flow = api.signin("alice", "correct horse").json()["flow"]
    answer = api.post(
        f"/api/v1/signin/{flow}/verify", {"method": "totp", "code": totp_code(secret)}
    )
    assert answer.json()["status"] == "authenticated"
