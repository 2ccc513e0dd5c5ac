"""The suite's section of docs/BENCHMARKS.md, written between its own markers."""

from __future__ import annotations

import math
from pathlib import Path

from bench.suite.stats import median

MB_PER_MIB = 1.048576
BEGIN = "<!-- bench-suite:begin (written by python -m bench.suite; edits inside are overwritten) -->"
END = "<!-- bench-suite:end -->"
HEADER = """# Benchmarks

Every number here was measured by a benchmark in `bench/`; none is a timed test assertion.

## Machine

The numbers below were measured on the project's standard machine: 2 vCPU (KVM guest), 24 GiB of
memory, PostgreSQL 15 on the same machine at 127.0.0.1:5432. It is shared: other engineers run test
suites on it at the same time, so single runs are noisy; sections quote medians of repeated runs.
Each section names its own run's exact machine description and date.
"""


def _f(value, digits: int = 1) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return f"{value:,.{digits}f}"


def _med(runs: list[dict], key: str) -> float:
    return median([r.get(key, math.nan) for r in runs])


def _verdict(ok: bool | None) -> str:
    return "–" if ok is None else ("**met**" if ok else "**missed**")


def _targets(res: dict) -> list[str]:
    rows = ["| target | measured (median of runs) | verdict |", "|---|---|---|"]
    sustain = res.get("sustain") or []
    if sustain:
        rate = res["args"]["sustain_rate"]
        ok_runs = [r for r in sustain if r["not_ok"] == 0 and r["events_per_s"] >= 0.99 * rate
                   and r["outcomes"].get("spooled", 0) == 0 and r["p99_ms"] < 1000]
        rows.append(
            f"| ≥ 2,000 signed durable events/s for 60 s, no errors | offered {_f(rate, 0)}/s for "
            f"{_f(sustain[0]['seconds'], 0)} s: achieved {_f(_med(sustain, 'events_per_s'), 0)} events/s, "
            f"{sum(r['not_ok'] for r in sustain):,} not answered 200 (503: busy), {sum(r['outcomes'].get('spooled', 0) for r in sustain)} "
            f"spooled, client p99 {_f(_med(sustain, 'p99_ms'))} ms; {len(ok_runs)}/{len(sustain)} runs held it "
            f"| {_verdict(len(ok_runs) * 2 > len(sustain))} |")
    closed = res.get("closed") or []
    if closed:
        rows.append(f"| (maximum, closed loop, {res['args']['concurrency']} connections) | "
                    f"{_f(_med(closed, 'events_per_s'), 0)} events/s, {_f(_med(closed, 'calls_per_s'), 0)} calls/s | – |")
    at500 = res.get("at500") or []
    logged = res.get("logged500")
    if at500 or logged:
        parts, oks = [], []
        if at500 and "server_p99_ms" in at500[0]:
            p99 = _med(at500, "server_p99_ms")
            share = _med(at500, "server_share_le_10ms")
            parts.append(f"histogram p99 ≈ {_f(p99, 2)} ms ({_f(share * 100, 2)} % ≤ 10 ms)")
            oks.append(share >= 0.99)
        if logged:
            parts.append(f"log sample p99 {_f(logged['log_p99_ms'], 2)} ms ({logged['log_lines']:,} lines)")
            oks.append(logged["log_share_le_10ms"] >= 0.99)
        if at500:
            parts.append(f"client p99 {_f(_med(at500, 'p99_ms'), 2)} ms")
        rows.append(f"| server-side p99 ≤ 10 ms at 500 events/s | {'; '.join(parts)} | {_verdict(all(oks) if oks else None)} |")
    start = res.get("start")
    if start:
        s = median(start["to_port_s"])
        ready = [r for r in start["to_ready_s"] if r is not None]
        extra = f"; READY=1 after {_f(median(ready), 3)} s" if ready else ""
        rows.append(f"| start to READY ≤ 2 s | port accepting after {_f(s, 3)} s "
                    f"({len(start['to_port_s'])} starts){extra} | {_verdict(s <= 2.0)} |")
    for lookup in filter(None, (res.get("lookup"), res.get("lookup_10m"))):
        rows.append(f"| lookup p99 ≤ 0.5 ms at 10,000,000 contacts (warm) | at {lookup['contacts']:,} contacts: "
                    f"p50 {_f(lookup['p50_ms'], 3)} ms, p99 {_f(lookup['p99_ms'], 3)} ms "
                    f"({lookup['lookups']:,} lookups × {lookup['runs']}); inside PostgreSQL p99 "
                    f"{_f(lookup.get('server_p99_ms'), 3)} ms | "
                    f"{_verdict(lookup['p99_ms'] <= 0.5) if lookup['contacts'] >= 10_000_000 else ('met at this size' if lookup['p99_ms'] <= 0.5 else 'missed at this size')} |")
    norm = res.get("normalisation")
    if norm:
        rows.append(f"| normalisation ≤ 20 µs per number | distinct numbers {_f(norm['cold_us'], 1)} µs "
                    f"(through the cache {_f(norm['cold_cached_us'], 1)} µs); repeated number "
                    f"{_f(norm['warm_us'], 2)} µs | {_verdict(norm['cold_us'] <= 20)} |")
    opens = res.get("open") or {}
    fresh = opens.get("0.5") or opens.get("0.25") or []
    at500 = res.get("at500") or []
    rss200 = opens.get("2.0") or []
    if fresh or at500:
        parts, oks = [], []
        if fresh:
            steady = _med(fresh, "rss_steady_mib")
            parts.append(f"{_f(steady)} MiB at {_f(fresh[0]['offered_rate'], 0)} events/s before any overload")
            oks.append(steady * MB_PER_MIB <= 100)
        if at500:
            parts.append(f"{_f(_med(at500, 'rss_steady_mib'))} MiB at 500 events/s after the overload phases "
                         "(the memory a burst took is kept)")
            oks.append(_med(at500, "rss_steady_mib") * MB_PER_MIB <= 100)
        rows.append(f"| RSS ≤ 100 MB steady | {'; '.join(parts)} | "
                    f"{_verdict(all(oks)) if len(set(oks)) == 1 else 'met before an overload, **missed** after'} |")
    if rss200:
        rows.append(f"| RSS ≤ 150 MB at twice the sustainable rate | peak {_f(_med(rss200, 'rss_peak_mib'))} MiB "
                    f"(steady {_f(_med(rss200, 'rss_steady_mib'))} MiB) at twice the closed-loop maximum "
                    f"({_f(rss200[0]['offered_rate'], 0)}/s) | "
                    f"{_verdict(_med(rss200, 'rss_peak_mib') * MB_PER_MIB <= 150)} |")
    return rows


