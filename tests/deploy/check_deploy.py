#!/usr/bin/python3
"""Checks deploy/compose and deploy/k8s against the repo and the binaries.

    check_deploy.py SOURCE_DIR BIN_DIR CONFIG_CHECK

Every problem is reported (one line each), then the exit code is 1. What is checked:
- every YAML file parses; the Dockerfile's stages install what tools/setup.sh lists and every
  shared library the built binaries link (ldd + dpkg, when dpkg is present);
- every flag in a container command is one `--help` of that binary lists;
- every config a container mounts loads and validates with the services' own config code
  (CONFIG_CHECK, see config_check.cc), with the token files make-secrets.sh writes and the rule
  packs the image carries; every rule folder passes `rulectl lint`;
- ports: published/container ports, probes, healthchecks, Services and scrape targets use the
  configs' listen / metrics addresses; probes and healthchecks ask for /healthz;
- every file a volume, secret or build references exists in the repo; the rules ConfigMap
  equals deploy/rules; Prometheus job names are the ones alerts.yml selects.
"""
import os
import pathlib
import re
import shutil
import subprocess
import sys
import tempfile

import yaml

_TEMP_DIRS = []


def temp_dir(prefix):
    path = tempfile.mkdtemp(prefix=prefix)
    _TEMP_DIRS.append(path)
    return path


def _cleanup():
    for path in _TEMP_DIRS:
        shutil.rmtree(path, ignore_errors=True)


SRC = pathlib.Path(sys.argv[1]).resolve()
BIN = pathlib.Path(sys.argv[2]).resolve()
CONFIG_CHECK = sys.argv[3]
DEPLOY = SRC / "deploy"
COMPOSE_DIR = DEPLOY / "compose"
K8S_DIR = DEPLOY / "k8s"
BINARIES = ("autostage-review", "autostage-ingest")

errors = []


def fail(msg):
    errors.append(msg)


def load_yaml_all(path):
    try:
        return [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d is not None]
    except yaml.YAMLError as e:
        fail(f"{path.relative_to(SRC)}: does not parse: {e}")
        return []


def port_of(address):
    host, _, port = address.rpartition(":")
    return int(port) if host and port.isdigit() else None


def help_flags(binary):
    out = subprocess.run([str(BIN / binary), "--help"], capture_output=True, text=True,
                         timeout=30)
    if out.returncode != 0:
        fail(f"{binary} --help exited {out.returncode}: {out.stderr.strip()}")
    return set(re.findall(r"(?<![\w-])(--[a-z][a-z0-9-]*)", out.stdout))


FLAGS = {b: help_flags(b) for b in BINARIES}


def check_command(where, command):
    """Flags of an autostage binary's command line exist; returns (binary, {flag: value})."""
    if not command or command[0] not in BINARIES:
        fail(f"{where}: command {command!r} does not start an autostage binary")
        return None, {}
    binary, args, i = command[0], {}, 1
    while i < len(command):
        flag = command[i]
        name, eq, value = flag.partition("=")
        if not name.startswith("--"):
            fail(f"{where}: stray argument {flag!r}")
            i += 1
            continue
        if name not in FLAGS[binary]:
            fail(f"{where}: {binary} has no flag {name} (its --help lists {sorted(FLAGS[binary])})")
        if not eq:
            i += 1
            value = command[i] if i < len(command) else ""
        args[name] = value
        i += 1
    if "--config" not in args:
        fail(f"{where}: {binary} started without --config")
    return binary, args


def config_check(kind, path):
    """Runs the config loader; returns the key=value lines it printed (multi-valued as lists)."""
    out = subprocess.run([CONFIG_CHECK, kind, str(path)], capture_output=True, text=True,
                         timeout=30)
    if out.returncode != 0:
        fail(f"{kind} config {path}: {out.stderr.strip()}")
        return {}
    print(f"loaded {kind} config {pathlib.Path(path).name}: {out.stdout.strip().replace(chr(10), ', ')}")
    values = {}
    for line in out.stdout.splitlines():
        key, _, value = line.partition("=")
        values.setdefault(key, []).append(value)
    return values


