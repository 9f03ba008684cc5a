"""Fuzz: hostile YAML through the real loaders is refused with a located error, quickly.

Small valid manifests, imported manifests, workflow files and config files are mutated (byte
flips, alias bombs, recursive aliases, huge numbers, deep nesting, control characters, invalid
UTF-8, duplicated keys, wrong types, truncation) and fed through the real loaders and validators:
``load_manifest`` (with its imports and ``sync:`` rules), ``load_workflows`` and ``build_config``.
Every outcome must be a success or an :class:`InputError` whose every part names ``file:line``
(or the env var / flag a value came from) and holds no raw control character; anything else is a
crash. Hypothesis' deadline bounds each input at one second (a hang); 2,000 derandomized
examples take a few seconds.

Run as a script for figures over many inputs without stopping at the first failure::

    python tests/test_fuzz_inputs.py 2000 [FIRST_SEED]
"""

from __future__ import annotations

import random
import sys
import tempfile
import time
import unicodedata
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nestr.errors import InputError, MultipleInputErrors, NestrError

MANIFESTS = [
    b"""version: 1
remotes:
  - {name: gh, url_base: https://git.example.com/org}
defaults: {remote: gh, revision: main, clone: {depth: 1}}
group_filter: [-experimental]
repos:
  - name: api
    groups: [backend]
    vars: {port: 8080, tags: [a, b]}
  - {name: lib, url: /srv/git/lib.git, revision: v1.2, path: libs/lib}
imports:
  - path: lib.yaml
url_rewrites:
  - {from: "https://git.example.com/", to: "https://mirror.internal/"}
""",
    b"""version: 1
repos:
  - {name: app, url: /srv/git/app.git}
workflows:
  ci:
    steps:
      - {id: test, run: make test, timeout: 10m}
      - {id: tag, needs: [test], uses: noop, retry: {attempts: 2, initial: 1s}}
sync:
  sources: [{path: shared}]
  rules:
    - {files: [settings.cfg], repos: all, policy: merge}
""",
]
IMPORTED = b"""version: 1
defaults: {revision: v2}
repos:
  - {name: shared, url: "https://git.example.com/org/shared.git", groups: [backend]}
"""
WORKFLOWS = [
    b"""name: release
description: Test, then tag
inputs:
  version: {type: string, default: "0.1.0"}
concurrency: 4
defaults:
  timeout: 10m
  retry: {attempts: 2, backoff: exponential, initial: 1s, max: 30s}
  env: {CI: "1"}
steps:
  - id: test
    foreach: {groups: [backend]}
    run: make test
  - id: tag
    needs: [test]
    if: ${{ inputs.version != '' }}
    uses: noop
""",
    b"""steps:
  - {id: a, run: "true", timeout: 1h30m}
  - {id: b, needs: [a], run: echo hi, shell: true, continue_on_error: true}
""",
]
CONFIGS = [
    b"""jobs: 4
log: {level: debug, format: json}
git:
  timeout: 120
  fetch_freshness: 30
server: {listen: "127.0.0.1:7433"}
temporal: {namespace: default, task_queue: nestr}
""",
    b"""cache_dir: cache
git: {timeout: 10.5}
server:
  token_file: token.txt
""",
]
PLAIN_MANIFEST = b"version: 1\nrepos:\n  - {name: app, url: /srv/git/app.git}\n"

WRONG_VALUES = [
    b"[]",
    b"{}",
    b"1",
    b"true",
    b"null",
    b'"x"',
    b"-1",
    b"1e400",
    b".inf",
    b".nan",
    b"2001-13-45",
    b"!!binary zz",
    b"!!python/object:os.system x",
    b"0x1F",
    b"1:30:00",
    b"~",
    b"*undefined",
    b'"\\e]0;TITLE\\a"',
    b'"a\\nb"',
]
CONTROL = [
    b"\x1b]0;TITLE\x07",
    b"\x00",
    b"\x1b[31m",
    b"\r",
    b"\x85",
    b"\xe2\x80\xa8",
    b"\t",
    b"\x7f",
]
BAD_UTF8 = [b"\x80", b"\xff", b"\xc3", b"\xe2\x82", b"\xed\xa0\x80", b"\xf8\x88\x80\x80\x80"]


