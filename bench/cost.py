"""Cost per request: the service against a bare FastAPI app doing the same essential work (bench/floor.py),
side by side in one run with wrk, each server on core 0 and wrk on core 1, alternating runs.

Writes the "Cost per request" section of docs/benchmark.md and the ``cost_per_request`` key of
docs/benchmark.json (bench/service.py keeps both when it rewrites the rest).

    .venv/bin/python -m bench.cost      # needs wrk and taskset (apt-get install -y wrk)
"""

import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import time
import urllib.request
from dataclasses import asdict, dataclass
from pathlib import Path

from lab.servers import Lab, free_port, running_lab, wait_until_answering

ROOT = Path(__file__).resolve().parent.parent
SECTION = "## Cost per request"
SERVER_CORE, LOAD_CORE = "0", "1"
RUNS, SECONDS, CONNECTIONS = 5, 5, 32
PATHS = {"/health": "`/health` (floor: return the same JSON)", "/products/1": "cached product read (floor: one HGET)"}


@dataclass
class Run:
    path: str
    target: str
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    cpu_us_per_request: float
    """The server process's CPU time (user + system) per request: unlike req/s, barely moved by other load."""


def _ms(text: str) -> float:
    value, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", text).groups()  # type: ignore[union-attr]
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def cpu_seconds(pid: int) -> float:
    """utime + stime of ``pid`` (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wrk(url: str) -> tuple[float, float, float, int]:
    """requests/s, p50 ms, p99 ms and the request count of one wrk run on LOAD_CORE."""
    out = subprocess.run(
        ["taskset", "-c", LOAD_CORE, "wrk", "-t1", f"-c{CONNECTIONS}", f"-d{SECONDS}s", "--latency", url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p50 = _ms(re.search(r"^\s+50%\s+(\S+)$", out, re.M).group(1))  # type: ignore[union-attr]
    p99 = _ms(re.search(r"^\s+99%\s+(\S+)$", out, re.M).group(1))  # type: ignore[union-attr]
    total = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    if "Non-2xx" in out or "Socket errors" in out:
        raise RuntimeError(f"wrk saw errors against {url}:\n{out}")
    return rps, p50, p99, total


def start(command: list[str], env: dict[str, str], port: int) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(["taskset", "-c", SERVER_CORE, *command], env=env, stdout=subprocess.DEVNULL)
    try:
        wait_until_answering(f"http://127.0.0.1:{port}/health")
    except RuntimeError:
        proc.kill()
        raise
    return proc


def measure(lab: Lab) -> list[Run]:
    service_port, floor_port = free_port(), free_port()
    service = start(lab.service_command(1), lab.service_env(service_port), service_port)
    floor = start([sys.executable, "-m", "bench.floor"], lab.service_env(floor_port), floor_port)
    bases = {"service": f"http://127.0.0.1:{service_port}", "floor": f"http://127.0.0.1:{floor_port}"}
    pids = {"service": service.pid, "floor": floor.pid}  # taskset execs the server: same pid
    runs: list[Run] = []
    try:
        for _ in range(2):  # the service fills the cache; both warm up
            urllib.request.urlopen(bases["service"] + "/products/1").close()
        for path in PATHS:
            for base in bases.values():
                wrk_warm = base + path
                subprocess.run(["wrk", "-t1", "-c8", "-d1s", wrk_warm], capture_output=True, check=True)
            for i in range(RUNS):
                order = ["service", "floor"] if i % 2 == 0 else ["floor", "service"]
                for target in order:
                    cpu_before = cpu_seconds(pids[target])
                    rps, p50, p99, total = wrk(bases[target] + path)
                    cpu_us = (cpu_seconds(pids[target]) - cpu_before) / total * 1e6
                    runs.append(Run(path, target, rps, p50, p99, round(cpu_us, 1)))
                    time.sleep(0.5)
    finally:
        for proc in (service, floor):
            proc.terminate()
            proc.wait(30)
    return runs


def summary(runs: list[Run]) -> list[dict[str, object]]:
    rows = []
    for path, label in PATHS.items():
        med = {
            target: {
                "rps": statistics.median(r.requests_per_second for r in runs if (r.path, r.target) == (path, target)),
                "p99": statistics.median(r.p99_ms for r in runs if (r.path, r.target) == (path, target)),
                "cpu": statistics.median(r.cpu_us_per_request for r in runs if (r.path, r.target) == (path, target)),
            }
            for target in ("service", "floor")
        }
        ratios = [
            s.requests_per_second / f.requests_per_second
            for s, f in zip(
                [r for r in runs if (r.path, r.target) == (path, "service")],
                [r for r in runs if (r.path, r.target) == (path, "floor")],
                strict=True,
            )
        ]
        rows.append(
            {
                "endpoint": label,
                "service_rps": round(med["service"]["rps"]),
                "floor_rps": round(med["floor"]["rps"]),
                "ratio": round(med["service"]["rps"] / med["floor"]["rps"], 2),
                "ratio_range": [round(min(ratios), 2), round(max(ratios), 2)],
                "service_cpu_us": round(med["service"]["cpu"], 1),
                "floor_cpu_us": round(med["floor"]["cpu"], 1),
                "cpu_ratio": round(med["floor"]["cpu"] / med["service"]["cpu"], 2),
                "service_p99_ms": round(med["service"]["p99"], 2),
                "floor_p99_ms": round(med["floor"]["p99"], 2),
            }
        )
    return rows


def write(runs: list[Run], rows: list[dict[str, object]]) -> None:
    command = ".venv/bin/python -m bench.cost"
    lines = [
        SECTION,
        "",
        f"Produced by `{command}` (`bench/cost.py`): the service (1 uvicorn worker, `python -m app`) and a bare "
        "FastAPI app doing only the essential work (`bench/floor.py`: nothing for `/health`, one Redis HGET for "
        "a cached product), both served by uvicorn with the service's settings, each pinned to core "
        f"{SERVER_CORE} with `taskset`, wrk (1 thread, {CONNECTIONS} connections, {SECONDS} s) on core "
        f"{LOAD_CORE}, runs alternating service/floor, {RUNS} runs each; medians, and the range of the "
        "per-pair ratios. The machine's 2 cores are shared with other work, so compare the ratio, not the "
        f"absolute figures. Load average when it finished: {os.getloadavg()[0]:.2f}. CPU µs/request is the "
        "server process's own CPU time over wrk's request count: it is what other load moves least, and "
        "floor/service of it is the cost ratio to read.",
        "",
        "| endpoint | service req/s | floor req/s | service/floor req/s | per-run ratios | service CPU µs/req "
        "| floor CPU µs/req | floor/service CPU | service p99 ms | floor p99 ms |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        ratios = r["ratio_range"]
        assert isinstance(ratios, list)
        low, high = ratios
        lines.append(
            f"| {r['endpoint']} | {r['service_rps']} | {r['floor_rps']} | {r['ratio']}x | {low}-{high} | "
            f"{r['service_cpu_us']} | {r['floor_cpu_us']} | {r['cpu_ratio']}x | "
            f"{r['service_p99_ms']} | {r['floor_p99_ms']} |"
        )
    md = ROOT / "docs" / "benchmark.md"
    before = md.read_text().split("\n" + SECTION)[0].rstrip("\n") if md.exists() else "# Service benchmark"
    md.write_text(before + "\n\n" + "\n".join(lines) + "\n")
    js = ROOT / "docs" / "benchmark.json"
    data = json.loads(js.read_text()) if js.exists() else {}
    data["cost_per_request"] = {"summary": rows, "runs": [asdict(r) for r in runs]}
    js.write_text(json.dumps(data, indent=2) + "\n")


if __name__ == "__main__":
    if not shutil.which("wrk") or not shutil.which("taskset"):
        raise SystemExit("bench.cost needs wrk and taskset (apt-get install -y wrk util-linux)")
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    with running_lab() as lab:
        measured = measure(lab)
    table = summary(measured)
    write(measured, table)
    print(json.dumps(table, indent=2))
