"""What a case carries of its city: the policy snapshot in its history and in the worker's memory, for the
shipped demo directory and for a district of 东城区's size, with the whole directory (the baseline: what every
case carried before) and with the part a case carries (`Directory.for_case`).

No server: the snapshot is what 受理 writes into the case's start input and every continue-as-new; its memory is
that of the object the worker decodes from it and keeps, with its unit look-up built, for each cached case.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import tracemalloc
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from typing import Any

from bench.common import report
from models import policy as policy_values
from models.case import CasePolicy
from models.intake import Intake, Location, ReporterRef
from models.policy import Directory, Policy, Tier, Unit
from policy import load_policy
from policy.snapshot import snapshot_case

COPIES = 200


def city_directory(streets: int, communities: int, grids: int, departments: int = 40) -> Directory:
    """A district of `streets` streets, `communities` communities in each, `grids` grids in each community."""
    units = [Unit(id=f"dept-{k}", name=f"部门{k}", tier=Tier.department, parent="district") for k in range(departments)]
    for s in range(streets):
        units.append(Unit(id=f"s{s}", name=f"第{s}街道", tier=Tier.street, parent="district"))
        for c in range(communities):
            units.append(Unit(id=f"s{s}c{c}", name=f"第{s}街道第{c}社区", tier=Tier.community, parent=f"s{s}"))
            units += [
                Unit(id=f"s{s}c{c}g{g}", name=f"第{s}街道第{c}社区第{g}网格", tier=Tier.grid, parent=f"s{s}c{c}")
                for g in range(grids)
            ]
    return Directory(
        district=Unit(id="district", name="区", tier=Tier.district),
        supervisor=Unit(id="supervisor-12345", name="12345", tier=Tier.district, parent="district"),
        units=tuple(units),
    )


def _policy_with(policy: Policy, directory: Directory) -> Policy:
    # the demo categories name demo departments: keep them, under the city's streets
    kept = tuple(u for u in policy.directory.units if u.tier is Tier.department and directory.get(u.id) is None)
    units = (*directory.units, *kept)
    return policy.model_copy(update={"directory": Directory(**{**dict(directory), "units": units})})


@contextmanager
def unshared() -> Iterator[None]:
    """Policy values decoded without sharing (`models.policy.Shared`), as every case held its own before."""
    saved = policy_values.SHARED_MAX
    policy_values._shared.clear()
    policy_values.SHARED_MAX = 0
    try:
        yield
    finally:
        policy_values.SHARED_MAX = saved


def _kib_per_case(payloads: list[str]) -> float:
    """Memory of each decoded snapshot with its look-up table, averaged over all of them kept alive together;
    what they share is counted once, among them."""
    policy_values._shared.clear()
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    kept = []
    for payload in payloads:
        p = CasePolicy.model_validate_json(payload)
        p.directory.get("district")  # the worker builds it on the case's first look-up
        kept.append(p)
    used = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    return round(used / len(payloads) / 1024, 1)


def _intake(grid: str) -> Intake:
    return Intake(
        channel="hotline12345",
        channel_ticket_id="bench-1",
        category="exposed_rubbish",
        title="垃圾",
        description="垃圾三天没人清运",
        location=Location(grid_id=grid, address="某小区"),
        reporter=ReporterRef(ref="rep-bench", masked_phone="138****0000"),
        reported_at=datetime.now(UTC),
    )


def measure(policy: Policy) -> dict[str, Any]:
    """COPIES cases, from the directory's grids in turn (a worker's cache holds cases from all over the city)."""
    grids = [u.id for u in policy.directory.units if u.tier is Tier.grid]
    today = date.today()
    carried = [snapshot_case(policy, _intake(grids[i % len(grids)]), today).policy for i in range(COPIES)]
    whole = [c.model_copy(update={"directory": policy.directory}) for c in carried]
    figures: dict[str, Any] = {"units": len(policy.directory.units), "grids": len(grids)}
    for name, snapshots in (("whole", whole), ("carried", carried)):
        payloads = [snapshot.model_dump_json() for snapshot in snapshots]
        with unshared():
            alone = _kib_per_case(payloads)
        figures[name] = {
            "units": len(snapshots[0].directory.units),
            "kib": round(len(payloads[0].encode()) / 1024, 1),
            "memory_kib": alone,
            "memory_shared_kib": _kib_per_case(payloads),
        }
    return figures


async def run(streets: int = 17, communities: int = 10, grids: int = 6) -> dict[str, Any]:
    shipped = load_policy()
    city = _policy_with(shipped, city_directory(streets, communities, grids))
    return {
        "parameters": {"streets": streets, "communities": communities, "grids": grids, "copies": COPIES},
        "demo": measure(shipped),
        "city": measure(city),
    }


def summary(r: dict[str, Any]) -> str:
    p = r["parameters"]
    rows = []
    for label, key in (("shipped demo directory", "demo"), ("a district of 东城区's size", "city")):
        f = r[key]
        w, c = f["whole"], f["carried"]
        rows.append(
            f"| {label} ({f['units']} units, {f['grids']} grids) | {w['kib']} KiB, {w['memory_kib']} KiB | "
            f"{c['units']} units: {c['kib']} KiB, {c['memory_kib']} KiB | {c['memory_shared_kib']} KiB |"
        )
    return (
        "## What a case carries of its city\n\n"
        "The policy snapshot 受理 writes into a case (its start input, and each continue-as-new), as JSON and as the "
        f"object the worker keeps for a cached case: {p['copies']} cases from the directory's grids in turn, kept "
        f"alive together. The district: {p['streets']} streets × {p['communities']} communities × {p['grids']} "
        "grids and 40 departments. Baseline: the whole directory, each case holding its own, as every case did "
        "before; then the part a case carries (`Directory.for_case`), alone and with equal policy values shared "
        "among cases (`models.policy.Shared`).\n\n"
        "| directory | whole: history, memory per case | carried: history, memory per case | carried, shared: "
        "memory per case |\n"
        "|---|---|---|---|\n" + "\n".join(rows) + "\n"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--streets", type=int, default=17)
    parser.add_argument("--communities", type=int, default=10)
    parser.add_argument("--grids", type=int, default=6)
    args = parser.parse_args()
    report("case_size", asyncio.run(run(args.streets, args.communities, args.grids)), summary)


if __name__ == "__main__":
    main()
