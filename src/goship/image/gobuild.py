"""Reproducible, static Go builds of a module's services for images, with a content-keyed build cache.

The flags follow the Go reproducible-builds practice (go.dev/blog/rebuild): ``CGO_ENABLED=0``,
``-trimpath`` and ``-buildvcs=false``, so that the bytes of a binary depend only on the toolchain, the
target, the flags and the source — not on where the checkout lives or whether it is a git work tree.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
import shutil
import struct
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from goship.caches import cache_dir
from goship.errors import UsageError
from goship.gopackages import Target, host_target, packages
from goship.gotool import Go
from goship.image.oci import Platform
from goship.modules import read_module_path

# Which CPU-level variable a GOARCH reads, its default, and the variants an OCI platform may name.
_LEVELS: dict[str, tuple[str, str, re.Pattern[str]]] = {
    "amd64": ("GOAMD64", "v1", re.compile(r"v[1-4]")),
    "arm": ("GOARM", "7", re.compile(r"v[5-7]")),
    "arm64": ("GOARM64", "v8.0", re.compile(r"v(8|9)(\.[0-9])?")),
}
_PLATFORM = re.compile(r"(?P<os>[a-z0-9]+)/(?P<arch>[a-z0-9]+)(?:/(?P<variant>[a-z0-9.]+))?")
_LDFLAGS_VAR = re.compile(r"[^\s='\"]+\.[^\s='\".]+")
_TOOLCHAIN_ENV = ("GOVERSION",)
_CACHE_SCHEMA = "goship-build-slot/1"


def parse_platform(text: str) -> Platform:
    """``linux/amd64`` or ``linux/arm/v7``, refused now (not at build time) when Go cannot build it."""
    if not _PLATFORM.fullmatch(text):
        raise UsageError(f'expected a platform like "linux/amd64" or "linux/arm/v7" (not {text!r})')
    platform = Platform.parse(text)
    go_env(platform)
    return platform


def slug(platform: Platform) -> str:
    """``linux_arm_v7``: the platform as one path element."""
    return str(platform).replace("/", "_")


def go_env(platform: Platform) -> dict[str, str]:
    """GOOS, GOARCH and the CPU level, always spelled out so that the caller's environment cannot move it."""
    arch = platform.architecture
    env = {"GOOS": platform.os, "GOARCH": arch}
    level = _LEVELS.get(arch)
    if level is None:
        if platform.variant:
            raise UsageError(f"platform {platform} has a variant, but Go has no CPU level for {arch}")
        return env
    name, default, allowed = level
    if platform.variant and not allowed.fullmatch(platform.variant):
        raise UsageError(f"platform {platform}: variant {platform.variant!r} is not a {name} level Go knows")
    value = platform.variant or default
    if arch == "arm":
        value = value.removeprefix("v")
    elif arch == "arm64" and "." not in value:
        value += ".0"  # OCI says v8, GOARM64 says v8.0
    return {**env, name: value}


@dataclass(frozen=True)
class MainPackage:
    """A ``package main`` directory of a module: one service that can be built."""

    import_path: str
    """Full import path, e.g. ``example.com/shop/cmd/orders``."""
    package: str
    """The package relative to the module directory, as go build takes it: ``./cmd/orders`` or ``.``."""
    dir: Path
    """Absolute directory of the package."""
    name: str
    """The binary name ``go install`` would give it: the last path element (skipping a ``/vN`` suffix)."""


