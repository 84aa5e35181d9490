"""`gitdeploy restart SERVICE`: restart every replica, a batch at a time, health-gated. No spec change.

The same containers are stopped and started again (so names, slots, secrets
and volumes stay), `update.parallelism` at a time (but at least one keeps
serving while there are two or more; a single replica is down while it
restarts), slot by slot; each batch
must pass its health checks and the service's `monitor` period again before
the next one restarts, exactly as new replicas do in a rollout (the same
`Watcher`). A batch that does not come back ends the restart: the replicas
not restarted yet keep serving, and the run fails (exit 1); there is no other
revision to roll back to.
"""
from __future__ import annotations

import json

from gitdeploy.core.model import ServiceSpec, spec_from_template
from gitdeploy.core.observed import ObservedReplica
from gitdeploy.core.plan import ServiceAction
from gitdeploy.core.results import Outcome, ServiceResult
from gitdeploy.engine.base import Engine
from gitdeploy.rollout import Interrupt, Report, Runtime, Watcher


def rolling_restart(project: str, declared: ServiceSpec, replicas: list[ObservedReplica], engine: Engine,
                    report: Report, runtime: Runtime = Runtime(),
                    stop_requested: Interrupt = lambda: None) -> ServiceResult:
    """Restarts `replicas` (running ones of the service, by slot) in batches of the service's parallelism."""
    # Restarting stops replicas in place (no new one beside them): never all at once, if there are two.
    size = max(1, min(declared.update.parallelism, len(replicas) - 1))
    batches = [replicas[i:i + size] for i in range(0, len(replicas), size)]
    done = 0
    for number, batch in enumerate(batches, 1):
        stop = stop_requested() if number > 1 else None
        if stop:
            return ServiceResult(declared.name, ServiceAction.REPAIR, Outcome.FAILED,
                                 f"{stop} after {done} of {len(replicas)} replicas restarted", abandoned=True)
        spec = _running_spec(batch[0], declared)
        for replica in batch:
            engine.restart_replica(replica)
            report(f"restarted {replica.name}" + (f" (batch {number}/{len(batches)})" if len(batches) > 1 else ""))
        watcher = Watcher(engine, runtime, report, spec, cancelled=lambda: None, should_abort=lambda: None)
        names = [r.name for r in batch]
        watcher.add(names)
        failure = watcher.wait(lambda: all(watcher.ready(n) for n in names),
                               runtime.clock() + spec.update.progress_deadline)
        if failure:
            left = len(replicas) - done - len(batch)
            return ServiceResult(declared.name, ServiceAction.REPAIR, Outcome.FAILED,
                                 f"{failure.describe()} after its restart; {done} restarted before it are ready, "
                                 f"{left} not restarted", failure.detail)
        done += len(batch)
    return ServiceResult(declared.name, ServiceAction.REPAIR, Outcome.APPLIED,
                         f"{done} replica{'s' if done != 1 else ''} restarted, {size} at a time; all ready")


def _running_spec(replica: ObservedReplica, declared: ServiceSpec) -> ServiceSpec:
    """The health check and timings of what runs (its template label), else of what Git declares."""
    if not replica.recognised:
        return declared
    try:
        return spec_from_template(declared.name, declared.replicas, json.loads(replica.template_json), declared.update)
    except (KeyError, ValueError, TypeError, AttributeError):
        return declared
