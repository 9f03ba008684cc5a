"""``nestr plugin check``: run a plugin through its whole life and report what it gets wrong.

The driver plays the host's part with a real process: handshake (and how long it took), a call
without the secret (must be refused), ``grpc.health.v1``, ``Describe``, ``Validate`` of a good
and of bad ``with:`` values, ``Execute`` (logs, outputs, one result, last), ``Cancel`` of an
execution in progress (given a slow step type) and of an unknown one, and the shutdown
(SIGTERM must end it). Every check is a :class:`Finding`; nothing is printed here.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nestr.plugins.host import EXECUTABLE_PREFIX, plugin_of
from nestr.plugins.launch import STOP_GRACE, Launch, PluginError, PluginProcess
from nestr.plugins.step import to_struct

TIMEOUT = 30.0  # seconds for one call
CHECK_TYPE = "__nestr_check_no_such_type__"


@dataclass(frozen=True)
class Finding:
    """One check: its name, whether the plugin passed it, and what was seen."""

    name: str
    ok: bool
    detail: str = ""


@dataclass
class CheckReport:
    """Every finding of a check, in order; ``ok`` when there is no failure."""

    command: tuple[str, ...]
    findings: list[Finding] = field(default_factory=list)
    start_seconds: float | None = None

    @property
    def ok(self) -> bool:
        return all(f.ok for f in self.findings)

    def add(self, name: str, ok: bool, detail: str = "") -> None:
        self.findings.append(Finding(name, ok, detail))

    def to_dict(self) -> dict[str, Any]:
        return {
            "command": list(self.command),
            "ok": self.ok,
            "start_seconds": self.start_seconds,
            "findings": [{"name": f.name, "ok": f.ok, "detail": f.detail} for f in self.findings],
        }


@dataclass(frozen=True)
class CheckOptions:
    """What to execute: ``step`` (default: the first step type) with ``with_``; ``slow``: a
    step type that runs until cancelled, to check ``Cancel`` mid-execute."""

    step: str | None = None
    with_: Mapping[str, Any] = field(default_factory=dict)
    slow: str | None = None
    slow_with: Mapping[str, Any] = field(default_factory=dict)


def check_plugin(
    command: Sequence[str], *, cwd: Path, options: CheckOptions | None = None
) -> CheckReport:
    """Check the plugin ``command`` starts (see the module docstring)."""
    options = options or CheckOptions()
    report = CheckReport(tuple(command))
    exe = Path(command[0]).name
    named = exe.startswith(EXECUTABLE_PREFIX)  # else the name is the plugin's own (Describe)
    name = exe.removeprefix(EXECUTABLE_PREFIX)
    began = time.monotonic()
    try:
        running = PluginProcess(Launch(name, tuple(command), "the command line"), cwd=cwd)
    except PluginError as exc:
        report.add("handshake", False, exc.message + (f" ({exc.hint})" if exc.hint else ""))
        return report
    report.start_seconds = time.monotonic() - began
    report.add(
        "handshake", True, f"{running.handshake.line().strip()} in {report.start_seconds:.3f} s"
    )
    _Driver(running, report, options, named=named).run()
    return report


class _Driver:
    def __init__(
        self, running: PluginProcess, report: CheckReport, options: CheckOptions, *, named: bool
    ) -> None:
        import grpc

        from nestr.plugin._proto import plugin_pb2 as pb
        from nestr.plugin._proto import plugin_pb2_grpc as pb_grpc

        self.grpc, self.pb = grpc, pb
        self.running, self.report, self.options = running, report, options
        self.stub = pb_grpc.StepPluginStub(running.blocking_channel())  # type: ignore[no-untyped-call]
        self.types: dict[str, Any] = {}
        self.named = named
        self.name = running.launch.name

    def run(self) -> None:
        try:
            for check in (self.secret, self.health, self.describe, self.validate, self.execute):
                with self._step(check.__name__):
                    check()
            with self._step("cancel"):
                self.cancel()
        finally:
            self.shutdown()

    @contextmanager
    def _step(self, name: str) -> Iterator[None]:
        try:
            yield
        except self.grpc.RpcError as exc:
            self.report.add(name, False, f"call failed: {exc.code().name}: {exc.details()}")

    def _call(self, method: Callable[..., Any], request: Any) -> Any:
        return method(request, metadata=self.running.metadata, timeout=TIMEOUT)

    def secret(self) -> None:
        try:
            self.stub.Describe(self.pb.DescribeRequest(), timeout=TIMEOUT)
        except self.grpc.RpcError as exc:
            ok = exc.code() == self.grpc.StatusCode.UNAUTHENTICATED
            self.report.add("secret", ok, f"a call without the secret got {exc.code().name}")
            return
        self.report.add("secret", False, "a call without the secret was answered: check the secret")

    def health(self) -> None:
        from grpc_health.v1 import health_pb2, health_pb2_grpc

        stub: Any = health_pb2_grpc.HealthStub(self.running.blocking_channel())
        for service in ("", "nestr.plugin.v1.StepPlugin"):
            reply = self._call(stub.Check, health_pb2.HealthCheckRequest(service=service))
            serving = reply.status == health_pb2.HealthCheckResponse.SERVING
            shown = service or "(server)"
            self.report.add(
                f"health {shown}",
                serving,
                health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status),
            )

    def describe(self) -> None:
        reply = self._call(self.stub.Describe, self.pb.DescribeRequest())
        if not self.named:  # started by a command: the plugin's own name is the one
            self.name = reply.name
        name = self.name
        self.types = {t.name: t for t in reply.step_types}
        self.report.add(
            "describe",
            bool(reply.step_types),
            f"{reply.name} {reply.version}: {', '.join(self.types) or 'no step types'}",
        )
        self.report.add(
            "describe name",
            reply.name == name,
            f"the plugin calls itself {reply.name!r}; started as {name!r}",
        )
        for step in reply.step_types:
            self.report.add(
                f"step type {step.name}",
                plugin_of(step.name) == reply.name,
                _schema_problem(step.with_schema) or "schema ok",
            )

    def validate(self) -> None:
        step = self._chosen()
        if step is None:
            return
        good = self._call(
            self.stub.Validate,
            self.pb.ValidateRequest(step_type=step, **{"with": to_struct(self.options.with_)}),
        )
        problems = "; ".join(f"{'.'.join(p.path) or 'with'}: {p.message}" for p in good.problems)
        self.report.add(
            "validate good",
            not good.problems,
            problems or f"{step} with {json.dumps(dict(self.options.with_))}: no problem",
        )
        unknown = f"{self.name}.{CHECK_TYPE}"
        bad = self._call(self.stub.Validate, self.pb.ValidateRequest(step_type=unknown))
        self.report.add(
            "validate unknown type",
            bool(bad.problems),
            "reported" if bad.problems else "an unknown step type passed Validate",
        )
        required = _required(self.types[step].with_schema)
        if required:
            empty = self._call(self.stub.Validate, self.pb.ValidateRequest(step_type=step))
            self.report.add(
                "validate missing required",
                bool(empty.problems),
                f"{step} without {', '.join(required)}",
            )

    def execute(self) -> None:
        step = self._chosen()
        if step is None:
            return
        request = self._request(step, self.options.with_)
        kinds = [
            m.WhichOneof("kind")
            for m in self.stub.Execute(request, metadata=self.running.metadata, timeout=TIMEOUT)
        ]
        counts = ", ".join(f"{kinds.count(k)} {k}" for k in ("log", "progress", "output"))
        seen = f"{counts} messages"
        last_is_result = bool(kinds) and kinds[-1] == "result" and kinds.count("result") == 1
        self.report.add(
            "execute",
            last_is_result,
            seen
            + (
                "; one result, last"
                if last_is_result
                else "; the stream must end with exactly one result"
            ),
        )

    def cancel(self) -> None:
        reply = self._call(self.stub.Cancel, self.pb.CancelRequest(execution_id=uuid.uuid4().hex))
        self.report.add("cancel unknown", not reply.found, "found=false for an unknown execution")
        slow = self.options.slow
        if slow is None:
            self.report.add(
                "cancel mid-execute",
                True,
                "skipped: give --slow TYPE (a step that runs until cancelled)",
            )
            return
        request = self._request(slow, self.options.slow_with)
        stream = self.stub.Execute(request, metadata=self.running.metadata, timeout=TIMEOUT)
        deadline = time.monotonic() + TIMEOUT
        found = False
        while not found and time.monotonic() < deadline:
            found = self._call(
                self.stub.Cancel, self.pb.CancelRequest(execution_id=request.execution_id)
            ).found
            time.sleep(0 if found else 0.02)
        results = [m.result for m in stream if m.WhichOneof("kind") == "result"]
        ok = found and len(results) == 1 and results[0].status == self.pb.STATUS_CANCELLED
        shown = self.pb.Status.Name(results[0].status) if results else "no result"
        self.report.add(
            "cancel mid-execute", ok, f"Cancel found it: {found}; the stream ended with {shown}"
        )

    def shutdown(self) -> None:
        began = time.monotonic()
        self.running.stop(STOP_GRACE)
        code = self.running.process.returncode
        took = time.monotonic() - began
        clean = took < STOP_GRACE and code is not None and code in {0, -15}
        self.report.add(
            "shutdown", clean, f"SIGTERM: {self.running.describe_exit()} in {took:.2f} s"
        )

    def _chosen(self) -> str | None:
        step = self.options.step or next(iter(self.types), None)
        if step is None or step not in self.types:
            self.report.add("step to execute", False, f"{step or 'no step type'} is not offered")
            return None
        return step

    def _request(self, step: str, with_: Mapping[str, Any]) -> Any:
        return self.pb.ExecuteRequest(
            execution_id=uuid.uuid4().hex,
            step_type=step,
            run_id="check",
            step_key="check",
            attempt=1,
            cwd=str(Path.cwd()),
            **{"with": to_struct(with_)},
        )


def _schema_problem(text: str) -> str | None:
    if not text:
        return None
    try:
        schema = json.loads(text)
    except ValueError as exc:
        return f"with_schema is not JSON: {exc}"
    return None if isinstance(schema, dict) else "with_schema must be a JSON object"


def _required(text: str) -> list[str]:
    try:
        schema = json.loads(text) if text else {}
    except ValueError:
        return []
    return list(schema.get("required", [])) if isinstance(schema, dict) else []
