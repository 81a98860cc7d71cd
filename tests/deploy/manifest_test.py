#!/usr/bin/env python3
"""The deploy/ manifest test: every YAML manifest under deploy/ parses, and every config key, port
and secret variable it references is checked against the real server.

  manifest_test.py MUSIC_SERVER_BINARY MUSICCTL_BINARY DEPLOY_DIR

- Each ConfigMap's config.json is loaded by `music-server --check_config` (the server's own strict
  parser: an unknown key, a bad value fails). Keys in PENDING_KEYS are removed first, and the test
  checks that the server still REFUSES each of them: once one becomes real, this fails and the
  list (and the manifest's "not yet deployable" note) must be updated.
- Every containerPort is a listen port of that config; every probe's port is the gRPC port; every
  Service targetPort names a containerPort; the HPA and PDB select the workload's pods.
- Every env var from a secretKeyRef is a secret variable the server reads (--check_config lists
  them from the provider modules' secret specs); every one the server requires (the callback
  token secret) is mounted from a Secret, not optional.
- terminationGracePeriodSeconds is longer than shutdown_grace_seconds.
- Envoy's cluster port is the Service's gRPC port; WatchTask has no route timeout, unary RPCs do.
- The Dockerfile's runtime apt packages cover every shared library `ldd` lists for the binaries
  (each .so mapped to its Debian package with `dpkg -S`; the base image's and the listed
  packages' dependencies count, read from the local dpkg database).
"""
import glob
import json
import os
import re
import subprocess
import sys
import tempfile

import yaml

# Config keys a manifest uses before the server knows them, and why. Each must still be refused.
PENDING_KEYS = {k: "issue 10 (PostgreSQL store with leases)" for k in
                ("database.url", "database.url_env", "database.connections", "database.lease_seconds")}
# Manifests that may use PENDING_KEYS (they say plainly they must not be applied yet).
PENDING_DIRS = {"k8s-replicas"}

failures = []


def fail(where, message):
    failures.append(f"{where}: {message}")


def check_config(server, config, where):
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(config, f)
        path = f.name
    try:
        run = subprocess.run([server, "--check_config", "--config", path], capture_output=True,
                             text=True, timeout=30)
    finally:
        os.unlink(path)
    if run.returncode != 0:
        fail(where, f"music-server --check_config refused the config: {run.stderr.strip()}")
        return None
    return json.loads(run.stdout)


def remove_key(config, dotted):
    """Removes `dotted` (e.g. database.url) from `config`; True when it was there."""
    parts = dotted.split(".")
    node = config
    for p in parts[:-1]:
        if not isinstance(node, dict) or p not in node:
            return False
        node = node[p]
    if not isinstance(node, dict) or parts[-1] not in node:
        return False
    del node[parts[-1]]
    return True


def pod_specs(docs):
    for d in docs:
        if d.get("kind") in ("Deployment", "StatefulSet"):
            yield d, d["spec"]["template"]


