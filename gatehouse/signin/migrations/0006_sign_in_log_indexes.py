"""Indexes for every query on the sign-in log and sessions (issue 13): events by time and by
user, newest first; sessions by expiry (retention). Built online on PostgreSQL."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

from gatehouse.migration_operations import AddIndexOnline


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("signin", "0005_registration_grace"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        AddIndexOnline(
            model_name="signinevent",
            index=models.Index(fields=["time", "id"], name="signin_event_time"),
        ),
        AddIndexOnline(
            model_name="signinevent",
            index=models.Index(fields=["user", "time", "id"], name="signin_event_user_time"),
        ),
        AddIndexOnline(
            model_name="ssosession",
            index=models.Index(fields=["expires_at"], name="signin_sso_expires"),
        ),
        # The two indexes above cover these columns' own, which go once they exist.
        migrations.AlterField(
            model_name="signinevent",
            name="time",
            field=models.DateTimeField(),
        ),
        migrations.AlterField(
            model_name="signinevent",
            name="user",
            field=models.ForeignKey(
                db_index=False,
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="+",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
    ]
