"""The event API's sources (``defs.yaml``)."""
