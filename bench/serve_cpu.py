"""CPU of `logproc serve` and of its PostgreSQL server while one input is
counted: the sums of utime+stime (children included) from /proc/PID/stat,
taken when the file is linked into the watch directory and when /stats shows
its last line. Uses bench.py's throwaway server and inputs (run bench/run.sh
once first):

    python3 bench/serve_cpu.py [sled|sqlite|postgres ...]
"""

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
BACKENDS = sys.argv[1:] or ["sled", "postgres"]
sys.argv = [sys.argv[0], os.path.join(ROOT, "target", "bench"), os.path.join(ROOT, "target", "release", "logproc")]
sys.path.insert(0, HERE)
import bench  # noqa: E402


def cpu_seconds(pids):
    """CPU of the processes `pids` and of their direct children."""
    ticks = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(entry) in pids or int(fields[1]) in pids:
            ticks += sum(int(field) for field in fields[11:15])
    return ticks / os.sysconf("SC_CLK_TCK")


def run(postgres, path, backend):
    lines = bench.count_lines(path)
    root = tempfile.mkdtemp(dir=bench.WORK)
    watch = os.path.join(root, "logs")
    os.mkdir(watch)
    env = dict(os.environ, RUST_LOG="info", LOGPROC_PLUGINS__DIR=os.path.join(root, "plugins"),
               LOGPROC_STORAGE__BACKEND=backend)
    if backend == "postgres":
        env["LOGPROC_STORAGE__URL"] = postgres.fresh_database()
    child = subprocess.Popen([bench.LOGPROC, "serve", "--listen", "127.0.0.1:0", "--data-dir",
                              os.path.join(root, "data"), "--watch-dir", watch],
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env, text=True)
    try:
        address = next(re.search(r"addr=(\S+)", line).group(1) for line in child.stderr if "Listening." in line)
        time.sleep(0.5)  # start-up work (schema, connections) is not counted
        servers = {postgres.server.pid}
        before = cpu_seconds(servers), cpu_seconds({child.pid})
        os.link(path, os.path.join(watch, os.path.basename(path)))
        started = time.perf_counter()
        while True:
            with urllib.request.urlopen(f"http://{address}/stats") as answer:
                if json.load(answer)["lines"] >= lines:
                    break
            time.sleep(bench.POLL_SECONDS)
        seconds = time.perf_counter() - started
        server, service = cpu_seconds(servers) - before[0], cpu_seconds({child.pid}) - before[1]
        print(f"{os.path.basename(path)} {backend}: {seconds:.3f} s; logproc CPU {service:.2f} s, "
              f"postgres CPU {server:.2f} s")
    finally:
        child.send_signal(signal.SIGTERM)
        child.wait()
        shutil.rmtree(root, ignore_errors=True)


def main():
    postgres = bench.Postgres()
    try:
        for path in (bench.TEXT_INPUT, bench.JSON_INPUT):
            for backend in BACKENDS:
                run(postgres, path, backend)
    finally:
        postgres.stop()


if __name__ == "__main__":
    main()
