#!/usr/bin/env python3
"""The deploy/ manifest test: every YAML manifest under deploy/ parses, and every config key, port
and secret variable it references is checked against the real server.

  manifest_test.py MUSIC_SERVER_BINARY MUSICCTL_BINARY DEPLOY_DIR

- Each ConfigMap's config.json is loaded by `music-server --check_config` (the server's own strict
  parser: an unknown key, a bad value fails).
- Pending keys: PENDING_KEYS lists config keys a manifest may use before the server knows them
  (it held issue 10's database.* keys until the server learnt them); only manifests under
  PENDING_DIRS, which say so in their header, may use them. The test asks the server which of
  them it still refuses: it runs --check_config on a config holding just that key, and the key is
  pending while the answer is `config key "KEY": unknown key`. Pending keys are removed before a
  manifest's config is checked; every other key is checked as usual, so a typo is never hidden as
  "pending". A key in PENDING_KEYS that the server knows (it accepts the probe, or refuses its
  value rather than its name) is a failure: take it out of the list, and from then on
  --check_config validates it with the rest. So a key is pending only while it is true. (The
  simpler "skip whatever the server refuses" would let a key the server never learns, or a typo,
  pass unnoticed.)
- A `database.url` in a config must not carry a password (the server refuses one; the test checks
  it too, so the rule holds even for a manifest whose key is pending): the password comes from a
  Secret.
- Workloads running the music-server image: every containerPort is a listen port of the config they
  mount; every probe is a grpc.health.v1 probe on the gRPC port; terminationGracePeriodSeconds is
  longer than shutdown_grace_seconds; the file has a Service and a PodDisruptionBudget selecting
  them, and an HPA (if any) scales them on CPU.
- Every env var of a music-server container from a secretKeyRef is a secret variable the server
  reads: the ones --check_config lists (from the provider modules' secret specs, the callback token
  secrets, the archive's keys), the variable the config's `database.url_env` names, and libpq's
  PGPASSWORD when the config has a `database.url`. Every one the server requires (the callback token
  secret, the `database.url_env` variable) is mounted from a Secret, not optional.
- Every workload (music-server or not, e.g. the trial PostgreSQL): its selector matches its pods;
  each container has a readiness probe, resources.requests.cpu and resources.limits.memory, and
  mounts only volumes it has; a StatefulSet's serviceName is a Service of the file; a secretKeyRef
  to a Secret defined in the same directory names one of its keys. Every Service, PDB and HPA
  selects a workload of its file, and each Service targetPort is a containerPort of those pods.
- A Secret committed here holds placeholders: every password (a `password` key, the password in a
  postgresql:// URL) contains "CHANGE-ME"; a URL's user and password agree with the Secret's
  `username` and `password`, and its host, when the file defines it, is a Service with that port.
- Envoy's cluster port is the Service's gRPC port; WatchTask has no route timeout, unary RPCs do.
- The Dockerfile's runtime apt packages cover every shared library `ldd` lists for the binaries
  (each .so mapped to its Debian package with `dpkg -S`; the base image's and the listed
  packages' dependencies count, read from the local dpkg database).
"""
import copy
import glob
import json
import os
import re
import subprocess
import sys
import tempfile
import urllib.parse

import yaml

# Config keys a manifest uses before the server knows them, and why, e.g.
#   "database.url": "issue 10 (PostgreSQL store)",
# Each must still be refused as an unknown key (see the docstring). Empty: the manifests use only
# keys the server knows (issue 10's database.* keys became real with the PostgreSQL store).
PENDING_KEYS = {}
# Manifests that may use PENDING_KEYS (they say plainly in their header what they wait for).
PENDING_DIRS = {"k8s-replicas"}
# Secret variables libpq reads itself, which the server therefore does not list: the password for
# a password-less `database.url`.
LIBPQ_SECRET_ENVS = {"PGPASSWORD"}
# What marks a committed credential as a placeholder, so nobody mistakes it for a real one.
PLACEHOLDER = "CHANGE-ME"

failures = []


def fail(where, message):
    failures.append(f"{where}: {message}")


def run_check_config(server, config):
    """Runs `music-server --check_config` on `config`; returns (accepted, stdout, stderr)."""
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(config, f)
        path = f.name
    try:
        run = subprocess.run([server, "--check_config", "--config", path], capture_output=True,
                             text=True, timeout=30)
    finally:
        os.unlink(path)
    return run.returncode == 0, run.stdout, run.stderr.strip()


