"""west manifests (``west.yml``) → nestr.yaml data, with west's imports followed.

west's model maps closely onto nestr's: remotes with ``url-base``, ``defaults``, projects with
``repo-path``, ``path``, ``revision``, ``groups`` and the same ``group-filter`` semantics. The
root file's remotes and defaults are kept as nestr ``remotes`` and ``defaults``; a project from
an imported file is written with its full ``url`` and ``revision``, resolved with that file's
own remotes and defaults. Imports follow west (see ``westimports``): ``self: import:`` reads
files of the manifest repository, a project's ``import:`` reads files of that project at its
revision through the :class:`ProjectFiles` callback; the first definition of a name wins, and
group filters take west's precedence. What nestr cannot express (``self: path``,
``west-commands``, ``submodules``, ``userdata``) is reported by name. west's default revision is
``master`` (west docs, "Defaults"), so it is written out explicitly.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from nestr.manifest.conversion import Conversion
from nestr.manifest.importers.common import bad, mapping, sequence, text, unhandled
from nestr.manifest.importers.westimports import (
    MAX_DEPTH,
    Context,
    ImportMap,
    ProjectFiles,
    Source,
    import_maps,
    read_docs,
    repository_root,
)
from nestr.yamlsource import KeyPath, YamlDocument, format_key_path

WEST_DEFAULT_REVISION = "master"
PROJECT_KEYS = {
    "name": "name",
    "remote": "remote",
    "repo-path": "repo_path",
    "url": "url",
    "revision": "revision",
    "path": "path",
}
MANIFEST_KEYS = ("version", "remotes", "defaults", "group-filter", "projects", "self")
_WHERE: KeyPath = ("manifest",)


def import_west(doc: YamlDocument, project_files: ProjectFiles | None = None) -> Conversion:
    """Translate a parsed ``west.yml`` into nestr.yaml data, following its imports.

    Without ``project_files``, projects' ``import:`` are not followed and are reported.
    """
    body = _body(doc)
    data: dict[str, Any] = {"version": 1}
    remotes = [_remote(doc, (*_WHERE, "remotes", i), r) for i, r in _items(doc, body, "remotes")]
    if remotes:
        data["remotes"] = remotes
    data["defaults"] = _defaults(doc, (*_WHERE, "defaults"), body.get("defaults"))
    walker = _Walker(project_files)
    root = Context(chain=(str(doc.path.resolve()),))
    walker.walk(doc, Source(directory=repository_root(doc.path)), root, top=True)
    group_filter = [entry for entries in reversed(walker.group_filters) for entry in entries]
    if group_filter:
        data["group_filter"] = group_filter
    data["repos"] = [found.repo for found in walker.projects.values()]
    return Conversion(data=data, warnings=tuple(walker.warnings))


def _body(doc: YamlDocument) -> Mapping[str, Any]:
    top = mapping(doc, (), doc.data)
    if "manifest" not in top:
        raise bad(doc, (), "not a west manifest: no top-level 'manifest:'", "pass a west.yml")
    return mapping(doc, _WHERE, top["manifest"])


@dataclass
class _Found:
    """A project as nestr writes it, and where its files are read from."""

    repo: dict[str, Any]
    url: str
    revision: str


@dataclass
class _FileDefaults:
    """A west file's remotes (name → url-base) and defaults, to resolve its projects."""

    remotes: dict[str, str]
    remote: str | None
    revision: str


