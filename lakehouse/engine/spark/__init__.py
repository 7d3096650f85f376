"""The Spark engine: the silver CDC apply and the gold layer on PySpark (AWS Glue, EMR, any cluster).

It implements the local engine's contracts (``engine.sequencing``, ``engine.silver``) on Spark
DataFrames, so that both engines resolve the same bronze change log to the same silver tables.
What is not a DataFrame expression — lake keys, the ``_sequence`` layout, ``SilverResult``, the
reload plan, the quarantine identity, the gold metric registry — is ``engine.core``'s, shared
with the local engine. The modules here:

- ``session``: the SparkSession builder (local or Glue; Delta and Hudi configuration);
- ``types``: registry logical types → Spark types, text → typed values (before-image keys);
- ``sequencing``: the total order ``_sequence``, key-change explosion, last change per key,
  tombstone filter;
- ``pii`` and ``quarantine``: PII standardisation and the row-level registry rules;
- ``scd2``: SCD type 2 history versions;
- ``apply``: the resolved change set and the MERGE semantics in memory (pure DataFrame functions);
- ``writers``: delta-spark MERGE, Hudi upsert, incremental bronze reads (these need the JARs);
- ``silver``: ``apply_table``, the bronze → silver job a Glue run performs for one table;
- ``gold``: silver → gold through the same metric definitions as the local profile;
- ``tables``: where tables live (one bucket per zone on AWS) and the small IO helpers;
- ``jobs``: what the Glue entry points (``glue_scripts/``) run, argument parsing included.

Nothing here imports pyspark at package import time: the ``spark`` extra is optional.
"""
