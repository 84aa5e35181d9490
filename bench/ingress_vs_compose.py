"""gitdeploy behind its ingress vs `docker-compose up -d` on a fixed host port: 5 updates under load, one run.

The same web app (gitdeploy-test/app, busybox httpd) is updated 5 times (v1 -> v2 -> v1 -> ...) while a
steady client sends requests (2 threads, 50 requests/s each, HTTP/1.0 without keep-alive, 2 s timeout):
  gitdeploy: one replica behind the engine's ingress (Caddy, gitdeploy-test/caddy:2), routed by Host
             header, exec health check every 1 s, start-first with a 1 s drain; `gitdeploy sync` per commit
  compose:   one service published on 127.0.0.1:PORT, its image changed and `docker-compose up -d`
Prints for each the requests sent, failed (any error or non-200) and the longest gap without a successful
response, and every failure with when it happened. Then, with the gitdeploy service at 2 replicas, the
requests per second for 5 s through the ingress against the same replicas reached directly on the project
network, with the same client (8 processes, closed loop). Adds its lines to the run's table (bench/rows.py);
asserts nothing. Cleans up at the end and on error (the ingress container and its volume included).
"""
from __future__ import annotations

import json
import multiprocessing
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
from rows import Row, record  # noqa: E402
from tests.manifest_repo import ManifestRepo  # noqa: E402

GITDEPLOY = str(ROOT / ".venv" / "bin" / "gitdeploy")
INGRESS_IMAGE = "gitdeploy-test/caddy:2"
HOST = "bench.test"
CHECK = ["wget", "-q", "-O", "/dev/null", "http://127.0.0.1/healthz"]
TAGS = ["v2", "v1", "v2", "v1", "v2"]          # the 5 updates, from v1
STREAM_THREADS, STREAM_RATE = 2, 50.0          # per thread: 100 requests/s in all
TIMEOUT = 2.0                                  # seconds, per request
SYNC_TIMEOUT = 300                             # seconds: a sync that takes longer is reported as a hang
THROUGHPUT_WORKERS, THROUGHPUT_SECONDS, WARMUP = 8, 5.0, 0.5
ENV = {**os.environ, "GITDEPLOY_INGRESS_IMAGE": INGRESS_IMAGE}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def get(address: str, port: int, host: str | None = None, timeout: float = TIMEOUT) -> tuple[int, str]:
    """One HTTP/1.0 GET / on a new connection: (status, body)."""
    request = f"GET / HTTP/1.0\r\nHost: {host or address}\r\nUser-Agent: gitdeploy-bench\r\n\r\n".encode()
    with socket.create_connection((address, port), timeout=timeout) as connection:
        connection.sendall(request)
        answer = b""
        while chunk := connection.recv(65536):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    parts = head.split(b" ", 2)
    if len(parts) < 2 or not parts[1].isdigit():
        raise OSError(f"no HTTP answer: {answer[:60]!r}")
    return int(parts[1]), body.decode(errors="replace").strip()


def wait_for(address: str, port: int, host: str | None, body: str, seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    last: object = None
    while time.monotonic() < deadline:
        try:
            last = get(address, port, host)
            if last == (200, body):
                return
        except OSError as exc:
            last = exc
        time.sleep(0.1)
    raise RuntimeError(f"{address}:{port} (Host {host}) did not answer 200 {body!r} in {seconds:.0f} s: last {last!r}")


def wall_clock() -> str:
    """Now in UTC, to the millisecond, as `docker logs -t` shows it."""
    now = time.time()
    return time.strftime("%H:%M:%S", time.gmtime(now)) + f".{int(now % 1 * 1000):03d}Z"


@dataclass
class Stream:
    """A steady request stream: STREAM_THREADS threads, each sending STREAM_RATE requests per second (a request
    that takes longer than its slot delays the next; slots missed are not made up). `phase` says what the
    main thread is doing, so each failure can be told when it happened."""
    port: int
    host: str | None
    phase: str = "before the updates"
    sent: int = 0
    successes: list[float] = field(default_factory=list)          # completion times
    failures: list[tuple[float, str, str]] = field(default_factory=list)   # (time, phase, what)
    bodies: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run, args=(i,), daemon=True) for i in range(STREAM_THREADS)]

    def _run(self, index: int) -> None:
        period = 1.0 / STREAM_RATE
        slot = time.monotonic() + index * period / STREAM_THREADS
        while not self._stop.is_set():
            pause = slot - time.monotonic()
            if pause > 0:
                time.sleep(pause)
            slot = max(slot + period, time.monotonic())
            phase = self.phase
            try:
                status, body = get("127.0.0.1", self.port, self.host)
                problem = "" if status == 200 else f"HTTP {status} {body[:60]!r}"
            except OSError as exc:
                problem, body = repr(exc), ""
            now = time.monotonic()
            with self._lock:
                self.sent += 1
                if problem:
                    self.failures.append((now - self.start, phase, f"{problem} (at {wall_clock()})"))
                else:
                    self.successes.append(now)
                    self.bodies.add(body)

    def __enter__(self) -> "Stream":
        self.start = time.monotonic()
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join()
        self.end = time.monotonic()

    @property
    def longest_gap(self) -> float:
        """The longest time without a successful response, from the stream's start to its end."""
        times = [self.start, *sorted(self.successes), self.end]
        return max(b - a for a, b in zip(times, times[1:]))


