"""A user's dataset declaration shipped to the Glue jobs, which have the wheel and nothing else.

Contract: ``ship(s3, bucket, dataset)`` uploads the folder of a dataset's ``defs.yaml`` (the
declaration and the files it names, such as a DMS source's JSON; hidden files left out, at most
``MAX_BYTES``) under ``declarations/<dataset>/<content hash>/`` in ``bucket``, once per content,
and returns that ``s3://`` prefix; None for a dataset the package ships (the wheel holds it).
``fetch(s3, uri)`` (in the job) downloads it to a temporary folder, validates it like any
declaration and registers it (``declarations.register``), so ``load_dataset(name)`` finds it.
``s3`` is a boto3 S3 client.
"""

from __future__ import annotations

import hashlib
import tempfile
from pathlib import Path

from lakehouse.declarations import declaration, register, shipped_dir
from lakehouse.declarations.load import DEFS_FILE, Declaration, read_declaration
from lakehouse.declarations.problems import DeclarationError

PREFIX = "declarations"
#: a declaration folder larger than this is an error (it holds more than a declaration)
MAX_BYTES = 16 << 20


def ship(s3, bucket: str, dataset: str, settings=None) -> str | None:
    decl = declaration(dataset, settings)
    folder = decl.path.parent
    if folder.resolve().is_relative_to(shipped_dir()):
        return None
    files = sorted(
        p
        for p in folder.rglob("*")
        if p.is_file() and not any(part.startswith(".") for part in p.relative_to(folder).parts)
    )
    size = sum(p.stat().st_size for p in files)
    if size > MAX_BYTES:
        raise DeclarationError(
            [f"{decl.path}: its folder holds {size} bytes, more than a declaration ({MAX_BYTES})"
             " — fix: keep only defs.yaml and the files it names in the dataset's folder"]
        )  # fmt: skip
    digest = hashlib.sha256()
    for p in files:
        digest.update(f"{p.relative_to(folder)}\0".encode() + p.read_bytes() + b"\0")
    prefix = f"{PREFIX}/{dataset}/{digest.hexdigest()[:16]}"
    listed = s3.list_objects_v2(Bucket=bucket, Prefix=f"{prefix}/{DEFS_FILE}")
    if not listed.get("KeyCount"):
        for p in files:  # defs.yaml last: its presence says the upload is whole
            if p.name != DEFS_FILE or p.parent != folder:
                s3.put_object(Bucket=bucket, Key=f"{prefix}/{p.relative_to(folder)}",
                              Body=p.read_bytes())  # fmt: skip
        s3.put_object(Bucket=bucket, Key=f"{prefix}/{DEFS_FILE}", Body=decl.path.read_bytes())
    return f"s3://{bucket}/{prefix}/"


def fetch(s3, uri: str) -> Declaration:
    bucket, _, prefix = uri.removeprefix("s3://").partition("/")
    folder = Path(tempfile.mkdtemp(prefix="lakehouse-defs-"))
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
    for obj in (o for page in pages for o in page.get("Contents", [])):
        target = folder / obj["Key"][len(prefix) :].lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(s3.get_object(Bucket=bucket, Key=obj["Key"])["Body"].read())
    loaded = read_declaration(folder / DEFS_FILE)
    if loaded is None:
        raise DeclarationError([f"{uri}{DEFS_FILE}: not a lakehouse Dataset declaration"])
    register(loaded)
    return loaded
