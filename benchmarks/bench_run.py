"""Benchmark `cdpc run` on data shaped like real exports, beside the engine's own floors.

For each size (10k, 100k and 300k members by default; `--members`), on the export-shaped
data of benchmarks/synth.py (about 31 records and 44 identifier links per member: shared
family emails and phones, front-desk and trainer tablets, re-install chains, phones in
nineteen formats, staff placeholders, 2% of rows breaking their contract, 0.1% of lines
malformed), three fresh processes one after the other:

1. the DuckDB CSV-load floor: DuckDB, in memory, loads the same five CSV files as text
   (`CREATE TABLE ... AS SELECT * FROM read_csv(..., all text, ignore_errors = true)`);
2. `cdpc run` of the reference project, on a temporary database file by default (the
   results kept, as users run it; `--in-memory` for none), no environment variable set:
   seconds per stage and the process's peak RSS at the end of the run; then the identifier
   links its identity stage works on (benchmarks/bench_identity.py says how they are read);
3. Splink's connected components on those links (the `bench` extra: pip install -e '.[bench]';
   skipped with a note when Splink is not installed, or with `--no-splink`).

It prints the ratios the project's targets are stated in, measured in the same run:

    staging / floor      the staging stage against loading the files        (target <= 3)
    run / floor          the whole run, load to publish, against the floor  (target <= 20 at 100k)
    identity / Splink    the identity stage against Splink's components     (target <= 3)
    growth               k in time ~ records^k from the previous size       (n log n is ~1.1)

and the budget at 300k members: the whole run <= 60 s and <= 6 GiB peak, on 2 cores.

    python benchmarks/bench_run.py                           # 10k, 100k, 300k on DuckDB
    python benchmarks/bench_run.py --members 10000,100000 --in-memory
    python benchmarks/bench_run.py --members 10000 --engine postgres --dsn ...

On a machine others share, `--repeat N` measures each size N times and keeps the fastest
floor, the fastest run (with the highest peak RSS of all) and the fastest Splink; the load
average is printed at the start and the end.

Generated data is kept under the temporary directory (`--cache`), keyed by the generator's
source; `--shape gentle` runs the milder shape of the sample data instead.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import bench_identity  # noqa: E402
import synth  # noqa: E402

RELATIONS = list(synth.COLUMNS)


# ---- the three children: each prints one JSON line -------------------------------------

def child_floor(args: dict) -> dict:
    """DuckDB in memory loads the five CSV files as text; malformed lines are skipped."""
    import duckdb

    connection = duckdb.connect()
    started, cpu = time.perf_counter(), bench_identity.cpu_seconds()
    rows = 0
    for relation in RELATIONS:
        path = Path(args["data"]) / f"{relation}.csv"
        columns = ", ".join(f"'{c}': 'VARCHAR'" for c in synth.COLUMNS[relation])
        name = relation.replace(".", "_")
        connection.execute(f"CREATE TABLE {name} AS SELECT * FROM read_csv('{path}', header = true, delim = ',', "
                           f"quote = '\"', escape = '\"', columns = {{{columns}}}, auto_detect = false, "
                           f"ignore_errors = true)")
        rows += connection.execute(f"SELECT count(*) FROM {name}").fetchall()[0][0]
    return {"seconds": time.perf_counter() - started, "cpu": bench_identity.cpu_seconds() - cpu, "rows": rows}


def child_run(args: dict) -> dict:
    import datetime as dt

    from compiler.project import require_valid
    from compiler.run.engines import open_engine
    from compiler.run.runner import run_project

    started = time.perf_counter()
    project = require_valid(Path(args["project"]))
    engine = open_engine(args["engine"], db=args.get("db"), dsn=args.get("dsn"), master=args.get("master"),
                         warehouse=args.get("warehouse"))
    compiled = time.perf_counter() - started
    cpu = bench_identity.StageCpu()
    result = run_project(project, engine, Path(args["data"]), dt.datetime(2026, 11, 20), progress=cpu)
    cpu("done")
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux: KiB
    links = None
    if args.get("links"):
        import pyarrow.parquet as pq

        extracted = bench_identity.extract_links(engine.connection, project)
        pq.write_table(extracted.pop("nodes"), Path(args["links"]) / "nodes.parquet")
        pq.write_table(extracted.pop("edges"), Path(args["links"]) / "edges.parquet")
        links = extracted
    engine.close()
    stats = result.stats
    return {"records": stats.records, "profiles": stats.profiles, "conflicts": stats.conflicts,
            "staged": sum(stats.staged.values()), "rejected": sum(stats.rejected.values()),
            "seconds": {"compile": compiled, **result.seconds}, "iterations": result.iterations, "rss": rss,
            "cpu": cpu.seconds, "links": links}


def child_splink(args: dict) -> dict:
    import pyarrow.parquet as pq

    folder = Path(args["links"])
    nodes, edges = pq.read_table(folder / "nodes.parquet"), pq.read_table(folder / "edges.parquet")
    return bench_identity.splink_components(nodes, edges)


CHILDREN = {"floor": child_floor, "run": child_run, "splink": child_splink}


def in_child(kind: str, args: dict) -> tuple[dict, float]:
    started = time.perf_counter()
    child = subprocess.run([sys.executable, __file__, "--child", kind, json.dumps(args)], stdout=subprocess.PIPE,
                           cwd=ROOT, text=True)
    if child.returncode != 0:
        how = f"killed by signal {-child.returncode}" if child.returncode < 0 else f"exit status {child.returncode}"
        raise SystemExit(f"the {kind} step failed ({how}) for {args}")
    return json.loads(child.stdout.strip().splitlines()[-1]), time.perf_counter() - started


def splink_installed() -> bool:
    try:
        import splink  # noqa: F401
    except ImportError:
        return False
    return True


# ---- the benchmark ---------------------------------------------------------------------

def measure(members: int, options) -> dict:
    data_dir = synth.dataset_dir(options.cache, members, options.shape)
    cached = (data_dir / ".complete").exists()
    began = time.perf_counter()
    data = synth.cached_dataset(options.cache, members, options.shape)
    generated = None if cached else time.perf_counter() - began
    splink = options.splink and options.engine == "duckdb"
    floors, runs, ccs = [], [], []
    with tempfile.TemporaryDirectory(prefix="cdpc-bench-links-") as links:
        for repeat in range(options.repeat):  # the fastest of each, on a machine others share
            floors.append(in_child("floor", {"data": str(data)})[0])
            with tempfile.TemporaryDirectory(prefix="cdpc-bench-run-") as scratch:
                db = None if options.in_memory or options.engine != "duckdb" else str(Path(scratch) / "run.duckdb")
                runs.append(in_child("run", {
                    "project": str(ROOT), "data": str(data), "engine": options.engine, "dsn": options.dsn,
                    "master": options.master, "warehouse": str(Path(scratch) / "warehouse"), "db": db,
                    "links": links if splink and repeat == 0 else None}))
            if splink:
                ccs.append(in_child("splink", {"links": links})[0])
    run, wall = min(runs, key=lambda r: r[0]["seconds"]["total"])
    run = {**run, "rss": max(r["rss"] for r, _ in runs), "links": runs[0][0]["links"]}  # the highest peak
    return {"members": members, "generated": generated, "floor": min(floors, key=lambda f: f["seconds"]),
            "run": run, "wall": wall, "splink": min(ccs, key=lambda c: c["seconds"]) if ccs else None}


def main() -> None:
    if len(sys.argv) == 4 and sys.argv[1] == "--child":
        print(json.dumps(CHILDREN[sys.argv[2]](json.loads(sys.argv[3]))))
        return
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--members", default="10000,100000,300000", help="comma-separated sizes")
    parser.add_argument("--in-memory", action="store_true",
                        help="DuckDB in memory instead of a temporary database file (results not kept)")
    parser.add_argument("--engine", default="duckdb", choices=["duckdb", "postgres", "spark"])
    parser.add_argument("--dsn")
    parser.add_argument("--master")
    parser.add_argument("--shape", choices=synth.SHAPES, default="export", help="the generator's shape (default export)")
    parser.add_argument("--no-splink", dest="splink", action="store_false", help="skip Splink's connected components")
    parser.add_argument("--repeat", type=int, default=1,
                        help="measure each size N times, keep the fastest of each (the floor, the run, Splink)")
    parser.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "cdpc-bench-data",
                        help="where generated raw data is kept between runs")
    options = parser.parse_args()
    if options.splink and options.engine == "duckdb" and not splink_installed():
        print("Splink is not installed (pip install -e '.[bench]'): identity / Splink is left out", file=sys.stderr)
        options.splink = False
    where = "in memory" if options.in_memory or options.engine != "duckdb" else "on a temporary database file"
    print(f"cdpc run benchmark: engine {options.engine} {where}, {options.shape} data, {os.cpu_count()} cores, "
          f"load average {os.getloadavg()[0]:.2f} at the start")
    header = ["members", "records", "links", "profiles", "load", "staging", "identity", "attributes",
              "profiles+consent", "segments+syncs", "publish", "run s", "peak RSS MiB", "floor s", "staging/floor",
              "run/floor", "Splink CC s", "identity/Splink", "growth"]
    rows, previous = [], None
    for members in (int(s) for s in options.members.split(",")):
        m = measure(members, options)
        run, s, floor = m["run"], m["run"]["seconds"], m["floor"]["seconds"]
        total, records = s["total"], run["records"]
        growth = ""
        if previous:
            # k in time ~ records^k between consecutive sizes (1.0 linear; n log n is ~1.1 here)
            growth = f"n^{math.log(total / previous[1]) / math.log(records / previous[0]):.2f}"
        previous = (records, total)
        cc = m["splink"]
        rows.append([f"{members:,}", f"{records:,}", f"{run['links']['links']:,}" if run["links"] else "",
                     f"{run['profiles']:,}", f"{s['load']:.1f}", f"{s.get('staging', 0):.1f}",
                     f"{s.get('identity', 0):.1f}", f"{s.get('attributes', 0):.1f}",
                     f"{s.get('profiles', 0) + s.get('consent', 0):.1f}",
                     f"{s.get('segments', 0) + s.get('syncs', 0):.1f}", f"{s.get('publish', 0):.1f}", f"{total:.1f}",
                     f"{run['rss'] / 2**20:,.0f}", f"{floor:.2f}", f"{s.get('staging', 0) / floor:.1f}x",
                     f"{total / floor:.1f}x", f"{cc['seconds']:.1f}" if cc else "",
                     f"{s.get('identity', 0) / cc['seconds']:.1f}x" if cc else "", growth])
        notes = [f"{run['staged']:,} rows staged, {run['rejected']:,} rejected, {m['floor']['rows']:,} loaded by the floor",
                 f"{run['conflicts']:,} conflicts", f"process {m['wall']:.1f} s (compile {s['compile']:.1f} s)",
                 "label-propagation rounds " + "/".join(str(v) for k, v in run["iterations"].items()
                                                        if k.startswith("components_"))]
        if m["generated"] is not None:
            notes.append(f"data generated in {m['generated']:.1f} s")
        if cc:
            notes.append(f"Splink: {cc['components']:,} components of {run['links']['edge_count']:,} edges")
        # CPU seconds (all threads) move less than wall time when others share the machine
        cpu, floor_cpu = run["cpu"], m["floor"]["cpu"]
        notes.append(f"CPU s: run {sum(cpu.values()):.1f}, floor {floor_cpu:.2f}, staging {cpu.get('staging', 0):.1f} "
                     f"({cpu.get('staging', 0) / floor_cpu:.1f}x the floor), whole run "
                     f"{sum(cpu.values()) / floor_cpu:.1f}x the floor, identity {cpu.get('identity', 0):.1f}"
                     + (f", Splink {cc['cpu']:.1f} ({cpu.get('identity', 0) / cc['cpu']:.1f}x)" if cc else ""))
        print(" | ".join(rows[-1]), flush=True)
        print("    " + "; ".join(notes), flush=True)
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(header)]
    print()
    print("  ".join(h.rjust(w) for h, w in zip(header, widths)))
    for row in rows:
        print("  ".join(c.rjust(w) for c, w in zip(row, widths)))
    print(f"\nload average {os.getloadavg()[0]:.2f} at the end. Targets: staging/floor <= 3, run/floor <= 20 at 100k, "
          "identity/Splink <= 3, growth <= n log n (~n^1.1); at 300k members the run <= 60 s and <= 6 GiB.")


if __name__ == "__main__":
    main()
