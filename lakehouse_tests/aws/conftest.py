"""The aws-profile tests run against the shared moto server (``moto_s3`` in
lakehouse_tests/conftest.py: every AWS API on 127.0.0.1, dummy credentials, state reset for every
test)."""

from __future__ import annotations

import pytest


@pytest.fixture
def aws(monkeypatch, moto_s3):
    """Dummy credentials; boto3 clients made without an endpoint also reach the moto server,
    whose state is reset for every test."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_s3)
    return moto_s3


@pytest.fixture
def client(aws):
    import boto3

    def make(service: str):
        return boto3.client(service, region_name="us-east-1", endpoint_url=aws)

    return make
