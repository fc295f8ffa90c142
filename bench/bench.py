"""Times logproc against the tools a user could pick instead, on the same
inputs, and checks that every tool counts exactly what logproc counts (and
logproc what the generator wrote). Run by bench/run.sh, which builds
logproc, makes the inputs and the DuckDB virtualenv; see BENCHMARKS.md.

Every timing is a whole process, wall clock, as a user would run it; peak
RSS is the process's own (wait4). The median of RUNS runs is reported,
after one untimed warm-up run per tool (page cache, compiled plugins).
"""

import glob
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

WORK = sys.argv[1]  # holds the inputs, the venv and the results
LOGPROC = sys.argv[2]
RUNS = int(os.environ.get("BENCH_RUNS", "3"))
PYTHON = os.path.join(WORK, "venv", "bin", "python")
JSON_INPUT = os.path.join(WORK, "bench.jsonl")
# How often `serve` is asked whether it has counted everything: often
# enough to time it closely, seldom enough not to slow it (each poll costs
# the benchmark and the service CPU that the 2 cores here do not have spare).
POLL_SECONDS = float(os.environ.get("BENCH_POLL_SECONDS", "0.02"))
TEXT_INPUT = os.path.join(WORK, "bench.log")
# Formats detected per file (no --parser: the routes' `auto`).
DETECTED_INPUTS = [os.path.join(WORK, "bench-syslog.log"), os.path.join(WORK, "bench-log4j.log")]

DUCKDB_JSON = """
import duckdb, json, sys
rows = duckdb.connect().execute('''
    SELECT service, level, count(*) FROM read_json(?, format='newline_delimited',
        columns={service: 'VARCHAR', level: 'VARCHAR'}) GROUP BY ALL''', [sys.argv[1]]).fetchall()
print(json.dumps(rows))
"""

# Each line is one VARCHAR column (no delimiter or quote can occur); the
# level is the second word, the service what the brackets hold before `/`.
DUCKDB_TEXT = """
import duckdb, json, sys
rows = duckdb.connect().execute('''
    SELECT split_part(split_part(line, '[', 2), '/', 1) AS service, split_part(line, ' ', 2) AS level, count(*)
    FROM read_csv(?, columns={'line': 'VARCHAR'}, header=false, delim='\\x01', quote='', escape='',
        auto_detect=false)
    GROUP BY ALL''', [sys.argv[1]]).fetchall()
print(json.dumps(rows))
"""

# `[service/component]` is the third field; the level the second.
AWK_TEXT = r"""{ s = substr($3, 2); sub(/[\/\]].*/, "", s); n[s "\t" $2]++ }
END { for (k in n) print k "\t" n[k] }"""

JQ_JSON = 'reduce inputs as $l ({}; .[$l.service + "\\t" + $l.level] += 1)'


