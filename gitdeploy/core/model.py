"""What the user declared: typed, validated, defaults filled.

A `ServiceSpec` is built only by the manifest loader (manifests/build.py) from a
document that already passed validation, so every value here is well-formed.

The *template* of a service is everything that defines one replica (all but the
name and the replica count). Its canonical JSON form is hashed; the hash, kept
in a label on every replica, is what decides "changed". Because the canonical
form is defaults-filled, writing `protocol: tcp` or leaving it out gives the
same hash, and because it holds only what the user declared, fields the engine
fills in never cause a false change.

Stability rule for later versions: a field added to the template must be left
out of `template()` while it has its default value, or every replica deployed
by an older gitdeploy would look changed after an upgrade.
"""
from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass, field
from enum import Enum

from gitdeploy.core.defaults import JOB_SCHEMA, default, default_of_volume
from gitdeploy.core.units import format_duration, format_memory, parse_cpus, parse_duration, parse_memory

RESTART_POLICIES = ("no", "always", "unless-stopped", "on-failure")
LONGEST_DEFAULT_TIMEOUT = 2.0  # seconds; a health check's timeout defaults to this, or its interval if shorter


def default_timeout(interval: float) -> float:
    return min(LONGEST_DEFAULT_TIMEOUT, interval)


class UpdateOrder(str, Enum):
    START_FIRST = "start-first"   # a new replica starts beside the old one, which goes once the new one is ready
    STOP_FIRST = "stop-first"     # the old replica goes first (a fixed host port cannot be shared)


class CheckKind(str, Enum):
    EXEC = "exec"                 # run by the engine inside the container
    HTTP = "http"                 # probed by gitdeploy
    TCP = "tcp"                   # probed by gitdeploy

    @property
    def probed_by_gitdeploy(self) -> bool:
        return self is not CheckKind.EXEC


class EngineKind(str, Enum):
    """What the manifests are deployed onto (gitdeploy.yaml `engine`, or --engine)."""

    DOCKER = "docker"             # one Docker engine: gitdeploy runs each replica and its rollout itself
    SWARM = "swarm"               # a Docker Swarm: each service is a Swarm service, rolled out by Swarm


class PublishMode(str, Enum):
    """How a Swarm service publishes a port (ports[].mode)."""

    INGRESS = "ingress"           # on every node, through Swarm's routing mesh (Swarm's default)
    HOST = "host"                 # on the node that runs the replica only (a single engine always does this)


class EndpointMode(str, Enum):
    """How other services reach a Swarm service by its name (spec.endpointMode)."""

    VIP = "vip"                   # one virtual address, balanced by the kernel's IPVS (Swarm's default)
    DNSRR = "dnsrr"               # the name resolves to every replica's own address


class FailureAction(str, Enum):
    ROLLBACK = "rollback"         # remove the new revision, restore the previous one
    PAUSE = "pause"               # stop where it is, for inspection


@dataclass(frozen=True, slots=True)
class HealthCheck:
    """One of exec (run by the engine inside the container), http or tcp (probed by gitdeploy)."""

    exec: tuple[str, ...] | None = None
    http_port: int | None = None
    http_path: str = default("healthCheck.http.path")
    http_status: int = default("healthCheck.http.expectStatus")
    tcp_port: int | None = None
    interval: float = parse_duration(default("healthCheck.interval"))
    timeout: float = default_timeout(parse_duration(default("healthCheck.interval")))
    retries: int = default("healthCheck.retries")
    start_period: float = parse_duration(default("healthCheck.startPeriod"))

    @property
    def kind(self) -> CheckKind:
        return CheckKind.EXEC if self.exec else CheckKind.HTTP if self.http_port else CheckKind.TCP

    def canonical(self) -> dict:
        probe: dict = (
            {"exec": list(self.exec)} if self.exec else
            {"http": {"port": self.http_port, "path": self.http_path, "expectStatus": self.http_status}}
            if self.http_port else {"tcp": {"port": self.tcp_port}}
        )
        return probe | {
            "interval": format_duration(self.interval), "timeout": format_duration(self.timeout),
            "retries": self.retries, "startPeriod": format_duration(self.start_period),
        }

    @classmethod
    def from_canonical(cls, data: dict) -> "HealthCheck":
        """From a manifest's `healthCheck` or a template's: missing fields get their defaults."""
        http, tcp = data.get("http") or {}, data.get("tcp") or {}
        interval = parse_duration(data.get("interval", default("healthCheck.interval")))
        return cls(
            exec=tuple(str(word) for word in data["exec"]) if data.get("exec") else None,
            http_port=int(http["port"]) if http else None,
            http_path=str(http.get("path", default("healthCheck.http.path"))),
            http_status=int(http.get("expectStatus", default("healthCheck.http.expectStatus"))),
            tcp_port=int(tcp["port"]) if tcp else None,
            interval=interval,
            # Not a schema default: it depends on the interval (a check may not outlast it).
            timeout=parse_duration(data["timeout"]) if "timeout" in data else default_timeout(interval),
            retries=int(data.get("retries", default("healthCheck.retries"))),
            start_period=parse_duration(data.get("startPeriod", default("healthCheck.startPeriod"))),
        )