def under_load(port: int, host: str | None, update) -> tuple[Stream, list[tuple[str, int, float]]]:
    """Runs `update(tag)` for each of TAGS while a Stream runs; (stream, [(tag, exit code, seconds)])."""
    steps = []
    with Stream(port, host) as stream:
        time.sleep(1.0)
        for number, tag in enumerate(TAGS, 1):
            stream.phase = f"update {number} (-> {tag})"
            start = time.monotonic()
            code = update(tag)
            steps.append((tag, code, time.monotonic() - start))
            stream.phase = f"after update {number}"
            time.sleep(1.0)
    return stream, steps


# --- gitdeploy ---------------------------------------------------------------------------------------

class Gitdeploy:
    def __init__(self, work: Path) -> None:
        self.project = f"bench{uuid.uuid4().hex[:6]}"
        self.repo = ManifestRepo(work / "gitdeploy", self.project)
        self.http, self.https = free_port(), free_port()
        (self.repo.dir / "gitdeploy.yaml").write_text(
            f"project: {self.project}\ningress: {{http: {self.http}, https: {self.https}, hostIP: 127.0.0.1}}\n")

    def sync(self, tag: str, replicas: int = 1) -> int:
        self.repo.service("web", image=f"gitdeploy-test/app:{tag}", replicas=replicas,
                          ports=[{"containerPort": 80}], ingress={"hosts": [HOST], "tls": "none"},
                          healthCheck={"exec": CHECK, "interval": "1s", "retries": 2},
                          update={"monitor": "1s", "drain": "1s"}, stopGracePeriod="1s")
        self.repo.commit(f"{tag} x{replicas}")
        command = [GITDEPLOY, "sync", "--repo", str(self.repo.root), "--pull", "never"]
        try:
            run = subprocess.run(command, capture_output=True, text=True, env=ENV, timeout=SYNC_TIMEOUT)
        except subprocess.TimeoutExpired as exc:
            print(f"gitdeploy: `{' '.join(command)}` ({tag}) still running after {SYNC_TIMEOUT} s (hang); "
                  f"output so far:\n{exc.stdout or ''}{exc.stderr or ''}", file=sys.stderr)
            return -1
        if run.returncode != 0:
            print(f"gitdeploy: `{' '.join(command)}` ({tag}, {replicas} replicas) exited {run.returncode}:\n"
                  f"{run.stdout}{run.stderr}", file=sys.stderr)
        return run.returncode

    def replica_addresses(self) -> list[str]:
        network = f"gitdeploy_{self.project}"
        ids = subprocess.run(["docker", "ps", "-q", "--filter", f"label=io.gitdeploy.project={self.project}",
                              "--filter", "label=io.gitdeploy.service=web"],
                             capture_output=True, text=True, check=True).stdout.split()
        found = json.loads(subprocess.run(["docker", "inspect", *ids], capture_output=True, text=True,
                                          check=True).stdout) if ids else []
        return sorted(c["NetworkSettings"]["Networks"][network]["IPAddress"] for c in found
                      if not c["Name"].endswith("-draining") and network in c["NetworkSettings"]["Networks"])

    def ingress_address(self) -> str:
        """The ingress's address on the project network (its port 80 there, without the host port's proxy)."""
        found = json.loads(subprocess.run(["docker", "inspect", "gitdeploy-ingress"], capture_output=True, text=True,
                                          check=True).stdout)[0]
        return found["NetworkSettings"]["Networks"][f"gitdeploy_{self.project}"]["IPAddress"]

    def clean(self, keep_log: bool = False) -> None:
        if keep_log:   # a request failed behind the ingress: its access log says what Caddy saw
            log = Path(tempfile.gettempdir()) / f"gitdeploy-bench-ingress-{self.project}.log"
            with log.open("w") as out:
                subprocess.run(["docker", "logs", "-t", "gitdeploy-ingress"], stdout=out, stderr=subprocess.STDOUT)
            print(f"gitdeploy: the ingress's log is kept in {log}", file=sys.stderr)
        down = [GITDEPLOY, "down", "--repo", str(self.repo.root), "--yes", "--volumes", "--history"]
        first = subprocess.run(down, capture_output=True, text=True, env=ENV, timeout=SYNC_TIMEOUT)
        subprocess.run(["docker", "rm", "-f", "gitdeploy-ingress"], capture_output=True)
        subprocess.run(["docker", "volume", "rm", "gitdeploy-ingress-data"], capture_output=True)
        if first.returncode != 0:
            print(f"gitdeploy: `{' '.join(down)}` exited {first.returncode}:\n{first.stdout}{first.stderr}",
                  file=sys.stderr)
            again = subprocess.run(down, capture_output=True, text=True, env=ENV, timeout=SYNC_TIMEOUT)
            print(f"gitdeploy: again after removing the ingress: exit {again.returncode}", file=sys.stderr)
        label = f"label=io.gitdeploy.project={self.project}"
        for listing, removal in ((["ps", "-aq"], ["rm", "-f"]), (["network", "ls", "-q"], ["network", "rm"]),
                                 (["volume", "ls", "-q"], ["volume", "rm"]), (["images", "-q"], ["rmi", "-f"])):
            left = subprocess.run(["docker", *listing, "--filter", label], capture_output=True, text=True).stdout.split()
            if left:
                subprocess.run(["docker", *removal, *set(left)], capture_output=True)


