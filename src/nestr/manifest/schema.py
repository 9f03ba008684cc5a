"""The boundary model of ``nestr.yaml``: what a user may write, checked by pydantic.

These models only parse and type-check one file; ``nestr.manifest.resolve`` checks what spans
fields (remotes exist, paths are unique, ...) and builds the frozen domain values of
``nestr.manifest.model``. The JSON Schema that editors use comes from here too, so every field
carries a description.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, PositiveInt

from nestr.validation import model_keys
from nestr.yamlsource import KeyPath

# Same rules as west: a group name never starts with +/- and has no comma, colon or whitespace,
# so a group filter entry (`+name` / `-name`) is unambiguous.
GROUP_PATTERN = r"^[^\s,:+-][^\s,:]*$"
GROUP_FILTER_PATTERN = r"^[+-][^\s,:+-][^\s,:]*$"
NAME_PATTERN = r"^\S+$"
# A revision reaches git as an argument: it must not read as an option (``-…``), a range
# (``a..b``) or several words, nor carry control characters. git's own ref rules forbid all of
# these in branch and tag names (git-check-ref-format), so no real revision is refused.
REVISION_PATTERN = r"^(?!-)(?!.*\.\.)[^\s\x00-\x1f\x7f]+$"


def _check_name(value: str) -> str:
    if not re.fullmatch(NAME_PATTERN, value):
        raise ValueError("a name is one word: no spaces, not empty")
    return value


def _check_revision(value: str) -> str:
    problem: str
    if value.startswith("-"):
        problem = "starts with '-' (git would read it as an option)"
    elif re.search(r"[\s\x00-\x1f\x7f]", value):
        problem = "contains whitespace or a control character"
    elif ".." in value:
        problem = "contains '..' (a range, not one revision)"
    else:
        return value
    raise ValueError(f"revision {value!r} {problem}; write a branch, tag or commit id")


def _check_group(value: str) -> str:
    if not re.fullmatch(GROUP_PATTERN, value):
        raise ValueError(f"invalid group name {value!r}: no leading +/-, commas, colons or spaces")
    return value


def _check_filter(value: str) -> str:
    if not re.fullmatch(GROUP_FILTER_PATTERN, value):
        raise ValueError(f"invalid group filter entry {value!r}: write +group or -group")
    return value


Name = Annotated[
    str, AfterValidator(_check_name), Field(json_schema_extra={"pattern": NAME_PATTERN})
]
Revision = Annotated[
    str,
    AfterValidator(_check_revision),
    Field(min_length=1, json_schema_extra={"pattern": REVISION_PATTERN}),
]
Group = Annotated[
    str, AfterValidator(_check_group), Field(json_schema_extra={"pattern": GROUP_PATTERN})
]
FilterEntry = Annotated[
    str, AfterValidator(_check_filter), Field(json_schema_extra={"pattern": GROUP_FILTER_PATTERN})
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=False)


class CloneSection(_Strict):
    """How a repo is cloned: shallow (`depth`) and/or partial (`filter`)."""

    depth: PositiveInt | None = Field(
        None, description="Clone only this many commits of history (git clone --depth)."
    )
    filter: str | None = Field(
        None,
        description="Partial clone filter, e.g. blob:none (git clone --filter).",
        examples=["blob:none", "tree:0"],
    )


class RemoteSection(_Strict):
    """A named URL prefix that repos refer to with `remote:`."""

    name: Name = Field(description="Name repos use in `remote:`.")
    url_base: str = Field(
        description="URL prefix; a repo's URL is url_base + '/' + repo_path.", min_length=1
    )


class DefaultsSection(_Strict):
    """Values every repo of this file gets unless it sets its own."""

    remote: str | None = Field(None, description="Remote of repos that set neither url nor remote.")
    revision: Revision | None = Field(
        None, description="Branch, tag or commit of repos without `revision` (else main)."
    )
    clone: CloneSection | None = Field(None, description="Clone options of every repo.")


class RepoSection(_Strict):
    """One repository of the workspace."""

    name: Name = Field(description="Unique name of the repo in the workspace.")
    url: str | None = Field(
        None, description="Full clone URL; excludes `remote` and `repo_path`.", min_length=1
    )
    remote: str | None = Field(None, description="Remote whose url_base prefixes the URL.")
    repo_path: str | None = Field(
        None, description="Path below the remote's url_base (default: name).", min_length=1
    )
    revision: Revision | None = Field(
        None, description="Branch, tag or commit (default: defaults.revision, else main)."
    )
    path: str | None = Field(
        None,
        description="Checkout directory, relative to the workspace root (default: name).",
        min_length=1,
    )
    groups: list[Group] = Field(
        default_factory=list, description="Groups the repo belongs to (for group_filter and -g)."
    )
    clone: CloneSection | None = Field(None, description="Clone options for this repo only.")
    vars: dict[str, Any] = Field(
        default_factory=dict, description="Per-repo variables, e.g. for sync templates."
    )


class ImportSection(_Strict):
    """Another nestr manifest whose repos join this one (first definition of a name wins)."""

    path: str = Field(description="Path of the manifest, relative to this file.", min_length=1)


class UrlRewriteSection(_Strict):
    """Replace a URL prefix, e.g. to fetch from a mirror."""

    from_: str = Field(alias="from", description="Prefix to replace.", min_length=1)
    to: str = Field(description="Replacement prefix.")


class ManifestFile(_Strict):
    """A nestr manifest (nestr.yaml): the repos of a workspace and its workflows."""

    version: Literal[1] = Field(description="Format version; always 1.")
    remotes: list[RemoteSection] = Field(default_factory=list, description="Named URL prefixes.")
    defaults: DefaultsSection | None = Field(None, description="Defaults for every repo.")
    group_filter: list[FilterEntry] = Field(
        default_factory=list,
        description="'+group' enables, '-group' disables; the last mention of a group wins.",
    )
    repos: list[RepoSection] = Field(default_factory=list, description="The repositories.")
    imports: list[ImportSection] = Field(
        default_factory=list, description="Other nestr manifests to include."
    )
    url_rewrites: list[UrlRewriteSection] = Field(
        default_factory=list, description="URL prefix rewrites; the first matching rule wins."
    )
    workflows: dict[str, Any] = Field(
        default_factory=dict, description="Workflow definitions (see docs/workflows.md)."
    )
    sync: dict[str, Any] | None = Field(None, description="Shared-file sync rules (docs/sync.md).")


def manifest_json_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of ``nestr.yaml``, for editors and other tools."""
    schema = ManifestFile.model_json_schema(by_alias=True)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "nestr manifest"
    return schema


def known_keys(key_path: KeyPath) -> list[str]:
    """Keys allowed in the mapping at ``key_path`` (list indexes skipped), for did-you-mean."""
    return model_keys(ManifestFile, key_path)
