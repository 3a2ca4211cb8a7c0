"""The worker's sandbox: temporalio's, without a trip into it for every payload of every activation.

For each payload sequence it decodes or encodes (six passes over each activation and its completion), the SDK
asks the workflow instance which serialization context and external-store target apply, in case a payload codec
or external storage wants them. The sandboxed instance answers by exec'ing a code string inside the sandbox:
about a fifth of the worker's CPU per case. With no codec and no external storage no byte depends on the
answer, so for such a converter the instance answers for its own workflow, outside. Everything else (imports
guarded, the workflow's code run isolated) is the SDK's sandbox unchanged.
"""

from __future__ import annotations

from temporalio.bridge.proto.workflow_activation import WorkflowActivation
from temporalio.bridge.proto.workflow_completion import WorkflowActivationCompletion
from temporalio.converter import (
    DataConverter,
    SerializationContext,
    StorageDriverStoreContext,
    StorageDriverWorkflowInfo,
    WorkflowSerializationContext,
)
from temporalio.worker import WorkflowInstance, WorkflowInstanceDetails, WorkflowRunner
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions
from temporalio.workflow import Info


def contexts_matter(converter: DataConverter) -> bool:
    """Whether a payload's bytes can depend on the workflow, activity or child it belongs to."""
    return converter.payload_codec is not None or converter.external_storage is not None


class _AnsweredOutside(WorkflowInstance):
    def __init__(self, inner: WorkflowInstance) -> None:
        self._inner = inner
        info = inner.get_info()
        self._context = WorkflowSerializationContext(namespace=info.namespace, workflow_id=info.workflow_id)
        self._store = StorageDriverStoreContext(
            target=StorageDriverWorkflowInfo(
                id=info.workflow_id, run_id=info.run_id, type=info.workflow_type, namespace=info.namespace
            )
        )

    def activate(self, act: WorkflowActivation) -> WorkflowActivationCompletion:
        return self._inner.activate(act)

    def get_serialization_context(self, command_info: object) -> SerializationContext | None:
        return self._context

    def get_external_store_context(self, command_info: object) -> StorageDriverStoreContext:
        return self._store

    def get_info(self) -> Info:
        return self._inner.get_info()

    def get_thread_id(self) -> int | None:
        return self._inner.get_thread_id()


class Sandbox(SandboxedWorkflowRunner):
    """temporalio's sandbox, for a worker whose converter has neither a payload codec nor external storage."""

    def create_instance(self, det: WorkflowInstanceDetails) -> WorkflowInstance:
        return _AnsweredOutside(super().create_instance(det))


def sandbox_for(converter: DataConverter, restrictions: SandboxRestrictions) -> WorkflowRunner:
    runner = SandboxedWorkflowRunner if contexts_matter(converter) else Sandbox
    return runner(restrictions=restrictions)
