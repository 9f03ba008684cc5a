"""Loading nestr.yaml: defaults, remotes, rewrites, imports, group filter and checkout order."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nestr.manifest.loader import load_manifest, load_manifest_text
from nestr.manifest.model import CloneOptions
from nestr.manifest.paths import BadPath, is_inside, normalize_repo_path, parents_first

EXAMPLE = """\
version: 1
remotes:
  - name: materi
    url_base: https://git.example.com/materi/
defaults:
  remote: materi
  revision: develop
  clone: {depth: 1, filter: blob:none}
group_filter: [-experimental]
repos:
  - name: api
    groups: [backend]
    vars: {port: 8080}
  - name: worker
    revision: v2.3.1
    repo_path: team/worker
    clone: {depth: 5}
    groups: [experimental]
  - name: web
    path: apps//web/
  - name: platform-config
    url: https://git.example.com/platform/config.git
workflows:
  build: {steps: []}
sync:
  files: []
"""


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_remotes_and_paths_resolve_into_repo_specs(tmp_path: Path) -> None:
    """Remote url_base + repo_path, default revision, default path and clone options resolve."""
    manifest = load_manifest(write(tmp_path / "nestr.yaml", EXAMPLE))
    api, worker, web, config = manifest.repos
    assert api.url == "https://git.example.com/materi/api"
    assert (api.revision, api.path, dict(api.vars)) == ("develop", "api", {"port": 8080})
    assert api.clone == CloneOptions(depth=1, filter="blob:none")
    assert worker.url == "https://git.example.com/materi/team/worker"
    assert worker.revision == "v2.3.1"
    assert worker.clone == CloneOptions(depth=5, filter="blob:none")
    assert web.path == "apps/web"
    assert config.url == "https://git.example.com/platform/config.git"
    assert api.location.line == 11
    assert manifest.path == tmp_path / "nestr.yaml"


def test_raw_sections_and_group_filter_are_kept(tmp_path: Path) -> None:
    """workflows and sync are passed through raw; the group filter deactivates its groups."""
    manifest = load_manifest(write(tmp_path / "nestr.yaml", EXAMPLE))
    assert manifest.workflows == {"build": {"steps": []}}
    assert manifest.sync == {"files": []}
    assert manifest.group_filter == ("-experimental",)
    assert [r.name for r in manifest.active_repos()] == ["api", "web", "platform-config"]
    assert manifest.document is not None


def test_revision_defaults_to_main_without_defaults(tmp_path: Path) -> None:
    """A repo without revision and without defaults.revision tracks main."""
    text = "version: 1\nrepos:\n  - name: a\n    url: https://h/a.git\n"
    manifest = load_manifest(write(tmp_path / "nestr.yaml", text))
    assert manifest.repo("a").revision == "main"


def test_url_rewrites_apply_in_order_first_match_wins(tmp_path: Path) -> None:
    """The first rule whose prefix matches rewrites a URL; later rules do not apply to it."""
    text = EXAMPLE + (
        "url_rewrites:\n"
        "  - {from: 'https://git.example.com/platform/', to: 'ssh://git@platform/'}\n"
        "  - {from: 'https://git.example.com/', to: 'https://mirror.internal/'}\n"
    )
    manifest = load_manifest(write(tmp_path / "nestr.yaml", text))
    assert manifest.repo("api").url == "https://mirror.internal/materi/api"
    assert manifest.repo("platform-config").url == "ssh://git@platform/config.git"


def test_imports_are_relative_and_first_definition_wins(tmp_path: Path) -> None:
    """Imported repos come after the importer's; a name keeps its first definition."""
    write(
        tmp_path / "shared" / "nestr.yaml",
        "version: 1\nimports:\n  - path: ../base/nestr.yaml\nrepos:\n"
        "  - {name: lib, url: 'https://h.example/lib.git'}\n"
        "  - {name: app, url: 'https://h.example/other-app.git'}\n",
    )
    write(
        tmp_path / "base" / "nestr.yaml",
        "version: 1\nrepos:\n  - {name: base, url: 'https://h.example/base.git', path: b}\n",
    )
    root = write(
        tmp_path / "product" / "nestr.yaml",
        "version: 1\nimports:\n  - path: ../shared/nestr.yaml\nrepos:\n"
        "  - {name: app, url: 'https://h.example/app.git'}\n",
    )
    manifest = load_manifest(root)
    assert [r.name for r in manifest.repos] == ["app", "lib", "base"]
    assert manifest.repo("app").url == "https://h.example/app.git"
    assert manifest.repo("base").location.file == tmp_path / "base" / "nestr.yaml"


def test_rewrites_reach_imported_repos_and_importer_rules_come_first(tmp_path: Path) -> None:
    """An importer's url_rewrites reach imported repos, ahead of the imported file's own rules."""
    write(
        tmp_path / "lib.yaml",
        "version: 1\nurl_rewrites: [{from: 'https://h.example/', to: 'https://lib-mirror/'}]\n"
        "repos:\n  - {name: lib, url: 'https://h.example/lib.git'}\n"
        "  - {name: tool, url: 'https://tools.example/tool.git'}\n",
    )
    root = write(
        tmp_path / "nestr.yaml",
        "version: 1\nimports: [{path: lib.yaml}]\n"
        "url_rewrites: [{from: 'https://h.example/', to: 'https://root-mirror/'}]\n"
        "repos:\n  - {name: app, url: 'https://h.example/app.git'}\n",
    )
    manifest = load_manifest(root)
    assert manifest.repo("app").url == "https://root-mirror/app.git"
    assert manifest.repo("lib").url == "https://root-mirror/lib.git"
    assert manifest.repo("tool").url == "https://tools.example/tool.git"


