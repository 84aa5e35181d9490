"""The engine's one ingress container, `gitdeploy-ingress`: Caddy, configured from what runs.

Shared by every project on the engine, as one kamal-proxy serves every app on a
host: its configuration is computed from the replicas of all projects (their
template labels and their addresses on their project networks: core/ingress.py)
each time a replica starts serving or is taken out, and compared with what it
has loaded on every sync, so a removed, stopped or reconfigured ingress is drift
that the next sync repairs. Updates of it are serialized by a lock of its own.
Its certificates live in the volume `gitdeploy-ingress-data`, which gitdeploy
never removes (Let's Encrypt limits how often a certificate is issued).
"""
from __future__ import annotations

import io
import json
import os
import tarfile
import time

from gitdeploy.core import labels as L
from gitdeploy.core.ingress import CONFIG_PATH, DATA_PATH, Backend, Route, config_text, routes
from gitdeploy.core.model import HealthCheck, IngressRoute, IngressSettings
from gitdeploy.engine.base import PullPolicy
from gitdeploy.engine.docker import translated_errors
from gitdeploy.errors import EngineError

NAME = "gitdeploy-ingress"
VOLUME = "gitdeploy-ingress-data"
NETWORK = "gitdeploy-ingress"                 # its own network (never a project's): see _create
KIND = "ingress"                              # L.KIND on the container
IMAGE_LABEL = L.PREFIX + "ingress-image"      # what it was created with: a change makes a new container
PORTS_LABEL = L.PREFIX + "ingress-ports"
LOCK = "_ingress"                             # no project is named so ('_' is not allowed in project names)


def image_of(settings: IngressSettings) -> str:
    return os.environ.get("GITDEPLOY_INGRESS_IMAGE") or settings.image


