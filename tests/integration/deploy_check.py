#!/usr/bin/env python3
"""Static checks of deploy/ for tests/integration/deploy_test.sh.

    deploy_check.py k8s SRC OUTDIR           manifests; writes the embedded rebound
                                             configs to OUTDIR, listed in OUTDIR/configs.txt
    deploy_check.py prometheus SRC OUT       scrape config; writes to OUT a copy that
                                             Debian's promtool can read (see below)
    deploy_check.py dockerfile SRC           Dockerfile against deploy/run.sh
    deploy_check.py runtime-libs SRC BIN     runtime packages against the built binaries
    deploy_check.py multi-replica SRC OUTDIR the examples: multi-replica.yaml, its
                                             documented replica B (written to OUTDIR) and
                                             policy.yaml, listed in OUTDIR/configs.txt

Each prints one "ok:" line per fact it verified and "error:" lines for what is
wrong, and exits 1 when anything is. Needs python3-yaml (Debian).
"""

import fnmatch
import glob
import os
import re
import shlex
import subprocess
import sys

import yaml

NAMESPACE = "rebound"
IMAGE_UID = 10001
BINARIES = ["rebound-server", "rebound-controlplane", "rebound"]
# What debian:12-slim already has (Priority: required, or needed by apt).
BASE_IMAGE_PACKAGES = {"libc6", "libgcc-s1", "libstdc++6", "zlib1g"}
# GCC's sanitizer runtimes (libasan.so.8, libubsan.so.1, libtsan.so.2, ...).
SANITIZER_RUNTIME = re.compile(r"lib(asan|ubsan|tsan|lsan|hwasan)\.so(\.\d+)*$")
KNOWN_KINDS = {
    ("v1", "Namespace"), ("v1", "ConfigMap"), ("v1", "Secret"), ("v1", "Service"),
    ("v1", "PersistentVolumeClaim"), ("apps/v1", "Deployment"), ("apps/v1", "StatefulSet"),
    ("policy/v1", "PodDisruptionBudget"),
}
# The keys of a kubernetes_sd_configs entry (Prometheus 2.x documentation).
KUBERNETES_SD_KEYS = {
    "api_server", "role", "kubeconfig_file", "basic_auth", "authorization", "oauth2",
    "proxy_url", "no_proxy", "proxy_from_environment", "proxy_connect_header",
    "follow_redirects", "enable_http2", "tls_config", "namespaces", "selectors",
    "attach_metadata",
}
KUBERNETES_SD_ROLES = {"node", "service", "pod", "endpoints", "endpointslice", "ingress"}
# How replica B is derived from the multi-replica example: the command its
# header documents, run as is.
REPLICA_B_SED = "sed -e 's/replica-a/replica-b/' -e 's/:50051/:50052/' -e 's/:9464/:9466/'"
CONTROL_PLANE_DEFAULT_PORTS = {7500, 9465}


class Report:
    def __init__(self, quiet=False):
        self.errors = 0
        self.quiet = quiet

    def ok(self, message):
        if not self.quiet:
            print(f"ok: {message}")

    def error(self, message):
        if not self.quiet:
            print(f"error: {message}")
        self.errors += 1

    def expect(self, condition, ok_message, error_message):
        if condition:
            self.ok(ok_message)
        else:
            self.error(error_message)
        return condition

    def exit(self):
        sys.exit(1 if self.errors else 0)


def port_of(address):
    """The port of "host:port" as an int, or None."""
    match = re.fullmatch(r"(.+):(\d+)", str(address))
    return int(match.group(2)) if match else None


def host_of(address):
    match = re.fullmatch(r"(.+):(\d+)", str(address))
    return match.group(1) if match else None


def flag_value(args, name):
    """The value of --name in `args` (`--name=v` or `--name v`), or None."""
    for i, arg in enumerate(args):
        if arg == name and i + 1 < len(args):
            return args[i + 1]
        if arg.startswith(name + "="):
            return arg[len(name) + 1:]
    return None


