"""Times ``goship publish`` beside ko's ``ko build`` on one small Go service, each building an image and
pushing it to a real local registry (Debian's docker-registry, OCI distribution spec over plain http).

Figures, targets and how ko gets its base are described in ``benchmarks/README.md``. Exit status: 0 when
goship's wall time is at most ko's, cold and warm, and the pushed images check out; 1 when a target is
missed or a check fails (printed as ``note:`` lines); 2 when a tool is missing or fails.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import gitrepo
from version_speed import TIMEOUT_SECONDS, BenchError, Timing, find_tool, installed_env

from goship.image.base import static_base
from goship.image.layout import Layout
from goship.image.oci import ImageConfig, Manifest, Platform

KO_MODULE = "github.com/google/ko"
KO_VERSION = "v0.19.1"
"""Pinned so figures stay comparable; the newest release on the Go module proxy when the script was written."""
RATIO_TARGET = 1.0
SERVICE = "orders"
RELEASE = "v1.3.0"
TAGS = ("v1.3.0", "v1.3", "v1", "latest")
"""What goship pushes for the release; ko is asked for the same four tags, so both push as much."""
PLATFORM = "linux/amd64"
COMMIT_EPOCH = 1_700_000_000
"""Commit date of the service; also SOURCE_DATE_EPOCH and KO_DATA_DATE_EPOCH for ko."""
GENERATOR_VERSION = 1
MARKER = "goship-bench.json"
INSTALL_TIMEOUT_SECONDS = 1800
MAIN_GO = """package main

import "fmt"

var (
	version = "dev"
	commit  = "none"
	date    = "unknown"
)

func main() { fmt.Println("orders", version, commit, date) }
"""


def cache_root() -> Path:
    return gitrepo.cache_root().parent / "bench-images"


def tools_root() -> Path:
    return gitrepo.cache_root().parent / "bench-tools"


def _registry_server() -> ModuleType:
    """``tests/integration/registryserver.py``, which starts docker-registry for the integration tests.

    Imported late: the benchmarks run as scripts, so the repository root is not on ``sys.path``."""
    root = str(Path(__file__).resolve().parent.parent)
    if root not in sys.path:
        sys.path.insert(0, root)
    from tests.integration import registryserver

    return registryserver


def run_command(argv: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, str]:
    """Wall time and stdout of ``argv``; a non-zero exit is a :class:`BenchError` with the output's tail."""
    started = time.perf_counter()
    done = subprocess.run(
        argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=TIMEOUT_SECONDS, check=False
    )
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        tail = "\n".join((done.stderr or done.stdout).strip().splitlines()[-15:])
        raise BenchError(f"{' '.join(argv)} exited {done.returncode} in {cwd}:\n{tail}")
    return elapsed, done.stdout


# ----------------------------------------------------------------------------- inputs


def ensure_ko(go: str, version: str) -> tuple[Path, str]:
    """ko built from the Go module proxy with ``go install``, kept under bench-tools; and how it came."""
    target = tools_root() / f"ko-{version}"
    binary = target / "ko"
    if binary.is_file() and os.access(binary, os.X_OK):
        return binary, "cached"
    print(f"installing ko {version} with go install (a few minutes on two cores) ...", file=sys.stderr)
    scratch = target.with_name(f"{target.name}.tmp-{os.getpid()}")
    shutil.rmtree(scratch, ignore_errors=True)
    scratch.mkdir(parents=True)
    try:
        started = time.perf_counter()
        done = subprocess.run(
            [go, "install", f"{KO_MODULE}@{version}"],
            cwd=scratch,  # outside any module, so go.mod files around cannot interfere
            env={**os.environ, "GOBIN": str(scratch), "GOTOOLCHAIN": "local"},
            capture_output=True,
            text=True,
            timeout=INSTALL_TIMEOUT_SECONDS,
            check=False,
        )
        if done.returncode != 0:
            tail = "\n".join(done.stderr.strip().splitlines()[-15:])
            raise BenchError(f"go install {KO_MODULE}@{version} exited {done.returncode}:\n{tail}")
        shutil.rmtree(target, ignore_errors=True)
        scratch.rename(target)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return binary, f"installed now in {time.perf_counter() - started:.0f} s"


