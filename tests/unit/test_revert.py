"""Planning a revert as a table: (what ran, what the plan did, what runs now) → the plan back. Pure."""
from __future__ import annotations

from dataclasses import replace

import pytest

from gitdeploy.core.model import DesiredState, ServiceSpec
from gitdeploy.core.observed import ObservedState
from gitdeploy.core.plan import plan
from gitdeploy.core.revert import previous_revision, revert_plan, what_ran_before
from tests.unit.test_plan import running, steps_of

V1 = ServiceSpec("web", "shop/web:1", replicas=2)
V2 = ServiceSpec("web", "shop/web:2", replicas=2)
V1_THREE = ServiceSpec("web", "shop/web:1", replicas=3)


def planned(spec: ServiceSpec | None, *replicas):
    desired = DesiredState("shop", "new", (spec,) if spec else ())
    return plan(desired, ObservedState("shop", tuple(replicas))).services[0]


# (id, planned service, previous image or None, previous count, commit, what --atomic puts back)
CASES = [
    ("an update goes back to the replaced template", planned(V2, running(V1, 1), running(V1, 2)),
     "shop/web:1", 2, "old", "shop/web:1 x2"),
    ("the most common old template wins", planned(V2, running(V1, 1), running(V1, 2), running(V2, 3, commit="mid")),
     "shop/web:1", 3, "old", "shop/web:1 x3"),
    ("a created service goes back to nothing", planned(V1), None, None, "new", "nothing"),
    ("a scale has no previous revision, but --atomic restores the count", planned(V1_THREE, running(V1, 1), running(V1, 2)),
     "none", None, None, "shop/web:1 x2"),
    ("a pruned service comes back", planned(None, running(V1, 1), running(V1, 2)), "shop/web:1", 2, "old",
     "shop/web:1 x2"),
    ("a replica a killed run left pending is no revision to go back to",
     planned(V1, replace(running(V2, 1), name="web-1-new-pending"), running(ServiceSpec("web", "shop/web:0"), 2)),
     "shop/web:0", 2, "old", "shop/web:0 x2"),
    ("an unreadable template is nothing to go back to",
     planned(V2, replace(running(V1, 1), template_json="{damaged")), "none", None, None, None),
]


@pytest.mark.parametrize("service, image, count, commit, atomic", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_what_ran_before(service, image, count, commit, atomic):
    previous = previous_revision(service)
    if image == "none":
        assert previous is None
    elif image is None:
        assert previous.spec is None and previous.commit == commit
    else:
        assert (previous.spec.image, previous.spec.replicas, previous.commit) == (image, count, commit)
    before = what_ran_before(service)
    if atomic is None:
        assert before is None
    else:
        assert (f"{before.spec.image} x{before.spec.replicas}" if before.spec else "nothing") == atomic


def test_the_plan_back_replaces_new_replicas_and_fills_empty_slots_labelled_with_the_old_commit():
    service = planned(V2, running(V1, 1), running(V1, 2))
    now = ObservedState("shop", (running(V2, 1, name="new-1"), running(V1, 3, name="other-service-slot")))
    back = revert_plan("shop", "new", [previous_revision(service)], now)
    (web,) = back.services
    assert steps_of(web) == ["-new-1 (outdated)", "+1 (rollback)", "+2 (rollback)", "-other-service-slot (scaled down)"]
    assert web.commit == "old"


def test_the_plan_back_touches_no_other_service():
    service = planned(V1)
    api = ServiceSpec("api", "shop/api:1")
    now = ObservedState("shop", (running(V1, 1, name="new-1"), running(api, 1, name="api-1")))
    (web,) = revert_plan("shop", "new", [previous_revision(service)], now).services
    assert steps_of(web) == ["-new-1 (service no longer declared)"]
