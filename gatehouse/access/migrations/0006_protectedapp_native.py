from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("access", "0005_protectedapp_confidential"),
    ]

    operations = [
        migrations.AddField(
            model_name="protectedapp",
            name="native",
            field=models.BooleanField(default=False),
        ),
    ]
