"""The lineage columns every bronze row carries (``engine.bronze``, ``engine.csv_drop``): the
change's operation, commit time, change sequence and key before-image, and the raw file, row,
file kind and ingestion time it came from. A source column may not use these names."""

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
