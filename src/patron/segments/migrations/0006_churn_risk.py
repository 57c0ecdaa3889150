"""A built-in classification by the BG/NBD probability that an account is still buying ("churn risk")."""

from django.db import migrations


def install(apps, schema_editor):  # type: ignore[no-untyped-def]
    from patron.segments.services import CHURN_RISK

    Classification = apps.get_model("segments", "Classification")
    Classification.objects.get_or_create(
        key="churn_risk",
        defaults={
            "name_zh": "流失风险",
            "name_en": "Churn risk",
            "kind": "rules",
            "definition": CHURN_RISK,
            "builtin": True,
            "description": "BG/NBD probability alive; one-time buyers lapse after three typical purchase intervals.",
        },
    )


class Migration(migrations.Migration):
    dependencies = [("segments", "0005_segmentrun_churn_fit")]

    operations = [migrations.RunPython(install, migrations.RunPython.noop)]
