"""The lineage columns every bronze row carries (``engine.bronze``, ``engine.csv_drop``): the
change's operation, commit time, change sequence and key before-image, and the raw file, row,
file kind and ingestion time it came from (``LINEAGE_COLUMNS``, on every row); ``_unchanged``
only in bronze tables that had one (the columns an update left unsent, ``engine.unchanged``).
A source column may use none of them (``RESERVED_COLUMNS``).

Silver keeps ``_commit_ts`` and ``_source_file`` of the change that wrote a row (beside
``_sequence``) and drops the others (``BRONZE_ONLY``), on every engine.
"""

LINEAGE_COLUMNS = (
    "_op",
    "_commit_ts",
    "_change_seq",
    "_before_key",
    "_source_file",
    "_source_row",
    "_file_kind",
    "_ingested_at",
)
#: every name bronze's lineage may use: the above, and the optional ``_unchanged``
RESERVED_COLUMNS = (*LINEAGE_COLUMNS, "_unchanged")

#: the lineage columns of a bronze row that silver drops
BRONZE_ONLY = (
    "_op",
    "_change_seq",
    "_before_key",
    "_source_row",
    "_file_kind",
    "_ingested_at",
    "_unchanged",
)
