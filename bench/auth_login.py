"""Benchmark: auth login throughput and p50/p99 latency per provider, against the password check alone (auth issue).

Each scenario runs the auth service as its own process (``python -m services.auth`` on a free port,
against the running local stack) and drives ``POST /v1/auth/token`` over HTTP: closed loops at fixed
concurrency, then an open loop at a fixed rate (latency counted from each request's scheduled send
time, so a backed-up service cannot hide its queue). Scenarios:
- local: users registered through ``/v1/auth/register``; argon2id with argon2-cffi defaults;
- cognito: the same against moto's Cognito;
- legacy first login: users imported with ``vitalsync users import`` (pbkdf2-sha256 at 100,000
  iterations, plus bcrypt cost 10 closed-loop), each user logging in once, so every login migrates.
Baselines, measured in the same run at the same concurrency, just before and after each service run
(averaged, because the shared box's background load drifts):
- local: argon2-cffi ``PasswordHasher.verify`` at the service's configured cost, from a thread pool of that size;
- cognito: one raw ``admin_initiate_auth`` through aiobotocore against moto, from that many clients;
- legacy: the legacy verify plus the argon2 hash of the password (the crypto floor of a migration),
  and once that plus one argon2 verify (what the service does after migrating).
Overhead = service seconds per login / baseline seconds per login - 1, at equal concurrency.
Targets (2 cores): overhead under 20 %, p99 under 300 ms at 20 logins/s. Users are left in the database.

    .venv/bin/python -m bench.auth_login [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import platform
import secrets
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
from argon2 import PasswordHasher

from services.auth.config import AuthSettings
from shared.aws import aws_client
from shared.legacy.hash_schemes import LegacyHash, generate_legacy_hash, verify_legacy_password

READY_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 15.0
REQUEST_TIMEOUT_S = 300.0
HASH_KEY = b"bench-legacy-platform-hash-key32"
# realistic legacy costs: Django's pbkdf2 default of the late 2010s, and bcrypt's long-standing default
LEGACY_PARAMS: dict[str, dict[str, int]] = {"pbkdf2-sha256": {"iterations": 100_000}, "bcrypt": {"cost": 10}}
Credentials = tuple[str, str]
# As if behind the edge (127.0.0.1 is a trusted proxy): a client address of our own, from the RFC 2544
# benchmarking range, so a lockout other tests left on 127.0.0.1 in the shared database cannot throttle us.
CLIENT_HEADERS = {"X-Forwarded-For": f"198.18.{secrets.randbelow(256)}.{secrets.randbelow(254) + 1}"}


# ---- measurement helpers -----------------------------------------------------------------------


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile of an ascending sequence."""
    return sorted_values[max(0, math.ceil(q / 100 * len(sorted_values)) - 1)]


def latency_summary(latencies_s: list[float]) -> dict[str, float]:
    values = sorted(latencies_s)
    if not values:
        return {}
    return {f"{name}_ms": round(percentile(values, q) * 1000, 1) for name, q in _PCTS} | {
        "max_ms": round(values[-1] * 1000, 1)
    }


_PCTS = (("p50", 50), ("p95", 95), ("p99", 99))


def cpu_ticks(pid: int) -> int:
    """utime + stime of a process (all threads), in clock ticks."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def machine_ticks() -> tuple[int, int]:
    """(busy, total) jiffies of all cores since boot."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]
    return sum(values) - idle, sum(values)


class Usage:
    """CPU over one phase: per watched process (seconds), the whole machine, and everyone else.

    The box is shared, so ``others`` (machine busy minus the watched processes, as a share of all
    cores) says how much of a phase's machine went to work that is not this benchmark's.
    """

    def __init__(self, *pids: int) -> None:
        self._pids = pids

    def __enter__(self) -> Usage:
        self._start = [cpu_ticks(pid) for pid in self._pids], machine_ticks(), time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        (procs, machine, started), hz = self._start, os.sysconf("SC_CLK_TCK")
        busy, total = machine_ticks()
        wall = time.perf_counter() - started
        self.cpu_s = [(cpu_ticks(pid) - before) / hz for pid, before in zip(self._pids, procs, strict=True)]
        self.machine_busy = (busy - machine[0]) / max(1, total - machine[1])
        self.others = max(0.0, self.machine_busy - sum(self.cpu_s) / (wall * (os.cpu_count() or 1)))


