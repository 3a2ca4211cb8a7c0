"""A receiver on this machine for the delivery benchmarks: the generic webhook, answering at once and keeping
each message's key and arrival time.

It stands for a service on another machine, so it runs as a process of its own at the lowest CPU priority:
on the two cores the benchmark shares, the receiving of 6,000 posts must not be counted against the engine.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import uvicorn
from fastapi import FastAPI, Request, Response

from scripts.temporal_dev import free_port

NICE = 19


def _app(out: Path) -> FastAPI:
    app = FastAPI()
    sink = out.open("a", encoding="utf-8", buffering=1)

    @app.get("/ready")
    async def ready() -> Response:
        return Response(b"ok")

    @app.post("/hook")
    async def hook(request: Request) -> Response:
        sink.write(json.dumps([request.headers.get("idempotency-key", ""), time.time()]) + "\n")
        return Response(b'{"ok":true}', media_type="application/json")

    return app


@asynccontextmanager
async def webhook_receiver() -> AsyncIterator[tuple[str, list[tuple[str, float]]]]:
    """Serve `POST /hook` on a free port in a process of its own; yields its URL and a list that holds the
    (key, arrival time) of every message once the receiver has stopped."""
    arrived: list[tuple[str, float]] = []
    port = free_port()
    out = Path(os.environ.get("TMPDIR", "/tmp")) / f"bench-receiver-{port}.jsonl"
    out.unlink(missing_ok=True)
    proc = subprocess.Popen([sys.executable, "-m", "bench.receiver", "--port", str(port), "--out", str(out)])
    url = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient() as client:
            for _ in range(200):
                if proc.poll() is not None:
                    raise RuntimeError(f"the webhook receiver exited with {proc.returncode}")
                try:
                    if (await client.get(f"{url}/ready")).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.05)
            else:
                raise RuntimeError("the webhook receiver did not start within 10 s")
        yield f"{url}/hook", arrived
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        if out.exists():
            arrived += [(key, at) for key, at in map(json.loads, out.read_text(encoding="utf-8").splitlines())]
            out.unlink()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    os.nice(NICE)  # here, not in a preexec_fn: the benchmark's process has threads, which make that unsafe
    uvicorn.run(_app(args.out), host="127.0.0.1", port=args.port, log_level="warning", access_log=False)


if __name__ == "__main__":
    main()