def ensure_service(*, regenerate: bool) -> Path:
    """A git repository with module example.com/shop, a main package at cmd/orders and the tag v1.3.0.

    ``goship.yaml`` is ignored by git: each run writes its own registry namespace into it."""
    target = cache_root() / f"service-g{GENERATOR_VERSION}"
    marker = target / ".git" / MARKER
    if regenerate and target.exists():
        shutil.rmtree(target)
    if marker.is_file():
        return target
    shutil.rmtree(target, ignore_errors=True)  # an interrupted earlier run
    scratch = target.with_name(f"{target.name}.tmp-{os.getpid()}")
    shutil.rmtree(scratch, ignore_errors=True)
    (scratch / "cmd" / SERVICE).mkdir(parents=True)
    stamp = f"{COMMIT_EPOCH} +0000"
    env = {
        **os.environ,
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": os.devnull,
        "LC_ALL": "C",
        **{
            f"GIT_{who}_{what}": value
            for who in ("AUTHOR", "COMMITTER")
            for what, value in (("NAME", "Bench"), ("EMAIL", "bench@example.com"), ("DATE", stamp))
        },
    }
    try:
        (scratch / "go.mod").write_text("module example.com/shop\n\ngo 1.22\n")
        (scratch / "cmd" / SERVICE / "main.go").write_text(MAIN_GO)
        (scratch / ".gitignore").write_text("goship.yaml\n")
        for args in (
            ["init", "-q", "-b", "main"],
            ["add", "-A"],
            ["commit", "-q", "-m", f"feat: {SERVICE} service"],
            ["tag", RELEASE],
        ):
            subprocess.run(["git", "-c", "commit.gpgsign=false", *args], cwd=scratch, env=env, check=True)
        (scratch / ".git" / MARKER).write_text(
            json.dumps({"service": SERVICE, "release": RELEASE, "generator": GENERATOR_VERSION}) + "\n"
        )
        scratch.rename(target)
    except BaseException:
        shutil.rmtree(scratch, ignore_errors=True)
        raise
    return target


def push_static_base(skopeo: str, host: str, workdir: Path) -> str:
    """goship's static base, alone, as a linux/amd64 image in ``host/base/static``; returned by digest.

    ko pulls its base from a registry and cannot reach the internet here. Building on the very layer
    goship builds on keeps the two images comparable: only each tool's own layers differ."""
    base = static_base()
    config = ImageConfig(
        architecture=Platform.parse(PLATFORM).architecture,
        os=Platform.parse(PLATFORM).os,
        config=base.defaults,
        diff_ids=(base.layer.diff_id,),
        history=base.history,
        created=base.created,
    )
    manifest = Manifest(config=config.descriptor(), layers=(base.layer.descriptor(),))
    layout = Layout(workdir / "base-layout")
    with base.layer.open() as blob:
        layout.put_blob(blob, digest=base.layer.digest)
    layout.put_blob(config.to_bytes(), digest=config.descriptor().digest)
    layout.put_blob(manifest.to_bytes(), digest=manifest.descriptor().digest)
    layout.add_to_index(manifest.descriptor(platform=Platform.parse(PLATFORM)), ref="static")
    digest_file = workdir / "base.digest"
    run_command(
        [
            *(skopeo, "copy", "--quiet", "--dest-tls-verify=false", "--digestfile", str(digest_file)),
            *(f"oci:{layout.root}:static", f"docker://{host}/base/static:latest"),
        ],
        workdir,
        dict(os.environ),
    )
    return f"{host}/base/static@{digest_file.read_text().strip()}"


# ----------------------------------------------------------------------------- the two tools


