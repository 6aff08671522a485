"""One table for every section, and the targets of issues 5 and 9 judged against it."""

from __future__ import annotations

from typing import Any

HEADER = ("section", "case", "wall s", "CPU s", "peak RSS MB", "value", "target", "ok")
Row = tuple[str, str, str, str, str, str, str, str]
LINEAR_TOLERANCE = 1.25  # 50k's time per pod may be at most this times 10k's
# Issue 9: `collect --sync` as a whole process over the floor (raw paged fetch + orjson, whole
# process) of the same run; peak RSS by size.
FLOOR_TARGETS = {"first": 2.5, "unchanged": 1.5, "changed-1%": 1.7}
RSS_TARGETS_MB = {10_000: 300, 50_000: 1024}
REAL_MODES = {
    "floor": "floor: pods' paged fetch + orjson (bench.floor)",
    "start-up": "start-up: manage.py collect --help, no work",
    "first": "first: collect --sync after registering",
    "unchanged": "unchanged: collect --sync again",
    "changed-1%": "changed-1%: collect --sync, 1 % of pods changed",
}


def _n(value: float | None, digits: int = 2) -> str:
    return "" if value is None else f"{value:,.{digits}f}"


def _ok(passed: bool | None) -> str:
    return "" if passed is None else ("yes" if passed else "NO")


def rows(results: dict[str, Any]) -> list[Row]:
    out: list[Row] = []
    if "collection" in results:
        out += _real_path(results["collection"])
        out += _collection(results["collection"]["breakdown"])
    if "pages" in results:
        out += _pages(results["pages"])
    if "storage" in results:
        out += _storage(results["storage"])
    if "scaleout" in results:
        out += _scaleout(results["scaleout"])
    if "reports" in results:
        out += _reports(results["reports"])
    return out


def _real_path(data: dict[str, Any]) -> list[Row]:
    section = "collection (real path)"
    real = data["real_path"]
    database = {"postgresql": "PostgreSQL", "sqlite": "SQLite"}.get(data["database"], "?")
    out: list[Row] = []
    for size in real["sizes"]:
        pods, med = size["pods"], size["median"]
        changed = size["changed"]
        note = "" if database == "PostgreSQL" else "; targets are set for PostgreSQL"
        out.append(
            (
                section,
                f"{pods:,} pods ({size['shape']} shape), TLS, {database}",
                "",
                "",
                "",
                f"whole processes, medians of {len(size['runs']['floor'])}; changed-1% = "
                f"{changed['pods']:,} pods in {changed['deployments']:,} Deployments{note}",
                "",
                "",
            )
        )
        rss_target = RSS_TARGETS_MB.get(pods)
        for mode, label in REAL_MODES.items():
            m = med[mode]
            if mode == "floor":
                out.append(
                    (
                        section,
                        f"{pods:,} pods: {label}",
                        _n(m["wall_s"]),
                        _n(m["cpu_s"]),
                        _n(m["peak_rss_mb"], 0),
                        "1.00x floor",
                        "",
                        "",
                    )
                )
                continue
            r = size["ratio_to_floor"][mode]
            if mode == "start-up":
                out.append(
                    (
                        section,
                        f"{pods:,} pods: {label}",
                        _n(m["wall_s"]),
                        _n(m["cpu_s"]),
                        _n(m["peak_rss_mb"], 0),
                        f"{_n(r)}x floor: paid by every collect --sync before any work",
                        "",
                        "",
                    )
                )
                continue
            limit = FLOOR_TARGETS[mode]
            target = f"<= {limit}x floor" + (f", <= {rss_target:,} MB" if rss_target else "")
            misses = [
                what
                for what, met in (
                    ("time", r is not None and r <= limit),
                    ("RSS", rss_target is None or m["peak_rss_mb"] <= rss_target),
                )
                if not met
            ]
            out.append(
                (
                    section,
                    f"{pods:,} pods: {label}",
                    _n(m["wall_s"]),
                    _n(m["cpu_s"]),
                    _n(m["peak_rss_mb"], 0),
                    f"{_n(r)}x floor; {m['open_findings']:,} open findings",
                    target,
                    "yes" if not misses else f"NO ({', '.join(misses)})",
                )
            )
        for mode, profile in size.get("profiles", {}).items():
            out.append(
                (
                    section,
                    f"{pods:,} pods: {mode} under cProfile (not in the medians)",
                    _n(profile["wall_s"]),
                    "",
                    _n(profile["peak_rss_mb"], 0),
                    profile["text"],
                    "",
                    "",
                )
            )
    sizes = real["sizes"]
    for mode, linear in real.get("linearity", {}).items():
        out.append(
            (
                section,
                f"time per pod {sizes[-1]['pods']:,} / {sizes[-2]['pods']:,}: {mode}",
                "",
                "",
                "",
                f"{_n(linear)}x",
                f"<= {LINEAR_TOLERANCE}x (linear)",
                _ok(linear <= LINEAR_TOLERANCE) if linear is not None else "",
            )
        )
    return out


