"""Manifest files of other projects, read at their revisions through the mirror cache.

``nestr manifest import --from west`` follows project imports; the importer (pure, in
``nestr.manifest``) asks this reader for the files, which fetches the project's mirror as an
assembly would, resolves the revision and reads the files from the commit.
"""

from __future__ import annotations

import asyncio

from nestr.errors import WorkFailed
from nestr.git.mirror import MirrorCache
from nestr.git.refs import is_full_commit_id
from nestr.git.treefiles import read_files_at
from nestr.manifest.importers.westimports import ImportUnavailable


class MirrorProjectFiles:
    """A :class:`~nestr.manifest.importers.westimports.ProjectFiles` over a mirror cache."""

    def __init__(self, cache: MirrorCache) -> None:
        self.cache = cache

    def __call__(self, url: str, revision: str, path: str) -> list[tuple[str, str]]:
        try:
            return asyncio.run(self._read(url, revision, path))
        except FileNotFoundError:
            raise ImportUnavailable(
                f"no file or directory {path!r} at revision {revision!r}",
                hint="check the import's file and the project's revision",
            ) from None
        except WorkFailed as exc:
            raise ImportUnavailable(exc.message, exc.hint) from None

    async def _read(self, url: str, revision: str, path: str) -> list[tuple[str, str]]:
        pin = revision if is_full_commit_id(revision) else None
        mirror, _ = await self.cache.ensure(url, commit=pin)
        resolved = await self.cache.resolve(url, revision)
        async with self.cache.reading(url):
            return await read_files_at(
                mirror.path, resolved.commit, path, timeout=self.cache.timeout
            )