def check_k8s(server, path, docs):
    where = os.path.relpath(path)
    pending_ok = os.path.basename(os.path.dirname(path)) in PENDING_DIRS
    configmaps = [d for d in docs if d.get("kind") == "ConfigMap"]
    if not configmaps:
        fail(where, "no ConfigMap with config.json")
        return
    described = None
    url_envs = set()
    for cm in configmaps:
        config = json.loads(cm["data"]["config.json"])
        if config.get("database", {}).get("url_env"):
            url_envs.add(config["database"]["url_env"])
        for key, why in PENDING_KEYS.items():
            if remove_key(config, key):
                if not pending_ok:
                    fail(where, f"uses {key}, pending {why}, outside {sorted(PENDING_DIRS)}")
                # The key must still be unknown to the server (else update PENDING_KEYS).
                probe = {}
                node = probe
                parts = key.split(".")
                for p in parts[:-1]:
                    node = node.setdefault(p, {})
                node[parts[-1]] = "x"
                if check_config_quiet(server, probe):
                    fail(where, f"{key} is accepted by the server now: remove it from PENDING_KEYS")
        described = check_config(server, config, f"{where} ConfigMap {cm['metadata']['name']}")
        listen_ports = set()
        grpc_port = None
        if described:
            for l in described["listen"]:
                listen_ports.add(l["port"])
                if l["key"] == "listen":
                    grpc_port = l["port"]
        # Keys other engineers add (e.g. metrics.listen) are picked up from the config itself.
        def walk(node, prefix=""):
            for k, v in node.items():
                if isinstance(v, dict):
                    walk(v, f"{prefix}{k}.")
                elif k == "listen" and isinstance(v, str) and ":" in v:
                    listen_ports.add(int(v.rsplit(":", 1)[1]))
        walk(config)

    services = [d for d in docs if d.get("kind") == "Service"]
    for workload, template in pod_specs(docs):
        wname = f"{where} {workload['kind']} {workload['metadata']['name']}"
        labels = template["metadata"]["labels"]
        spec = template["spec"]
        if workload["spec"]["selector"]["matchLabels"].items() - labels.items():
            fail(wname, "selector does not match the pod labels")
        grace = spec.get("terminationGracePeriodSeconds", 30)
        if described and not grace > described["shutdown_grace_seconds"]:
            fail(wname, f"terminationGracePeriodSeconds {grace} is not longer than "
                        f"shutdown_grace_seconds {described['shutdown_grace_seconds']}")
        used_cms = {v["configMap"]["name"] for v in spec.get("volumes", []) if "configMap" in v}
        if not used_cms & {cm["metadata"]["name"] for cm in configmaps}:
            fail(wname, "mounts none of the file's ConfigMaps")
        for c in spec["containers"]:
            cname = f"{wname} container {c['name']}"
            ports = {p["name"]: p["containerPort"] for p in c.get("ports", [])}
            for name, port in ports.items():
                if port not in listen_ports:
                    fail(cname, f"containerPort {name}={port} is not a listen port of the config "
                                f"{sorted(listen_ports)}")
            for probe in ("readinessProbe", "livenessProbe"):
                p = c.get(probe)
                if not p or "grpc" not in p:
                    fail(cname, f"{probe} is not a grpc.health.v1 probe")
                    continue
                port = p["grpc"]["port"]
                if port != grpc_port:
                    fail(cname, f"{probe} port {port} is not the gRPC listen port {grpc_port}")
            res = c.get("resources", {})
            if not res.get("requests", {}).get("cpu") or not res.get("limits", {}).get("memory"):
                fail(cname, "needs resources.requests.cpu and resources.limits.memory")
            for env in c.get("env", []):
                ref = env.get("valueFrom", {}).get("secretKeyRef")
                if ref and described and env["name"] not in set(described["secret_envs"]) | url_envs:
                    fail(cname, f"env {env['name']} from Secret {ref['name']} is not a secret "
                                f"variable the server reads {described['secret_envs']}")
            # A secret the server does not start without (the callback token secret) is mounted
            # from a Secret and not optional: a pod without it must not be scheduled as if fine.
            by_name = {e["name"]: e for e in c.get("env", [])}
            for need in (described or {}).get("required_secret_envs", []):
                ref = by_name.get(need, {}).get("valueFrom", {}).get("secretKeyRef")
                if not ref:
                    fail(cname, f"env {need}, which the server requires, is not set from a Secret")
                elif ref.get("optional"):
                    fail(cname, f"env {need}, which the server requires, is mounted optional")
        for svc in services:
            if svc["spec"]["selector"].items() - labels.items():
                fail(f"{where} Service", "selector does not match the pod labels")
            all_ports = {p["name"]: p["containerPort"] for c in spec["containers"]
                         for p in c.get("ports", [])}
            for sp in svc["spec"]["ports"]:
                t = sp.get("targetPort", sp["port"])
                if t not in all_ports and t not in all_ports.values():
                    fail(f"{where} Service port {sp['name']}", f"targetPort {t} is no containerPort")
        for d in docs:
            if d.get("kind") == "PodDisruptionBudget":
                if d["spec"]["selector"]["matchLabels"].items() - labels.items():
                    fail(f"{where} PDB", "selector does not match the pod labels")
            if d.get("kind") == "HorizontalPodAutoscaler":
                ref = d["spec"]["scaleTargetRef"]
                if (ref["kind"], ref["name"]) != (workload["kind"], workload["metadata"]["name"]):
                    fail(f"{where} HPA", f"scales {ref}, not the {workload['kind']}")
                if not any(m.get("resource", {}).get("name") == "cpu" for m in d["spec"]["metrics"]):
                    fail(f"{where} HPA", "does not scale on CPU")
    kinds = {d.get("kind") for d in docs}
    for need in ("ConfigMap", "Service", "PodDisruptionBudget"):
        if need not in kinds:
            fail(where, f"no {need}")
    return services