def check_config(server, config, where):
    """The server's description of `config` (listen ports, secret variables), or None."""
    accepted, out, err = run_check_config(server, config)
    if not accepted:
        fail(where, f"music-server --check_config refused the config: {err}")
        return None
    return json.loads(out)


def get_key(config, dotted):
    """The value at `dotted` (e.g. database.url) in `config`, or None."""
    node = config
    for p in dotted.split("."):
        if not isinstance(node, dict) or p not in node:
            return None
        node = node[p]
    return node


def set_key(config, dotted, value):
    parts = dotted.split(".")
    node = config
    for p in parts[:-1]:
        node = node.setdefault(p, {})
    node[parts[-1]] = value


def remove_key(config, dotted):
    """Removes `dotted` from `config`; True when it was there."""
    parts = dotted.split(".")
    node = get_key(config, ".".join(parts[:-1])) if len(parts) > 1 else config
    if not isinstance(node, dict) or parts[-1] not in node:
        return False
    del node[parts[-1]]
    return True


def probe_pending(server):
    """The PENDING_KEYS the server still refuses as unknown keys; a failure for each it knows."""
    pending = set()
    for key in sorted(PENDING_KEYS):
        # Any value will do: the parser looks the key up before it reads the value, so only an
        # unknown key is refused with "unknown key"; a known one is accepted or refused for "x".
        probe = {}
        set_key(probe, key, "x")
        accepted, _, err = run_check_config(server, probe)
        if not accepted and f'config key "{key}": unknown key' in err:
            pending.add(key)
        else:
            answer = "accepts it" if accepted else f"knows it ({err})"
            fail("PENDING_KEYS", f"{key}, pending {PENDING_KEYS[key]}: the server {answer}; "
                                 f"remove it from PENDING_KEYS and update the notes of the "
                                 f"manifests using it")
    return pending


def pod_specs(docs):
    for d in docs:
        if d.get("kind") in ("Deployment", "StatefulSet"):
            yield d, d["spec"]["template"]


def is_music_server(template):
    """True when a container of the pod runs the music-server image (any registry, tag, digest)."""
    for c in template["spec"]["containers"]:
        name = c.get("image", "").rsplit("/", 1)[-1].split("@")[0].split(":")[0]
        if name == "music-server":
            return True
    return False


def selects(selector, template):
    return not (selector.items() - template["metadata"]["labels"].items())


def secret_keys(doc):
    return set(doc.get("data") or {}) | set(doc.get("stringData") or {})


def check_secret(where, secret, services):
    """A committed Secret holds placeholders, and its database URL agrees with its other keys."""
    name = f"{where} Secret {secret['metadata']['name']}"
    if secret.get("data"):
        fail(name, "use stringData: base64 `data` hides whether a real credential was committed")
    values = secret.get("stringData") or {}
    for key, value in values.items():
        value = str(value)
        if key == "password" and PLACEHOLDER not in value:
            fail(name, f"`{key}` is not a placeholder (it must contain {PLACEHOLDER})")
        if not re.match(r"postgres(ql)?://", value):
            continue
        url = urllib.parse.urlsplit(value)
        if url.password is not None and PLACEHOLDER not in url.password:
            fail(name, f"the password in `{key}` is not a placeholder (must contain {PLACEHOLDER})")
        if "password" in values and url.password != str(values["password"]):
            fail(name, f"the password in `{key}` is not the Secret's `password`")
        if "username" in values and url.username != str(values["username"]):
            fail(name, f"the user in `{key}` is not the Secret's `username`")
        host = (url.hostname or "").split(".")[0]
        port = url.port or 5432
        svc = services.get(host)
        if services and svc is None:
            fail(name, f"`{key}` points at {url.hostname}, no Service of this file "
                       f"{sorted(services)}")
        elif svc is not None and port not in {p["port"] for p in svc["spec"]["ports"]}:
            fail(name, f"`{key}` uses port {port}, which Service {host} does not serve")


def check_database_url(where, config):
    url = get_key(config, "database.url")
    if not isinstance(url, str):
        return
    parts = urllib.parse.urlsplit(url)
    if parts.password is not None or "password" in urllib.parse.parse_qs(parts.query):
        fail(where, "database.url holds a password: put the URL in a Secret (database.url_env) or "
                    "the password in PGPASSWORD")


