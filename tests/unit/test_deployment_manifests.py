"""deploy/: the container images, the Kubernetes manifests and the Rasa Helm chart's values, checked statically.

Nothing here builds an image, renders the chart or talks to a cluster (docs/deployment.md, "What was tested
here and what was not"). What it does check, so that a wrong manifest fails here rather than in a cluster:

- every YAML file under deploy/ parses, every object is of a known kind with that kind's apiVersion, and the
  kustomization lists every manifest (all but the Secret template, which it must not list);
- every Deployment and the migration Job run as a non-root user with no privilege escalation, a read-only root
  filesystem and no capabilities, request CPU and memory and limit memory; every Deployment has a liveness
  probe, and a readiness probe when a Service sends it traffic; Services, Ingress rules and probes name ports
  and Services that exist;
- every environment variable the manifests and the Helm values set is one Hearth reads (or, named here, one its
  servers read), and is described in docs/deployment.md; each container gets every variable its role needs to
  start; each shared secret reaches both sides (ACTION_SERVER_TOKEN the Rasa server and the action server, and so
  on); the demo website gets no shared password; the console trusts X-Forwarded-For from private addresses only;
- no Secret or ConfigMap holds a real-looking value, and nothing secret is set as a literal;
- every path a Dockerfile copies exists and is not excluded by .dockerignore, each image installs its lock
  file with --no-deps as scripts/bootstrap.sh does, and the Rasa image copies every training input;
- the containers' entrypoint runs the Procfile's commands, refuses missing or placeholder settings, and writes
  the Rasa server's endpoints with the event broker and the Redis lock store.

Which variables "Hearth reads": every upper-case string constant in the Python that runs in the images or
starts the processes (actions/, bot/, crm_adapter/, crm_api/, console/, website/, hearth/, scripts/ and the containers'
entrypoint, found with `ast`), every ${VAR} in bot/*.yml and every $VAR in the Procfile. String constants
rather than a grep for `os.environ.get(...)`, because the code also reads variables through helpers
(`read.number("CSAT_MIN_HOURS", 24)` in hearth/settings.py) and tables (the messaging channels' variables in
hearth/rasa_config.py); a name that appears nowhere in the code cannot be read by it, which is the mistake this
catches (a typo, a renamed variable).
"""

from __future__ import annotations

import ast
import importlib.util
import ipaddress
import re
import shlex
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from ruamel.yaml import YAML

from hearth import settings as hearth_settings
from hearth.rasa_config import lock_store_section
from hearth.train import TRAINING_INPUTS

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
K8S = DEPLOY / "k8s"
DOCKER = DEPLOY / "docker"
HELM_VALUES = DEPLOY / "helm" / "rasa-values.yaml"
SECRET_TEMPLATE = K8S / "secret.example.yaml"
GUIDE = ROOT / "docs" / "deployment.md"
PRODUCT_CODE = (
    "actions",
    "bot",
    "crm_adapter",
    "relationship",
    "handoff",
    "history",
    "analytics",
    "nlu_review",
    "reviews",
    "shared",
    "worker",
    "crm_api",
    "console",
    "website",
    "hearth",
    "scripts",
    "deploy/docker",
)
IMAGE_USER = 10001  # the user the Dockerfiles create

API_VERSIONS = {
    "Namespace": "v1",
    "ConfigMap": "v1",
    "Secret": "v1",
    "Service": "v1",
    "Deployment": "apps/v1",
    "Job": "batch/v1",
    "PodDisruptionBudget": "policy/v1",
    "Ingress": "networking.k8s.io/v1",
    "NetworkPolicy": "networking.k8s.io/v1",
    "Kustomization": "kustomize.config.k8s.io/v1beta1",
}
SECRET_LOOKING_NAME = re.compile(r"TOKEN|SECRET|PASSWORD|_VERIFY$")
CREDENTIALS_IN_URL = re.compile(r"://[^/@\s]*:[^/@\s]+@")  # scheme://user:password@host


def yaml_documents(path: Path) -> list[Any]:
    return [doc for doc in YAML(typ="safe").load_all(path.read_text()) if doc is not None]


def manifest_files() -> list[Path]:
    return sorted(p for p in K8S.glob("*.yaml") if p.name != "kustomization.yaml")


def objects(include_template: bool = False) -> list[dict[str, Any]]:
    return [
        doc for path in manifest_files() if include_template or path != SECRET_TEMPLATE for doc in yaml_documents(path)
    ]