@dataclass(frozen=True, slots=True)
class UpdatePolicy:
    """How a changed service is rolled out. Not part of the replica template."""

    parallelism: int = default("update.parallelism")
    order: UpdateOrder = UpdateOrder.START_FIRST
    delay: float = parse_duration(default("update.delay"))
    monitor: float = parse_duration(default("update.monitor"))
    progress_deadline: float = parse_duration(default("update.progressDeadline"))
    failure_action: FailureAction = FailureAction(default("update.failureAction"))
    drain: float = parse_duration(default("update.drain"))   # with an ingress: a removed replica serves this long

    def canonical(self) -> dict:
        return {"parallelism": self.parallelism, "order": self.order.value, "delay": format_duration(self.delay),
                "monitor": format_duration(self.monitor), "progressDeadline": format_duration(self.progress_deadline),
                "failureAction": self.failure_action.value, "drain": format_duration(self.drain)}

    @classmethod
    def from_canonical(cls, data: dict, *, fixed_host_port: bool = False) -> "UpdatePolicy":
        """From a manifest's `update` (or canonical()): missing fields get their defaults."""
        # Not a schema default: two replicas cannot share a fixed host port, so such a service goes stop-first.
        order = data.get("order", UpdateOrder.STOP_FIRST if fixed_host_port else UpdateOrder.START_FIRST)
        return cls(
            parallelism=int(data.get("parallelism", default("update.parallelism"))),
            order=UpdateOrder(order),
            delay=parse_duration(data.get("delay", default("update.delay"))),
            monitor=parse_duration(data.get("monitor", default("update.monitor"))),
            progress_deadline=parse_duration(data.get("progressDeadline", default("update.progressDeadline"))),
            failure_action=FailureAction(data.get("failureAction", default("update.failureAction"))),
            drain=parse_duration(data.get("drain", default("update.drain"))),
        )


class MountKind(str, Enum):
    VOLUME = "volume"        # an engine volume: a Volume of the project (or an external one)
    HOST_PATH = "hostPath"   # a folder on the engine's host
    TMPFS = "tmpfs"          # memory, empty at every start


@dataclass(frozen=True, slots=True)
class Mount:
    """Storage in a replica. For a volume, `source` is the engine volume's name (resolved by the loader)."""

    kind: MountKind
    path: str
    source: str = ""                 # engine volume name, or host folder; "" for tmpfs
    read_only: bool = False
    size: int | None = None          # tmpfs limit in bytes; None: the engine's default

    def canonical(self) -> dict:
        where = {"tmpfs": {"size": format_memory(self.size) if self.size else None}} \
            if self.kind is MountKind.TMPFS else {self.kind.value: self.source}
        return where | {"path": self.path, "readOnly": self.read_only}

    @classmethod
    def from_canonical(cls, data: dict) -> "Mount":
        kind = next(k for k in MountKind if k.value in data)
        size = (data.get("tmpfs") or {}).get("size") if kind is MountKind.TMPFS else None
        return cls(kind, str(data["path"]), "" if kind is MountKind.TMPFS else str(data[kind.value]),
                   bool(data.get("readOnly", default("volumes.readOnly"))),
                   parse_memory(size) if size is not None else None)


