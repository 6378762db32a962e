#!/usr/bin/env python3
"""Runs the side-by-side benchmark: every workload on asyncio-cpp and on each peer that is
available, R times, then prints a table of medians with ratios, and writes results.json and
chart.svg. bench/run.sh installs the peers and builds the programs, then calls this.

Workloads (N = 1,000,000 unless --quick):
  spawn     create_task N trivial tasks, then gather them: tasks/s
  pingpong  two tasks, two queues, N round trips: round trips/s
  sleep     N tasks sleep(1 s) at once: wall seconds, bytes of resident memory per task
  echo      TCP echo, 100 connections x 1 KiB and 1 connection x 64 B, loaded by
            bench/peers/echo_load.c: round trips/s
  http      keep-alive HTTP "Hello, World!", loaded by wrk -t1 -c100: requests/s
Single-process workloads and servers run on core 0, load generators on core 1.

Ratios are "how many times better asyncio-cpp is": ours / peer where higher is better,
peer / ours where lower is better (sleep's wall time and bytes per task).
"""
import argparse
import atexit
import datetime
import json
import os
import platform
import re
import select
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PEERS_SRC = os.path.join(ROOT, "bench", "peers")
PYTHON = "/usr/bin/python3"  # Debian's Python, where python3-uvloop installs

OURS = "asyncio-cpp"
OURS_EPOLL = "asyncio-cpp (epoll)"
OURS_URING = "asyncio-cpp (io_uring)"

running = set()  # servers started and not yet stopped


def stop(process):
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    running.discard(process)


def stop_all(*_):
    for process in list(running):
        stop(process)


def on_signal(number, _frame):
    stop_all()
    sys.exit(128 + number)


atexit.register(stop_all)
signal.signal(signal.SIGTERM, on_signal)
signal.signal(signal.SIGINT, on_signal)


def pinned(core, command):
    """command run on one core, when the machine has two or more."""
    if (os.cpu_count() or 1) >= 2 and shutil.which("taskset"):
        return ["taskset", "-c", str(core)] + command
    return command


def say(line=""):
    print(line, flush=True)


class Peer:
    """One program of one peer for one workload."""

    def __init__(self, name, command, env=None, needs=None):
        self.name = name
        self.command = command
        self.env = env or {}
        self.needs = needs  # why it cannot run, or None


# ---- the programs --------------------------------------------------------------------


def availability(build):
    """Which peers can run, and why the others cannot."""
    missing = {}
    if not os.path.exists(os.path.join(build, "spawn")):
        missing[OURS] = f"not built ({build}/spawn missing: run bench/run.sh)"
    if not os.path.exists(os.path.join(build, "spawn_asio")):
        missing["Boost.Asio"] = "not built (Boost 1.78+ headers not found at configure time)"
    if not os.path.exists(PYTHON):
        missing["Python asyncio"] = f"{PYTHON} not found"
    if subprocess.run([PYTHON, "-c", "import uvloop"], capture_output=True).returncode != 0:
        missing["uvloop"] = "python3-uvloop not installed"
    if not shutil.which("node"):
        missing["Node.js"] = "node not found"
    return missing


def task_peers(build, workload, n):
    script = os.path.join(PEERS_SRC, workload)
    return [
        Peer(OURS, [os.path.join(build, workload), str(n)]),
        Peer("Python asyncio", [PYTHON, script + ".py", str(n)]),
        Peer("uvloop", [PYTHON, script + ".py", str(n), "--uvloop"]),
        Peer("Boost.Asio", [os.path.join(build, workload + "_asio"), str(n)]),
        Peer("Node.js", ["node", script + ".js", str(n)]),
    ]