def of_kind(kind: str) -> list[dict[str, Any]]:
    return [obj for obj in objects() if obj["kind"] == kind]


def workloads() -> list[dict[str, Any]]:
    return of_kind("Deployment") + of_kind("Job")


def containers(workload: dict[str, Any]) -> list[dict[str, Any]]:
    return workload["spec"]["template"]["spec"]["containers"]


def component(workload: dict[str, Any]) -> str:
    return workload["metadata"]["labels"]["app.kubernetes.io/component"]


def config_map() -> dict[str, str]:
    (found,) = of_kind("ConfigMap")
    return found["data"]


def env_names(container: dict[str, Any]) -> set[str]:
    """Every variable the container gets: its env entries, and the ConfigMap's keys when it takes them all."""
    names = {entry["name"] for entry in container.get("env", [])}
    if any("configMapRef" in source for source in container.get("envFrom", [])):
        names |= set(config_map())
    return names


def secret_refs(entries: list[dict[str, Any]]) -> Iterator[tuple[str, dict[str, Any]]]:
    for entry in entries:
        ref = entry.get("valueFrom", {}).get("secretKeyRef")
        if ref is not None:
            yield entry["name"], ref


def helm_values() -> dict[str, Any]:
    (values,) = yaml_documents(HELM_VALUES)
    return values