def _collection(data: dict[str, Any]) -> list[Row]:
    """The breakdown: in-memory parts of a collection, nothing stored (issue 5's figures)."""
    out: list[Row] = []
    section = "collection (breakdown)"
    labels = {
        "collect": "collect + evaluate in memory, nothing stored",
        "raw": "raw: pods, urllib3 + orjson",
        "raw-all": "raw: every kind collect lists",
        "model": "model: CoreV1Api list_pod_for_all_namespaces",
    }
    for size in data["sizes"]:
        pods, med, ratios = size["pods"], size["median"], size["ratios"]
        case = f"{pods:,} pods"
        is_10k = pods == 10_000
        for mode, label in labels.items():
            if mode not in med:
                out.append((section, f"{case}: {label}", "", "", "", "skipped (slow)", "", ""))
                continue
            m = med[mode]
            value, target, ok = "", "", ""
            if mode == "collect":
                value = f"fetch {_n(m['collect_s'])} s + checks {_n(m['evaluate_s'])} s"
                if is_10k:
                    target, ok = "RSS <= 300 MB", _ok(m["peak_rss_mb"] <= 300)
            out.append(
                (
                    section,
                    f"{case}: {label}",
                    _n(m["wall_s"]),
                    _n(m["cpu_s"]),
                    _n(m["peak_rss_mb"], 0),
                    value,
                    target,
                    ok,
                )
            )
        r = ratios["collect_vs_raw"]
        out.append(
            (
                section,
                f"{case}: collect+evaluate / raw pods",
                "",
                "",
                "",
                f"{_n(r)}x wall, {_n(ratios['collect_vs_raw_cpu'])}x CPU",
                "<= 1.3x" if is_10k else "",
                _ok(r <= 1.3) if is_10k and r else "",
            )
        )
        out.append(
            (
                section,
                f"{case}: collect+evaluate / raw every kind",
                "",
                "",
                "",
                f"{_n(ratios['collect_vs_raw_all'])}x wall",
                "",
                "",
            )
        )
        m = ratios["model_vs_collect"]
        out.append(
            (
                section,
                f"{case}: model / collect+evaluate",
                "",
                "",
                "",
                f"{_n(m)}x" if m else "model skipped",
                ">= 8x" if is_10k else "",
                _ok(m >= 8) if is_10k and m else "",
            )
        )
    linear = data.get("linearity")
    if linear is not None:
        sizes = data["sizes"]
        out.append(
            (
                section,
                f"time per pod {sizes[-1]['pods']:,} / {sizes[-2]['pods']:,}",
                "",
                "",
                "",
                f"{_n(linear)}x",
                f"<= {LINEAR_TOLERANCE}x (linear)",
                _ok(linear <= LINEAR_TOLERANCE),
            )
        )
    return out


def _pages(data: dict[str, Any]) -> list[Row]:
    clusters, days = data["clusters"], data["days"]
    out: list[Row] = [
        _generation(
            "pages", f"generate {clusters:,} clusters x {days} days, 6-hourly", data["generated"]
        )
    ]
    fleet = f"{clusters:,} clusters x {days} days"
    for page in data["paths"]:
        found, small = data["queries"][page], data["queries_small_fleet"][page]
        if found["status"] != 200 or page not in data["median"]:
            out.append(
                (
                    "pages",
                    f"{page} page, {fleet}",
                    "",
                    "",
                    "",
                    f"missing (HTTP {found['status']})",
                    "p95 <= 100 ms",
                    "NO",
                )
            )
            continue
        med = data["median"][page]
        floor = next((m for p, m in data["median"].items() if p.startswith("floor")), None)
        # The machine is shared: a page's throughput against the floor's in the same run is
        # what compares between runs; the floor row names the server it was measured on.
        relative = (
            f", gunicorn {data.get('gunicorn', '--workers 2 (before BENCH_GUNICORN_ARGS)')}"
            if page.startswith("floor")
            else f", {med['rps'] / floor['rps']:.2f} of the floor's req/s"
            if floor and floor["rps"]
            else ""
        )
        out.append(
            (
                "pages",
                f"{page} page, {fleet}",
                "",
                "",
                "",
                f"p50 {_n(med['p50_ms'], 1)} ms, p95 {_n(med['p95_ms'], 1)} ms, "
                f"p99 {_n(med.get('p99_ms'), 1)} ms, "
                f"{_n(med['rps'], 0)} req/s, {med['failures']} failed{relative}",
                "" if page.startswith("floor") else "p95 <= 100 ms",
                ""
                if page.startswith("floor")
                else _ok(med["p95_ms"] <= 100 and not med["failures"]),
            )
        )
        cached = data.get("cache", {}).get(page)
        if cached:
            out.append(
                (
                    "pages",
                    f"{page} page: one request, in process",
                    "",
                    "",
                    "",
                    f"cache miss (first read after a write) {_n(cached['miss_ms'], 1)} ms, "
                    f"hit {_n(cached['hit_ms'], 1)} ms",
                    "",
                    "",
                )
            )
        queries, few = found["queries"], small["queries"]
        out.append(
            (
                "pages",
                f"{page} page: queries",
                "",
                "",
                "",
                f"{queries} at {clusters:,}, {few if few is not None else 'n/a'} "
                f"at {data['small_fleet']}; one request {_n(found.get('request_ms'), 0)} ms, "
                f"SQL {_n(found.get('sql_ms'), 0)} ms, {found.get('bytes', 0) / 1000:,.0f} kB",
                "constant",
                _ok(few is not None and queries <= few),
            )
        )
    return out