@dataclass(frozen=True)
class BuildRequest:
    """Everything one build depends on besides the source tree and the toolchain."""

    module_dir: Path
    """Directory holding the module's go.mod."""
    package: str
    """Main package to build, ``./cmd/orders`` (or an import path)."""
    output_name: str
    """File name of the binary."""
    platform: Platform
    """Target platform."""
    version: str
    """Release version injected with ``-X``."""
    commit: str
    """Commit sha injected with ``-X``."""
    date: str
    """Commit time (not the wall clock, or two builds of one commit would differ), injected with ``-X``."""
    version_var: str = "main.version"
    """Fully qualified string variable that receives ``version``."""
    commit_var: str = "main.commit"
    """Fully qualified string variable that receives ``commit``."""
    date_var: str = "main.date"
    """Fully qualified string variable that receives ``date``."""
    extra_ldflags: tuple[str, ...] = ()
    """Further linker arguments, one per item; appended after ``-s -w -X …``."""
    tags: tuple[str, ...] = ()
    """Build tags; order does not matter (they are sorted, as the binary records them in given order)."""

    def __post_init__(self) -> None:
        name = self.output_name
        if not name or name in (".", "..") or "/" in name or "\\" in name:
            raise UsageError(f"expected a plain file name for the binary (not {name!r})")
        for var in (self.version_var, self.commit_var, self.date_var):
            if not _LDFLAGS_VAR.fullmatch(var):
                raise UsageError(f'expected a qualified variable like "main.version" for -X (not {var!r})')
        for tag in self.tags:
            if not tag or re.search(r"[\s,'\"]", tag):
                raise UsageError(f"expected a build tag without spaces, commas or quotes (not {tag!r})")
        self.ldflags()  # a value go could not split back out of -ldflags is refused here, not mid-build

    def ldflags(self) -> str:
        """The ``-ldflags`` value: strip symbols and DWARF, then set version, commit and date."""
        args = ["-s", "-w"]
        for var, value in (
            (self.version_var, self.version),
            (self.commit_var, self.commit),
            (self.date_var, self.date),
        ):
            args += ["-X", f"{var}={value}"]
        return _join_quoted([*args, *self.extra_ldflags])

    def tag_flags(self) -> list[str]:
        """``-tags=a,b`` sorted and without repeats, or nothing: the flags that also select files for go list."""
        return ["-tags=" + ",".join(sorted(set(self.tags)))] if self.tags else []

    def flags(self) -> list[str]:
        """The ``go build`` flags, in a fixed order (a reordered flag list is a different cache key)."""
        # -dwarf=false: the linker drops DWARF anyway (-w), so the compiler need not write it — an eighth
        # less work when the standard library is compiled into an empty GOCACHE, the same machine code.
        return [
            "-trimpath",
            "-buildvcs=false",
            "-gcflags=all=-dwarf=false",
            f"-ldflags={self.ldflags()}",
            *self.tag_flags(),
        ]

    def env(self) -> dict[str, str]:
        """The build environment: no cgo (static, no host C toolchain in the bytes) and the target platform."""
        return {"CGO_ENABLED": "0", **go_env(self.platform)}


@dataclass(frozen=True)
class BuiltBinary:
    """A binary on disk and what identifies it."""

    path: Path
    """Where the binary is: ``OUT_DIR/<platform slug>/<output name>``."""
    package: str
    """The main package it was built from."""
    platform: Platform
    """Target platform."""
    sha256: str
    """Hex SHA-256 of the file."""
    build_id: str
    """Go build ID (``go tool buildid``)."""
    size: int
    """Size in bytes."""
    go_version: str
    """Toolchain that built it, ``go1.26.8``."""
    from_cache: bool = field(default=False, compare=False)
    """True when ``go build`` found the binary in its cache slot up to date and left it as it was."""


def _join_quoted(args: Sequence[str]) -> str:
    """Join arguments as Go's cmd/internal/quoted.Join does, which is how go build splits -ldflags."""
    out = []
    for arg in args:
        if arg and not re.search(r"[\s'\"]", arg):
            out.append(arg)
        elif "'" not in arg:
            out.append(f"'{arg}'")
        elif '"' not in arg:
            out.append(f'"{arg}"')
        else:
            raise UsageError(f"a linker argument cannot hold both kinds of quote: {arg!r}")
    return " ".join(out)


def _exec_name(import_path: str) -> str:
    elems = import_path.split("/")
    if len(elems) > 1 and re.fullmatch(r"v[0-9]+", elems[-1]):
        return elems[-2]
    return elems[-1]


def find_mains(module_dir: Path, target: Target | None = None) -> list[MainPackage]:
    """Every ``package main`` of the module at ``module_dir`` with non-test Go files for ``target`` (this
    machine by default), sorted by package: what ``go list ./...`` lists, read without the go command."""
    root = module_dir.resolve()
    gomod = root / "go.mod"
    module_path = read_module_path(gomod.read_text(encoding="utf-8", errors="replace"), display=str(gomod))
    found = []
    for pkg in packages(root, target or host_target()):
        if pkg.name != "main":
            continue
        import_path = module_path if pkg.rel == "." else f"{module_path}/{pkg.rel}"
        package = "." if pkg.rel == "." else f"./{pkg.rel}"
        found.append(MainPackage(import_path, package, root / pkg.rel, _exec_name(import_path)))
    return sorted(found, key=lambda m: m.package)


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _toolchain(go: Go, request: BuildRequest) -> dict[str, str]:
    return go.env_json(*_TOOLCHAIN_ENV, cwd=request.module_dir.resolve(), env=request.env())


