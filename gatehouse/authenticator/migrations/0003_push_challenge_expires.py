"""Push challenges by expiry, for retention (gatehouse.retention)."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("authenticator", "0002_pairinglink_token_encrypted"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="pushchallenge",
            index=models.Index(fields=["expires_at"], name="push_challenge_expires"),
        ),
    ]
