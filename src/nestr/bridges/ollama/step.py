"""``ollama.generate`` and ``ollama.chat``: ask a model, stream its answer, output the text.

The official ``ollama`` client talks to the server (``with.host``, else ``OLLAMA_HOST`` of the
step's environment, else ``127.0.0.1:11434``). Tokens go to the step's log as they come, a line
at a time (or every :data:`FLUSH_AT` characters of a long line), each flush with a
``nestr.workflow.step.progress`` event counting the tokens so far. Outputs: ``text`` (the whole
answer), ``model``, ``tokens``. The server down, a model not pulled, an answer slower than
``timeout`` or a broken stream fail the step with what to do about it.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

from nestr.bridges.context import BridgeContext, Outputs, StepFailed, failed
from nestr.bridges.ollama.request import OllamaRequest, chat_request, generate_request
from nestr.events.catalog import STEP_PROGRESS, StepProgress

if TYPE_CHECKING:
    from ollama import AsyncClient

FLUSH_AT = 256  # characters of an unfinished line written to the log at once
_SHOWN = 200  # characters of a line a progress event carries


async def generate(with_: Mapping[str, Any], ctx: BridgeContext) -> Outputs:
    """One completion of ``with.prompt`` (and ``with.system``) by ``with.model``."""
    request = generate_request(with_, ctx)
    async with _answering(request) as client:
        parts = await client.generate(
            model=request.model,
            prompt=request.prompt,
            system=request.system or "",  # empty: the model's own system prompt
            options=request.options,
            stream=True,
        )
        return await _stream(parts, lambda part: part.response or "", request, ctx)


async def chat(with_: Mapping[str, Any], ctx: BridgeContext) -> Outputs:
    """The assistant's reply to ``with.messages`` (``with.prompt`` as a last user message)."""
    request = chat_request(with_, ctx)
    async with _answering(request) as client:
        parts = await client.chat(
            model=request.model,
            messages=list(request.messages),
            options=request.options,
            stream=True,
        )
        return await _stream(parts, lambda part: part.message.content or "", request, ctx)


@asynccontextmanager
async def _answering(request: OllamaRequest) -> AsyncIterator[AsyncClient]:
    """A client for ``request``'s server, its errors turned into step failures, the whole
    exchange bounded by ``request.timeout``."""
    import httpx
    from ollama import AsyncClient, ResponseError

    try:
        async with asyncio.timeout(request.timeout) as deadline:
            async with AsyncClient(host=request.host) as client:
                try:
                    yield client
                except ResponseError as exc:
                    if exc.status_code != 404:
                        raise
                    pulled = await _pulled(client)
                    raise _missing(request, exc.error, pulled) from None
    except TimeoutError:
        if not deadline.expired():
            raise
        raise failed(
            f"{request.model} did not finish within {request.timeout:g}s",
            "raise `timeout`, or use a smaller model",
        ) from None
    except (ConnectionError, httpx.ConnectError):  # nothing listens (the client raises
        raise _server_down(request) from None  # the first for a plain call, the second streaming
    except ResponseError as exc:
        raise _refused(request, exc.error, exc.status_code) from None
    except httpx.HTTPError as exc:
        raise failed(
            f"the exchange with Ollama at {request.shown_host} broke: {exc or type(exc).__name__}",
            "check the server's log (`ollama serve` prints it)",
        ) from None


async def _stream(
    parts: AsyncIterator[Any],
    text_of: Callable[[Any], str],
    request: OllamaRequest,
    ctx: BridgeContext,
) -> Outputs:
    """Read the answer's parts into the log and progress events; the outputs at the end."""
    answer: list[str] = []
    pending = ""
    tokens = 0
    async for part in parts:
        piece = text_of(part)
        tokens += 1 if piece else 0
        answer.append(piece)
        pending += piece
        pending = _flush(pending, tokens, ctx, final=False)
        if part.done and part.eval_count:
            tokens = part.eval_count
    _flush(pending, tokens, ctx, final=True)
    text = "".join(answer)
    return {"text": text, "model": request.model, "tokens": str(tokens)}


def _flush(pending: str, tokens: int, ctx: BridgeContext, *, final: bool) -> str:
    """Write the complete lines of ``pending`` (all of it when ``final`` or long) to the log;
    return what is left."""
    cut = len(pending) if final or len(pending) >= FLUSH_AT else pending.rfind("\n") + 1
    if cut == 0:
        return pending
    done, rest = pending[:cut], pending[cut:]
    ctx.log(done if done.endswith("\n") or not final else done + "\n")
    last = done.rstrip("\n").rsplit("\n", 1)[-1]
    ctx.emit(
        STEP_PROGRESS.name,
        StepProgress(message=last[:_SHOWN], current=tokens, unit="tokens"),
    )
    return rest


def _server_down(request: OllamaRequest) -> StepFailed:
    return failed(
        f"no Ollama server answers at {request.shown_host}",
        "start it with `ollama serve`, or point OLLAMA_HOST (or `host:` in with:) at it",
    )


async def _pulled(client: AsyncClient) -> list[str] | None:
    """The models the server has (``/api/tags``), or None when it will not say."""
    from ollama import ResponseError

    try:
        listed = await client.list()
    except (ResponseError, ConnectionError, OSError):
        return None
    return sorted(m.model for m in listed.models if m.model)


def _missing(request: OllamaRequest, error: str, pulled: list[str] | None) -> StepFailed:
    there = "" if pulled is None else f"; it has {', '.join(pulled) or 'none'}"
    return failed(
        f"model {request.model!r} is not on the Ollama server at {request.shown_host}"
        f" ({error}){there}",
        f"run `ollama pull {request.model}`",
    )


def _refused(request: OllamaRequest, error: str, status: int) -> StepFailed:
    if "not found" in error.lower():
        return _missing(request, error, None)
    shown = f"status {status}" if status > 0 else "mid-answer"
    return failed(f"Ollama at {request.shown_host} refused ({shown}): {error}")
