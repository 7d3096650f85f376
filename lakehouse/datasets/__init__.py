"""The defs folder of the shipped datasets: one sub-folder per dataset with its ``defs.yaml``
(the declaration), ``ddl.sql`` (the demo's source schema), ``generator`` (demo data: a module or
a package, named by the declaration's ``demo.generator``) and ``gold.py`` (gold metrics in Python,
referenced by name from the declaration)."""