def test_imported_group_filters_come_before_the_root_filter(tmp_path: Path) -> None:
    """An imported file's -group is overridden by the importer's +group (last mention wins)."""
    write(
        tmp_path / "lib.yaml",
        "version: 1\ngroup_filter: [-docs, -extra]\n"
        "repos:\n  - {name: manual, url: 'https://h/m.git', groups: [docs]}\n"
        "  - {name: bonus, url: 'https://h/b.git', groups: [extra]}\n",
    )
    root = write(
        tmp_path / "nestr.yaml",
        "version: 1\nimports: [{path: lib.yaml}]\ngroup_filter: [+docs]\nrepos: []\n",
    )
    manifest = load_manifest(root)
    assert manifest.group_filter == ("-docs", "-extra", "+docs")
    assert [r.name for r in manifest.active_repos()] == ["manual"]


def test_diamond_imports_are_not_a_cycle(tmp_path: Path) -> None:
    """Two files importing the same third file load; its repos appear once."""
    write(tmp_path / "d.yaml", "version: 1\nrepos: [{name: d, url: 'https://h/d.git'}]\n")
    write(tmp_path / "b.yaml", "version: 1\nimports: [{path: d.yaml}]\n")
    write(tmp_path / "c.yaml", "version: 1\nimports: [{path: d.yaml}]\n")
    root = write(tmp_path / "nestr.yaml", "version: 1\nimports: [{path: b.yaml}, {path: c.yaml}]\n")
    assert [r.name for r in load_manifest(root).repos] == ["d"]


def test_checkout_order_puts_parents_before_nested_children(tmp_path: Path) -> None:
    """A repo nested in another's path comes after it; unrelated repos keep definition order."""
    text = (
        "version: 1\nrepos:\n"
        "  - {name: comp-a, url: 'https://h/a', path: tools/bsim/components/a}\n"
        "  - {name: zephyr, url: 'https://h/z'}\n"
        "  - {name: comp-deep, url: 'https://h/d', path: tools/bsim/components/a/deep}\n"
        "  - {name: bsim, url: 'https://h/bsim', path: tools/bsim/components}\n"
        "  - {name: bsim-like, url: 'https://h/l', path: tools/bsim/componentsX}\n"
    )
    manifest = load_manifest_text(text, tmp_path / "nestr.yaml")
    order = [r.name for r in manifest.checkout_order()]
    assert order == ["zephyr", "bsim", "bsim-like", "comp-a", "comp-deep"]
    subset = [manifest.repo("comp-deep"), manifest.repo("comp-a")]
    assert [r.name for r in manifest.checkout_order(subset)] == ["comp-a", "comp-deep"]


def test_to_dict_is_the_documented_show_shape(tmp_path: Path) -> None:
    """Manifest.to_dict has the keys docs/manifest.md documents for `manifest show --json`."""
    manifest = load_manifest(write(tmp_path / "nestr.yaml", EXAMPLE))
    shape = manifest.to_dict()
    assert set(shape) == {"manifest", "group_filter", "repos"}
    assert shape["repos"][1] == {
        "name": "worker",
        "path": "worker",
        "url": "https://git.example.com/materi/team/worker",
        "revision": "v2.3.1",
        "groups": ["experimental"],
        "active": False,
        "clone": {"depth": 5, "filter": "blob:none"},
        "vars": {},
        "defined_at": f"{tmp_path / 'nestr.yaml'}:14:5",
    }


@given(
    st.lists(
        st.lists(st.sampled_from(["a", "b", "c"]), min_size=1, max_size=4).map("/".join),
        unique=True,
        max_size=12,
    )
)
def test_parents_first_orders_any_nesting(paths: list[str]) -> None:
    """For any set of paths, every path comes after all paths that contain it, none lost."""
    order = parents_first(paths, lambda p: p)
    assert sorted(order) == sorted(paths)
    for index, path in enumerate(order):
        assert not any(is_inside(earlier, path) for earlier in order[:index])


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (".", "workspace root"),
        ("./", "workspace root"),
        ("a\\b", "not a POSIX path"),
        ("C:/x", "not a POSIX path"),
        ("a/../../b", "leaves the workspace"),
        ("//srv", "absolute path"),
    ],
)
def test_normalize_repo_path_refuses_paths_outside_or_odd(raw: str, reason: str) -> None:
    """Root, backslash, drive, '..' and absolute paths are refused with the reason."""
    with pytest.raises(BadPath, match=reason):
        normalize_repo_path(raw)


def test_normalize_repo_path_cleans_redundant_parts() -> None:
    """Doubled slashes, './' and trailing slashes are normalised away."""
    assert normalize_repo_path("./a//b/./c/") == "a/b/c"
