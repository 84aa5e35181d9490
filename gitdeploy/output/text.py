"""Human-readable rendering of plans, sync results, status and errors."""
from __future__ import annotations


from gitdeploy.core import order
from gitdeploy.core.model import DesiredState
from gitdeploy.core.plan import UNCONFIRMED, UNRECOGNISED, Plan, ServiceAction, ServicePlan
from gitdeploy.core.results import Outcome, RunOutcome, SyncResult
from gitdeploy.core.status import JobStatus, ReplicaRow, ServiceStatus, VolumeState, VolumeStatus
from gitdeploy.errors import GitDeployError, ManifestError
from gitdeploy.output import console
from gitdeploy.output.safe import plain, shown
from gitdeploy.core.revision import Revision

# Steps named in every plan, whatever the service's action: replicas gitdeploy will not trust.
NAMED_REASONS = (UNRECOGNISED, UNCONFIRMED)

_MARK = {
    ServiceAction.CREATE: ("+", "green"),
    ServiceAction.UPDATE: ("~", "yellow"),
    ServiceAction.SCALE: ("↕", "cyan"),
    ServiceAction.REPAIR: ("!", "magenta"),
    ServiceAction.REMOVE: ("-", "red"),
    ServiceAction.ORPHANED: ("?", "red"),
    ServiceAction.HELD: ("✗", "red"),
    ServiceAction.RUN: ("▶", "green"),
    ServiceAction.UNCHANGED: ("=", "dim"),
}


def header(revision: Revision, project: str) -> str:
    where = f"{revision.root}/" if revision.root else ""
    return f"{project} @ {revision.short_commit} ({revision.ref}{', ' + where if where else ''})"


def warnings(revision: Revision, desired: DesiredState | None = None) -> None:
    for warning in revision.warnings + (desired.warnings if desired else ()):
        console.stderr().print(f"[yellow]warning:[/] {shown(warning)}")


def plan(revision: Revision, the_plan: Plan) -> None:
    out = console.stdout()
    out.print(f"[bold]{shown(header(revision, the_plan.project))}[/]")
    width = max((len(s.name) for s in the_plan.services), default=0)
    for service in the_plan.services:
        mark, colour = _MARK[service.action]
        out.print(f"  [{colour}]{mark} {shown(service.name.ljust(width))}  {service.action.value:<9}[/] {_detail(service)}")
        for change in service.changes:
            if change.path != "replicas" or service.action is ServiceAction.UPDATE:
                out.print(f"      {shown(change.describe())}")
        if service.held is not None:
            out.print(f"      revision {service.held.revision} failed and was rolled back; not retried until the "
                      "manifest changes (--retry-failed to try again)")
        for path in service.image_volumes:
            out.print(f"      {shown(path)}: the image's VOLUME, no mount: each slot keeps its own volume there, "
                      "handed to the replica that replaces it")
        if service.pinned is not None:
            out.print(f"      pinned to revision {service.pinned.revision} by gitdeploy rollback "
                      f"(gitdeploy rollback {shown(service.name)} --clear to follow Git)")
        noteworthy = [s for s in service.steps if service.action is ServiceAction.REPAIR or s.reason in NAMED_REASONS]
        if noteworthy:
            for step in noteworthy:
                what = getattr(step, "replica", None)
                out.print(f"      {shown(what.name if what else f'slot {step.slot}')}: {shown(step.reason)}")
    for job in the_plan.jobs:
        mark, colour = _MARK[job.action]
        out.print(f"  [{colour}]{mark} {job.action.value} job {shown(job.name)}:[/] {shown(job.reason)}")
        if job.action is ServiceAction.RUN:
            for change in job.changes:
                out.print(f"      {shown(change.describe())}")
    for route in the_plan.routes:
        out.print(f"  route {shown(str(route))}")
    if the_plan.ingress:
        out.print(f"  [yellow]! ingress[/]  {shown(the_plan.ingress)}: sync repairs it")
    for warning in the_plan.warnings:
        console.stderr().print(f"[yellow]warning:[/] {shown(warning)}")
    steps = order.waves(the_plan.units)
    if len(steps) > 1:
        out.print("Order: " + " → ".join(" + ".join(shown(name) for name in step) for step in steps))
    changing = sum(1 for s in the_plan.services if s.work)
    running = [j.name for j in the_plan.jobs if j.work]
    held_back = [s.name for s in the_plan.services if not s.work and (s.held or s.pinned)] + \
        [j.name for j in the_plan.jobs if j.action is ServiceAction.HELD]
    jobs = f"; {len(running)} of {len(the_plan.jobs)} job{'s' if len(the_plan.jobs) != 1 else ''} to run or remove" \
        if running else ""
    if changing or running or the_plan.ingress:
        out.print(f"{changing} of {len(the_plan.services)} services to change{jobs}"
                  + ("; the ingress to repair." if the_plan.ingress else "."))
    elif held_back:
        # Not in sync (diff exits 2), though a sync would change nothing now.
        out.print(f"Not in sync: {shown(', '.join(held_back))} held back (see above); a sync changes nothing "
                  "until the manifest changes, --retry-failed, or rollback --clear.")
    else:
        jobs = f", {len(the_plan.jobs)} job{'s' if len(the_plan.jobs) != 1 else ''}" if the_plan.jobs else ""
        out.print(f"In sync: nothing to do ({len(the_plan.services)} services{jobs}).")


