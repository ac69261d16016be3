#!/usr/bin/env python3
"""bench_ingest: ingest end-to-end benchmark (BENCHMARKS.md, "Ingest end-to-end").

Per run, starts devbroker (3 event topics x 12 partitions), redis-server, autostage-review and
(later) autostage-ingest on free loopback ports in a temporary directory, then:

  1. throughput: `autostage-loadgen produce --count N` (as fast as possible) fills the topics
     while ingest is stopped; `autostage-loadgen consume` reads the same backlog and discards it
     (the baseline); then ingest starts and /metrics is sampled every 100 ms until
     autostage_ingest_events_handled_total reaches N. Ingest's rate = handled over first ->
     last handled sample; ratio = ingest rate / baseline rate.
  2. latency: ingest keeps running and loadgen produces at a paced --rate (default 5,000/s) for
     --paced-seconds; the event -> acknowledged histogram (loadgen's generation time -> review
     acknowledged the proposal, i.e. produce -> proposal pending) and consumed -> handled are
     read as p50/p99 (histogram_quantile's linear interpolation inside the bucket). The
     loadgen's own share is reported beside it: produce call -> broker acknowledged
     (producer_delivery_p50/p99_ms: its linger and batching, and the broker's append).
     The paced producer runs with linger.ms=--paced-linger-ms (default 20; loadgen's own
     default is 5): devbroker (librdkafka's mock) returns one stored batch per partition per
     fetch and finds it by walking the partition's batches from the oldest, so its cost grows
     with the square of the number of batches; 5 ms made batches of ~1.7 events and the mock
     fell behind in the last seconds of a 20 s phase. 20 ms is what a connector producing
     5,000 events/s would choose for batching; it is inside the measured latency (which starts
     at loadgen's generation time). docs/ingest.md, "Where the produce -> proposal pending
     latency goes".
  3. latency baseline (unless --skip-latency-baseline): ingest is stopped and a plain
     `autostage-loadgen consume` (same Consumer class and the fetch settings ingest uses, starting
     at the end of the topics) reads while loadgen produces at the same paced rate: message
     timestamp -> consumed p50/p99 is what the producer and broker alone cost, the floor under
     ingest's event -> acknowledged (as the consume-and-discard rate is the ceiling over its
     throughput).

Prints one JSON line per phase and run, and a final summary line with medians. CPU seconds per
10k events of every process (ingest, review, redis-server, devbroker) come from
/proc/PID/stat; peak RSS of ingest from VmHWM. Everything started is stopped on exit (also on
Ctrl-C or error).

  tools/loadgen/bench_ingest.py --bin BUILD/bin-or-dir [--runs 3] [--events 100000]
      [--rate 5000] [--paced-seconds 20] [--paced-linger-ms 20] [--workers N] [--keep DIR]
      [--skip-latency] [--skip-latency-baseline]

Binaries are looked up in --bin (or BUILD's subfolders: services/ingest, services/review,
tools/devbroker, tools/loadgen), else on PATH.
"""

import argparse
import hashlib
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

TOPICS = ["crm.events.email", "crm.events.call", "crm.events.chat"]
PARTITIONS = 12
OPPORTUNITIES = 1000  # autostage-loadgen's default --opportunities
CLK_TCK = os.sysconf("SC_CLK_TCK")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def find_binary(bin_dir, name, subdirs):
    for sub in [""] + subdirs:
        path = os.path.join(bin_dir, sub, name) if bin_dir else ""
        if path and os.access(path, os.X_OK):
            return path
    found = shutil.which(name)
    if not found:
        sys.exit(f"bench_ingest: binary {name} not found in {bin_dir} nor on PATH")
    return found


