"""Logical replication from PostgreSQL into the raw zone, in the AWS DMS S3 format."""
