"""A real `traceway serve` with ingest and query tokens and TLS on every listener."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from secure_setup import (
    BROWSER_ORIGIN,
    INGEST_TOKEN,
    QUERY_TOKEN,
    SECOND_INGEST_TOKEN,
    write_server_certificate,
)

from traceway.testing import ServerProcess

REMOTE_SAMPLING = """
[sampling.remote.default_strategy]
type = "probabilistic"
param = 0.5
"""


@dataclass
class TLSFiles:
    ca: Path
    cert: Path
    key: Path


@pytest.fixture(scope="session")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> TLSFiles:
    return TLSFiles(*write_server_certificate(tmp_path_factory.mktemp("tls")))


@pytest.fixture(scope="module")
def secure_server(tmp_path_factory: pytest.TempPathFactory,
                  tls_files: TLSFiles) -> Iterator[ServerProcess]:
    """Tokens from files (with a comment and a blank line), TLS, remote sampling on."""
    root = tmp_path_factory.mktemp("secure")
    ingest_file = root / "ingest-tokens"
    ingest_file.write_text(f"# senders\n{INGEST_TOKEN}\n\n  {SECOND_INGEST_TOKEN}  \n")
    query_file = root / "query-tokens"
    query_file.write_text(f"{QUERY_TOKEN}\n")
    config = root / "traceway.toml"
    config.write_text(REMOTE_SAMPLING)
    server = ServerProcess(
        root / "data", extra_args=["--tls-cert", str(tls_files.cert), "--config", str(config),
                                   "--otlp-cors-origins", BROWSER_ORIGIN,
                                   "--zipkin-cors-origins", BROWSER_ORIGIN],
        env={"TRACEWAY_TLS_KEY": str(tls_files.key),
             "TRACEWAY_INGEST_TOKEN_FILE": str(ingest_file),
             "TRACEWAY_QUERY_TOKEN_FILE": str(query_file)},
        query_token=QUERY_TOKEN, ca_file=str(tls_files.ca)).start()
    yield server
    server.stop()


@pytest.fixture(autouse=True)
def _session_verify_is_honoured(monkeypatch: pytest.MonkeyPatch) -> None:
    # requests lets REQUESTS_CA_BUNDLE/CURL_CA_BUNDLE override a Session's own `verify`,
    # which is how the OTLP/HTTP exporter applies certificate_file: without this the
    # exporters would check our server against the system bundle instead of our CA.
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
