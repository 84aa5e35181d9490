"""The planner as a table: (desired, observed) → action and steps. No engine."""
from __future__ import annotations

import pytest

from gitdeploy.core.model import DesiredState, ServiceSpec
from gitdeploy.core.observed import ObservedReplica, ObservedState
from gitdeploy.core.plan import RemoveReplica, ServiceAction, StartReplica, plan

WEB = ServiceSpec(name="web", image="shop/web:1", replicas=2)
WEB_V2 = ServiceSpec(name="web", image="shop/web:2", replicas=2)


def running(spec: ServiceSpec, slot: int, state: str = "running", name: str | None = None,
            commit: str = "old", image: str | None = None) -> ObservedReplica:
    return ObservedReplica(
        id=name or f"{spec.name}-{slot}-{spec.image}", name=name or f"{spec.name}-{slot}-{spec.image}",
        service=spec.name, slot=slot, template_hash=spec.template_hash(), template_json=spec.template_json(),
        commit=commit, image=image or spec.image, state=state,
    )


def steps_of(service_plan) -> list[str]:
    """Steps in a compact, readable form: '-web-1-shop/web:1 (outdated)', '+2 (missing)'."""
    out = []
    for step in service_plan.steps:
        if isinstance(step, RemoveReplica):
            out.append(f"-{step.replica.name} ({step.reason})")
        else:
            assert isinstance(step, StartReplica)
            out.append(f"+{step.slot} ({step.reason})")
    return out


CASES = [
    # (id, desired, observed, expected action, expected steps)
    ("nothing runs: create every slot", WEB, [], ServiceAction.CREATE, ["+1 (missing)", "+2 (missing)"]),
    ("all in place: nothing to do", WEB, [running(WEB, 1), running(WEB, 2)], ServiceAction.UNCHANGED, []),
    ("scale up adds the missing slot only", ServiceSpec("web", "shop/web:1", replicas=3),
     [running(WEB, 1), running(WEB, 2)], ServiceAction.SCALE, ["+3 (missing)"]),
    ("scale down removes the highest slots", ServiceSpec("web", "shop/web:1", replicas=1),
     [running(WEB, 1), running(WEB, 2)], ServiceAction.SCALE, ["-web-2-shop/web:1 (scaled down)"]),
    ("scale to zero removes all", ServiceSpec("web", "shop/web:1", replicas=0),
     [running(WEB, 1), running(WEB, 2)], ServiceAction.SCALE,
     ["-web-2-shop/web:1 (scaled down)", "-web-1-shop/web:1 (scaled down)"]),
    ("changed template replaces slot by slot", WEB_V2, [running(WEB, 1), running(WEB, 2)], ServiceAction.UPDATE,
     ["-web-1-shop/web:1 (outdated)", "+1 (replaces outdated)", "-web-2-shop/web:1 (outdated)", "+2 (replaces outdated)"]),
    ("a half-done update finishes the rest only", WEB_V2, [running(WEB_V2, 1), running(WEB, 2)], ServiceAction.UPDATE,
     ["-web-2-shop/web:1 (outdated)", "+2 (replaces outdated)"]),
    ("an exited replica is replaced", WEB, [running(WEB, 1), running(WEB, 2, state="exited")], ServiceAction.REPAIR,
     ["-web-2-shop/web:1 (not running (exited))", "+2 (replaces stopped)"]),
    ("a duplicate in one slot is removed, the running one kept", WEB,
     [running(WEB, 1), running(WEB, 2), running(WEB, 2, state="exited", name="dup")], ServiceAction.REPAIR,
     ["-dup (not running (exited))"]),
    ("a replica without a valid slot is removed", WEB,
     [running(WEB, 1), running(WEB, 2), running(WEB, 0, name="stray")], ServiceAction.REPAIR,
     ["-stray (not a valid replica slot)"]),
]


@pytest.mark.parametrize("desired, observed, action, steps", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_plan_table(desired, observed, action, steps):
    # The desired state comes from a newer commit than the running replicas.
    result = plan(DesiredState("shop", "new", (desired,)), ObservedState("shop", tuple(observed)))
    (service,) = result.services
    assert service.action is action
    assert steps_of(service) == steps
    assert result.in_sync is (not steps)


def test_undeclared_service_is_pruned_or_kept():
    observed = ObservedState("shop", (running(WEB, 1), running(ServiceSpec("old", "shop/old:1"), 1)))
    desired = DesiredState("shop", "c0ffee", (ServiceSpec("web", "shop/web:1", replicas=1),))

    pruned = {s.name: s for s in plan(desired, observed, prune=True).services}
    assert pruned["old"].action is ServiceAction.REMOVE
    assert steps_of(pruned["old"]) == ["-old-1-shop/old:1 (service no longer declared)"]

    kept = {s.name: s for s in plan(desired, observed, prune=False).services}
    assert kept["old"].action is ServiceAction.ORPHANED and not kept["old"].steps
    assert plan(desired, observed, prune=False).in_sync


def test_update_lists_field_changes_without_env_values():
    old = ServiceSpec("web", "shop/web:1.4.2", replicas=3, env=(("GREETING", "hello"),))
    new = ServiceSpec("web", "shop/web:1.4.3", replicas=5, env=(("GREETING", "hi"),), memory=128 * 2**20)
    observed = ObservedState("shop", tuple(running(old, slot) for slot in (1, 2, 3)))
    (service,) = plan(DesiredState("shop", "c", (new,)), observed).services
    assert service.action is ServiceAction.UPDATE
    assert [c.describe() for c in service.changes] == [
        "replicas 3 → 5",
        "env.GREETING changed",
        "image shop/web:1.4.2 → shop/web:1.4.3",
        "resources.memory (none) → 128Mi",
    ]


def test_needs_network_only_when_something_starts():
    desired = DesiredState("shop", "c", (WEB,))
    assert not plan(desired, ObservedState("shop", (running(WEB, 1), running(WEB, 2)))).needs_network
    assert plan(desired, ObservedState("shop", ())).needs_network


def test_replicas_are_not_part_of_the_template():
    # Scaling must never replace replicas.
    assert WEB.template_hash() == ServiceSpec("web", "shop/web:1", replicas=7).template_hash()


def test_at_the_same_commit_a_different_count_is_drift_not_scaling():
    removed_by_hand = plan(DesiredState("shop", "c1", (WEB,)), ObservedState("shop", (running(WEB, 1, commit="c1"),)))
    (service,) = removed_by_hand.services
    assert service.action is ServiceAction.REPAIR and steps_of(service) == ["+2 (missing)"]
    extra = plan(DesiredState("shop", "c1", (WEB,)), ObservedState("shop", tuple(
        running(WEB, slot, commit="c1") for slot in (1, 2, 3))))
    assert extra.services[0].action is ServiceAction.REPAIR
    assert steps_of(extra.services[0]) == ["-web-3-shop/web:1 (scaled down)"]


def test_a_replica_on_another_image_than_declared_is_replaced():
    # A tag moved by a rebuild (the listing then shows the old image's ID), or a replica replaced by hand.
    observed = ObservedState("shop", (running(WEB, 1), running(WEB, 2, image="3f9a2c1b7e0d")))
    (service,) = plan(DesiredState("shop", "old", (WEB,)), observed).services
    assert service.action is ServiceAction.REPAIR
    assert steps_of(service) == ["-web-2-shop/web:1 (runs 3f9a2c1b7e0d, not the image shop/web:1 names now)",
                                 "+2 (replaces a changed image)"]
