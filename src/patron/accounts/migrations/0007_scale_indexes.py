"""Indexes for the account list at a million accounts, on PostgreSQL only.

The list's search looks for the term inside names, codes, phones, emails and tax ids
of accounts and their contacts. Without an index PostgreSQL reads every account and
contact for it: 1.6 s at 100,000 accounts, far more at a million. These GIN indexes
find the candidates (benchmarks/RESULTS.md, "Account list on PostgreSQL"):

* names (accounts and contacts) by their pairs of characters (``patron_bigrams``):
  Chinese names are searched by two characters as often as by more ("华润", "张伟"),
  and pg_trgm finds nothing for a term shorter than three;
* codes, phones, emails and tax ids by pg_trgm's trigrams (terms of three or more
  characters; ``selectors.account_list`` searches names only for shorter ones);
* statistics on the upper-cased names, so the planner knows that a term like "有限" is in
  most names (and reads the list in its order) while "聚福" is in few (and asks the index).

And one for a region's list sorted by name: company names begin with their city, so the
accounts of a small city sit together late in the name order, and reading the name index
until fifty of them turn up passed 100,000 others (0.4 s for 33 of the 65 regions);
(region, name, id) reads them in order directly.

SQLite has no GIN indexes; its search reads the table, as before.
"""

from __future__ import annotations

from typing import Any

from django.db import migrations

BIGRAMS = """
CREATE OR REPLACE FUNCTION patron_bigrams(value text) RETURNS text[]
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $$ SELECT ARRAY(SELECT substr(value, i, 2) FROM generate_series(1, length(value) - 1) AS i) $$
"""

INDEXES = (
    ("account_name_bigrams", "accounts_account", "gin (patron_bigrams(upper((name)::text)))"),
    ("account_code_trgm", "accounts_account", "gin (upper((code)::text) gin_trgm_ops)"),
    ("account_phone_trgm", "accounts_account", "gin (upper((phone)::text) gin_trgm_ops)"),
    ("account_email_trgm", "accounts_account", "gin (upper((email)::text) gin_trgm_ops)"),
    ("account_tax_id_trgm", "accounts_account", "gin (upper((tax_id)::text) gin_trgm_ops)"),
    ("contact_name_bigrams", "accounts_contact", "gin (patron_bigrams(upper((name)::text)))"),
    ("contact_phone_trgm", "accounts_contact", "gin (upper((phone)::text) gin_trgm_ops)"),
    ("contact_email_trgm", "accounts_contact", "gin (upper((email)::text) gin_trgm_ops)"),
    ("account_region_name_idx", "accounts_account", "btree (region_id, name, id)"),
)
STATISTICS = (
    ("account_name_upper", "accounts_account"),
    ("contact_name_upper", "accounts_contact"),
)


def create(apps: Any, schema_editor: Any) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    schema_editor.execute(BIGRAMS)
    for name, table, using in INDEXES:
        schema_editor.execute(f"CREATE INDEX IF NOT EXISTS {name} ON {table} USING {using}")
    for name, table in STATISTICS:
        schema_editor.execute(f"CREATE STATISTICS IF NOT EXISTS {name} ON (upper((name)::text)) FROM {table}")


def drop(apps: Any, schema_editor: Any) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    for name, _table in STATISTICS:
        schema_editor.execute(f"DROP STATISTICS IF EXISTS {name}")
    for name, _table, _using in INDEXES:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")
    schema_editor.execute("DROP FUNCTION IF EXISTS patron_bigrams(text)")


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0006_account_merge"),
    ]

    operations = [migrations.RunPython(create, drop)]