def echo_servers(build):
    script = os.path.join(PEERS_SRC, "echo_server")
    ours = os.path.join(build, "echo_server")
    return [
        Peer(OURS_EPOLL, [ours, "0"], env={"ASYNCIO_BACKEND": "epoll"}),
        Peer(OURS_URING, [ours, "0"], env={"ASYNCIO_BACKEND": "io_uring"}),
        Peer("C epoll", [os.path.join(build, "echo_server_epoll"), "0"]),
        Peer("Python asyncio (streams)", [PYTHON, script + ".py", "0"]),
        Peer("Python asyncio (Protocol)", [PYTHON, script + ".py", "0", "--protocol"]),
        Peer("uvloop (streams)", [PYTHON, script + ".py", "0", "--uvloop"]),
        Peer("uvloop (Protocol)", [PYTHON, script + ".py", "0", "--protocol", "--uvloop"]),
        Peer("Boost.Asio", [os.path.join(build, "echo_server_asio"), "0"]),
        Peer("Node.js", ["node", script + ".js", "0"]),
    ]


def http_servers(build):
    script = os.path.join(PEERS_SRC, "http_server")
    ours = os.path.join(build, "http_server")
    return [
        Peer(OURS_EPOLL, [ours, "0"], env={"ASYNCIO_BACKEND": "epoll"}),
        Peer(OURS_URING, [ours, "0"], env={"ASYNCIO_BACKEND": "io_uring"}),
        Peer("C epoll", [os.path.join(build, "http_server_epoll"), "0"]),
        Peer("Python asyncio (streams)", [PYTHON, script + ".py", "0"]),
        Peer("uvloop (streams)", [PYTHON, script + ".py", "0", "--uvloop"]),
        Peer("Boost.Asio", [os.path.join(build, "http_server_asio"), "0"]),
        Peer("Node.js", ["node", script + ".js", "0"]),
    ]


def peer_family(name):
    """The peer a program belongs to: 'uvloop (Protocol)' -> 'uvloop'."""
    return name.split(" (")[0]


# ---- running ---------------------------------------------------------------------------


def parse_fields(output):
    """The key=value pairs of the last line that has any."""
    for line in reversed(output.strip().splitlines()):
        fields = dict(re.findall(r"(\w+)=([0-9.eE+-]+)", line))
        if fields:
            return {k: float(v) for k, v in fields.items()}
    return {}


def run_program(peer, timeout):
    """Runs a single-process workload on core 0; its key=value fields, or an error string."""
    env = dict(os.environ, **peer.env)
    try:
        done = subprocess.run(pinned(0, peer.command), env=env, capture_output=True, text=True,
                              timeout=timeout)
    except subprocess.TimeoutExpired:
        return f"timed out after {timeout} s"
    if done.returncode != 0:
        return f"exit {done.returncode}: {(done.stderr or done.stdout).strip()[-300:]}"
    fields = parse_fields(done.stdout)
    return fields or f"no result in output: {done.stdout.strip()[-200:]}"


def start_server(peer):
    """Starts a server on core 0 and waits for "listening on HOST PORT"; (process, port)."""
    env = dict(os.environ, **peer.env)
    errors = tempfile.TemporaryFile()
    process = subprocess.Popen(pinned(0, peer.command), env=env, stdout=subprocess.PIPE,
                               stderr=errors, stdin=subprocess.DEVNULL)
    running.add(process)
    deadline = time.monotonic() + 15
    line = b""
    while time.monotonic() < deadline and not line.endswith(b"\n"):
        ready, _, _ = select.select([process.stdout], [], [], 0.1)
        if ready:
            chunk = os.read(process.stdout.fileno(), 256)
            if not chunk:
                break
            line += chunk
    match = re.search(rb"(\d+)\s*$", line.split(b"\n")[0]) if line.endswith(b"\n") else None
    if not match:
        stop(process)
        errors.seek(0)
        return None, f"did not start: {errors.read().decode(errors='replace').strip()[-300:]}"
    return process, int(match.group(1))


def with_server(peer, load):
    """Runs load(port) against a fresh server; the load's result or an error string."""
    process, port = start_server(peer)
    if process is None:
        return port
    try:
        result = load(port)
        if process.poll() is not None:
            return f"server exited during the run (status {process.returncode})"
        return result
    finally:
        stop(process)


def echo_load(build, connections, size, seconds):
    def load(port):
        command = pinned(1, [os.path.join(build, "echo_load"), "127.0.0.1", str(port),
                             str(connections), str(size), str(seconds)])
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 30)
        except subprocess.TimeoutExpired:
            return "echo_load timed out"
        if done.returncode != 0:
            return f"echo_load failed: {done.stderr.strip()[-300:]}"
        return {"rate": float(done.stdout.split()[-1])}

    return load