def _lines(text: bytes) -> list[bytes]:
    return text.split(b"\n")


def _flip(rng: random.Random, text: bytes) -> bytes:
    if not text:
        return bytes([rng.randrange(256)])
    at = rng.randrange(len(text))
    return text[:at] + bytes([rng.randrange(256)]) + text[at + 1 :]


def _insert(rng: random.Random, text: bytes, piece: bytes) -> bytes:
    at = rng.randrange(len(text) + 1)
    return text[:at] + piece + text[at:]


def _replace_value(rng: random.Random, text: bytes, value: bytes) -> bytes:
    """Put ``value`` after the ``:`` of a random ``key: value`` line (or append a new key)."""
    lines = _lines(text)
    keyed = [i for i, line in enumerate(lines) if b": " in line]
    if not keyed:
        return text + b"\nextra: " + value + b"\n"
    i = rng.choice(keyed)
    head = lines[i].split(b": ", 1)[0]
    lines[i] = head + b": " + value
    return b"\n".join(lines)


def _alias_bomb(rng: random.Random, text: bytes) -> bytes:
    levels, width = rng.randint(4, 10), rng.randint(2, 10)
    out = [b"a0: &a0 [" + b",".join([b"lol"] * width) + b"]"]
    for i in range(1, levels):
        refs = b",".join([b"*a%d" % (i - 1)] * width)
        out.append(b"a%d: &a%d [%s]" % (i, i, refs))
    bomb = b"\n".join(out)
    if rng.random() < 0.5:
        return text.rstrip(b"\n") + b"\n" + bomb + b"\n"
    # the bomb's last level as the value of an existing key
    return b"\n".join(out[:-1]) + b"\n" + _replace_value(rng, text, b"*a%d" % (levels - 2))


def _merge_bomb(rng: random.Random, text: bytes) -> bytes:
    levels = rng.randint(4, 9)
    out = [b"m0: &m0 {k: v}"]
    for i in range(1, levels):
        refs = b", ".join([b"*m%d" % (i - 1)] * 9)
        out.append(b"m%d: &m%d {<<: [%s]}" % (i, i, refs))
    return text.rstrip(b"\n") + b"\n" + b"\n".join(out) + b"\n"


def _recursive_alias(rng: random.Random, text: bytes) -> bytes:
    shapes = [
        b"&r [ {name: a, url: /x, vars: {self: *r}} ]",
        b"&r {a: *r}",
        b"&r [*r]",
    ]
    return _replace_value(rng, text, rng.choice(shapes))


def _huge_int(rng: random.Random, text: bytes) -> bytes:
    digits = rng.choice([309, 400, 4300, 4301, 6000, 20000])
    return _replace_value(rng, text, b"1" + b"0" * (digits - 1))


def _deep(rng: random.Random, text: bytes) -> bytes:
    depth = rng.choice([50, 200, 990, 1200, 5000])
    if rng.random() < 0.5:
        return _replace_value(rng, text, b"[" * depth + b"]" * depth)
    return _replace_value(rng, text, b"{a: " * depth + b"1" + b"}" * depth)


def _control(rng: random.Random, text: bytes) -> bytes:
    return _insert(rng, text, rng.choice(CONTROL))


def _bad_utf8(rng: random.Random, text: bytes) -> bytes:
    return _insert(rng, text, rng.choice(BAD_UTF8))


def _duplicate_line(rng: random.Random, text: bytes) -> bytes:
    lines = _lines(text)
    i = rng.randrange(len(lines))
    lines.insert(i, lines[i])
    return b"\n".join(lines)


