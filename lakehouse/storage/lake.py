"""The lake: one root (a local folder or ``s3://bucket/prefix``) holding every zone.

Keys are POSIX paths relative to the root (``raw/database/public/customers/LOAD00000001.csv``).
Writes are atomic and durable: a reader never sees a half-written object (local: temp file,
fsync, rename, fsync of the folder; S3: a single PUT is atomic). A local temp file left by a
writer that died (``.tmp-<host>.<pid>.*``: its process is gone on this host, or it is older than
``STALE_TEMP_SECONDS``) is removed by the next ``list`` of its folder (a full load, a replication
or an ingest run reads it), so a kill -9 leaves no partial file for good. ``table_uri`` and
``storage_options`` give delta-rs what it needs to open a Delta table under the same root.
"""

from __future__ import annotations

import os
import socket
import tempfile
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True, order=True)
class ObjectInfo:
    """A stored object: key relative to the lake root, size in bytes, last-modified (epoch s)."""

    key: str
    size: int
    mtime: float


class Lake(ABC):
    """Object storage under one root. Implementations: ``LocalLake``, ``S3Lake``."""

    root: str

    @abstractmethod
    def list(self, prefix: str, start_after: str | None = None) -> list[ObjectInfo]:
        """Objects whose key starts with ``prefix``, sorted by key (after ``start_after``)."""

    @abstractmethod
    def read_bytes(self, key: str) -> bytes: ...

    @abstractmethod
    def write_bytes(self, key: str, data: bytes) -> None:
        """Atomically and durably write ``data`` at ``key`` (overwrites)."""

    @abstractmethod
    def delete(self, key: str) -> None: ...

    @abstractmethod
    def exists(self, key: str) -> bool: ...

    @abstractmethod
    def uri(self, key: str) -> str:
        """A URI for ``key`` that delta-rs, Polars and DuckDB understand."""

    @property
    def storage_options(self) -> dict[str, str]:
        """Options for delta-rs / Polars ``storage_options`` (empty for local folders)."""
        return {}

    def table_uri(self, layer: str, name: str) -> str:
        """URI of the Delta table ``<layer>/<name>`` (``bronze/customers``)."""
        return self.uri(f"{layer}/{name}")

    def move(self, src: str, dst: str) -> None:
        """Move the object ``src`` to ``dst`` (overwrites): whole at ``dst`` before ``src`` goes."""
        self.write_bytes(dst, self.read_bytes(src))
        self.delete(src)

    def read_text(self, key: str) -> str:
        return self.read_bytes(key).decode("utf-8")

    def write_text(self, key: str, text: str) -> None:
        self.write_bytes(key, text.encode("utf-8"))


#: a local temp file this old is a dead writer's whatever its name says (a write takes seconds)
STALE_TEMP_SECONDS = 3600.0
_TEMP = ".tmp-"
_HOST = socket.gethostname().replace("/", "_") or "host"


def _stale_temp(path: Path, now: float) -> bool:
    """Whether the temp file ``path`` belongs to no live writer (see the module docstring)."""
    try:
        if now - path.stat().st_mtime >= STALE_TEMP_SECONDS:
            return True
    except FileNotFoundError:
        return False
    parts = path.name[len(_TEMP) :].rsplit(".", 2)
    if len(parts) != 3 or parts[0] != _HOST or not parts[1].isdigit():
        return False  # another host's (or an older naming): only its age tells
    try:
        os.kill(int(parts[1]), 0)
    except ProcessLookupError:
        return True
    except OSError:  # alive, someone else's
        return False
    return False


class LocalLake(Lake):
    """A lake in a local folder (default ``.lakehouse/``)."""

    def __init__(self, root: str | os.PathLike) -> None:
        self.path = Path(root).resolve()
        self.root = str(self.path)

    def _p(self, key: str) -> Path:
        return self.path / key

    def list(self, prefix: str, start_after: str | None = None) -> list[ObjectInfo]:
        base = self._p(prefix)
        # a prefix may end in a partial name ("raw/x/LOAD"): walk from its folder
        folder = base if prefix.endswith("/") or base.is_dir() else base.parent
        if not folder.exists():
            return []
        out: list[ObjectInfo] = []
        for dirpath, _dirnames, filenames in os.walk(folder):
            for fn in filenames:
                if fn.startswith(_TEMP):
                    temp = Path(dirpath) / fn
                    if _stale_temp(temp, time.time()):
                        temp.unlink(missing_ok=True)
                    continue
                full = Path(dirpath) / fn
                key = full.relative_to(self.path).as_posix()
                if not key.startswith(prefix) or (start_after is not None and key <= start_after):
                    continue
                try:
                    st = full.stat()
                except FileNotFoundError:  # deleted while listing
                    continue
                out.append(ObjectInfo(key, st.st_size, st.st_mtime))
        out.sort()
        return out

    def read_bytes(self, key: str) -> bytes:
        return self._p(key).read_bytes()

    def write_bytes(self, key: str, data: bytes) -> None:
        target = self._p(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f"{_TEMP}{_HOST}.{os.getpid()}.", dir=target.parent)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        dir_fd = os.open(target.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)

    def delete(self, key: str) -> None:
        self._p(key).unlink(missing_ok=True)

    def move(self, src: str, dst: str) -> None:
        target = self._p(dst)
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(self._p(src), target)
        for folder in {target.parent, self._p(src).parent}:
            dir_fd = os.open(folder, os.O_RDONLY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)

    def exists(self, key: str) -> bool:
        return self._p(key).is_file()

    def uri(self, key: str) -> str:
        return str(self._p(key))


