"""From a source tree to `DesiredState`, reporting every problem at once."""
from __future__ import annotations

import posixpath

from gitdeploy.core.model import DesiredState
from gitdeploy.errors import ManifestError, Problem, SourceError
from gitdeploy.manifests.build import build_service, build_volume
from gitdeploy.manifests.checks import document_problems, project_problems, shared_volume_warnings, volume_problems
from gitdeploy.manifests.schema import PROJECT_SCHEMA, SERVICE_SCHEMA, VOLUME_SCHEMA, schema_problems
from gitdeploy.manifests.yamldoc import Document, parse
from gitdeploy.core.revision import MANIFEST_SUFFIXES, MAX_DATA_FILE, SourceTree

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
    parsed = [(source, *parse(source.path, source.data)) for source in tree.files
              if source.path != project_path and source.path.endswith(MANIFEST_SUFFIXES)]
    # A file that a `files` entry names is data, not a manifest, whatever its suffix.
    data_files = {data_path(revision.root, f["source"]) for _, documents, _ in parsed for doc in documents
                  for f in _files_of(doc)}
    contents = {f.path: f.data for f in tree.files}
    for source, documents, parse_problems in parsed:
        if source.path in data_files:
            continue
        problems.extend(parse_problems)
        for doc in documents:
            if not _is_manifest(doc, problems):
                continue
            is_volume = doc.body.get("kind") == "Volume"
            found = schema_problems(doc, VOLUME_SCHEMA if is_volume else SERVICE_SCHEMA)
            found = found or (volume_problems(doc) if is_volume else
                              document_problems(doc) + _file_problems(doc, revision.root, contents))
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
    specs = sorted((build_service(d, engine_names, lambda s: contents[data_path(revision.root, s)]) for d in services),
                   key=lambda s: s.name)
    return DesiredState(project=project or "", commit=revision.commit, services=tuple(specs), volumes=volume_specs,
                        warnings=tuple(shared_volume_warnings(services)))


def empty_project(root: str, commit: str) -> SourceError:
    return SourceError(
        f"no Service manifests under {root or 'the repository root'} at commit {commit}",
        hint="add *.yaml files with `kind: Service`; gitdeploy refuses an empty project rather than prune everything "
             "(to stop a service, set its replicas to 0; to remove them all, --allow-empty)",
    )


def data_path(root: str, source: str) -> str:
    """A `files` source (relative to the manifest folder) as a path in the repository."""
    return posixpath.normpath(posixpath.join(root, source)) if root else posixpath.normpath(source)


def _files_of(doc: Document) -> list[dict]:
    body = doc.body
    spec = body.get("spec") if isinstance(body, dict) else None
    entries = spec.get("files") if isinstance(spec, dict) else None
    return [f for f in entries if isinstance(f, dict) and isinstance(f.get("source"), str)] \
        if isinstance(entries, list) else []


def _file_problems(doc: Document, root: str, contents: dict[str, bytes]) -> list[Problem]:
    problems = []
    for index, entry in enumerate(doc.body["spec"].get("files") or []):
        where = ["spec", "files", index, "source"]
        path = data_path(root, entry["source"])
        if path == ".." or path.startswith("../") or (root and not path.startswith(root + "/")):
            problems.append(doc.problem(where, f"spec.files[{index}].source: {entry['source']} leaves the manifest "
                                               "folder; keep config files inside it"))
        elif path not in contents:
            problems.append(doc.problem(where, f"spec.files[{index}].source: no file {path} at this commit (or it "
                                               f"is a link, or over {MAX_DATA_FILE // 1024} KiB); commit it"))
    return problems


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
