"""Render templated shared files with jinja2, per target repo.

Templates run in jinja2's ``SandboxedEnvironment`` with ``StrictUndefined``: a template can read
variables but not reach into Python, and a missing variable is an error rather than an empty
string written into twenty repos. Variables: the global ``sync.vars``, overridden by the repo's
own ``vars``, both at top level and as ``vars``; and ``repo`` (name, path, url, revision,
groups, vars). Each template is compiled once and rendered for every repo.
"""

from __future__ import annotations

import hashlib
import json
import types
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from nestr.errors import InputError, SourceLocation
from nestr.manifest.model import RepoSpec


def template_vars(global_vars: Mapping[str, Any], repo: RepoSpec) -> dict[str, Any]:
    """The variables a template sees when rendered for ``repo``."""
    merged = {**global_vars, **repo.vars}
    return {
        **merged,
        "vars": merged,
        "repo": {
            "name": repo.name,
            "path": repo.path,
            "url": repo.url,
            "revision": repo.revision,
            "groups": list(repo.groups),
            "vars": dict(repo.vars),
        },
    }


def vars_hash(variables: Mapping[str, Any]) -> str:
    """A short stable hash of the merged variables, recorded so a change of them can be seen.

    Repo fields (url, revision) are left out so a URL rewrite does not touch every lock.
    """
    text = json.dumps(variables, sort_keys=True, default=str, separators=(",", ":"))
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()[:16]


class TemplateRenderer:
    """Compiles each template file once; renders it for any set of variables."""

    def __init__(self) -> None:
        from jinja2 import StrictUndefined
        from jinja2.sandbox import SandboxedEnvironment

        self._env = SandboxedEnvironment(
            undefined=StrictUndefined, keep_trailing_newline=True, autoescape=False
        )
        self._compiled: dict[Path, Any] = {}

    def render(self, path: Path, variables: Mapping[str, Any], *, repo: str) -> bytes:
        """Render the template file ``path`` with ``variables`` (UTF-8 in, UTF-8 out)."""
        import jinja2

        template = self._template(path)
        try:
            return str(template.render(variables)).encode("utf-8")
        except jinja2.TemplateError as exc:
            line = _template_line(exc.__traceback__, str(path))
            raise InputError(
                f"template failed for repo {repo!r}: {exc}",
                location=SourceLocation(file=path, line=line),
                hint="define the variable in sync.vars or in the repo's vars",
            ) from None

    def _template(self, path: Path) -> Any:
        if path not in self._compiled:
            self._compiled[path] = self._compile(path)
        return self._compiled[path]

    def _compile(self, path: Path) -> Any:
        import jinja2

        try:
            text = path.read_bytes().decode("utf-8")
        except UnicodeDecodeError:
            raise InputError(
                "a template must be UTF-8 text", location=SourceLocation(file=path)
            ) from None
        try:
            code = self._env.compile(text, name=path.name, filename=str(path))
        except jinja2.TemplateSyntaxError as exc:
            raise InputError(
                f"template syntax error: {exc.message}",
                location=SourceLocation(file=path, line=exc.lineno),
            ) from None
        return self._env.template_class.from_code(
            self._env, code, self._env.make_globals(None), None
        )


def _template_line(tb: types.TracebackType | None, filename: str) -> int | None:
    """The template line where rendering failed, from the innermost template frame."""
    # jinja2 rewrites the traceback of a failed render so template frames carry template lines.
    line = None
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == filename:
            line = tb.tb_lineno
        tb = tb.tb_next
    return line