def _wrong_type(rng: random.Random, text: bytes) -> bytes:
    return _replace_value(rng, text, rng.choice(WRONG_VALUES))


def _truncate(rng: random.Random, text: bytes) -> bytes:
    return text[: rng.randrange(len(text) + 1)]


def _emptyish(rng: random.Random, text: bytes) -> bytes:
    return rng.choice([b"", b"\n", b"# only a comment\n", b"---\n", b"...\n", b"null\n", b"[]\n"])


Mutation = Callable[[random.Random, bytes], bytes]
MUTATIONS: list[Mutation] = [
    _flip,
    _flip,
    _alias_bomb,
    _merge_bomb,
    _recursive_alias,
    _huge_int,
    _deep,
    _control,
    _bad_utf8,
    _duplicate_line,
    _duplicate_line,
    _wrong_type,
    _wrong_type,
    _wrong_type,
    _truncate,
    _emptyish,
]

KINDS = ("manifest", "import", "workflow", "config", "set", "env")
FLAG_KEYS = [b"jobs", b"git.timeout", b"git.fetch_freshness", b"log.level", b"server.token_file"]
FLAG_VALUES = [*WRONG_VALUES, *CONTROL, *BAD_UTF8, b"inf", b"1" + b"0" * 400, b"9" * 5000, b"a b"]


def make_input(rng: random.Random) -> tuple[str, bytes]:
    """A kind of input and a mutated text for it (``KEY=VALUE`` for a flag or variable)."""
    kind = rng.choice(KINDS)
    if kind in {"set", "env"}:
        text = rng.choice(FLAG_KEYS) + b"=" + rng.choice(FLAG_VALUES)
        return kind, _flip(rng, text) if rng.random() < 0.3 else text
    seeds = {"manifest": MANIFESTS, "import": [IMPORTED], "workflow": WORKFLOWS}
    text = rng.choice(seeds.get(kind, CONFIGS))
    for _ in range(rng.randint(1, 3)):
        text = rng.choice(MUTATIONS)(rng, text)
    return kind, text


def feed(kind: str, text: bytes, root: Path) -> None:
    """Write ``text`` where ``kind`` says and run the loaders that read it."""
    from nestr.config.build import build_config
    from nestr.config.layers import LayerInputs
    from nestr.manifest.loader import load_manifest
    from nestr.sync.rules import load_sync_config
    from nestr.workflow.loading import load_workflows

    (root / "shared").mkdir()
    (root / "token.txt").write_text("s3cret\n")
    (root / "lib.yaml").write_bytes(IMPORTED)
    manifest = root / "nestr.yaml"
    environ = {"HOME": str(root / "home"), "XDG_CONFIG_HOME": str(root / "xdg")}
    if kind in {"config", "set", "env"}:
        sets = []
        if kind == "config":
            (root / "nestr.config.yaml").write_bytes(text)
        elif kind == "set":
            sets.append(text.decode("utf-8", "surrogateescape"))
        else:  # bytes of a variable arrive as Python decodes os.environ; NUL cannot be in one
            key, _, value = (
                text.replace(b"\0", b"").decode("utf-8", "surrogateescape").partition("=")
            )
            environ["NESTR_" + key.upper().replace(".", "__")] = value
        build_config(LayerInputs(cwd=root, environ=environ, sets=sets, system_dir=root / "etc"))
        return
    if kind == "manifest":
        manifest.write_bytes(text)
    elif kind == "import":
        manifest.write_bytes(MANIFESTS[0])
        (root / "lib.yaml").write_bytes(text)
    else:
        manifest.write_bytes(PLAIN_MANIFEST)
        (root / "workflows").mkdir()
        (root / "workflows" / "ci.yaml").write_bytes(text)
    loaded = load_manifest(manifest)
    load_sync_config(loaded)
    load_workflows(loaded)