class S3Lake(Lake):
    """A lake in ``s3://bucket/prefix`` on AWS or any S3 API (moto server, MinIO)."""

    def __init__(
        self,
        root: str,
        *,
        endpoint_url: str | None = None,
        region: str = "us-east-1",
        access_key_id: str | None = None,
        secret_access_key: str | None = None,
    ) -> None:
        if not root.startswith("s3://"):
            raise ValueError(f"S3Lake root must start with s3://, got {root!r}")
        self.root = root.rstrip("/")
        bucket, _, prefix = self.root[len("s3://") :].partition("/")
        self.bucket = bucket
        self.prefix = f"{prefix}/" if prefix else ""
        self.endpoint_url = endpoint_url
        self.region = region
        self._access_key_id = access_key_id
        self._secret_access_key = secret_access_key
        self._client = None

    @property
    def client(self):
        if self._client is None:
            import boto3

            self._client = boto3.client(
                "s3",
                endpoint_url=self.endpoint_url,
                region_name=self.region,
                aws_access_key_id=self._access_key_id,
                aws_secret_access_key=self._secret_access_key,
            )
        return self._client

    def __getstate__(self) -> dict:
        """Pickled without its client (a worker process opens its own)."""
        return {**self.__dict__, "_client": None}

    def _k(self, key: str) -> str:
        return self.prefix + key

    def list(self, prefix: str, start_after: str | None = None) -> list[ObjectInfo]:
        kwargs = {"Bucket": self.bucket, "Prefix": self._k(prefix)}
        if start_after is not None:
            kwargs["StartAfter"] = self._k(start_after)
        out: list[ObjectInfo] = []
        for page in self.client.get_paginator("list_objects_v2").paginate(**kwargs):
            for obj in page.get("Contents", []):
                key = obj["Key"][len(self.prefix) :]
                out.append(ObjectInfo(key, obj["Size"], obj["LastModified"].timestamp()))
        out.sort()
        return out

    def read_bytes(self, key: str) -> bytes:
        return self.client.get_object(Bucket=self.bucket, Key=self._k(key))["Body"].read()

    def write_bytes(self, key: str, data: bytes) -> None:
        self.client.put_object(Bucket=self.bucket, Key=self._k(key), Body=data)

    def delete(self, key: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=self._k(key))

    def move(self, src: str, dst: str) -> None:
        source = {"Bucket": self.bucket, "Key": self._k(src)}
        self.client.copy_object(Bucket=self.bucket, Key=self._k(dst), CopySource=source)
        self.delete(src)

    def exists(self, key: str) -> bool:
        from botocore.exceptions import ClientError

        try:
            self.client.head_object(Bucket=self.bucket, Key=self._k(key))
            return True
        except ClientError as err:
            if err.response["Error"]["Code"] in ("404", "NoSuchKey", "NotFound"):
                return False
            raise

    def uri(self, key: str) -> str:
        return f"{self.root}/{key}"

    @property
    def storage_options(self) -> dict[str, str]:
        opts = {"AWS_REGION": self.region}
        if self.endpoint_url:
            opts["AWS_ENDPOINT_URL"] = self.endpoint_url
            if self.endpoint_url.startswith("http://"):
                opts["AWS_ALLOW_HTTP"] = "true"
        if self._access_key_id:
            opts["AWS_ACCESS_KEY_ID"] = self._access_key_id
        if self._secret_access_key:
            opts["AWS_SECRET_ACCESS_KEY"] = self._secret_access_key
        return opts


def open_lake(root: str, **s3_options) -> Lake:
    """A ``Lake`` for ``root``: ``s3://…`` gives an ``S3Lake``, anything else a local folder."""
    if root.startswith("s3://"):
        return S3Lake(root, **s3_options)
    return LocalLake(root)