class Root:
    """A fake container filesystem: absolute paths of a config are re-rooted under a temp dir,
    the way the container's mounts place files at those paths."""

    def __init__(self):
        self.dir = pathlib.Path(temp_dir("autostage-deploy-"))

    def place(self, container_path, content=None, source=None):
        dest = self.dir / container_path.lstrip("/")
        dest.parent.mkdir(parents=True, exist_ok=True)
        if source is not None and source.is_dir():
            shutil.copytree(source, dest, dirs_exist_ok=True)
        elif source is not None:
            shutil.copyfile(source, dest)
        else:
            dest.write_text(content, encoding="utf-8")
        return dest

    def config(self, container_path, text):
        # Absolute paths inside the config point into the container: re-root them.
        rerooted = re.sub(r"(?<=[\s\[:,\"'])/(etc|run|var)/", lambda m: f"{self.dir}/{m.group(1)}/",
                          text)
        return self.place(container_path, rerooted)


def make_secrets():
    out_dir = pathlib.Path(temp_dir("autostage-secrets-")) / "secrets"
    run = subprocess.run([str(COMPOSE_DIR / "make-secrets.sh"), str(out_dir)],
                         capture_output=True, text=True, timeout=30)
    if run.returncode != 0:
        fail(f"make-secrets.sh failed: {run.stderr.strip()}")
    return out_dir


SECRETS = make_secrets()


def rulectl_lint(path, where):
    run = subprocess.run([str(BIN / "rulectl"), "lint", str(path)], capture_output=True,
                         text=True, timeout=60)
    if run.returncode != 0:
        fail(f"{where}: rulectl lint {path}: {run.stdout.strip()} {run.stderr.strip()}")


def alert_jobs():
    text = (DEPLOY / "prometheus" / "alerts.yml").read_text(encoding="utf-8")
    return set(re.findall(r'job="([^"]+)"', text))


# ---------------------------------------------------------------- Dockerfile
def setup_packages():
    text = (SRC / "tools" / "setup.sh").read_text(encoding="utf-8")
    block = re.search(r"packages=\((.*?)\n\)", text, re.S).group(1)
    words = []
    for line in block.splitlines():
        words += line.split("#", 1)[0].split()
    return set(words)


def dockerfile_stages():
    text = (DEPLOY / "docker" / "Dockerfile").read_text(encoding="utf-8")
    text = text.replace("\\\n", " ")
    stages, current = {}, None
    for line in text.splitlines():
        m = re.match(r"FROM\s+(\S+)(?:\s+AS\s+(\S+))?", line.strip(), re.I)
        if m:
            current = m.group(2) or m.group(1)
            stages[current] = {"from": m.group(1), "packages": set(), "lines": []}
            continue
        if current:
            stages[current]["lines"].append(line)
            m = re.search(r"apt-get install[^&]*?--no-install-recommends\s+([^&]*)", line)
            if m:
                stages[current]["packages"] |= set(m.group(1).split())
    return stages


