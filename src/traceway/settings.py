"""Server settings: one name each, the same as CLI flag, env var and config key."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, fields
from pathlib import Path

from traceway.durations import DurationError, parse_duration_ns
from traceway.http_security import Security

_SIZE = re.compile(r"(?i)^\s*(\d+(?:\.\d+)?)\s*(b|kb|kib|mb|mib|gb|gib)?\s*$")
_SIZE_UNITS = {None: 1, "b": 1, "kb": 10**3, "kib": 2**10, "mb": 10**6, "mib": 2**20,
               "gb": 10**9, "gib": 2**30}


def parse_size(text: str) -> int:
    match = _SIZE.match(text)
    if not match:
        raise ValueError(f"{text!r} is not a size like 512MiB or 1GB")
    return int(float(match.group(1)) * _SIZE_UNITS[(match.group(2) or "").lower() or None])


def parse_retention(text: str) -> int:
    try:
        return parse_duration_ns(text)
    except DurationError as exc:
        raise ValueError(f"retention: {exc}") from None


@dataclass
class Settings:
    data_dir: Path = Path("./traceway-data")
    host: str = "127.0.0.1"
    otlp_grpc_port: int = 4317
    otlp_http_port: int = 4318
    zipkin_port: int = 9411
    ui_port: int = 16686
    retention: str = "7d"
    log_level: str = "info"
    max_queue_bytes: str = "512MiB"
    max_in_flight_bytes: str = "256MiB"
    config: str = ""
    remote_sampling_port: int = 5778
    storage: str = ""
    role: str = "all"
    zipkin_cors_origins: str = ""
    zipkin_autocomplete_keys: str = ""
    ingest_token_file: str = ""
    query_token_file: str = ""
    tls_cert: str = ""
    tls_key: str = ""
    otlp_cors_origins: str = ""
    query_cors_origins: str = ""
    workers: int = os.cpu_count() or 1

    @property
    def retention_ns(self) -> int:
        return parse_retention(self.retention)

    @property
    def max_queue_bytes_int(self) -> int:
        return parse_size(self.max_queue_bytes)

    @property
    def max_in_flight_bytes_int(self) -> int:
        return parse_size(self.max_in_flight_bytes)

    @property
    def zipkin_autocomplete_key_list(self) -> tuple[str, ...]:
        return tuple(key.strip() for key in self.zipkin_autocomplete_keys.split(",") if key.strip())

    def security(self) -> Security:
        """Tokens, TLS and CORS; raises SecuritySettingsError (a ValueError) when unusable."""
        return Security.load(
            ingest_token_file=self.ingest_token_file, query_token_file=self.query_token_file,
            tls_cert=self.tls_cert, tls_key=self.tls_key,
            otlp_cors_origins=self.otlp_cors_origins, query_cors_origins=self.query_cors_origins,
            zipkin_cors_origins=self.zipkin_cors_origins)


SETTING_HELP = {
    "data_dir": "directory of the embedded database",
    "host": "address every listener binds (0.0.0.0 to accept remote senders)",
    "otlp_grpc_port": "OTLP/gRPC receiver port",
    "otlp_http_port": "OTLP/HTTP receiver port (POST /v1/traces)",
    "zipkin_port": "Zipkin v2 port: receiver (POST /api/v2/spans) and read API (GET /api/v2/...)",
    "ui_port": "web UI, Jaeger-compatible query API and /metrics",
    "retention": "delete spans older than this (e.g. 12h, 7d)",
    "log_level": "debug, info, warning or error",
    "max_queue_bytes": "memory for spans waiting to be written; beyond it senders get 429 "
                       "(503 while the store is failing)",
    "max_in_flight_bytes": "request bytes (raw and decompressed) all receivers hold at once; "
                           "beyond it senders get 429 with Retry-After",
    "config": "TOML file with [sampling.tail] and [sampling.remote]; reloaded on SIGHUP",
    "remote_sampling_port": "Jaeger remote sampling endpoint (GET /sampling?service=), "
                            "served when the config has [sampling.remote]",
    "storage": "where spans are stored: duckdb:///path/file.duckdb (default: in --data-dir), "
               "clickhouse://user:password@host:8123/database, chdb:///path",
    "role": "all (receive and query), collector (receivers only) or query (API and UI only)",
    "zipkin_cors_origins": "origins allowed to call the Zipkin port from a browser, comma-separated "
                           "(e.g. http://lens.example:8080, or *); none by default",
    "zipkin_autocomplete_keys": "tag keys Zipkin Lens offers values for (GET /api/v2/autocompleteKeys), "
                                "comma-separated, e.g. environment,http.method; none by default",
    "ingest_token_file": "file of bearer tokens (one a line) senders must present to the "
                         "receivers and remote sampling; none: open",
    "query_token_file": "file of bearer tokens (one a line) for the query API and /metrics; "
                        "none: open",
    "tls_cert": "PEM certificate (chain): every listener speaks TLS, gRPC too",
    "tls_key": "PEM private key of --tls-cert",
    "otlp_cors_origins": "comma-separated origins browsers may send OTLP/HTTP from; none: no CORS",
    "query_cors_origins": "comma-separated origins browsers may query the API from; none: no CORS",
    "workers": "receiver processes (OTLP/gRPC and OTLP/HTTP): the main one, which also "
               "stores and serves queries, and N-1 workers on the same ports "
               "(default: the number of cores)",
}

ROLES = ("all", "collector", "query")


def setting_names() -> list[str]:
    return [f.name for f in fields(Settings)]
