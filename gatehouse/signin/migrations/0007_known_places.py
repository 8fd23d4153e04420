"""Known places (where each user has signed in successfully), filled from the sign-in log."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

# One statement per database: every successful sign-in's named locations, or its address when
# it was in none, with the last time seen.
FILL = {
    "postgresql": """
        INSERT INTO signin_knownplace (user_id, place, last_seen)
        SELECT e.user_id, 'location:' || l.name, max(e.time)
          FROM signin_signinevent e
          CROSS JOIN LATERAL jsonb_array_elements_text(e.locations) AS l(name)
         WHERE e.result = 'success' AND e.user_id IS NOT NULL
         GROUP BY 1, 2
        UNION ALL
        SELECT user_id, 'ip:' || host(ip), max(time)
          FROM signin_signinevent
         WHERE result = 'success' AND user_id IS NOT NULL AND ip IS NOT NULL
           AND locations = '[]'::jsonb
         GROUP BY 1, 2
    """,
    "sqlite": """
        INSERT INTO signin_knownplace (user_id, place, last_seen)
        SELECT e.user_id, 'location:' || l.value, max(e.time)
          FROM signin_signinevent e, json_each(e.locations) l
         WHERE e.result = 'success' AND e.user_id IS NOT NULL
         GROUP BY 1, 2
        UNION ALL
        SELECT user_id, 'ip:' || ip, max(time)
          FROM signin_signinevent
         WHERE result = 'success' AND user_id IS NOT NULL AND ip IS NOT NULL
           AND json_array_length(locations) = 0
         GROUP BY 1, 2
    """,
}


def fill(apps, schema_editor):
    schema_editor.execute(FILL[schema_editor.connection.vendor])


class Migration(migrations.Migration):
    dependencies = [
        ("signin", "0006_sign_in_log_indexes"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="KnownPlace",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("place", models.CharField(max_length=250)),
                ("last_seen", models.DateTimeField(db_index=True)),
                (
                    "user",
                    models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
            ],
            options={
                "constraints": [
                    models.UniqueConstraint(fields=("user", "place"), name="one_known_place_each")
                ],
            },
        ),
        migrations.RunPython(fill, migrations.RunPython.noop),
    ]
