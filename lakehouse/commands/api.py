"""``lakehouse api serve`` and ``lakehouse api keys add|list|revoke``: the event ingestion API.

``serve`` runs the API (POST /ingest, GET /health) until Ctrl-C; ``keys`` manages its API keys
(stored as sha256 hashes; a new key's plaintext is printed once, on stdout).
"""

from __future__ import annotations

import sys

from lakehouse.commands.targets import settings


def cmd_api_serve(args) -> int:
    from lakehouse.events.app import serve

    s = settings()
    print(
        f"event API on http://{args.host}:{args.port} (POST /ingest, GET /health), lake {s.root}",
        file=sys.stderr,
    )
    serve(args.host, args.port, settings=s)
    return 0


def cmd_api_keys(args) -> int:
    from lakehouse.events.keys import ApiKeyStore

    store = ApiKeyStore.from_settings(settings())
    if args.action == "add":
        return _add_key(store, args)
    if args.action == "list":
        for e in store.list():
            print(
                f"{e['id']}  sources={','.join(e['sources'])}  created={e['created_at']}"
                f"{'  REVOKED' if e.get('revoked') else ''}"
            )
        return 0
    if not args.key_id:
        raise SystemExit("revoke needs a key id (see: lakehouse api keys list)")
    ok = store.revoke(args.key_id)
    print("revoked" if ok else f"no key {args.key_id}")
    return 0 if ok else 1


def _add_key(store, args) -> int:
    from lakehouse.events.schemas import all_sources

    unknown = [x for x in args.source if x != "*" and x not in all_sources()]
    if not args.source or unknown:
        raise SystemExit(
            f"--source must name registered sources {sorted(all_sources())} or '*'"
            + (f"; unknown: {unknown}" if unknown else "")
        )
    key_id, plaintext = store.add(args.source, rate=args.rate, burst=args.burst)
    print(
        f"# key {key_id} for {', '.join(sorted(set(args.source)))}; shown once, only its "
        "sha256 is stored",
        file=sys.stderr,
    )
    print(plaintext)
    return 0