@dataclass
class _Walker:
    """Resolves one west manifest and its imports into projects, in west's order."""

    files: ProjectFiles | None
    projects: dict[str, _Found] = field(default_factory=dict)
    group_filters: list[list[str]] = field(default_factory=list)  # in loading order
    warnings: list[str] = field(default_factory=list)
    seen: set[tuple[str, tuple[ImportMap, ...], str]] = field(default_factory=set)

    def walk(self, doc: YamlDocument, source: Source, ctx: Context, *, top: bool) -> None:
        body = _body(doc)
        self.warnings.extend(unhandled(doc, _WHERE, body, MANIFEST_KEYS))
        own = mapping(doc, (*_WHERE, "self"), body.get("self"))
        if "import" in own:
            self._self_import(doc, (*_WHERE, "self", "import"), own["import"], source, ctx)
        if top:
            self.warnings.extend(_self_notes(doc, own))
        entries = _items(doc, body, "group-filter")
        self.group_filters.append([text(doc, (*_WHERE, "group-filter", i), g) for i, g in entries])
        defaults = _file_defaults(doc, body)
        follow: list[tuple[KeyPath, _Found, Any]] = []
        names: set[str] = set()
        for index, raw in _items(doc, body, "projects"):
            where = (*_WHERE, "projects", index)
            found, notes = self._project(doc, where, raw, defaults, ctx, top=top)
            name, path = found.repo["name"], found.repo.get("path", found.repo["name"])
            if name in names:
                raise bad(doc, (*where, "name"), f"project {name!r} is defined twice in this file")
            names.add(name)
            if not ctx.allows(name, path) or name in self.projects:
                continue
            self.projects[name] = found
            self.warnings.extend(notes)
            if raw.get("import") not in (None, False):
                follow.append(((*where, "import"), found, raw["import"]))
        for where, found, imp in follow:
            self._project_import(doc, where, found, imp, ctx)

    def _project(
        self,
        doc: YamlDocument,
        where: KeyPath,
        raw: Any,
        defaults: _FileDefaults,
        ctx: Context,
        *,
        top: bool,
    ) -> tuple[_Found, list[str]]:
        repo, notes = _project(doc, where, raw)
        project = mapping(doc, where, raw)
        imp = project.get("import")
        own_prefix = ""
        if isinstance(imp, dict):
            own_prefix = import_maps(doc, (*where, "import"), imp)[0][1].path_prefix
        path = ctx.path(own_prefix, repo.get("path", repo["name"]))
        url = _url(doc, where, repo, defaults)
        revision = repo.get("revision", defaults.revision)
        if not top:  # written with everything its own file's remotes and defaults imply
            repo = {k: v for k, v in repo.items() if k not in {"remote", "repo_path"}}
            repo.update(url=url, revision=revision)
        repo.pop("path", None)
        if path != repo["name"]:
            repo["path"] = path
        if self.files is None and imp not in (None, False):
            notes.append(_project_note(doc, where, repo["name"], "import"))
        return _Found(_ordered(repo), url, revision), notes

    def _self_import(
        self, doc: YamlDocument, where: KeyPath, raw: Any, source: Source, ctx: Context
    ) -> None:
        if isinstance(raw, list):
            for index, item in enumerate(raw):
                self._self_import(doc, (*where, index), item, source, ctx)
            return
        if isinstance(raw, bool) or not isinstance(raw, str | dict):
            raise bad(
                doc, where, f"self: import: expected a path, a mapping or a list; found {raw!r}"
            )
        for at, imap in import_maps(doc, where, raw):
            self._follow(doc, at, source, imap.file, ctx, imap)

    def _project_import(
        self, doc: YamlDocument, where: KeyPath, found: _Found, raw: Any, ctx: Context
    ) -> None:
        if self.files is None:
            return
        source = Source(project=(found.repo["name"], found.url, found.revision))
        for at, imap in import_maps(doc, where, raw):
            self._follow(doc, at, source, imap.file, ctx, imap)

    def _follow(
        self,
        doc: YamlDocument,
        where: KeyPath,
        source: Source,
        path: str,
        ctx: Context,
        imap: ImportMap,
    ) -> None:
        for key, sub in read_docs(doc, where, source, path, self.files):
            if key in ctx.chain:
                names = " → ".join((*ctx.chain, key))
                raise bad(doc, where, f"import cycle: {names}", "remove one of these imports")
            if len(ctx.chain) >= MAX_DEPTH:
                raise bad(doc, where, f"imports nest deeper than {MAX_DEPTH} files")
            inner = ctx.entering(imap, key)
            terms = (key, inner.filters, inner.prefix)
            if terms in self.seen:
                continue  # a diamond: this file was resolved under the same terms already
            self.seen.add(terms)
            self.walk(sub, source, inner, top=False)


def _items(doc: YamlDocument, body: Mapping[str, Any], key: str) -> list[tuple[int, Any]]:
    return list(enumerate(sequence(doc, (*_WHERE, key), body.get(key))))


def _remote(doc: YamlDocument, where: KeyPath, raw: Any) -> dict[str, str]:
    remote = mapping(doc, where, raw)
    for key in ("name", "url-base"):
        if key not in remote:
            raise bad(doc, where, f"remote has no {key!r}", "west remotes need name and url-base")
    return {
        "name": text(doc, (*where, "name"), remote["name"]),
        "url_base": text(doc, (*where, "url-base"), remote["url-base"]),
    }