def check_workload(where, workload, template, services, dir_secrets):
    """What every workload needs, whatever it runs."""
    wname = f"{where} {workload['kind']} {workload['metadata']['name']}"
    spec = template["spec"]
    if not selects(workload["spec"]["selector"]["matchLabels"], template):
        fail(wname, "selector does not match the pod labels")
    if workload["kind"] == "StatefulSet" and workload["spec"].get("serviceName") not in services:
        fail(wname, f"serviceName {workload['spec'].get('serviceName')} is no Service of this file")
    volumes = {v["name"] for v in spec.get("volumes", [])}
    volumes |= {t["metadata"]["name"] for t in workload["spec"].get("volumeClaimTemplates", [])}
    for c in spec["containers"]:
        cname = f"{wname} container {c['name']}"
        if "readinessProbe" not in c:
            fail(cname, "no readinessProbe: its Service would send traffic to a pod not ready")
        res = c.get("resources", {})
        if not res.get("requests", {}).get("cpu") or not res.get("limits", {}).get("memory"):
            fail(cname, "needs resources.requests.cpu and resources.limits.memory")
        for m in c.get("volumeMounts", []):
            if m["name"] not in volumes:
                fail(cname, f"mounts {m['name']}, which is no volume of the pod {sorted(volumes)}")
        for env in c.get("env", []):
            ref = env.get("valueFrom", {}).get("secretKeyRef")
            if ref and ref["name"] in dir_secrets and ref["key"] not in dir_secrets[ref["name"]]:
                fail(cname, f"env {env['name']} reads key {ref['key']} of Secret {ref['name']}, "
                            f"which has only {sorted(dir_secrets[ref['name']])}")
    return wname


def check_music_server(server, where, docs, workloads, pending, pending_ok):
    """The music-server workloads of a file against the config they mount and the real server."""
    described_by_cm = {}
    for cm in docs:
        if cm.get("kind") != "ConfigMap" or "config.json" not in cm.get("data", {}):
            continue
        cmname = f"{where} ConfigMap {cm['metadata']['name']}"
        config = json.loads(cm["data"]["config.json"])
        check_database_url(cmname, config)
        checked = copy.deepcopy(config)
        for key in sorted(pending):
            if remove_key(checked, key) and not pending_ok:
                fail(cmname, f"uses {key}, pending {PENDING_KEYS[key]}, outside "
                             f"{sorted(PENDING_DIRS)}")
        described = check_config(server, checked, cmname)
        listen_ports = set()
        grpc_port = None
        if described:
            for l in described["listen"]:
                listen_ports.add(l["port"])
                if l["key"] == "listen":
                    grpc_port = l["port"]
        # Keys other engineers add (e.g. metrics.listen) are picked up from the config itself.
        def walk(node):
            for k, v in node.items():
                if isinstance(v, dict):
                    walk(v)
                elif k == "listen" and isinstance(v, str) and ":" in v:
                    listen_ports.add(int(v.rsplit(":", 1)[1]))
        walk(config)
        described_by_cm[cm["metadata"]["name"]] = (config, described, listen_ports, grpc_port)
    if not described_by_cm:
        fail(where, "no ConfigMap with config.json for music-server")
        return

    for workload, template, wname in workloads:
        spec = template["spec"]
        used = [v["configMap"]["name"] for v in spec.get("volumes", []) if "configMap" in v]
        used = [n for n in used if n in described_by_cm]
        if not used:
            fail(wname, "mounts none of the file's config.json ConfigMaps")
            continue
        config, described, listen_ports, grpc_port = described_by_cm[used[0]]
        grace = spec.get("terminationGracePeriodSeconds", 30)
        if described and not grace > described["shutdown_grace_seconds"]:
            fail(wname, f"terminationGracePeriodSeconds {grace} is not longer than "
                        f"shutdown_grace_seconds {described['shutdown_grace_seconds']}")
        # The variables the server reads secrets from, and those it does not start without. The
        # database URL's variable is read from the config: it holds the password, so it is a
        # secret, and the server has no store without it.
        secret_envs = set((described or {}).get("secret_envs", []))
        required = set((described or {}).get("required_secret_envs", []))
        url_env = get_key(config, "database.url_env")
        if isinstance(url_env, str) and url_env:
            secret_envs.add(url_env)
            required.add(url_env)
        if get_key(config, "database.url") is not None:
            secret_envs |= LIBPQ_SECRET_ENVS
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
            for env in c.get("env", []):
                ref = env.get("valueFrom", {}).get("secretKeyRef")
                if ref and described and env["name"] not in secret_envs:
                    fail(cname, f"env {env['name']} from Secret {ref['name']} is not a secret "
                                f"variable the server reads {sorted(secret_envs)}")
            # A secret the server does not start without is mounted from a Secret and not
            # optional: a pod without it must not be scheduled as if fine.
            by_name = {e["name"]: e for e in c.get("env", [])}
            for need in sorted(required):
                ref = by_name.get(need, {}).get("valueFrom", {}).get("secretKeyRef")
                if not ref:
                    fail(cname, f"env {need}, which the server requires, is not set from a Secret")
                elif ref.get("optional"):
                    fail(cname, f"env {need}, which the server requires, is mounted optional")

    templates = [t for _, t, _ in workloads]
    names = {(w["kind"], w["metadata"]["name"]) for w, _, _ in workloads}
    for d in docs:
        if d.get("kind") != "HorizontalPodAutoscaler":
            continue
        ref = d["spec"]["scaleTargetRef"]
        on_cpu = any(m.get("resource", {}).get("name") == "cpu" for m in d["spec"]["metrics"])
        if (ref["kind"], ref["name"]) in names and not on_cpu:
            fail(f"{where} HPA {d['metadata']['name']}", "does not scale on CPU")

    def selected_by(kind, selector_of):
        return any(d.get("kind") == kind and any(selects(selector_of(d), t) for t in templates)
                   for d in docs)

    if not selected_by("PodDisruptionBudget", lambda d: d["spec"]["selector"]["matchLabels"]):
        fail(where, "no PodDisruptionBudget selects the music-server pods")
    if not selected_by("Service", lambda d: d["spec"]["selector"]):
        fail(where, "no Service selects the music-server pods")


