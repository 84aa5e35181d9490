"""Volumes as manifests, plans and status: pure, no engine."""
from __future__ import annotations

from dataclasses import replace

import pytest

from gitdeploy.core.model import DesiredState, Mount, MountKind, ServiceSpec, VolumeSpec
from gitdeploy.core.observed import ObservedState, ObservedVolume
from gitdeploy.core.status import VolumeState, volume_statuses
from gitdeploy.errors import Unsatisfiable
from tests.fake_engine import FakeEngine
from tests.unit.test_manifests import PROJECT, load_desired, problems, service, tree
from tests.unit.test_plan import running

VOLUME = "apiVersion: gitdeploy/v1\nkind: Volume\nmetadata: {name: pgdata}\n"


def mounts(spec_text: str) -> str:
    return service(spec="image: a\nupdate: {order: stop-first}\nvolumes:\n" + spec_text)


def test_a_service_without_volumes_keeps_its_template_hash():
    assert "volumes" not in ServiceSpec("web", "x").template()


def test_volumes_resolve_to_engine_names_and_are_part_of_the_template():
    desired = load_desired(tree(PROJECT, ("v.yaml", VOLUME), ("web.yaml", mounts(
        "  - {volume: pgdata, path: /data}\n  - {hostPath: /srv/up, path: /up, readOnly: true}\n"
        "  - {tmpfs: {size: 64Mi}, path: /tmp}"))))
    assert desired.volumes == (VolumeSpec("pgdata", "shop_pgdata"),)
    assert desired.services[0].mounts == (Mount(MountKind.VOLUME, "/data", "shop_pgdata"),
                                          Mount(MountKind.HOST_PATH, "/up", "/srv/up", True),
                                          Mount(MountKind.TMPFS, "/tmp", size=64 * 2**20))
    assert desired.warnings == ()


# (id, files, the one problem expected)
PROBLEMS = [
    ("unknown volume, with a guess", [("v.yaml", VOLUME), ("web.yaml", mounts("  - {volume: pgdat, path: /d}"))],
     "web.yaml:9:16: spec.volumes[0].volume: no Volume 'pgdat' in this project; did you mean 'pgdata'?"),
    ("no volumes declared", [("web.yaml", mounts("  - {volume: pgdata, path: /d}"))],
     "web.yaml:9:16: spec.volumes[0].volume: no Volume 'pgdata' in this project; declare it in a `kind: Volume` "
     "document"),
    ("one path twice", [("web.yaml", mounts("  - {tmpfs: {}, path: /d}\n  - {hostPath: /x, path: /d/}"))],
     "web.yaml:10:28: spec.volumes[1].path: /d is already mounted by spec.volumes[0]; mount each path once"),
    ("two kinds in one entry", [("web.yaml", mounts("  - {tmpfs: {}, hostPath: /x, path: /d}"))],
     "web.yaml:9:7: spec.volumes[0]: has hostPath and tmpfs; give exactly one of volume, hostPath or tmpfs"),
    ("a relative path", [("web.yaml", mounts("  - {hostPath: srv, path: /d}"))],
     "web.yaml:9:18: spec.volumes[0].hostPath: 'srv' is not valid; an absolute path on the engine's host, such as "
     "/srv/shop/uploads"),
    ("external without a name", [("v.yaml", VOLUME + "spec: {external: true}\n")],
     "v.yaml:4:18: spec.external: an external volume needs spec.name, the engine volume's name (docker volume ls)"),
    ("a name without external", [("v.yaml", VOLUME + "spec: {name: x}\n")],
     "v.yaml:4:14: spec.name: only an external volume has its own engine name; add external: true, or remove name "
     "(gitdeploy names it PROJECT_NAME)"),
    ("a volume declared twice", [("v.yaml", VOLUME), ("w.yaml", VOLUME)],
     "w.yaml:3:18: metadata.name: volume 'pgdata' is already declared at v.yaml:3:18"),
]