@dataclass(frozen=True, slots=True)
class SecurityContext:
    """How a replica's process runs: its user, a read-only root filesystem, kernel capabilities (what the
    host's policy allows of these: core/policy.py)."""

    user: str | None = None                  # "1000", "1000:1000", "app"; None: the image's USER
    read_only_root_filesystem: bool = False
    cap_add: tuple[str, ...] = ()            # in the order declared
    cap_drop: tuple[str, ...] = ()
    privileged: bool = False

    def canonical(self) -> dict:
        return {"user": self.user, "readOnlyRootFilesystem": self.read_only_root_filesystem,
                "capAdd": list(self.cap_add), "capDrop": list(self.cap_drop), "privileged": self.privileged}

    @classmethod
    def from_canonical(cls, data: dict) -> "SecurityContext":
        return cls(str(data["user"]) if data.get("user") is not None else None,
                   bool(data.get("readOnlyRootFilesystem", False)),
                   tuple(str(c) for c in data.get("capAdd") or ()), tuple(str(c) for c in data.get("capDrop") or ()),
                   bool(data.get("privileged", False)))


@dataclass(frozen=True, slots=True)
class ConfigFile:
    """A file from the repository, put into each replica before it starts. Its content is part of the
    template (so a change rolls the service out, and a rollback has the old content back)."""

    path: str
    content: bytes
    mode: int = int(default("files.mode"), 8)

    def canonical(self) -> dict:
        try:
            body = {"content": self.content.decode("utf-8")}
        except UnicodeDecodeError:
            body = {"contentBase64": base64.b64encode(self.content).decode()}
        return {"path": self.path, "mode": f"{self.mode:04o}"} | body

    @classmethod
    def from_canonical(cls, data: dict) -> "ConfigFile":
        content = data["content"].encode("utf-8") if "content" in data else base64.b64decode(data["contentBase64"])
        return cls(str(data["path"]), content, int(str(data.get("mode", default("files.mode"))), 8))


SECRETS_FOLDER = "/run/secrets"   # where a secret is delivered unless its `path` says otherwise


@dataclass(frozen=True, slots=True)
class SecretFile:
    """A secret kept encrypted in the repository, delivered to each replica as a file (and, where the
    user asks, an environment variable).

    Unlike a config file, its content is never part of the template: the template
    holds where it comes from and `digest`, a keyed digest of the plaintext
    (secrets/keyring.py), so a changed secret rolls the service out while a file
    merely re-encrypted does not, and a label shows nothing that could be guessed.
    The plaintext is read from the commit whenever a replica needs it.
    """

    name: str
    source: str                       # the encrypted file, relative to the manifest folder
    key: str = ""                     # a SOPS file's value, dotted (api.key); "" for a whole age file
    path: str = ""                    # in the replica (the builder fills in SECRETS_FOLDER/name)
    mode: int = int(default("secrets.mode"), 8)
    uid: int = default("secrets.uid")
    gid: int = default("secrets.gid")
    digest: str = ""                  # of the plaintext, keyed; "" when it was not decrypted (validate, no key)

    @property
    def target(self) -> str:
        return self.path or self.default_path(self.name)

    @staticmethod
    def default_path(name: str) -> str:
        return f"{SECRETS_FOLDER}/{name}"

    def canonical(self) -> dict:
        return {"name": self.name, "source": self.source, "path": self.target, "mode": f"{self.mode:04o}",
                "uid": self.uid, "gid": self.gid, "digest": self.digest} | ({"key": self.key} if self.key else {})

    @classmethod
    def from_canonical(cls, data: dict) -> "SecretFile":
        name = str(data["name"])
        return cls(name, str(data["source"]), str(data.get("key", "")), str(data.get("path") or cls.default_path(name)),
                   int(str(data.get("mode", default("secrets.mode"))), 8), int(data.get("uid", default("secrets.uid"))),
                   int(data.get("gid", default("secrets.gid"))), str(data.get("digest", "")))


@dataclass(frozen=True, slots=True)
class VolumeSpec:
    """A Volume document: storage that outlives replicas, never deleted unless asked (--prune-volumes)."""

    name: str                       # metadata.name, what services mount
    engine_name: str                # PROJECT_NAME, or the external volume's own name
    driver: str = default_of_volume("driver")
    driver_opts: tuple[tuple[str, str], ...] = ()
    external: bool = False


