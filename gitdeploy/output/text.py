"""Human-readable rendering of plans, sync results, status and errors."""
from __future__ import annotations

from rich.markup import escape

from gitdeploy.core.plan import Plan, ServiceAction, ServicePlan
from gitdeploy.core.results import Outcome, RunOutcome, SyncResult
from gitdeploy.core.status import ServiceStatus
from gitdeploy.errors import GitDeployError, ManifestError
from gitdeploy.output import console
from gitdeploy.core.revision import Revision

_MARK = {
    ServiceAction.CREATE: ("+", "green"),
    ServiceAction.UPDATE: ("~", "yellow"),
    ServiceAction.SCALE: ("↕", "cyan"),
    ServiceAction.REPAIR: ("!", "magenta"),
    ServiceAction.REMOVE: ("-", "red"),
    ServiceAction.ORPHANED: ("?", "red"),
    ServiceAction.HELD: ("✗", "red"),
    ServiceAction.UNCHANGED: ("=", "dim"),
}


def header(revision: Revision, project: str) -> str:
    where = f"{revision.root}/" if revision.root else ""
    return f"{project} @ {revision.short_commit} ({revision.ref}{', ' + where if where else ''})"


def warnings(revision: Revision) -> None:
    for warning in revision.warnings:
        console.stderr().print(f"[yellow]warning:[/] {escape(warning)}")


def plan(revision: Revision, the_plan: Plan) -> None:
    out = console.stdout()
    out.print(f"[bold]{escape(header(revision, the_plan.project))}[/]")
    width = max((len(s.name) for s in the_plan.services), default=0)
    for service in the_plan.services:
        mark, colour = _MARK[service.action]
        out.print(f"  [{colour}]{mark} {escape(service.name.ljust(width))}  {service.action.value:<9}[/] {_detail(service)}")
        for change in service.changes:
            if change.path != "replicas" or service.action is ServiceAction.UPDATE:
                out.print(f"      {escape(change.describe())}")
        if service.held is not None:
            out.print(f"      revision {service.held.revision} failed and was rolled back; not retried until the "
                      "manifest changes (--retry-failed to try again)")
        if service.pinned is not None:
            out.print(f"      pinned to revision {service.pinned.revision} by gitdeploy rollback "
                      f"(gitdeploy rollback {escape(service.name)} --clear to follow Git)")
        if service.action is ServiceAction.REPAIR:
            for step in service.steps:
                what = getattr(step, "replica", None)
                out.print(f"      {escape(what.name if what else f'slot {step.slot}')}: {escape(step.reason)}")
    changing = sum(1 for s in the_plan.services if s.work)
    if changing:
        out.print(f"{changing} of {len(the_plan.services)} services to change.")
    else:
        out.print(f"In sync: nothing to do ({len(the_plan.services)} services).")


def _detail(service: ServicePlan) -> str:
    if service.action in (ServiceAction.CREATE, ServiceAction.UNCHANGED):
        return f"{service.desired_replicas} replica{'s' if service.desired_replicas != 1 else ''}"
    if service.action in (ServiceAction.REMOVE, ServiceAction.ORPHANED):
        kept = " (kept: --no-prune)" if service.action is ServiceAction.ORPHANED else ""
        return f"{service.current_replicas} replica{'s' if service.current_replicas != 1 else ''}{kept}"
    return f"replicas {service.current_replicas} → {service.desired_replicas}" \
        if service.current_replicas != service.desired_replicas else f"{service.desired_replicas} replicas"


def sync_result(result: SyncResult) -> None:
    out = console.stdout()
    if result.result is RunOutcome.NOOP and result.changed_nothing:
        out.print(f"Nothing to do: {escape(result.project)} already matches {result.commit[:12]}.")
        return
    for service in result.services:
        if service.outcome is Outcome.APPLIED:
            out.print(f"  [green]✓[/] {escape(service.name)} {service.action.value}: {escape(service.message)}")
        elif service.outcome.went_wrong:
            word = "rolled back" if service.outcome is Outcome.ROLLED_BACK else "failed"
            out.print(f"  [red]✗ {escape(service.name)} {service.action.value} {word}:[/] {escape(service.message)}")
            for line in service.detail.splitlines():
                out.print(f"      {escape(line)}")
        elif service.outcome is Outcome.KEPT:
            out.print(f"  [yellow]?[/] {escape(service.name)}: {escape(service.message)}")
    failed = [s.name for s in result.went_wrong()]
    if failed:
        out.print(f"[red]Sync failed for {', '.join(failed)}[/]; the other services are converged.")
    else:
        out.print(f"[green]Synced[/] {result.project} to {result.commit[:12]}.")


def status(revision: Revision, project: str, rows: tuple[ServiceStatus, ...]) -> None:
    from rich.table import Table
    from rich import box

    out = console.stdout()
    out.print(f"[bold]{escape(header(revision, project))}[/]")
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
    for column in ("SERVICE", "READY", "IMAGE", "COMMIT", "SYNC"):
        table.add_column(column)
    for row in rows:
        sync = f"[green]{row.sync_word}[/]" if row.synced else f"[yellow]{row.sync_word}[/] ({row.pending.value})"
        table.add_row(escape(row.name), f"{row.running}/{row.desired}", escape(row.image), row.commit[:12], sync)
    out.print(table)
    for row in rows:
        if row.note:
            out.print(f"{escape(row.name)}: {escape(row.note)}")


def history(revision: Revision, project: str, events) -> None:
    import time

    from rich import box
    from rich.table import Table

    out = console.stdout()
    out.print(f"[bold]{escape(header(revision, project))}[/]")
    if not events:
        out.print("No revisions recorded yet: the first sync that creates or updates a service records one.")
        return
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
    for column in ("SERVICE", "REVISION", "EVENT", "COMMIT", "IMAGE", "WHEN", "MESSAGE"):
        table.add_column(column)
    for e in events:
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(e.at))
        table.add_row(escape(e.service), str(e.revision), e.event.value, e.commit[:12], escape(e.image), when,
                      escape(e.message.splitlines()[0] if e.message else ""))
    out.print(table)


def error(exc: GitDeployError) -> None:
    err = console.stderr()
    if isinstance(exc, ManifestError):
        for problem in exc.problems:
            err.print(escape(str(problem)))
    err.print(f"[red]gitdeploy: error:[/] {escape(exc.message)}")
    if exc.hint:
        err.print(f"  hint: {escape(exc.hint)}")
