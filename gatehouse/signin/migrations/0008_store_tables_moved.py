"""Throttle records, change counters and flow events now belong to gatehouse.stores (its
0001_initial): in Django's state only, the tables stay as they are."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("signin", "0007_known_places"),
        ("stores", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.DeleteModel(name="ThrottleRecord"),
                migrations.DeleteModel(name="Generation"),
                migrations.DeleteModel(name="FlowEvent"),
            ]
        )
    ]
