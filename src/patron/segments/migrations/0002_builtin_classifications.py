"""The built-in classifications, ready on day one and editable afterwards."""

from django.db import migrations


def install(apps, schema_editor):  # type: ignore[no-untyped-def]
    from patron.domain.segmentation.builtin import builtin_definitions
    from patron.domain.segmentation.definitions import parse_definition
    from patron.segments.services import BUILTIN_NAMES

    Classification = apps.get_model("segments", "Classification")
    for key, definition in builtin_definitions().items():
        zh, en = BUILTIN_NAMES.get(key, (key, key))
        Classification.objects.get_or_create(
            key=key,
            defaults={
                "name_zh": zh,
                "name_en": en,
                "kind": parse_definition(definition).kind,
                "definition": definition,
                "builtin": True,
            },
        )


class Migration(migrations.Migration):
    dependencies = [("segments", "0001_initial")]

    operations = [migrations.RunPython(install, migrations.RunPython.noop)]