def check_dockerfile():
    stages = dockerfile_stages()
    if set(stages) != {"build", "runtime"}:
        fail(f"Dockerfile: stages {sorted(stages)}, expected build and runtime")
        return
    for name, stage in stages.items():
        if not stage["from"].startswith("debian:bookworm"):
            fail(f"Dockerfile: stage {name} is FROM {stage['from']}, not debian:bookworm")
    missing = stages["build"]["packages"] - setup_packages()
    if missing:
        fail(f"Dockerfile build stage installs {sorted(missing)} that tools/setup.sh does not list")
    runtime = stages["runtime"]
    dev = sorted(p for p in runtime["packages"] if p.endswith("-dev"))
    if dev:
        fail(f"Dockerfile runtime stage installs -dev packages {dev}")
    body = "\n".join(runtime["lines"])
    if not re.search(r"^USER\s+(?!0\b|root\b)\S+", body, re.M):
        fail("Dockerfile runtime stage does not switch to a non-root USER")
    for needed in ("deploy/rules/", "deploy/config/"):
        if f"COPY {needed}" not in body:
            fail(f"Dockerfile runtime stage does not copy {needed}")
        if not (SRC / needed).is_dir():
            fail(f"Dockerfile copies {needed}, which does not exist")
    # Each shared library the binaries load must come from a runtime-stage package.
    if shutil.which("dpkg-query") is None or shutil.which("ldd") is None:
        print("note: dpkg-query/ldd absent; runtime libraries not compared")
        return
    # Packages that bookworm-slim has or that the listed ones depend on (apt pulls them in).
    implicit = {"libc6", "libstdc++6", "libgcc-s1", "libzstd1", "zlib1g", "liblz4-1",
                "libsasl2-2", "libsystemd0", "liblzma5", "libcap2", "libgcrypt20",
                "libgpg-error0", "libcrypt1", "libgssapi-krb5-2", "libkrb5-3", "libk5crypto3",
                "libcom-err2", "libkrb5support0", "libkeyutils1", "libsasl2-modules-db",
                "libdb5.3", "libffi8", "libselinux1", "libpcre2-8-0", "libcurl4",
                "libnghttp2-14", "libidn2-0", "librtmp1", "libssh2-1", "libpsl5",
                "libldap-2.5-0", "libbrotli1", "libunistring2", "libgnutls30", "libhogweed6",
                "libnettle8", "libgmp10", "libp11-kit0", "libtasn1-6", "libc-ares2"}
    linked = {}  # library path → a binary linking it
    for binary in ("autostage-review", "autostage-ingest", "autostagectl", "rulectl"):
        path = BIN / binary
        if not path.exists():
            continue
        out = subprocess.run(["ldd", str(path)], capture_output=True, text=True).stdout
        for lib in re.findall(r"=>\s+(/\S+)", out):
            linked.setdefault(os.path.realpath(lib), (lib, binary))
    # One dpkg-query for all: "pkg:arch: /path" per owned file; unowned files are skipped
    # (e.g. a sanitizer runtime).
    who = subprocess.run(["dpkg-query", "-S"] + sorted(linked), capture_output=True, text=True)
    owners = {}
    for line in who.stdout.splitlines():
        pkgs, _, file = line.partition(": ")
        owners[file.strip()] = pkgs.split(",")[0].split(":")[0].strip()
    for real, (lib, binary) in sorted(linked.items()):
        pkg = owners.get(real)
        if pkg is None:
            continue
        if pkg in runtime["packages"] or pkg in implicit:
            continue
        fail(f"Dockerfile runtime stage lacks {pkg} ({lib}, linked by {binary})")