def check_config_quiet(server, config):
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(config, f)
        path = f.name
    try:
        return subprocess.run([server, "--check_config", "--config", path], capture_output=True,
                              timeout=30).returncode == 0
    finally:
        os.unlink(path)


def find_routes(node):
    if isinstance(node, dict):
        if "routes" in node and isinstance(node["routes"], list):
            yield from node["routes"]
        for v in node.values():
            yield from find_routes(v)
    elif isinstance(node, list):
        for v in node:
            yield from find_routes(v)


def check_envoy(path, doc, grpc_service_ports):
    where = os.path.relpath(path)
    for cluster in doc["static_resources"]["clusters"]:
        for ep in cluster["load_assignment"]["endpoints"]:
            for lb in ep["lb_endpoints"]:
                sa = lb["endpoint"]["address"]["socket_address"]
                if not sa["address"].startswith("music-server."):
                    fail(where, f"cluster {cluster['name']} does not point at the music-server Service")
                if sa["port_value"] not in grpc_service_ports:
                    fail(where, f"cluster port {sa['port_value']} is not the Service's gRPC port "
                                f"{sorted(grpc_service_ports)}")
    routes = list(find_routes(doc))
    watch = [r for r in routes if r["match"].get("path") == "/music.v1.MusicService/WatchTask"]
    if len(watch) != 1:
        fail(where, "needs exactly one route for /music.v1.MusicService/WatchTask")
    else:
        r = watch[0]["route"]
        if r.get("timeout") not in ("0s", 0):
            fail(where, "the WatchTask route must disable the route timeout (timeout: 0s)")
        msd = r.get("max_stream_duration", {})
        if msd.get("max_stream_duration", "0s") != "0s" or msd.get("grpc_timeout_header_max", "0s") != "0s":
            fail(where, "the WatchTask route must not bound the stream's duration")
    catch_all = [r for r in routes if r["match"].get("prefix") == "/"]
    if not catch_all or catch_all[0]["route"].get("timeout") in (None, "0s", 0):
        fail(where, "the unary (catch-all) route needs a non-zero timeout")
    if watch and catch_all and routes.index(catch_all[0]) < routes.index(watch[0]):
        fail(where, "the catch-all route comes before WatchTask's and would take it")