def check_k8s(server, path, docs, pending, dir_secrets):
    where = os.path.relpath(path)
    pending_ok = os.path.basename(os.path.dirname(path)) in PENDING_DIRS
    services = {d["metadata"]["name"]: d for d in docs if d.get("kind") == "Service"}
    workloads = []  # (workload, pod template, name for messages)
    music = []
    for workload, template in pod_specs(docs):
        wname = check_workload(where, workload, template, services, dir_secrets)
        workloads.append((workload, template, wname))
        if is_music_server(template):
            music.append((workload, template, wname))
    templates = [t for _, t, _ in workloads]

    # Every Service, PDB and HPA is for a workload of its own file.
    for name, svc in services.items():
        selected = [t for t in templates if selects(svc["spec"]["selector"], t)]
        if not selected:
            fail(f"{where} Service {name}", "selector matches no pod of this file")
            continue
        ports = {p["name"]: p["containerPort"] for t in selected for c in t["spec"]["containers"]
                 for p in c.get("ports", [])}
        for sp in svc["spec"]["ports"]:
            t = sp.get("targetPort", sp["port"])
            if t not in ports and t not in ports.values():
                fail(f"{where} Service {name} port {sp['name']}",
                     f"targetPort {t} is no containerPort")
    for d in docs:
        if d.get("kind") == "PodDisruptionBudget":
            if not any(selects(d["spec"]["selector"]["matchLabels"], t) for t in templates):
                fail(f"{where} PDB {d['metadata']['name']}", "selector matches no pod of this file")
        if d.get("kind") == "HorizontalPodAutoscaler":
            ref = d["spec"]["scaleTargetRef"]
            if not any((ref["kind"], ref["name"]) == (w["kind"], w["metadata"]["name"])
                       for w, _, _ in workloads):
                fail(f"{where} HPA {d['metadata']['name']}",
                     f"scales {ref}, no workload of this file")
        if d.get("kind") == "Secret":
            check_secret(where, d, services)

    if music:
        check_music_server(server, where, docs, music, pending, pending_ok)
    elif any(d.get("kind") == "ConfigMap" and "config.json" in d.get("data", {}) for d in docs):
        fail(where, "has a music-server config.json but no workload runs the music-server image")
    return list(services.values())


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
    parsed = []
    for path in manifests:
        try:
            parsed.append((path, [d for d in yaml.safe_load_all(open(path)) if d is not None]))
        except yaml.YAMLError as e:
            fail(path, f"does not parse: {e}")
    # A directory's manifests are applied together: a Secret one file defines, another may use.
    secrets = {}
    for path, docs in parsed:
        for d in docs:
            if d.get("kind") == "Secret":
                secrets.setdefault(os.path.dirname(path), {})[d["metadata"]["name"]] = secret_keys(d)
    pending = probe_pending(server)
    grpc_service_ports = set()
    envoy = []
    for path, docs in parsed:
        if any("apiVersion" in d for d in docs):
            for svc in check_k8s(server, path, docs, pending, secrets.get(os.path.dirname(path), {})):
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
    if pending:
        print(f"pending (refused as unknown by the server, left out of the configs): {sorted(pending)}")
    print(f"{len(manifests)} manifests, {len(failures)} failures")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
