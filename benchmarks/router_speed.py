"""Puts goship's router and nginx side by side in front of the same Go upstreams, under the same wrk load.

Figures, setup and targets are described in ``benchmarks/README.md``. Exit status: 0 when goship reaches
0.3 × nginx's requests per second and adds at most 0.2 ms to the median latency of one connection; 1 when a
target is missed or an answer is wrong; 2 when go, nginx or wrk is missing or a process fails.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
from version_speed import BenchError

from goship.errors import GoshipError
from goship.gotool import Go
from goship.local.router import RouterClient, RouterProcess, ensure_router_binary
from goship.rollout.ports import TrafficRules

RATIO_TARGET = 0.3
ADDED_P50_TARGET_MS = 0.2
UPSTREAMS = 3
HELLO_GO = """package main

import (
	"fmt"
	"net"
	"net/http"
)

var body = []byte("hello\\n")

func main() {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	fmt.Println(ln.Addr().String())
	http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		w.Write(body)
	}))
}
"""
NGINX_CONF = """worker_processes {workers};
daemon off;
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    client_body_temp_path {dir}/body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    upstream hello {{
{servers}
        keepalive 64;
    }}
    server {{
        listen {listen};
        location / {{
            proxy_pass http://hello;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }}
    }}
}}
"""


def cache_dir() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "goship-dev" / "bench-router"


def need(name: str) -> str:
    found = shutil.which(name) or (shutil.which(name, path="/usr/sbin:/sbin") if name == "nginx" else None)
    if found is None:
        raise BenchError(
            f"{name!r} is not installed; run 'apt-get install nginx wrk' (scripts/bootstrap does)"
        )
    return found


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for_port(addr: str, proc: subprocess.Popen[bytes], what: str, timeout: float = 10) -> None:
    host, port = addr.rsplit(":", 1)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise BenchError(f"{what} exited {proc.returncode} before listening on {addr}")
        try:
            socket.create_connection((host, int(port)), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.02)
    raise BenchError(f"{what} did not listen on {addr} within {timeout:g} s")


@contextmanager
def process(argv: list[str], what: str, **kwargs: object) -> Iterator[subprocess.Popen[bytes]]:
    proc = subprocess.Popen(argv, **kwargs)  # type: ignore[call-overload]
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def start_upstream(stack: ExitStack, binary: Path) -> str:
    proc = stack.enter_context(process([str(binary)], "upstream", stdout=subprocess.PIPE))
    assert proc.stdout is not None
    addr = proc.stdout.readline().decode().strip()
    if not addr:
        raise BenchError(f"the hello upstream printed no address (exit {proc.poll()})")
    return addr


def start_nginx(stack: ExitStack, nginx: str, upstreams: list[str], workers: int) -> str:
    work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="goship-bench-nginx-")))
    listen = f"127.0.0.1:{free_port()}"
    servers = "\n".join(f"        server {u};" for u in upstreams)
    conf = work / "nginx.conf"
    conf.write_text(NGINX_CONF.format(workers=workers, dir=work, servers=servers, listen=listen))
    # -e: nginx opens its error log before reading the config; the default path may not be writable.
    argv = [nginx, "-p", str(work), "-c", str(conf), "-e", str(work / "error.log")]
    proc = stack.enter_context(process(argv, "nginx", stderr=subprocess.PIPE))
    wait_for_port(listen, proc, "nginx")
    return listen


@dataclass(frozen=True)
class WrkResult:
    rps: float
    p50_ms: float


UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def wrk(wrk_bin: str, url: str, *, threads: int, connections: int, seconds: int) -> WrkResult:
    argv = [wrk_bin, f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency", url]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 60, check=False)
    if done.returncode != 0:
        raise BenchError(f"{' '.join(argv)} exited {done.returncode}: {done.stderr.strip()}")
    out = done.stdout
    # Errors would make a fast proxy out of a broken one: any of them spoils the figure.
    if m := re.search(r"Non-2xx or 3xx responses: (\d+)|Socket errors: (.*)", out):
        raise BenchError(f"wrk saw errors through {url}: {m.group(0)}\n{out}")
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    p50 = re.search(r"^\s+50%\s+([\d.]+)(us|ms|s)$", out, re.MULTILINE)
    if not rps or not p50:
        raise BenchError(f"cannot read wrk's output:\n{out}")
    return WrkResult(float(rps.group(1)), float(p50.group(1)) * UNITS_MS[p50.group(2)])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--seconds", type=int, default=10, help="length of each throughput run (default 10)")
    parser.add_argument("--rounds", type=int, default=3, help="runs per proxy, taking turns (default 3)")
    parser.add_argument("--connections", type=int, default=50, help="wrk connections (default 50)")
    parser.add_argument("--threads", type=int, default=2, help="wrk threads (default 2)")
    args = parser.parse_args(argv)
    if args.rounds < 1 or args.seconds < 1:
        parser.error("--rounds and --seconds must be at least 1")
    try:
        return _bench(args)
    except (BenchError, GoshipError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


def _bench(args: argparse.Namespace) -> int:
    nginx, wrk_bin = need("nginx"), need("wrk")
    need("go")
    cache = cache_dir()
    router_bin = ensure_router_binary(Go(cache), cache)
    hello_dir = cache / "hello"
    hello_dir.mkdir(parents=True, exist_ok=True)
    (hello_dir / "go.mod").write_text("module example.com/hello\n\ngo 1.22\n")
    (hello_dir / "main.go").write_text(HELLO_GO)
    Go(hello_dir).build(".", output=hello_dir / "hello", flags=["-trimpath"])
    cores = os.cpu_count() or 1

    with ExitStack() as stack:
        upstreams = [start_upstream(stack, hello_dir / "hello") for _ in range(UPSTREAMS)]
        run_dir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="goship-bench-router-")))
        router = stack.enter_context(RouterProcess.start(router_bin, run_dir=run_dir))
        http = stack.enter_context(httpx.Client(timeout=10))
        RouterClient(router.admin_url, http).configure({"v1": upstreams}, TrafficRules(weights={"v1": 100}))
        nginx_listen = start_nginx(stack, nginx, upstreams, workers=cores)
        targets = {
            "direct": f"http://{upstreams[0]}/",
            "nginx": f"http://{nginx_listen}/",
            "goship": f"{router.url}/",
        }
        for name, url in targets.items():
            r = http.get(url)
            if r.status_code != 200 or r.text != "hello\n":
                raise BenchError(f"{name} at {url} answered {r.status_code} {r.text[:80]!r}, expected hello")
        print(
            f"{cores} cores; nginx worker_processes {cores}, goship-router GOMAXPROCS default ({cores}); "
            f"{UPSTREAMS} Go hello upstreams; wrk -t{args.threads} -c{args.connections} -d{args.seconds}s"
        )
        for name in ("nginx", "goship"):  # warm pools and page cache, untimed
            wrk(wrk_bin, targets[name], threads=args.threads, connections=args.connections, seconds=2)

        rps: dict[str, list[float]] = {"nginx": [], "goship": []}
        p50: dict[str, list[float]] = {"direct": [], "nginx": [], "goship": []}
        for round_ in range(args.rounds):
            # Take turns, and change who goes first, so neither proxy always runs on a warmer machine.
            order = ["nginx", "goship"] if round_ % 2 == 0 else ["goship", "nginx"]
            for name in order:
                load = wrk(
                    wrk_bin,
                    targets[name],
                    threads=args.threads,
                    connections=args.connections,
                    seconds=args.seconds,
                )
                rps[name].append(load.rps)
            for name in ["direct", *order]:
                p50[name].append(wrk(wrk_bin, targets[name], threads=1, connections=1, seconds=5).p50_ms)

    med = {name: statistics.median(v) for name, v in rps.items()}
    lat = {name: statistics.median(v) for name, v in p50.items()}
    added = {name: lat[name] - lat["direct"] for name in ("nginx", "goship")}
    print()
    print(f"{'proxy':<8} {'requests/s':>12} {'runs':>40} {'p50 1 conn':>11} {'added p50':>10}")
    print(f"{'direct':<8} {'':>12} {'':>40} {lat['direct']:>8.3f} ms {'':>10}")
    for name in ("nginx", "goship"):
        runs = ", ".join(f"{v:,.0f}" for v in rps[name])
        print(f"{name:<8} {med[name]:>12,.0f} {runs:>40} {lat[name]:>8.3f} ms {added[name]:>7.3f} ms")

    ratio = med["goship"] / med["nginx"]
    ratio_ok = ratio >= RATIO_TARGET
    p50_ok = added["goship"] <= ADDED_P50_TARGET_MS
    print()
    print(
        f"target  goship/nginx requests/s >= {RATIO_TARGET:.2f}: {ratio:.2f}  {'MET' if ratio_ok else 'MISSED'}"
    )
    print(
        f"target  goship's added p50 <= {ADDED_P50_TARGET_MS:.1f} ms: {added['goship']:.3f} ms"
        f"  {'MET' if p50_ok else 'MISSED'}  (nginx adds {added['nginx']:.3f} ms)"
    )
    return 0 if ratio_ok and p50_ok else 1


if __name__ == "__main__":
    sys.exit(main())