# ---------------------------------------------------------------- docker-compose
def check_compose():
    path = COMPOSE_DIR / "docker-compose.yml"
    docs = load_yaml_all(path)
    if len(docs) != 1:
        fail("docker-compose.yml: expected one document")
        return
    compose = docs[0]
    services = compose.get("services", {})
    absent = [s for s in ("kafka", "redis", "prometheus", "review", "ingest") if s not in services]
    if absent:
        fail(f"docker-compose.yml: no service {absent}")
        return
    kafka = services["kafka"]
    if not str(kafka.get("image", "")).startswith("apache/kafka:"):
        fail("docker-compose.yml: kafka is not the official apache/kafka image")
    if "controller" not in str(kafka.get("environment", {}).get("KAFKA_PROCESS_ROLES", "")):
        fail("docker-compose.yml: kafka does not run in KRaft mode (KAFKA_PROCESS_ROLES)")
    redis_cmd = " ".join(services["redis"].get("command", []))
    if "--appendonly yes" not in redis_cmd:
        fail("docker-compose.yml: redis runs without --appendonly yes")

    secrets = compose.get("secrets", {})
    for name, spec in secrets.items():
        rel = pathlib.PurePosixPath(spec["file"])
        if rel.parts[:2] != (".", "secrets") and rel.parts[0] != "secrets":
            fail(f"docker-compose.yml: secret {name} file {rel} is not under secrets/")
        elif not (SECRETS / rel.name).is_file():
            fail(f"docker-compose.yml: secret {name} file {rel.name} is not what make-secrets.sh "
                 f"writes ({sorted(p.name for p in SECRETS.iterdir())})")

    for name, svc in services.items():
        build = svc.get("build")
        if build:
            ctx = (COMPOSE_DIR / build["context"]).resolve()
            if not (ctx / build["dockerfile"]).is_file():
                fail(f"docker-compose.yml: {name} builds {build['dockerfile']}, not found")
        for vol in svc.get("volumes", []):
            src = vol.split(":", 1)[0]
            if src.startswith(".") and not (COMPOSE_DIR / src).exists():
                fail(f"docker-compose.yml: {name} mounts {src}, which does not exist")

    root = Root()
    root.place("/etc/autostage/rules", source=DEPLOY / "rules")  # baked into the image
    root.place("/etc/autostage/config", source=DEPLOY / "config")
    metrics_ports, grpc_port = {}, None
    for name, kind in (("review", "review"), ("ingest", "ingest")):
        svc = services[name]
        binary, args = check_command(f"compose {name}", svc.get("command"))
        if binary != f"autostage-{kind}":
            fail(f"compose {name}: runs {binary}")
            continue
        config_path = args.get("--config", "")
        mounted = None
        for vol in svc.get("volumes", []):
            parts = vol.split(":")
            if parts[1] == config_path:
                mounted = COMPOSE_DIR / parts[0]
            src = COMPOSE_DIR / parts[0]
            if parts[0].startswith(".") and src.exists() and parts[1] != config_path:
                root.place(parts[1], source=src)
        if mounted is None:
            fail(f"compose {name}: --config {config_path} is not a mounted file")
            continue
        for s in svc.get("secrets", []):
            if s not in secrets:
                fail(f"compose {name}: secret {s} is not defined")
                continue
            root.place(f"/run/secrets/{s}", source=SECRETS / pathlib.PurePosixPath(
                secrets[s]["file"]).name)
        values = config_check(kind, root.config(config_path, mounted.read_text()))
        if not values:
            continue
        metrics = values["metrics_listen" if kind == "review" else "metrics_address"][0]
        metrics_ports[name] = port_of(metrics)
        if not metrics.startswith("0.0.0.0:"):
            fail(f"compose {name}: metrics address {metrics} is not reachable from other containers")
        published = {int(str(p).split(":")[-1]) for p in svc.get("ports", [])}
        expect = {metrics_ports[name]}
        if kind == "review":
            grpc_port = port_of(values["listen"][0])
            expect.add(grpc_port)
            if not values["listen"][0].startswith("0.0.0.0:"):
                fail(f"compose review: listen {values['listen'][0]} is not reachable")
            if values["redis_address"][0].split(":")[0] != "redis":
                fail("compose review: redis.address does not name the redis service")
            if values["kafka_bootstrap"][0].split(":")[0] != "kafka":
                fail("compose review: outbox.kafka_bootstrap does not name the kafka service")
        else:
            target = values["review_target"][0]
            if target != f"review:{grpc_port}":
                fail(f"compose ingest: review.target {target}, review listens on review:{grpc_port}")
            if values["brokers"][0].split(":")[0] != "kafka":
                fail("compose ingest: kafka.brokers does not name the kafka service")
            for p in values.get("rules_path", []):
                rulectl_lint(p, "compose ingest")
        if published != expect:
            fail(f"compose {name}: publishes {sorted(published)}, config listens on {sorted(expect)}")
        check = " ".join(svc.get("healthcheck", {}).get("test", []))
        if f"/{metrics_ports[name]}" not in check or "/healthz" not in check:
            fail(f"compose {name}: healthcheck does not ask /healthz on port {metrics_ports[name]}")

    # The compose Prometheus scrapes both services where they listen, with alerts.yml's jobs.
    prom = load_yaml_all(COMPOSE_DIR / "prometheus.yml")[0]
    jobs = {c["job_name"]: [t for s in c.get("static_configs", []) for t in s["targets"]]
            for c in prom.get("scrape_configs", [])}
    for job in alert_jobs():
        if job not in jobs:
            fail(f"compose prometheus.yml: no job {job} (alerts.yml selects it)")
    for svc_name, job in (("review", "autostage-review"), ("ingest", "autostage-ingest")):
        want = f"{svc_name}:{metrics_ports.get(svc_name)}"
        if jobs.get(job) != [want]:
            fail(f"compose prometheus.yml: job {job} scrapes {jobs.get(job)}, expected [{want}]")
    mounts = {v.split(":")[1]: v.split(":")[0] for v in services["prometheus"].get("volumes", [])}
    for rule_file in prom.get("rule_files", []):
        if rule_file not in mounts:
            fail(f"compose prometheus: rule file {rule_file} is not mounted")
    shared = DEPLOY / "prometheus" / "prometheus.yml"
    if shared.exists():
        shared_jobs = {c["job_name"] for c in load_yaml_all(shared)[0].get("scrape_configs", [])}
        for job in alert_jobs() - shared_jobs:
            fail(f"deploy/prometheus/prometheus.yml: no job {job} (alerts.yml selects it)")


