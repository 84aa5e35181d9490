"""From a source tree to `DesiredState`, reporting every problem at once."""
from __future__ import annotations

import posixpath
from typing import Callable

from gitdeploy.core.model import DesiredState, EngineKind, IngressSettings
from gitdeploy.errors import ManifestError, Problem, SourceError
from gitdeploy.manifests import overlays
from gitdeploy.manifests.build import build_job, build_service, build_volume
from gitdeploy.manifests.engine_checks import engine_problems
from gitdeploy.manifests.checks import (dependency_problems, document_problems, job_problems, project_problems,
                                       shared_volume_warnings, volume_problems)
from gitdeploy.manifests.schema import (JOB_SCHEMA, PROJECT_SCHEMA, SERVICE_SCHEMA, VOLUME_SCHEMA, did_you_mean,
                                       schema_problems)
from gitdeploy.manifests.yamldoc import Document, parse
from gitdeploy.core.revision import MANIFEST_SUFFIXES, MAX_DATA_FILE, Revision, SourceTree

PROJECT_FILE = "gitdeploy.yaml"
KINDS = ("Service", "Job", "Volume")
_SCHEMA_OF = {"Service": SERVICE_SCHEMA, "Job": JOB_SCHEMA, "Volume": VOLUME_SCHEMA}
# Opens one secret: (name, path in the repository, file content, SOPS key) -> the digest of its plaintext.
OpenSecret = Callable[[str, str, bytes, str], str]


def load_desired(tree: SourceTree, allow_empty: bool = False, open_secret: OpenSecret | None = None,
                 env: str | None = None, engine: EngineKind | None = None) -> DesiredState:
    """The desired state at the tree's commit, of environment `env` when gitdeploy.yaml declares
    environments. Secrets are decrypted with `open_secret` (their digests go into the templates); without
    it (`validate` with no age key) their digests stay empty: such a state can be shown, never applied.
    `engine` (--engine) overrides the engine gitdeploy.yaml names: the manifests are checked against it."""
    revision = tree.revision
    problems: list[Problem] = []
    project, manifests, declared_engine, ingress = _manifests(tree, env, problems)
    engine = engine or declared_engine
    services: list[Document] = []
    jobs: list[Document] = []
    volumes: list[Document] = []
    contents = {f.path: f.data for f in tree.files}
    for doc in manifests:
        kind = doc.body.get("kind")
        found = schema_problems(doc, _SCHEMA_OF.get(kind, SERVICE_SCHEMA))
        found = found or (volume_problems(doc) + engine_problems(doc, engine) if kind == "Volume" else
                          document_problems(doc, engine) + engine_problems(doc, engine, project or "")
                          + _source_problems(doc, revision, contents)
                          + (job_problems(doc) if kind == "Job" else []))
        problems.extend(found)
        if not found:
            {"Volume": volumes, "Job": jobs}.get(kind, services).append(doc)
    problems.extend(project_problems(services + jobs, volumes, tuple(p for p in (ingress.http, ingress.https) if p)
                                     if any("ingress" in d.body["spec"] for d in services) else ()))
    problems.extend(dependency_problems(services + jobs))
    if problems:
        raise ManifestError(problems)
    if not services and not jobs and not allow_empty:
        raise empty_project(revision.root, revision.short_commit)
    volume_specs = tuple(sorted((build_volume(d, project or "") for d in volumes), key=lambda v: v.name))
    engine_names = {v.name: v.engine_name for v in volume_specs}

    def read(source: str) -> bytes:
        return contents[revision.path_of(source)]

    def digest(entry: dict) -> str:
        if open_secret is None:
            return ""
        return open_secret(entry["name"], revision.path_of(entry["source"]), read(entry["source"]),
                           entry.get("key", ""))

    specs = sorted((build_service(d, engine_names, read, digest, engine) for d in services), key=lambda s: s.name)
    job_specs = sorted((build_job(d, engine_names, read, digest, engine) for d in jobs), key=lambda j: j.name)
    return DesiredState(project=project or "", commit=revision.commit, services=tuple(specs), volumes=volume_specs,
                        warnings=tuple(shared_volume_warnings(services, engine)), jobs=tuple(job_specs),
                        engine=engine, ingress=ingress)


def manifest_documents(tree: SourceTree, env: str | None = None) -> list[Document]:
    """The manifests as the loader validates them: the environment's overlay applied (render, and locating
    a refusal in the file that set the value). Problems are not raised here: load_desired reports them."""
    return _manifests(tree, env, [])[1]