@dataclass(frozen=True, slots=True)
class PortSpec:
    container_port: int
    host_port: int | None = None      # None: the engine picks a free host port
    protocol: str = default("ports.protocol")
    host_ip: str = ""                 # "": all interfaces, as `docker run -p`
    mode: PublishMode | None = None   # None: as declared nowhere (a single engine: host; a Swarm: ingress)

    def canonical(self) -> dict:
        return {
            "containerPort": self.container_port,
            "hostPort": self.host_port,
            "protocol": self.protocol,
            "hostIP": self.host_ip,
        } | ({"mode": self.mode.value} if self.mode else {})

    @classmethod
    def from_canonical(cls, data: dict) -> "PortSpec":
        host_port = data.get("hostPort")
        return cls(int(data["containerPort"]), int(host_port) if host_port is not None else None,
                   str(data.get("protocol", default("ports.protocol"))), str(data.get("hostIP", "")),
                   PublishMode(data["mode"]) if data.get("mode") else None)

    def __str__(self) -> str:
        host = f"{self.host_ip}:" if self.host_ip else ""
        published = f"{host}{self.host_port}" if self.host_port else f"{host}*"
        return f"{published}->{self.container_port}/{self.protocol}"


class TlsMode(str, Enum):
    ACME = "acme"           # certificates from Let's Encrypt
    INTERNAL = "internal"   # Caddy's own local CA
    NONE = "none"           # plain HTTP


@dataclass(frozen=True, slots=True)
class IngressRoute:
    """spec.ingress: what the engine's ingress routes to a service's ready replicas."""

    hosts: tuple[str, ...]
    path: str = "/"
    port: int = 0          # the containerPort; 0 only before the builder fills it in
    tls: TlsMode = TlsMode.ACME

    def canonical(self) -> dict:
        return {"hosts": list(self.hosts), "path": self.path, "port": self.port, "tls": self.tls.value}

    @classmethod
    def from_canonical(cls, data: dict) -> "IngressRoute":
        return cls(tuple(str(h) for h in data["hosts"]), str(data.get("path") or "/"), int(data.get("port") or 0),
                   TlsMode(data.get("tls") or TlsMode.ACME.value))


@dataclass(frozen=True, slots=True)
class IngressSettings:
    """gitdeploy.yaml `ingress`: the engine's one ingress container."""

    image: str = "caddy:2"
    http: int = 80
    https: int = 443
    host_ip: str = ""
    acme_email: str = ""


@dataclass(frozen=True, slots=True)
class Placement:
    """Where a Swarm may run a service's replicas (spec.placement; Swarm only)."""

    constraints: tuple[str, ...] = ()        # "node.labels.zone==a", in the order declared
    spread: tuple[str, ...] = ()             # preferences: spread over these node labels, in order
    max_replicas_per_node: int = 0           # 0: no limit

    def canonical(self) -> dict:
        return {"constraints": list(self.constraints), "preferences": [{"spread": s} for s in self.spread],
                "maxReplicasPerNode": self.max_replicas_per_node}

    @classmethod
    def from_canonical(cls, data: dict) -> "Placement":
        return cls(tuple(str(c) for c in data.get("constraints") or ()),
                   tuple(str(p["spread"]) for p in data.get("preferences") or ()),
                   int(data.get("maxReplicasPerNode") or 0))


