"""The desired state against the host's policy: every violation, located in the manifests.

The check itself is pure and cheap (core/policy.py on the typed specs), so it
runs on every command that deploys, also when the desired state came from the
cache. Only when something is refused are the manifests read again, to name
the file, line and column of each refused value.
"""
from __future__ import annotations

from gitdeploy.core.model import DesiredState, ServiceSpec
from gitdeploy.core.policy import Item, Policy, Violation, violations, volume_violations
from gitdeploy.core.revision import Revision
from gitdeploy.errors import PolicyViolation, Problem


def check_policy(revision: Revision, desired: DesiredState, policy: Policy, env: str | None = None) -> None:
    """Raises PolicyViolation (every refusal, located) when the manifests ask what `policy` does not allow."""
    kinds = {spec.name: "Service" for spec in desired.services} | {job.name: "Job" for job in desired.jobs}
    found = [(kinds[spec.name], spec.name, v) for spec in desired.runnable() for v in violations(spec, policy)]
    found += [("Volume", volume.name, v) for volume in desired.volumes for v in volume_violations(volume, policy)]
    if found:
        raise PolicyViolation(_located(revision, env, found, policy), policy.source,
                              [v.hint for _, _, v in found])


def check_revision(what: str, spec: ServiceSpec, policy: Policy) -> None:
    """A spec from the history (a rollback's target, a pin or held revision sync would start), checked as
    its manifest would be: one line naming it."""
    refused = violations(spec, policy)
    if refused:
        raise PolicyViolation([], policy.source, [v.hint for v in refused], what=f"{what}: " + "; ".join(
            v.message(policy, _resolved(None, v.path)[1]) for v in refused))


def _located(revision: Revision, env: str | None, found: list[tuple[str, str, Violation]],
             policy: Policy) -> list[Problem]:
    """Each refusal at the file, line and column that set the value (an environment's overlay, or the base)."""
    from gitdeploy.core.revision import SourceTree
    from gitdeploy.manifests.loader import manifest_documents
    from gitdeploy.source.git import read_files

    documents = {(d.body.get("kind"), str((d.body.get("metadata") or {}).get("name"))): d
                 for d in manifest_documents(SourceTree(revision, read_files(revision)), env)}
    problems = []
    for kind, name, violation in found:
        doc = documents.get((kind, name))
        path, text = _resolved(doc.body if doc is not None else None, violation.path)
        message = violation.message(policy, text)
        problems.append(doc.problem(path, message) if doc is not None else Problem(f"{kind} {name}", 1, 1, message))
    return problems


def _resolved(body: object, path: tuple) -> tuple[list, str]:
    """The path with each Item turned into its list index, and as text: spec.volumes[1].hostPath."""
    steps: list = []
    text = ""
    node = body
    for step in path:
        if isinstance(step, Item):
            entries = node if isinstance(node, list) else []
            index = next((i for i, entry in enumerate(entries) if _matches(entry, step)), None)
            if index is None:
                text += "[]"
                node = None
                continue
            steps.append(index)
            text += f"[{index}]"
            node = entries[index]
        else:
            steps.append(step)
            text += f".{step}" if text else step
            node = node.get(step) if isinstance(node, dict) else None
    return steps, text


def _matches(entry: object, item: Item) -> bool:
    value = entry.get(item.key) if item.key and isinstance(entry, dict) else entry
    return str(value) == str(item.value)