@dataclass(frozen=True)
class Sandbox:
    """Everything a run may cache, under one directory: a new, empty one is a cold start."""

    root: Path

    @property
    def store(self) -> Path:
        """goship's OCI layout."""
        return self.root / "store"

    def env(self, **extra: str) -> dict[str, str]:
        docker = self.root / "docker"  # an empty DOCKER_CONFIG: no credentials from this machine
        docker.mkdir(parents=True, exist_ok=True)
        env = {k: v for k, v in installed_env().items() if not k.startswith("KO_") and k != "KOCACHE"}
        env.update(
            XDG_CACHE_HOME=str(self.root / "xdg"),
            GOCACHE=str(self.root / "gocache"),
            DOCKER_CONFIG=str(docker),
            GOTOOLCHAIN="local",
            SOURCE_DATE_EPOCH=str(COMMIT_EPOCH),
        )
        env.update(extra)
        return env


@dataclass(frozen=True)
class Push:
    """One timed build and push."""

    tool: str
    seconds: float
    repository: str
    """``HOST/NAMESPACE/orders``."""
    digest: str
    """What the tool printed: goship's image index, ko's image manifest."""
    tag_actions: tuple[str, ...] = ()
    """goship's action per tag (``created``, ``unchanged`` …); ko reports none."""


@dataclass(frozen=True)
class Contenders:
    """goship and ko, set up to build the same service and push to the same registry."""

    goship: str
    ko: str
    repo: Path
    host: str
    ko_base: str

    def push(self, tool: str, sandbox: Sandbox, namespace: str) -> Push:
        return self._goship(sandbox, namespace) if tool == "goship" else self._ko(sandbox, namespace)

    def _goship(self, sandbox: Sandbox, namespace: str) -> Push:
        (self.repo / "goship.yaml").write_text(f"images:\n  registry: {self.host}/{namespace}\n")
        argv = [self.goship, "publish", "--insecure", "--store", str(sandbox.store), "--json"]
        seconds, stdout = run_command(argv, self.repo, sandbox.env())
        try:
            (image,) = json.loads(stdout)["images"]
            actions = tuple(str(t["action"]) for t in image["tags"])
            return Push("goship", seconds, str(image["repository"]), str(image["digest"]), actions)
        except (ValueError, KeyError, TypeError) as exc:
            raise BenchError(
                f"goship publish --json printed no one-image document: {stdout[:300]!r}"
            ) from exc

    def _ko(self, sandbox: Sandbox, namespace: str) -> Push:
        repository = f"{self.host}/{namespace}/{SERVICE}"
        argv = [
            *(self.ko, "build", "--bare", "--insecure-registry", f"--platform={PLATFORM}", "--sbom=spdx"),
            *(f"--tags={','.join(TAGS)}", f"./cmd/{SERVICE}"),
        ]
        env = sandbox.env(
            KO_DOCKER_REPO=repository, KO_DEFAULTBASEIMAGE=self.ko_base, KO_DATA_DATE_EPOCH=str(COMMIT_EPOCH)
        )
        seconds, stdout = run_command(argv, self.repo, env)
        printed, _, digest = (stdout.strip().splitlines() or [""])[-1].partition("@")
        if printed != repository or not digest.startswith("sha256:"):
            raise BenchError(f"ko build printed no {repository}@sha256:… reference: {stdout[-300:]!r}")
        return Push("ko", seconds, repository, digest)


# ----------------------------------------------------------------------------- reading the registry


def raw_manifest(skopeo: str, reference: str) -> tuple[str, dict[str, Any]]:
    """The digest and JSON of what ``reference`` names in the registry, as ``skopeo inspect --raw`` reads it."""
    done = subprocess.run(
        [skopeo, "inspect", "--tls-verify=false", "--raw", f"docker://{reference}"],
        capture_output=True,
        timeout=TIMEOUT_SECONDS,
        check=False,
    )
    if done.returncode != 0:
        raise BenchError(f"skopeo inspect --raw docker://{reference} failed: {done.stderr.decode()[-500:]}")
    return "sha256:" + hashlib.sha256(done.stdout).hexdigest(), json.loads(done.stdout)