def timed(command, env=None):
    """(seconds, peak RSS bytes, stdout) of one run, with rusage from wait4."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        child = subprocess.Popen(command, stdout=out, stderr=err, env=env)
        _, status, usage = os.wait4(child.pid, 0)
        seconds = time.perf_counter() - started
        child.returncode = os.waitstatus_to_exitcode(status)
        if child.returncode != 0:
            err.seek(0)
            sys.exit(f"{' '.join(command)} failed ({child.returncode}): {err.read().decode(errors='replace')}")
        out.seek(0)
        return seconds, usage.ru_maxrss * 1024, out.read().decode()


def logproc_counts(stats):
    return {
        (service, level): count
        for service, doc in stats["services"].items()
        for level, count in doc["levels"].items()
        if count
    }


def rows_counts(rows):
    return {(service, level): count for service, level, count in rows}


def tab_counts(text):
    counts = {}
    for line in text.splitlines():
        service, level, count = line.split("\t")
        counts[(service, level)] = int(count)
    return counts


def jq_counts(text):
    return {tuple(key.split("\t")): count for key, count in json.loads(text).items()}


def measure(name, input_path, command, counts_of, expected, env=None):
    """Warm-up, then RUNS timed runs; exits if any run counts wrong."""
    timed(command, env)
    results = []
    for _ in range(RUNS):
        seconds, rss, out = timed(command, env)
        counts = counts_of(out)
        if counts != expected:
            diff = {k: (counts.get(k), expected.get(k)) for k in set(counts) | set(expected) if counts.get(k) != expected.get(k)}
            sys.exit(f"{name} on {input_path} counted differently from logproc (theirs, logproc's): {diff}")
        results.append((seconds, rss))
    return summary(name, input_path, results)


def summary(name, input_path, results):
    lines = count_lines(input_path)
    size = os.path.getsize(input_path)
    seconds = statistics.median(s for s, _ in results)
    return {
        "tool": name,
        "input": os.path.basename(input_path),
        "runs": [round(s, 3) for s, _ in results],
        "seconds": seconds,
        "lines_per_s": lines / seconds,
        "mb_per_s": size / 1e6 / seconds,
        "peak_rss_mb": max(r for _, r in results) / 1e6,
    }


_line_counts = {}


def count_lines(path):
    if path not in _line_counts:
        with open(path, "rb") as f:
            _line_counts[path] = sum(chunk.count(b"\n") for chunk in iter(lambda: f.read(1 << 20), b""))
    return _line_counts[path]


class Postgres:
    """A throwaway PostgreSQL server in WORK (durable: fsync on, as a user
    would run it), as the `postgres` user when run as root. None of its
    data outlives the benchmark."""

    def __init__(self):
        versions = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
        self.bin = os.path.dirname(versions[-1]) if versions else os.path.dirname(shutil.which("initdb") or "")
        if not self.bin:
            sys.exit("bench: PostgreSQL's server binaries are needed (apt-get install postgresql)")
        self.user = "postgres" if os.geteuid() == 0 else None
        self.root = tempfile.mkdtemp(dir="/tmp", prefix="logproc-bench-pg-")
        if self.user:
            shutil.chown(self.root, self.user, self.user)
        data = os.path.join(self.root, "data")
        subprocess.run([os.path.join(self.bin, "initdb"), "-D", data, "-U", "logproc", "--auth=trust",
                        "--no-sync"], check=True, stdout=subprocess.DEVNULL, user=self.user, cwd="/tmp")
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.server = subprocess.Popen(
            [os.path.join(self.bin, "postgres"), "-D", data, "-p", str(self.port), "-k", self.root,
             "-c", "listen_addresses=127.0.0.1"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, user=self.user, cwd="/tmp")
        while subprocess.run([os.path.join(self.bin, "pg_isready"), "-q", "-h", "127.0.0.1", "-p",
                              str(self.port)]).returncode != 0:
            time.sleep(0.1)
        self.databases = 0

    def fresh_database(self):
        """The URL of a new, empty database."""
        self.databases += 1
        name = f"bench{self.databases}"
        subprocess.run([os.path.join(self.bin, "psql"), "-X", "-q", "-h", "127.0.0.1", "-p", str(self.port),
                        "-U", "logproc", "-d", "postgres", "-c", f"CREATE DATABASE {name}"], check=True)
        return f"postgres://logproc@127.0.0.1:{self.port}/{name}"

    def stop(self):
        self.server.send_signal(signal.SIGINT)
        self.server.wait()
        shutil.rmtree(self.root, ignore_errors=True)


POSTGRES = None


def serve_once(input_path, expected_lines, backend="sled"):
    """Starts `logproc serve` on an empty store of `backend`, drops
    `input_path` into its watch directory (a hard link: the whole file
    appears at once), and times until GET /stats counts every line. Returns
    (seconds, peak RSS bytes)."""
    root = tempfile.mkdtemp(dir=WORK)
    watch = os.path.join(root, "logs")
    os.mkdir(watch)
    command = [LOGPROC, "serve", "--listen", "127.0.0.1:0", "--data-dir", os.path.join(root, "data"),
               "--watch-dir", watch]
    env = dict(os.environ, RUST_LOG="info", LOGPROC_PLUGINS__DIR=os.path.join(root, "plugins"),
               LOGPROC_STORAGE__BACKEND=backend)
    if backend == "postgres":
        env["LOGPROC_STORAGE__URL"] = POSTGRES.fresh_database()
    child = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env, text=True)
    try:
        address = None
        for line in child.stderr:
            found = re.search(r"addr=(\S+)", line)
            if "Listening." in line and found:
                address = found.group(1)
                break
        if address is None:
            sys.exit("logproc serve did not start")
        os.link(input_path, os.path.join(watch, os.path.basename(input_path)))
        started = time.perf_counter()
        deadline = started + 300
        while True:
            with urllib.request.urlopen(f"http://{address}/stats") as answer:
                stats = json.load(answer)
            if stats["lines"] >= expected_lines:
                seconds = time.perf_counter() - started
                break
            if time.perf_counter() > deadline:
                sys.exit(f"serve counted {stats['lines']} of {expected_lines} lines in 300 s")
            time.sleep(POLL_SECONDS)
        with open(f"/proc/{child.pid}/status") as status:
            peak = int(re.search(r"VmHWM:\s+(\d+) kB", status.read()).group(1)) * 1024
        if stats["lines"] != expected_lines:
            sys.exit(f"serve counted {stats['lines']} lines, the file has {expected_lines}")
        return seconds, peak, stats
    finally:
        child.send_signal(signal.SIGTERM)
        child.wait()
        shutil.rmtree(root, ignore_errors=True)


def measure_serve(input_path, expected, backend="sled"):
    lines = count_lines(input_path)
    serve_once(input_path, lines, backend)
    results = []
    for _ in range(RUNS):
        seconds, peak, stats = serve_once(input_path, lines, backend)
        if logproc_counts(stats) != expected:
            sys.exit(f"serve on {backend} counted {input_path} differently from process")
        results.append((seconds, peak))
    return summary(f"logproc serve ({backend}, durable)", input_path, results)


def check_truth(input_path, expected):
    """logproc's counts against what the generator wrote."""
    with open(input_path + ".truth.json") as f:
        truth = json.load(f)
    if logproc_counts(truth) != expected:
        sys.exit(f"logproc's counts of {input_path} differ from the generator's truth")


