"""Machine-readable rendering: one JSON document on stdout per command."""
from __future__ import annotations

import json
import re
import sys

from gitdeploy.core.redact import redact_all

from gitdeploy.core.history import RevisionEvent
from gitdeploy.core.model import DesiredState
from gitdeploy.core import order
from gitdeploy.core.changes import FieldChange
from gitdeploy.core.jobs import JobPlan
from gitdeploy.core.plan import Plan, RemoveReplica, ServicePlan
from gitdeploy.core.results import SyncResult
from gitdeploy.core.status import JobStatus, ReplicaRow, ServiceStatus, VolumeStatus
from gitdeploy.errors import GitDeployError, ManifestError
from gitdeploy.core.revision import Revision


def emit(document: dict, *, one_line: bool = False) -> None:
    """One document on stdout, flushed: indented for a person at a terminal, else on one line (a log file
    appended to gets one document a line); `one_line` always (`-o jsonl`, a stream of them)."""
    sys.stdout.write(dumps(document, indent=None if one_line or not sys.stdout.isatty() else 2) + "\n")
    sys.stdout.flush()


def dumps(document: dict, indent: int | None = None) -> str:
    """The JSON text of a document as gitdeploy shows or posts it: credentials masked, and no raw
    control character (json escapes C0 itself; DEL and C1 are escaped here too)."""
    text = json.dumps(redact_all(document), indent=indent, ensure_ascii=False)
    return _C1.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


_C1 = re.compile("[\x7f-\x9f]")


def _source(revision: Revision, project: str, desired: DesiredState | None = None) -> dict:
    return {"project": project, "commit": revision.commit, "ref": revision.ref, "path": revision.root,
            "warnings": list(revision.warnings) + list(desired.warnings if desired else ())}


def validation(revision: Revision, desired: DesiredState, warnings: tuple[str, ...] = ()) -> dict:
    source = _source(revision, desired.project, desired)
    return source | {
        "warnings": source["warnings"] + list(warnings),
        "valid": True,
        "services": [{"name": s.name, "replicas": s.replicas, "image": s.image, "source": s.source,
                      "dependsOn": list(s.depends_on)} for s in desired.services],
        "jobs": [{"name": j.name, "image": j.run.image, "source": j.source, "dependsOn": list(j.depends_on)}
                 for j in desired.jobs],
    }


def _service_plan(service: ServicePlan) -> dict:
    return {
        "name": service.name,
        "action": service.action.value,
        "desiredReplicas": service.desired_replicas,
        "currentReplicas": service.current_replicas,
        "changes": _changes(service.changes),
        "imageVolumes": list(service.image_volumes),
        "dependsOn": list(service.depends_on),
        "steps": [
            {"do": "remove", "replica": step.replica.name, "reason": step.reason}
            if isinstance(step, RemoveReplica) else
            {"do": "start", "slot": step.slot, "reason": step.reason}
            for step in service.steps
        ],
    }


def _job_plan(job: JobPlan) -> dict:
    return {
        "name": job.name,
        "action": job.action.value,
        "reason": job.reason,
        "revision": job.revision,
        "changes": _changes(job.changes),
        "dependsOn": list(job.depends_on),
    }


def _changes(changes: tuple[FieldChange, ...]) -> list[dict]:
    """Field-level differences, as a service's and a job's plan both give them."""
    return [{"path": c.path, "kind": c.kind, "description": c.describe()} for c in changes]


def plan(revision: Revision, the_plan: Plan) -> dict:
    source = _source(revision, the_plan.project)
    return source | {
        "warnings": source["warnings"] + list(the_plan.warnings),
        "inSync": the_plan.in_sync,
        "services": [_service_plan(s) for s in the_plan.services],
        "jobs": [_job_plan(j) for j in the_plan.jobs],
        "order": [list(step) for step in order.waves(the_plan.units)],
    } | ({"ingress": the_plan.ingress} if the_plan.ingress else {}) \
      | ({"routes": _routes(the_plan.routes)} if the_plan.routes else {})


def _routes(routes: tuple) -> list[dict]:
    return [{"url": r.url, "service": r.service, "ready": r.ready} for r in routes]


