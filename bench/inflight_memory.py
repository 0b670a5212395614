"""Peak memory of a server hit by concurrent large bodies, with and without the
in-flight cap (issue 8: eight concurrent 60 MB bodies took RSS to 862 MB).

    python bench/inflight_memory.py [--senders 8] [--mib 60]

Starts `traceway serve` twice (default --max-in-flight-bytes, then a cap too
large to matter), sends the bodies at once, and prints the answers and the
server's peak RSS (VmHWM).
"""

from __future__ import annotations

import argparse
import tempfile
import threading
from collections import Counter
from pathlib import Path

import httpx

from traceway.sample import sample_request
from traceway.testing import ServerProcess


def _body(mib: int) -> bytes:
    """A valid OTLP request of about ``mib`` MiB (concatenated requests merge)."""
    one = sample_request(200, seed=1).SerializeToString()
    return one * max(1, (mib << 20) // len(one))


def _peak_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def run(extra_args: list[str], senders: int, body: bytes) -> tuple[Counter[int], float, float]:
    with tempfile.TemporaryDirectory() as tmp:
        server = ServerProcess(Path(tmp) / "data", extra_args=extra_args).start()
        try:
            before = _peak_rss_mib(server.process.pid)
            answers: Counter[int] = Counter()
            lock = threading.Lock()

            def send() -> None:
                answer = httpx.post(server.otlp_http_url + "/v1/traces", content=body,
                                    headers={"Content-Type": "application/x-protobuf"},
                                    timeout=300)
                with lock:
                    answers[answer.status_code] += 1

            threads = [threading.Thread(target=send) for _ in range(senders)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            return answers, before, _peak_rss_mib(server.process.pid)
        finally:
            server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--senders", type=int, default=8)
    parser.add_argument("--mib", type=int, default=60)
    args = parser.parse_args()
    body = _body(args.mib)
    print(f"{args.senders} concurrent bodies of {len(body) / 2**20:.1f} MiB")
    for label, extra in (("default cap (256MiB)", []),
                         ("no cap (64GiB)", ["--max-in-flight-bytes", "64GiB"])):
        answers, before, peak = run(extra, args.senders, body)
        print(f"{label:22} answers {dict(sorted(answers.items()))}  "
              f"peak RSS {peak:.0f} MiB (idle {before:.0f} MiB)")


if __name__ == "__main__":
    main()