def main():
    table = []
    awk = shutil.which("mawk") or shutil.which("awk")
    logproc = [LOGPROC, "process", "--format", "json"]
    for input_path, parser in [(JSON_INPUT, "json"), (TEXT_INPUT, "regex")]:
        _, _, out = timed(logproc + ["--parser", parser, input_path])
        expected = logproc_counts(json.loads(out))
        check_truth(input_path, expected)
        # The first start after a build compiles the plugins (then cached).
        with tempfile.TemporaryDirectory(dir=WORK) as cold_cache:
            env = dict(os.environ, LOGPROC_PLUGINS__CACHE_DIR=cold_cache)
            cold, _, _ = timed(logproc + ["--parser", parser, input_path], env)
        rows = [measure("logproc process", input_path, logproc + ["--parser", parser, input_path],
                        lambda out: logproc_counts(json.loads(out)), expected)]
        rows[0]["cold_start_seconds"] = cold
        rows.append(measure_serve(input_path, expected))
        serve_rows = [measure_serve(input_path, expected, backend) for backend in ("sqlite", "postgres")]
        if parser == "json":
            rows.append(measure("duckdb", input_path, [PYTHON, "-c", DUCKDB_JSON, input_path],
                                lambda out: rows_counts(json.loads(out)), expected))
            rows.append(measure("jq", input_path, ["jq", "-n", JQ_JSON, input_path], jq_counts, expected))
        else:
            rows.append(measure(os.path.basename(awk), input_path, [awk, AWK_TEXT, input_path], tab_counts, expected))
            rows.append(measure("duckdb", input_path, [PYTHON, "-c", DUCKDB_TEXT, input_path],
                                lambda out: rows_counts(json.loads(out)), expected))
        ours = rows[0]["lines_per_s"]
        for row in rows[2:]:
            row["logproc_ratio"] = ours / row["lines_per_s"]
        for row in [rows[1]] + serve_rows:
            row["of_process"] = row["lines_per_s"] / ours
        rows[2:2] = serve_rows
        table.extend(rows)
        print_rows(rows)
    for input_path in DETECTED_INPUTS:
        _, _, out = timed(logproc + [input_path])
        expected = logproc_counts(json.loads(out))
        check_truth(input_path, expected)
        rows = [measure("logproc process (format detected)", input_path, logproc + [input_path],
                        lambda out: logproc_counts(json.loads(out)), expected),
                measure_serve(input_path, expected)]
        rows[1]["of_process"] = rows[1]["lines_per_s"] / rows[0]["lines_per_s"]
        table.extend(rows)
        print_rows(rows)
    with open(os.path.join(WORK, "results.json"), "w") as f:
        json.dump(table, f, indent=2)
    print()
    for input_path in (JSON_INPUT, TEXT_INPUT):
        rows = [row for row in table if row["input"] == os.path.basename(input_path)]
        peers = ", ".join(f"{row['logproc_ratio']:.2f}x {row['tool']}" for row in rows if "logproc_ratio" in row)
        serves = ", ".join(f"{row['tool'].split('(')[1].split(',')[0]} {row['of_process']:.2f}x"
                           for row in rows if "of_process" in row)
        print(f"{rows[0]['input']}: logproc process = {peers}; serve = {serves} process; "
              f"logproc cold start (plugins compiled) {rows[0]['cold_start_seconds']:.2f} s")


def print_rows(rows):
    for row in rows:
        ratio = f"{row['logproc_ratio']:.2f}x" if "logproc_ratio" in row else "-"
        if "of_process" in row:
            ratio = f"({row['of_process']:.2f}x of process)"
        print(f"| {row['input']} | {row['tool']} | {row['seconds']:.3f} | {row['lines_per_s'] / 1e6:.2f} M | "
              f"{row['mb_per_s']:.0f} | {row['peak_rss_mb']:.0f} | {ratio} | {row['runs']} |", flush=True)


if __name__ == "__main__":
    POSTGRES = Postgres()
    try:
        main()
    finally:
        POSTGRES.stop()