def _manifests(tree: SourceTree, env: str | None,
               problems: list[Problem]) -> tuple[str | None, list[Document], EngineKind, IngressSettings]:
    """(the engine's project name, every manifest document of the environment, the engine gitdeploy.yaml
    names for it), problems added to `problems`."""
    revision = tree.revision
    project_path = posixpath.join(revision.root, PROJECT_FILE) if revision.root else PROJECT_FILE
    project_file = next((f for f in tree.files if f.path == project_path), None)
    if project_file is None:
        raise SourceError(
            f"no {PROJECT_FILE} in {revision.root or 'the repository root'} at commit {revision.short_commit}",
            hint=f"create {project_path} containing `project: <name>` and commit it, or point --path at the folder that has it",
        )
    project, environments, engine, ingress = _project_file(project_file.path, project_file.data, problems)
    if project is not None:
        project = _environment_project(project, environments, env)
        engine = str(((environments or {}).get(env or "") or {}).get("engine") or engine)
    # With environments (or a project file too broken to tell), environments/ holds overlays, not base manifests.
    overlaid = environments is not None or project is None
    manifests = [f for f in tree.files if f.path != project_path and f.path.endswith(MANIFEST_SUFFIXES)]
    if environments is not None:
        problems.extend(_stray_overlays(manifests, revision.root, environments))
    parsed = [(source, *parse(source.path, source.data)) for source in manifests
              if not (overlaid and overlays.in_overlays(_relative(source.path, revision.root)))
              or (environments is not None and overlays.of_environment(_relative(source.path, revision.root),
                                                                       env or ""))]
    # A file that a `files` or `secrets` entry names is data, not a manifest, whatever its suffix.
    data_files = {revision.path_of(f["source"]) for _, documents, _ in parsed for doc in documents
                  for field in ("files", "secrets") for f in _entries(doc, field)}
    base: list[Document] = []
    overlay: list[Document] = []
    for source, documents, parse_problems in parsed:
        if source.path in data_files or _is_sops_file(documents):
            continue
        problems.extend(parse_problems)
        into = overlay if environments is not None and overlays.in_overlays(_relative(source.path, revision.root)) \
            else base
        into.extend(doc for doc in documents if _is_manifest(doc, problems))
    if not overlay:
        return project, base, EngineKind(engine), ingress
    merged, overlay_problems = overlays.apply(base, overlay, env or "")
    problems.extend(overlay_problems)
    return project, merged, EngineKind(engine), ingress


def _stray_overlays(files: list, root: str, environments: dict) -> list[Problem]:
    """A manifest under environments/ that belongs to no declared environment: a misnamed folder would
    otherwise leave that environment on the bare base manifests, silently."""
    problems = []
    for file in files:
        relative = _relative(file.path, root)
        if overlays.in_overlays(relative):
            folder = relative.split("/")[1] if relative.count("/") >= 2 else ""
            if folder not in environments:
                what = f"environments/{folder}/ is not a declared environment{did_you_mean(folder, sorted(environments))}" \
                    if folder else "a manifest directly in environments/ belongs to no environment"
                problems.append(Problem(file.path, 1, 1, f"{what}; {PROJECT_FILE} declares: "
                                                         f"{', '.join(sorted(environments))}"))
    return problems


def _relative(path: str, root: str) -> str:
    return path[len(root) + 1:] if root and path.startswith(root + "/") else path


def _environment_project(project: str, environments: dict | None, env: str | None) -> str:
    """The engine's project name of the chosen environment: its `project`, or PROJECT-ENV."""
    names = sorted(environments or {})
    if environments is None:
        if env:
            raise SourceError(f"--env {env}: {PROJECT_FILE} declares no environments",
                              hint=f"leave out --env (and GITDEPLOY_ENV), or declare `environments:` in {PROJECT_FILE}")
        return project
    if not env:
        raise SourceError(f"{PROJECT_FILE} declares environments ({', '.join(names)}): choose one with --env NAME "
                          "(or GITDEPLOY_ENV)", hint="base manifests alone are never deployed where environments "
                                                     "are declared")
    if env not in environments:
        raise SourceError(f"--env {env}: no such environment{did_you_mean(env, names)}",
                          hint=f"{PROJECT_FILE} declares: {', '.join(names)}")
    chosen = {name: str((settings or {}).get("project") or f"{project}-{name}")
              for name, settings in environments.items()}
    if len(chosen[env]) > 40:
        raise SourceError(f"--env {env}: the project name {chosen[env]} is longer than 40 characters",
                          hint=f"give the environment its own: environments: {{{env}: {{project: NAME}}}}")
    sharing = sorted(name for name, other in chosen.items() if other == chosen[env] and name != env)
    if sharing:   # one engine project for two: a sync of one would prune the other's services
        raise SourceError(f"--env {env}: environments {env} and {', '.join(sharing)} are the same project "
                          f"{chosen[env]} on the engine", hint=f"give each its own project in {PROJECT_FILE}")
    return chosen[env]


