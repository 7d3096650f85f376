"""The AWS DMS S3 file contract: endpoint settings, table-mapping layouts, reading and writing
the CSV and Parquet files (shared by the replicator that writes them and bronze that reads them)."""