@pytest.mark.parametrize("files, message", [c[1:] for c in PROBLEMS], ids=[c[0] for c in PROBLEMS])
def test_volume_problems_are_located(files, message):
    found = problems(*files) if any(f[0] == "web.yaml" for f in files) else problems(*files, ("web.yaml", service()))
    assert found == [message]


def test_a_written_volume_with_start_first_is_warned_about():
    desired = load_desired(tree(PROJECT, ("v.yaml", VOLUME), ("web.yaml", service(
        spec="image: a\nvolumes: [{volume: pgdata, path: /d}]"))))
    assert desired.warnings == ("web.yaml:1: service web mounts volume pgdata with update.order start-first, so "
                                "during an update two revisions write it at once; a database wants order: stop-first",)


def test_an_external_volume_uses_its_own_name():
    desired = load_desired(tree(PROJECT, ("v.yaml", VOLUME + "spec: {external: true, name: compose_db}\n"),
                                ("web.yaml", mounts("  - {volume: pgdata, path: /d}"))))
    assert desired.services[0].mounts[0].source == "compose_db" and desired.volumes[0].external


DATA = Mount(MountKind.VOLUME, "/data", "shop_pgdata")
WEB = ServiceSpec("web", "v1", mounts=(DATA,))


# (id, declared services, declared volumes, volumes on the engine, replicas, expected (name, state, mounted by))
STATUS = [
    ("declared and mounted", (WEB,), (VolumeSpec("pgdata", "shop_pgdata"),), (ObservedVolume("shop_pgdata", "pgdata"),),
     (), [("pgdata", VolumeState.IN_USE, ("web",))]),
    ("its Volume removed, a replica still mounts it", (ServiceSpec("web", "v2"),), (),
     (ObservedVolume("shop_pgdata", "pgdata"),), (replace(running(WEB, 1), volumes=("shop_pgdata",)),), [("pgdata", VolumeState.IN_USE, ("web",))]),
    ("nothing mounts it", (), (VolumeSpec("pgdata", "shop_pgdata"),), (ObservedVolume("shop_pgdata", "pgdata"),), (),
     [("pgdata", VolumeState.KEPT, ())]),
    ("external is never ours", (WEB,), (VolumeSpec("pgdata", "shop_pgdata", external=True),), (), (),
     [("pgdata", VolumeState.EXTERNAL, ("web",))]),
    ("a slot's volume for an image VOLUME, its slot gone", (), (),
     (ObservedVolume("shop_web-3-abcd1234", implicit_path="/state", service="web"),), (),
     [("web:/state", VolumeState.KEPT, ())]),
]


@pytest.mark.parametrize("services, declared, on_engine, replicas, expected", [c[1:] for c in STATUS],
                         ids=[c[0] for c in STATUS])
def test_volume_status(services, declared, on_engine, replicas, expected):
    rows = volume_statuses(DesiredState("shop", "c", services, declared), on_engine, ObservedState("shop", replicas))
    assert [(r.name, r.state, r.mounted_by) for r in rows] == expected


def test_volumes_are_made_before_a_replica_mounts_them_and_a_missing_external_one_stops_the_run():
    from gitdeploy.apply import apply_plan
    from gitdeploy.core.plan import plan

    engine = FakeEngine()
    desired = DesiredState("shop", "c" * 40, (WEB,), (VolumeSpec("pgdata", "shop_pgdata"),))
    apply_plan(plan(desired, engine.observe("shop")), engine, runtime=engine.clock.runtime())
    assert engine.log.index("volume shop_pgdata") < next(i for i, l in enumerate(engine.log) if l.startswith("start"))
    external = DesiredState("shop", "c" * 40, (ServiceSpec("api", "v1", mounts=(Mount(MountKind.VOLUME, "/d", "x"),)),),
                            (VolumeSpec("db", "x", external=True),))
    with pytest.raises(Unsatisfiable, match="external volume x \\(volume db\\) does not exist on the engine"):
        apply_plan(plan(external, engine.observe("shop")), engine, runtime=engine.clock.runtime())