def _defaults(doc: YamlDocument, where: KeyPath, raw: Any) -> dict[str, str]:
    defaults = mapping(doc, where, raw)
    out = {}
    if "remote" in defaults:
        out["remote"] = text(doc, (*where, "remote"), defaults["remote"])
    revision = defaults.get("revision", WEST_DEFAULT_REVISION)
    out["revision"] = text(doc, (*where, "revision"), revision)
    return out


def _file_defaults(doc: YamlDocument, body: Mapping[str, Any]) -> _FileDefaults:
    remotes = [_remote(doc, (*_WHERE, "remotes", i), r) for i, r in _items(doc, body, "remotes")]
    defaults = _defaults(doc, (*_WHERE, "defaults"), body.get("defaults"))
    return _FileDefaults(
        {r["name"]: r["url_base"].rstrip("/") for r in remotes},
        defaults.get("remote"),
        defaults["revision"],
    )


def _url(doc: YamlDocument, where: KeyPath, repo: dict[str, Any], defaults: _FileDefaults) -> str:
    if "url" in repo:
        return str(repo["url"])
    remote = repo.get("remote", defaults.remote)
    if remote is None or remote not in defaults.remotes:
        raise bad(
            doc,
            where,
            f"project {repo['name']!r} has no url and "
            + (f"names unknown remote {remote!r}" if remote else "no remote"),
            f"defined remotes: {', '.join(defaults.remotes) or 'none'}",
        )
    return f"{defaults.remotes[remote]}/{str(repo.get('repo_path', repo['name'])).strip('/')}"


def _project(doc: YamlDocument, where: KeyPath, raw: Any) -> tuple[dict[str, Any], list[str]]:
    project = mapping(doc, where, raw)
    if "name" not in project:
        raise bad(doc, where, "project has no 'name'", "every west project needs a name")
    repo: dict[str, Any] = {}
    for west_key, nestr_key in PROJECT_KEYS.items():
        if west_key in project:
            repo[nestr_key] = text(doc, (*where, west_key), project[west_key])
    if "groups" in project:
        groups = sequence(doc, (*where, "groups"), project["groups"])
        repo["groups"] = [text(doc, (*where, "groups", i), g) for i, g in enumerate(groups)]
    if "clone-depth" in project:
        depth = project["clone-depth"]
        if not isinstance(depth, int) or isinstance(depth, bool) or depth < 1:
            raise bad(doc, (*where, "clone-depth"), f"expected a positive integer, found {depth!r}")
        repo["clone"] = {"depth": depth}
    known = (*PROJECT_KEYS, "groups", "clone-depth", "import")
    notes = [_project_note(doc, where, repo["name"], key) for key in project if key not in known]
    return repo, notes


_ORDER = ("name", "url", "remote", "repo_path", "revision", "path", "groups", "clone")


def _ordered(repo: dict[str, Any]) -> dict[str, Any]:
    return {key: repo[key] for key in _ORDER if key in repo}


REASONS = {
    "import": "project imports are followed only by `nestr manifest import`, which reads them"
    " through the mirror cache",
    "submodules": "nestr does not check out submodules",
    "west-commands": "nestr has no west extension commands",
    "userdata": "nestr keeps no west userdata; per-repo values belong in vars",
}


def _project_note(doc: YamlDocument, where: KeyPath, name: str, key: str) -> str:
    reason = REASONS.get(key, "nestr has no equivalent")
    return f"{doc.locate_key((*where, key))}: project {name!r} {key}: not imported ({reason})"


def _self_notes(doc: YamlDocument, own: Mapping[str, Any]) -> list[str]:
    notes = []
    for key, value in own.items():
        where = (*_WHERE, "self", key)
        at = f"{doc.locate_key(where)}: {format_key_path(where)}"
        if key == "import":
            continue
        if key == "path":
            notes.append(
                f"{at}: not imported (the manifest repository itself, at {value!r}, is not a "
                "repo of the west manifest; add it to repos if the workspace needs it)"
            )
        else:
            notes.append(f"{at}: not imported ({REASONS.get(key, 'nestr has no equivalent')})")
    return notes
