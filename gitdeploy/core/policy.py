"""The host's policy: what a manifest may ask of the host. Decided on the host, never in the repository.

A commit must not be able to take over the machine it deploys to: mount the
Docker socket, run privileged, join the host's network. The policy says what
this host allows (a file an operator writes: docs/policy.md, its format in
schemas/policy.v1.schema.json); without one, the built-in default below
refuses everything that reaches past the container. Pure: a `Policy` and the
typed specs in, the `Violation`s out, each naming the manifest path and the
rule that refused it. The manifests package locates them (file:line:column).
"""
from __future__ import annotations

import posixpath
from dataclasses import dataclass
from enum import Enum

from gitdeploy.core.model import MountKind, ServiceSpec, VolumeSpec

# Capabilities `securityContext.capAdd` may name without a policy: Docker's default set, which a
# container has anyway unless `capDrop` took it away (`capDrop: [ALL]` then `capAdd: [NET_BIND_SERVICE]`).
SAFE_CAPABILITIES = frozenset({
    "AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "MKNOD", "NET_BIND_SERVICE",
    "NET_RAW", "SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT",
})
# Host paths no manifest may mount without a policy listing them exactly: the engine's socket (root on
# the host), the host's configuration, kernel interfaces, the engine's own data; each with all beneath it,
# and every folder above one (mounting /var hands over /var/run/docker.sock). "/" is above them all.
# The list, and what is as plainly root on the host: devices, root's home, the system's programs,
# containerd and systemd's sockets, cron's spool. A deny list: `allow.hostPaths` turns it into an allow list.
PROTECTED_HOST_PATHS = ("/var/run/docker.sock", "/run/docker.sock", "/etc", "/proc", "/sys", "/boot",
                        "/var/lib/docker", "/dev", "/root", "/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64",
                        "/var/lib/containerd", "/run/containerd", "/var/run/containerd", "/run/systemd",
                        "/run/dbus", "/var/spool/cron", "/var/lib/kubelet")


class Rule(str, Enum):
    """The policy key that decides; named in every refusal."""

    PRIVILEGED = "allow.privileged"
    HOST_NETWORK = "allow.hostNetwork"
    CAPABILITIES = "allow.capabilities"
    DEVICES = "allow.devices"
    HOST_PATHS = "allow.hostPaths"
    IMAGES = "allow.images"
    HOST_PORTS = "allow.hostPorts"


@dataclass(frozen=True, slots=True)
class PortRange:
    low: int
    high: int

    def __contains__(self, port: int) -> bool:
        return self.low <= port <= self.high

    def __str__(self) -> str:
        return str(self.low) if self.low == self.high else f"{self.low}-{self.high}"


@dataclass(frozen=True, slots=True)
class SignaturePolicy:
    required: bool = False
    allowed_signers: str = ""     # ssh-keygen's ALLOWED SIGNERS file
    gpg_keyring: str = ""


@dataclass(frozen=True, slots=True)
class Policy:
    """What the host allows. A field left None was not in the file: the built-in default decides."""

    source: str = ""                              # the file; "" for the built-in default alone
    privileged: bool | None = None
    host_network: bool | None = None
    capabilities: frozenset[str] | None = None
    devices: tuple[str, ...] | None = None
    host_paths: tuple[str, ...] | None = None
    images: tuple[str, ...] | None = None
    host_ports: tuple[PortRange, ...] | None = None
    signatures: SignaturePolicy = SignaturePolicy()

    def named(self, rule: Rule) -> bool:
        """Whether the file sets this rule's key (else its refusal is the built-in default's)."""
        field = {Rule.PRIVILEGED: self.privileged, Rule.HOST_NETWORK: self.host_network,
                 Rule.CAPABILITIES: self.capabilities, Rule.DEVICES: self.devices,
                 Rule.HOST_PATHS: self.host_paths, Rule.IMAGES: self.images, Rule.HOST_PORTS: self.host_ports}[rule]
        return field is not None


BUILT_IN = Policy()


@dataclass(frozen=True, slots=True)
class Item:
    """A path step into a list: the entry whose `key` (or the entry itself, when key is "") equals `value`."""

    key: str
    value: object


@dataclass(frozen=True, slots=True)
class Violation:
    path: tuple[str | Item, ...]   # in the manifest document, e.g. ("spec", "securityContext", "privileged")
    rule: Rule
    hint: str                      # what would allow it: the policy's words, or what to write instead

    def message(self, policy: Policy, path_text: str) -> str:
        """`spec.path: not allowed by policy FILE (rule)`; `path_text` is the path as located (with indexes)."""
        where = f"policy {policy.source}" if policy.source else "policy"
        rule = self.rule.value if policy.named(self.rule) else "built-in default"
        return f"{path_text}: not allowed by {where} ({rule})"