def wrk_load(connections, seconds):
    def load(port):
        command = pinned(1, ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s",
                             f"http://127.0.0.1:{port}/"])
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 30)
        except subprocess.TimeoutExpired:
            return "wrk timed out"
        rate = re.search(r"Requests/sec:\s*([0-9.]+)", done.stdout)
        if done.returncode != 0 or not rate:
            return f"wrk failed: {(done.stderr or done.stdout).strip()[-300:]}"
        bad = re.search(r"Non-2xx or 3xx responses: (\d+)", done.stdout)
        socket_errors = re.search(r"Socket errors: (.*)", done.stdout)
        if bad:
            return f"wrk saw {bad.group(1)} non-2xx responses"
        result = {"rate": float(rate.group(1))}
        if socket_errors:
            say(f"    note: wrk socket errors: {socket_errors.group(1)}")
        return result

    return load


# ---- metrics -----------------------------------------------------------------------------


class Metric:
    def __init__(self, id, workload, title, unit, higher_is_better, ours, field="rate"):
        self.id = id
        self.workload = workload
        self.title = title
        self.unit = unit
        self.higher_is_better = higher_is_better
        self.ours = ours  # our variants, each compared with every peer
        self.field = field
        self.runs = {}  # peer -> [values]
        self.errors = {}  # peer -> last error

    def median(self, peer):
        values = self.runs.get(peer)
        return statistics.median(values) if values else None

    def better(self, ours, theirs):
        """How many times better our figure is than theirs."""
        if not ours or not theirs:
            return None
        return ours / theirs if self.higher_is_better else theirs / ours

    @classmethod
    def from_json(cls, data):
        metric = cls(data["id"], data["workload"], data["title"], data["unit"],
                     data["higher_is_better"], data["ours"])
        metric.runs = {r["peer"]: r["runs"] for r in data["results"]}
        metric.errors = data.get("errors", {})
        return metric

    def to_json(self):
        return {
            "id": self.id,
            "workload": self.workload,
            "title": self.title,
            "unit": self.unit,
            "higher_is_better": self.higher_is_better,
            "ours": self.ours,
            "results": [
                {"peer": peer, "runs": values, "median": self.median(peer)}
                for peer, values in self.runs.items()
            ],
            "errors": self.errors,
        }


def human(value, unit=""):
    if value is None:
        return "-"
    if unit == "s":
        return f"{value:.2f} s"
    if unit == "B":
        return f"{value:.0f} B"
    for factor, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= factor:
            return f"{value / factor:.3g} {suffix}"
    return f"{value:.3g}"


def print_metric(metric, runs):
    """One figure's table: the median of each program, the spread of its runs ((max - min) /
    median), and how many times better each of our variants is."""
    say()
    say(f"{metric.title}, median of {runs}")
    peers = list(metric.runs) + [p for p in metric.errors if p not in metric.runs]
    ours = [o for o in metric.ours if metric.median(o)]
    header = f"  {'':28s} {metric.unit:>12s} {'spread':>7s}"
    for o in ours:
        label = o.split(" (")[-1].rstrip(")") if len(metric.ours) > 1 else "asyncio-cpp"
        header += f"  {label + ' better by':>24s}"
    say(header)
    for peer in peers:
        value = metric.median(peer)
        values = metric.runs.get(peer) or []
        spread = f"{100 * (max(values) - min(values)) / value:.0f}%" if value else ""
        line = f"  {peer:28s} {human(value, metric.unit):>12s} {spread:>7s}"
        if value is None:
            line += f"  ({metric.errors.get(peer, 'no result')})"
        elif peer not in metric.ours:
            for o in ours:
                ratio = metric.better(metric.median(o), value)
                line += f"  {ratio:>23.2f}x"
        say(line)


# ---- targets (issue #6) --------------------------------------------------------------------


