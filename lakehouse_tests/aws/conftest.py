"""A real moto server (every AWS API on 127.0.0.1) and dummy credentials for the aws-profile tests."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="module")
def moto_endpoint():
    from moto import server as moto_server

    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def aws(monkeypatch, moto_endpoint):
    """Dummy credentials; boto3 clients made without an endpoint also reach the moto server,
    whose state is reset for every test."""
    import urllib.request

    urllib.request.urlopen(
        urllib.request.Request(f"{moto_endpoint}/moto-api/reset", method="POST")
    ).close()
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ENDPOINT_URL": moto_endpoint,
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    return moto_endpoint


@pytest.fixture
def client(aws):
    import boto3

    def make(service: str):
        return boto3.client(service, region_name="us-east-1", endpoint_url=aws)

    return make
