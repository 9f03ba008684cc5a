"""``noop``: does nothing and succeeds; ``with.outputs`` (a mapping) become its outputs."""

from __future__ import annotations

from typing import ClassVar

from nestr.workflow.expressions import to_text as to_output_text
from nestr.workflow.protocols import Outputs, StepContext, StepFailed


class NoopStep:
    """Succeed at once (a join point in a DAG, or a placeholder while drafting a workflow)."""

    # Finishes here and now, with no effect outside the store: one commit per try is enough.
    instant: ClassVar[bool] = True

    async def run(self, ctx: StepContext) -> Outputs | None:
        outputs = ctx.with_.get("outputs", {})
        if not isinstance(outputs, dict):
            raise StepFailed("noop: `outputs` must be a mapping of names to values")
        return {str(k): to_output_text(v) for k, v in outputs.items()}
