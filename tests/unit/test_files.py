"""Config files from the repository: loaded as data, part of the template, diffed by line. No engine."""
from __future__ import annotations

import pytest

from gitdeploy.core.changes import template_changes
from gitdeploy.core.model import ConfigFile, ServiceSpec
from tests.unit.test_manifests import PROJECT, load_desired, problems, service, tree

CONFIG = "listen: 8080\nlevel: info\n"   # YAML that is no manifest: it must not be read as one


def with_files(entries: str) -> str:
    return service(spec="image: a\nfiles:\n" + entries)


def test_a_referenced_file_is_data_with_its_mode_and_content():
    desired = load_desired(tree(PROJECT, ("config/app.yaml", CONFIG), ("web.yaml", with_files(
        "  - {path: /etc/app/config.yaml, source: config/app.yaml}\n"
        "  - {path: /etc/app/motd, source: config/app.yaml, mode: '0640'}"))))
    files = desired.services[0].files
    assert files == (ConfigFile("/etc/app/config.yaml", CONFIG.encode(), 0o444),
                     ConfigFile("/etc/app/motd", CONFIG.encode(), 0o640))
    assert desired.services[0].template()["files"][0] == {"path": "/etc/app/config.yaml", "mode": "0444",
                                                          "content": CONFIG}


def test_sources_are_relative_to_the_manifest_folder():
    desired = load_desired(tree(PROJECT, ("config/app.yaml", CONFIG),
                                ("web.yaml", with_files("  - {path: /etc/a, source: ./config/app.yaml}")), root="deploy"))
    assert desired.services[0].files[0].content == CONFIG.encode()


@pytest.mark.parametrize("entry, message", [
    ("  - {path: /etc/a, source: missing.conf}",
     "web.yaml:8:30: spec.files[0].source: no file missing.conf at this commit (or it is a link, or over 256 KiB); "
     "commit it"),
    ("  - {path: /etc/a, source: ../secrets.txt}",
     "web.yaml:8:30: spec.files[0].source: ../secrets.txt leaves the manifest folder; keep it inside"),
    ("  - {path: /etc/a, source: /etc/passwd}",
     "web.yaml:8:30: spec.files[0].source: '/etc/passwd' is not valid; a path relative to the manifest folder, such "
     "as config/app.yaml"),
    ("  - {path: /etc/, source: config/app.conf}",
     "web.yaml:8:14: spec.files[0].path: '/etc/' is not valid; an absolute file path inside the container, such as "
     "/etc/app/config.yaml"),
])
def test_bad_sources_are_located(entry, message):
    assert problems(("config/app.conf", CONFIG), ("web.yaml", with_files(entry))) == [message]


def test_diff_shows_the_changed_lines_of_a_file_and_nothing_else():
    old = ServiceSpec("web", "a", files=(ConfigFile("/etc/app.yaml", b"listen: 8080\nlevel: info\n"),)).template()
    new = ServiceSpec("web", "a", files=(ConfigFile("/etc/app.yaml", b"listen: 8080\nlevel: debug\n"),
                                         ConfigFile("/etc/extra", b"x"))).template()
    changes = {c.path: c.describe() for c in template_changes(old, new)}
    assert changes == {"files./etc/app.yaml": "files./etc/app.yaml changed:\n  -level: info\n  +level: debug",
                       "files./etc/extra": "files./etc/extra added"}


def test_a_binary_file_round_trips_through_the_template():
    spec = ServiceSpec("web", "a", files=(ConfigFile("/bin/blob", bytes(range(256)), 0o555),))
    from gitdeploy.core.model import spec_from_template

    assert spec_from_template("web", 1, spec.template(), spec.update).files == spec.files