# --- compose -----------------------------------------------------------------------------------------

class Compose:
    def __init__(self, work: Path) -> None:
        self.project = f"bench{uuid.uuid4().hex[:6]}"
        self.folder = work / "compose"
        self.folder.mkdir()
        self.port = free_port()

    def up(self, tag: str) -> int:
        service = {"image": f"gitdeploy-test/app:{tag}", "init": True, "stop_grace_period": "1s",
                   "restart": "unless-stopped", "ports": [f"127.0.0.1:{self.port}:80"]}
        (self.folder / "docker-compose.yml").write_text(
            json.dumps({"version": "2.4", "services": {"web": service}}, indent=2))
        run = subprocess.run(["docker-compose", "-p", self.project, "up", "-d"], cwd=self.folder,
                             capture_output=True, text=True, timeout=SYNC_TIMEOUT)
        if run.returncode != 0:
            print(f"compose: `docker-compose up -d` ({tag}) exited {run.returncode}:\n{run.stdout}{run.stderr}",
                  file=sys.stderr)
        return run.returncode

    def clean(self) -> None:
        if (self.folder / "docker-compose.yml").exists():
            subprocess.run(["docker-compose", "-p", self.project, "down", "-t", "1", "--volumes"], cwd=self.folder,
                           capture_output=True)


# --- throughput --------------------------------------------------------------------------------------

def _worker(targets: list[tuple[str, int, str | None]], index: int, results) -> None:
    address, port, host = targets[index % len(targets)]
    start = time.monotonic()
    counting, end = start + WARMUP, start + WARMUP + THROUGHPUT_SECONDS
    ok = failed = 0
    while (now := time.monotonic()) < end:
        try:
            good = get(address, port, host)[0] == 200
        except OSError:
            good = False
        if now >= counting:
            ok, failed = ok + good, failed + (not good)
    results.put((ok, failed))


def throughput(targets: list[tuple[str, int, str | None]]) -> tuple[float, int]:
    """(successful requests per second, failed) of THROUGHPUT_WORKERS processes in a closed loop, worker i on
    targets[i % len(targets)]."""
    context = multiprocessing.get_context("fork")
    results = context.Queue()
    workers = [context.Process(target=_worker, args=(targets, i, results)) for i in range(THROUGHPUT_WORKERS)]
    for worker in workers:
        worker.start()
    counts = [results.get(timeout=THROUGHPUT_SECONDS + WARMUP + 30) for _ in workers]
    for worker in workers:
        worker.join()
    return sum(ok for ok, _ in counts) / THROUGHPUT_SECONDS, sum(failed for _, failed in counts)