def cpu_seconds(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime + stime
    except OSError:
        return 0.0


def vm_hwm_mb(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return 0.0


def scrape(url):
    """Returns {series: value} of a Prometheus text page (labels kept in the series name)."""
    out = {}
    with urllib.request.urlopen(url, timeout=2) as r:
        for line in r.read().decode().splitlines():
            if not line or line.startswith("#"):
                continue
            name, _, value = line.rpartition(" ")
            try:
                out[name] = float(value)
            except ValueError:
                pass
    return out


def histogram(metrics, name):
    """[(le, cumulative count)] sorted by le, from a scrape."""
    buckets = []
    prefix = name + "_bucket{le=\""
    for series, value in metrics.items():
        if series.startswith(prefix):
            le = series[len(prefix):].split("\"")[0]
            buckets.append((float("inf") if le == "+Inf" else float(le), value))
    return sorted(buckets)


def quantile(q, before, after):
    """histogram_quantile(q) of the observations between two scrapes of one histogram."""
    b = dict(before)
    delta = [(le, c - b.get(le, 0.0)) for le, c in after]
    if not delta or delta[-1][1] <= 0:
        return None
    rank = q * delta[-1][1]
    prev_le, prev_c = 0.0, 0.0
    for le, c in delta:
        if c >= rank:
            if le == float("inf"):
                return prev_le
            return prev_le + (le - prev_le) * ((rank - prev_c) / max(c - prev_c, 1e-9))
        prev_le, prev_c = le, c
    return None


class Stack:
    """The four processes; stop() kills what was started, in reverse order."""

    def __init__(self, args, workdir):
        self.args = args
        self.dir = workdir
        self.procs = {}  # name -> Popen, in start order
        b = args.bin
        self.devbroker = find_binary(b, "devbroker", ["tools/devbroker"])
        self.review = find_binary(b, "autostage-review", ["services/review"])
        self.ingest = find_binary(b, "autostage-ingest", ["services/ingest"])
        self.loadgen = find_binary(b, "autostage-loadgen", ["tools/loadgen"])
        self.redis = shutil.which("redis-server") or sys.exit("bench_ingest: no redis-server")
        self.rules = os.path.join(args.source, "deploy", "rules")
        self.ingest_config = None
        self.ingest_metrics = None

    def start(self, name, argv):
        log = open(os.path.join(self.dir, f"{name}.log"), "w")
        self.procs[name] = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log,
                                            stderr=subprocess.STDOUT, start_new_session=True)
        return self.procs[name]

    def wait(self, name, check, timeout, what):
        end = time.time() + timeout
        while time.time() < end:
            if self.procs[name].poll() is not None:
                raise RuntimeError(f"{name} exited; see {self.dir}/{name}.log")
            try:
                if check():
                    return
            except OSError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"{name} not ready after {timeout}s ({what})")

    def stop_one(self, name, timeout=15):
        p = self.procs.pop(name, None)
        if p is None or p.poll() is not None:
            return
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()

    def stop(self):
        for name in reversed(list(self.procs)):
            self.stop_one(name)

    def up(self):
        d = self.dir
        boot = os.path.join(d, "bootstrap")
        argv = [self.devbroker, "--bootstrap-file", boot]
        for t in TOPICS:
            argv += ["--topic", f"{t}:{PARTITIONS}"]
        argv += ["--topic", "crm.opportunities:1", "--topic", "crm.events.dlq:1",
                 "--topic", "crm.stage-changes:1"]
        self.start("devbroker", argv)
        self.wait("devbroker", lambda: os.path.getsize(boot) > 0, 20, "bootstrap file")
        with open(boot) as f:
            self.brokers = f.readline().strip()

        redis_port = free_port()
        self.redis_port = redis_port
        self.start("redis", [self.redis, "--bind", "127.0.0.1", "--port", str(redis_port),
                             "--dir", d, "--save", "", "--appendonly", "no",
                             "--daemonize", "no"])
        self.wait("redis", lambda: self.redis_ping(), 20, "PING")

        token = os.urandom(24).hex()
        with open(os.path.join(d, "tokens.yaml"), "w") as f:
            digest = hashlib.sha256(token.encode()).hexdigest()
            f.write(f"- {{sha256: {digest}, id: bench-ingest, kind: service, role: ingest}}\n")
        token_file = os.path.join(d, "ingest.token")
        with open(token_file, "w") as f:
            f.write(token + "\n")
        review_port, review_metrics = free_port(), free_port()
        with open(os.path.join(d, "review.yaml"), "w") as f:
            f.write(f"""listen: 127.0.0.1:{review_port}
metrics_listen: 127.0.0.1:{review_metrics}
tokens_file: {d}/tokens.yaml
pipelines_file: {self.rules}/pipelines.yaml
log_level: warn
shutdown_deadline: 5s
redis:
  address: 127.0.0.1:{redis_port}
outbox:
  topic: crm.stage-changes
  kafka_bootstrap: {self.brokers}
  consumer: bench
  flush_deadline: 3s
""")
        self.start("review", [self.review, "--config", os.path.join(d, "review.yaml")])
        self.wait("review", lambda: urllib.request.urlopen(
            f"http://127.0.0.1:{review_metrics}/healthz", timeout=2).status == 200, 60, "healthz")

        self.ingest_port = free_port()
        self.ingest_metrics = f"http://127.0.0.1:{self.ingest_port}/metrics"
        self.ingest_config = os.path.join(d, "ingest.yaml")
        with open(self.ingest_config, "w") as f:
            f.write(f"""kafka:
  brokers: "{self.brokers}"
  group_id: bench-ingest
redis:
  host: 127.0.0.1
  port: {redis_port}
review:
  target: "127.0.0.1:{review_port}"
  token_file: {token_file}
rules:
  paths: [{self.rules}]
processing:
  drain_timeout: 5s
server:
  metrics_address: "127.0.0.1:{self.ingest_port}"
log_level: warn
""")

    def redis_exists(self, key):
        with socket.create_connection(("127.0.0.1", self.redis_port), timeout=1) as s:
            k = key.encode()
            s.sendall(b"*2\r\n$6\r\nEXISTS\r\n$%d\r\n%s\r\n" % (len(k), k))
            return s.recv(16).startswith(b":1")

    def redis_ping(self):
        with socket.create_connection(("127.0.0.1", self.redis_port), timeout=1) as s:
            s.sendall(b"PING\r\n")
            return s.recv(16).startswith(b"+PONG")

    def start_ingest(self):
        argv = [self.ingest, "--config", self.ingest_config]
        if self.args.workers:
            argv += ["--workers", str(self.args.workers)]
        self.start("ingest", argv)
        self.wait("ingest", lambda: urllib.request.urlopen(
            self.ingest_metrics.replace("/metrics", "/healthz"), timeout=2).status == 200, 120,
            "healthz")

    def loadgen_json(self, argv):
        out = subprocess.run([self.loadgen] + argv, check=True, capture_output=True, text=True,
                             timeout=900)
        return json.loads(out.stdout.strip().splitlines()[-1])


