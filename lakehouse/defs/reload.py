"""Reload the code location when a dataset gained tables, so their assets appear by themselves.

Contract: ``reload_if_grown(context, dataset, settings)`` compares the tables of ``dataset`` as
the definitions were built with its declaration now (a table a replication task captured, an
edited ``defs.yaml``). When tables were added it asks the webserver at
``settings.webserver_url`` (Dagster's GraphQL client, ``reload_repository_location``) to reload
the sensor's code location: once per set of new tables per process, in the background (the
tick does not wait for the new code server). Without a URL, or when the reload fails, it logs
that the UI's Reload definitions shows them. Returns the new table names.
"""

from __future__ import annotations

import threading
from urllib.parse import urlparse

from lakehouse.declarations import load_dataset
from lakehouse.profiles import Settings
from lakehouse.registry import DatasetSpec

#: per dataset: the new tables a reload was last asked for
_ASKED: dict[str, frozenset[str]] = {}


def reload_if_grown(context, dataset: DatasetSpec, settings: Settings) -> list[str]:
    try:
        now = load_dataset(dataset.name, settings)
    except Exception:  # noqa: BLE001 (a broken edit: the load error shows on the next reload)
        return []
    new = sorted({t.name for t in now.tables} - {t.name for t in dataset.tables})
    if not new or _ASKED.get(dataset.name) == frozenset(new):
        return new
    _ASKED[dataset.name] = frozenset(new)
    origin = context.code_location_origin
    location = getattr(origin, "location_name", None)
    if not settings.webserver_url or not location:
        context.log.warning(f"dataset {dataset.name} gained tables {new}: their assets appear"
                            " when definitions reload (Reload definitions in the UI)")  # fmt: skip
        return new
    context.log.info(f"dataset {dataset.name} gained tables {new}: reloading code location"
                     f" {location!r} through {settings.webserver_url}")  # fmt: skip
    threading.Thread(
        target=_reload, args=(settings.webserver_url, location, context.log), daemon=True
    ).start()
    return new


def _reload(url: str, location: str, log) -> None:
    from dagster_graphql import DagsterGraphQLClient

    parsed = urlparse(url)
    try:
        client = DagsterGraphQLClient(
            parsed.hostname or "127.0.0.1", port_number=parsed.port,
            use_https=parsed.scheme == "https", timeout=120,
        )  # fmt: skip
        info = client.reload_repository_location(location)
        if info.failure_type is not None:
            log.warning(f"reload of {location!r} failed: {info.message}")
    except Exception as exc:  # noqa: BLE001 (the UI's Reload definitions still works)
        log.warning(f"reload of {location!r} through {url} failed: {exc}")