# --- the run -----------------------------------------------------------------------------------------

def report(name: str, stream: Stream, steps: list[tuple[str, int, float]]) -> None:
    print(f"{name}: sent {stream.sent}, failed {len(stream.failures)}, longest gap without a success "
          f"{stream.longest_gap:.3f} s, served {sorted(stream.bodies)}; updates (tag exit seconds): "
          + ", ".join(f"{tag} {code} {seconds:.1f}s" for tag, code, seconds in steps))
    for when, phase, what in stream.failures[:10]:
        print(f"  failed at {when:6.2f} s, {phase}: {what}")
    if len(stream.failures) > 10:
        print(f"  ... and {len(stream.failures) - 10} more")


def main() -> None:
    if not shutil.which("docker-compose"):
        sys.exit("docker-compose not found: run bench/run.sh, which installs Debian's package")
    began = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="gitdeploy-bench-") as tmp:
        work = Path(tmp)
        ours = Gitdeploy(work)
        try:
            if ours.sync("v1") != 0:
                raise SystemExit("gitdeploy: the first sync failed (above)")
            wait_for("127.0.0.1", ours.http, HOST, "v1")
            gd_stream, gd_steps = under_load(ours.http, HOST, ours.sync)
            report("gitdeploy behind its ingress", gd_stream, gd_steps)

            if ours.sync(TAGS[-1], replicas=2) != 0:
                raise SystemExit("gitdeploy: scaling to 2 replicas failed (above)")
            addresses = ours.replica_addresses()
            for address in addresses:
                wait_for(address, 80, None, TAGS[-1])
            via_ingress, ingress_failed = throughput([("127.0.0.1", ours.http, HOST)])
            direct, direct_failed = throughput([(address, 80, None) for address in addresses])
            # Where the difference goes: the ingress reached on its own address, without the host port's proxy.
            inner = ours.ingress_address()
            via_inner, _ = throughput([(inner, 80, HOST)])
        finally:
            ours.clean(keep_log="gd_stream" in locals() and bool(gd_stream.failures))
        print(f"throughput, {len(addresses)} replicas, {THROUGHPUT_WORKERS} client processes, "
              f"{THROUGHPUT_SECONDS:g} s each: through the ingress {via_ingress:.0f} req/s ({ingress_failed} failed), "
              f"directly {direct:.0f} req/s ({direct_failed} failed) at {', '.join(addresses)}: "
              f"{via_ingress / direct:.2f}x; the ingress at its own address {inner}:80 (no host-port proxy) "
              f"{via_inner:.0f} req/s ({via_inner / direct:.2f}x)")

        theirs = Compose(work)
        try:
            if theirs.up("v1") != 0:
                raise SystemExit("compose: the first `up -d` failed (above)")
            wait_for("127.0.0.1", theirs.port, None, "v1")
            dc_stream, dc_steps = under_load(theirs.port, None, theirs.up)
        finally:
            theirs.clean()
        report("compose on a fixed host port", dc_stream, dc_steps)

    ratio = via_ingress / direct
    gd_failed, dc_failed = len(gd_stream.failures), len(dc_stream.failures)
    rows = [
        Row(f"ingress: {len(TAGS)} updates under load, failed requests (gitdeploy vs compose; sent "
            f"{gd_stream.sent} vs {dc_stream.sent})", gd_failed, "requests", "compose", dc_failed,
            "0 failed", outcome=gd_failed == 0),
        Row(f"ingress: {len(TAGS)} updates under load, longest gap without a successful response",
            gd_stream.longest_gap, "s", "compose", dc_stream.longest_gap),
        Row(f"ingress: requests/s through the ingress vs the same {len(addresses)} replicas directly "
            f"({THROUGHPUT_WORKERS} clients)", via_ingress, "req/s", "direct", direct, ">= 0.7x",
            outcome=ratio >= 0.7),
    ]
    for row in rows:
        record(row)
    print(f"goals (issue 17): 0 failed behind the ingress (gitdeploy {gd_failed}, compose {dc_failed}); "
          f"throughput through the ingress >= 0.7x direct ({ratio:.2f}x); ran {time.monotonic() - began:.0f} s")


if __name__ == "__main__":
    main()
