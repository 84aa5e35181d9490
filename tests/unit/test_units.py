"""Memory, CPU and duration strings."""
import pytest

from gitdeploy.core.units import format_duration, format_memory, parse_cpus, parse_duration, parse_memory


@pytest.mark.parametrize("text, size", [
    ("128Mi", 128 * 2**20), ("1Gi", 2**30), ("0.5Gi", 2**29), ("500M", 500 * 10**6), (8 * 2**20, 8 * 2**20),
])
def test_memory(text, size):
    assert parse_memory(text) == size


@pytest.mark.parametrize("bad", ["128MB", "128m", "lots", "", True, "5Mi"])
def test_bad_memory(bad):
    with pytest.raises(ValueError):
        parse_memory(bad)


def test_memory_formats_to_shortest_exact_unit():
    assert [format_memory(n) for n in (128 * 2**20, 10**6, 1536 * 2**10, 12345)] == ["128Mi", "1M", "1536Ki", "12345"]


@pytest.mark.parametrize("text, cpus", [(0.5, 0.5), ("2", 2.0), ("500m", 0.5), (1, 1.0)])
def test_cpus(text, cpus):
    assert parse_cpus(text) == cpus


@pytest.mark.parametrize("bad", ["half", 0, -1, "0m", True])
def test_bad_cpus(bad):
    with pytest.raises(ValueError):
        parse_cpus(bad)


def test_durations():
    assert [parse_duration(t) for t in ("500ms", "5s", "2m", "1h", "1.5s")] == [0.5, 5.0, 120.0, 3600.0, 1.5]
    assert [format_duration(s) for s in (0.5, 5.0, 120.0, 90.0)] == ["500ms", "5s", "2m", "90s"]
    with pytest.raises(ValueError):
        parse_duration("5")