def cpu_snapshot(stack):
    return {n: cpu_seconds(p.pid) for n, p in stack.procs.items()}


def cpu_per_10k(before, after, events):
    return {n: round((after[n] - before.get(n, 0.0)) * 10000.0 / max(events, 1), 3)
            for n in after}


def throughput_run(stack, run, args):
    seed = 1000 + run
    produced = stack.loadgen_json(["produce", "--brokers", stack.brokers, "--seed", str(seed),
                                   "--count", str(args.events)])
    baseline = stack.loadgen_json(["consume", "--brokers", stack.brokers, "--idle-timeout",
                                   "3s", "--count", str(args.events)])
    stack.start_ingest()
    handled_name = "autostage_ingest_events_handled_total"
    cpu0 = cpu_snapshot(stack)
    first = last = None
    start_count = None
    deadline = time.time() + args.timeout
    target = args.events
    while time.time() < deadline:
        m = scrape(stack.ingest_metrics)
        handled = m.get(handled_name, 0.0)
        now = time.time()
        if handled > 0 and first is None:
            first, start_count = now, handled
        if handled >= target:
            last = (now, handled)
            break
        time.sleep(0.1)
    cpu1 = cpu_snapshot(stack)
    if last is None:
        raise RuntimeError(f"ingest handled {handled:.0f} of {target} in {args.timeout}s")
    seconds = last[0] - first
    rate = (last[1] - start_count) / seconds if seconds > 0 else 0.0
    return {
        "phase": "throughput", "run": run, "events": args.events, "handled": int(last[1]),
        "produce_rate": round(produced["rate"], 1), "seconds": round(seconds, 3),
        "ingest_rate": round(rate, 1), "baseline_rate": round(baseline["rate"], 1),
        "ratio": round(rate / baseline["rate"], 4) if baseline["rate"] else None,
        "baseline_events": baseline["consumed"],
        "cpu_s_per_10k": cpu_per_10k(cpu0, cpu1, int(last[1])),
        "ingest_vmhwm_mb": round(vm_hwm_mb(stack.procs["ingest"].pid), 1),
    }


def paced_producer(args):
    """loadgen flags of the paced producer (latency phases): its linger (see the top)."""
    return ["-X", f"linger.ms={args.paced_linger_ms}"]


