"""The top-level error handler: every outcome of a command becomes one exit code.

``NestrError`` → its message, hint and exit code (no traceback unless ``--debug``); click usage
errors → 2; Ctrl-C → 130; SIGTERM inside :func:`exit_on_sigterm` → 143; a closed pipe
(``nestr … | head``) → 0 quietly; anything else → a short apology and the path of a crash log
with versions and the traceback (pre-commit's ``error_handler`` does the same).
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable, Coroutine, Iterator, Sequence
from pathlib import Path
from typing import Any, TypeVar

import click

from nestr import __version__
from nestr.errors import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, NestrError

T = TypeVar("T")
EXIT_TERMINATED = 143  # 128 + SIGTERM: what a shell reports for a program SIGTERM ended


class Terminated(BaseException):
    """SIGTERM arrived inside :func:`exit_on_sigterm` (a BaseException, like Ctrl-C's)."""


@contextlib.contextmanager
def exit_on_sigterm() -> Iterator[None]:
    """Make SIGTERM end the block with :class:`Terminated`: exit 143, files closed, output flushed.

    For commands that only watch (``events --follow``, ``runs logs --follow``): by default
    SIGTERM kills Python on the spot, before ``finally`` blocks run and buffered output is written.
    """
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():  # handlers: main thread only
        yield
        return

    def terminate(_signum: int, _frame: object) -> None:
        raise Terminated

    previous = signal.signal(signal.SIGTERM, terminate)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def run_until_terminated(main: Coroutine[Any, Any, T]) -> T:
    """Run ``main`` on a new loop; SIGTERM cancels it and ends with :class:`Terminated`.

    For watching commands whose loop is busy in callbacks (a gRPC stream): a SIGTERM handler
    that raises in whatever callback runs would be swallowed by the loop's error handler, so
    the signal is taken by the loop and cancels the work instead.
    """
    import asyncio
    import signal

    async def watched() -> T:
        loop, task = asyncio.get_running_loop(), asyncio.current_task()
        assert task is not None
        stopped = False

        def stop() -> None:
            nonlocal stopped
            stopped = True
            task.cancel()

        loop.add_signal_handler(signal.SIGTERM, stop)
        try:
            return await main
        except asyncio.CancelledError:
            if stopped:
                raise Terminated from None
            raise
        finally:
            loop.remove_signal_handler(signal.SIGTERM)

    return asyncio.run(watched())


class PipeClosed(Exception):
    """The reader of stdout went away (``nestr … | head``).

    Raised instead of ``BrokenPipeError`` from inside the command, because click would turn an
    EPIPE into ``sys.exit(1)`` and a reader that stopped reading is not a failure.
    """


def handle_errors(run: Callable[[], Any], args: Sequence[str]) -> int:
    """Call ``run`` and translate whatever happens into an exit code."""
    debug = "--debug" in args or os.environ.get("NESTR_DEBUG", "") not in {"", "0"}
    try:
        result = run()
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except (click.exceptions.Abort, KeyboardInterrupt):
        click.echo("\ninterrupted", err=True)
        return EXIT_INTERRUPTED
    except Terminated:
        return EXIT_TERMINATED
    except NestrError as exc:
        report(exc, debug=debug)
        return exc.exit_code
    except BrokenPipeError:
        _silence_stdout()
        return EXIT_OK
    except PipeClosed:
        _silence_stdout()
        return EXIT_OK
    except Exception as exc:
        return _crash(exc, args)
    return result if isinstance(result, int) else EXIT_OK


def report(exc: NestrError, *, debug: bool = False) -> None:
    """Print a NestrError for people: ``error: …`` then ``hint: …``."""
    if debug:
        import traceback

        traceback.print_exception(exc, file=sys.stderr)
    from nestr.errors import MultipleInputErrors

    for error in exc.errors if isinstance(exc, MultipleInputErrors) else [exc]:
        click.echo(click.style("error: ", fg="red", bold=True) + error.message, err=True)
        if error.hint:
            click.echo(click.style("hint: ", fg="yellow") + error.hint, err=True)


def _silence_stdout() -> None:
    # Python flushes stdout at exit and would raise again; point it at /dev/null.
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # stdout is not a real file (in-process tests)
        pass
    finally:
        os.close(devnull)


def crash_dir() -> Path:
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "nestr" / "crash-logs"


def _crash(exc: Exception, args: Sequence[str]) -> int:
    import platform
    import traceback
    from datetime import UTC, datetime

    from nestr.config.settings import SECRET_KEYS
    from nestr.redaction import held_secrets, redact_argv, scrub, secret_values
    from nestr.session.environment import versions

    # The log is meant to be attached to a bug report: no secret from the command line, the
    # environment or a URL may reach it, nor the apology printed below.
    secrets = secret_values(args, os.environ, SECRET_KEYS) | held_secrets()
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    text = scrub(
        f"nestr {__version__}\npython {platform.python_version()} ({sys.executable})\n"
        f"git {versions()['git']}\nplatform {platform.platform()}\n"
        f"args {redact_argv(args, SECRET_KEYS)}\n\n" + "".join(traceback.format_exception(exc)),
        secrets,
    )
    path: Path | None = crash_dir() / f"crash-{stamp}-{os.getpid()}.log"
    try:
        assert path is not None
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    except OSError:
        path = None
    click.echo(
        click.style("error: ", fg="red", bold=True)
        + scrub(f"nestr hit an unexpected problem ({type(exc).__name__}: {exc}).", secrets)
        + " Sorry about that.",
        err=True,
    )
    if path is not None:
        click.echo(
            f"A crash log with the details is at {path}; please attach it to a bug report.",
            err=True,
        )
    else:
        click.echo(text, err=True)
    return EXIT_FAILED
