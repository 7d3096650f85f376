"""The polars engine: raw files to bronze, bronze changes to silver, Delta maintenance."""