# ---------------------------------------------------------------- Kubernetes
def check_k8s():
    objects = []
    for path in sorted(K8S_DIR.glob("*.yaml")):
        if path.name == "kustomization.yaml":
            continue
        for doc in load_yaml_all(path):
            if "kind" not in doc:
                fail(f"{path.name}: a document without kind")
                continue
            doc["_file"] = path.name
            objects.append(doc)
    by_kind = {}
    for o in objects:
        by_kind.setdefault(o["kind"], {})[o["metadata"]["name"]] = o

    kfile = K8S_DIR / "kustomization.yaml"
    if kfile.exists():
        kust = load_yaml_all(kfile)[0]
        for res in kust.get("resources", []):
            if not (K8S_DIR / res).is_file():
                fail(f"kustomization.yaml: resource {res} does not exist")

    # The rules ConfigMap holds exactly deploy/rules.
    rules_cm = by_kind.get("ConfigMap", {}).get("autostage-rules")
    if rules_cm is None:
        fail("k8s: no ConfigMap autostage-rules")
    else:
        want = {p.name: p.read_text(encoding="utf-8") for p in (DEPLOY / "rules").glob("*.yaml")}
        if rules_cm.get("data") != want:
            fail("k8s rules-configmap.yaml differs from deploy/rules: run "
                 "deploy/k8s/gen-rules-configmap.py")

    # The committed Secret is a template; its placeholders must be refused, never run.
    secret = by_kind.get("Secret", {}).get("autostage-tokens")
    if secret is None:
        fail("k8s: no Secret autostage-tokens")
        secret = {"stringData": {}}
    else:
        root = Root()
        placeholder = root.place("/tokens.yaml", secret["stringData"].get("review-tokens.yaml", ""))
        run = subprocess.run([CONFIG_CHECK, "tokens", str(placeholder)], capture_output=True)
        if run.returncode == 0:
            fail("k8s secret.yaml: its placeholder token table loads; it must be refused")
    secret_files = {"review-tokens.yaml": SECRETS / "review-tokens.yaml",
                    "ingest.token": SECRETS / "ingest.token"}
    for key in secret.get("stringData", {}):
        if key not in secret_files:
            fail(f"k8s secret.yaml: key {key} is not one make-secrets.sh writes")

    deployments = by_kind.get("Deployment", {})
    services = by_kind.get("Service", {})
    pdbs = by_kind.get("PodDisruptionBudget", {})
    review_grpc = None
    ports_by_kind = {}
    for kind in ("review", "ingest"):
        name = f"autostage-{kind}"
        dep = deployments.get(name)
        if dep is None:
            fail(f"k8s: no Deployment {name}")
            continue
        labels = dep["spec"]["template"]["metadata"]["labels"]
        selector = dep["spec"]["selector"]["matchLabels"]
        if any(labels.get(k) != v for k, v in selector.items()):
            fail(f"k8s {name}: selector does not match the pod labels")
        if not any(all(labels.get(k) == v for k, v in p["spec"]["selector"]["matchLabels"].items())
                   for p in pdbs.values()):
            fail(f"k8s {name}: no PodDisruptionBudget selects it")
        pod = dep["spec"]["template"]["spec"]
        if not pod.get("securityContext", {}).get("runAsNonRoot"):
            fail(f"k8s {name}: pods do not set runAsNonRoot")
        volumes = {v["name"]: v for v in pod.get("volumes", [])}
        (container,) = pod["containers"]
        binary, args = check_command(f"k8s {name}", container.get("command", []) +
                                     container.get("args", []))
        if binary != name:
            fail(f"k8s {name}: runs {binary}")
            continue
        res = container.get("resources", {})
        for part in ("requests", "limits"):
            for r in ("cpu", "memory"):
                if r not in res.get(part, {}):
                    fail(f"k8s {name}: no resources.{part}.{r}")
        # Materialize every mount the way the kubelet would.
        root = Root()
        config_text = None
        for mount in container.get("volumeMounts", []):
            vol = volumes.get(mount["name"])
            if vol is None:
                fail(f"k8s {name}: mounts undefined volume {mount['name']}")
                continue
            if "configMap" in vol:
                cm = by_kind.get("ConfigMap", {}).get(vol["configMap"]["name"])
                if cm is None:
                    fail(f"k8s {name}: ConfigMap {vol['configMap']['name']} does not exist")
                    continue
                items = vol["configMap"].get("items") or [{"key": k, "path": k} for k in cm["data"]]
                for item in items:
                    if item["key"] not in cm["data"]:
                        fail(f"k8s {name}: ConfigMap {cm['metadata']['name']} has no {item['key']}")
                        continue
                    target = f"{mount['mountPath']}/{item['path']}"
                    if target == args.get("--config"):
                        config_text = cm["data"][item["key"]]
                    else:
                        root.place(target, cm["data"][item["key"]])
            elif "secret" in vol:
                if vol["secret"]["secretName"] != "autostage-tokens":
                    fail(f"k8s {name}: unknown Secret {vol['secret']['secretName']}")
                    continue
                items = vol["secret"].get("items") or [{"key": k, "path": k}
                                                       for k in secret.get("stringData", {})]
                for item in items:
                    if item["key"] not in secret.get("stringData", {}):
                        fail(f"k8s {name}: Secret autostage-tokens has no key {item['key']}")
                        continue
                    root.place(f"{mount['mountPath']}/{item['path']}",
                               source=secret_files[item["key"]])
        if config_text is None:
            fail(f"k8s {name}: --config {args.get('--config')} is not a mounted ConfigMap item")
            continue
        values = config_check(kind, root.config(args["--config"], config_text))
        if not values:
            continue
        metrics = values["metrics_listen" if kind == "review" else "metrics_address"][0]
        metrics_port = port_of(metrics)
        if not metrics.startswith("0.0.0.0:"):
            fail(f"k8s {name}: metrics address {metrics} is not reachable by probes")
        cports = {p["name"]: p["containerPort"] for p in container.get("ports", [])}
        if cports.get("metrics") != metrics_port:
            fail(f"k8s {name}: containerPort metrics {cports.get('metrics')} != config {metrics_port}")
        if kind == "review":
            review_grpc = port_of(values["listen"][0])
            if cports.get("grpc") != review_grpc:
                fail(f"k8s {name}: containerPort grpc {cports.get('grpc')} != listen {review_grpc}")
        else:
            ports_by_kind["ingest_target"] = values["review_target"][0]
            for p in values.get("rules_path", []):
                rulectl_lint(p, f"k8s {name}")
        for probe in ("livenessProbe", "readinessProbe"):
            get = container.get(probe, {}).get("httpGet")
            if not get:
                fail(f"k8s {name}: no {probe}.httpGet")
                continue
            port = cports.get(get["port"], get["port"])
            if get.get("path") != "/healthz" or port != metrics_port:
                fail(f"k8s {name}: {probe} asks {get.get('path')} on {port}, config serves "
                     f"/healthz on {metrics_port}")
        annotations = dep["spec"]["template"]["metadata"].get("annotations", {})
        if annotations.get("prometheus.io/port") != str(metrics_port):
            fail(f"k8s {name}: prometheus.io/port {annotations.get('prometheus.io/port')} != {metrics_port}")
        # A Service selects the pods; its target ports are container ports.
        svc = services.get(name)
        if svc is None:
            fail(f"k8s: no Service {name}")
            continue
        if any(labels.get(k) != v for k, v in svc["spec"]["selector"].items()):
            fail(f"k8s Service {name}: selector does not match the pods")
        for p in svc["spec"]["ports"]:
            tp = p.get("targetPort", p["port"])
            if (tp if isinstance(tp, int) else cports.get(tp)) not in cports.values():
                fail(f"k8s Service {name}: targetPort {tp} is no container port")
        if kind == "review":
            ports_by_kind["review_service"] = {p["port"] for p in svc["spec"]["ports"]}
    target = ports_by_kind.get("ingest_target")
    if target is not None and "review_service" in ports_by_kind:
        host, _, port = target.rpartition(":")
        if host.split(".")[0] != "autostage-review" or \
                int(port) not in ports_by_kind.get("review_service", set()):
            fail(f"k8s ingest: review.target {target} is not the autostage-review Service's port")