def _detail(service: ServicePlan) -> str:
    if service.action in (ServiceAction.CREATE, ServiceAction.UNCHANGED):
        return f"{service.desired_replicas} replica{'s' if service.desired_replicas != 1 else ''}"
    if service.action in (ServiceAction.REMOVE, ServiceAction.ORPHANED):
        kept = " (kept: --no-prune)" if service.action is ServiceAction.ORPHANED else ""
        return f"{service.current_replicas} replica{'s' if service.current_replicas != 1 else ''}{kept}"
    return f"replicas {service.current_replicas} → {service.desired_replicas}" \
        if service.current_replicas != service.desired_replicas else f"{service.desired_replicas} replicas"


def sync_result(result: SyncResult) -> None:
    if result.result is RunOutcome.NOOP and result.changed_nothing:
        # A bare print: the unattended no-op pass, every minute, need not load rich (15 ms) for plain words.
        print(plain(f"Nothing to do: {result.project} already matches {result.commit[:12]}."), flush=True)
        return
    out = console.stdout()
    _outcome_lines(result)
    held = [s.name for s in result.went_wrong() if s.action is ServiceAction.HELD]
    failed = [s.name for s in result.went_wrong() if s.action is not ServiceAction.HELD]
    blocked = [s.name for s in result.services if s.outcome is Outcome.BLOCKED]
    also = "".join(f"; {shown(', '.join(names))} {words}" for names, words in (
        (held, "held back after an earlier failure"), (blocked, "not changed (blocked)")) if names)
    if failed:
        out.print(f"[red]Sync failed for {shown(', '.join(failed))}[/]{also}; the others are converged.")
    elif held or blocked:
        out.print(f"[yellow]Not synced:[/] {also.removeprefix('; ')}; the others are converged to "
                  f"{shown(result.commit[:12])}.")
    else:
        out.print(f"[green]Synced[/] {shown(result.project)} to {shown(result.commit[:12])}.")


def dry_run() -> None:
    console.stdout().print("Dry run: nothing was changed.")


def rollback_result(result: SyncResult, the_plan: Plan) -> None:
    """What `rollback` did, from what to what: the revision, its image and commit."""
    out = console.stdout()
    (service,) = the_plan.services
    pin = service.pinned
    target = f"revision {pin.revision} ({shown(pin.image)}, commit {shown(pin.commit[:12])})" if pin else "?"
    _outcome_lines(result)
    if result.went_wrong():
        out.print(f"[red]Rollback of {shown(service.name)} to {target} failed[/]; what ran before runs again "
                  "and nothing is pinned.")
    elif the_plan.in_sync or not service.work:
        out.print(f"{shown(service.name)} already runs {target}; pinned there.")
    else:
        out.print(f"[green]Rolled {shown(service.name)} back[/] to {target} and pinned it there: later syncs leave "
                  f"it until Git declares something else for it, or `gitdeploy rollback {shown(service.name)} --clear`.")


def _outcome_lines(result: SyncResult) -> None:
    out = console.stdout()
    for service in result.services:
        if service.outcome is Outcome.APPLIED:
            out.print(f"  [green]✓[/] {shown(service.name)} {service.action.value}: {shown(service.message)}")
        elif service.outcome.went_wrong:
            word = "" if service.action is ServiceAction.HELD else \
                " rolled back" if service.outcome is Outcome.ROLLED_BACK else " failed"
            out.print(f"  [red]✗ {shown(service.name)} {service.action.value}{word}:[/] {shown(service.message)}")
            for line in service.detail.splitlines():
                out.print(f"      {shown(line)}")
        elif service.outcome is Outcome.KEPT:
            out.print(f"  [yellow]?[/] {shown(service.name)}: {shown(service.message)}")
        elif service.outcome is Outcome.BLOCKED:
            out.print(f"  [yellow]⏸ {shown(service.name)} {service.action.value}[/] {shown(service.message)}")


