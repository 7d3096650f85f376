"""Local stand-in for an AWS DataSync task: copy new or changed landing files into the lake.

Data contract (one task = one landing folder -> one lake prefix):

* Source: every regular file under ``landing`` (recursively) whose *name* matches one of the
  ``include`` globs (``matches``: the extension compared in any case, so ``*.csv`` takes
  ``Orders.CSV``); by default ``DROP_GLOBS``, the ``.csv``, ``.txt`` and ``.tsv`` files
  ``lakehouse discover`` proposes tables for; ``sync_globs(tables)`` adds a dataset's csv_drop
  tables' own ``file_glob``s. Hidden files and folders (name starting with ``.``) are ignored,
  so uploaders writing ``.name.tmp`` then renaming are never picked up half-way.
* Destination: ``<dest_prefix><path relative to landing>`` (POSIX), e.g.
  ``landing/autocorp/customers-20240101.csv`` -> ``raw/csv/autocorp/customers-20240101.csv``.
  Each object is written with ``Lake.write_bytes`` (atomic for readers) and verified by reading
  it back and comparing SHA-256; a mismatch is an error and the file is retried next run.
* Only changed data moves: ``_state/filesync/<task>.json`` records, per source path,
  ``{key, size, mtime_ns, sha256}`` of the last verified transfer. Same size and mtime -> skipped
  without reading; different size/mtime but same SHA-256 -> skipped (state refreshed).
  Entries of files removed from ``landing`` are kept (deletions are not propagated).
* Files still being written are not copied: files modified less than ``settle_seconds`` before
  the run started, and files whose size/mtime changed while they were read, are ``pending``.
* Each run that copied something writes a manifest
  ``_manifests/filesync/<task>/<started yyyymmddTHHMMSSffffffZ>.json``:
  ``{"task", "started_at", "finished_at", "files": [{"source", "key", "size", "sha256",
  "action"}]}`` (ISO-8601 UTC times; ``action`` is ``new`` or ``changed``).
* Delivery is at-least-once: the manifest is written before the state, so a crash in between
  re-copies (and re-announces) the same files next run. Run one sync per task at a time.
* A failure on one file (vanished, unreadable, write/verify error) is recorded in
  ``SyncReport.errors`` as ``"<source>: <reason>"`` and the run goes on with the others.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import os
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from lakehouse.storage.lake import Lake

STATE_PREFIX = "_state/filesync/"
MANIFEST_PREFIX = "_manifests/filesync/"
_CHUNK = 8 * 1024 * 1024


@dataclass
class SyncedFile:
    """One file transferred by a run."""

    source: str  # path relative to the landing folder (POSIX)
    key: str  # lake key
    size: int
    sha256: str
    action: Literal["new", "changed"]


@dataclass
class SyncReport:
    """What one ``sync_folder`` run did."""

    task: str
    copied: list[SyncedFile]
    skipped: int  # unchanged files (same size+mtime, or same content)
    errors: list[str]
    manifest_key: str | None
    started_at: datetime
    finished_at: datetime
    pending: list[str] = field(default_factory=list)  # still being written: retried next run

    @property
    def bytes_copied(self) -> int:
        return sum(f.size for f in self.copied)


#: the files a landing folder's CSV drops are (``lakehouse discover`` proposes tables for these)
DROP_SUFFIXES = (".csv", ".txt", ".tsv")
DROP_GLOBS = tuple(f"*{s}" for s in DROP_SUFFIXES)


def _fold_suffix(name: str) -> str:
    stem, dot, suffix = name.rpartition(".")
    return f"{stem}.{suffix.lower()}" if dot else name


def matches(name: str, glob: str) -> bool:
    """Whether the file name ``name`` matches ``glob``, its extension in any case."""
    return fnmatch.fnmatchcase(name, glob) or fnmatch.fnmatchcase(
        _fold_suffix(name), _fold_suffix(glob)
    )


def sync_globs(tables) -> tuple[str, ...]:
    """The ``include`` globs of a dataset's landing folder: ``DROP_GLOBS`` and the ``file_glob``
    of each of its csv_drop ``tables`` (``TableSpec``s)."""
    own = tuple(t.file_glob for t in tables if t.file_glob and t.file_glob not in DROP_GLOBS)
    return DROP_GLOBS + tuple(dict.fromkeys(own))


def state_key(task: str) -> str:
    return f"{STATE_PREFIX}{task}.json"


def _utc(dt: datetime) -> datetime:
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)


def _walk(landing: Path, include: tuple[str, ...]) -> list[str]:
    """Matching files under ``landing`` as sorted POSIX paths relative to it."""
    out: list[str] = []
    for dirpath, dirnames, filenames in os.walk(landing):
        dirnames[:] = [d for d in dirnames if not d.startswith(".")]
        for fn in filenames:
            if not fn.startswith(".") and any(matches(fn, g) for g in include):
                out.append((Path(dirpath) / fn).relative_to(landing).as_posix())
    return sorted(out)


def _read_file(path: Path) -> tuple[bytes, str, os.stat_result]:
    """Contents, SHA-256 (hashed while streaming) and the stat taken when the file was opened."""
    digest = hashlib.sha256()
    chunks: list[bytes] = []
    with open(path, "rb") as fh:
        st = os.fstat(fh.fileno())
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
            chunks.append(chunk)
    return b"".join(chunks), digest.hexdigest(), st


def _load_state(lake: Lake, task: str) -> dict[str, dict]:
    key = state_key(task)
    if not lake.exists(key):
        return {}
    return json.loads(lake.read_text(key))["files"]


def sync_folder(
    landing: Path,
    lake: Lake,
    dest_prefix: str,
    *,
    task: str = "csv",
    include: tuple[str, ...] = DROP_GLOBS,
    settle_seconds: float = 2.0,
    progress: bool = False,
    now: Callable[[], datetime] | None = None,
) -> SyncReport:
    """Copy new or changed files of ``landing`` to ``<dest_prefix><relative path>`` in ``lake``."""
    from tqdm import tqdm

    clock = now or (lambda: datetime.now(UTC))
    landing = Path(landing)
    if not landing.is_dir():
        raise FileNotFoundError(f"landing folder not found: {landing}")
    prefix = dest_prefix.strip("/") + "/" if dest_prefix.strip("/") else ""
    started_at = _utc(clock())
    state = _load_state(lake, task)
    state_dirty = False
    copied: list[SyncedFile] = []
    errors: list[str] = []
    pending: list[str] = []
    skipped = 0

    for source in tqdm(
        _walk(landing, include), desc=f"filesync {task}", unit="file", disable=not progress
    ):
        key = prefix + source
        prev = state.get(source)
        if prev is not None and prev["key"] != key:
            prev = None  # destination moved: copy again
        try:
            kind, detail = _copy_if_changed(
                lake, landing / source, key, prev, started_at.timestamp(), settle_seconds
            )
        except Exception as exc:  # one bad file must not stop the run
            errors.append(f"{source}: {type(exc).__name__}: {exc}")
            continue
        if kind == "unchanged":
            skipped += 1
        elif kind == "pending":
            pending.append(source)
        elif kind == "mismatch":
            errors.append(f"{source}: {detail}")
        else:  # "touched" (same content) or "copied": the state records the verified file
            state[source] = detail
            state_dirty = True
            if kind == "touched":
                skipped += 1
            else:
                action = "changed" if prev else "new"
                copied.append(SyncedFile(source, key, detail["size"], detail["sha256"], action))

    finished_at = _utc(clock())
    manifest_key = _write_manifest(lake, task, started_at, finished_at, copied)
    if state_dirty:
        body = {"task": task, "files": dict(sorted(state.items()))}
        lake.write_text(state_key(task), json.dumps(body, indent=2))
    return SyncReport(task, copied, skipped, errors, manifest_key, started_at, finished_at, pending)


def _copy_if_changed(
    lake: Lake, path: Path, key: str, prev: dict | None, started: float, settle_seconds: float
) -> tuple[str, dict | str | None]:
    """One landing file against its state entry ``prev``: ``("unchanged", None)``,
    ``("pending", None)`` (still being written), ``("touched", entry)`` (same content),
    ``("copied", entry)`` (written to ``key`` and verified) or ``("mismatch", reason)``; raises
    when the file cannot be read or written."""
    st = os.stat(path)
    if prev and prev["size"] == st.st_size and prev["mtime_ns"] == st.st_mtime_ns:
        return "unchanged", None
    if settle_seconds > 0 and started - st.st_mtime < settle_seconds:
        return "pending", None
    data, sha, st = _read_file(path)
    after = os.stat(path)
    if len(data) != st.st_size or (after.st_size, after.st_mtime_ns) != (
        st.st_size,
        st.st_mtime_ns,
    ):
        return "pending", None  # written to while we read it
    entry = {"key": key, "size": st.st_size, "mtime_ns": st.st_mtime_ns, "sha256": sha}
    if prev and prev["sha256"] == sha:
        return "touched", entry
    lake.write_bytes(key, data)
    stored = hashlib.sha256(lake.read_bytes(key)).hexdigest()
    if stored != sha:
        return "mismatch", f"checksum mismatch after copy to {key} ({sha} != {stored})"
    return "copied", entry


def _write_manifest(
    lake: Lake, task: str, started_at: datetime, finished_at: datetime, copied: list[SyncedFile]
) -> str | None:
    """The run's manifest key (None when nothing was copied: no manifest)."""
    if not copied:
        return None
    manifest_key = f"{MANIFEST_PREFIX}{task}/{started_at:%Y%m%dT%H%M%S%fZ}.json"
    manifest = {
        "task": task,
        "started_at": started_at.isoformat(),
        "finished_at": finished_at.isoformat(),
        "files": [asdict(f) for f in copied],
    }
    lake.write_text(manifest_key, json.dumps(manifest, indent=2))
    return manifest_key
