"""The portal benchmark's report: the markdown table and each target, met or missed."""

from __future__ import annotations

from typing import Any

CONNECTIONS = (16, 64)
#: The issue's targets: landing GET, decision POST latency, decisions/s per database.
TARGETS = {"get_rps": 1500, "get_p99_ms": 50, "post_p99_ms": 100}
POST_TARGET = {"sqlite": 500, "postgres": 700}


def verdicts(rows: list[dict[str, Any]]) -> list[str]:
    """Each target of the issue, met or missed, from the measured rows."""
    out = []
    by = {(r["backend"], r["test"], r["connections"]): r for r in rows}
    for backend in ("sqlite", "postgres"):
        for conns in CONNECTIONS:
            get = by.get((backend, "landing GET", conns))
            post = by.get((backend, "decision POST", conns))
            ceiling = by.get((backend, "ceiling: Starlette + 1 insert", conns))
            if not (get and post and ceiling):
                continue
            share = post["decisions_per_s"] / ceiling["rps"]
            wanted = POST_TARGET[backend]
            checks = [
                ("GET >= 1,500 req/s", get["rps"] >= TARGETS["get_rps"]),
                ("GET p99 <= 50 ms", get["p99_ms"] <= TARGETS["get_p99_ms"]),
                (f"POST >= {wanted} decisions/s", post["decisions_per_s"] >= wanted),
                (f"POST >= 50% of the insert ceiling ({share:.0%})", share >= 0.5),
            ]
            if conns == 64:
                checks.append(("POST p99 <= 100 ms", post["p99_ms"] <= TARGETS["post_p99_ms"]))
            out += [
                f"{backend} @{conns}: {name}: {'met' if ok else 'MISSED'}" for name, ok in checks
            ]
    return out


def markdown(rows: list[dict[str, Any]], meta: dict[str, Any]) -> str:
    lines = [
        "# Consent portal benchmark",
        "",
        f"{meta['when']}, {meta['cpus']} CPUs, Python {meta['python']}, "
        f"wrk {meta['seconds']}s per run (2 threads, same machine), uvicorn "
        f"{meta.get('workers', 1)} worker(s), {meta.get('http', 'h11')}, "
        f"{meta.get('loop', 'asyncio')}; "
        f"{meta['people']} people seeded per database; 1-minute load average "
        f"{meta.get('load', ['?', '?'])[0]} before, {meta.get('load', ['?', '?'])[1]} after "
        "(2 is a full machine).",
        "",
        "| database | what | connections | req/s | decisions/s | p50 ms | p99 ms | "
        "server CPU ms/req | errors |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        decisions = f"{r['decisions_per_s']:,.0f}" if "decisions_per_s" in r else ""
        errors = r["non_2xx"] + (1 if r["socket_errors"] else 0)
        lines.append(
            f"| {r['backend']} | {r['test']} | {r['connections']} | {r['rps']:,.0f} | "
            f"{decisions} | {r['p50_ms']:.1f} | {r['p99_ms']:.1f} | {r['server_cpu_ms']:.2f} | "
            f"{errors} |"
        )
    lines += ["", "Targets:", ""] + [f"- {v}" for v in verdicts(rows)] + [""]
    return "\n".join(lines)
