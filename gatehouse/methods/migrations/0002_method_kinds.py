"""Each user's kinds of confirmed second factor, for the registration report, filled from the
methods registered so far."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

FILL = {
    "postgresql": """
        INSERT INTO methods_methodkinds (user_id, kinds)
        SELECT user_id, string_agg(DISTINCT kind, ',' ORDER BY kind)
          FROM methods_authmethod WHERE confirmed GROUP BY user_id
    """,
    "sqlite": """
        INSERT INTO methods_methodkinds (user_id, kinds)
        SELECT user_id, group_concat(kind, ',')
          FROM (SELECT DISTINCT user_id, kind FROM methods_authmethod WHERE confirmed
                 ORDER BY user_id, kind)
         GROUP BY user_id
    """,
}


def fill(apps, schema_editor):
    schema_editor.execute(FILL[schema_editor.connection.vendor])


class Migration(migrations.Migration):
    dependencies = [
        ("methods", "0001_initial"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="MethodKinds",
            fields=[
                (
                    "user",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE,
                        primary_key=True,
                        related_name="+",
                        serialize=False,
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                ("kinds", models.CharField(max_length=200)),
            ],
        ),
        migrations.RunPython(fill, migrations.RunPython.noop),
    ]