def check_dockerfile(path, binaries):
    where = os.path.relpath(path)
    text = open(path).read().replace("\\\n", " ")
    stages = re.split(r"^FROM ", text, flags=re.M)
    runtime = [s for s in stages if s.startswith("debian:bookworm-slim")]
    if len(stages) < 3 or not runtime:
        fail(where, "needs a build stage and a debian:bookworm-slim runtime stage")
        return
    if not re.search(r"^FROM debian:bookworm\b", text, flags=re.M):
        fail(where, "the build stage must be Debian bookworm")
    runtime = runtime[0]
    m = re.search(r"apt-get install (.*?)&&", runtime, flags=re.S)
    if not m:
        fail(where, "no apt-get install in the runtime stage")
        return
    listed = {t for t in m.group(1).split() if not t.startswith("-")}
    if not re.search(r"^USER (?!root\b|0\b)\S+", runtime, flags=re.M):
        fail(where, "the runtime stage must run as a non-root USER")
    for copy in re.findall(r"COPY --from=build /src/(\S+)", runtime):
        # The image builds into /src/build; the binaries under test may come from another build
        # directory (CI's build-asan): compare the path inside the build directory.
        inside = copy.split("/", 1)[1] if copy.startswith("build/") else copy
        if not any(b.endswith("/" + inside) for b in binaries):
            fail(where, f"copies /src/{copy}, which is not where the build puts the binaries")

    # The local dpkg database in one query: each installed package's dependencies, and what
    # bookworm-slim has (the Essential and "required" packages, all of which are in the slim image).
    run = subprocess.run(["dpkg-query", "-W",
                          "-f=${Package}\t${Essential}\t${Priority}\t${Depends},${Pre-Depends}\n"],
                         capture_output=True, text=True, check=True)
    deps = {}
    base = set()
    for line in run.stdout.splitlines():
        name, essential, priority, depends = (line.split("\t") + ["", "", ""])[:4]
        deps[name] = {alt.strip().split("|")[0].split()[0].split(":")[0]
                      for alt in depends.split(",") if alt.strip()}
        if essential == "yes" or priority == "required":
            base.add(name)
    covered = set()
    todo = list(listed | base)
    while todo:
        p = todo.pop()
        if p in covered:
            continue
        covered.add(p)
        todo.extend(deps.get(p, set()) - covered)

    libs = {}  # path -> (binary, soname)
    for binary in binaries:
        out = subprocess.run(["ldd", binary], capture_output=True, text=True, check=True).stdout
        for line in out.splitlines():
            if "not found" in line:
                fail(where, f"{os.path.basename(binary)}: {line.strip()}")
                continue
            m = re.match(r"\s*(\S+) => (/\S+)", line)
            if m:
                libs.setdefault(m.group(2), (os.path.basename(binary), m.group(1)))
    # dpkg knows a library by the path its package installed, which on a merged-/usr system may
    # be /lib/... or /usr/lib/... whichever ldd printed: ask for both, in one call.
    candidates = {}
    for path in libs:
        real = os.path.realpath(path)
        for c in {path, real, path.replace("/usr/lib/", "/lib/", 1), real.replace("/usr/lib/", "/lib/", 1),
                  re.sub(r"^/lib/", "/usr/lib/", path), re.sub(r"^/lib/", "/usr/lib/", real)}:
            candidates[c] = path
    run = subprocess.run(["dpkg", "-S", *sorted(candidates)], capture_output=True, text=True)
    owner = {}
    for line in run.stdout.splitlines():
        pkgs, _, found = line.partition(": ")
        if found in candidates:
            owner.setdefault(candidates[found], pkgs.split(",")[0].split(":")[0].strip())
    for path, (binary, soname) in sorted(libs.items()):
        if path not in owner:
            fail(where, f"{binary} loads {soname}, which no Debian package owns")
        elif owner[path] not in covered:
            fail(where, f"{binary} loads {soname} from {owner[path]}, which the runtime stage does "
                        f"not install")


def main():
    server, musicctl, deploy = sys.argv[1], sys.argv[2], sys.argv[3]
    manifests = sorted(glob.glob(os.path.join(deploy, "**", "*.yaml"), recursive=True))
    if len(manifests) < 3:
        fail(deploy, f"expected the k8s, k8s-replicas and envoy manifests, found {manifests}")
    grpc_service_ports = set()
    envoy = []
    for path in manifests:
        try:
            docs = [d for d in yaml.safe_load_all(open(path)) if d is not None]
        except yaml.YAMLError as e:
            fail(path, f"does not parse: {e}")
            continue
        if any("apiVersion" in d for d in docs):
            for svc in check_k8s(server, path, docs) or []:
                for p in svc["spec"]["ports"]:
                    if p["name"] == "grpc":
                        grpc_service_ports.add(p["port"])
        elif "static_resources" in docs[0]:
            envoy.append((path, docs[0]))
        else:
            fail(path, "neither a Kubernetes manifest nor an Envoy config")
    if not envoy:
        fail(deploy, "no Envoy example")
    for path, doc in envoy:
        check_envoy(path, doc, grpc_service_ports)
    check_dockerfile(os.path.join(deploy, "Dockerfile"), [server, musicctl])
    for f in failures:
        print("FAIL", f)
    print(f"{len(manifests)} manifests, {len(failures)} failures")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
