"""Resolve ``configure()`` arguments against the standard ``OTEL_*`` environment variables.

Precedence, one rule everywhere: an explicit argument wins, then the
environment variable, then the built-in default.
"""

from __future__ import annotations

import os
import platform
import socket
import sys
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from opentelemetry.sdk.trace.sampling import (
    ALWAYS_OFF,
    ALWAYS_ON,
    ParentBased,
    Sampler,
    TraceIdRatioBased,
)

_TRUE = ("true", "1", "yes", "on")


@dataclass(frozen=True)
class Settings:
    """Everything ``configure`` decided, kept on the handle for inspection."""

    service_name: str
    protocol: str
    endpoint: str | None
    headers: dict[str, str] = field(default_factory=dict)
    compression: str | None = None
    timeout_s: float = 10.0
    sdk_disabled: bool = False


def env_flag(name: str, env: Mapping[str, str]) -> bool:
    return env.get(name, "").strip().lower() in _TRUE


def parse_key_values(raw: str) -> dict[str, str]:
    """``k1=v1,k2=v2`` with percent-encoded values (OTEL_RESOURCE_ATTRIBUTES, OTEL_EXPORTER_OTLP_HEADERS)."""
    out = {}
    for item in raw.split(","):
        key, sep, value = item.partition("=")
        if sep and key.strip():
            out[urllib.parse.unquote(key.strip())] = urllib.parse.unquote(value.strip())
    return out


def resolve_settings(
    service_name: str | None,
    endpoint: str | None,
    protocol: str | None,
    env: Mapping[str, str] | None = None,
) -> Settings:
    env = os.environ if env is None else env
    resource_env = parse_key_values(env.get("OTEL_RESOURCE_ATTRIBUTES", ""))
    name = service_name or env.get("OTEL_SERVICE_NAME") or resource_env.get("service.name") or "unknown_service"
    proto = protocol or env.get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL") or env.get("OTEL_EXPORTER_OTLP_PROTOCOL") or "http/protobuf"
    # The signal-specific variable is a full URL; the generic one is a base to
    # which OTLP/HTTP appends /v1/traces even when it has a path of its own.
    # An argument without a path gets /v1/traces from the exporter.
    url = endpoint or env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
    if not url and env.get("OTEL_EXPORTER_OTLP_ENDPOINT"):
        url = env["OTEL_EXPORTER_OTLP_ENDPOINT"]
        if proto != "grpc":
            url = url.rstrip("/") + "/v1/traces"
    headers = parse_key_values(env.get("OTEL_EXPORTER_OTLP_HEADERS", ""))
    headers.update(parse_key_values(env.get("OTEL_EXPORTER_OTLP_TRACES_HEADERS", "")))
    compression = env.get("OTEL_EXPORTER_OTLP_TRACES_COMPRESSION") or env.get("OTEL_EXPORTER_OTLP_COMPRESSION") or None
    timeout_ms = env.get("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT") or env.get("OTEL_EXPORTER_OTLP_TIMEOUT")
    return Settings(
        service_name=name,
        protocol=proto,
        endpoint=url,
        headers=headers,
        compression=None if compression == "none" else compression,
        timeout_s=float(timeout_ms) / 1000 if timeout_ms else 10.0,
        sdk_disabled=env_flag("OTEL_SDK_DISABLED", env),
    )


REMOTE_SAMPLERS = ("jaeger_remote", "parentbased_jaeger_remote")


def resolve_sampler(sampler: Sampler | float | str | None, env: Mapping[str, str] | None = None,
                    service_name: str = "unknown_service") -> Sampler:
    """``ParentBased(TraceIdRatioBased(ratio))`` by default; ``OTEL_TRACES_SAMPLER[_ARG]`` when no argument.

    ``"jaeger_remote"`` (argument or ``OTEL_TRACES_SAMPLER``) polls Jaeger's remote
    sampling endpoint; ``OTEL_TRACES_SAMPLER_ARG`` then reads
    ``endpoint=URL,pollingIntervalMs=N,initialSamplingRate=P``.
    """
    env = os.environ if env is None else env
    if isinstance(sampler, Sampler):
        return sampler
    if isinstance(sampler, str) and sampler.strip().lower() in REMOTE_SAMPLERS:
        return _remote(service_name, env)
    if sampler is not None:
        return ParentBased(TraceIdRatioBased(float(sampler)))
    name = env.get("OTEL_TRACES_SAMPLER", "parentbased_traceidratio").strip().lower()
    if name in REMOTE_SAMPLERS:
        return _remote(service_name, env, parent_based=name.startswith("parentbased"))
    try:
        ratio = float(env.get("OTEL_TRACES_SAMPLER_ARG", "1.0"))
    except ValueError:
        ratio = 1.0
    choices: dict[str, Sampler] = {
        "always_on": ALWAYS_ON,
        "always_off": ALWAYS_OFF,
        "traceidratio": TraceIdRatioBased(ratio),
        "parentbased_always_on": ParentBased(ALWAYS_ON),
        "parentbased_always_off": ParentBased(ALWAYS_OFF),
        "parentbased_traceidratio": ParentBased(TraceIdRatioBased(ratio)),
    }
    return choices.get(name, choices["parentbased_traceidratio"])


def _remote(service_name: str, env: Mapping[str, str], parent_based: bool = True) -> Sampler:
    from traceway.instrument.remote_sampler import from_sampler_arg

    remote = from_sampler_arg(service_name, env.get("OTEL_TRACES_SAMPLER_ARG", ""))
    return ParentBased(remote) if parent_based else remote


def resource_attributes(
    service_name: str,
    extra: Mapping[str, Any] | None,
    env: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """service, deployment, host and process attributes; ``extra`` beats ``OTEL_RESOURCE_ATTRIBUTES`` beats detection."""
    env = os.environ if env is None else env
    attributes: dict[str, Any] = {
        "service.version": "unknown",
        "deployment.environment": "unknown",
        "host.name": socket.gethostname(),
        "host.arch": platform.machine(),
        "os.type": platform.system().lower(),
        "process.pid": os.getpid(),
        "process.executable.name": os.path.basename(sys.executable),
        "process.command": sys.argv[0] if sys.argv else "",
        "process.runtime.name": sys.implementation.name,
        "process.runtime.version": platform.python_version(),
        "telemetry.sdk.language": "python",
        "telemetry.sdk.name": "opentelemetry",
        "telemetry.distro.name": "traceway-instrument",
    }
    try:
        from importlib.metadata import version

        attributes["telemetry.sdk.version"] = version("opentelemetry-sdk")
    except Exception:
        pass
    attributes.update(parse_key_values(env.get("OTEL_RESOURCE_ATTRIBUTES", "")))
    attributes.update(extra or {})
    attributes["service.name"] = service_name
    return attributes