def layer_sizes(skopeo: str, repository: str, digest: str) -> tuple[int, ...]:
    """Compressed layer sizes of the linux/amd64 image that ``repository@digest`` is or lists."""
    _, document = raw_manifest(skopeo, f"{repository}@{digest}")
    if "manifests" in document:
        wanted = Platform.parse(PLATFORM)
        entry = next(
            (m for m in document["manifests"] if Platform.from_json(m.get("platform") or {}) == wanted), None
        )
        if entry is None:
            raise BenchError(f"{repository}@{digest} is an index without a {PLATFORM} image")
        _, document = raw_manifest(skopeo, f"{repository}@{entry['digest']}")
    return tuple(int(layer["size"]) for layer in document["layers"])


def check_tags(skopeo: str, push: Push) -> list[str]:
    """Each of the four tags names the digest the tool reported; otherwise a note per tag."""
    notes = []
    for tag in TAGS:
        found, _ = raw_manifest(skopeo, f"{push.repository}:{tag}")
        if found != push.digest:
            notes.append(f"{push.tool}: {push.repository}:{tag} is {found}, the tool reported {push.digest}")
    return notes


# ----------------------------------------------------------------------------- the benchmark


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="timed runs per tool, cold and warm (default 5)")
    parser.add_argument(
        "--ko-version", default=KO_VERSION, help=f"ko release to build (default {KO_VERSION})"
    )
    parser.add_argument("--regenerate", action="store_true", help="recreate the cached service repository")
    args = parser.parse_args(argv)
    if args.runs < 2:
        parser.error(f"--runs must be at least 2: digest stability compares cold builds (not {args.runs})")
    try:
        return _bench(runs=args.runs, ko_version=args.ko_version, regenerate=args.regenerate)
    except BenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


def _bench(*, runs: int, ko_version: str, regenerate: bool) -> int:
    goship = str(find_tool("goship"))
    skopeo = str(find_tool("skopeo"))
    go = shutil.which("go")
    if go is None:
        raise BenchError("'go' is not on PATH")
    ko, ko_how = ensure_ko(go, ko_version)
    repo = ensure_service(regenerate=regenerate)
    versions = {
        "goship": run_command([goship, "--version"], repo, installed_env())[1].strip(),
        "ko": run_command([str(ko), "version"], repo, dict(os.environ))[1].strip(),
        "go": run_command([go, "env", "GOVERSION"], repo, dict(os.environ))[1].strip(),
    }
    registryserver = _registry_server()
    with tempfile.TemporaryDirectory(prefix="goship-bench-image-") as scratch:
        workdir = Path(scratch)
        try:
            registry = registryserver.start_registry(workdir / "registry", "none")
        except RuntimeError as exc:  # registryserver's way of saying docker-registry is missing or died
            raise BenchError(str(exc)) from exc
        try:
            contenders = Contenders(
                goship, str(ko), repo, registry.host, push_static_base(skopeo, registry.host, workdir)
            )
            return _measure(contenders, skopeo, workdir, runs=runs, versions=versions, ko_how=ko_how)
        finally:
            registry.stop()
            (repo / "goship.yaml").unlink(missing_ok=True)


