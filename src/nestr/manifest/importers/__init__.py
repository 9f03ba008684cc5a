"""Importers: other tools' manifests (west, vcstool, repo XML) translated into nestr.yaml data.

Each importer is a function from a parsed foreign document to a
:class:`~nestr.manifest.conversion.Conversion`; what nestr cannot express is named in its
warnings. ``import_file`` picks the importer by format name.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from nestr.manifest.conversion import Conversion

if TYPE_CHECKING:
    from nestr.manifest.importers.westimports import ProjectFiles

FORMATS = ("west", "vcstool", "repo")


def import_file(fmt: str, path: Path, project_files: ProjectFiles | None = None) -> Conversion:
    """Translate the ``fmt`` manifest at ``path`` (one of :data:`FORMATS`) into nestr.yaml data.

    ``project_files`` reads files of other projects, for west's project imports. A file that
    fails to import and looks like another format gets a hint naming ``--from``.
    """
    from nestr.errors import ManifestError

    try:
        return _import(fmt, path, project_files)
    except ManifestError as exc:
        guess = guess_format(path)
        if guess is not None and guess != fmt:
            exc.hint = f"{path.name} looks like a {guess} manifest: pass --from {guess}"
        raise


def guess_format(path: Path) -> str | None:
    """The format ``path``'s first bytes suggest: XML is repo's; a top-level key names the rest."""
    import re

    try:
        with path.open(encoding="utf-8", errors="replace") as handle:
            head = handle.read(65536).lstrip("\ufeff \t\r\n")
    except OSError:
        return None
    if head.startswith("<"):
        return "repo"
    if re.search(r"^manifest\s*:", head, re.MULTILINE):
        return "west"
    if re.search(r"^repositories\s*:", head, re.MULTILINE):
        return "vcstool"
    return None


def _import(fmt: str, path: Path, project_files: ProjectFiles | None) -> Conversion:
    from nestr.errors import ManifestError
    from nestr.yamlsource import load_yaml_file

    if fmt == "repo":
        from nestr.manifest.importers.repo import import_repo

        return import_repo(path)
    doc = load_yaml_file(path, error=ManifestError)
    if fmt == "west":
        from nestr.manifest.importers.west import import_west

        return import_west(doc, project_files)
    if fmt == "vcstool":
        from nestr.manifest.importers.vcstool import import_vcstool

        return import_vcstool(doc)
    raise ValueError(f"unknown manifest format {fmt!r}")
