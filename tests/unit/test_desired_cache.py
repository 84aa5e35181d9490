"""The cache of validated desired state: a round trip loses nothing; damage is a miss."""
from gitdeploy.core.model import DesiredState, HealthCheck, JobSpec, PortSpec, ServiceSpec, UpdateOrder, UpdatePolicy
from gitdeploy.manifests import cache

DESIRED = DesiredState("shop", "ab" * 20, (
    ServiceSpec("web", "shop/web:1", replicas=3, command=("/bin/httpd", "-f"), env=(("A", "1"),),
                ports=(PortSpec(80, 8080, "tcp", "127.0.0.1"),), cpus=0.5, memory=64 * 2**20, restart="always",
                init=False, stop_grace_period=2.5, labels=(("tier", "front"),), source="web.yaml:1",
                health=HealthCheck(exec=("true",), interval=1.0), update=UpdatePolicy(parallelism=2, order=UpdateOrder.STOP_FIRST)),
    ServiceSpec("worker", "shop/worker:1", depends_on=("web", "migrate")),
), jobs=(JobSpec(ServiceSpec("migrate", "shop/api:1", restart="no", command=("/migrate",), depends_on=("web",),
                             source="migrate.yaml:1"), timeout=300.0, retries=2),))


def test_round_trip_keeps_every_field_and_hash(tmp_path):
    key = cache.cache_key(DESIRED.commit, "deploy")
    cache.store(key, DESIRED, directory=tmp_path)
    loaded = cache.load(key, directory=tmp_path)
    assert loaded == DESIRED
    assert [s.template_hash() for s in loaded.services] == [s.template_hash() for s in DESIRED.services]
    assert [s.source for s in loaded.services] == ["web.yaml:1", ""]


def test_key_depends_on_commit_and_path():
    assert len({cache.cache_key("a" * 40, ""), cache.cache_key("b" * 40, ""), cache.cache_key("a" * 40, "x")}) == 3


def test_missing_or_corrupt_entries_are_misses(tmp_path):
    assert cache.load("nope", directory=tmp_path) is None
    (tmp_path / "bad.json").write_text("{not json")
    assert cache.load("bad", directory=tmp_path) is None
    (tmp_path / "old.json").write_text('{"project": "shop"}')
    assert cache.load("old", directory=tmp_path) is None