def _measure(
    contenders: Contenders, skopeo: str, workdir: Path, *, runs: int, versions: dict[str, str], ko_how: str
) -> int:
    tools = ("goship", "ko")
    print(
        f"service {SERVICE} ({contenders.repo}, tag {RELEASE}), {PLATFORM}, docker-registry at {contenders.host}"
    )
    print(f"goship {versions['goship']}; ko {versions['ko']} ({ko_how}); {versions['go']}")
    print(f"ko base: {contenders.ko_base} (goship's static base layer, pushed with skopeo)")
    print("goship: goship publish --insecure --store STORE --json  (goship.yaml: images.registry HOST/NS)")
    print(
        f"ko:     KO_DOCKER_REPO=HOST/NS/{SERVICE} ko build --bare --insecure-registry --platform={PLATFORM}"
        f" --sbom=spdx --tags={','.join(TAGS)} ./cmd/{SERVICE}"
    )

    # Cold: a new sandbox (empty GOCACHE, XDG cache and store) and a new repository for every push.
    # Which tool goes first alternates, so a drift in machine load falls on both.
    cold: dict[str, list[Push]] = {t: [] for t in tools}
    for n in range(runs):
        for tool in tools if n % 2 == 0 else tools[::-1]:
            with tempfile.TemporaryDirectory(prefix=f"{tool}-cold-", dir=workdir) as sandbox:
                push = contenders.push(tool, Sandbox(Path(sandbox)), f"{tool}-cold-{n}")
            cold[tool].append(push)
            print(f"cold {n + 1}/{runs} {tool:<6} {push.seconds:7.2f} s  {push.digest}", file=sys.stderr)

    # Warm: one sandbox per tool, filled (and the image pushed) by an untimed first run.
    warm: dict[str, list[Push]] = {t: [] for t in tools}
    sandboxes = {t: Sandbox(workdir / f"{t}-warm") for t in tools}
    first = {t: contenders.push(t, sandboxes[t], f"{t}-warm") for t in tools}
    for n in range(runs):
        for tool in tools if n % 2 == 0 else tools[::-1]:
            push = contenders.push(tool, sandboxes[tool], f"{tool}-warm")
            warm[tool].append(push)
            print(f"warm {n + 1}/{runs} {tool:<6} {push.seconds:7.2f} s", file=sys.stderr)

    timings = [
        Timing(scenario, tool, tuple(p.seconds for p in pushes[tool]), pushes[tool][-1].digest)
        for scenario, pushes in (("cold", cold), ("warm", warm))
        for tool in tools
    ]
    labels = {
        "cold": "cold: empty GOCACHE, caches, store; new repo",
        "warm": "warm: caches full, same commit, pushed",
    }
    print()
    print(f"{'scenario (build + push)':<46} {'tool':<7} {'median':>9} {'min':>9} {'runs':>5}")
    for t in timings:
        print(f"{labels[t.scenario]:<46} {t.tool:<7} {t.median:>8.3f}s {t.best:>8.3f}s {len(t.samples):>5}")

    met = True
    print()
    for scenario in ("cold", "warm"):
        ours, theirs = (t for t in timings if t.scenario == scenario)
        ratio = ours.median / theirs.median
        ok = ratio <= RATIO_TARGET
        met &= ok
        print(
            f"target  goship/ko {scenario} <= {RATIO_TARGET:.2f}: {ratio:.2f}"
            f"  ({ours.median:.3f} s / {theirs.median:.3f} s)  {'MET' if ok else 'MISSED'}"
        )

    notes: list[str] = []
    print()
    print(f"image size: compressed layers of the pushed {PLATFORM} image")
    sizes = {}
    for tool in tools:
        push = first[tool]
        layers = layer_sizes(skopeo, push.repository, push.digest)
        sizes[tool] = sum(layers)
        parts = " + ".join(f"{s:,}" for s in layers)
        print(f"  {tool:<7} {sizes[tool]:>11,} B in {len(layers)} layers ({parts})")
        notes += check_tags(skopeo, push)
    print(f"  goship/ko {sizes['goship'] / sizes['ko']:.2f}")

    print()
    print(f"digest over {runs} cold builds of the same commit (and the warm ones):")
    for tool in tools:
        cold_digests = sorted({p.digest for p in cold[tool]})
        warm_digests = sorted({p.digest for p in (first[tool], *warm[tool])})
        stable = len(cold_digests) == 1
        print(
            f"  {tool:<7} {'stable' if stable else 'UNSTABLE'}: {len(cold_digests)} distinct cold"
            f" ({', '.join(d[:19] for d in cold_digests)}); warm {', '.join(d[:19] for d in warm_digests)}"
        )
        if tool == "goship" and not stable:
            notes.append(
                f"goship built {len(cold_digests)} different digests from one commit: {cold_digests}"
            )
        if tool == "goship" and warm_digests != cold_digests:
            notes.append(f"goship's warm digests {warm_digests} differ from its cold ones {cold_digests}")
    if changed := [a for p in warm["goship"] for a in p.tag_actions if a != "unchanged"]:
        notes.append(f"goship's warm publishes were not no-ops: tag actions {sorted(set(changed))}")

    for note in notes:
        print(f"note: {note}")
    return 0 if met and not notes else 1


if __name__ == "__main__":
    sys.exit(main())
