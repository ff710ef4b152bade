"""Serving with gunicorn exactly as `make run` does, and driving it with wrk from a separate
process over loopback."""

import json
import os
import shutil
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parents[1]
GUNICORN = Path(sys.executable).parent / "gunicorn"
LUA = BENCH_DIR / "requests.lua"
# Sent by wrk with every request, and by run.py's sign-in: a staff session is bound to the
# browser (the user agent) that signed in.
USER_AGENT = "samverkan-bench/1 (wrk)"


def ensure_wrk() -> str:
    """wrk from Debian; installed with apt-get when missing (as root, or with sudo)."""
    found = shutil.which("wrk")
    if found:
        return found
    print("[bench] wrk is missing: installing the Debian package", flush=True)
    sudo = [] if os.geteuid() == 0 else ["sudo", "-n"]
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run([*sudo, "apt-get", "install", "-y", "-q", "wrk"], check=False, env=env)
    found = shutil.which("wrk")
    if not found:
        subprocess.run([*sudo, "apt-get", "update", "-q"], check=False, env=env)
        subprocess.run([*sudo, "apt-get", "install", "-y", "-q", "wrk"], check=True, env=env)
        found = shutil.which("wrk")
    if not found:
        raise SystemExit("wrk is needed: apt-get install wrk")
    return found


@dataclass(frozen=True)
class ServerSettings:
    """What config/gunicorn.conf.py reads from the environment."""

    worker_class: str = "sync"
    workers: int = 2
    threads: int = 1

    @property
    def label(self) -> str:
        if self.worker_class == "gthread":
            return f"gthread {self.workers}x{self.threads}"
        return f"{self.worker_class} x{self.workers}"

    @classmethod
    def parse(cls, text: str) -> "ServerSettings":
        """'sync:2', 'sync:4', 'gthread:2x4'."""
        kind, _, count = text.partition(":")
        workers, _, threads = count.partition("x")
        return cls(kind, int(workers or 2), int(threads or 1))


class Server:
    """One gunicorn (the app's or the floor's) in its own process group."""

    def __init__(self, app: str, port: int, settings: ServerSettings, env: dict, log: Path):
        self.port = port
        self.log = log
        run_env = {
            **env,
            "PORT": str(port),
            "HOST": "127.0.0.1",
            "WEB_CONCURRENCY": str(settings.workers),
            "GUNICORN_WORKER_CLASS": settings.worker_class,
            "GUNICORN_THREADS": str(settings.threads),
        }
        command = [str(GUNICORN), "--config", str(ROOT / "config" / "gunicorn.conf.py")]
        if app.startswith("floor:"):
            command += ["--pythonpath", str(BENCH_DIR)]
        self.handle = log.open("ab")
        self.process = subprocess.Popen(
            [*command, app],
            cwd=ROOT,
            env=run_env,
            stdout=self.handle,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def wait_ready(self, path: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited: see {self.log}")
            try:
                with urllib.request.urlopen(f"{self.url}{path}", timeout=2) as response:
                    if response.status == 200:
                        return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError(f"gunicorn on port {self.port} did not answer {path}: see {self.log}")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()  # gunicorn's graceful stop, for its own workers
            try:
                self.process.wait(timeout=35)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.handle.close()


def write_requests(path: Path, rows: list[tuple[str, str, str]]) -> Path:
    """The lines requests.lua cycles through: (path, cookie, body)."""
    with path.open("w") as handle:
        for row in rows:
            if any("\t" in part or "\n" in part for part in row):
                raise ValueError(f"a request line may not hold a tab or newline: {row}")
            handle.write("\t".join(row) + "\n")
    return path


def run_wrk(
    wrk: str,
    url: str,
    requests_file: Path,
    *,
    method: str = "GET",
    connections: int = 16,
    seconds: float = 12,
    offset: int = 0,
    expect: int | None = None,
) -> dict:
    """One wrk run (one thread: this machine has two cores, the server needs them), as the
    figures its done() hook prints. With `expect`, every response of another status is an
    error (wrk alone counts only 4xx and 5xx), and `unexpected` holds a few of them."""
    env = {
        **os.environ,
        "BENCH_REQUESTS": str(requests_file),
        "BENCH_METHOD": method,
        "BENCH_OFFSET": str(offset),
        "BENCH_USER_AGENT": USER_AGENT,
        "BENCH_EXPECT": str(expect or 0),
    }
    command = [
        wrk,
        "-t1",
        f"-c{connections}",
        f"-d{max(1, round(seconds))}s",
        "--timeout",
        "10s",
        "-s",
        str(LUA),
        url,
    ]
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    if done.returncode:
        raise RuntimeError(f"wrk failed:\n{done.stdout}{done.stderr}")
    figures, unexpected = None, []
    for line in done.stdout.splitlines():
        if line.startswith("BENCH_JSON "):
            figures = json.loads(line.removeprefix("BENCH_JSON "))
        elif line.startswith("BENCH_UNEXPECTED "):
            unexpected.append(line.removeprefix("BENCH_UNEXPECTED "))
    if figures is None:
        raise RuntimeError(f"wrk printed no figures:\n{done.stdout}\n{done.stderr}")
    seconds_run = figures["duration_us"] / 1e6
    counted = ("connect_errors", "read_errors", "write_errors", "timeouts")
    if not expect:
        counted += ("status_errors",)  # else each is among the unexpected already
    errors = sum(figures[k] for k in counted) + len(unexpected)
    return {
        "requests": figures["requests"],
        "rps": figures["requests"] / seconds_run,
        "p50_ms": figures["p50_us"] / 1000,
        "p90_ms": figures["p90_us"] / 1000,
        "p99_ms": figures["p99_us"] / 1000,
        "max_ms": figures["max_us"] / 1000,
        "errors": errors,
        "unexpected": len(unexpected),
        "unexpected_examples": sorted(set(unexpected))[:3],
        "raw": figures,
    }