def check_targets(metrics):
    m = {metric.id: metric for metric in metrics}
    checks = []

    def check(name, value, goal, ok):
        checks.append({"target": name, "value": value, "goal": goal,
                       "met": None if value is None else bool(ok(value))})

    if "spawn" in m:
        check("spawn >= 10M tasks/s", m["spawn"].median(OURS), 10e6, lambda v: v >= 10e6)
    if "pingpong" in m:
        check("pingpong >= 10M round trips/s", m["pingpong"].median(OURS), 10e6,
              lambda v: v >= 10e6)
    if "sleep_wall" in m:
        check("1M sleeps done within 1.3 s", m["sleep_wall"].median(OURS), 1.3,
              lambda v: v <= 1.3)
    if "sleep_bytes" in m:
        check("<= 256 bytes per sleeping task", m["sleep_bytes"].median(OURS), 256,
              lambda v: v <= 256)
    if "echo" in m:
        e = m["echo"]
        ours, uv, c = e.median(OURS_EPOLL), e.median("uvloop (Protocol)"), e.median("C epoll")
        check("echo (streams, epoll) >= 1.5x uvloop Protocol",
              ours / uv if ours and uv else None, 1.5, lambda v: v >= 1.5)
        check("echo (streams, epoll) >= 90% of C epoll",
              ours / c if ours and c else None, 0.9, lambda v: v >= 0.9)
    if "echo_latency" in m:
        e = m["echo_latency"]
        ours, c = e.median(OURS_EPOLL), e.median("C epoll")
        check("1-connection round trips/s >= C epoll's (latency no worse)",
              ours / c if ours and c else None, 1.0, lambda v: v >= 1.0)
    return checks


# ---- machine -------------------------------------------------------------------------------


def first_line(command):
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return None
    text = (done.stdout or done.stderr).strip()
    return text.splitlines()[0] if text else None


QUIET_LOAD = 0.5  # 1-minute load average under which the machine counts as quiet


def settle(longest):
    """Waits up to `longest` seconds for the load of a build that just ran to decay."""
    deadline = time.monotonic() + longest
    if os.getloadavg()[0] > QUIET_LOAD and longest > 0:
        say(f"waiting up to {longest} s for the 1-minute load average "
            f"({os.getloadavg()[0]:.2f}) to fall under {QUIET_LOAD}")
    while os.getloadavg()[0] > QUIET_LOAD and time.monotonic() < deadline:
        time.sleep(5)


def machine():
    cpu = None
    with open("/proc/cpuinfo") as info:
        for line in info:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    memory = None
    with open("/proc/meminfo") as info:
        for line in info:
            if line.startswith("MemTotal:"):
                memory = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    boost = None
    if os.path.exists("/usr/include/boost/version.hpp"):
        with open("/usr/include/boost/version.hpp") as version:
            found = re.search(r'BOOST_LIB_VERSION "([^"]+)"', version.read())
            boost = found.group(1).replace("_", ".") if found else None
    commit = first_line(["git", "-C", ROOT, "describe", "--always", "--dirty"])
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory": memory,
        "kernel": platform.release(),
        "os": first_line(["sh", "-c", ". /etc/os-release && echo $PRETTY_NAME"]),
        "load_average_at_start": os.getloadavg(),
        "asyncio_cpp_commit": commit,
        "compilers": {
            "c++": first_line(["c++", "--version"]),
            "cc": first_line(["cc", "--version"]),
        },
        "peers": {
            "python": first_line([PYTHON, "--version"]),
            "uvloop": first_line([PYTHON, "-c", "import uvloop; print(uvloop.__version__)"]),
            "boost": boost,
            "node": first_line(["node", "--version"]),
            "wrk": " ".join((first_line(["wrk", "--version"]) or "").split()[:2]) or None,
        },
    }


def machine_line(m):
    return (f"{m['cpu']}, {m['cores']} cores, {m['memory']}, {m['os']}, Linux {m['kernel']}; "
            f"{m['compilers']['c++']}; {m['peers']['python']}, uvloop {m['peers']['uvloop']}, "
            f"Boost {m['peers']['boost']}, Node.js {m['peers']['node']}; {m['date']}")


# ---- the README's table -----------------------------------------------------------------


