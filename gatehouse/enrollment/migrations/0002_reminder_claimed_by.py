from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("enrollment", "0001_initial"),
    ]

    operations = [
        migrations.AddField(
            model_name="reminder",
            name="claimed_by",
            field=models.CharField(blank=True, max_length=32),
        ),
    ]