def load_module(name: str, path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def entrypoint() -> ModuleType:
    return load_module("hearth_entrypoint", DOCKER / "entrypoint.py")


# ---- the YAML ---------------------------------------------------------------------------------------------------


def test_every_yaml_file_under_deploy_parses_into_mappings():
    files = sorted(DEPLOY.rglob("*.yaml")) + sorted(DEPLOY.rglob("*.yml"))
    assert len(files) >= 10
    for path in files:
        documents = yaml_documents(path)
        assert documents, f"{path.relative_to(ROOT)} is empty"
        assert all(isinstance(doc, dict) for doc in documents), path.relative_to(ROOT)


def test_every_object_is_of_a_known_kind_with_its_api_version():
    found = objects(include_template=True) + yaml_documents(K8S / "kustomization.yaml")
    for obj in found:
        assert obj.get("kind") in API_VERSIONS, f"unknown kind {obj.get('kind')!r}"
        assert obj.get("apiVersion") == API_VERSIONS[obj["kind"]], obj["kind"]
        if obj["kind"] != "Kustomization":
            assert obj["metadata"]["name"].startswith("hearth"), obj["metadata"]["name"]
    names = [(obj["kind"], obj["metadata"]["name"]) for obj in objects()]
    assert len(names) == len(set(names)), "two objects of one kind share a name"
    assert {"Deployment", "Service", "Ingress", "ConfigMap", "Job"} <= {kind for kind, _ in names}


def test_the_kustomization_lists_every_manifest_but_the_secret_template():
    (kustomization,) = yaml_documents(K8S / "kustomization.yaml")
    listed = kustomization["resources"]
    assert len(listed) == len(set(listed))
    expected = {path.name for path in manifest_files()} - {SECRET_TEMPLATE.name}
    assert set(listed) == expected
    # Listed, `kubectl apply -k` would overwrite the real Secret with placeholders.
    assert SECRET_TEMPLATE.name not in listed
    assert {image["name"] for image in kustomization["images"]} == {"hearth-rasa", "hearth-app"}
    used = {container["image"] for workload in workloads() for container in containers(workload)}
    assert used == {"hearth-rasa", "hearth-app"}


# ---- workloads --------------------------------------------------------------------------------------------------


def test_every_workload_runs_unprivileged_and_sized():
    for workload in workloads():
        name = workload["metadata"]["name"]
        pod = workload["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True, name
        assert pod["securityContext"]["runAsUser"] == IMAGE_USER, name
        assert pod["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault", name
        assert pod["automountServiceAccountToken"] is False, name
        # Kubernetes would otherwise add <SERVICE>_PORT=tcp://... variables, and RASA_PORT is Hearth's own.
        assert pod["enableServiceLinks"] is False, name
        mounted = set()
        for container in containers(workload):
            context = container["securityContext"]
            assert context["allowPrivilegeEscalation"] is False, name
            assert context["readOnlyRootFilesystem"] is True, name
            assert context["capabilities"]["drop"] == ["ALL"], name
            resources = container["resources"]
            assert {"cpu", "memory"} <= set(resources["requests"]), name
            assert "memory" in resources["limits"], name
            mounted |= {mount["mountPath"] for mount in container["volumeMounts"]}
        # The root filesystem is read-only: the data folder (endpoints, credentials) and /tmp are volumes.
        assert {"/tmp", "/var/lib/hearth"} <= mounted, name


def test_every_deployment_is_probed_and_its_services_find_it():
    services = of_kind("Service")
    for deployment in of_kind("Deployment"):
        name = deployment["metadata"]["name"]
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        assert deployment["spec"]["selector"]["matchLabels"].items() <= labels.items(), name
        served = [svc for svc in services if svc["spec"]["selector"].items() <= labels.items()]
        for container in containers(deployment):
            ports = {port["name"]: port["containerPort"] for port in container.get("ports", [])}
            assert "livenessProbe" in container, name
            if served:
                assert "readinessProbe" in container, f"{name} gets traffic from a Service: it needs a readiness probe"
            for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
                http = container.get(probe, {}).get("httpGet")
                if http:
                    assert http["port"] in ports, f"{name}'s {probe} names port {http['port']!r}"
            for service in served:
                for port in service["spec"]["ports"]:
                    assert port["targetPort"] in ports, f"{service['metadata']['name']} -> {port['targetPort']!r}"
    for service in services:
        assert any(
            service["spec"]["selector"].items() <= d["spec"]["template"]["metadata"]["labels"].items()
            for d in of_kind("Deployment")
        ), f"Service {service['metadata']['name']} selects no Deployment"


def test_replicas_follow_the_scaling_rules():
    replicas = {component(d): d["spec"]["replicas"] for d in of_kind("Deployment")}
    assert set(replicas) == {"rasa", "actions", "history", "console", "website", "crm-api"}
    assert replicas["rasa"] == 2
    assert replicas["actions"] == 2
    # One consumer of the event log, and not two even during a rollout.
    (history,) = [d for d in of_kind("Deployment") if component(d) == "history"]
    assert replicas["history"] == 1
    assert history["spec"]["strategy"]["type"] == "Recreate"
    (job,) = of_kind("Job")
    assert containers(job)[0]["args"] == ["migrate"]
    assert job["spec"]["template"]["spec"]["restartPolicy"] == "Never"


def test_the_ingress_keeps_socket_io_sticky_and_reaches_existing_services():
    services = {svc["metadata"]["name"]: {p["name"] for p in svc["spec"]["ports"]} for svc in of_kind("Service")}
    paths: dict[str, dict[str, Any]] = {}
    for ingress in of_kind("Ingress"):
        for rule in ingress["spec"]["rules"]:
            for path in rule["http"]["paths"]:
                backend = path["backend"]["service"]
                assert backend["name"] in services, backend["name"]
                assert backend["port"]["name"] in services[backend["name"]], backend
                paths[f"{rule['host']}{path['path']}"] = ingress
    sticky = paths["shop.example.com/socket.io"]["metadata"]["annotations"]
    assert sticky["nginx.ingress.kubernetes.io/affinity"] == "cookie"
    assert "nginx.ingress.kubernetes.io/session-cookie-name" in sticky
    # The REST channel trusts whatever sender it is given, and Rasa's HTTP API is for the console: neither public.
    assert not any("/webhooks/rest" in key or key.endswith("/conversations") for key in paths)
    # The socket.io URL browsers get is the host whose /socket.io the ingress sends to the Rasa server.
    assert config_map()["WEBCHAT_SOCKET_URL"] == "https://shop.example.com"


# ---- configuration ----------------------------------------------------------------------------------------------


def variables_hearth_reads() -> set[str]:
    found: set[str] = set()
    for folder in PRODUCT_CODE:
        for path in (ROOT / folder).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
                if isinstance(node, ast.Constant) and isinstance(node.value, str):
                    if re.fullmatch(r"[A-Z][A-Z0-9_]{2,}", node.value):
                        found.add(node.value)
    for path in (ROOT / "bot").glob("*.yml"):
        found |= set(re.findall(r"\$\{([A-Z0-9_]+)\}", path.read_text()))
    found |= set(re.findall(r"\$\{?([A-Z][A-Z0-9_]+)", (ROOT / "Procfile").read_text()))
    return found


# Read by the servers Hearth runs rather than by Hearth's code: uvicorn's trusted proxies (the console)
READ_BY_SERVERS = {"FORWARDED_ALLOW_IPS"}


def variables_the_manifests_set() -> dict[str, str]:
    """Variable name -> where it is set."""
    found = {name: "configmap.yaml" for name in config_map()}
    for workload in workloads():
        for container in containers(workload):
            for entry in container.get("env", []):
                found.setdefault(entry["name"], workload["metadata"]["name"])
    for entry in helm_values()["extraEnv"]:
        found.setdefault(entry["name"], "rasa-values.yaml")
    return found


def test_every_variable_the_manifests_set_is_one_hearth_reads():
    known = variables_hearth_reads()
    assert {"TRACKER_DB_URL", "CSAT_MIN_HOURS", "TELEGRAM_WEBHOOK_URL", "HISTORY_BATCH"} <= known  # the finder works
    unknown = {
        name: where
        for name, where in variables_the_manifests_set().items()
        if name not in known and name not in READ_BY_SERVERS
    }
    assert not unknown, f"set in the manifests but read nowhere in Hearth: {unknown}"


def test_every_variable_the_manifests_set_is_described_in_the_guide():
    guide = GUIDE.read_text()
    missing = sorted(name for name in variables_the_manifests_set() if f"`{name}`" not in guide)
    assert not missing, f"docs/deployment.md does not describe {missing}"


def test_each_container_gets_what_its_role_needs_to_start(entrypoint: ModuleType):
    for workload in workloads():
        for container in containers(workload):
            role = container["args"][0]
            assert role in entrypoint.ROLES
            needed = set(hearth_settings.required(role, dict.fromkeys(env_names(container), "set")))
            missing = needed - env_names(container)
            assert not missing, f"{workload['metadata']['name']} ({role}) lacks {sorted(missing)}"
    helm_env = {entry["name"] for entry in helm_values()["extraEnv"]}
    assert set(hearth_settings.required("rasa", {})) <= helm_env
    assert helm_values()["args"] == ["rasa"]


def test_shared_secrets_reach_both_sides():
    receivers: dict[str, set[str]] = {}
    for deployment in of_kind("Deployment"):
        for container in containers(deployment):
            for name, _ref in secret_refs(container.get("env", [])):
                receivers.setdefault(name, set()).add(component(deployment))
    assert receivers["ACTION_SERVER_TOKEN"] == {"rasa", "actions"}
    assert receivers["WEB_IDENTITY_SECRET"] == {"rasa", "website"}
    assert receivers["RASA_API_TOKEN"] == {"rasa", "console"}
    assert receivers["CRM_SECRET"] == {"actions", "website", "crm-api", "history"}  # history: it makes the codes
    assert receivers["TRACKER_DB_URL"] == {"rasa", "history", "console"}
    assert receivers["RABBITMQ_URL"] == {"rasa", "history"}
    assert receivers["REDIS_URL"] == {"rasa"}
    # The Helm chart's Rasa server gets the same secrets as deploy/k8s/rasa.yaml's.
    (rasa,) = [d for d in of_kind("Deployment") if component(d) == "rasa"]
    k8s_secrets = {name for name, _ in secret_refs(containers(rasa)[0]["env"])}
    assert {name for name, _ in secret_refs(helm_values()["extraEnv"])} == k8s_secrets


def test_the_demo_website_runs_without_a_shared_password():
    """WEBSITE_DEMO_PASSWORD is the password the seed gives the demo customers (one machine, demonstrations): no
    container of a deployment gets it, and the Secret template does not offer it."""
    for workload in workloads():
        for container in containers(workload):
            assert "WEBSITE_DEMO_PASSWORD" not in env_names(container), workload["metadata"]["name"]
    assert "WEBSITE_DEMO_PASSWORD" not in SECRET_TEMPLATE.read_text()
    assert "WEBSITE_DEMO_PASSWORD" not in config_map()


def test_the_console_sees_each_clients_address_behind_the_ingress(entrypoint: ModuleType):
    """The console's sign-in throttle counts failures per client address. Behind the ingress every request comes
    from the ingress controller, so uvicorn must trust its X-Forwarded-For, but only from private addresses (the
    cluster's pods): with "*" any client on the internet could name its own address and escape the throttle."""
    (console,) = [d for d in of_kind("Deployment") if component(d) == "console"]
    (container,) = containers(console)
    [value] = [entry["value"] for entry in container["env"] if entry["name"] == "FORWARDED_ALLOW_IPS"]
    networks = [ipaddress.ip_network(part.strip()) for part in value.split(",")]
    assert networks and all(network.is_private for network in networks), value
    assert not any(network.prefixlen == 0 for network in networks), value
    # nothing overrides it: the manifest's arguments and the command the entrypoint runs for them
    command = " ".join(container.get("command", []) + container.get("args", []))
    command += " " + " ".join(entrypoint.command(container["args"][0], {}))
    assert "forwarded-allow-ips" not in command and "proxy-headers" not in command, command


def test_every_secret_and_config_key_referenced_is_in_the_templates():
    template_text = SECRET_TEMPLATE.read_text()
    (secret,) = yaml_documents(SECRET_TEMPLATE)
    config_text = (K8S / "configmap.yaml").read_text()
    entries = [e for w in workloads() for c in containers(w) for e in c.get("env", [])] + helm_values()["extraEnv"]
    for entry in entries:
        source = entry.get("valueFrom", {})
        ref = source.get("secretKeyRef") or source.get("configMapKeyRef")
        if ref is None:
            continue
        if "secretKeyRef" in source:
            assert ref["name"] == "hearth-secrets"
            present, text = ref["key"] in secret["stringData"], template_text
        else:
            assert ref["name"] == "hearth-config"
            present, text = ref["key"] in config_map(), config_text
        assert ref["key"] == entry["name"]
        if ref.get("optional"):
            assert re.search(rf"#\s*{ref['key']}:", text) or present, f"{ref['key']} is not in its template"
        else:
            assert present, f"{ref['key']} is required but not in its template"


def test_no_real_looking_secret_anywhere_in_the_manifests():
    (secret,) = yaml_documents(SECRET_TEMPLATE)
    assert "data" not in secret, "the template must not carry base64 values"
    for key, value in secret["stringData"].items():
        assert "CHANGE_ME" in value, f"{key} holds a value that is not a placeholder"
    assert not of_kind("Secret"), "no Secret among the applied manifests: the real one comes from your secret store"
    for name, value in config_map().items():
        assert not SECRET_LOOKING_NAME.search(name), f"{name} belongs in the Secret"
        assert not CREDENTIALS_IN_URL.search(value), f"{name} carries credentials"
    entries = [e for w in workloads() for c in containers(w) for e in c.get("env", [])] + helm_values()["extraEnv"]
    for entry in entries:
        if "value" in entry:
            assert not SECRET_LOOKING_NAME.search(entry["name"]), f"{entry['name']} is a literal: use the Secret"
            assert not CREDENTIALS_IN_URL.search(str(entry["value"])), f"{entry['name']} carries credentials"
    # Nothing that looks like a generated key or token (24+ letters and digits mixed) in any file under deploy/.
    for path in DEPLOY.rglob("*"):
        if path.is_file():
            for run in re.findall(r"[A-Za-z0-9]{24,}", path.read_text()):
                assert not (re.search(r"\d", run) and re.search(r"[A-Za-z]", run)), f"{path}: {run}"


# ---- the images -------------------------------------------------------------------------------------------------


def dockerfile_instructions(path: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    joined = re.sub(r"\\\n", " ", "\n".join(line for line in path.read_text().splitlines() if not line.startswith("#")))
    return [(line.split()[0].upper(), line.partition(" ")[2].strip()) for line in joined.splitlines() if line.strip()]


def glob_regex(glob: str) -> str:
    """A .dockerignore pattern as a regular expression: `*` within one path segment, `**/` any folders."""
    out, i = "", 0
    while i < len(glob):
        if glob.startswith("**/", i):
            out, i = out + "(?:.*/)?", i + 3
        elif glob.startswith("**", i):
            out, i = out + ".*", i + 2
        elif glob[i] == "*":
            out, i = out + "[^/]*", i + 1
        elif glob[i] == "?":
            out, i = out + "[^/]", i + 1
        else:
            out, i = out + re.escape(glob[i]), i + 1
    return out


def dockerignore_excludes(relative: str) -> bool:
    """Whether .dockerignore keeps `relative` out of the build context: the last pattern that matches the path
    or one of its parent folders decides (Docker's rule; `!` re-includes)."""
    patterns = [line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()]
    patterns = [p for p in patterns if p and not p.startswith("#")]
    parts = relative.strip("/").split("/")
    candidates = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    excluded = False
    for pattern in patterns:
        negated = pattern.startswith("!")
        regex = glob_regex(pattern.lstrip("!").strip("/"))
        if any(re.fullmatch(regex, candidate) for candidate in candidates):
            excluded = not negated
    return excluded


def copied_sources(path: Path) -> list[str]:
    sources = []
    for instruction, arguments in dockerfile_instructions(path):
        if instruction == "COPY" and not arguments.startswith("--from"):
            *from_context, _destination = arguments.split()
            sources += from_context
    return sources


@pytest.mark.parametrize("dockerfile", ["rasa.Dockerfile", "app.Dockerfile"])
def test_every_path_a_dockerfile_copies_exists_and_reaches_the_build_context(dockerfile: str):
    sources = copied_sources(DOCKER / dockerfile)
    assert sources
    for source in sources:
        path = ROOT / source
        assert path.exists(), f"{dockerfile} copies {source}, which is not in the repository"
        assert not dockerignore_excludes(source), f".dockerignore keeps {source} out of the build context"
        files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
        for file in files:
            relative = file.relative_to(ROOT).as_posix()
            if "__pycache__" in relative or "/node_modules/" in relative or relative.endswith(".pyc"):
                continue
            assert not dockerignore_excludes(relative), f".dockerignore keeps {relative} out of the image"
    # What must never reach the build context.
    for private in ("var/crm.db", "var/web_identity_secret", ".venvs/app/bin/python", "models/x.tar.gz", ".git/HEAD"):
        assert dockerignore_excludes(private), private
    assert dockerignore_excludes("website/node_modules/rasa-webchat/lib/index.js")


@pytest.mark.parametrize(("dockerfile", "lock"), [("rasa.Dockerfile", "rasa"), ("app.Dockerfile", "app")])
def test_each_image_installs_its_lock_with_no_deps_as_bootstrap_does(dockerfile: str, lock: str):
    instructions = dockerfile_instructions(DOCKER / dockerfile)
    installs = [args for instruction, args in instructions if instruction == "RUN" and "pip install" in args]
    assert len(installs) == 1
    assert f"python -m venv .venvs/{lock}" in installs[0]
    assert re.search(rf"pip install --no-deps -r requirements/{lock}\.txt", installs[0])
    assert f"scripts/pip_check.sh .venvs/{lock}/bin/python" in installs[0]  # pip check, as bootstrap runs it
    assert (ROOT / "requirements" / f"{lock}.txt").is_file()
    assert (
        '"$dir/bin/python" -m pip install --quiet --disable-pip-version-check --no-deps -r "$lock"'
        in (ROOT / "scripts" / "bootstrap.sh").read_text()
    )
    froms = [args for instruction, args in instructions if instruction == "FROM"]
    assert froms[-1] == "python:3.10-slim"
    assert ("USER", f"{IMAGE_USER}:{IMAGE_USER}") in instructions
    assert any(instruction == "HEALTHCHECK" for instruction, _ in instructions)
    assert ("ENTRYPOINT", '["python", "/app/deploy/docker/entrypoint.py"]') in instructions
    for instruction, args in instructions:
        if instruction in ("ENV", "ARG"):
            assert not SECRET_LOOKING_NAME.search(args), f"{dockerfile}: no secret in the image ({args})"


def test_the_rasa_image_trains_from_every_training_input():
    sources = [source.rstrip("/") for source in copied_sources(DOCKER / "rasa.Dockerfile")]
    for training_input in TRAINING_INPUTS:
        assert any(training_input == s or training_input.startswith(s + "/") for s in sources), training_input
    runs = [args for instruction, args in dockerfile_instructions(DOCKER / "rasa.Dockerfile") if instruction == "RUN"]
    (train,) = [args for args in runs if "python -m hearth train" in args]
    assert "rm -rf /tmp/hearth-build" in train  # the development secrets training makes do not stay in the image


def test_the_rasa_image_trains_and_writes_the_rasa_files_without_the_crm_code():
    """The Rasa image copies hearth/ but not the CRM: the launcher's commands import only the standard library."""
    sources = [source.rstrip("/") for source in copied_sources(DOCKER / "rasa.Dockerfile")]
    assert "hearth" in sources and "crm_adapter" not in sources
    program = (
        "import sys; before = set(sys.modules); import hearth.cli, hearth.environment, hearth.train; "
        "print(*sorted({name.split('.')[0] for name in set(sys.modules) - before} - set(sys.stdlib_module_names)))"
    )
    result = subprocess.run([sys.executable, "-c", program], cwd=ROOT, capture_output=True, text=True, check=True)
    assert set(result.stdout.split()) <= {"hearth", "shared"} and "shared" in sources  # shared/: stdlib only


def test_the_app_image_serves_the_widget_and_htmx_from_npm_ci():
    instructions = dockerfile_instructions(DOCKER / "app.Dockerfile")
    assert sum(instruction == "RUN" and args.startswith("npm ci") for instruction, args in instructions) == 2
    served = 'WIDGET = HERE / "node_modules" / "rasa-webchat" / "lib" / "index.js"'
    assert served in (ROOT / "website" / "app.py").read_text(), "the website serves rasa-webchat/lib/index.js"
    copies = [args for instruction, args in instructions if instruction == "COPY" and args.startswith("--from=widget")]
    assert copies == [
        "--from=widget /build/website/node_modules/rasa-webchat/ website/node_modules/rasa-webchat/",
        "--from=widget /build/console/node_modules/htmx.org/dist/ console/node_modules/htmx.org/dist/",
        "--from=widget /build/console/node_modules/htmx-ext-sse/dist/ console/node_modules/htmx-ext-sse/dist/",
    ]
    # what the image copies is what the console serves
    from console.routes.static import FILES

    console_root = ROOT / "console"
    for name in ("htmx.min.js", "sse.js"):
        path = FILES[name][0].relative_to(console_root).as_posix()
        assert any(path.startswith(copy.split()[1].removeprefix("/build/console/")) for copy in copies[1:]), name


# ---- the entrypoint ---------------------------------------------------------------------------------------------


def procfile() -> dict[str, list[str]]:
    found = {}
    for line in (ROOT / "Procfile").read_text().splitlines():
        name, _, command = line.partition(":")
        found[name.strip()] = shlex.split(command.replace("while true; do", "").split(";")[0])
    return found


def flags(argv: list[str]) -> dict[str, str | None]:
    """--flag -> its value when the value is written out (not a $VARIABLE), else None."""
    found: dict[str, str | None] = {}
    for i, token in enumerate(argv):
        if token.startswith("--"):
            value = argv[i + 1] if i + 1 < len(argv) and not argv[i + 1].startswith("--") else None
            found[token] = None if value is None or "$" in value else value
    return found


def before_flags(argv: list[str]) -> list[str]:
    """The program's module or subcommand: `-m uvicorn console.app:app_from_env`, `run`, `-m hearth ingest`."""
    return list(next((argv[1:i] for i, token in enumerate(argv) if token.startswith("--")), argv[1:]))


def test_the_entrypoint_runs_the_procfile_commands(entrypoint: ModuleType):
    env = {"HEARTH_MODEL": "m", "HEARTH_ENDPOINTS": "e", "HEARTH_CREDENTIALS": "c", "RASA_API_TOKEN": "t"}
    lines = procfile()
    for role in ("rasa", "actions", "history", "console", "website"):
        ours = entrypoint.command(role, env)
        theirs = lines[role]
        theirs = theirs[next(i for i, token in enumerate(theirs) if token.startswith(".venvs/")) :]
        assert Path(ours[0]).relative_to(ROOT).as_posix() == theirs[0], role  # the same virtualenv and program
        assert before_flags(ours) == before_flags(theirs), role
        ours_flags, their_flags = flags(ours), flags(theirs)
        ours_flags.pop("--interface", None)  # the Rasa server's, in a container only (on a machine: BIND_ADDRESS)
        assert set(ours_flags) == set(their_flags), f"{role}: the Procfile and the entrypoint differ in flags"
        for flag, value in their_flags.items():
            if value is not None and flag != "--host":
                assert ours_flags[flag] == value, f"{role} {flag}"
    # In a container the servers listen on the pod's address, not only on 127.0.0.1; on a machine, the loopback
    # address unless BIND_ADDRESS says otherwise (never a written-out 0.0.0.0 in the Procfile).
    assert flags(entrypoint.command("console", env))["--host"] == "0.0.0.0"
    assert flags(entrypoint.command("rasa", env))["--interface"] == "0.0.0.0"
    assert "0.0.0.0" not in (ROOT / "Procfile").read_text() and "--cors" not in (ROOT / "Procfile").read_text()
    assert all(flags(lines[role])["--host"] is None for role in ("console", "website"))  # "$BIND_ADDRESS"


PRODUCTION = {
    "TRACKER_DB_URL": "postgresql://rasa:pw@db:5432/tracker",
    "CRM_DATABASE_URL": "postgresql+psycopg2://crm:pw@db:5432/crm",
    "ACTION_ENDPOINT_URL": "http://hearth-actions:5055/webhook",
    "ACTION_SERVER_TOKEN": "a" * 40,
    "WEB_IDENTITY_SECRET": "w" * 40,
    "RASA_API_TOKEN": "r" * 40,
    "CRM_SECRET": "c" * 40,
    "SMTP_HOST": "smtp.example.com",
}


def test_the_entrypoint_refuses_missing_placeholder_and_sqlite_settings(entrypoint: ModuleType):
    for role in ("rasa", "actions", "history", "migrate"):
        assert entrypoint.problems(role, PRODUCTION) == [], role
    missing = {k: v for k, v in PRODUCTION.items() if k != "ACTION_SERVER_TOKEN"}
    assert entrypoint.problems("actions", missing) == ["ACTION_SERVER_TOKEN is not set"]
    assert entrypoint.problems("rasa", {**PRODUCTION, "RASA_API_TOKEN": "CHANGE_ME"}) == [
        "RASA_API_TOKEN still holds the CHANGE_ME placeholder of the Secret template"
    ]
    (problem,) = entrypoint.problems("history", {**PRODUCTION, "TRACKER_DB_URL": "sqlite:////var/lib/hearth/t.db"})
    assert problem.startswith("TRACKER_DB_URL is a SQLite file")
    without_smtp = {k: v for k, v in PRODUCTION.items() if k != "SMTP_HOST"}
    assert entrypoint.problems("actions", without_smtp)[0].startswith("SMTP_HOST is not set")
    assert entrypoint.problems("actions", {**without_smtp, "CODE_SENDER": "log"}) == []
    # the worker makes and emails the one-time codes the actions queue, keyed with the actions' CRM_SECRET
    assert entrypoint.problems("history", without_smtp)[0].startswith("SMTP_HOST is not set: one-time codes")
    without_secret = {k: v for k, v in PRODUCTION.items() if k != "CRM_SECRET"}
    assert entrypoint.problems("history", without_secret) == ["CRM_SECRET is not set"]


def test_the_lock_store_section_names_variables_not_values():
    env = {"REDIS_URL": "rediss://:s3cret%21@redis.internal:6380/2"}
    section = lock_store_section(env)
    assert "s3cret" not in section
    assert "type: bot.lock_store.AtomicRedisLockStore" in section and "use_ssl: true" in section and "db: 2" in section
    assert "password: ${REDIS_PASSWORD}" in section and "key_prefix: hearth" in section
    assert (env["REDIS_HOST"], env["REDIS_PORT"], env["REDIS_PASSWORD"]) == ("redis.internal", "6380", "s3cret!")
    plain = {"REDIS_URL": "redis://redis.internal"}
    section = lock_store_section(plain)
    assert "password" not in section and "use_ssl" not in section and "db: 1" in section
    with pytest.raises(SystemExit):
        lock_store_section({"REDIS_URL": "http://redis.internal"})


def test_the_rasa_role_writes_endpoints_with_the_broker_and_the_lock_store(entrypoint: ModuleType, tmp_path: Path):
    model = tmp_path / "model.tar.gz"
    model.write_bytes(b"")
    env = {
        **PRODUCTION,
        "HEARTH_DATA_DIR": str(tmp_path),
        "HEARTH_MODEL": str(model),
        "RABBITMQ_URL": "amqp://hearth:rabbit-pass@rabbitmq.internal:5672/",
        "REDIS_URL": "redis://:redis-pass@redis.internal:6379/1",
    }
    prepared = entrypoint.prepare_rasa(dict(env))
    endpoints = Path(prepared["HEARTH_ENDPOINTS"])
    assert endpoints.parent == tmp_path
    documents = YAML(typ="safe").load(endpoints.read_text())
    assert documents["lock_store"]["type"] == "bot.lock_store.AtomicRedisLockStore"
    assert documents["event_broker"]["type"] == "pika"
    assert documents["tracker_store"]["url"] == "${TRACKER_DB_URL}"
    text = endpoints.read_text()
    assert "-pass" not in text and "rabbitmq.internal" not in text  # variables in the file, values in the environment
    assert all(name in prepared for name in re.findall(r"\$\{([^}]+)\}", text))
    command = entrypoint.command("rasa", prepared)
    assert command[command.index("--endpoints") + 1] == str(endpoints)
    assert command[command.index("--model") + 1] == str(model)
    # Without REDIS_URL: no lock store (one Rasa server), the file the launcher wrote is used as it is.
    single = entrypoint.prepare_rasa({k: v for k, v in env.items() if k not in ("REDIS_URL", "RABBITMQ_URL")})
    assert Path(single["HEARTH_ENDPOINTS"]) == ROOT / "bot" / "endpoints.yml"
