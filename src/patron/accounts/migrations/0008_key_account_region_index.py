"""Key accounts of a region sorted by name, on PostgreSQL only.

The list pages each sub-region's first rows from (region, name, id) and merges them
(``core.pagination.partition_by``). With "key accounts only" on top, few rows of each
region qualify, and every region was read far into its name order to find them (0.2 s
for Guangdong's retail key accounts at a million accounts). Key accounts are a few in a
hundred, so an index of only them, in the same order, is small and reads them directly.
"""

from __future__ import annotations

from typing import Any

from django.db import migrations


def create(apps: Any, schema_editor: Any) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            "CREATE INDEX IF NOT EXISTS account_key_region_name_idx "
            "ON accounts_account USING btree (region_id, name, id) WHERE is_key_account"
        )


def drop(apps: Any, schema_editor: Any) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("DROP INDEX IF EXISTS account_key_region_name_idx")


class Migration(migrations.Migration):
    dependencies = [("accounts", "0007_scale_indexes")]

    operations = [migrations.RunPython(create, drop)]
