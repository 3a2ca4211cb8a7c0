"""`make bench`: the benchmarks in sequence, each against a baseline measured in the same run.

Writes bench/results/<stamp>-<name>.json and latest-<name>.md for each, and bench/results/latest.md with the
machine, versions, parameters and all the summaries, which it prints. A full run with the defaults also
refreshes the summary in bench/README.md. `--quick` is a smoke run of a few minutes (figures meaningless).
"""

from __future__ import annotations

import argparse
import asyncio
import re
import time
import traceback
from collections.abc import Callable
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from bench import (
    cached_case,
    case_size,
    console_pages,
    delivery,
    escalation,
    history,
    intake_load,
    lifecycle,
    live_cases,
)
from bench.common import RESULTS, machine, revision, write_results
from bench.stack import write_bytecode
from config import ROOT

README = Path(__file__).resolve().parent / "README.md"
BEGIN, END = "<!-- bench:latest:begin -->", "<!-- bench:latest:end -->"
NAMES = (
    "lifecycle",
    "escalation",
    "delivery",
    "intake_load",
    "live_cases",
    "cached_case",
    "console_pages",
    "case_size",
    "history",
)
QUICK = {
    "lifecycle_cases": 30,
    "lifecycle_concurrency": 10,
    "escalation_cases": 50,
    "escalation_slice": 20.0,
    "delivery_messages": 500,
    "intake_rate": 10.0,
    "intake_seconds": 10.0,
    "live_cases": 200,
    "live_slice": 30.0,
    "live_sample": 10,
    "live_baseline_cases": 200,
    "cached_cases": 100,
    "console_cases": 2000,
    "console_requests": 30,
}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    p.add_argument("--quick", action="store_true", help="a smoke run at small sizes (flags below still win)")
    p.add_argument("--only", default=",".join(NAMES), help=f"comma-separated subset of {','.join(NAMES)}")
    p.add_argument("--lifecycle-cases", type=int)
    p.add_argument("--lifecycle-concurrency", type=int)
    p.add_argument("--escalation-cases", type=int)
    p.add_argument("--escalation-slice", type=float, help="grid slice in seconds; all K cases must start within it")
    p.add_argument("--delivery-messages", type=int, help="messages waiting in the outbox for the delivery benchmark")
    p.add_argument("--intake-rate", type=float, help="requests per second")
    p.add_argument("--intake-seconds", type=float)
    p.add_argument("--live-cases", type=int)
    p.add_argument("--live-slice", type=float, help="the sample's grid slice in seconds")
    p.add_argument("--live-sample", type=int)
    p.add_argument("--live-baseline-cases", type=int, help="bare timer workflows for the live-cases baseline")
    p.add_argument("--cached-cases", type=int, help="cases per kind for the cached-case memory benchmark")
    p.add_argument("--console-cases", type=int, help="cases in the read model the console pages are read over")
    p.add_argument("--console-requests", type=int, help="requests per page")
    args = p.parse_args(argv)
    unknown = set(args.only.split(",")) - set(NAMES)
    if unknown:
        p.error(f"--only: unknown benchmark(s) {', '.join(sorted(unknown))}")
    return args


def sizes(args: argparse.Namespace) -> tuple[dict[str, Any], bool]:
    """The parameters to run with, and whether they are all the defaults (a full run)."""
    given = {k: v for k, v in vars(args).items() if k in QUICK and v is not None}
    chosen = {**(QUICK if args.quick else {}), **given}
    return chosen, not chosen and args.only == ",".join(NAMES)