# ---------------------------------------------------------------- metric names
def check_metric_names():
    code = set()
    for src in ("services/review/review_metrics.cc", "services/ingest/ingest_metrics.cc"):
        code |= set(re.findall(r'"(autostage_(?:review|ingest)_[a-z0-9_]+)"',
                               (SRC / src).read_text(encoding="utf-8")))
    if not code:
        fail("no metric names found in the services' metrics code")
    histograms = {n for n in code if n.endswith("_seconds")}
    known = code | {f"{h}_{s}" for h in histograms for s in ("bucket", "sum", "count")}
    doc = (SRC / "docs" / "metrics.md").read_text(encoding="utf-8")
    documented = set(re.findall(r"`(autostage_(?:review|ingest)_[a-z0-9_]+)`", doc))
    for name in sorted(code - documented):
        fail(f"docs/metrics.md does not document {name}")
    # The section "Not exported yet" names proposed series on purpose.
    uses = {"docs/metrics.md": doc.split("### Not exported yet", 1)[0]}
    for rel in ("deploy/prometheus/alerts.yml", "deploy/grafana/autostage.json"):
        if (SRC / rel).exists():
            uses[rel] = (SRC / rel).read_text(encoding="utf-8")
    for rel, text in uses.items():
        for name in sorted(set(re.findall(r"\b(autostage_(?:review|ingest)_[a-z0-9_]+)", text))):
            if name not in known:
                fail(f"{rel} uses {name}, which the code does not export")