FAMILIES = [OURS, "Python asyncio", "uvloop", "Boost.Asio", "Node.js", "C epoll"]


def markdown(metrics, info, runs):
    """One row per figure, one column per peer; each peer's cell gives its median and, in
    parentheses, how many times better asyncio-cpp's first variant is (epoll for I/O)."""
    lines = ["| workload | " + " | ".join(FAMILIES) + " |",
             "|---" * (len(FAMILIES) + 1) + "|"]
    for metric in metrics:
        ours = metric.median(metric.ours[0])
        cells = []
        for family in FAMILIES:
            parts = []
            for peer in metric.runs:
                if peer_family(peer) != family or metric.median(peer) is None:
                    continue
                value = metric.median(peer)
                variant = peer[len(family):].strip(" ()")
                text = human(value, metric.unit) + (f" {variant}" if variant else "")
                if family != OURS:
                    text += f" ({metric.better(ours, value):.1f}x)"
                parts.append(text)
            cells.append(", ".join(parts) or "-")
        unit = "" if metric.unit in ("s", "B") else f", {metric.unit}"
        lines.append(f"| {metric.title}{unit} | " + " | ".join(cells) + " |")
    lines.append("")
    lines.append(f"Medians of {runs} run(s); in parentheses, how many times better "
                 f"asyncio-cpp is (its epoll backend for echo and http). {machine_line(info)}.")
    # Only the start says whether something else ran: later samples count the benchmark's
    # own server and load generator (and, after io_uring loops close, the kernel's
    # teardown workers, which wait without using the CPU).
    start_load = info.get("load_average_at_start")
    if start_load and start_load[0] > QUIET_LOAD:
        lines.append("")
        lines.append(f"**Noisy figures:** the machine was busy when this run started (1-minute "
                     f"load average {start_load[0]:.1f} on {info['cores']} cores); a run on a "
                     "quiet machine replaces them.")
    return "\n".join(lines) + "\n"


README_BEGIN = "<!-- bench/run.py --update-readme: begin -->"
README_END = "<!-- bench/run.py --update-readme: end -->"


def update_readme(table):
    """Puts the table between the README's two markers."""
    path = os.path.join(ROOT, "README.md")
    with open(path) as f:
        text = f.read()
    begin, end = text.find(README_BEGIN), text.find(README_END)
    if begin < 0 or end < begin:
        say(f"README.md has no {README_BEGIN} ... {README_END} block: not updated")
        return
    text = text[:begin + len(README_BEGIN)] + "\n" + table + text[end:]
    with open(path, "w") as f:
        f.write(text)
    say("updated the table in README.md")


# ---- micro benchmarks (bench/micro, Google Benchmark), when they exist -----------------------


def run_micro(build_root, results_dir):
    directory = os.path.join(build_root, "bench", "micro")
    if not os.path.isdir(directory):
        return None
    programs = []
    for parent, folders, files in os.walk(directory):
        folders[:] = [f for f in folders if f != "CMakeFiles"]
        programs += [os.path.join(parent, name) for name in files
                     if os.access(os.path.join(parent, name), os.X_OK)]
    results = {}
    for path in sorted(programs):
        name = os.path.relpath(path, directory)
        say(f"  micro: {name}")
        out = os.path.join(results_dir, f"micro-{name.replace('/', '-')}.json")
        done = subprocess.run(pinned(0, [path, "--benchmark_format=json", f"--benchmark_out={out}",
                                         "--benchmark_out_format=json"]),
                              capture_output=True, text=True)
        if done.returncode == 0 and os.path.exists(out):
            with open(out) as f:
                results[name] = json.load(f)
            os.remove(out)
            for b in results[name].get("benchmarks", []):
                rate = b.get("items_per_second")
                say(f"    {b['name']:50s} {b['real_time']:12.1f} {b.get('time_unit', 'ns')}"
                    + (f"  {human(rate)} items/s" if rate else ""))
        else:
            results[name] = {"error": done.stderr.strip()[-300:]}
    return results


