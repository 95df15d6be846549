"""The tables only the indexer writes are keyed by what identifies a row, not by a serial id.

An event row is one log, (chain id, block number, log index); a balance is one (token,
address); a candle or an activity bucket one (token, interval, bucket); a pool snapshot one
(pool, hour). Those keys were already unique; as the primary key they replace the ``id``
column, its sequence and its index, which every row of a catch-up paid for and no read used
(about a sixth of the event rows' ``COPY`` on the indexer benchmark).

Django does not migrate a table to a composite primary key by itself, so the state changes
are declared here and the tables are changed in place: on PostgreSQL the unique constraint
and the ``id`` column give way to a primary key on the same columns; SQLite rebuilds each
table (its only way to change a primary key), copying every row.
"""

from django.db import migrations, models

EVENT_KEY = ("chain_id", "block_number", "log_index")
TABLES = {
    # model name: (unique constraint being replaced, primary key columns)
    "transfer": ("transfer_one_per_log", EVENT_KEY),
    "swap": ("swap_one_per_log", EVENT_KEY),
    "sync": ("sync_one_per_log", EVENT_KEY),
    "liquidityevent": ("liquidity_one_per_log", EVENT_KEY),
    "skippedlog": ("skipped_one_per_log", EVENT_KEY),
    "holderbalance": ("holder_one_per_address", ("token_id", "address")),
    "candle": ("candle_one_per_bucket", ("token_id", "interval", "bucket")),
    "tokenactivity": ("activity_one_per_bucket", ("token_id", "interval", "bucket")),
    "poolsnapshot": ("pool_snapshot_one_per_hour", ("pool_id", "hour")),
}


def rekey_tables(apps, schema_editor):
    connection = schema_editor.connection
    for model_name, (constraint, columns) in TABLES.items():
        model = apps.get_model("market", model_name)  # as declared after this migration
        table = model._meta.db_table
        if connection.vendor == "postgresql":
            quote = schema_editor.quote_name
            schema_editor.execute(f"ALTER TABLE {quote(table)} DROP CONSTRAINT {quote(constraint)}")
            schema_editor.execute(f"ALTER TABLE {quote(table)} DROP COLUMN id")
            schema_editor.execute(
                f"ALTER TABLE {quote(table)} ADD CONSTRAINT {quote(table + '_pkey')} "
                f"PRIMARY KEY ({', '.join(quote(c) for c in columns)})"
            )
        else:
            # A new table from the model (composite key, its indexes), every row copied over.
            schema_editor._remake_table(model)


def _state_operations() -> list[migrations.operations.base.Operation]:
    operations: list[migrations.operations.base.Operation] = []
    for model_name, (constraint, _) in TABLES.items():
        operations.append(migrations.RemoveConstraint(model_name=model_name, name=constraint))
        operations.append(migrations.RemoveField(model_name=model_name, name="id"))
    for model_name, (_, columns) in TABLES.items():
        fields = tuple(column.removesuffix("_id") if column != "chain_id" else column for column in columns)
        operations.append(
            migrations.AddField(
                model_name=model_name,
                name="pk",
                field=models.CompositePrimaryKey(*fields, blank=True, editable=False, primary_key=True, serialize=False),
            )
        )
    return operations


class Migration(migrations.Migration):
    dependencies = [
        ("market", "0003_indexer_tables_keys"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(state_operations=_state_operations()),
        migrations.RunPython(rekey_tables, elidable=False),
    ]