class Ingress:
    def __init__(self, api, settings: IngressSettings, pull: PullPolicy = PullPolicy.MISSING) -> None:
        self.api, self.settings, self.pull = api, settings, pull

    # -- reading -----------------------------------------------------------

    def backends(self) -> list[Backend]:
        """Every replica of every project whose template routes through the ingress."""
        with translated_errors("listing replicas for the ingress"):
            rows = self.api.containers(filters={"label": [L.PROJECT]})
        found = []
        for row in rows:
            labels = row.get("Labels") or {}
            try:
                template = json.loads(labels.get(L.TEMPLATE) or "{}")
            except ValueError:
                continue
            if not isinstance(template, dict) or not template.get("ingress"):
                continue
            project, name = labels.get(L.PROJECT, ""), (row.get("Names") or ["/?"])[0].lstrip("/")
            networks = (row.get("NetworkSettings") or {}).get("Networks") or {}
            # By its ID, which the engine's DNS resolves on the project network: an address would change when
            # the replica restarts (its restart policy, `gitdeploy restart`, a reboot) and could then be another's.
            address = row["Id"][:12] if L.network_name(project) in networks else ""
            serving = row.get("State") == "running" and not name.endswith((L.PENDING, L.DRAINING)) \
                and not (row.get("Status") or "").endswith("(unhealthy)")
            check = template.get("healthCheck")
            found.append(Backend(project, labels.get(L.SERVICE, ""), name,
                                 IngressRoute.from_canonical(template["ingress"]), address,
                                 HealthCheck.from_canonical(check) if check else None, serving))
        return found

    def routes(self) -> tuple[Route, ...]:
        return routes(self.backends())

    def container(self) -> dict | None:
        import docker.errors

        with translated_errors("inspecting the ingress"):
            try:
                return self.api.inspect_container(NAME)
            except docker.errors.NotFound:
                return None

    def loaded(self) -> str:
        """The configuration the ingress has ("" when it cannot be read)."""
        import docker.errors

        try:
            stream, _ = self.api.get_archive(NAME, CONFIG_PATH)
            with tarfile.open(fileobj=io.BytesIO(b"".join(stream))) as tar:
                member = tar.extractfile(tar.getmembers()[0])
                return member.read().decode() if member else ""
        except (docker.errors.APIError, tarfile.TarError, IndexError):
            return ""

    def drift(self, found: tuple[Route, ...] | None = None) -> str:
        """Why the ingress is not what what runs asks for ("" when it is)."""
        return self._drift(self.routes() if found is None else found, self.container())

    def _drift(self, found: tuple[Route, ...], existing: dict | None) -> str:
        if existing is None:
            return "missing" if found else ""
        if not (existing.get("State") or {}).get("Running"):
            return "stopped"
        labels = (existing.get("Config") or {}).get("Labels") or {}
        if labels.get(IMAGE_LABEL) != image_of(self.settings) or labels.get(PORTS_LABEL) != self._ports_label():
            return "created with another image or other ports"
        missing = self._networks_missing(existing, found)
        if missing:
            return f"not on the network of project {missing[0]}"
        if self.loaded() != config_text(found, self.settings):
            return "its configuration differs from what runs"
        return ""

    def info(self):
        """What `status` says of it: image, running, ports, and the certificates it holds with their expiry."""
        from gitdeploy.core.ingress import IngressInfo

        existing = self.container()
        if existing is None:
            return IngressInfo(image_of(self.settings), False, self._ports_label(), ())
        labels = (existing.get("Config") or {}).get("Labels") or {}
        return IngressInfo(labels.get(IMAGE_LABEL, ""), bool((existing.get("State") or {}).get("Running")),
                           labels.get(PORTS_LABEL, ""), self._certificates())

    def _certificates(self) -> tuple[tuple[str, str], ...]:
        """(host name, expiry date) of each certificate in Caddy's storage (ACME's and its own CA's)."""
        import docker.errors
        from cryptography import x509

        try:
            stream, _ = self.api.get_archive(NAME, f"{DATA_PATH}/certificates")
            archive = tarfile.open(fileobj=io.BytesIO(b"".join(stream)))
        except (docker.errors.APIError, tarfile.TarError):
            return ()
        found = []
        with archive:
            for member in archive.getmembers():
                if member.isfile() and member.name.endswith(".crt"):
                    try:
                        cert = x509.load_pem_x509_certificate(archive.extractfile(member).read())
                    except ValueError:
                        continue
                    host = member.name.rsplit("/", 1)[-1].removesuffix(".crt")
                    found.append((host, cert.not_valid_after_utc.date().isoformat()))
        return tuple(sorted(found))

    # -- changing ----------------------------------------------------------

    def converge(self) -> str:
        """Makes the ingress serve what runs now (creating, starting, reconnecting or reloading it); what was
        wrong ("" when nothing was). Call under the ingress lock."""
        found, existing = self.routes(), self.container()
        wrong = self._drift(found, existing)
        if not wrong:
            return ""
        text = config_text(found, self.settings)
        if existing is None or wrong == "created with another image or other ports":
            self.ensure_image()   # before the old one goes: a missing image must not leave no ingress at all
        if wrong == "created with another image or other ports" and existing is not None:
            with translated_errors("replacing the ingress"):
                self.api.remove_container(NAME, force=True)
            existing = None
        if existing is None:
            self._create(text, found)
            return wrong
        if not (existing.get("State") or {}).get("Running"):
            with translated_errors("starting the ingress"):
                self.api.start(NAME)
        for project in self._networks_missing(self.container() or existing, found):
            with translated_errors(f"connecting the ingress to project {project}"):
                self.api.connect_container_to_network(NAME, L.network_name(project))
        self._load(text)
        return wrong

    def ensure_image(self) -> None:
        """The ingress's image is on the engine, pulled when it is not (unless --pull never)."""
        import docker.errors

        image = image_of(self.settings)
        with translated_errors(f"looking for the ingress image {image}"):
            try:
                self.api.inspect_image(image)
                return
            except docker.errors.ImageNotFound:
                pass
        if self.pull is PullPolicy.NEVER:
            raise EngineError(f"the ingress image {image} is not on the engine (and --pull never)",
                              hint="load it, or set GITDEPLOY_INGRESS_IMAGE / ingress.image to one the engine has")
        with translated_errors(f"pulling the ingress image {image}"):
            self.api.pull(image)

    def _create(self, text: str, found: tuple[Route, ...]) -> None:
        settings = self.settings
        ports = {}
        if settings.http:
            ports["80/tcp"] = (settings.host_ip, settings.http) if settings.host_ip else settings.http
        if settings.https:
            ports["443/tcp"] = (settings.host_ip, settings.https) if settings.host_ip else settings.https
        image = image_of(settings)
        self._own_network()
        with translated_errors("creating the ingress"):
            created = self.api.create_container(
                image, command=["caddy", "run", "--config", CONFIG_PATH], name=NAME,
                labels={L.MANAGED_BY: "gitdeploy", L.KIND: KIND, IMAGE_LABEL: image, PORTS_LABEL: self._ports_label()},
                environment={"XDG_DATA_HOME": DATA_PATH, "XDG_CONFIG_HOME": f"{DATA_PATH}/config", "HOME": DATA_PATH},
                ports=[(80, "tcp"), (443, "tcp")],
                host_config=self.api.create_host_config(
                    port_bindings=ports, restart_policy={"Name": "unless-stopped"},
                    binds={VOLUME: {"bind": DATA_PATH, "mode": "rw"}},
                    # A user-defined network of its own first: the engine's DNS (127.0.0.11) then answers it,
                    # which resolves the replicas by ID on every project network it joins.
                    network_mode=NETWORK),
            )
            self.api.put_archive(created["Id"], "/", _tar(CONFIG_PATH, text))
            for project in sorted({r.project for r in found}):
                self.api.connect_container_to_network(created["Id"], L.network_name(project))
            self.api.start(created["Id"])
        self._wait_listening()

    def _load(self, text: str | None) -> None:
        """Puts `text` in place (None: the one there) and has Caddy load it."""
        before = self.loaded() if text is not None else None
        with translated_errors("reloading the ingress"):
            if text is not None:
                self.api.put_archive(NAME, "/", _tar(CONFIG_PATH, text))
            run = self.api.exec_create(NAME, ["caddy", "reload", "--config", CONFIG_PATH, "--force"])
            output = self.api.exec_start(run["Id"]).decode(errors="replace")
            code = self.api.exec_inspect(run["Id"]).get("ExitCode")
            if code != 0 and before:   # the file says what runs: a refused one does not stay (drift sees it)
                self.api.put_archive(NAME, "/", _tar(CONFIG_PATH, before))
        if code != 0:
            raise EngineError(f"the ingress refused its configuration: {output.strip()[-300:]}")

    def _wait_listening(self, seconds: float = 10.0) -> None:
        """Until Caddy's admin endpoint answers (a reload of the configuration it started with succeeds)."""
        deadline = time.monotonic() + seconds
        while True:
            try:
                return self._load(None)
            except EngineError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)

    def disconnect(self, project: str) -> None:
        """Leaves a project's network (before `down` removes it)."""
        import docker.errors

        if self.container() is None:
            return
        with translated_errors(f"disconnecting the ingress from project {project}"):
            try:
                self.api.disconnect_container_from_network(NAME, L.network_name(project), force=True)
            except docker.errors.APIError as exc:
                if exc.status_code not in (400, 403, 404, 500):
                    raise

    def _own_network(self) -> None:
        with translated_errors(f"creating network {NETWORK}"):
            if not [n for n in self.api.networks(names=[NETWORK]) if n["Name"] == NETWORK]:
                self.api.create_network(NETWORK, driver="bridge", labels={L.MANAGED_BY: "gitdeploy", L.KIND: KIND})

    def _networks_missing(self, container: dict, found: tuple[Route, ...]) -> list[str]:
        attached = set(((container.get("NetworkSettings") or {}).get("Networks") or {}))
        return sorted({r.project for r in found if L.network_name(r.project) not in attached})

    def _ports_label(self) -> str:
        s = self.settings
        return f"{s.host_ip}:{s.http}/{s.https}"


def _tar(path: str, text: str) -> bytes:
    data, content = io.BytesIO(), text.encode()
    with tarfile.open(fileobj=data, mode="w") as tar:
        info = tarfile.TarInfo(path.strip("/"))
        info.size, info.mode, info.mtime = len(content), 0o644, int(time.time())
        tar.addfile(info, io.BytesIO(content))
    return data.getvalue()