# ---- main ----------------------------------------------------------------------------------


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--build", default=os.path.join(ROOT, "build", "bench"),
                        help="the CMake binary dir bench/run.sh built (default build/bench)")
    parser.add_argument("--runs", type=int, help="runs of each program (default 3)")
    parser.add_argument("--quick", action="store_true",
                        help="smoke test: 1 run, N = 100,000, 1 s of load per server")
    parser.add_argument("--only", default="",
                        help="comma-separated workloads: spawn,pingpong,sleep,echo,http,micro")
    parser.add_argument("--seconds", type=float, help="load per server run (default 5 s)")
    parser.add_argument("-n", type=int, help="N of spawn, pingpong, sleep (default 1,000,000)")
    parser.add_argument("--results", default=os.path.join(ROOT, "bench", "results"),
                        help="where results.json and chart.svg go (default bench/results)")
    parser.add_argument("--update-readme", action="store_true",
                        help="also put the table (results.md) into README.md")
    parser.add_argument("--report", action="store_true",
                        help="run nothing: print the tables of the results.json in --results "
                             "and write its results.md and chart.svg again")
    args = parser.parse_args()
    if args.report:
        report(args.results, args.update_readme)
        return
    defaults = (1, 100_000, 1) if args.quick else (3, 1_000_000, 5)
    args.runs, args.n, args.seconds = (given if given is not None else default for given, default
                                       in zip((args.runs, args.n, args.seconds), defaults))
    everything = ["spawn", "pingpong", "sleep", "echo", "http", "micro"]
    only = [w for w in args.only.split(",") if w] or everything
    unknown = set(only) - set(everything)
    if unknown:
        parser.error(f"unknown workload(s): {', '.join(sorted(unknown))}")
    build = os.path.join(args.build, "bench", "peers")
    os.makedirs(args.results, exist_ok=True)

    missing = availability(build)
    if (os.cpu_count() or 1) < 2:
        say("note: one core only, nothing is pinned: servers and load generators share it")
    if "http" in only and not shutil.which("wrk"):
        missing["wrk"] = "wrk not installed"
    for peer, why in missing.items():
        say(f"skipping {peer}: {why}")
    if OURS in missing:
        sys.exit(f"run.py: {missing[OURS]}")

    settle(0 if args.quick else 240)
    info = machine()
    say(f"machine: {machine_line(info)}")
    say(f"load average at start: {' '.join(f'{x:.2f}' for x in info['load_average_at_start'])}"
        " (figures are noisy when it is not near 0)")

    n = args.n
    metrics = []
    plan = []  # (metric(s), peer, how to run once)
    timeout = 600

    def usable(peer):
        return peer_family(peer.name) not in missing and peer.name not in missing

    if "spawn" in only:
        spawn = Metric("spawn", "spawn", f"spawn: create_task + gather, N = {n:,}", "tasks/s",
                       True, [OURS])
        metrics.append(spawn)
        for peer in filter(usable, task_peers(build, "spawn", n)):
            plan.append(([spawn], peer, lambda p=peer: run_program(p, timeout)))
    if "pingpong" in only:
        pingpong = Metric("pingpong", "pingpong", f"pingpong through two queues, N = {n:,}",
                          "round trips/s", True, [OURS])
        metrics.append(pingpong)
        for peer in filter(usable, task_peers(build, "pingpong", n)):
            plan.append(([pingpong], peer, lambda p=peer: run_program(p, timeout)))
    if "sleep" in only:
        wall = Metric("sleep_wall", "sleep", f"{n:,} concurrent sleep(1 s): wall time", "s", False,
                      [OURS], field="wall_s")
        memory = Metric("sleep_bytes", "sleep", f"{n:,} concurrent sleep(1 s): memory per task",
                        "B", False, [OURS], field="bytes_per_task")
        metrics += [wall, memory]
        for peer in filter(usable, task_peers(build, "sleep", n)):
            plan.append(([wall, memory], peer, lambda p=peer: run_program(p, timeout)))
    if "echo" in only:
        ours = [OURS_EPOLL, OURS_URING]
        throughput = Metric("echo", "echo", "TCP echo, 100 connections x 1 KiB", "round trips/s",
                            True, ours)
        latency = Metric("echo_latency", "echo", "TCP echo, 1 connection x 64 B (latency-bound)",
                         "round trips/s", True, ours)
        metrics += [throughput, latency]
        for peer in filter(usable, echo_servers(build)):
            plan.append(([throughput], peer, lambda p=peer: with_server(
                p, echo_load(build, 100, 1024, args.seconds))))
            plan.append(([latency], peer, lambda p=peer: with_server(
                p, echo_load(build, 1, 64, args.seconds))))
    if "http" in only and "wrk" not in missing:
        http = Metric("http", "http", "HTTP keep-alive hello, wrk -t1 -c100", "requests/s", True,
                      [OURS_EPOLL, OURS_URING])
        metrics.append(http)
        for peer in filter(usable, http_servers(build)):
            plan.append(([http], peer, lambda p=peer: with_server(p, wrk_load(100, args.seconds))))

    # Run r of every program, then run r + 1: a burst of noise then spreads over all peers.
    for run in range(1, args.runs + 1 if plan else 1):
        say()
        say(f"run {run} of {args.runs}")
        for targets, peer, once in plan:
            result = once()
            if not isinstance(result, str) and any(result.get(m.field) is None for m in targets):
                result = f"no {', '.join(m.field for m in targets)} in its output"
            if isinstance(result, str):
                for metric in targets:
                    metric.errors[peer.name] = result
                say(f"  {targets[0].id:12s} {peer.name:28s} FAILED: {result}")
                continue
            shown = []
            for metric in targets:
                value = result.get(metric.field)
                metric.runs.setdefault(peer.name, []).append(value)
                unit = "" if metric.unit in ("s", "B") else " " + metric.unit
                shown.append(human(value, metric.unit) + unit)
            say(f"  {targets[0].id:12s} {peer.name:28s} {', '.join(shown)}")

    info["load_average_at_end"] = os.getloadavg()  # includes the benchmark's own processes
    targets = print_report(metrics, args.runs)
    micro = run_micro(args.build, args.results) if "micro" in only else None

    results = {
        "machine": info,
        "config": {"runs": args.runs, "quick": args.quick, "n": n, "seconds": args.seconds,
                   "workloads": only, "pinning": "workload/server on core 0, load on core 1"},
        "metrics": [metric.to_json() for metric in metrics],
        "targets": targets,
    }
    if micro is not None:
        results["micro"] = micro
    path = os.path.join(args.results, "results.json")
    with open(path, "w") as f:
        json.dump(results, f, indent=1)
        f.write("\n")
    write_outputs(args.results, metrics, info, args.runs, args.update_readme)