# ---- the service under test --------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class AuthProcess:
    """``python -m services.auth`` on a free port: started on enter, always stopped on exit."""

    def __init__(self, provider: str, workdir: Path, **env: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = workdir / f"auth-{provider}-{self.port}.log"
        self._env = {
            **os.environ,
            "VITALSYNC_AUTH_PORT": str(self.port),
            "VITALSYNC_IDENTITY_PROVIDER": provider,
            "VITALSYNC_LOCKOUT_ADDRESS_THRESHOLD": "1000000000",  # every request comes from 127.0.0.1
            "VITALSYNC_SHUTDOWN_TIMEOUT_S": "5",
            "VITALSYNC_LOG_LEVEL": "WARNING",
            **env,
        }
        self.proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> AuthProcess:
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "services.auth"], stdout=log, stderr=subprocess.STDOUT, env=self._env
            )
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop()

    async def wait_ready(self) -> None:
        """Poll ``/readyz`` until it answers 200; raise (the caller's exit stops us) if it never does."""
        assert self.proc is not None
        deadline = time.monotonic() + READY_TIMEOUT_S
        async with aiohttp.ClientSession() as http:
            while time.monotonic() < deadline and self.proc.poll() is None:
                try:
                    async with http.get(f"{self.url}/readyz") as response:
                        if response.status == 200:
                            return
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.2)
        tail = self.log_path.read_text(errors="replace")[-2000:]
        raise RuntimeError(f"auth service did not become ready (exit code {self.proc.poll()}); log tail:\n{tail}")

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def _stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(STOP_TIMEOUT_S)


# ---- load generators ---------------------------------------------------------------------------


@dataclass
class Run:
    latencies_s: list[float]
    errors: list[str]
    wall_s: float

    def summary(self) -> dict[str, Any]:
        done = len(self.latencies_s)
        return {
            "logins": done,
            "errors": len(self.errors),
            "first_error": self.errors[0][:200] if self.errors else None,
            "throughput_per_s": round(done / self.wall_s, 2),
            **latency_summary(self.latencies_s),
        }


async def _login(http: aiohttp.ClientSession, url: str, creds: Credentials) -> str | None:
    """One password grant; None on 200, else the status and body."""
    body = {"grant_type": "password", "username": creds[0], "password": creds[1]}
    async with http.post(f"{url}/v1/auth/token", json=body, headers=CLIENT_HEADERS) as response:
        text = await response.text()
        return None if response.status == 200 else f"{response.status} {text}"


async def closed_loop(url: str, creds: Sequence[Credentials], concurrency: int) -> Run:
    """``concurrency`` clients, each sending its next login as soon as the previous one answers."""
    pending = iter(creds)
    latencies: list[float] = []
    errors: list[str] = []

    async def client(http: aiohttp.ClientSession) -> None:
        for item in pending:  # one shared iterator: each credential is used once
            started = time.perf_counter()
            error = await _login(http, url, item)
            if error:
                errors.append(error)
            else:
                latencies.append(time.perf_counter() - started)

    timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_S)
    async with aiohttp.ClientSession(timeout=timeout) as http:
        started = time.perf_counter()
        await asyncio.gather(*(client(http) for _ in range(concurrency)))
        return Run(latencies, errors, time.perf_counter() - started)


async def open_loop(url: str, creds: Sequence[Credentials], rate_per_s: float) -> Run:
    """One login every 1/rate seconds whatever the answers; latency from the scheduled send time."""
    latencies: list[float] = []
    errors: list[str] = []
    connector = aiohttp.TCPConnector(limit=0)
    timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_S)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as http:
        start = time.perf_counter()

        async def one(index: int, item: Credentials) -> None:
            scheduled = start + index / rate_per_s
            await asyncio.sleep(max(0.0, scheduled - time.perf_counter()))
            error = await _login(http, url, item)
            if error:
                errors.append(error)
            else:
                latencies.append(time.perf_counter() - scheduled)

        await asyncio.gather(*(one(i, item) for i, item in enumerate(creds)))
        return Run(latencies, errors, time.perf_counter() - start)


