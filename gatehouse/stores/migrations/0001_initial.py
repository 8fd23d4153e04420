"""The shared store's tables move here from the sign-in app: in Django's state only, the tables
stay as they are (gatehouse/signin/migrations/0008_store_tables_moved.py)."""

from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ("signin", "0004_flow_events"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="Record",
                    fields=[
                        (
                            "key",
                            models.CharField(max_length=200, primary_key=True, serialize=False),
                        ),
                        ("data", models.TextField()),
                        ("expires_at", models.DateTimeField(db_index=True)),
                    ],
                    options={"db_table": "signin_throttlerecord"},
                ),
                migrations.CreateModel(
                    name="Counter",
                    fields=[
                        (
                            "name",
                            models.CharField(max_length=64, primary_key=True, serialize=False),
                        ),
                        ("value", models.BigIntegerField(default=0)),
                    ],
                    options={"db_table": "signin_generation"},
                ),
                migrations.CreateModel(
                    name="Message",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True,
                                primary_key=True,
                                serialize=False,
                                verbose_name="ID",
                            ),
                        ),
                        ("text", models.CharField(db_column="flow_id", max_length=64)),
                        ("at", models.DateTimeField(db_index=True)),
                    ],
                    options={"db_table": "signin_flowevent"},
                ),
            ]
        )
    ]