def latency_run(stack, run, args):
    # Opportunity and event ids both derive from the seed, and a new seed avoids the
    # throughput run's event ids (they would be deduped): publish this seed's opportunities
    # first (with one event) and wait until ingest's feed stored the last of them, so no paced
    # event races its opportunity.
    seed = 5000 + run
    stack.loadgen_json(["produce", "--brokers", stack.brokers, "--seed", str(seed), "--count",
                        "1"])
    last_opp = f"autostage:{{lg-opp-{seed}-{OPPORTUNITIES - 1}}}:opportunity"
    deadline = time.time() + 60
    while not stack.redis_exists(last_opp):
        if time.time() > deadline:
            raise RuntimeError(f"the opportunity feed did not store {last_opp}")
        time.sleep(0.1)
    before = scrape(stack.ingest_metrics)
    cpu0 = cpu_snapshot(stack)
    produced = stack.loadgen_json(["produce", "--brokers", stack.brokers, "--seed", str(seed),
                                   "--no-opportunities", "--rate", str(args.rate),
                                   "--duration", f"{args.paced_seconds}s"] + paced_producer(args))
    target = before.get("autostage_ingest_events_handled_total", 0) + produced["sent"]
    deadline = time.time() + args.timeout
    after = before
    while time.time() < deadline:
        after = scrape(stack.ingest_metrics)
        if after.get("autostage_ingest_events_handled_total", 0) >= target:
            break
        time.sleep(0.1)
    cpu1 = cpu_snapshot(stack)
    out = {"phase": "latency", "run": run, "rate": args.rate, "sent": produced["sent"],
           "paced_linger_ms": args.paced_linger_ms,
           "produce_rate": round(produced["rate"], 1),
           "producer_delivery_p50_ms": produced.get("delivery_p50_ms"),
           "producer_delivery_p99_ms": produced.get("delivery_p99_ms")}
    # event_to_ack = event_to_consume (producer, broker, fetch) + consume_to_ack (ingest).
    for label, name in (("event_to_ack", "autostage_ingest_event_to_ack_seconds"),
                        ("event_to_consume", "autostage_ingest_event_to_consume_seconds"),
                        ("consume_to_ack", "autostage_ingest_consume_to_ack_seconds"),
                        ("consumed_to_handled", "autostage_ingest_processing_seconds")):
        h0, h1 = histogram(before, name), histogram(after, name)
        for q in (0.5, 0.99):
            v = quantile(q, h0, h1)
            out[f"{label}_p{int(q * 100)}_ms"] = round(v * 1000, 1) if v is not None else None
        out[f"{label}_count"] = int((h1[-1][1] if h1 else 0) - (h0[-1][1] if h0 else 0))
    for series in sorted(after):
        if series.startswith(("autostage_ingest_proposal_outcomes_total",
                               "autostage_ingest_dlq_writes_total")):
            out[series] = int(after[series] - before.get(series, 0))
    out["cpu_s_per_10k"] = cpu_per_10k(cpu0, cpu1, produced["sent"])
    out["ingest_vmhwm_mb"] = round(vm_hwm_mb(stack.procs["ingest"].pid), 1)
    return out


# The consumer settings IngestService::Create applies unless configured (keep in step), so the
# baseline consumer fetches the way ingest does.
INGEST_FETCH_PROPERTIES = {"fetch.min.bytes": "65536", "fetch.wait.max.ms": "20",
                           "queued.min.messages": "5000", "queued.max.messages.kbytes": "32768"}


