"""The defs folder of the shipped datasets: one sub-folder per dataset with its ``defs.yaml``
(the declaration), ``ddl.sql`` (the demo's source schema), ``generator.py`` (demo data) and
``gold.py`` (gold metrics in Python, referenced by name from the declaration)."""