def _storage(data: dict[str, Any]) -> list[Row]:
    fleet = f"{data['clusters']:,} clusters x {data['days']} days"
    retention = data["retention"]
    rows: list[Row] = []
    if data["generated_here"]:  # else the pages section generated it and shows the row
        rows.append(_generation("storage", f"generate {fleet}", data["generated"]))
    rows += _storage_figure(data, "kept", f"everything kept, {fleet}")
    oldest = data["oldest_prune"]
    rows.append(
        (
            "storage",
            "history_prune: the oldest collection of each cluster",
            _n(oldest["seconds"], 1),
            "",
            "",
            f"{oldest['runs']:,} runs, {oldest['result_sets']:,} result sets, "
            f"{oldest['results']:,} results deleted (a daily prune deletes 4x the runs)",
            "",
            "",
        )
    )
    detail = retention["detail_days"]
    rows.append(
        (
            "storage",
            f"retention check: {retention['check_clusters']} clusters, real history_prune "
            f"({detail} days)",
            _n(retention["check_prune_seconds"], 1),
            "",
            "",
            "generator leaves the same rows (every column of every table)",
            "",
            "",
        )
    )
    rows.append(
        _generation(
            "storage", f"generate {fleet} as pruned to {detail} days", retention["generated"]
        )
    )
    rows += _storage_figure(
        data, "pruned", f"{detail}-day detail + daily rollups (what history_prune leaves)"
    )
    return rows


def _generation(section: str, case: str, built: dict[str, Any]) -> Row:
    return (
        section,
        case,
        _n(built["seconds"], 1),
        _n(built.get("cpu_seconds"), 1),
        "",
        f"{sum(built['rows'].values()):,} rows, {built['rows_per_second'] or 0:,} rows/s; "
        f"fleet days {_n(built['fleet_days']['seconds'], 1)} s"
        + (
            f"; kept from an earlier run, {built.get('database_size')}" if built.get("kept") else ""
        ),
        "",
        "",
    )


def _storage_figure(data: dict[str, Any], key: str, case: str) -> list[Row]:
    measured = data[key]
    if "bytes" not in measured:
        size = measured.get("sqlite_file_bytes")
        note = f"n/a (SQLite; file {size / 1e6:,.1f} MB)" if size else "n/a (SQLite)"
        return [("storage", case, "", "", "", note, "", "")]
    target = data["target_bytes_per_cluster_year"]
    per_year = measured["bytes_per_cluster_year"]
    rows: list[Row] = [
        (
            "storage",
            case,
            "",
            "",
            "",
            f"{per_year / 1e6:,.2f} MB per cluster-year = {per_year / 1e6:,.2f} GB per 1,000 "
            f"({per_year / target:,.2f}x target; {measured['bytes'] / 1e9:,.2f} GB "
            f"for {data['cluster_years']:,.0f})",
            "<= 2 GB per 1,000 cluster-years",
            _ok(per_year <= target),
        )
    ]
    top = ", ".join(f"{t['table']} {t['bytes'] / 1e6:,.0f} MB" for t in measured["tables"][:5])
    rows.append(("storage", f"{key}: largest tables", "", "", "", top, "", ""))
    for table, columns in measured.get("columns", {}).items():
        largest = ", ".join(
            f"{name} {size / 1e6:,.0f} MB" for name, size in list(columns.items())[:5]
        )
        rows.append(("storage", f"{key}: {table} columns", "", "", "", largest, "", ""))
    per = measured.get("per_collection_bytes", {})
    if per and key == "kept":
        rows.append(
            (
                "storage",
                "kept: one more unchanged collection",
                "",
                "",
                "",
                " + ".join(f"{name} {size:,} B" for name, size in per.items())
                + " (average row with its indexes)",
                "",
                "",
            )
        )
    return rows


