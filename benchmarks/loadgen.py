"""A closed-loop HTTP load generator for the serving benchmark (stdlib only, one process).

``C`` clients each hold one keep-alive HTTP/1.1 connection and send the next request as
soon as the previous answer has been read (closed loop), cycling through the request
bodies of ``--bodies`` (one JSON body per line, already serialized). The client is a
minimal asyncio HTTP/1.1 implementation (pre-encoded requests, ``Content-Length`` or
chunked responses), so that on a small machine the load generator takes as little CPU
as possible away from the server it measures.

After ``--warmup`` seconds, completions during the next ``--seconds`` seconds are
counted: requests/s, rows/s, latency percentiles (send to last byte read). A request is
an error if the connection fails, the status is not 200 or the answer is not
``{"predictions": [...]}`` with one prediction per row; errors are counted by kind and
the first few are kept. The result is one JSON object on stdout; ``--dump CSV`` also
writes every request's completion time (seconds after the warm-up) and latency.

    python benchmarks/loadgen.py --url http://127.0.0.1:8501/v1/models/taxi:predict \
        --bodies bodies.jsonl --rows 64 --concurrency 16 --seconds 15 [--warmup 2]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

#: Errors kept verbatim (per run) for the report.
MAX_SAMPLES = 5


@dataclass
class Tally:
    """What the clients saw inside the measurement window (and the errors outside it)."""

    latencies: list[float] = field(default_factory=list)
    done_at: list[float] = field(default_factory=list)
    errors: dict[str, int] = field(default_factory=dict)
    samples: list[str] = field(default_factory=list)
    warmup_requests: int = 0

    def error(self, kind: str, detail: str) -> None:
        self.errors[kind] = self.errors.get(kind, 0) + 1
        if len(self.samples) < MAX_SAMPLES:
            self.samples.append(f"{kind}: {detail[:300]}")


def build_requests(url: str, bodies: list[bytes]) -> tuple[str, int, list[bytes]]:
    """Host, port and the full HTTP/1.1 request bytes for each body."""
    parts = urlsplit(url)
    host = parts.hostname or "127.0.0.1"
    port = parts.port or 80
    target = parts.path + (f"?{parts.query}" if parts.query else "")
    requests = []
    for body in bodies:
        head = (
            f"POST {target} HTTP/1.1\r\nHost: {host}:{port}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        )
        requests.append(head.encode("ascii") + body)
    return host, port, requests


async def read_response(reader: asyncio.StreamReader) -> tuple[int, bytes, bool]:
    """Status, body and whether the server keeps the connection open."""
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    lower = head.lower()
    keep_alive = b"\r\nconnection: close" not in lower
    start = lower.find(b"\r\ncontent-length:")
    if start >= 0:
        end = lower.index(b"\r\n", start + 2)
        body = await reader.readexactly(int(lower[start + 17 : end]))
    elif b"\r\ntransfer-encoding: chunked" in lower:
        chunks = []
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            if size == 0:
                await reader.readuntil(b"\r\n")  # no trailers expected
                break
            chunks.append(await reader.readexactly(size))
            await reader.readexactly(2)
        body = b"".join(chunks)
    else:
        body = await reader.read()  # until the server closes
        keep_alive = False
    return status, body, keep_alive


def check_body(status: int, body: bytes, rows: int) -> tuple[str, str] | None:
    """None when the answer is a good prediction of ``rows`` rows, else (kind, detail)."""
    if status != 200:
        return f"status {status}", body.decode("utf-8", "replace")
    try:
        predictions = json.loads(body)["predictions"]
    except (ValueError, KeyError, TypeError) as err:
        return "bad body", f"{err}: {body[:200]!r}"
    if not isinstance(predictions, list) or len(predictions) != rows:
        return "bad body", f"expected {rows} predictions: {body[:200]!r}"
    return None


async def client(
    index: int,
    host: str,
    port: int,
    requests: list[bytes],
    rows: int,
    warm_end: float,
    end: float,
    tally: Tally,
) -> None:
    reader: asyncio.StreamReader | None = None
    writer: asyncio.StreamWriter | None = None
    turn = index  # clients start at different bodies
    clock = time.perf_counter
    while clock() < end:
        request = requests[turn % len(requests)]
        turn += 1
        sent = clock()
        try:
            if writer is None:
                reader, writer = await asyncio.open_connection(host, port)
            assert reader is not None
            writer.write(request)
            status, body, keep_alive = await read_response(reader)
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError) as err:
            done = clock()
            if warm_end <= done <= end:
                tally.error(type(err).__name__, str(err))
            if writer is not None:
                writer.close()
            reader = writer = None
            await asyncio.sleep(0.01)
            continue
        done = clock()
        if not keep_alive:
            writer.close()
            reader = writer = None
        if done < warm_end:
            tally.warmup_requests += 1
            continue
        if done > end:
            continue
        problem = check_body(status, body, rows)
        if problem is None:
            tally.latencies.append(done - sent)
            tally.done_at.append(done - warm_end)
        else:
            tally.error(*problem)
    if writer is not None:
        writer.close()


def percentile(ordered: list[float], q: float) -> float:
    """The ``q`` quantile (0..1) of sorted values, by the nearest-rank method."""
    if not ordered:
        return float("nan")
    rank = max(0, min(len(ordered) - 1, int(q * len(ordered) + 0.999999) - 1))
    return ordered[rank]


async def run(
    url: str,
    bodies: list[bytes],
    rows: int,
    concurrency: int,
    seconds: float,
    warmup: float,
    dump: str | None = None,
) -> dict[str, Any]:
    host, port, requests = build_requests(url, bodies)
    tally = Tally()
    cpu = time.process_time()
    start = time.perf_counter()
    warm_end = start + warmup
    end = warm_end + seconds
    await asyncio.gather(
        *(client(i, host, port, requests, rows, warm_end, end, tally) for i in range(concurrency))
    )
    client_cores = (time.process_time() - cpu) / (time.perf_counter() - start)
    if dump:
        with open(dump, "w") as handle:
            handle.write("done_s,latency_ms\n")
            for at, latency in zip(tally.done_at, tally.latencies, strict=True):
                handle.write(f"{at:.6f},{latency * 1000:.3f}\n")
    latencies = sorted(tally.latencies)
    count = len(latencies)
    ms = 1000.0
    return {
        "url": url,
        "rows": rows,
        "concurrency": concurrency,
        "seconds": seconds,
        "warmup_seconds": warmup,
        "warmup_requests": tally.warmup_requests,
        "requests": count,
        "errors": sum(tally.errors.values()),
        "error_kinds": tally.errors,
        "error_samples": tally.samples,
        "requests_per_s": count / seconds,
        "rows_per_s": count * rows / seconds,
        "mean_ms": sum(latencies) / count * ms if count else float("nan"),
        "p50_ms": percentile(latencies, 0.50) * ms,
        "p90_ms": percentile(latencies, 0.90) * ms,
        "p99_ms": percentile(latencies, 0.99) * ms,
        "p999_ms": percentile(latencies, 0.999) * ms,
        "max_ms": (latencies[-1] if latencies else float("nan")) * ms,
        "client_cores": client_cores,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--bodies", required=True, help="JSON lines: one request body a line")
    parser.add_argument("--rows", type=int, required=True, help="rows in each request")
    parser.add_argument("--concurrency", type=int, default=1)
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--dump", default=None, help="write every latency here (CSV)")
    args = parser.parse_args()
    with open(args.bodies, "rb") as handle:
        bodies = [line.rstrip(b"\n") for line in handle if line.strip()]
    if not bodies:
        sys.exit(f"no request bodies in {args.bodies}")
    result = asyncio.run(
        run(args.url, bodies, args.rows, args.concurrency, args.seconds, args.warmup, args.dump)
    )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
