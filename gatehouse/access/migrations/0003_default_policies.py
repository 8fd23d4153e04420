"""Seed the documented starting policies (gatehouse/access/default_policies.yaml), all off."""

from django.db import migrations


def seed(apps, schema_editor):
    from gatehouse.access.policyfile import default_policies, policy_to_dict

    AccessPolicy = apps.get_model("access", "AccessPolicy")
    if AccessPolicy.objects.exists():
        return
    for position, policy in enumerate(default_policies()):
        AccessPolicy.objects.create(
            id=policy.id, position=position, document=policy_to_dict(policy)
        )


class Migration(migrations.Migration):
    dependencies = [("access", "0002_accesspolicy_manageddevice")]
    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