async def register_users(url: str, prefix: str, count: int, concurrency: int = 8) -> list[dict[str, str]]:
    """Create ``count`` users through the API; returns login name, password and user id of each."""
    created: list[dict[str, str]] = []
    names = iter(f"{prefix}{i:04d}" for i in range(count))

    async def client(http: aiohttp.ClientSession) -> None:
        for name in names:
            password = f"Bench-{secrets.token_hex(6)}-pw"
            body = {"login_name": name, "email": f"{name}@example.org", "password": password}
            async with http.post(f"{url}/v1/auth/register", json=body) as response:
                if response.status != 201:
                    raise RuntimeError(f"register {name}: {response.status} {await response.text()}")
                created.append(
                    {"login_name": name, "password": password, "user_id": (await response.json())["user_id"]}
                )

    async with aiohttp.ClientSession() as http:
        await asyncio.gather(*(client(http) for _ in range(concurrency)))
    return created


# ---- baselines: measured at each concurrency right before the service runs at it (a shared box drifts) ----

Baseline = Callable[[int], Awaitable[dict[str, float]]]


def _pool_rate(work: Callable[[], object], concurrency: int, calls: int) -> dict[str, float]:
    """Calls/s of ``work`` from ``concurrency`` threads (hashes release the GIL), and its CPU per call."""
    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(lambda _: work(), range(concurrency)))
        cpu, started = time.process_time(), time.perf_counter()
        list(pool.map(lambda _: work(), range(calls)))
        wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    return {"per_s": round(calls / wall, 2), "cpu_ms_per_call": round(cpu / calls * 1000, 1)}


def hash_baseline(work: Callable[[], object], calls_per_thread: int) -> Baseline:
    async def at(concurrency: int) -> dict[str, float]:
        calls = max(12, calls_per_thread * concurrency)
        return await asyncio.to_thread(_pool_rate, work, concurrency, calls)

    return at


@asynccontextmanager
async def cognito_baseline(user: dict[str, str]) -> AsyncIterator[Baseline]:
    """Raw admin_initiate_auth round trips against moto from ``concurrency`` clients (no DB, no service)."""
    settings = AuthSettings(identity_provider="cognito")
    async with aws_client(settings, "cognito-idp") as client:
        pools = await client.list_user_pools(MaxResults=60)
        pool_id = next(p["Id"] for p in pools["UserPools"] if p["Name"] == settings.cognito_user_pool_name)
        clients = await client.list_user_pool_clients(UserPoolId=pool_id, MaxResults=60)
        client_id = next(
            c["ClientId"] for c in clients["UserPoolClients"] if c["ClientName"] == settings.cognito_client_name
        )

        async def calls(remaining: Iterator[int]) -> None:
            for _ in remaining:
                result = await client.admin_initiate_auth(
                    UserPoolId=pool_id,
                    ClientId=client_id,
                    AuthFlow="ADMIN_USER_PASSWORD_AUTH",
                    AuthParameters={"USERNAME": user["user_id"], "PASSWORD": user["password"]},
                )
                assert result["AuthenticationResult"]["AccessToken"]

        async def at(concurrency: int) -> dict[str, float]:
            count = max(40, 15 * concurrency)
            await asyncio.gather(*(calls(iter(range(1))) for _ in range(concurrency)))
            remaining = iter(range(count))
            started = time.perf_counter()
            await asyncio.gather(*(calls(remaining) for _ in range(concurrency)))
            return {"per_s": round(count / (time.perf_counter() - started), 2)}

        yield at


# ---- scenarios -------------------------------------------------------------------------------------


async def measure(
    service: AuthProcess, creds: list[Credentials], levels: dict[int, int], baseline: Baseline
) -> list[dict[str, Any]]:
    """Per concurrency (``levels``: concurrency -> logins): the baseline, then a closed loop of the service."""
    rows = []
    offset = 0
    for concurrency, count in levels.items():
        with Usage(os.getpid()) as base_usage:
            before = await baseline(concurrency)
        with Usage(service.pid, os.getpid()) as usage:
            run = await closed_loop(service.url, creds[offset : offset + count], concurrency)
        after = await baseline(concurrency)  # before and after: the shared box's load drifts
        offset += count
        if not run.latencies_s:
            raise RuntimeError(f"no login succeeded at concurrency {concurrency}: {run.errors[:1]}")
        base = {"per_s": round((before["per_s"] + after["per_s"]) / 2, 2)}
        row = {"concurrency": concurrency, **run.summary()}
        row["baseline_per_s"] = base["per_s"]
        row["baseline_before_after_per_s"] = [before["per_s"], after["per_s"]]
        row["baseline_ms_per_login"] = round(1000 / base["per_s"], 1)
        row["service_cpu_ms_per_login"] = round(usage.cpu_s[0] / len(run.latencies_s) * 1000, 1)
        if "cpu_ms_per_call" in before:
            row["baseline_cpu_ms_per_login"] = round((before["cpu_ms_per_call"] + after["cpu_ms_per_call"]) / 2, 1)
        row["machine_busy_pct"] = round(usage.machine_busy * 100, 1)
        row["others_cpu_pct"] = {
            "service_run": round(usage.others * 100, 1),
            "baseline": round(base_usage.others * 100, 1),
        }
        row["throughput_ratio"] = round(row["throughput_per_s"] / base["per_s"], 3)
        row["overhead_pct"] = round((base["per_s"] / row["throughput_per_s"] - 1) * 100, 1)
        row["overhead_ms_per_login"] = round(1000 / row["throughput_per_s"] - 1000 / base["per_s"], 1)
        if "baseline_cpu_ms_per_login" in row:
            cpu_ratio = row["service_cpu_ms_per_login"] / row["baseline_cpu_ms_per_login"]
            row["service_cpu_overhead_pct"] = round((cpu_ratio - 1) * 100, 1)
        rows.append(row)
    return rows