def env_references(text):
    """The $VAR / ${VAR} names in a config text."""
    return set(re.findall(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)", text))


# ---- Kubernetes manifests --------------------------------------------------

class Manifests:
    def __init__(self, report, directory):
        self.report = report
        self.docs = []  # (file, doc)
        for path in sorted(glob.glob(os.path.join(directory, "*.yaml"))):
            name = os.path.basename(path)
            try:
                with open(path) as f:
                    loaded = [d for d in yaml.safe_load_all(f) if d is not None]
            except yaml.YAMLError as e:
                report.error(f"{name}: not valid YAML: {e}")
                continue
            report.ok(f"{name}: valid YAML, {len(loaded)} object(s)")
            self.docs += [(name, d) for d in loaded]

    def of_kind(self, kind):
        return [d for _, d in self.docs if isinstance(d, dict) and d.get("kind") == kind]

    def named(self, kind, name):
        for d in self.of_kind(kind):
            if d["metadata"]["name"] == name:
                return d
        return None


def check_object_shapes(report, manifests):
    seen = set()
    for file, doc in manifests.docs:
        if not isinstance(doc, dict):
            report.error(f"{file}: a document is not a mapping")
            continue
        api, kind = doc.get("apiVersion"), doc.get("kind")
        name = (doc.get("metadata") or {}).get("name")
        where = f"{file}: {kind or '?'}/{name or '?'}"
        if not (isinstance(api, str) and isinstance(kind, str) and isinstance(name, str)):
            report.error(f"{where}: apiVersion, kind and metadata.name are all required")
            continue
        report.expect((api, kind) in KNOWN_KINDS, f"{where}: {api} {kind}",
                      f"{where}: unexpected apiVersion/kind {api} {kind} (typo?)")
        if kind != "Namespace":
            namespace = doc["metadata"].get("namespace")
            report.expect(namespace == NAMESPACE, f"{where}: in namespace {NAMESPACE}",
                          f"{where}: namespace is {namespace!r}, not {NAMESPACE!r}")
        if (kind, name) in seen:
            report.error(f"{where}: defined twice")
        seen.add((kind, name))


def secret_keys(secret):
    return set((secret.get("stringData") or {}).keys()) | set((secret.get("data") or {}).keys())


def pod_spec(workload):
    return workload["spec"]["template"]["spec"]


def container_ports(container):
    return {p.get("name"): p["containerPort"] for p in container.get("ports") or []}


def probe_port(container, probe):
    """The container port a probe targets (resolving port names), or None."""
    for kind in ("grpc", "tcpSocket", "httpGet"):
        if kind in probe:
            port = probe[kind].get("port")
            if isinstance(port, str):
                return container_ports(container).get(port)
            return port
    return None


def mounted_file(container, volumes, path, manifests):
    """For a file path inside a volume mount: (volume kind, object, key)."""
    for mount in container.get("volumeMounts") or []:
        prefix = mount["mountPath"].rstrip("/") + "/"
        if not path.startswith(prefix):
            continue
        key = path[len(prefix):]
        volume = volumes.get(mount["name"])
        if volume is None:
            return None
        if "configMap" in volume:
            return "ConfigMap", manifests.named("ConfigMap", volume["configMap"]["name"]), key
        if "secret" in volume:
            items = volume["secret"].get("items")
            if items:
                key = next((i["key"] for i in items if i["path"] == key), None)
            return "Secret", manifests.named("Secret", volume["secret"]["secretName"]), key
        if "persistentVolumeClaim" in volume:
            return ("PersistentVolumeClaim",
                    manifests.named("PersistentVolumeClaim",
                                    volume["persistentVolumeClaim"]["claimName"]), key)
    return None


def check_workload(report, manifests, workload, dockerfile_binaries):
    name = workload["metadata"]["name"]
    where = f"{workload['kind']}/{name}"
    spec = workload["spec"]
    template = spec["template"]
    pod_labels = template["metadata"].get("labels") or {}
    selector = spec["selector"]["matchLabels"]
    report.expect(all(pod_labels.get(k) == v for k, v in selector.items()),
                  f"{where}: selector matches the pod labels",
                  f"{where}: selector {selector} does not match pod labels {pod_labels}")
    pod = pod_spec(workload)
    security = pod.get("securityContext") or {}
    report.expect(security.get("runAsNonRoot") is True and security.get("runAsUser") == IMAGE_UID,
                  f"{where}: runs as non-root uid {IMAGE_UID}, the image's user",
                  f"{where}: securityContext must set runAsNonRoot: true and runAsUser: "
                  f"{IMAGE_UID} (the Dockerfile's USER)")

    volumes = {v["name"]: v for v in pod.get("volumes") or []}
    for vname, volume in volumes.items():
        for kind, field, ref in (("ConfigMap", "configMap", "name"),
                                 ("Secret", "secret", "secretName"),
                                 ("PersistentVolumeClaim", "persistentVolumeClaim", "claimName")):
            if field in volume:
                target = volume[field][ref]
                report.expect(manifests.named(kind, target) is not None,
                              f"{where}: volume {vname} -> {kind}/{target} exists",
                              f"{where}: volume {vname} names {kind}/{target}, which no "
                              f"manifest defines")

    annotations = template["metadata"].get("annotations") or {}
    for container in pod["containers"]:
        cwhere = f"{where} container {container['name']}"
        ports = container_ports(container)
        command = (container.get("command") or [None])[0]
        report.expect(command in dockerfile_binaries, f"{cwhere}: runs {command}, in the image",
                      f"{cwhere}: command {command!r} is not one of the image's binaries "
                      f"{sorted(dockerfile_binaries)}")
        for mount in container.get("volumeMounts") or []:
            report.expect(mount["name"] in volumes, f"{cwhere}: mount {mount['name']} has a volume",
                          f"{cwhere}: mount {mount['name']} has no volume")
        for env in container.get("env") or []:
            ref = (env.get("valueFrom") or {}).get("secretKeyRef")
            if ref:
                secret = manifests.named("Secret", ref["name"])
                report.expect(secret is not None and ref["key"] in secret_keys(secret),
                              f"{cwhere}: env {env['name']} <- Secret {ref['name']}/{ref['key']}",
                              f"{cwhere}: env {env['name']} needs key {ref['key']} of Secret "
                              f"{ref['name']}, which no manifest defines")
        for probe_name in ("readinessProbe", "livenessProbe"):
            probe = container.get(probe_name)
            if not report.expect(probe is not None, f"{cwhere}: has a {probe_name}",
                                 f"{cwhere}: no {probe_name}"):
                continue
            port = probe_port(container, probe)
            report.expect(port in ports.values(),
                          f"{cwhere}: {probe_name} targets declared port {port}",
                          f"{cwhere}: {probe_name} targets port {port}, not a declared port")
        report.expect(annotations.get("prometheus.io/scrape") == "true"
                      and annotations.get("prometheus.io/port") == str(ports.get("metrics")),
                      f"{cwhere}: scrape annotations name the metrics port {ports.get('metrics')}",
                      f"{cwhere}: needs prometheus.io/scrape: \"true\" and prometheus.io/port "
                      f"equal to the port named metrics ({ports.get('metrics')})")
        if command == "rebound-server":
            check_server_container(report, manifests, workload, container, volumes)
        elif command == "rebound-controlplane":
            check_controlplane_container(report, manifests, workload, container, volumes)


def check_token_file(report, manifests, cwhere, container, volumes, path):
    found = mounted_file(container, volumes, path, manifests)
    ok = found is not None and found[0] == "Secret" and found[1] is not None \
        and found[2] in secret_keys(found[1])
    report.expect(ok, f"{cwhere}: token file {path} is key {found and found[2]} of Secret "
                      f"{found and found[1] and found[1]['metadata']['name']}",
                  f"{cwhere}: token file {path} is not a key of a mounted Secret")
    return found[1]["metadata"]["name"] if ok else None


def check_server_container(report, manifests, workload, container, volumes):
    cwhere = f"{workload['kind']}/{workload['metadata']['name']} container {container['name']}"
    args = (container.get("command") or [])[1:] + (container.get("args") or [])
    config_path = flag_value(args, "--config")
    found = config_path and mounted_file(container, volumes, config_path, manifests)
    if not report.expect(found and found[0] == "ConfigMap" and found[1] is not None
                         and found[2] in (found[1].get("data") or {}),
                         f"{cwhere}: --config {config_path} is key {found and found[2]} of "
                         f"a mounted ConfigMap",
                         f"{cwhere}: --config {config_path} is not a key of a mounted ConfigMap"):
        return
    text = found[1]["data"][found[2]]
    config = yaml.safe_load(text)
    server = config.get("server") or {}
    ports = container_ports(container)
    listen, metrics = server.get("listen", "127.0.0.1:50051"), server.get("metrics_listen",
                                                                          "127.0.0.1:9464")
    report.expect(host_of(listen) == "0.0.0.0" and host_of(metrics) == "0.0.0.0",
                  f"{cwhere}: config listens on 0.0.0.0 (reachable from outside the pod)",
                  f"{cwhere}: server.listen / metrics_listen must bind 0.0.0.0 in a pod, got "
                  f"{listen} / {metrics}")
    report.expect(port_of(listen) == ports.get("grpc"),
                  f"{cwhere}: server.listen port {port_of(listen)} is the grpc containerPort",
                  f"{cwhere}: server.listen port {port_of(listen)} != grpc containerPort "
                  f"{ports.get('grpc')}")
    report.expect(port_of(metrics) == ports.get("metrics"),
                  f"{cwhere}: server.metrics_listen port {port_of(metrics)} is the metrics "
                  f"containerPort",
                  f"{cwhere}: server.metrics_listen port {port_of(metrics)} != metrics "
                  f"containerPort {ports.get('metrics')}")
    for probe_name in ("readinessProbe", "livenessProbe"):
        probe = container.get(probe_name) or {}
        report.expect("grpc" in probe and probe_port(container, probe) == port_of(listen),
                      f"{cwhere}: {probe_name} is a gRPC health probe on {port_of(listen)}",
                      f"{cwhere}: {probe_name} must be `grpc: {{port: {port_of(listen)}}}`")

    # Shutdown: preStop sleep + drain must fit in the grace period, and the
    # liveness probe must not kill a draining replica.
    drain_s = (server.get("drain_grace_ms") or 30000) / 1000
    pre_stop = ((container.get("lifecycle") or {}).get("preStop") or {}).get("exec", {})
    sleep = pre_stop.get("command") or []
    sleep_s = int(sleep[-1]) if sleep and sleep[0].endswith("sleep") else 0
    grace = pod_spec(workload).get("terminationGracePeriodSeconds", 30)
    report.expect(grace > sleep_s + drain_s,
                  f"{cwhere}: terminationGracePeriodSeconds {grace} > preStop {sleep_s}s + "
                  f"drain_grace {drain_s:g}s",
                  f"{cwhere}: terminationGracePeriodSeconds {grace} must exceed preStop "
                  f"{sleep_s}s + drain_grace_ms {drain_s:g}s, or draining replicas are killed")
    live = container.get("livenessProbe") or {}
    tolerance = live.get("periodSeconds", 10) * live.get("failureThreshold", 3)
    report.expect(tolerance > drain_s,
                  f"{cwhere}: liveness tolerates {tolerance}s of NOT_SERVING > drain {drain_s:g}s",
                  f"{cwhere}: liveness gives up after {tolerance}s, shorter than a drain "
                  f"({drain_s:g}s)")

    # Credentials: every $VAR of the config comes from the container's env.
    env_names = {e["name"] for e in container.get("env") or []}
    for var in sorted(env_references(text)):
        report.expect(var in env_names, f"{cwhere}: ${var} of the config is set from env",
                      f"{cwhere}: the config uses ${var}, which the container's env lacks")

    # The control plane: the token file and addresses point at what exists,
    # and the variables pushed policies may read (allowed_env) are set.
    control_plane = config.get("control_plane") or {}
    for var in control_plane.get("allowed_env") or []:
        report.expect(var in env_names,
                      f"{cwhere}: control_plane.allowed_env {var} is set from env",
                      f"{cwhere}: control_plane.allowed_env lists {var}, which the container's "
                      f"env lacks: a pushed policy using it would be NACKed")
    token_secret = None
    if control_plane.get("token_file"):
        token_secret = check_token_file(report, manifests, cwhere, container, volumes,
                                        control_plane["token_file"])
    for address in control_plane.get("addresses") or []:
        host, port = host_of(address), port_of(address)
        service_name = host.split(".")[0]
        service = manifests.named("Service", service_name)
        suffix = host[len(service_name):]
        ok = service is not None and suffix in ("", f".{NAMESPACE}", f".{NAMESPACE}.svc",
                                                f".{NAMESPACE}.svc.cluster.local")
        ok = ok and port in [p["port"] for p in service["spec"]["ports"]]
        report.expect(ok, f"{cwhere}: control_plane address {address} is Service "
                          f"{service_name} port {port}",
                      f"{cwhere}: control_plane address {address} matches no Service port")
    workload["_token_secret"] = token_secret
    workload["_config"] = (found[1]["metadata"]["name"], found[2], text)


def check_controlplane_container(report, manifests, workload, container, volumes):
    cwhere = f"{workload['kind']}/{workload['metadata']['name']} container {container['name']}"
    args = (container.get("command") or [])[1:] + (container.get("args") or [])
    ports = container_ports(container)
    listen = flag_value(args, "--listen") or "127.0.0.1:7500"
    metrics = flag_value(args, "--metrics-listen") or "127.0.0.1:9465"
    report.expect(host_of(listen) == "0.0.0.0" and host_of(metrics) == "0.0.0.0",
                  f"{cwhere}: --listen/--metrics-listen bind 0.0.0.0",
                  f"{cwhere}: --listen and --metrics-listen must bind 0.0.0.0 in a pod, got "
                  f"{listen} / {metrics}")
    report.expect(port_of(listen) == ports.get("grpc") and port_of(metrics) == ports.get("metrics"),
                  f"{cwhere}: flag ports {port_of(listen)}/{port_of(metrics)} are the "
                  f"grpc/metrics containerPorts",
                  f"{cwhere}: --listen/--metrics-listen ports {port_of(listen)}/"
                  f"{port_of(metrics)} != containerPorts {ports}")
    state_dir = flag_value(args, "--state-dir")
    mounts = {m["mountPath"].rstrip("/"): m["name"] for m in container.get("volumeMounts") or []}
    volume = volumes.get(mounts.get((state_dir or "").rstrip("/")), {})
    claim = manifests.named("PersistentVolumeClaim",
                            (volume.get("persistentVolumeClaim") or {}).get("claimName"))
    if report.expect(claim is not None, f"{cwhere}: --state-dir {state_dir} is a mounted "
                                        f"PersistentVolumeClaim",
                     f"{cwhere}: --state-dir {state_dir} must be the mountPath of a "
                     f"PersistentVolumeClaim (the policy survives restarts there)"):
        if "ReadWriteOnce" in claim["spec"].get("accessModes", []) \
                and workload["kind"] == "Deployment":
            report.expect(workload["spec"].get("replicas", 1) == 1
                          and workload["spec"].get("strategy", {}).get("type") == "Recreate",
                          f"{cwhere}: one replica with strategy Recreate on a ReadWriteOnce claim",
                          f"{cwhere}: a Deployment on a ReadWriteOnce claim needs replicas: 1 "
                          f"and strategy: Recreate")
    # Two roles (README, "Security"): the replicas' tokens open Sync only,
    # the operators' the other RPCs; each from a mounted Secret of its own.
    if flag_value(args, "--token-file") is not None:
        report.error(f"{cwhere}: --token-file is retired; use --replica-token-file and "
                     f"--operator-token-file")
    secrets = {}
    for role in ("replica", "operator"):
        path = flag_value(args, f"--{role}-token-file")
        if not path:
            report.error(f"{cwhere}: no --{role}-token-file: the control plane refuses to start "
                         f"without both token files")
            continue
        secrets[role] = check_token_file(report, manifests, cwhere, container, volumes, path)
    workload["_token_secret"] = secrets.get("replica")
    workload["_operator_token_secret"] = secrets.get("operator")
    if secrets.get("replica") and secrets.get("operator"):
        report.expect(secrets["replica"] != secrets["operator"],
                      f"{cwhere}: replica and operator tokens come from different Secrets",
                      f"{cwhere}: replica and operator tokens come from the same Secret "
                      f"{secrets['replica']}: a replica pod would hold the operator token")


def check_services(report, manifests):
    workloads = manifests.of_kind("Deployment") + manifests.of_kind("StatefulSet")
    for service in manifests.of_kind("Service"):
        where = f"Service/{service['metadata']['name']}"
        selector = service["spec"].get("selector") or {}
        targets = [w for w in workloads
                   if all((w["spec"]["template"]["metadata"].get("labels") or {}).get(k) == v
                          for k, v in selector.items())]
        if not report.expect(selector and targets,
                             f"{where}: selects {', '.join(w['metadata']['name'] for w in targets)}",
                             f"{where}: selector {selector} matches no workload's pods"):
            continue
        for port in service["spec"]["ports"]:
            target = port.get("targetPort", port["port"])
            ok = all(any(target in (name, number)
                         for c in pod_spec(w)["containers"]
                         for name, number in container_ports(c).items())
                     for w in targets)
            report.expect(ok, f"{where}: port {port['port']} -> container port {target}",
                          f"{where}: targetPort {target} is not a container port of the "
                          f"selected pods")
    for pdb in manifests.of_kind("PodDisruptionBudget"):
        selector = pdb["spec"]["selector"]["matchLabels"]
        matched = [w for w in workloads
                   if all((w["spec"]["template"]["metadata"].get("labels") or {}).get(k) == v
                          for k, v in selector.items())]
        ok = bool(matched) and pdb["spec"].get("minAvailable", 0) < matched[0]["spec"]["replicas"]
        report.expect(ok, f"PodDisruptionBudget/{pdb['metadata']['name']}: minAvailable below "
                          f"the replica count",
                      f"PodDisruptionBudget/{pdb['metadata']['name']}: selects nothing, or "
                      f"minAvailable would block every eviction")


def dockerfile_binaries(src):
    with open(os.path.join(src, "deploy", "Dockerfile")) as f:
        text = f.read()
    copied = set()
    for line in logical_lines(text):
        if line.startswith("COPY --from="):
            copied |= {os.path.basename(p) for p in line.split()[2:-1]}
    return copied


def cmd_k8s(src, outdir):
    report = Report()
    manifests = Manifests(report, os.path.join(src, "deploy", "k8s"))
    check_object_shapes(report, manifests)
    namespaces = manifests.of_kind("Namespace")
    if namespaces:
        report.expect(namespaces[0]["metadata"]["name"] == NAMESPACE,
                      f"Namespace {NAMESPACE} is the one the objects use",
                      f"namespace.yaml defines {namespaces[0]['metadata']['name']}, the objects "
                      f"use {NAMESPACE}")
    binaries = dockerfile_binaries(src)
    workloads = manifests.of_kind("Deployment") + manifests.of_kind("StatefulSet")
    for workload in workloads:
        check_workload(report, manifests, workload, binaries)
    check_services(report, manifests)

    commands = {pod_spec(w)["containers"][0].get("command", [None])[0]: w for w in workloads}
    for binary in ("rebound-server", "rebound-controlplane"):
        report.expect(binary in commands, f"a workload runs {binary}", f"no workload runs {binary}")
    server, cp = commands.get("rebound-server"), commands.get("rebound-controlplane")
    if server and cp:
        report.expect(server.get("_token_secret") is not None
                      and server.get("_token_secret") == cp.get("_token_secret"),
                      f"replicas and control plane read the replica token from the same Secret "
                      f"{cp.get('_token_secret')}",
                      f"replicas use token Secret {server.get('_token_secret')}, the control "
                      f"plane {cp.get('_token_secret')}: they must share one")
        operator_secret = cp.get("_operator_token_secret")
        mounted = {(v.get("secret") or {}).get("secretName")
                   for v in pod_spec(server).get("volumes") or []}
        report.expect(operator_secret is not None and operator_secret not in mounted,
                      f"replica pods do not mount the operator token Secret {operator_secret}",
                      f"replica pods mount the operator token Secret {operator_secret}: a "
                      f"compromised replica could push policies")

    # The embedded configs, for `rebound check`.
    os.makedirs(outdir, exist_ok=True)
    listed = []
    for configmap in manifests.of_kind("ConfigMap"):
        for key, text in (configmap.get("data") or {}).items():
            parsed = yaml.safe_load(text) if key.endswith((".yaml", ".yml")) else None
            if isinstance(parsed, dict) and ({"model_providers", "llm_providers", "server"}
                                             & parsed.keys()):
                path = os.path.join(outdir, f"configmap-{configmap['metadata']['name']}-{key}")
                with open(path, "w") as f:
                    f.write(text)
                listed.append(f"{path}\tConfigMap {configmap['metadata']['name']} key {key}")
    report.expect(listed, f"{len(listed)} rebound config(s) embedded in ConfigMaps",
                  "no ConfigMap holds a rebound config")
    with open(os.path.join(outdir, "configs.txt"), "w") as f:
        f.write("".join(line + "\n" for line in listed))
    report.exit()


# ---- Prometheus ------------------------------------------------------------

def apply_relabel(rule, labels):
    """One replace/keep/drop relabel rule, as Prometheus applies it."""
    sources = rule.get("source_labels") or []
    value = rule.get("separator", ";").join(labels.get(s, "") for s in sources)
    regex = re.compile(rule.get("regex", "(.*)"))
    action = rule.get("action", "replace")
    match = regex.fullmatch(value)
    if action == "keep":
        return labels if match else None
    if action == "drop":
        return None if match else labels
    if action == "replace":
        if match:
            replacement = re.sub(r"\$\{?(\d+)\}?", r"\\\1", rule.get("replacement", "$1"))
            labels = dict(labels)
            labels[rule["target_label"]] = match.expand(replacement)
        return labels
    if action == "labelmap":
        labels = dict(labels)
        for name in list(labels):
            m = regex.fullmatch(name)
            if m:
                labels[m.expand(re.sub(r"\$(\d+)", r"\\\1", rule.get("replacement", "$1")))] = \
                    labels[name]
        return labels
    return labels


def cmd_prometheus(src, out):
    report = Report()
    with open(os.path.join(src, "deploy", "prometheus", "prometheus.yml")) as f:
        config = yaml.safe_load(f)
    jobs = {job["job_name"]: job for job in config.get("scrape_configs") or []}
    report.expect(len(jobs) == len(config.get("scrape_configs") or []), "job names are unique",
                  "two scrape jobs share a name")
    static_targets = {t for job in jobs.values() for group in job.get("static_configs") or []
                      for t in group.get("targets") or []}
    for target in ("127.0.0.1:9464", "127.0.0.1:9465"):
        report.expect(target in static_targets, f"a static job scrapes {target}",
                      f"no static job scrapes {target}")

    sd_jobs = [job for job in jobs.values() if job.get("kubernetes_sd_configs")]
    if report.expect(sd_jobs, "a job discovers Kubernetes pods", "no kubernetes_sd_configs job"):
        job = sd_jobs[0]
        for sd in job["kubernetes_sd_configs"]:
            unknown = set(sd) - KUBERNETES_SD_KEYS
            report.expect(not unknown and sd.get("role") in KUBERNETES_SD_ROLES,
                          f"job {job['job_name']}: kubernetes_sd_configs role {sd.get('role')}",
                          f"job {job['job_name']}: kubernetes_sd_configs has unknown keys "
                          f"{sorted(unknown)} or role {sd.get('role')!r}")
        # Run the relabelling on the pods the manifests describe.
        rules = job.get("relabel_configs") or []
        # (The manifests themselves are the k8s check's business.)
        manifests = Manifests(Report(quiet=True), os.path.join(src, "deploy", "k8s"))
        for workload in manifests.of_kind("Deployment"):
            meta = workload["spec"]["template"]["metadata"]
            labels = {"__address__": "10.1.2.3:50051", "__metrics_path__": "/metrics",
                      "__meta_kubernetes_pod_phase": "Running",
                      "__meta_kubernetes_namespace": NAMESPACE,
                      "__meta_kubernetes_pod_name": workload["metadata"]["name"] + "-abc"}
            for key, value in (meta.get("annotations") or {}).items():
                labels["__meta_kubernetes_pod_annotation_" + re.sub(r"[^a-zA-Z0-9_]", "_", key)] \
                    = value
            for key, value in (meta.get("labels") or {}).items():
                labels["__meta_kubernetes_pod_label_" + re.sub(r"[^a-zA-Z0-9_]", "_", key)] = value
            try:
                for rule in rules:
                    if labels is None:
                        break
                    labels = apply_relabel(rule, labels)
            except (re.error, KeyError, IndexError) as e:
                report.error(f"job {job['job_name']}: a relabel rule does not apply: {e!r}")
                continue
            port = meta.get("annotations", {}).get("prometheus.io/port")
            report.expect(labels is not None and labels["__address__"] == f"10.1.2.3:{port}"
                          and labels["__metrics_path__"] == "/metrics",
                          f"job {job['job_name']}: pod of {workload['metadata']['name']} is "
                          f"scraped at 10.1.2.3:{port}/metrics",
                          f"job {job['job_name']}: the relabelling does not scrape the pod of "
                          f"{workload['metadata']['name']} at 10.1.2.3:{port}/metrics (got "
                          f"{labels and labels.get('__address__')})")
        try:
            unannotated = apply_relabel(rules[0], {"__address__": "10.1.2.3:80"}) if rules else {}
        except re.error:
            unannotated = {}
        report.expect(unannotated is None, "pods without prometheus.io/scrape are dropped",
                      "the first relabel rule must drop pods without prometheus.io/scrape")

    # Debian 12's promtool is built without Kubernetes discovery; this copy
    # swaps each kubernetes_sd_configs for an empty static_configs so that
    # promtool still checks everything else (relabel rules included).
    for job in jobs.values():
        if "kubernetes_sd_configs" in job:
            del job["kubernetes_sd_configs"]
            job.setdefault("static_configs", [])
    with open(out, "w") as f:
        yaml.safe_dump(config, f, sort_keys=False)
    report.exit()


# ---- Dockerfile ------------------------------------------------------------

def logical_lines(text):
    """Dockerfile instructions with continuation lines joined, comments dropped."""
    lines, current = [], ""
    for raw in text.splitlines():
        stripped = raw.strip()
        if stripped.startswith("#") or not stripped:
            continue
        current += " " + stripped[:-1] if stripped.endswith("\\") else " " + stripped
        if not stripped.endswith("\\"):
            lines.append(current.strip())
            current = ""
    if current:
        lines.append(current.strip())
    return lines


def stages(src):
    """[(FROM line, [instructions])] of deploy/Dockerfile."""
    with open(os.path.join(src, "deploy", "Dockerfile")) as f:
        text = f.read()
    result = []
    for line in logical_lines(text):
        if line.upper().startswith("FROM "):
            result.append((line, []))
        elif result:
            result[-1][1].append(line)
    return result


def apt_packages(instructions):
    packages = []
    for line in instructions:
        if not line.startswith("RUN "):
            continue
        for command in re.split(r"&&|;", line[4:]):
            words = shlex.split(command)
            if "apt-get" in words and "install" in words:
                after = words[words.index("install") + 1:]
                packages += [w for w in after if not w.startswith("-")]
    return packages


def run_sh_packages(src):
    with open(os.path.join(src, "deploy", "run.sh")) as f:
        match = re.search(r"^PACKAGES=\((.*?)^\)", f.read(), re.S | re.M)
    return match.group(1).split() if match else []


def cmd_dockerfile(src):
    report = Report()
    all_stages = stages(src)
    if not report.expect(len(all_stages) >= 2, f"{len(all_stages)} stages (multi-stage build)",
                         "the Dockerfile must have a build and a runtime stage"):
        report.exit()
    (build_from, build), (runtime_from, runtime) = all_stages[0], all_stages[-1]
    report.expect(re.search(r"debian:(12|bookworm)\b", build_from)
                  and re.search(r"debian:(12|bookworm)(-slim)?\b", runtime_from),
                  "both stages are Debian 12", "both stages must be FROM debian:12[-slim]")
    wanted, got = run_sh_packages(src), apt_packages(build)
    report.expect(wanted and sorted(wanted) == sorted(got),
                  f"build stage installs deploy/run.sh's {len(wanted)} packages",
                  f"build stage packages differ from deploy/run.sh: missing "
                  f"{sorted(set(wanted) - set(got))}, extra {sorted(set(got) - set(wanted))}")
    build_run = " ".join(build)
    for binary in BINARIES:
        report.expect(re.search(rf"ninja .*\b{re.escape(binary)}\b", build_run),
                      f"build stage builds {binary}", f"build stage does not build {binary}")
    copied = dockerfile_binaries(src)
    report.expect(set(BINARIES) <= copied, f"runtime stage copies {', '.join(BINARIES)}",
                  f"runtime stage copies {sorted(copied)}, not all of {BINARIES}")
    users = [line.split()[1] for line in runtime if line.startswith("USER ")]
    report.expect(users and users[-1].split(":")[0] == str(IMAGE_UID),
                  f"runtime user is uid {IMAGE_UID} (non-root)",
                  f"runtime stage must end with USER {IMAGE_UID}")
    exposed = {p for line in runtime if line.startswith("EXPOSE ") for p in line.split()[1:]}
    report.expect({"50051", "9464", "7500", "9465"} <= exposed, "EXPOSE 50051 9464 7500 9465",
                  f"EXPOSE lists {sorted(exposed)}, not all of 50051 9464 7500 9465")
    runtime_packages = apt_packages(runtime)
    report.expect("ca-certificates" in runtime_packages,
                  "runtime stage has ca-certificates (TLS to providers)",
                  "runtime stage lacks ca-certificates: TLS to providers would fail")
    report.expect(not any(p.endswith("-dev") for p in runtime_packages),
                  "runtime stage installs no -dev package",
                  "runtime stage installs -dev packages: build dependencies belong in the "
                  "build stage")

    # The build context: nothing CMake needs may be ignored.
    ignore_path = os.path.join(src, "deploy", "Dockerfile.dockerignore")
    with open(ignore_path) as f:
        patterns = [l.strip() for l in f if l.strip() and not l.startswith("#")]
    with open(os.path.join(src, "CMakeLists.txt")) as f:
        subdirs = re.findall(r"add_subdirectory\((\w+)\)", f.read())
    needed = ["CMakeLists.txt"] + subdirs
    ignored = [d for d in needed if any(fnmatch.fnmatch(d, p) for p in patterns)]
    report.expect(subdirs and not ignored,
                  f"Dockerfile.dockerignore keeps CMakeLists.txt and {', '.join(subdirs)}",
                  f"Dockerfile.dockerignore excludes {ignored}, which the build needs")
    report.exit()


def dpkg_owners(paths):
    """{path: the Debian package that ships it (or its /usr-merged twin)}, one
    dpkg query for all (each query reads the whole package database)."""
    candidates = {}
    for path in paths:
        for p in (path, os.path.realpath(path)):
            candidates.setdefault(p, path)
            if p.startswith("/usr/lib/"):
                candidates.setdefault(p[len("/usr"):], path)
            elif p.startswith("/lib/"):
                candidates.setdefault("/usr" + p, path)
    # Exit status 1 just means some candidate is not a package's file.
    output = subprocess.run(["dpkg", "-S"] + sorted(candidates), capture_output=True,
                            text=True).stdout
    owners = {}
    for line in output.splitlines():
        package, _, shipped = line.partition(": ")
        if shipped in candidates and "," not in package:
            owners.setdefault(candidates[shipped], package.split(":")[0])
    return owners


def cmake_defines_target(src, target):
    pattern = re.compile(rf"add_executable\(\s*{re.escape(target)}\b")
    for path in glob.glob(os.path.join(src, "*", "CMakeLists.txt")):
        with open(path) as f:
            if pattern.search(f.read()):
                return True
    return False


def cmd_runtime_libs(src, bin_dir):
    report = Report()
    with open("/etc/os-release") as f:
        os_release = f.read()
    if not report.expect(re.search(r'^VERSION_ID="?12"?$', os_release, re.M)
                         and "ID=debian" in os_release,
                         "this machine is Debian 12, like the image",
                         "this check maps libraries to Debian 12 packages and needs a Debian 12 "
                         "machine"):
        report.exit()
    packages = apt_packages(stages(src)[-1][1])
    # One query for all (each reads the whole package cache); it prints the
    # records it finds, whatever its exit status says about the others.
    known = set(re.findall(r"^Package: (\S+)$", subprocess.run(
        ["apt-cache", "show", "--no-all-versions"] + packages, capture_output=True,
        text=True).stdout, re.M))
    for package in packages:
        report.expect(package in known, f"runtime package {package} exists in Debian 12",
                      f"runtime package {package} is not in the apt lists (a typo, or run "
                      f"apt-get update)")
    allowed = set(packages) | BASE_IMAGE_PACKAGES
    # A REBOUND_SANITIZE build (its ctest sets the variable, see
    # tests/sanitizers/) links the sanitizer runtimes, which no image ships;
    # in any other build they are an error like every unlisted library.
    sanitizers = os.environ.get("REBOUND_SANITIZE", "")
    for binary in BINARIES:
        path = os.path.join(bin_dir, binary)
        if not os.path.exists(path):
            if cmake_defines_target(src, binary):
                report.error(f"{binary}: not built in {bin_dir}, though CMake defines it")
            else:
                # Said loudly: the check covers this binary once it exists.
                print(f"NOTE: {binary} is not a CMake target yet (not built): its libraries "
                      f"are not checked")
            continue
        needed = re.findall(r"\(NEEDED\)\s+Shared library: \[(.+?)\]",
                            subprocess.run(["readelf", "-d", path], capture_output=True,
                                           text=True, check=True).stdout)
        resolved = dict(re.findall(r"^\s*(\S+) => (/\S+)", subprocess.run(
            ["ldd", path], capture_output=True, text=True, check=True).stdout, re.M))
        package_of = dpkg_owners(resolved[library] for library in needed if library in resolved)
        owners = {}
        for library in needed:
            if sanitizers and SANITIZER_RUNTIME.match(library):
                print(f"NOTE: {binary}: {library} not checked: this is a sanitizer build "
                      f"(REBOUND_SANITIZE={sanitizers}); the image is built without sanitizers")
                continue
            owners.setdefault(package_of.get(resolved.get(library)), []).append(library)
        for owner, libraries in sorted(owners.items(), key=lambda kv: str(kv[0])):
            report.expect(owner in allowed,
                          f"{binary}: {', '.join(libraries)} <- {owner}",
                          f"{binary}: {', '.join(libraries)} come from package {owner}, which "
                          f"the runtime stage does not install")
    report.exit()


# ---- the multi-replica example --------------------------------------------

def cmd_multi_replica(src, outdir):
    report = Report()
    path = os.path.join(src, "deploy", "examples", "multi-replica.yaml")
    with open(path) as f:
        text_a = f.read()
    report.expect(REPLICA_B_SED in text_a,
                  "the header documents how replica B is derived",
                  f"the header must show the command this test runs: {REPLICA_B_SED}")
    # Replica B exactly as the header makes it.
    text_b = subprocess.run(shlex.split(REPLICA_B_SED) + [path], capture_output=True, text=True,
                            check=True).stdout
    os.makedirs(outdir, exist_ok=True)
    path_b = os.path.join(outdir, "multi-replica-b.yaml")
    with open(path_b, "w") as f:
        f.write(text_b)
    a, b = yaml.safe_load(text_a), yaml.safe_load(text_b)
    ports = []
    for name, config in (("replica A", a), ("replica B", b)):
        server, cp = config.get("server") or {}, config.get("control_plane") or {}
        ports += [port_of(server.get("listen")), port_of(server.get("metrics_listen"))]
        report.expect(cp.get("addresses") == ["127.0.0.1:7500"] and cp.get("token_file"),
                      f"{name}: talks to the control plane at 127.0.0.1:7500 with a token file",
                      f"{name}: control_plane must list 127.0.0.1:7500 and set token_file")
    report.expect(None not in ports and len(set(ports)) == 4
                  and not set(ports) & CONTROL_PLANE_DEFAULT_PORTS,
                  f"the replicas' ports {ports} are distinct and clear of the control plane's "
                  f"7500/9465",
                  f"port clash among {ports} or with the control plane's 7500/9465")
    ids = (a["control_plane"].get("replica_id"), b["control_plane"].get("replica_id"))
    report.expect(ids[0] and ids[0] != ids[1], f"replica ids {ids[0]} and {ids[1]} differ",
                  f"replica ids {ids} must be set and differ")
    policy_path = os.path.join(src, "deploy", "examples", "policy.yaml")
    with open(policy_path) as f:
        policy = yaml.safe_load(f)
    report.expect(isinstance(policy, dict) and set(policy) == {"model_providers"},
                  "deploy/examples/policy.yaml holds model_providers only, as a push must",
                  "deploy/examples/policy.yaml must hold model_providers only (the control "
                  "plane rejects server and control_plane in a push)")
    # A pushed policy reads a replica's environment only in access_key, and
    # only the names the replica's control_plane.allowed_env lists.
    for i, provider in enumerate((policy or {}).get("model_providers") or []):
        for key, value in provider.items():
            names = env_references(str(value))
            if not names:
                continue
            if key != "access_key":
                report.error(f"deploy/examples/policy.yaml: model_providers[{i}].{key} uses "
                             f"{', '.join(sorted(names))}: a push may use variables only in "
                             f"access_key")
                continue
            for name, config in (("replica A", a), ("replica B", b)):
                allowed = (config.get("control_plane") or {}).get("allowed_env") or []
                report.expect(names <= set(allowed),
                              f"{name}: allows {', '.join(sorted(names))} for the policy's "
                              f"model_providers[{i}].access_key",
                              f"{name}: control_plane.allowed_env lacks "
                              f"{', '.join(sorted(names - set(allowed)))}, which the policy's "
                              f"model_providers[{i}].access_key reads: the push would be NACKed")
    with open(os.path.join(outdir, "configs.txt"), "w") as f:
        f.write(f"{path}\tdeploy/examples/multi-replica.yaml (replica A)\n")
        f.write(f"{path_b}\treplica B, derived as its header says\n")
        f.write(f"{policy_path}\tdeploy/examples/policy.yaml (a policy to push)\n")
    report.exit()


def main(argv):
    commands = {
        "k8s": (cmd_k8s, 2), "prometheus": (cmd_prometheus, 2), "dockerfile": (cmd_dockerfile, 1),
        "runtime-libs": (cmd_runtime_libs, 2), "multi-replica": (cmd_multi_replica, 2),
    }
    if len(argv) < 2 or argv[1] not in commands or len(argv) - 2 != commands[argv[1]][1]:
        sys.exit(__doc__)
    command, _ = commands[argv[1]]
    command(*argv[2:])


if __name__ == "__main__":
    main(sys.argv)
