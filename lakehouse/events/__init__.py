"""Event ingestion: JSON records over HTTP into the raw zone, then bronze → silver → gold.

- ``schemas``: the registry of event sources (record schemas: types, required fields, ranges)
- ``validation``: the request/record contract the API enforces (4xx naming field and rule)
- ``store``: one durable NDJSON object per accepted request under ``raw/events/``
- ``keys`` / ``ratelimit``: API keys hashed at rest, a token bucket per key
- ``service``: the framework-free request handler (the one implementation)
- ``app``: the ASGI app (Starlette + uvicorn); ``lambda_handler``: the API Gateway adapter
- ``engine``: bronze/silver/gold with Polars + delta-rs; ``quality``: silver's pandera schema
- ``watch``: the cursor of the raw-zone sensor (``lakehouse.defs.events`` holds the assets)

Nothing here does work at import time.
"""
