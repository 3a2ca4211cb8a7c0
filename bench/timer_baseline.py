"""The timer baseline: a bare workflow that sleeps until a deadline and reports how late it woke (Temporal's own
timer punctuality and per-workflow cost). Minimal imports: the workflow sandbox re-imports this module.

Run its worker alone, in processes of its own (as many as the engine's worker, WORKER_PROCESSES), so their RSS is
Temporal's cost only: `python -m bench.timer_baseline --address 127.0.0.1:7233 --task-queue bench-timer`.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow


@workflow.defn(name="BenchTimer")
class TimerWorkflow:
    """The deadline counts from the first workflow task, as a case's tier slice counts from its dispatch."""

    @workflow.run
    async def run(self, slice_seconds: float) -> dict[str, str]:
        started = workflow.now()
        due = started + timedelta(seconds=slice_seconds)
        await workflow.sleep(due - workflow.now())
        return {"started": started.isoformat(), "due": due.isoformat(), "fired": workflow.now().isoformat()}


def serve(address: str, task_queue: str, max_cached_workflows: int) -> None:
    import asyncio

    from temporalio.client import Client
    from temporalio.worker import Worker

    # The class from its importable module, not from __main__, so the sandbox can re-import it.
    from bench.timer_baseline import TimerWorkflow as Timer

    async def run() -> None:
        client = await Client.connect(address)
        worker = Worker(client, task_queue=task_queue, workflows=[Timer], max_cached_workflows=max_cached_workflows)
        await worker.run()

    asyncio.run(run())


def main() -> None:
    import argparse
    from functools import partial

    from config import settings
    from processes import run_processes

    parser = argparse.ArgumentParser(description="worker for the BenchTimer baseline workflow only")
    parser.add_argument("--address", required=True)
    parser.add_argument("--task-queue", required=True)
    args = parser.parse_args()
    target = partial(serve, args.address, args.task_queue, settings.cache_per_process)
    run_processes(target, settings.worker_processes)


if __name__ == "__main__":
    main()