def runners(s: dict[str, Any]) -> dict[str, tuple[Callable[[], Any], Callable[[dict[str, Any]], str]]]:
    def kw(**pairs: str) -> dict[str, Any]:
        return {param: s[key] for param, key in pairs.items() if key in s}

    return {
        "lifecycle": (
            lambda: lifecycle.run(**kw(n="lifecycle_cases", concurrency="lifecycle_concurrency")),
            lifecycle.summary,
        ),
        "escalation": (
            lambda: escalation.run(**kw(cases="escalation_cases", slice_seconds="escalation_slice")),
            escalation.summary,
        ),
        "delivery": (lambda: delivery.run(**kw(messages="delivery_messages")), delivery.summary),
        "intake_load": (
            lambda: intake_load.run(**kw(rate="intake_rate", seconds="intake_seconds")),
            intake_load.summary,
        ),
        "live_cases": (
            lambda: live_cases.run(
                **kw(
                    cases="live_cases",
                    slice_seconds="live_slice",
                    sample="live_sample",
                    baseline_cases="live_baseline_cases",
                )
            ),
            live_cases.summary,
        ),
        "cached_case": (lambda: cached_case.run(**kw(cases="cached_cases")), cached_case.summary),
        "console_pages": (
            lambda: console_pages.run(**kw(cases="console_cases", requests="console_requests")),
            console_pages.summary,
        ),
        "case_size": (case_size.run, case_size.summary),
        "history": (history.run, history.summary),
    }


def versions() -> dict[str, str]:
    found = {}
    for name in ("fastapi", "uvicorn", "sqlalchemy", "pydantic", "httpx"):
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            found[name] = "—"
    return found


def header(stamp: str, mode: str, took: dict[str, float], measured: str) -> str:
    m = machine()
    lines = [
        f"# Benchmarks, {stamp}{mode}",
        "",
        f"- machine: {m['cores']} cores, {m['memory_gib']} GiB, {m['platform']}",
        f"- versions: Python {m['python']}, temporalio {m['temporalio']}, Temporal CLI {m['temporal_cli']}, "
        + ", ".join(f"{k} {v}" for k, v in versions().items())
        + f"; engine {measured}",
        "- took: " + ", ".join(f"{name} {seconds / 60:.1f} min" for name, seconds in took.items()),
        f"- total: {sum(took.values()) / 60:.1f} min",
        "",
        "Every figure is beside a baseline measured in the same run on the same machine. Parameters and raw "
        "figures: the JSON files next to this one.",
        "",
    ]
    return "\n".join(lines)


def refresh_readme(text: str) -> None:
    if not README.exists():
        return
    current = README.read_text(encoding="utf-8")
    block = f"{BEGIN}\n{text.strip()}\n{END}"
    pattern = re.compile(re.escape(BEGIN) + r".*?" + re.escape(END), re.DOTALL)
    if pattern.search(current):
        README.write_text(pattern.sub(lambda _: block, current), encoding="utf-8")


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    measured = revision()  # before any result file is written, so "-dirty" means uncommitted code
    write_bytecode()
    chosen, full = sizes(args)
    todo = runners(chosen)
    summaries: list[str] = []
    took: dict[str, float] = {}
    failed: list[str] = []
    for name in args.only.split(","):
        run, summarise = todo[name]
        print(f"--- {name} ...", flush=True)
        started = time.monotonic()
        try:
            result = asyncio.run(run())
        except Exception as err:  # one benchmark failing must not lose the others' figures
            traceback.print_exc()
            failed.append(name)
            summaries.append(f"## {name}: FAILED\n\n`{type(err).__name__}: {err}`\n")
            took[name] = time.monotonic() - started
            continue
        took[name] = time.monotonic() - started
        result["took_total_s"] = round(took[name], 1)
        text = summarise(result)
        path = write_results(name, result, text)
        print(text, f"\n(written to {path.relative_to(ROOT)})\n", flush=True)
        summaries.append(text)
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    mode = "" if full else " (reduced sizes or a subset, not the defaults)"
    if args.quick:
        mode = " (quick smoke run: sizes too small for the figures to mean anything)"
    report = header(stamp, mode, took, measured) + "\n" + "\n".join(summaries)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "latest.md").write_text(report, encoding="utf-8")
    if full and not failed:
        refresh_readme(report)
    print("=" * 100)
    print(report)
    if failed:
        raise SystemExit(f"failed: {', '.join(failed)}")


if __name__ == "__main__":
    main()
