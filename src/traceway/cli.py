"""The `traceway` command."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from traceway.settings import ROLES, SETTING_HELP, Settings, parse_retention, parse_size, setting_names


def _add_serve(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("serve", help="run the collector, store, query API and UI",
                            description="Every flag can also be set as TRACEWAY_<NAME>, "
                                        "e.g. TRACEWAY_DATA_DIR.")
    defaults = Settings()
    for name in setting_names():
        env = f"TRACEWAY_{name.upper()}"
        default = os.environ.get(env, str(getattr(defaults, name)))
        flag = "--" + name.replace("_", "-")
        kind = int if name.endswith("_port") or name == "workers" else str
        parser.add_argument(flag, dest=name, default=kind(default), type=kind,
                            help=f"{SETTING_HELP[name]} (env {env}; default {default})")
    parser.set_defaults(run=_serve)


def _serve(args: argparse.Namespace) -> int:
    from traceway.server import serve

    values = {name: getattr(args, name) for name in setting_names()}
    values["data_dir"] = Path(values["data_dir"])
    settings = Settings(**values)
    try:
        parse_retention(settings.retention)
        parse_size(settings.max_queue_bytes)
        if settings.role not in ROLES:
            raise ValueError(f"--role must be one of {', '.join(ROLES)}, not {settings.role!r}")
        parse_size(settings.max_in_flight_bytes)
        if settings.workers < 1:
            raise ValueError(f"--workers must be at least 1, not {settings.workers}")
        settings.security()
    except ValueError as exc:
        print(f"traceway serve: {exc}", file=sys.stderr)
        return 2
    from traceway.config import Config, ConfigError, load_config

    try:
        config = load_config(settings.config) if settings.config else Config()
    except ConfigError as exc:
        print(f"traceway serve: invalid config: {exc}", file=sys.stderr)
        return 2
    from traceway.storage.api import StorageError

    try:
        return serve(settings, config)
    except StorageError as exc:
        print(f"traceway serve: storage: {exc}", file=sys.stderr)
        return 2


def _add_sample(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("sample", help="send a few realistic multi-service traces")
    parser.add_argument("--otlp-endpoint", default=os.environ.get(
        "TRACEWAY_OTLP_ENDPOINT", "http://127.0.0.1:4318"), help="OTLP/HTTP base URL")
    parser.add_argument("--traces", type=int, default=30, help="how many traces")
    parser.set_defaults(run=_sample)


def _sample(args: argparse.Namespace) -> int:
    from traceway.sample import send_sample

    return send_sample(args.otlp_endpoint, args.traces)


def _add_demo(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    try:
        from traceway.demo import add_arguments, run
    except ImportError:
        return
    parser = sub.add_parser("demo", help="run a live multi-service shop sending traces")
    add_arguments(parser)
    parser.set_defaults(run=run)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="traceway", description="Distributed tracing: "
                                     "collector, store, Jaeger-compatible API and UI.")
    sub = parser.add_subparsers(dest="command", required=True)
    _add_serve(sub)
    _add_sample(sub)
    _add_demo(sub)
    args = parser.parse_args(argv)
    return int(args.run(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
