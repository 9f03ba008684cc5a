"""The boundary model of the manifest's ``sync:`` section, checked by pydantic.

Only shapes and types live here; :mod:`nestr.sync.rules` checks what spans fields (a rule's
source exists, destinations stay inside the repo, selectors name known repos) and builds the
frozen domain values the planner reads.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from nestr.validation import model_keys
from nestr.yamlsource import KeyPath

MODE_PATTERN = r"^0?[0-7]{3}$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SourceSection(_Strict):
    """Where shared files come from: a directory beside the manifest, or a repo of the manifest."""

    name: str | None = Field(None, description="Name rules use in `source:` (default: path/repo).")
    path: str | None = Field(None, description="Directory, relative to the manifest.", min_length=1)
    repo: str | None = Field(
        None, description="A repo of the manifest (its checkout).", min_length=1
    )

    @field_validator("path")
    @classmethod
    def _fits_the_filesystem(cls, value: str | None) -> str | None:
        # Longer names make every stat() fail with ENAMETOOLONG instead of "does not exist".
        if value is not None and any(len(part.encode()) > 255 for part in value.split("/")):
            raise ValueError("each part of a path can be at most 255 bytes long")
        return value

    @model_validator(mode="after")
    def _one_kind(self) -> SourceSection:
        if (self.path is None) == (self.repo is None):
            raise ValueError("a source sets exactly one of `path` or `repo`")
        return self


class SelectorSection(_Strict):
    """Which repos a rule targets: any of `names` or `groups`, minus `exclude`."""

    names: list[str] = Field(default_factory=list, description="Repo names.")
    groups: list[str] = Field(default_factory=list, description="Repo groups.")
    exclude: list[str] = Field(default_factory=list, description="Repo names left out.")


class RuleSection(_Strict):
    """Shared files, where they go and how local edits are treated."""

    files: list[str] = Field(min_length=1, description="Paths or globs in the source.")
    source: str | None = Field(None, description="Source name (default: the first source).")
    dest: str | None = Field(
        None, description="Path in the target (a directory for globs or several files)."
    )
    template: bool = Field(False, description="Render with jinja2 (StrictUndefined, sandboxed).")
    repos: Literal["all"] | SelectorSection = Field("all", description="Target repos.")
    policy: Literal["merge", "overwrite", "create-only", "managed-block"] = Field(
        "merge", description="How local edits are treated."
    )
    mode: str | None = Field(None, pattern=MODE_PATTERN, description="Permissions, e.g. 0755.")
    delete: bool = Field(False, description="Delete targets of files removed from the source.")
    block: str | None = Field(
        None, min_length=1, description="Managed block id (default: the source file's path)."
    )


class SyncSection(_Strict):
    """The `sync:` section of nestr.yaml."""

    sources: list[SourceSection] = Field(min_length=1, description="Where shared files live.")
    vars: dict[str, Any] = Field(default_factory=dict, description="Template variables.")
    rules: list[RuleSection] = Field(default_factory=list, description="What goes where.")


def known_keys(key_path: KeyPath) -> list[str]:
    """Keys allowed at ``key_path`` (relative to ``sync``), for did-you-mean hints."""
    return model_keys(SyncSection, key_path)
