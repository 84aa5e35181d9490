"""From a source tree to `DesiredState`, reporting every problem at once."""
from __future__ import annotations

import posixpath

from gitdeploy.core.model import DesiredState
from gitdeploy.errors import ManifestError, Problem, SourceError
from gitdeploy.manifests.build import build_service, build_volume
from gitdeploy.manifests.checks import document_problems, project_problems, shared_volume_warnings, volume_problems
from gitdeploy.manifests.schema import PROJECT_SCHEMA, SERVICE_SCHEMA, VOLUME_SCHEMA, schema_problems
from gitdeploy.manifests.yamldoc import Document, parse
from gitdeploy.core.revision import SourceTree

PROJECT_FILE = "gitdeploy.yaml"
KINDS = ("Service", "Volume")


def load_desired(tree: SourceTree, allow_empty: bool = False) -> DesiredState:
    revision = tree.revision
    project_path = posixpath.join(revision.root, PROJECT_FILE) if revision.root else PROJECT_FILE
    project_file = next((f for f in tree.files if f.path == project_path), None)
    if project_file is None:
        raise SourceError(
            f"no {PROJECT_FILE} in {revision.root or 'the repository root'} at commit {revision.short_commit}",
            hint=f"create {project_path} containing `project: <name>` and commit it, or point --path at the folder that has it",
        )

    problems: list[Problem] = []
    project = _project_name(project_file.path, project_file.data, problems)
    services: list[Document] = []
    volumes: list[Document] = []
    for source in tree.files:
        if source.path == project_path:
            continue
        documents, parse_problems = parse(source.path, source.data)
        problems.extend(parse_problems)
        for doc in documents:
            if not _is_manifest(doc, problems):
                continue
            is_volume = doc.body.get("kind") == "Volume"
            found = schema_problems(doc, VOLUME_SCHEMA if is_volume else SERVICE_SCHEMA)
            found = found or (volume_problems(doc) if is_volume else document_problems(doc))
            problems.extend(found)
            if not found:
                (volumes if is_volume else services).append(doc)
    problems.extend(project_problems(services, volumes))
    if problems:
        raise ManifestError(problems)
    if not services and not allow_empty:
        raise empty_project(revision.root, revision.short_commit)
    volume_specs = tuple(sorted((build_volume(d, project or "") for d in volumes), key=lambda v: v.name))
    engine_names = {v.name: v.engine_name for v in volume_specs}
    specs = sorted((build_service(d, engine_names) for d in services), key=lambda s: s.name)
    return DesiredState(project=project or "", commit=revision.commit, services=tuple(specs), volumes=volume_specs,
                        warnings=tuple(shared_volume_warnings(services)))


def empty_project(root: str, commit: str) -> SourceError:
    return SourceError(
        f"no Service manifests under {root or 'the repository root'} at commit {commit}",
        hint="add *.yaml files with `kind: Service`; gitdeploy refuses an empty project rather than prune everything "
             "(to stop a service, set its replicas to 0; to remove them all, --allow-empty)",
    )


def _project_name(path: str, data: bytes, problems: list[Problem]) -> str | None:
    documents, parse_problems = parse(path, data)
    problems.extend(parse_problems)
    if parse_problems:
        return None
    if len(documents) != 1:
        problems.append(Problem(path, 1, 1, f"{PROJECT_FILE} must hold exactly one YAML document, e.g. `project: shop`"))
        return None
    found = schema_problems(documents[0], PROJECT_SCHEMA)
    problems.extend(found)
    return None if found else str(documents[0].body["project"])


def _is_manifest(doc: Document, problems: list[Problem]) -> bool:
    """Filters out what is not a gitdeploy/v1 manifest of a known kind, with one clear problem each."""
    body = doc.body
    if not isinstance(body, dict):
        problems.append(doc.problem([], "a manifest must be a mapping with apiVersion, kind, metadata and spec"))
        return False
    kind = body.get("kind")
    if kind is not None and kind not in KINDS:
        problems.append(doc.problem(
            ["kind"], f"kind: unknown kind '{kind}'; gitdeploy/v1 knows: {', '.join(KINDS)}"
        ))
        return False
    return True