@dataclass(frozen=True, slots=True)
class ServiceSpec:
    name: str
    image: str
    replicas: int = default("replicas")
    command: tuple[str, ...] | None = None
    env: tuple[tuple[str, str], ...] = ()          # sorted by name
    ports: tuple[PortSpec, ...] = ()               # sorted
    cpus: float | None = None
    memory: int | None = None                      # bytes
    reserved_cpus: float | None = None             # resources.reservations: a Swarm places by them
    reserved_memory: int | None = None             # bytes
    restart: str = default("restart")
    init: bool = default("init")                   # run an init process as PID 1 (signals, zombies)
    stop_grace_period: float = parse_duration(default("stopGracePeriod"))  # seconds between SIGTERM and SIGKILL
    labels: tuple[tuple[str, str], ...] = ()       # sorted; the user's metadata.labels
    mounts: tuple[Mount, ...] = ()                 # in the order declared
    files: tuple[ConfigFile, ...] = ()             # in the order declared
    secrets: tuple[SecretFile, ...] = ()           # in the order declared
    secret_env: tuple[tuple[str, str], ...] = ()   # sorted; environment variable -> the secret it holds
    health: HealthCheck | None = None              # None: the image's HEALTHCHECK, if any
    update: UpdatePolicy = UpdatePolicy()
    depends_on: tuple[str, ...] = ()               # services and jobs converged before this one changes
    security_context: SecurityContext | None = None
    host_network: bool = False                     # the host's network stack instead of the project network
    devices: tuple[str, ...] = ()                  # "HOST[:CONTAINER[:PERMISSIONS]]", in the order declared
    ingress: IngressRoute | None = None            # routed by the engine's ingress
    placement: Placement | None = None             # Swarm only
    endpoint_mode: EndpointMode | None = None      # Swarm only; None: vip
    source: str = field(default="", compare=False)  # "web.yaml:3", where it was declared

    def template(self) -> dict:
        """The canonical, defaults-filled form of one replica, JSON-ready."""
        return {
            "image": self.image,
            "command": list(self.command) if self.command is not None else None,
            "env": dict(self.env) | {var: {"secret": name} for var, name in self.secret_env},
            "ports": [p.canonical() for p in self.ports],
            "resources": {
                "cpus": self.cpus,
                "memory": format_memory(self.memory) if self.memory is not None else None,
            } | ({"reservations": self.reservations()} if self.reserved_cpus or self.reserved_memory else {}),
            "restart": self.restart,
            "init": self.init,
            "stopGracePeriod": format_duration(self.stop_grace_period),
            "labels": dict(self.labels),
        } | ({"healthCheck": self.health.canonical()} if self.health else {}) \
          | ({"volumes": [m.canonical() for m in self.mounts]} if self.mounts else {}) \
          | ({"files": [f.canonical() for f in self.files]} if self.files else {}) \
          | ({"secrets": [s.canonical() for s in self.secrets]} if self.secrets else {}) \
          | ({"securityContext": self.security_context.canonical()} if self.security_context else {}) \
          | ({"hostNetwork": True} if self.host_network else {}) \
          | ({"devices": list(self.devices)} if self.devices else {}) \
          | ({"ingress": self.ingress.canonical()} if self.ingress else {}) \
          | ({"placement": self.placement.canonical()} if self.placement else {}) \
          | ({"endpointMode": self.endpoint_mode.value} if self.endpoint_mode else {})   # absent when unset: hashes stay put

    def reservations(self) -> dict:
        return {"cpus": self.reserved_cpus,
                "memory": format_memory(self.reserved_memory) if self.reserved_memory is not None else None}

    def template_json(self) -> str:
        return canonical_json(self.template())

    def template_hash(self) -> str:
        return hash_of_template(self.template_json())


JOB_RESTART = "no"   # a job's container runs once: exit 0 is success, anything else a failure


@dataclass(frozen=True, slots=True)
class JobSpec:
    """A Job document: one container run to completion, once per template.

    `run` is what one run is, as a one-replica service that is never restarted:
    its template (image, command, env, mounts, files, secrets, resources) is
    hashed like a service's, and a new hash is what makes the job run again.
    `timeout` and `retries` are not in the template: changing them runs nothing.
    """

    run: ServiceSpec
    timeout: float = parse_duration(default("timeout", JOB_SCHEMA))   # seconds; the run is killed past it
    retries: int = default("retries", JOB_SCHEMA)                     # extra attempts after a failed one

    @property
    def name(self) -> str:
        return self.run.name

    @property
    def depends_on(self) -> tuple[str, ...]:
        return self.run.depends_on

    @property
    def source(self) -> str:
        return self.run.source

    def template_hash(self) -> str:
        return self.run.template_hash()


@dataclass(frozen=True, slots=True)
class DesiredState:
    """Everything the manifests at one commit ask for."""

    project: str
    commit: str
    services: tuple[ServiceSpec, ...]   # sorted by name
    volumes: tuple[VolumeSpec, ...] = ()   # sorted by name
    warnings: tuple[str, ...] = ()         # things valid but probably unwanted (shown, never fatal)
    jobs: tuple[JobSpec, ...] = ()         # sorted by name; names shared with no service
    engine: EngineKind = EngineKind.DOCKER  # what it is deployed onto
    ingress: IngressSettings = IngressSettings()   # gitdeploy.yaml `ingress`

    def service(self, name: str) -> ServiceSpec | None:
        return next((s for s in self.services if s.name == name), None)

    def job(self, name: str) -> JobSpec | None:
        return next((j for j in self.jobs if j.name == name), None)

    def runnable(self) -> tuple[ServiceSpec, ...]:
        """What containers are made from: every service's spec, and every job's run."""
        return self.services + tuple(job.run for job in self.jobs)


