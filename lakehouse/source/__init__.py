"""The operational PostgreSQL: the embedded server, catalog discovery, seeding and churn."""