def empty_project(root: str, commit: str) -> SourceError:
    return SourceError(
        f"no Service or Job manifests under {root or 'the repository root'} at commit {commit}",
        hint="add *.yaml files with `kind: Service`; gitdeploy refuses an empty project rather than prune everything "
             "(to stop a service, set its replicas to 0; to remove them all, --allow-empty)",
    )


def _is_sops_file(documents: list[Document]) -> bool:
    """A SOPS-encrypted YAML file is data even when no secret names it yet: it is never a manifest."""
    return len(documents) == 1 and isinstance(documents[0].body, dict) and "sops" in documents[0].body \
        and "kind" not in documents[0].body


def _entries(doc: Document, field: str) -> list[dict]:
    body = doc.body
    spec = body.get("spec") if isinstance(body, dict) else None
    entries = spec.get(field) if isinstance(spec, dict) else None
    return [f for f in entries if isinstance(f, dict) and isinstance(f.get("source"), str)] \
        if isinstance(entries, list) else []


def _source_problems(doc: Document, revision: Revision, contents: dict[str, bytes]) -> list[Problem]:
    """Every `files` and `secrets` source is a file inside the manifest folder at this commit, and a
    secret's file is of a format gitdeploy reads, holding the `key` it names (readable without a key)."""
    problems = []
    for field in ("files", "secrets"):
        for index, entry in enumerate(doc.body["spec"].get(field) or []):
            where, at = ["spec", field, index, "source"], f"spec.{field}[{index}]"
            path, root = revision.path_of(entry["source"]), revision.root
            if path == ".." or path.startswith("../") or (root and not path.startswith(root + "/")):
                problems.append(doc.problem(where, f"{at}.source: {entry['source']} leaves the manifest folder; "
                                                   "keep it inside"))
            elif path not in contents:
                problems.append(doc.problem(where, f"{at}.source: no file {path} at this commit (or it is a link, "
                                                   f"or over {MAX_DATA_FILE // 1024} KiB); commit it"))
            elif field == "secrets":
                problems += _secret_file_problems(doc, index, entry, contents[path])
    return problems


def _secret_file_problems(doc: Document, index: int, entry: dict, data: bytes) -> list[Problem]:
    from gitdeploy.secrets.keyring import SecretFormat, format_of, format_problem, sops_keys

    kind, key, at = format_of(data), entry.get("key", ""), f"spec.secrets[{index}]"
    problem = format_problem(kind, key)
    if problem:
        return [doc.problem(["spec", "secrets", index, "key" if "key" in entry else "source"],
                            f"{at}: {entry['source']}: {problem}")]
    if kind is SecretFormat.SOPS and key not in sops_keys(data):
        known = sops_keys(data)
        guess = did_you_mean(key, known) or f"; it has: {', '.join(known[:10]) or 'no values'}"
        return [doc.problem(["spec", "secrets", index, "key"], f"{at}.key: {entry['source']} has no value {key}{guess}")]
    return []


def _project_file(path: str, data: bytes,
                  problems: list[Problem]) -> tuple[str | None, dict | None, str, IngressSettings]:
    """(project name, the declared environments or None, the project's engine, its ingress settings), from
    gitdeploy.yaml."""
    documents, parse_problems = parse(path, data)
    problems.extend(parse_problems)
    nothing = None, None, EngineKind.DOCKER.value, IngressSettings()
    if parse_problems:
        return nothing
    if len(documents) != 1:
        problems.append(Problem(path, 1, 1, f"{PROJECT_FILE} must hold exactly one YAML document, e.g. `project: shop`"))
        return nothing
    found = schema_problems(documents[0], PROJECT_SCHEMA)
    problems.extend(found)
    if found:
        return nothing
    body = documents[0].body
    engine = str(body.get("engine") or EngineKind.DOCKER.value)
    given = body.get("ingress") or {}
    default_ingress = IngressSettings()
    ingress = IngressSettings(str(given.get("image", default_ingress.image)),
                              int(given.get("http", default_ingress.http)), int(given.get("https", default_ingress.https)),
                              str(given.get("hostIP", "")), str(given.get("acmeEmail", "")))
    if "environments" not in body:
        return str(body["project"]), None, engine, ingress
    environments = body["environments"]
    if not environments or not all(isinstance(name, str) for name in environments):
        problems.append(documents[0].problem(["environments"], "environments: name each environment with a word "
                                                               "(staging: {}, prod: {project: shop})"))
        return nothing
    return str(body["project"]), dict(environments), engine, ingress


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