def sync(revision: Revision, the_plan: Plan, result: SyncResult | None) -> dict:
    document = plan(revision, the_plan) | {"dryRun": result is None}
    if result is not None:
        outcomes = {s.name: s for s in result.services}
        document["result"] = result.result.value
        for unit in document["services"] + document["jobs"]:
            outcome = outcomes[unit["name"]]
            unit["outcome"] = outcome.outcome.value
            unit["message"] = outcome.message
            unit["detail"] = outcome.detail
            unit["blockedBy"] = outcome.blocked_by or None
    return document


def status(revision: Revision, project: str, rows: tuple[ServiceStatus, ...],
           volumes: tuple[VolumeStatus, ...] = (), jobs: tuple[JobStatus, ...] = (), routes: tuple = (),
           ingress=None) -> dict:
    return _source(revision, project) | {
        "services": [
            {"name": r.name, "desiredReplicas": r.desired, "runningReplicas": r.running, "image": r.image,
             "revision": r.revision, "commit": r.commit, "declaredImage": r.declared_image,
             "declaredRevision": r.declared_revision, "sync": r.sync_word, "pending": r.pending.value, "note": r.note}
            | ({"nodes": {node: count for node, count in r.nodes}} if r.nodes else {})
            for r in rows
        ],
        "jobs": [
            {"name": j.name, "lastRun": j.last, "revision": j.revision, "image": j.image, "exitCode": j.exit_code,
             "at": j.at, "duration": j.duration, "sync": j.sync_word, "pending": j.pending.value, "note": j.note}
            for j in jobs
        ],
    } | ({"volumes": [{"name": v.name, "engineName": v.engine_name, "mountedBy": list(v.mounted_by),
                       "state": v.state.value} for v in volumes]} if volumes else {}) \
      | ({"routes": _routes(routes)} if routes else {}) \
      | ({"ingress": {"image": ingress.image, "running": ingress.running, "ports": ingress.ports,
                      "certificates": [{"host": h, "notAfter": until} for h, until in ingress.certificates]}}
         if ingress is not None else {})


def ps(revision: Revision, project: str, rows: tuple[ReplicaRow, ...]) -> dict:
    return _source(revision, project) | {
        "containers": [{"name": r.name, "service": r.service, "kind": r.kind, "revision": r.revision,
                        "state": r.state, "status": r.status, "image": r.image, "ports": list(r.ports)}
                       for r in rows],
    }


def restart(project: str, result) -> dict:
    return {"project": project, "service": result.name, "outcome": result.outcome.value, "message": result.message,
            "detail": result.detail}


def down(project: str, gone) -> dict:
    return {"project": project, "removedContainers": list(gone.containers), "removedNetwork": gone.network,
            "removedVolumes": list(gone.volumes), "removedHistoryRecords": gone.history_records}


def history(revision: Revision, project: str, events: tuple[RevisionEvent, ...],
            running: frozenset = frozenset()) -> dict:
    return _source(revision, project) | {
        "events": [
            {"service": e.service, "revision": e.revision, "event": e.event.value, "commit": e.commit,
             "image": e.image, "at": e.at, "message": e.message, "exitCode": e.exit_code, "duration": e.duration,
             "running": (e.service, e.template_hash) in running}
            for e in events
        ],
    }


def error(exc: GitDeployError) -> dict:
    document: dict = {"error": {"message": exc.message, "hint": exc.hint, "exitCode": int(exc.exit_code)}}
    if isinstance(exc, ManifestError):
        document["error"]["problems"] = [
            {"file": p.file, "line": p.line, "column": p.column, "message": p.message} for p in exc.problems
        ]
    return document


def nodes(project: str, rows, drained=None) -> dict:
    """`gitdeploy nodes`, `drain`, `activate`: the Swarm's nodes and this project's replicas on each."""
    return {"project": project, "nodes": [
        {"name": n.node.hostname, "id": n.node.id, "role": n.node.role, "availability": n.node.availability,
         "status": n.node.status, "address": n.node.address, "leader": n.node.leader,
         "labels": dict(n.node.labels), "tasks": dict(n.tasks)} for n in rows]} \
        | ({"drained": {"node": drained.node, "moved": drained.moved, "notMoved": list(drained.not_moved),
                        "seconds": round(drained.seconds, 1)}} if drained is not None else {})