def _copy_atomically(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    os.close(fd)
    try:
        shutil.copy2(source, tmp)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class BuildCache:
    """A home for each build target's binary between runs, outside the repository, so that ``go build``
    finds it up to date and neither recompiles nor relinks it.

    Go decides, as it does for any ``go build -o``: when the binary's build ID says that every input
    (sources, embedded files, dependencies, flags, toolchain) is unchanged, it leaves the file as it is
    (≈ 40 ms, against ≈ 110 ms for a relink from a warm Go cache and seconds from a cold one). Asking Go
    beats hashing the inputs beforehand: that needs a ``go list -deps`` of its own, which on an empty Go
    cache costs ~150 ms before the build can even start. A target is one directory per main package,
    platform, environment and flags (not per checkout), locked while it is built and copied out.
    """

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    @classmethod
    def default(cls, environ: Mapping[str, str] | None = None) -> BuildCache:
        """``${XDG_CACHE_HOME:-~/.cache}/goship/builds``."""
        return cls(cache_dir("builds", environ=environ))

    def slot(self, request: BuildRequest, go_version: str) -> Path:
        """The directory of ``request``'s binary."""
        # Not the checkout's path: with -trimpath a scratch checkout of the same commit finds the
        # binary up to date. The module path keeps two repositories from taking turns in one slot.
        gomod = request.module_dir / "go.mod"
        try:
            module = read_module_path(gomod.read_text(encoding="utf-8", errors="replace"), display=str(gomod))
        except (OSError, UsageError):
            module = ""  # go build will say what is wrong
        identity = {
            "schema": _CACHE_SCHEMA,
            "module": module,
            "package": request.package,
            "env": request.env(),
            "flags": request.flags(),
            "go": go_version,
        }
        digest = hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()
        return self.directory / digest[:32]

    @contextmanager
    def lock(self, slot: Path) -> Iterator[None]:
        """Excludes other builds of the slot, in this process or another (flock: a crash releases it)."""
        slot.mkdir(parents=True, exist_ok=True)
        fd = os.open(slot / ".lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)


_BUILD_ID_MARK = b'\xff Go build ID: "'


def read_build_id(binary: Path) -> str:
    """The Go build ID of a binary, read as cmd/internal/buildid does: the ELF note named "Go" of type 4,
    else the quoted ID after the marker at the start of the text. (``go tool buildid`` gives the same,
    but on a cold build cache it first compiles the tool itself: seconds for a few bytes.)"""
    data = binary.read_bytes()
    note = _elf_go_note(data)
    if note is not None:
        return note
    at = data.find(_BUILD_ID_MARK, 0, 1 << 20)
    if at >= 0:
        end = data.find(b'"', at + len(_BUILD_ID_MARK))
        if end > 0:
            return data[at + len(_BUILD_ID_MARK) : end].decode("ascii", "replace")
    raise UsageError(f"{binary} has no Go build ID (is it a Go binary?)")


def _elf_go_note(data: bytes) -> str | None:
    """The payload of the ELF note ``Go\\0\\0`` type 4 in a PT_NOTE segment (ELF32 or ELF64, either order)."""
    if data[:4] != b"\x7fELF" or data[4] not in (1, 2) or data[5] not in (1, 2):
        return None
    wide, order = data[4] == 2, "<" if data[5] == 1 else ">"
    addr = "Q" if wide else "I"
    (phoff,) = struct.unpack_from(order + addr, data, 0x20 if wide else 0x1C)
    phentsize, phnum = struct.unpack_from(order + "HH", data, 0x36 if wide else 0x2A)
    for i in range(phnum):
        base = phoff + i * phentsize
        (p_type,) = struct.unpack_from(order + "I", data, base)
        if p_type != 4:  # PT_NOTE
            continue
        (offset,) = struct.unpack_from(order + addr, data, base + (8 if wide else 4))
        (size,) = struct.unpack_from(order + addr, data, base + (32 if wide else 16))
        pos, end = offset, offset + size
        while pos + 12 <= end:
            namesz, descsz, kind = struct.unpack_from(order + "III", data, pos)
            name = data[pos + 12 : pos + 12 + namesz]
            desc_at = pos + 12 + ((namesz + 3) & ~3)
            if name.rstrip(b"\0") == b"Go" and kind == 4:
                return data[desc_at : desc_at + descsz].decode("ascii", "replace")
            pos = desc_at + ((descsz + 3) & ~3)
    return None


def build(go: Go, request: BuildRequest, out_dir: Path, *, cache: BuildCache | None = None) -> BuiltBinary:
    """Build ``request`` into ``out_dir/<platform slug>/<output name>``, in ``cache``'s slot when given."""
    output = out_dir / slug(request.platform) / request.output_name
    toolchain = _toolchain(go, request)
    output.parent.mkdir(parents=True, exist_ok=True)
    reused = False
    sha256: str | None = None
    if cache is None:
        # Build beside the target and rename: a failed build never leaves a half-written binary behind.
        with tempfile.TemporaryDirectory(prefix=".goship-build-", dir=output.parent) as scratch:
            tmp = Path(scratch) / request.output_name
            _go_build(go, request, tmp)
            os.replace(tmp, output)
    else:
        slot = cache.slot(request, toolchain["GOVERSION"])
        with cache.lock(slot):
            kept = slot / request.output_name
            sealed = _sealed_or_dropped(kept)
            before = _identity(kept)
            _go_build(go, request, kept)
            # Go relinks into a new file and renames it; an up-to-date binary keeps its inode.
            reused = before is not None and _identity(kept) == before
            sha256 = sealed if reused else _seal(kept)
            _copy_atomically(kept, output)
    return BuiltBinary(
        path=output,
        package=request.package,
        platform=request.platform,
        sha256=sha256 or _sha256_file(output),
        build_id=read_build_id(output),
        size=output.stat().st_size,
        go_version=toolchain["GOVERSION"],
        from_cache=reused,
    )


def _go_build(go: Go, request: BuildRequest, output: Path) -> None:
    try:
        with output.open("rb") as f:
            if f.read(4) != b"\x7fELF":  # go build refuses to overwrite what is not an object file
                output.unlink()
    except FileNotFoundError:
        pass
    go.build(
        request.package,
        output=output,
        cwd=request.module_dir.resolve(),
        flags=request.flags(),
        env=request.env(),
    )


def _seal_path(binary: Path) -> Path:
    return binary.with_name(f".{binary.name}.sha256")


def _seal(binary: Path) -> str:
    """Records the SHA-256 of a binary Go just wrote into a cache slot; returns it."""
    digest = _sha256_file(binary)
    _seal_path(binary).write_text(digest + "\n", encoding="ascii")
    return digest


def _sealed_or_dropped(binary: Path) -> str | None:
    """The SHA-256 a cached binary was sealed with when its bytes still have it; otherwise the binary is
    deleted (and ``None``).

    Go trusts a target whose build ID matches: a file cut short or overwritten behind the build ID note
    would be left as it is and copied into an image. The seal costs a hash of the binary (~2 ms), which
    is also the image's record of it."""
    if not binary.exists():
        return None
    try:
        sealed = _seal_path(binary).read_text(encoding="ascii").strip()
    except OSError:
        sealed = ""
    if sealed != _sha256_file(binary):
        binary.unlink()
        return None
    return sealed


def _identity(path: Path) -> tuple[int, int] | None:
    try:
        stat = path.stat()
    except FileNotFoundError:
        return None
    return stat.st_ino, stat.st_size


def build_all(
    go: Go,
    requests: Sequence[BuildRequest],
    out_dir: Path,
    *,
    max_workers: int = 2,
    cache: BuildCache | None = None,
) -> list[BuiltBinary]:
    """Build every request, ``max_workers`` at a time; results in request order, the first failure raised."""
    if max_workers < 1:
        raise UsageError(f"expected at least 1 parallel build (not {max_workers})")
    seen: dict[tuple[str, str], BuildRequest] = {}
    for request in requests:
        where = (slug(request.platform), request.output_name)
        if where in seen:
            raise UsageError(
                f"two builds write {slug(request.platform)}/{request.output_name}: "
                f"{seen[where].package} and {request.package}",
                hint="give each service its own output name",
            )
        seen[where] = request
    with ThreadPoolExecutor(max_workers=max_workers) as pool:
        return list(pool.map(lambda r: build(go, r, out_dir, cache=cache), requests))


def start_all(
    go: Go,
    requests: Sequence[BuildRequest],
    out_dir: Path,
    *,
    max_workers: int = 2,
    cache: BuildCache | None = None,
) -> Future[list[BuiltBinary]]:
    """:func:`build_all` in the background: the caller prepares what comes after the build (imports,
    the registry) while Go compiles."""
    pool = ThreadPoolExecutor(max_workers=1)
    try:
        return pool.submit(build_all, go, requests, out_dir, max_workers=max_workers, cache=cache)
    finally:
        pool.shutdown(wait=False)
