"""The datasets the package ships, as the tests know them (the package itself lists none: it
loads whatever is declared)."""

DATASET_NAMES = ("autocorp", "saas")
