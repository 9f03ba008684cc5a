"""Git credentials from nestr's settings, handed to the gits nestr runs and to nothing else.

- An HTTPS token (``git.credentials.<name>``) reaches git through a credential helper nestr
  provides (:mod:`nestr.git.credential_helper`), configured for that one URL with
  ``GIT_CONFIG_COUNT``/``GIT_CONFIG_KEY_n``/``GIT_CONFIG_VALUE_n`` variables: nothing is written
  to any git config file, and the helper's command line names the variable that holds the token,
  never the token. The token is in the environment of git (and so of its helper) only; it is not
  in argv, URLs, ``.git/config``, logs, events or errors. The entry first empties the helper list
  for its URL, so a user's ``credential.helper=store`` is not asked to save nestr's token, and a
  stale token in a user's keychain does not shadow it. The helper answers only its host over its
  protocol: another host, or the same host over plain http, never gets the token.
- An SSH key (``git.ssh_key_file``) reaches ssh through ``GIT_SSH_COMMAND`` (``-i PATH -o
  IdentitiesOnly=yes``, the path quoted for the shell git runs it with).

:func:`configure` sets the credentials for the process (like logging's configuration: every
command builds its settings once); :func:`apply` is what :func:`nestr.git.runner.git_env` calls.
"""

from __future__ import annotations

import shlex
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from nestr.errors import ConfigError, SourceLocation


class SecretText(Protocol):
    """A secret that shows its value only when asked (``config.settings.Secret``)."""

    def get_secret_value(self) -> str: ...


class GitCredential(Protocol):
    """An HTTPS token for one host (``git.credentials.<name>`` of the settings)."""

    @property
    def host(self) -> str: ...
    @property
    def token(self) -> SecretText: ...
    @property
    def username(self) -> str: ...
    @property
    def protocol(self) -> str: ...


class GitSettings(Protocol):
    """The credential part of the ``git`` settings; git knows no config types."""

    @property
    def credentials(self) -> Sequence[GitCredential]: ...
    @property
    def ssh_key_file(self) -> Path | None: ...


# Not NESTR_*: a nestr started by a git hook must not read these as settings. Not kept by
# git_env's allow-list either, so a nestr inside a nestr does not pass them on.
TOKEN_VARIABLE = "GIT_NESTR_TOKEN_{}"  # noqa: S105 - the name of a variable, no secret
HELPER = Path(__file__).with_name("credential_helper.py")
SSH_BASE = "ssh -o BatchMode=yes"


@dataclass(frozen=True)
class GitCredentialEnv:
    """What git's environment gets: config entries (no secret) and variables (the tokens)."""

    config: tuple[tuple[str, str], ...] = ()
    variables: tuple[tuple[str, str], ...] = field(default=(), repr=False)  # tokens


_ACTIVE = GitCredentialEnv()


def configure(git: GitSettings, *, key_file_origin: SourceLocation | None = None) -> None:
    """Hand ``git``'s credentials to every git nestr runs from now on (none: hand none).

    Raises :class:`ConfigError` (exit 2) naming ``git.ssh_key_file`` when that file is missing.
    """
    global _ACTIVE  # noqa: PLW0603 - one set of credentials per process, like logging's setup
    _ACTIVE = credential_env(git, key_file_origin=key_file_origin)


def credential_env(
    git: GitSettings, *, key_file_origin: SourceLocation | None = None
) -> GitCredentialEnv:
    """The config entries and variables for ``git``'s credentials (checks the SSH key file)."""
    config: list[tuple[str, str]] = []
    variables: list[tuple[str, str]] = []
    for index, entry in enumerate(git.credentials):
        variable = TOKEN_VARIABLE.format(index)
        key = f"credential.{entry.protocol}://{entry.host}.helper"
        config += [(key, ""), (key, helper_command(entry, variable))]
        variables.append((variable, entry.token.get_secret_value()))
    if git.ssh_key_file is not None:
        variables.append(("GIT_SSH_COMMAND", ssh_command(git.ssh_key_file, key_file_origin)))
    return GitCredentialEnv(tuple(config), tuple(variables))


def helper_command(entry: GitCredential, variable: str) -> str:
    """``credential.helper`` value running nestr's helper for ``entry`` (``!`` runs a shell)."""
    # -I -S: the helper is one stdlib-only file; no site, no PYTHON* variables, no package.
    argv = [sys.executable, "-I", "-S", str(HELPER), entry.host, entry.protocol]
    return "!" + shlex.join([*argv, entry.username, variable])


def ssh_command(key_file: Path, origin: SourceLocation | None = None) -> str:
    """``GIT_SSH_COMMAND`` using ``key_file`` only; git runs it with ``sh -c``, hence quoting."""
    if not key_file.is_file():
        reason = "is not a file" if key_file.exists() else "does not exist"
        raise ConfigError(
            f"the SSH key file {str(key_file)!r} {reason}",
            location=origin,
            field="git.ssh_key_file",
            hint="set git.ssh_key_file (or NESTR_GIT__SSH_KEY_FILE) to your private key's path",
        )
    return f"{SSH_BASE} -i {shlex.quote(str(key_file))} -o IdentitiesOnly=yes"


def apply(env: dict[str, str], active: GitCredentialEnv | None = None) -> None:
    """Add the configured credentials to ``env``, a git process's environment, in place.

    Config entries go after any ``GIT_CONFIG_COUNT`` set the user gave (so they come last and
    win for their URL); a missing or broken count starts from zero.
    """
    active = _ACTIVE if active is None else active
    if active.config:
        count = _count(env)
        for offset, (key, value) in enumerate(active.config):
            env[f"GIT_CONFIG_KEY_{count + offset}"] = key
            env[f"GIT_CONFIG_VALUE_{count + offset}"] = value
        env["GIT_CONFIG_COUNT"] = str(count + len(active.config))
    env.update(active.variables)


def _count(env: Mapping[str, str]) -> int:
    raw = env.get("GIT_CONFIG_COUNT", "0")
    return int(raw) if raw.isdigit() else 0
