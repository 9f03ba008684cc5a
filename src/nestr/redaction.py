"""Keeping secrets out of what nestr writes for people: messages, logs, events and crash logs.

Two kinds of secret reach nestr's text by accident: a password in a URL's userinfo
(``https://ci-bot:TOKEN@host/a.git``, which git commands, errors and events quote), and a secret
setting given on the command line or in the environment (``--set server.token=…``,
``NESTR_SERVER__TOKEN``) that a crash log would copy. A URL keeps its user name and loses its
password (``https://ci-bot:***@host/a.git``); a secret value becomes ``***``.

Standard library only: :mod:`nestr.errors` uses it, and every layer imports that.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

MASK = "***"

# scheme://user:password@ — the password runs to the last "@" before a "/" or blank (an
# unescaped "@" in it is hidden too). Quotes, brackets and backslashes end the match: the text
# may be JSON, or quote the URL.
_URL_PASSWORD = re.compile(r"(\b[A-Za-z][A-Za-z0-9+.-]*://[^\s/@:\"'<>\\]*:)[^\s/\"'<>\\]+@")
# https://TOKEN@host: over HTTP a user name alone is how tokens are often given (GitHub takes a
# token as the user name), so there the whole userinfo goes; ssh's git@host keeps its user.
_HTTP_USER_ONLY = re.compile(r"(\bhttps?://)[^\s/@:\"'<>\\]+@", re.IGNORECASE)
# A key or variable name that holds a secret by its name.
_SECRET_NAME = re.compile(r"token|passw|secret|key|credential", re.IGNORECASE)
# NAME=value on a command line (an assignment of an environment variable or a setting).
_ASSIGNMENT = re.compile(r"^(-*[A-Za-z_][\w.-]*)=(.+)$", re.DOTALL)
# Shorter values are left alone when scrubbing text: replacing "1" everywhere hides nothing.
_MIN_SCRUB = 6


def redact_url(text: str) -> str:
    """``text`` with the password of every URL replaced by ``***`` (the user name stays, but
    for an http(s) URL whose userinfo is a user name alone, which may be a token)."""
    if "://" not in text or "@" not in text:  # the common case costs two scans
        return text
    return _HTTP_USER_ONLY.sub(rf"\1{MASK}@", _URL_PASSWORD.sub(rf"\1{MASK}@", text))


def redact_data(value: Any) -> Any:
    """``value`` (JSON-like: dicts, lists, strings) with URL passwords redacted in every string.

    Returns ``value`` itself when nothing needed hiding (the common case copies nothing).
    """
    if isinstance(value, str):
        return redact_url(value)
    if isinstance(value, Mapping):
        items = {k: redact_data(v) for k, v in value.items()}
        return value if all(items[k] is v for k, v in value.items()) else items
    if isinstance(value, list | tuple):
        parts = [redact_data(v) for v in value]
        same = all(a is b for a, b in zip(parts, value, strict=True))
        return value if same else type(value)(parts)
    return value


def is_secret_name(name: str, secret_keys: Iterable[str] = ()) -> bool:
    """True for a setting in ``secret_keys`` or a name that says it holds a secret."""
    return name in set(secret_keys) or bool(_SECRET_NAME.search(name))


def redact_argv(args: Sequence[str], secret_keys: Iterable[str] = ()) -> list[str]:
    """A command line fit for a log: secret ``--set``/``NAME=`` values and URL passwords hidden.

    ``--set KEY=VALUE`` and ``--set=KEY=VALUE`` hide VALUE when KEY is a secret setting or
    looks like one; so does any ``NAME=VALUE`` word (``env GITHUB_TOKEN=… cmd``); the word
    after an option named like a secret (``--token VALUE``) is hidden whole.
    """
    keys = frozenset(secret_keys)
    out: list[str] = []
    hide_next = False
    for arg in args:
        if hide_next:
            out.append(MASK)
            hide_next = False
            continue
        out.append(_redact_word(arg, keys))
        hide_next = arg.startswith("--") and "=" not in arg and is_secret_name(arg[2:], keys)
    return out


def _redact_word(arg: str, keys: frozenset[str]) -> str:
    prefix, word = ("--set=", arg[len("--set=") :]) if arg.startswith("--set=") else ("", arg)
    match = _ASSIGNMENT.match(word)
    if match and is_secret_name(match.group(1).lstrip("-"), keys):
        return f"{prefix}{match.group(1)}={MASK}"
    return redact_url(arg)


def secret_values(
    args: Sequence[str], environ: Mapping[str, str], secret_keys: Iterable[str] = ()
) -> set[str]:
    """The secret values a command line and an environment hold (to scrub them from text)."""
    keys = frozenset(secret_keys)
    found = {v for k, v in environ.items() if is_secret_name(k, keys)}
    for arg, hidden in zip(args, redact_argv(args, keys), strict=True):
        if hidden != arg and MASK not in arg:
            found.update(_hidden_parts(arg, hidden))
    return {v for v in found if len(v) >= _MIN_SCRUB}


def _hidden_parts(arg: str, hidden: str) -> list[str]:
    if hidden == MASK:
        return [arg]
    head = hidden.split(MASK, 1)[0]
    if arg.startswith(head) and hidden.endswith(f"={MASK}"):
        return [arg[len(head) :]]
    return []  # a URL: redact_url finds its password again


_HELD: set[str] = set()


def hold_secret(value: str) -> None:
    """Note a secret this process holds (a setting's value, from a file or a secrets dir), so
    that a crash log hides it too (:func:`held_secrets`)."""
    if len(value) >= _MIN_SCRUB:
        _HELD.add(value)


def held_secrets() -> frozenset[str]:
    """Every secret :func:`hold_secret` was told of."""
    return frozenset(_HELD)


def scrub(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every occurrence of each of ``secrets`` and every URL password hidden."""
    for secret in sorted(secrets, key=len, reverse=True):  # a longer secret may contain another
        text = text.replace(secret, MASK)
    return redact_url(text)
