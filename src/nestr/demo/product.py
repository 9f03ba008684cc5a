"""The sample product: a few services, a web front end and a shared-config repo, all local.

Everything is built with real git in a directory of the caller's choosing; "remotes" are plain
repositories under ``remotes/`` reached by ``file://`` URLs, so the demo never needs the network.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass
from pathlib import Path

from nestr.testing.gitrepo import GitRepo

MAKEFILE = """\
.PHONY: lint test build
lint:
\t@echo "lint $(notdir $(CURDIR)): ok"
test:
\t@echo "test $(notdir $(CURDIR)): 12 passed"
build:
\t@echo "build $(notdir $(CURDIR)): done"
\t@echo "artifact=$(notdir $(CURDIR))-1.4.0.tar.gz" >> "$$NESTR_OUTPUT"
"""

SERVICES: dict[str, dict[str, str]] = {
    "api": {
        "app.py": "def handler(request):\n    return {'status': 'ok'}\n",
        "settings.cfg": "[service]\nname = api\nport = 8080\n",
    },
    "billing": {
        "billing.py": "def invoice(total):\n    return round(total * 1.2, 2)\n",
        "settings.cfg": "[service]\nname = billing\nport = 8081\n",
    },
    "worker": {
        "worker.py": "def run(queue):\n    for job in queue:\n        job()\n",
    },
}

WEB = {
    "package.json": '{\n  "name": "web",\n  "version": "1.4.0",\n  "private": true\n}\n',
    "src/index.js": "export const greet = (name) => `hello ${name}`;\n",
}

PLATFORM_CONFIG = {
    "README.md": "# platform-config\n\nShared CI and linter settings for every repo.\n",
    "ci/pipeline.yml": "stages: [lint, test, build]\nimage: python:3.12\n",
}

SHARED = {
    ".editorconfig": "root = true\n\n[*]\nindent_style = space\nindent_size = 4\n"
    "end_of_line = lf\ninsert_final_newline = true\n",
    "settings.cfg.j2": "[service]\nname = {{ repo.name }}\nport = {{ port }}\n"
    "log_level = {{ log_level }}\n",
}

MANIFEST = """\
# The sample product: three services, a web front end and the shared platform config.
version: 1
remotes:
  - name: local
    url_base: {url_base}
defaults:
  remote: local
  revision: main
repos:
  - name: api
    groups: [backend]
    vars: {{port: 8080}}
  - name: billing
    groups: [backend]
    vars: {{port: 8081}}
  - name: worker
    groups: [backend]
    vars: {{port: 8082}}
  - name: web
    path: apps/web
    groups: [frontend]
  - name: platform-config
    groups: [config]
sync:
  sources:
    - path: shared
    - name: platform
      repo: platform-config
  vars: {{log_level: info}}
  rules:
    - files: [.editorconfig]
      repos: {{exclude: [platform-config]}}
    - files: [settings.cfg.j2]
      dest: settings.cfg
      template: true
      repos: {{groups: [backend]}}
    - source: platform
      files: [ci/pipeline.yml]
      dest: .ci/pipeline.yml
      repos: {{groups: [backend, frontend]}}
workflows:
  ci:
    description: Lint, test and build every service, then summarise the artifacts
    concurrency: 4
    defaults:
      timeout: 2m
      retry: {{attempts: 2, backoff: fixed, initial: 0.2s}}
    steps:
      - id: lint
        foreach: {{groups: [backend]}}
        run: make lint
      - id: test
        needs: [lint]
        foreach: {{groups: [backend]}}
        run: make test
      - id: flaky-integration
        needs: [lint]
        run: >-
          sh -c 'if [ -e .flaky-ran ]; then echo "integration: 4 passed";
          else touch .flaky-ran; echo "integration: database not ready" >&2; exit 1; fi'
      - id: build
        needs: [test, flaky-integration]
        foreach: {{groups: [backend]}}
        run: make build
      - id: summary
        needs: [build]
        run: >-
          echo "artifacts:
          ${{{{ steps.build.outputs.values() | map(attribute='artifact') | join(', ') }}}}"
"""


@dataclass(frozen=True)
class SampleProduct:
    """Where the sample product lives."""

    root: Path
    remotes: Path
    manifest: Path

    @property
    def workspace_dir(self) -> Path:
        return self.root / "workspace"


def build_sample_product(root: Path) -> SampleProduct:
    """Create the remotes and the product's manifest directory under ``root``."""
    remotes = root / "remotes"
    for name, files in SERVICES.items():
        repo = GitRepo.init(
            remotes / name, files={"README.md": f"# {name}\n", "Makefile": MAKEFILE}
        )
        repo.commit(files, message=f"{name}: first version")
        repo.history(20, file="CHANGELOG")
        repo.tag("v1.4.0")
    web = GitRepo.init(remotes / "web", files={"README.md": "# web\n", "Makefile": MAKEFILE})
    web.commit(WEB, message="web: first page")
    GitRepo.init(remotes / "platform-config", files=PLATFORM_CONFIG)
    product = root / "product"
    shared = product / "shared"
    shared.mkdir(parents=True)
    for name, content in SHARED.items():
        (shared / name).write_text(content, encoding="utf-8")
    manifest = product / "nestr.yaml"
    manifest.write_text(MANIFEST.format(url_base=remotes.as_uri()), encoding="utf-8")
    return SampleProduct(root=root, remotes=remotes, manifest=manifest)


def dedent(text: str) -> str:
    return textwrap.dedent(text).strip() + "\n"
