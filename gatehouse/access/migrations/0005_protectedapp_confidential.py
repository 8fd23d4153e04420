from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("access", "0004_protected_apps"),
    ]

    operations = [
        migrations.AddField(
            model_name="protectedapp",
            name="confidential",
            field=models.BooleanField(default=False),
        ),
    ]
