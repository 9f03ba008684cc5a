"""Cross-field checks of the repos that type-check, in a manifest file that as a whole does not.

The loader resolves repos (remotes, URLs, paths, duplicates) only after the whole file passed
type-checking, so one unknown key in one repo hid every unknown remote and duplicate path of the
others. For ``nestr manifest validate``, this module resolves the repos that type-check on their
own, with each broken one replaced by a stand-in at the same index (so positions and field names
stay right) whose problems, already reported, are dropped. It runs only when the parts every repo
depends on (``remotes``, ``defaults``) type-check; otherwise their errors would be echoed as
"unknown remote" in each repo.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from nestr.errors import InputError
from nestr.manifest.resolve import file_rewrites, resolve_file
from nestr.manifest.schema import ManifestFile
from nestr.yamlsource import YamlDocument

_STAND_IN = "__nestr_unchecked_"  # prefix of the name and path of a stand-in for a bad repo


def repo_problems(doc: YamlDocument) -> list[InputError]:
    """Resolution problems of the good repos of ``doc``, whose type-checking failed."""
    data = doc.data
    if not isinstance(data, dict) or not isinstance(data.get("repos"), list):
        return []
    try:
        ManifestFile.model_validate(data)
    except ValidationError as exc:
        locs = [item["loc"] for item in exc.errors(include_url=False)]
    else:
        return []  # nothing hides the resolver's checks: the loader ran them
    if any((loc and loc[0] in {"remotes", "defaults"}) or tuple(loc) == ("repos",) for loc in locs):
        return []
    bad = {loc[1] for loc in locs if len(loc) > 1 and loc[0] == "repos" and isinstance(loc[1], int)}
    repos = [_stand_in(i) if i in bad else repo for i, repo in enumerate(data["repos"])]
    kept = {key: data[key] for key in ("remotes", "defaults") if key in data}
    try:
        model = ManifestFile.model_validate({"version": 1, **kept, "repos": repos})
    except ValidationError:  # pragma: no cover - every part left was checked above
        return []
    _, errors = resolve_file(model, doc, file_rewrites(model))
    return [e for e in errors if not _about_stand_in(e, bad)]


def _stand_in(index: int) -> dict[str, Any]:
    name = f"{_STAND_IN}{index}__"
    return {"name": name, "url": name, "path": name}


def _about_stand_in(error: InputError, bad: set[int]) -> bool:
    own = any((error.field or "").startswith(f"repos[{i}].") for i in bad)
    return own or error.field in {f"repos[{i}]" for i in bad} or _STAND_IN in error.message