def violations(spec: ServiceSpec, policy: Policy) -> tuple[Violation, ...]:
    """Everything `spec` asks of the host that `policy` does not allow, in manifest order."""
    found: list[Violation] = []
    context = spec.security_context
    if policy.images is not None and not _image_allowed(spec.image, policy.images):
        found.append(Violation(("spec", "image"), Rule.IMAGES,
                               f"an image matching {', '.join(policy.images)}"))
    if context is not None and context.privileged and not policy.privileged:
        found.append(Violation(("spec", "securityContext", "privileged"), Rule.PRIVILEGED,
                               "allow.privileged: true"))
    allowed_caps = policy.capabilities if policy.capabilities is not None else SAFE_CAPABILITIES
    for cap in context.cap_add if context is not None else ():
        if cap not in allowed_caps and "ALL" not in allowed_caps:
            found.append(Violation(("spec", "securityContext", "capAdd", Item("", cap)), Rule.CAPABILITIES,
                                   f"{cap} in allow.capabilities"))
    if spec.host_network and not policy.host_network:
        found.append(Violation(("spec", "hostNetwork"), Rule.HOST_NETWORK,
                               "allow.hostNetwork: true"))
    for device in spec.devices:
        host = device.split(":", 1)[0]
        if host not in (policy.devices or ()):
            found.append(Violation(("spec", "devices", Item("", device)), Rule.DEVICES,
                                   f"{host} in allow.devices"))
    for mount in spec.mounts:
        if mount.kind is MountKind.HOST_PATH and not host_path_allowed(mount.source, policy):
            found.append(Violation(("spec", "volumes", Item("hostPath", mount.source), "hostPath"), Rule.HOST_PATHS,
                                   _host_path_hint(mount.source, policy)))
    if policy.host_ports is not None:
        for port in spec.ports:
            if port.host_port and not any(port.host_port in r for r in policy.host_ports):
                found.append(Violation(("spec", "ports", Item("hostPort", port.host_port), "hostPort"), Rule.HOST_PORTS,
                                       f"a host port in {', '.join(map(str, policy.host_ports))}"))
    return tuple(found)


def volume_violations(volume: VolumeSpec, policy: Policy) -> tuple[Violation, ...]:
    """A `local` volume with a `device` option mounts from the host: a folder (`type: none`, `o: bind`) is a
    host path, a /dev/ node a device, each under the same rules as in a service. Other devices (an NFS
    export) and other drivers (installed by the host's operator) are left to them."""
    options = dict(volume.driver_opts)
    device = options.get("device", "")
    if volume.external or volume.driver != "local" or not device.startswith("/"):
        return ()
    path = ("spec", "driverOpts", "device")
    bind = options.get("type", "") in ("", "none") or "bind" in options.get("o", "").split(",")
    if bind and not normalised(device).startswith("/dev/"):
        if not host_path_allowed(device, policy):
            return (Violation(path, Rule.HOST_PATHS, _host_path_hint(device, policy)),)
    elif device not in (policy.devices or ()):
        return (Violation(path, Rule.DEVICES, f"{device} in allow.devices"),)
    return ()


def _image_allowed(image: str, patterns: tuple[str, ...]) -> bool:
    import fnmatch   # only with allow.images: 3 ms of every no-op pass otherwise

    return any(fnmatch.fnmatchcase(image, pattern) for pattern in patterns)


def host_path_allowed(path: str, policy: Policy) -> bool:
    normal = normalised(path)
    listed = policy.host_paths or ()
    if protected(normal):
        return normal in (normalised(p) for p in listed)   # only when listed exactly
    if policy.host_paths is None:
        return True
    return any(_beneath(normal, normalised(prefix)) for prefix in listed)


def normalised(path: str) -> str:
    """The path as the kernel sees it: `..` resolved, and `//x` is `/x` (POSIX normpath keeps two slashes)."""
    return "/" + posixpath.normpath(path).lstrip("/")


def protected(path: str) -> bool:
    """Whether a host path is, lies beneath, or holds one of PROTECTED_HOST_PATHS."""
    return any(_beneath(path, p) or _beneath(p, path) for p in PROTECTED_HOST_PATHS)


def _beneath(path: str, folder: str) -> bool:
    return path == folder or folder == "/" or path.startswith(folder.rstrip("/") + "/")


def _host_path_hint(path: str, policy: Policy) -> str:
    if protected(normalised(path)):
        return f"{path} listed exactly in allow.hostPaths (it reaches the host's own files)"
    return f"a folder under {', '.join(policy.host_paths or ())}"
