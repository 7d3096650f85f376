"""The engine-neutral core: what the Polars engine (``engine``), the Spark engine
(``engine.spark``) and the events layers (``events.bronze``, ``events.silver``) must agree on,
as plain Python (no Polars, no PySpark), the way ``quality.rules`` serves both engines' row
rules. Each engine keeps only its DataFrame expressions.

- ``lineage``: the lineage columns of bronze rows, and those silver drops;
- ``keys``: the lake keys of a table's bronze, silver, SCD2 history, tombstones and quarantine;
- ``order``: the ``_sequence`` column and its text layout (the total order of changes);
- ``results``: ``SilverResult``, what one silver apply reports, on either engine;
- ``history``: the SQL of the SCD2 history's closing update (both engines' MERGEs);
- ``reloads``: the load log's entries, their generations and the reload plan of a run;
- ``quarantine``: the ``quarantine/<table>`` columns and what identifies an entry;
- ``metrics``: the gold metric registry (a dataset's metrics by module name) and the preview.
"""
