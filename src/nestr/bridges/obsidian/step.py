"""``obsidian.note``: write a note into a vault from a workflow.

``with``: ``vault`` (default: the ``obsidian.vault`` setting), ``title``, ``folder`` (inside the
vault), then either ``body`` (the text, used as given: ``${{ }}`` in it was rendered by the
engine) or ``template`` (a note of the vault, e.g. ``Templates/Release``, filled with
``{{title}}``, ``{{date}}``, ``{{time}}``, ``{{ fields.NAME }}`` from ``with.fields`` and
``{{ steps.KEY.outputs.NAME }}``/``status``/``log`` of the run so far), and ``properties`` (front
matter keys to set). The text goes into nestr's managed block of the note; what a person wrote
around it stays. Outputs: ``path`` (in the vault), ``link`` (``[[…]]``).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from pathlib import PurePosixPath
from typing import Any

from nestr.bridges.catalog import check_keys
from nestr.bridges.context import BridgeContext, Outputs, StepFailed
from nestr.bridges.obsidian.vault import NOTE_SUFFIX, Vault
from nestr.bridges.scope import template_scope
from nestr.bridges.template import fill

NOTE_BLOCK = "note"


async def note(with_: Mapping[str, Any], ctx: BridgeContext) -> Outputs:
    """Write the note ``with_`` describes (see the module docstring)."""
    check_keys("obsidian.note", with_)
    if not with_.get("vault"):
        raise StepFailed("obsidian.note: set `vault` in with: (or obsidian.vault in the config)")
    vault = Vault.at(str(with_["vault"]))
    title = str(with_.get("title") or "")
    if not title:
        raise StepFailed("obsidian.note: set `title` in with:")
    link = vault.link(str(with_.get("folder") or ""), title)
    body = _body(vault, with_, title, ctx)
    properties = with_.get("properties")
    if properties is not None and not isinstance(properties, Mapping):
        raise StepFailed("obsidian.note: `properties` must be a mapping of front matter keys")
    path = vault.write(link, NOTE_BLOCK, body, dict(properties) if properties else None)
    ctx.log(f"wrote [[{link}]] ({path.relative_to(vault.root)})\n")
    return {"path": str(path.relative_to(vault.root)), "link": f"[[{link}]]"}


def _body(vault: Vault, with_: Mapping[str, Any], title: str, ctx: BridgeContext) -> str:
    template = with_.get("template")
    if template is None:
        if "body" not in with_:
            raise StepFailed("obsidian.note: set `body` or `template` in with:")
        return str(with_["body"])
    name = PurePosixPath(str(template).removesuffix(NOTE_SUFFIX))
    text = vault.read(vault.link(str(name.parent), name.name))
    if text is None:
        raise StepFailed(f"obsidian.note: no template note {str(template)!r} in the vault")
    fields = with_.get("fields") or {}
    if not isinstance(fields, Mapping):
        raise StepFailed("obsidian.note: `fields` must be a mapping of names to values")
    now = datetime.now().astimezone()
    values = template_scope(
        ctx, title=title, date=f"{now:%Y-%m-%d}", time=f"{now:%H:%M}", fields=dict(fields)
    )
    return fill(text, values, what=f"obsidian.note template {template}")
