"""What a manifest may ask of the host, under the built-in default and under a policy file (pure)."""
from __future__ import annotations

from dataclasses import replace

import pytest

from gitdeploy.core.model import Mount, MountKind, PortSpec, SecurityContext, ServiceSpec
from gitdeploy.core.policy import BUILT_IN, Item, Policy, PortRange, Rule, violations

WEB = ServiceSpec("web", "registry.example.com/shop/web:1")


def host_path(path: str) -> ServiceSpec:
    return replace(WEB, mounts=(Mount(MountKind.HOST_PATH, "/data", path),))


def context(**fields) -> ServiceSpec:
    return replace(WEB, security_context=SecurityContext(**fields))


FILE = Policy(source="/etc/gitdeploy/policy.yaml")

# (id, spec, policy, the rules that refuse it)
CASES = [
    ("a plain service", WEB, BUILT_IN, []),
    ("privileged", context(privileged=True), BUILT_IN, [Rule.PRIVILEGED]),
    ("privileged, allowed", context(privileged=True), replace(FILE, privileged=True), []),
    ("host network", replace(WEB, host_network=True), BUILT_IN, [Rule.HOST_NETWORK]),
    ("host network, allowed", replace(WEB, host_network=True), replace(FILE, host_network=True), []),
    ("a safe capability", context(cap_drop=("ALL",), cap_add=("NET_BIND_SERVICE",)), BUILT_IN, []),
    ("NET_ADMIN", context(cap_add=("NET_ADMIN", "CHOWN")), BUILT_IN, [Rule.CAPABILITIES]),
    ("NET_ADMIN, listed", context(cap_add=("NET_ADMIN",)), replace(FILE, capabilities=frozenset({"NET_ADMIN"})), []),
    ("a policy's list replaces the safe set", context(cap_add=("CHOWN",)),
     replace(FILE, capabilities=frozenset({"NET_ADMIN"})), [Rule.CAPABILITIES]),
    ("a device", replace(WEB, devices=("/dev/fuse",)), BUILT_IN, [Rule.DEVICES]),
    ("a device, listed", replace(WEB, devices=("/dev/fuse:/dev/fuse:rwm",)), replace(FILE, devices=("/dev/fuse",)), []),
    ("an ordinary host folder", host_path("/srv/shop"), BUILT_IN, []),
    ("the docker socket", host_path("/var/run/docker.sock"), BUILT_IN, [Rule.HOST_PATHS]),
    ("the other docker socket", host_path("/run/docker.sock"), BUILT_IN, [Rule.HOST_PATHS]),
    ("the root", host_path("/"), BUILT_IN, [Rule.HOST_PATHS]),
    ("beneath /etc", host_path("/etc/ssl/private"), BUILT_IN, [Rule.HOST_PATHS]),
    ("above the socket", host_path("/var/run"), BUILT_IN, [Rule.HOST_PATHS]),
    ("a trick path", host_path("/srv/../etc"), BUILT_IN, [Rule.HOST_PATHS]),
    ("the engine's data", host_path("/var/lib/docker/volumes"), BUILT_IN, [Rule.HOST_PATHS]),
    ("a protected path listed exactly", host_path("/var/run/docker.sock"),
     replace(FILE, host_paths=("/var/run/docker.sock",)), []),
    ("a prefix does not open a protected path", host_path("/etc/ssl"), replace(FILE, host_paths=("/etc",)),
     [Rule.HOST_PATHS]),
    ("outside the allowed prefixes", host_path("/opt/x"), replace(FILE, host_paths=("/srv/",)), [Rule.HOST_PATHS]),
    ("inside the allowed prefixes", host_path("/srv/shop/uploads"), replace(FILE, host_paths=("/srv/",)), []),
    ("a sibling is not a prefix", host_path("/srvx"), replace(FILE, host_paths=("/srv",)), [Rule.HOST_PATHS]),
    ("an image off the list", WEB, replace(FILE, images=("docker.io/library/*",)), [Rule.IMAGES]),
    ("an image on the list", WEB, replace(FILE, images=("registry.example.com/shop/*",)), []),
    ("a host port out of range", replace(WEB, ports=(PortSpec(80, 8080),)),
     replace(FILE, host_ports=(PortRange(9000, 9999),)), [Rule.HOST_PORTS]),
    ("a host port in range", replace(WEB, ports=(PortSpec(80, 9090),)),
     replace(FILE, host_ports=(PortRange(9000, 9999), PortRange(80, 80))), []),
    ("no host port at all", replace(WEB, ports=(PortSpec(80),)), replace(FILE, host_ports=(PortRange(80, 80),)), []),
]


@pytest.mark.parametrize("spec, policy, rules", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_what_is_refused(spec, policy, rules):
    assert [v.rule for v in violations(spec, policy)] == rules


def test_a_refusal_names_the_path_the_policy_and_its_rule():
    (privileged,) = violations(context(privileged=True), BUILT_IN)
    assert privileged.path == ("spec", "securityContext", "privileged")
    assert privileged.message(BUILT_IN, "spec.securityContext.privileged") == \
        "spec.securityContext.privileged: not allowed by policy (built-in default)"
    # A file that does not set the key: still the built-in default that refused.
    assert privileged.message(FILE, "spec.securityContext.privileged") == \
        "spec.securityContext.privileged: not allowed by policy /etc/gitdeploy/policy.yaml (built-in default)"
    (image,) = violations(WEB, replace(FILE, images=("docker.io/*",)))
    assert image.message(replace(FILE, images=("docker.io/*",)), "spec.image") == \
        "spec.image: not allowed by policy /etc/gitdeploy/policy.yaml (allow.images)"
    (socket,) = violations(host_path("/var/run/docker.sock"), BUILT_IN)
    assert socket.path == ("spec", "volumes", Item("hostPath", "/var/run/docker.sock"), "hostPath")
    assert socket.hint.startswith("/var/run/docker.sock listed exactly in allow.hostPaths")


@pytest.mark.parametrize("path", ["//var/run/docker.sock", "//etc", "/usr/bin", "/root/.ssh", "/dev",
                                  "/run/containerd/containerd.sock", "/var/spool/cron/crontabs"])
def test_more_ways_to_the_host_are_refused(path):
    assert [v.rule for v in violations(host_path(path), BUILT_IN)] == [Rule.HOST_PATHS]


# (id, driver options of a local volume, the rules that refuse it)
VOLUME_CASES = [
    ("a plain volume", (), []),
    ("a bind of a host folder", (("device", "/srv/data"), ("o", "bind"), ("type", "none")), []),
    ("a bind of /etc", (("device", "/etc"), ("o", "bind"), ("type", "none")), [Rule.HOST_PATHS]),
    ("a block device", (("device", "/dev/sda1"), ("type", "ext4")), [Rule.DEVICES]),
    ("an NFS export", (("device", ":/exports/shop"), ("o", "addr=10.0.0.5"), ("type", "nfs")), []),
]


@pytest.mark.parametrize("options, rules", [c[1:] for c in VOLUME_CASES], ids=[c[0] for c in VOLUME_CASES])
def test_a_local_volume_that_mounts_from_the_host_follows_the_same_rules(options, rules):
    from gitdeploy.core.model import VolumeSpec
    from gitdeploy.core.policy import volume_violations

    volume = VolumeSpec("data", "shop_data", "local", options)
    assert [v.rule for v in volume_violations(volume, BUILT_IN)] == rules