def spec_from_template(name: str, replicas: int, template: dict, update: UpdatePolicy, source: str = "",
                       depends_on: tuple[str, ...] = ()) -> ServiceSpec:
    """The one conversion from a dict to a spec: the inverse of `ServiceSpec.template()`.

    It reads a template label (to restore a previous revision on rollback: the
    engine's labels, not a local file, remember it), a cached spec, and a
    validated manifest's `spec` (with `labels` from its metadata), whose
    fields may be left out (they get the schema's defaults) and whose env and
    label values may be numbers or booleans. Raises KeyError/ValueError/TypeError
    on a template this version cannot read.
    """
    resources = template.get("resources") or {}
    reserved = resources.get("reservations") or {}
    command = template.get("command")
    env = template.get("env") or {}
    from_secrets = {var: value for var, value in env.items() if isinstance(value, dict)}   # {secret: name}
    return ServiceSpec(
        name=name,
        image=str(template["image"]),
        replicas=replicas,
        command=tuple(str(word) for word in command) if command is not None else None,
        env=_string_pairs({var: value for var, value in env.items() if var not in from_secrets}),
        secret_env=tuple(sorted((str(var), str(value["secret"])) for var, value in from_secrets.items())),
        ports=tuple(sorted((PortSpec.from_canonical(p) for p in template.get("ports") or ()),
                           key=lambda p: (p.container_port, p.protocol, p.host_ip, p.host_port or 0))),
        cpus=parse_cpus(resources["cpus"]) if resources.get("cpus") is not None else None,
        memory=parse_memory(resources["memory"]) if resources.get("memory") is not None else None,
        reserved_cpus=parse_cpus(reserved["cpus"]) if reserved.get("cpus") is not None else None,
        reserved_memory=parse_memory(reserved["memory"]) if reserved.get("memory") is not None else None,
        restart=str(template.get("restart", default("restart"))),
        init=bool(template.get("init", default("init"))),
        stop_grace_period=parse_duration(template.get("stopGracePeriod", default("stopGracePeriod"))),
        labels=_string_pairs(template.get("labels")),
        mounts=tuple(Mount.from_canonical(m) for m in template.get("volumes") or ()),
        files=tuple(ConfigFile.from_canonical(f) for f in template.get("files") or ()),
        secrets=tuple(SecretFile.from_canonical(s) for s in template.get("secrets") or ()),
        health=HealthCheck.from_canonical(template["healthCheck"]) if template.get("healthCheck") else None,
        update=update,
        depends_on=depends_on,
        security_context=SecurityContext.from_canonical(template["securityContext"])
        if template.get("securityContext") else None,
        host_network=bool(template.get("hostNetwork", False)),
        devices=tuple(str(d) for d in template.get("devices") or ()),
        ingress=IngressRoute.from_canonical(template["ingress"]) if template.get("ingress") else None,
        placement=Placement.from_canonical(template["placement"]) if template.get("placement") else None,
        endpoint_mode=EndpointMode(template["endpointMode"]) if template.get("endpointMode") else None,
        source=source,
    )


def uncovered_volume_paths(declared: tuple[str, ...], spec: ServiceSpec) -> tuple[str, ...]:
    """Of the paths an image declares as VOLUME, those no mount of the spec covers (kept per slot)."""
    covered = {m.path.rstrip("/") or "/" for m in spec.mounts}
    return tuple(sorted(p for p in declared if (p.rstrip("/") or "/") not in covered))


def _string_pairs(mapping: dict | None) -> tuple[tuple[str, str], ...]:
    return tuple(sorted((str(key), _scalar_text(value)) for key, value in (mapping or {}).items()))


def _scalar_text(value: object) -> str:
    # YAML `DEBUG: true` and `PORT: 8080` mean the strings "true" and "8080".
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def hash_of_template(template_json: str) -> str:
    """The hash that names a template: the first 12 hex digits of the SHA-256 of its canonical JSON."""
    return hashlib.sha256(template_json.encode()).hexdigest()[:12]


def template_intact(template_json: str, template_hash: str) -> bool:
    """Whether a template label is the template its hash label names: written by gitdeploy, not damaged since."""
    return bool(template_json) and hash_of_template(template_json) == template_hash


def canonical_json(value: object) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