def status(revision: Revision, project: str, rows: tuple[ServiceStatus, ...],
           volumes: tuple[VolumeStatus, ...] = (), jobs: tuple[JobStatus, ...] = (), routes: tuple = (),
           ingress=None) -> None:
    from rich.table import Table
    from rich import box

    out = console.stdout()
    out.print(f"[bold]{shown(header(revision, project))}[/]")
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
    for column in ("SERVICE", "READY", "RUNS IMAGE", "REVISION", "COMMIT", "SYNC"):
        table.add_column(column)
    for row in rows:
        sync = f"[green]{row.sync_word}[/]" if row.synced else f"[yellow]{row.sync_word}[/] ({row.pending.value})"
        table.add_row(shown(row.name), f"{row.running}/{row.desired}", shown(row.image or "-"),
                      str(row.revision or "-"), shown(row.commit[:12] or "-"), sync)
    out.print(table)
    for row in rows:
        if row.nodes:   # a Swarm: where the replicas run
            out.print(f"{shown(row.name)}: on " + ", ".join(f"{shown(node)} ({count})" for node, count in row.nodes))
    for row in rows:
        if row.note:
            out.print(f"{shown(row.name)}: {shown(row.note)}")
    if jobs:
        _job_table(jobs)
    if routes:
        out.print("Routes:")
        for route in routes:
            out.print(f"  {shown(str(route))}")
    if ingress is not None:
        state = "running" if ingress.running else "[red]not running[/] (sync repairs it)"
        certificates = ", ".join(f"{host} until {until}" for host, until in ingress.certificates) or "none yet"
        out.print(f"Ingress: {shown(ingress.image)} {state}, ports {shown(ingress.ports)}; certificates: "
                  f"{shown(certificates)}")
    if volumes:
        table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
        for column in ("VOLUME", "ENGINE VOLUME", "MOUNTED BY", "STATE"):
            table.add_column(column)
        for volume in volumes:
            table.add_row(shown(volume.name), shown(volume.engine_name), shown(", ".join(volume.mounted_by) or "-"),
                          volume.state.value)
        out.print(table)
        if any(v.state is VolumeState.KEPT for v in volumes):
            out.print("Kept volumes hold data nothing mounts now; `sync --prune-volumes` removes them.")


def _job_table(jobs: tuple[JobStatus, ...]) -> None:
    import time

    from rich import box
    from rich.table import Table

    from gitdeploy.core.units import format_duration

    out = console.stdout()
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
    for column in ("JOB", "LAST RUN", "REVISION", "IMAGE", "EXIT", "WHEN", "TOOK", "SYNC"):
        table.add_column(column)
    for job in jobs:
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(job.at)) if job.at else "-"
        took = format_duration(round(job.duration, 1)) if job.duration is not None else "-"
        sync = f"[green]{job.sync_word}[/]" if job.synced else f"[yellow]{job.sync_word}[/] ({job.pending.value})"
        table.add_row(shown(job.name), job.last, str(job.revision or "-"), shown(job.image or "-"),
                      "-" if job.exit_code is None else str(job.exit_code), when, took, sync)
    out.print(table)
    for job in jobs:
        if job.note:
            out.print(f"{shown(job.name)}: {shown(job.note)}")


def restart(result) -> None:
    out = console.stdout()
    if result.outcome is Outcome.APPLIED:
        out.print(f"[green]Restarted[/] {shown(result.name)}: {shown(result.message)}.")
        return
    out.print(f"[red]Restart of {shown(result.name)} failed:[/] {shown(result.message)}")
    for line in result.detail.splitlines():
        out.print(f"      {shown(line)}")


def ps(rows: tuple[ReplicaRow, ...]) -> None:
    from rich import box
    from rich.table import Table

    out = console.stdout()
    if not rows:
        out.print("No containers: nothing of this project runs (gitdeploy sync creates them).")
        return
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
    for column in ("NAME", "SERVICE", "REVISION", "STATUS", "PORTS"):
        table.add_column(column)
    for row in rows:
        service = f"{row.service} (job)" if row.kind == "job" else row.service
        table.add_row(shown(row.name), shown(service), str(row.revision or "-"), shown(row.status or row.state),
                      shown(", ".join(row.ports)))
    out.print(table)


