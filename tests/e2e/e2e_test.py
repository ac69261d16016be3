#!/usr/bin/python3
"""End-to-end test of the whole stack (CTest label `e2e`).

`devstack up` in a temporary directory; the demo corpus (deploy/demo) is produced with an
independent Kafka client (Debian python3-kafka); then, with autostagectl:
  - a rep sees only their own proposals, the manager only the team's;
  - the owner confirms one proposal (again: harmless), and confirming another rep's proposal is
    refused with the PERMISSION_DENIED exit code (5); a wrong token gets exit code 4;
  - exactly one StageChange for it arrives on crm.stage-changes (read with a plain consumer);
  - when `prometheus` is installed, it scraped both services (`up` == 1, autostage_* series)
    and `promtool check metrics` accepts both /metrics outputs.
Every wait polls for a condition with a deadline. Exit 77 (CTest skip) when a prerequisite
(binary, python3-kafka) is absent.

  e2e_test.py --bin BUILD/bin --source REPO
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request

SKIP = 77
EXIT_WRONG_TOKEN = 4
EXIT_PERMISSION_DENIED = 5


def log(msg):
    print(f"[e2e] {msg}", flush=True)


def wait_for(what, deadline_s, fn):
    """Polls fn() until it returns a truthy value; fails naming `what` after deadline_s."""
    end = time.monotonic() + deadline_s
    last_error = None
    while time.monotonic() < end:
        try:
            value = fn()
            if value:
                return value
        except Exception as e:  # pylint: disable=broad-except
            last_error = e
        time.sleep(0.25)
    raise AssertionError(f"timed out after {deadline_s}s waiting for {what}"
                         + (f" (last error: {last_error})" if last_error else ""))


class Stack:
    def __init__(self, bin_dir, state):
        self.bin_dir = bin_dir
        self.state = state
        self.env = {}

    def up(self):
        res = subprocess.run([os.path.join(self.bin_dir, "devstack"), "up", "--state", self.state],
                             capture_output=True, text=True, timeout=240)
        print(res.stdout, res.stderr, sep="\n", flush=True)
        if res.returncode != 0:
            raise AssertionError(f"devstack up failed with {res.returncode}")
        with open(os.path.join(self.state, "stack.env"), encoding="utf-8") as f:
            for line in f:
                key, _, value = line.strip().partition("=")
                self.env[key] = value
        for key in ("KAFKA_BOOTSTRAP", "REDIS_ADDR", "REVIEW_ADDR", "REVIEW_METRICS_URL",
                    "INGEST_METRICS_URL", "TOKEN_REP_LIN", "TOKEN_REP_HE", "TOKEN_MGR_SOUTH",
                    "TOKEN_ADMIN", "TOKEN_AUTOSTAGE_INGEST"):
            assert self.env.get(key), f"stack.env lacks {key}"

    def down(self):
        subprocess.run([os.path.join(self.bin_dir, "devstack"), "down", "--state", self.state],
                       timeout=120, check=False)

    def dump_logs(self):
        logs = os.path.join(self.state, "logs")
        if not os.path.isdir(logs):
            return
        for name in sorted(os.listdir(logs)):
            with open(os.path.join(logs, name), encoding="utf-8", errors="replace") as f:
                tail = f.readlines()[-25:]
            print(f"----- {name} (last {len(tail)} lines)\n{''.join(tail)}", flush=True)

    def ctl(self, token, *args):
        cmd = [os.path.join(self.bin_dir, "autostagectl"), "--review", self.env["REVIEW_ADDR"],
               "--token", token, "--timeout", "10", *args]
        res = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
        return res

    def pending(self, token):
        res = self.ctl(token, "pending", "--all", "--json")
        if res.returncode != 0:
            raise AssertionError(f"pending failed ({res.returncode}): {res.stderr.strip()}")
        return json.loads(res.stdout).get("proposals", [])


def produce_demo(bootstrap, source_dir):
    from kafka import KafkaProducer
    producer = KafkaProducer(bootstrap_servers=bootstrap.split(","), api_version=(2, 5, 0),
                             acks="all")
    headers = [("content-type", b"application/json")]
    demo = os.path.join(source_dir, "deploy", "demo")
    n = 0
    with open(os.path.join(demo, "opportunities.jsonl"), encoding="utf-8") as f:
        for line in filter(str.strip, f):
            opp = json.loads(line)
            producer.send("crm.opportunities", key=opp["opportunity_id"].encode(),
                          value=line.strip().encode(), headers=headers)
    producer.flush(30)
    with open(os.path.join(demo, "events.jsonl"), encoding="utf-8") as f:
        for line in filter(str.strip, f):
            event = json.loads(line)
            key = event.get("opportunity_id") or event["event_id"]
            producer.send("crm.events." + event["source"], key=key.encode(),
                          value=line.strip().encode(), headers=headers)
            n += 1
    producer.flush(30)
    producer.close()
    return n


def read_stage_changes(bootstrap, want, quiet_s):
    """All messages of crm.stage-changes: waits for `want`, then `quiet_s` more for extras."""
    from kafka import KafkaConsumer, TopicPartition
    consumer = KafkaConsumer(bootstrap_servers=bootstrap.split(","), api_version=(2, 5, 0),
                             group_id=None, enable_auto_commit=False)
    parts = wait_for("crm.stage-changes metadata", 20,
                     lambda: consumer.partitions_for_topic("crm.stage-changes"))
    tps = [TopicPartition("crm.stage-changes", p) for p in sorted(parts)]
    consumer.assign(tps)
    consumer.seek_to_beginning(*tps)
    messages = []
    end = time.monotonic() + 60
    while len(messages) < want and time.monotonic() < end:
        for batch in consumer.poll(timeout_ms=500).values():
            messages.extend(batch)
    quiet_end = time.monotonic() + quiet_s
    while time.monotonic() < quiet_end:
        for batch in consumer.poll(timeout_ms=500).values():
            messages.extend(batch)
    consumer.close()
    return messages


def http_get(url):
    with urllib.request.urlopen(url, timeout=5) as r:
        return r.read()


def metric_sum(metrics_url, name):
    """Sum over all label sets of `name` in a Prometheus text exposition."""
    total = 0.0
    for line in http_get(metrics_url).decode().splitlines():
        if line.startswith(name + " ") or line.startswith(name + "{"):
            total += float(line.rsplit(" ", 1)[1])
    return total


def prom_query(base, query):
    body = http_get(f"{base}/api/v1/query?" + urllib.parse.urlencode({"query": query}))
    data = json.loads(body)
    assert data["status"] == "success", data
    return data["data"]["result"]


def check_prometheus(stack):
    base = stack.env.get("PROMETHEUS_URL")
    if not base:
        log("prometheus not installed: Prometheus checks skipped")
        return
    for job in ("autostage-review", "autostage-ingest"):
        wait_for(f"Prometheus up{{job={job}}} == 1", 60, lambda job=job: any(
            r["value"][1] == "1" for r in prom_query(base, f'up{{job="{job}"}}')))
    for job, prefix in (("autostage-review", "autostage_review_"),
                        ("autostage-ingest", "autostage_ingest_")):
        series = wait_for(f"{prefix}* series scraped from {job}", 60, lambda job=job, prefix=prefix:
                          prom_query(base, f'{{job="{job}",__name__=~"{prefix}.+"}}'))
        log(f"prometheus: {len(series)} {prefix}* series from {job}")
    groups = json.loads(http_get(f"{base}/api/v1/rules"))["data"]["groups"]
    log(f"prometheus: {sum(len(g['rules']) for g in groups)} alerting/recording rules loaded")
    promtool = shutil.which("promtool")
    assert promtool, "prometheus is installed but promtool is not"
    for url in (stack.env["REVIEW_METRICS_URL"], stack.env["INGEST_METRICS_URL"]):
        res = subprocess.run([promtool, "check", "metrics"], input=http_get(url),
                             capture_output=True, timeout=30)
        assert res.returncode == 0, (f"promtool check metrics {url}: "
                                     f"{res.stdout.decode()}{res.stderr.decode()}")
        log(f"promtool check metrics {url}: ok")


def run(stack, source_dir):
    stack.up()
    env = stack.env
    n = produce_demo(env["KAFKA_BOOTSTRAP"], source_dir)
    log(f"produced {n} demo events")
    # Every event judged and its proposal acknowledged by review: later merges cannot move a
    # proposal's version under the confirm below.
    wait_for(f"ingest to handle all {n} events", 90, lambda: metric_sum(
        env["INGEST_METRICS_URL"], "autostage_ingest_events_handled_total") >= n)

    lin, he = env["TOKEN_REP_LIN"], env["TOKEN_REP_HE"]
    lin_pending = wait_for("a pending proposal of rep-lin", 90, lambda: stack.pending(lin))
    he_pending = wait_for("a pending proposal of rep-he", 90, lambda: stack.pending(he))
    for owner, proposals in (("rep-lin", lin_pending), ("rep-he", he_pending)):
        owners = {p["proposal"]["owner_id"] for p in proposals}
        assert owners == {owner}, f"{owner} sees proposals of {owners}"
    team = stack.pending(env["TOKEN_MGR_SOUTH"])
    assert team and {p["proposal"]["team_id"] for p in team} == {"south"}, team
    log(f"rep-lin: {len(lin_pending)} pending, rep-he: {len(he_pending)}, team south: {len(team)}")

    mine = lin_pending[0]["proposal"]
    theirs = he_pending[0]["proposal"]

    res = stack.ctl(lin, "confirm", mine["proposal_id"], "--json")
    assert res.returncode == 0, f"owner confirm failed ({res.returncode}): {res.stderr}"
    confirmed = json.loads(res.stdout)
    assert confirmed["status"] == "PROPOSAL_STATUS_CONFIRMED", confirmed
    change_id = confirmed["change_id"]
    log(f"rep-lin confirmed {mine['proposal_id']} ({mine['opportunity_id']} "
        f"{mine['from_stage']} -> {mine['to_stage']}), change {change_id}")

    res = stack.ctl(lin, "confirm", mine["proposal_id"])
    assert res.returncode == 0, f"second confirm not harmless ({res.returncode}): {res.stderr}"

    res = stack.ctl(lin, "confirm", theirs["proposal_id"])
    assert res.returncode == EXIT_PERMISSION_DENIED, (
        f"confirming rep-he's proposal as rep-lin: exit {res.returncode}, want "
        f"{EXIT_PERMISSION_DENIED}: {res.stdout}{res.stderr}")
    assert res.stderr.startswith("autostagectl:") and len(res.stderr.strip().splitlines()) == 1, (
        res.stderr)
    log(f"rep-lin confirming rep-he's proposal: exit 5, {res.stderr.strip()}")
    still = [p for p in stack.pending(he) if p["proposal"]["proposal_id"] == theirs["proposal_id"]]
    assert still, "the refused confirm changed rep-he's proposal"

    res = stack.ctl("not-a-token", "pending")
    assert res.returncode == EXIT_WRONG_TOKEN, f"wrong token: exit {res.returncode}"

    messages = read_stage_changes(env["KAFKA_BOOTSTRAP"], want=1, quiet_s=3)
    assert len(messages) == 1, f"want exactly 1 StageChange, got {len(messages)}: {messages}"
    change = json.loads(messages[0].value)
    assert change["change_id"] == change_id, change
    assert change["proposal_id"] == mine["proposal_id"], change
    assert change["opportunity_id"] == mine["opportunity_id"], change
    assert (change["from_stage"], change["to_stage"]) == (mine["from_stage"], mine["to_stage"])
    assert change["confirmed_by"] == "rep-lin", change
    assert messages[0].key.decode() == mine["opportunity_id"], messages[0].key
    log("exactly one StageChange on crm.stage-changes: " + json.dumps(change, ensure_ascii=False)[:200])

    check_prometheus(stack)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--bin", required=True)
    parser.add_argument("--source", required=True)
    args = parser.parse_args()
    for name in ("devstack", "devbroker", "autostage-review", "autostage-ingest",
                 "autostagectl"):
        if not os.access(os.path.join(args.bin, name), os.X_OK):
            log(f"SKIP: {args.bin}/{name} is not built (build the targets devbroker "
                "autostage-review autostage-ingest autostagectl)")
            return SKIP
    try:
        import kafka  # noqa: F401  pylint: disable=unused-import,import-outside-toplevel
    except ImportError:
        log("SKIP: python3-kafka is not installed (tools/setup.sh)")
        return SKIP
    if not shutil.which("redis-server"):
        log("SKIP: redis-server is not installed (tools/setup.sh)")
        return SKIP

    state = tempfile.mkdtemp(prefix="autostage-e2e-")
    stack = Stack(args.bin, state)
    started = time.monotonic()
    try:
        run(stack, args.source)
    except BaseException:
        stack.dump_logs()
        raise
    finally:
        stack.down()
    shutil.rmtree(state, ignore_errors=True)
    log(f"PASS in {time.monotonic() - started:.1f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