def _scaleout(data: dict[str, Any]) -> list[Row]:
    case = f"{data['clusters']} bundles x {data['bundle_pods']:,} pods"
    one, two, r = data["median_per_minute_1w"], data["median_per_minute_2w"], data["ratio_2w_1w"]
    failed = f", {data['failed_runs']} failed runs" if data["failed_runs"] else ""
    return [
        (
            "scale-out",
            f"1 worker, {case}",
            "",
            "",
            "",
            f"{_n(one, 1)} collections/min{failed}",
            "",
            "",
        ),
        ("scale-out", f"2 workers, {case}", "", "", "", f"{_n(two, 1)} collections/min", "", ""),
        (
            "scale-out",
            "2 workers / 1 worker",
            "",
            "",
            "",
            f"{_n(r)}x",
            ">= 1.7x",
            _ok(r >= 1.7) if r else "",
        ),
    ]


def table(results: dict[str, Any]) -> str:
    body = [HEADER, *rows(results)]
    widths = [max(len(row[i]) for row in body) for i in range(len(HEADER))]
    numeric = {2, 3, 4}

    def line(row: tuple[str, ...]) -> str:
        cells = [
            cell.rjust(widths[i]) if i in numeric else cell.ljust(widths[i])
            for i, cell in enumerate(row)
        ]
        return "| " + " | ".join(cells) + " |"

    rule = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([line(HEADER), rule, *(line(row) for row in body[1:])])


REPORT_CASES = {
    "cluster-pdf": "1 cluster, {days} days, PDF",
    "cluster-csv": "1 cluster, {days} days, CSV",
    "cluster-json": "1 cluster, {days} days, JSON",
    "fleet-pdf": "fleet of {clusters} clusters, {days} days, PDF",
}
# Issue 10: a 1-year report of a 100-check cluster <= 5 s and 400 MB; a 100-cluster fleet <= 60 s.
REPORT_TARGETS: dict[str, tuple[float, float | None]] = {
    "cluster-pdf": (5.0, 400.0),
    "fleet-pdf": (60.0, None),
}


def _reports(data: dict[str, Any]) -> list[Row]:
    out: list[Row] = []
    floor = (data.get("floor") or {}).get("median") or {}
    if floor:
        out.append(
            (
                "reports (compliance_report)",
                "floor: Django + WeasyPrint, a one-line PDF (bench.report_floor)",
                _n(floor["wall_s"]),
                _n(floor["cpu_s"]),
                _n(floor["peak_rss_mb"], 0),
                "",
                "",
                "",
            )
        )
    for case, label in REPORT_CASES.items():
        found = data["cases"].get(case)
        if not found:
            continue
        med = found["median"]
        wall, rss = med["wall_s"], med["peak_rss_mb"]
        target = REPORT_TARGETS.get(case)
        passed = None
        target_text = ""
        if target:
            seconds, megabytes = target
            target_text = f"<= {seconds:g} s" + (f", <= {megabytes:g} MB" if megabytes else "")
            passed = wall is not None and wall <= seconds
            if megabytes:
                passed = passed and rss is not None and rss <= megabytes
        pages = f"{found['pages']} pages, " if found["pages"] else ""
        verified = "verified" if found["verified"] else "VERIFY FAILED"
        over = ""
        if case.endswith("-pdf") and floor.get("wall_s") is not None and wall is not None:
            over = f", floor + {wall - floor['wall_s']:.2f} s"
        load = found.get("load_average")
        if load:
            over += f", load {load[0]:.1f}"
        out.append(
            (
                "reports (compliance_report)",
                label.format(days=data["days"], clusters=data["clusters"])
                + f", {data['checks']} checks",
                _n(wall),
                _n(med["cpu_s"]),
                _n(rss, 0),
                f"{pages}{found['bytes']:,} bytes, {verified}{over}",
                target_text,
                _ok(passed if found["verified"] else False),
            )
        )
    return out


def verdicts(results: dict[str, Any]) -> dict[str, bool]:
    """Each judged target: True when met."""
    judged: dict[str, bool] = {}
    for row in rows(results):
        if row[7]:
            judged[f"{row[0]}: {row[1]} ({row[6]})"] = row[7] == "yes"
    return judged