def down(project: str, gone, volumes: bool, history: bool) -> None:
    out = console.stdout()
    parts = [f"{len(gone.containers)} container{'s' if len(gone.containers) != 1 else ''}"]
    if gone.network:
        parts.append("the network")
    if volumes:
        parts.append(f"{len(gone.volumes)} volume{'s' if len(gone.volumes) != 1 else ''}")
    if history:
        parts.append(f"{gone.history_records} history record{'s' if gone.history_records != 1 else ''}")
    kept = [what for what, removed in (("volumes", volumes), ("history", history)) if not removed]
    out.print(f"Took {shown(project)} down: removed {', '.join(parts)}"
              + (f"; kept its {' and '.join(kept)} (--volumes, --history remove them)." if kept else "."))


def history(revision: Revision, project: str, events, running: frozenset = frozenset()) -> None:
    """The events, oldest first; `running`: (service, template hash) pairs that run now, marked `*`.

    Laid out by hand to fit the terminal: the message gives way first, then an
    image's registry path (from the left, so its tag always shows)."""
    import time

    from gitdeploy.output.safe import plain as text_of

    out = console.stdout()
    out.print(f"[bold]{shown(header(revision, project))}[/]")
    if not events:
        out.print("No revisions recorded yet: the first sync that creates or updates a service records one.")
        return
    head = ("SERVICE", "REV", "EVENT", "COMMIT", "IMAGE", "WHEN", "MESSAGE")
    # `*` on what a rollout or run of the running template ended in (not on its pins).
    rows = [(text_of(e.service), f"{e.revision}{' *' if e.event.is_outcome and (e.service, e.template_hash) in running else ''}",
             e.event.value, text_of(e.commit[:7]), text_of(e.image), time.strftime("%m-%d %H:%M", time.localtime(e.at)),
             text_of(e.message.splitlines()[0] if e.message else "")) for e in events]
    widths = [max(len(head[i]), *(len(row[i]) for row in rows)) for i in range(6)]
    room = (out.width or 80) - sum(widths) - 2 * 6
    if room < 0:   # not even the image fits whole: keep its end (name and tag), cut its registry path
        tags = max(len(row[4].rsplit("/", 1)[-1]) + 1 for row in rows)
        widths[4] = max(len(head[4]), tags, widths[4] + room)
        room = 0
    message = min(room, max(len(row[6]) for row in rows))

    def line(cells) -> str:
        parts = [_fit(cell, width, keep_end=index == 4).ljust(width) for index, (cell, width) in enumerate(zip(cells, widths))]
        return "  ".join(parts + ([_fit(cells[6], message)] if message >= 8 else [])).rstrip()

    out.print(line(head), markup=False, highlight=False)
    for row in rows:
        out.print(line(row), markup=False, highlight=False)
    if running:
        out.print("* runs now (of a job: its last run)")


def _fit(cell: str, width: int, keep_end: bool = False) -> str:
    if len(cell) <= width:
        return cell
    return "…" + cell[len(cell) - width + 1:] if keep_end else cell[:width - 1] + "…"


def error(exc: GitDeployError) -> None:
    err = console.stderr()
    if isinstance(exc, ManifestError):
        for problem in exc.problems:
            err.print(shown(str(problem)))
    err.print(f"[red]gitdeploy: error:[/] {shown(exc.message)}")
    if exc.hint:
        err.print(f"  hint: {shown(exc.hint)}")


def nodes(project: str, rows) -> None:
    """The Swarm's nodes: role, availability, status, and this project's running replicas on each."""
    from rich.table import Table
    from rich import box

    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
    for column in ("NODE", "ROLE", "AVAILABILITY", "STATUS", "ADDRESS", f"REPLICAS OF {project.upper()}"):
        table.add_column(shown(column))
    for row in rows:
        node = row.node
        role = node.role + (" (leader)" if node.leader else "")
        status = node.status if node.status == "ready" else f"[red]{node.status}[/]"
        table.add_row(shown(node.hostname), role, node.availability, status, shown(node.address),
                      shown(", ".join(f"{service} {count}" for service, count in row.tasks) or "-"))
    console.stdout().print(table)