def _phase_table(title: str, runs_by_row: list[tuple[str, list[dict]]]) -> list[str]:
    out = [f"**{title}** (median of runs; latency in ms, client side from the scheduled send; server side "
           "from the daemon's histogram). The open loop at 100 % of the closed-loop maximum is already past what "
           "the daemon sustains when requests come on a schedule: its queue grows, and the excess is spooled. "
           "\"not 200\" counts 503s (busy: more than `max_concurrent_requests` in progress), which the PBX "
           "retries.", "",
           "| load | runs | achieved events/s | calls/s | p50 | p95 | p99 | max | server p50 | server p99 "
           "| ≤ 10 ms (server) | RSS steady / peak MiB | CPU µs/event daemon / PG | not 200 | outcomes (all runs) "
           "| spool replayed in |",
           "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for label, runs in runs_by_row:
        outcomes: dict[str, int] = {}
        for r in runs:
            for k, v in r["outcomes"].items():
                outcomes[k] = outcomes.get(k, 0) + v
        out.append(
            f"| {label} | {len(runs)} | {_f(_med(runs, 'events_per_s'), 0)} | {_f(_med(runs, 'calls_per_s'), 0)} "
            f"| {_f(_med(runs, 'p50_ms'), 2)} | {_f(_med(runs, 'p95_ms'), 2)} | {_f(_med(runs, 'p99_ms'), 2)} "
            f"| {_f(_med(runs, 'max_ms'), 0)} | {_f(_med(runs, 'server_p50_ms'), 2)} "
            f"| {_f(_med(runs, 'server_p99_ms'), 2)} | {_f(_med(runs, 'server_share_le_10ms') * 100, 2)} % "
            f"| {_f(_med(runs, 'rss_steady_mib'), 0)} / {_f(_med(runs, 'rss_peak_mib'), 0)} "
            f"| {_f(_med(runs, 'daemon_cpu_us_per_event'), 0)} / {_f(_med(runs, 'pg_cpu_us_per_event'), 0)} "
            f"| {sum(r['not_ok'] for r in runs):,} | {', '.join(f'{k} {v:,}' for k, v in sorted(outcomes.items()))} "
            f"| {_spool(runs)} |")
    return out + [""]


def _spool(runs: list[dict]) -> str:
    spooled = [r for r in runs if r["outcomes"].get("spooled")]
    return ", ".join(f"{_f(r.get('spool_drain_s'), 0)} s" for r in spooled) if spooled else "–"


def section(res: dict) -> str:
    a = res["args"]
    m = res.get("machine", {})
    mode = "quick" if a.get("quick") else "full"
    lines = [BEGIN, "## Event pipeline (bench/suite)", "",
             "Reproduce with `make bench` (the full run, 15–25 minutes) or "
             "`make bench BENCH_ARGS=--quick` (about 3 minutes); `BENCH_ARGS=--ten-million` "
             "uses 10,000,000 contacts. See `bench/README.md` for what each phase does.", "",
             f"Run of {m.get('date', '?')}, {mode} mode{(' — ' + a['label']) if a.get('label') else ''}: "
             f"{res['base']['contacts']:,} contacts ({res['base']['phones']:,} phones, "
             f"{res['base']['open_leads']:,} open leads, loaded with COPY in {_f(res['base']['seconds'])} s), "
             f"{a['repeats']} run(s) of each {_f(a['seconds'], 0)} s phase, "
             f"whole run {_f(res.get('wall_s', 0) / 60)} min.", "",
             "The machine is shared: other engineers' test suites often run on it at the same time, so a "
             "single run's wall-clock numbers can vary by a factor of two. The load average before and after "
             "the run is in the table; the CPU per event columns depend much less on the neighbours.", "",
             "| machine | |", "|---|---|"]
    lines += [f"| {k} | {v} |" for k, v in m.items()]
    lines += ["", "### Against the targets", ""] + _targets(res) + [""]
    lines += ["### Details", ""]
    if not res.get("has_metrics", False):
        lines += ["The daemon had no `GET /metrics` in this run, so the server-side columns are empty "
                  "and the server-side latency comes from the log sample only.", ""]
    rows: list[tuple[str, list[dict]]] = []
    if res.get("closed"):
        rows.append((f"closed loop, {a['concurrency']} connections", res["closed"]))
    for share, runs in (res.get("open") or {}).items():
        rows.append((f"open loop {float(share) * 100:.0f} % ({_f(runs[0]['offered_rate'], 0)}/s)", runs))
    if res.get("at500"):
        rows.append(("open loop 500/s", res["at500"]))
    if res.get("sustain"):
        rows.append((f"open loop {_f(res['sustain'][0]['offered_rate'], 0)}/s for "
                     f"{_f(res['sustain'][0]['seconds'], 0)} s", res["sustain"]))
    if rows:
        lines += _phase_table("Load phases", rows)
    logged = res.get("logged500")
    if logged:
        lines += [f"**Server side from the log** (daemon at info level, 500 events/s, {logged['log_lines']:,} "
                  f"`webhook` lines, `elapsed_ms` from handler entry to the answer): p50 "
                  f"{_f(logged['log_p50_ms'], 2)} ms, p95 {_f(logged['log_p95_ms'], 2)} ms, p99 "
                  f"{_f(logged['log_p99_ms'], 2)} ms, {_f(logged['log_share_le_10ms'] * 100, 2)} % ≤ 10 ms; "
                  f"client p99 {_f(logged['p99_ms'], 2)} ms.", ""]
    start = res.get("start")
    if start:
        lines += [f"**Start to READY**: spawn of `python -m daemon.cli run` to the port accepting a "
                  f"connection, migrations already applied: {', '.join(_f(s, 3) for s in start['to_port_s'])} s.", ""]
    for lk in filter(None, (res.get("lookup"), res.get("lookup_10m"))):
        lines += [f"**Phone lookup alone** (`Tx.contact_id_by_phone`, one connection, sequential, after a warm-up "
                  f"pass over the same phones; {lk['hit_share'] * 100:.0f} % known phones): p50 "
                  f"{_f(lk['p50_ms'], 3)} ms, p99 {_f(lk['p99_ms'], 3)} ms, max {_f(lk['max_ms'], 2)} ms "
                  f"(median of {lk['runs']} runs of {lk['lookups']:,}) at {lk['contacts']:,} contacts. "
                  f"The probe alone, timed inside PostgreSQL: p50 {_f(lk.get('server_p50_ms'), 4)} ms, "
                  f"p99 {_f(lk.get('server_p99_ms'), 4)} ms.", ""]
    if res.get("normalisation"):
        n = res["normalisation"]
        lines += [f"**Normalisation** (`daemon.domain.phones.normalise_phone`, {n['numbers']:,} distinct numbers in five "
                  f"spellings): {_f(n['cold_us'], 1)} µs each with the cache bypassed, {_f(n['cold_cached_us'], 1)} µs "
                  f"through the lru_cache when every number is new, {_f(n['warm_us'], 2)} µs for a number seen "
                  f"before (median of {n['runs']} runs).", ""]
    if res.get("stuck_spool_gauge"):
        lines += [f"**Spool gauge**: after an overload phase, the spool directory was empty and nothing was "
                  f"replaying, but `callbridge_spool_backlog` stayed at {res['stuck_spool_gauge']:.0f}; the suite "
                  f"stopped waiting for it (see the check below for whether anything was lost).", ""]
    check = res.get("check")
    if check:
        phases = check["phases"]
        acked = sum(r.get("events_acked", r["events_sent"]) for r in phases.values())
        calls = sum(r.get("calls_acked", r["calls_sent"]) for r in phases.values())
        missing = {t: r.get("acked_missing_at_least", 0) for t, r in phases.items() if not r.get("ok", True)}
        if check["ok"]:
            lines += [f"**Nothing acknowledged was lost**: after the run (spool replayed), the inbox held every one "
                      f"of the {acked:,} distinct events answered 200, once, and `communications` one row for each "
                      f"of the {calls:,} calls with such an event, phase by phase.", ""]
        else:
            lines += ["**Acknowledged events missing** after the run (spool replayed): "
                      + ", ".join(f"{t}: at least {n:,}" for t, n in missing.items())
                      + ". These events were answered 200 but are not in the inbox.", ""]
    lines.append(END)
    return "\n".join(lines) + "\n"


def write(path: Path, text: str, *, begin: str = BEGIN, end_marker: str = END) -> None:
    """Replace a section between its markers (or append it); a new file starts with a Machine section."""
    current = path.read_text(encoding="utf-8") if path.exists() else HEADER
    start, end = current.find(begin), current.find(end_marker)
    if start >= 0 and end > start:
        current = current[:start] + text.rstrip("\n") + current[end + len(end_marker):]
    else:
        current = current.rstrip("\n") + "\n\n" + text
    path.write_text(current, encoding="utf-8")