async def measure_open(
    service: AuthProcess, creds: list[Credentials], rate: float, capacity_per_s: float
) -> dict[str, Any]:
    """The open loop; ``capacity_per_s`` is the best baseline rate, to say how loaded the offered rate is."""
    with Usage(service.pid, os.getpid()) as usage:
        run = await open_loop(service.url, creds, rate)
    summary = run.summary()
    summary.pop("throughput_per_s")
    return {
        "offered_per_s": rate,
        "seconds": round(len(creds) / rate, 1),
        "completed_per_s": round(len(run.latencies_s) / run.wall_s, 2),
        **summary,
        "service_cpu_ms_per_login": round(usage.cpu_s[0] / max(1, len(run.latencies_s)) * 1000, 1),
        "machine_busy_pct": round(usage.machine_busy * 100, 1),
        "others_cpu_pct": round(usage.others * 100, 1),
        "baseline_capacity_per_s": capacity_per_s,
        "offered_over_baseline_capacity": round(rate / capacity_per_s, 2),
    }


async def provider_scenario(provider: str, args: argparse.Namespace, workdir: Path, prefix: str) -> dict[str, Any]:
    """Register users, then closed loops and the open loop, for ``local`` or ``cognito``."""
    levels = {c: (args.logins if c > 1 else args.logins // 2) for c in args.concurrency}
    with AuthProcess(provider, workdir) as service:
        await service.wait_ready()
        started = time.perf_counter()
        users = await register_users(service.url, f"{prefix}{provider[0]}", args.users)
        register_s = time.perf_counter() - started
        async with AsyncExitStack() as stack:
            if provider == "local":
                hasher, password = service_hasher(), users[0]["password"]
                stored = hasher.hash(password)
                baseline = hash_baseline(lambda: hasher.verify(stored, password), 6)
                what = "argon2-cffi PasswordHasher.verify at the service's cost, thread pool of the same size"
            else:
                baseline = await stack.enter_async_context(cognito_baseline(users[0]))
                what = "aiobotocore admin_initiate_auth against moto, same number of clients"
            creds = [(u["login_name"], u["password"]) for u in users]
            warmup, need = max(levels), sum(levels.values()) + max(levels)
            cycle = (creds * math.ceil(need / len(creds)))[:need]
            await closed_loop(service.url, cycle[:warmup], warmup)  # open the service's pools and connections
            closed = await measure(service, cycle[warmup:], levels, baseline)
            count = int(args.rate * args.open_seconds)
            open_creds = (creds * math.ceil(count / len(creds)))[:count]
            capacity = max(row["baseline_per_s"] for row in closed)
            opened = await measure_open(service, open_creds, args.rate, capacity)
    return {
        "users": len(users),
        "register_per_s": round(len(users) / register_s, 2),
        "baseline": what,
        "closed_loop": closed,
        "open_loop": opened,
    }


def legacy_records(prefix: str, scheme: str, count: int) -> tuple[list[dict[str, Any]], list[Credentials]]:
    """Legacy export lines with realistic costs, hashed on two threads; and each user's credentials."""

    def one(i: int) -> tuple[dict[str, Any], Credentials]:
        name, password = f"{prefix}{i:04d}", f"old-{secrets.token_hex(5)}-pässwort"
        legacy = generate_legacy_hash(scheme, password, params=LEGACY_PARAMS[scheme], key=HASH_KEY)
        record = {
            "legacy_user_id": f"kii-{name}",
            "login_name": name,
            "email": f"{name}@example.org",
            "hash_scheme": legacy.scheme,
            "hash": legacy.hash,
            "salt": legacy.salt,
            "params": dict(legacy.params),
        }
        return record, (name, password)

    with ThreadPoolExecutor(2) as pool:
        pairs = list(pool.map(one, range(count)))
    return [p[0] for p in pairs], [p[1] for p in pairs]


def import_users(records: list[dict[str, Any]], workdir: Path, key_file: Path) -> dict[str, Any]:
    source = workdir / "legacy-users.jsonl"
    source.write_text("".join(json.dumps(r) + "\n" for r in records))
    cli = str(Path(sys.executable).with_name("vitalsync"))
    result = subprocess.run(
        [cli, "users", "import", str(source), "--hash-key-file", str(key_file), "--json"],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "VITALSYNC_IDENTITY_PROVIDER": "local"},
    )
    if result.returncode != 0:
        raise RuntimeError(f"users import failed: {result.stderr}")
    summary: dict[str, Any] = json.loads(result.stdout)
    if summary["created"] != len(records):
        raise RuntimeError(f"users import created {summary['created']} of {len(records)}: {summary}")
    return summary


def legacy_floors(
    record: dict[str, Any], password: str, hasher: PasswordHasher
) -> tuple[Callable[[], None], Callable[[], None]]:
    """The crypto floor of one migration (legacy verify + argon2 hash), and that plus one argon2 verify."""
    legacy = LegacyHash.from_record(record["hash_scheme"], record["hash"], record["salt"], record["params"])
    stored = hasher.hash(password)

    def floor() -> None:
        assert verify_legacy_password(password, legacy, HASH_KEY)
        hasher.hash(password)

    def floor_with_reverify() -> None:
        floor()
        hasher.verify(stored, password)  # what the service adds: authenticate() right after set_password()

    return floor, floor_with_reverify


async def legacy_scenario(args: argparse.Namespace, workdir: Path, prefix: str) -> dict[str, dict[str, Any]]:
    """First logins of imported legacy users on the local provider: every login migrates once."""
    primary, secondary = "pbkdf2-sha256", "bcrypt"
    plans = {
        primary: {c: (args.legacy_logins if c > 1 else args.legacy_logins // 2) for c in args.concurrency},
        secondary: {max(args.concurrency): args.legacy_logins // 2},
    }
    open_count = int(args.rate * args.legacy_open_seconds)
    warmup = max(args.concurrency)
    records, creds = {}, {}
    for tag, (scheme, levels) in enumerate(plans.items()):
        count = warmup + sum(levels.values()) + (open_count if scheme == primary else 0)
        records[scheme], creds[scheme] = await asyncio.to_thread(legacy_records, f"{prefix}m{tag}", scheme, count)
    key_file = workdir / "legacy-hash.key"
    key_file.write_bytes(HASH_KEY)
    imported = await asyncio.to_thread(import_users, records[primary] + records[secondary], workdir, key_file)
    hasher = service_hasher()
    results: dict[str, dict[str, Any]] = {}
    with AuthProcess("local", workdir, VITALSYNC_LEGACY_HASH_KEY_FILE=str(key_file)) as service:
        await service.wait_ready()
        for scheme, levels in plans.items():
            floor, floor_with_reverify = legacy_floors(records[scheme][0], creds[scheme][0][1], hasher)
            users = creds[scheme]
            await closed_loop(service.url, users[:warmup], warmup)
            closed = await measure(service, users[warmup:], levels, hash_baseline(floor, 3))
            top = max(levels)
            reverify = await hash_baseline(floor_with_reverify, 3)(top)
            entry: dict[str, Any] = {
                "scheme": scheme,
                "params": LEGACY_PARAMS[scheme],
                "baseline": f"{scheme} verify + argon2 hash (defaults), thread pool of the same size",
                "closed_loop": closed,
                "floor_with_reverify": {
                    "concurrency": top,
                    **reverify,
                    "service_over_it_pct": round((reverify["per_s"] / closed[-1]["throughput_per_s"] - 1) * 100, 1),
                },
            }
            if scheme == primary and open_count:
                used = warmup + sum(levels.values())
                capacity = max(row["baseline_per_s"] for row in closed)
                entry["open_loop"] = await measure_open(service, users[used:], args.rate, capacity)
            results[scheme] = entry
    results[primary]["import"] = {"created": imported["created"]}
    return results


def service_hasher() -> PasswordHasher:
    """The hasher with the auth service's configured argon2id cost (the honest baseline)."""
    settings = AuthSettings()
    return PasswordHasher(
        time_cost=settings.argon2_time_cost,
        memory_cost=settings.argon2_memory_kib,
        parallelism=settings.argon2_parallelism,
    )


async def run(args: argparse.Namespace) -> dict[str, Any]:
    prefix = f"bench{secrets.token_hex(3)}"  # run-specific, so repeated runs never collide
    hasher = service_hasher()
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="vitalsync-bench-auth-") as tmp:
        workdir = Path(tmp)
        started = time.perf_counter()
        local = await provider_scenario("local", args, workdir, prefix)
        cognito = await provider_scenario("cognito", args, workdir, prefix)
        legacy = await legacy_scenario(args, workdir, prefix)
    return {
        "date": time.strftime("%Y-%m-%d"),
        "machine": f"{os.cpu_count()} cores, {platform.machine()}",
        "python": platform.python_version(),
        "argon2": {"time_cost": hasher.time_cost, "memory_kib": hasher.memory_cost, "parallelism": hasher.parallelism},
        "load_avg_1m_before": round(load_before, 2),
        "user_prefix": prefix,
        "local": local,
        "cognito": cognito,
        "legacy_first_login": legacy,
        "duration_s": round(time.perf_counter() - started, 1),
    }


def readable(result: dict[str, Any]) -> str:
    """One line per measured run, baselines beside them."""
    out = [
        f"{result['date']}  {result['machine']}  python {result['python']}  argon2 {result['argon2']}  "
        f"load before {result['load_avg_1m_before']}"
    ]
    scenarios = [("local", result["local"]), ("cognito", result["cognito"])]
    scenarios += [(f"legacy {k}", v) for k, v in result["legacy_first_login"].items()]
    for name, data in scenarios:
        out.append(f"\n{name} (baseline: {data['baseline']})")
        for row in data["closed_loop"]:
            out.append(
                f"  c={row['concurrency']}: {row['throughput_per_s']}/s vs baseline {row['baseline_per_s']}/s "
                f"(ratio {row['throughput_ratio']}, overhead {row['overhead_pct']}% "
                f"= {row['overhead_ms_per_login']} ms)  p50/p95/p99/max "
                f"{row['p50_ms']}/{row['p95_ms']}/{row['p99_ms']}/{row['max_ms']} ms  service CPU "
                f"{row['service_cpu_ms_per_login']} ms/login (baseline {row.get('baseline_cpu_ms_per_login', '-')})  "
                f"machine busy {row['machine_busy_pct']}%, others {row['others_cpu_pct']}  errors {row['errors']}"
            )
        if reverify := data.get("floor_with_reverify"):
            out.append(f"  floor incl. the service's re-verify after migrating: {reverify}")
        if opened := data.get("open_loop"):
            out.append(
                f"  open loop {opened['offered_per_s']}/s for {opened['seconds']} s: completed "
                f"{opened['completed_per_s']}/s  p50/p95/p99/max {opened.get('p50_ms')}/{opened.get('p95_ms')}/"
                f"{opened.get('p99_ms')}/{opened.get('max_ms')} ms  errors {opened['errors']}  offered / baseline "
                f"capacity {opened['offered_over_baseline_capacity']}  machine busy {opened['machine_busy_pct']}%, "
                f"others {opened['others_cpu_pct']}%"
            )
    out.append(f"\ntotal {result['duration_s']} s")
    return "\n".join(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--users", type=int, default=200, help="users registered per provider")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 4, 8])
    parser.add_argument("--logins", type=int, default=80, help="logins per closed-loop level (half at 1)")
    parser.add_argument("--rate", type=float, default=20.0, help="open-loop logins/s")
    parser.add_argument("--open-seconds", type=float, default=30.0)
    parser.add_argument("--legacy-logins", type=int, default=40, help="first logins per closed-loop level (half at 1)")
    parser.add_argument("--legacy-open-seconds", type=float, default=5.0)
    args = parser.parse_args()
    result = asyncio.run(run(args))
    print(json.dumps(result) if args.json else readable(result))


if __name__ == "__main__":
    main()