def latency_baseline_run(stack, run, args):
    """Paced produce with ingest stopped and a plain consumer reading from the end."""
    stack.stop_one("ingest")
    argv = [stack.loadgen, "consume", "--brokers", stack.brokers, "--group",
            f"bench-baseline-{run}", "--duration", f"{args.paced_seconds + 30}s",
            "--idle-timeout", "3s", "-X", "auto.offset.reset=latest"]
    for k, v in INGEST_FETCH_PROPERTIES.items():
        argv += ["-X", f"{k}={v}"]
    out_path = os.path.join(stack.dir, "baseline-consume.json")
    with open(out_path, "w") as out:
        consumer = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out,
                                    stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        # Group join on the devbroker takes ~3 s; a consumer assigned later simply starts at
        # the end then (no backlog is ever measured).
        time.sleep(5)
        cpu0 = cpu_snapshot(stack)
        produced = stack.loadgen_json(["produce", "--brokers", stack.brokers, "--seed",
                                       str(9000 + run), "--no-opportunities", "--rate",
                                       str(args.rate), "--duration", f"{args.paced_seconds}s"]
                                      + paced_producer(args))
        cpu1 = cpu_snapshot(stack)
        consumer.wait(timeout=args.timeout)
    finally:
        if consumer.poll() is None:
            consumer.kill()
            consumer.wait()
    with open(out_path) as f:
        consumed = json.loads(f.read().strip().splitlines()[-1])
    return {"phase": "latency_baseline", "run": run, "rate": args.rate,
            "sent": produced["sent"], "consumed": consumed["consumed"],
            "produce_rate": round(produced["rate"], 1),
            "producer_delivery_p50_ms": produced.get("delivery_p50_ms"),
            "producer_delivery_p99_ms": produced.get("delivery_p99_ms"),
            "consume_p50_ms": consumed.get("latency_p50_ms"),
            "consume_p99_ms": consumed.get("latency_p99_ms"),
            "cpu_s_per_10k": cpu_per_10k(cpu0, cpu1, produced["sent"])}


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bin", default="", help="build directory (or a folder with the binaries)")
    ap.add_argument("--source", default=os.path.normpath(os.path.join(here, "..", "..")))
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--events", type=int, default=100000, help="events per throughput run")
    ap.add_argument("--rate", type=int, default=5000, help="paced rate of the latency runs")
    ap.add_argument("--paced-seconds", type=int, default=20)
    ap.add_argument("--paced-linger-ms", type=int, default=20,
                    help="linger.ms of the paced producer (loadgen's own default is 5)")
    ap.add_argument("--workers", type=int, default=0, help="ingest --workers (0: config default)")
    ap.add_argument("--timeout", type=float, default=600, help="per phase")
    ap.add_argument("--skip-latency", action="store_true")
    ap.add_argument("--skip-latency-baseline", action="store_true",
                    help="no plain-consumer latency phase after the ingest latency phase")
    ap.add_argument("--keep", default="", help="keep logs and configs in this directory")
    args = ap.parse_args()

    workdir = args.keep or tempfile.mkdtemp(prefix="bench-ingest-")
    os.makedirs(workdir, exist_ok=True)
    results = []
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    stack = None
    try:
        # A fresh stack per run: every run starts from empty topics, Redis and review.
        for run in range(args.runs):
            rundir = os.path.join(workdir, f"run{run}")
            os.makedirs(rundir, exist_ok=True)
            stack = Stack(args, rundir)
            stack.up()
            r = throughput_run(stack, run, args)
            print(json.dumps(r), flush=True)
            results.append(r)
            if not args.skip_latency:
                r = latency_run(stack, run, args)
                print(json.dumps(r), flush=True)
                results.append(r)
                if not args.skip_latency_baseline:
                    r = latency_baseline_run(stack, run, args)
                    print(json.dumps(r), flush=True)
                    results.append(r)
            stack.stop()
        tp = [r for r in results if r["phase"] == "throughput"]
        lat = [r for r in results if r["phase"] == "latency"]
        base = [r for r in results if r["phase"] == "latency_baseline"]

        def med(rows, key):
            vals = [r[key] for r in rows if r.get(key) is not None]
            return round(statistics.median(vals), 4) if vals else None

        summary = {"phase": "summary", "runs": args.runs, "workers": args.workers or "default",
                   "ingest_rate_median": med(tp, "ingest_rate"),
                   "baseline_rate_median": med(tp, "baseline_rate"),
                   "ratio_median": med(tp, "ratio"),
                   "event_to_ack_p50_ms_median": med(lat, "event_to_ack_p50_ms"),
                   "event_to_ack_p99_ms_median": med(lat, "event_to_ack_p99_ms"),
                   "event_to_consume_p99_ms_median": med(lat, "event_to_consume_p99_ms"),
                   "consume_to_ack_p50_ms_median": med(lat, "consume_to_ack_p50_ms"),
                   "consume_to_ack_p99_ms_median": med(lat, "consume_to_ack_p99_ms"),
                   "consumed_to_handled_p99_ms_median": med(lat, "consumed_to_handled_p99_ms"),
                   "producer_delivery_p99_ms_median": med(lat, "producer_delivery_p99_ms"),
                   "baseline_consume_p50_ms_median": med(base, "consume_p50_ms"),
                   "baseline_consume_p99_ms_median": med(base, "consume_p99_ms"),
                   "ingest_vmhwm_mb_max": max(
                       (r["ingest_vmhwm_mb"] for r in results if "ingest_vmhwm_mb" in r),
                       default=None),
                   "cpu_s_per_10k_median": {
                       n: round(statistics.median(r["cpu_s_per_10k"].get(n, 0) for r in tp), 3)
                       for n in (tp[0]["cpu_s_per_10k"] if tp else {})},
                   "loadavg": os.getloadavg()[0]}
        print(json.dumps(summary), flush=True)
    finally:
        if stack is not None:
            stack.stop()
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