def problem(exc: BaseException) -> str | None:
    """What is wrong with the way an input was refused (None: a good, located input error)."""
    if not isinstance(exc, NestrError):
        return f"crash: {type(exc).__name__}: {str(exc)[:200]}"
    if not isinstance(exc, InputError):
        return f"not an input error: {exc.message[:200]!r}"
    for leaf in exc.errors if isinstance(exc, MultipleInputErrors) else [exc]:
        loc = leaf.location
        if loc is None or (loc.file is None and loc.origin is None):
            return f"unlocated: {leaf.message[:200]!r}"
        if loc.file is not None and loc.line is None:
            return f"no line: {leaf.message[:200]!r}"
        if any(unicodedata.category(c) == "Cc" for c in leaf.message + (leaf.hint or "")):
            return f"raw control character: {leaf.message[:200]!r}"
    return None


def _check(kind: str, text: bytes) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        try:
            feed(kind, text, Path(tmp))
        except Exception as exc:
            found = problem(exc)
            if found is not None:
                raise AssertionError(f"{kind} input {text[:300]!r}: {found}") from exc


def warm_up() -> None:
    """Load every seed once (each must be valid): imports and first-use set-up must not count
    against the deadline."""
    seeds = {"manifest": MANIFESTS, "import": [IMPORTED], "workflow": WORKFLOWS, "config": CONFIGS}
    for kind, texts in seeds.items():
        for text in texts:
            with tempfile.TemporaryDirectory() as tmp:
                feed(kind, text, Path(tmp))


@pytest.fixture(scope="module")
def warm() -> None:
    warm_up()


@pytest.mark.timeout(300)  # a hang fails the suite instead of stalling it
@settings(
    max_examples=2000,
    deadline=timedelta(seconds=1),
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(st.randoms(use_true_random=False))
def test_hostile_inputs_are_refused_with_a_location(warm: None, rng: random.Random) -> None:
    """Mutated manifests, imports, workflows and config files load or fail with file:line."""
    _check(*make_input(rng))


def report(count: int, start: int = 0, limit: float = 5.0) -> dict[str, int]:
    """Figures over ``count`` inputs (seeds from ``start``): crashes, hangs (> 1 s) and errors
    that are badly located or hold raw control characters.

    A SIGALRM after ``limit`` seconds stops an input that hangs (pure-Python loops only).
    """
    import signal

    class _Stuck(Exception):
        pass

    def _alarm(signum: int, frame: object) -> None:
        raise _Stuck

    warm_up()
    signal.signal(signal.SIGALRM, _alarm)
    figures = {"tried": 0, "ok": 0, "located": 0, "crash": 0, "hang": 0, "unlocated": 0}
    for seed in range(start, start + count):
        kind, text = make_input(random.Random(seed))
        figures["tried"] += 1
        started = time.perf_counter()
        signal.setitimer(signal.ITIMER_REAL, limit)
        outcome: str | None = "ok"
        try:
            with tempfile.TemporaryDirectory() as tmp:
                feed(kind, text, Path(tmp))
        except _Stuck:
            outcome = "hang"
        except BaseException as exc:
            found = problem(exc)
            outcome = "located" if found is None else found.split(":")[0]
            if found is not None:
                print(f"{seed} {kind}: {found}", file=sys.stderr)
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
        if outcome in {"ok", "located"} and time.perf_counter() - started > 1.0:
            outcome = "hang"
        if outcome == "hang":
            print(f"{seed} {kind}: hang {text[:80]!r}", file=sys.stderr)
        key = {"not an input error": "unlocated", "no line": "unlocated"}.get(outcome, outcome)
        key = "unlocated" if key == "raw control character" else key
        figures[key] = figures.get(key, 0) + 1
    return figures


if __name__ == "__main__":
    print(report(*(int(arg) for arg in sys.argv[1:3])) if sys.argv[1:] else report(1000))