def print_report(metrics, runs):
    """The tables and the targets on stdout; the targets' state."""
    for metric in metrics:
        print_metric(metric, f"{runs} run{'s' if runs > 1 else ''}")
    targets = check_targets(metrics)
    if targets:
        say()
        say("issue #6 targets (asyncio-cpp):")
        for t in targets:
            state = {True: "met", False: "NOT met", None: "no figure"}[t["met"]]
            value = "-" if t["value"] is None else f"{t['value']:.3g}"
            say(f"  {t['target']:58s} {value:>10s}  {state}")
    return targets


def write_outputs(directory, metrics, info, runs, readme):
    """results.md and chart.svg from results.json, all in `directory`; the README's table."""
    path = os.path.join(directory, "results.json")
    table = markdown(metrics, info, runs)
    with open(os.path.join(directory, "results.md"), "w") as f:
        f.write(table)
    if readme:
        update_readme(table)
    chart = os.path.join(directory, "chart.svg")
    subprocess.run([sys.executable, os.path.join(ROOT, "bench", "chart.py"), path, chart],
                   check=True)
    say()
    say(f"wrote {os.path.relpath(path)}, results.md and chart.svg in {os.path.relpath(directory)}")


def report(directory, readme):
    with open(os.path.join(directory, "results.json")) as f:
        results = json.load(f)
    metrics = [Metric.from_json(m) for m in results["metrics"]]
    runs = results["config"]["runs"]
    say(f"machine: {machine_line(results['machine'])}")
    print_report(metrics, runs)
    write_outputs(directory, metrics, results["machine"], runs, readme)


if __name__ == "__main__":
    main()