# ---------------------------------------------------------------- PromQL of dashboard and docs
def check_promql():
    """Every dashboard target and every PromQL block of docs/metrics.md parses (promtool check
    rules on a file of recording rules made from them)."""
    import json
    dash = json.loads((DEPLOY / "grafana" / "autostage.json").read_text(encoding="utf-8"))
    exprs = [("grafana " + p["title"], t["expr"]) for p in dash.get("panels", [])
             for t in p.get("targets", [])]
    if not exprs:
        fail("deploy/grafana/autostage.json: no panel queries")
    doc = (SRC / "docs" / "metrics.md").read_text(encoding="utf-8")
    for block in re.findall(r"```promql\n(.*?)```", doc, re.S):
        current = ""
        for line in block.splitlines():
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            if line.startswith(" ") and current:
                current += " " + line.split("#", 1)[0].strip()
                continue
            if current:
                exprs.append(("docs/metrics.md", current))
            current = line.split("   #", 1)[0].strip()
        if current:
            exprs.append(("docs/metrics.md", current))
    if shutil.which("promtool") is None:
        print(f"note: promtool absent; {len(exprs)} PromQL expressions not parsed")
        return
    rules = {"groups": [{"name": "parse", "rules": [
        {"record": f"parse:expr_{i}", "expr": e} for i, (_, e) in enumerate(exprs)]}]}
    path = pathlib.Path(temp_dir("autostage-promql-")) / "exprs.yml"
    path.write_text(yaml.safe_dump(rules), encoding="utf-8")
    run = subprocess.run(["promtool", "check", "rules", str(path)], capture_output=True, text=True)
    if run.returncode != 0:
        fail(f"PromQL in the dashboard or docs/metrics.md does not parse: {run.stdout} {run.stderr}")


try:
    check_metric_names()
    check_promql()
    check_dockerfile()
    check_compose()
    check_k8s()
finally:
    _cleanup()
for e in errors:
    print("FAIL:", e)
if errors:
    sys.exit(1)
print("deploy checks passed")
