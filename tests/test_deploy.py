"""The deploy files say what the code does: each is parsed and held to ``Settings``,
``pyproject.toml``, the bot's routes and the README's bounds. Nothing is installed or deployed."""

from __future__ import annotations

import configparser
import os
import re
import subprocess
import tomllib
from pathlib import Path
from typing import Any, cast

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name
from pydantic import SecretStr
from redis.asyncio import ConnectionPool
from slack_bolt.async_app import AsyncApp

from bot.config import Settings
from bot.slack.server import web_app
from deploy.lock_requirements import COMMAND, dependencies_hash
from tests.test_docs import config_table

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
SHUTDOWN_BOUND = 30  # README: "gone within 30 s of SIGTERM"


def known_settings() -> set[str]:
    """Every environment name stoplive reads: the fields of Settings, and their aliases."""
    names = set()
    for name, field in Settings.model_fields.items():
        names.add(name.upper())
        alias = field.validation_alias
        for choice in getattr(alias, "choices", []):
            names.add(str(choice).upper())
    return names


def readme_table_settings() -> set[str]:
    return set(config_table())


def pins() -> dict[str, str]:
    lines = (ROOT / "requirements.txt").read_text(encoding="utf-8").splitlines()
    found = {}
    for line in lines:
        if line and not line.startswith("#"):
            name, _, version = line.partition("==")
            found[canonicalize_name(name)] = version
    return found


# --- Heroku ------------------------------------------------------------------------------------


def test_requirements_pin_every_dependency_within_its_range_and_match_pyproject() -> None:
    text = (ROOT / "requirements.txt").read_text(encoding="utf-8")
    assert f"# dependencies-sha256: {dependencies_hash()}" in text, (
        f"pyproject.toml's dependencies changed: run `{COMMAND}` and commit requirements.txt"
    )
    pinned = pins()
    assert all(re.fullmatch(r"[0-9][0-9A-Za-z.+!-]*", v) for v in pinned.values()), pinned
    for dependency in PYPROJECT["dependencies"]:
        wanted = Requirement(dependency.split("#")[0])
        name = canonicalize_name(wanted.name)
        assert name in pinned, f"{name} is not in requirements.txt: run `{COMMAND}`"
        assert wanted.specifier.contains(pinned[name], prereleases=True), (name, pinned[name])
    test_only = {
        canonicalize_name(Requirement(r).name) for r in PYPROJECT["optional-dependencies"]["test"]
    }
    assert not test_only & set(pinned)


def test_the_dependencies_hash_changes_when_a_dependency_is_added(tmp_path: Path) -> None:
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    changed = tmp_path / "pyproject.toml"
    changed.write_text(pyproject.replace("dependencies = [\n", 'dependencies = [\n    "six",\n', 1))
    assert dependencies_hash(changed) != dependencies_hash()
    spaced = tmp_path / "spaced.toml"
    spaced.write_text(pyproject.replace('"httpx>=0.27,<1"', '"httpx >= 0.27, < 1"'))
    assert dependencies_hash(spaced) == dependencies_hash()  # spacing is not a change


def test_the_python_version_pin_agrees_with_pyproject_and_the_dockerfile() -> None:
    version = (ROOT / ".python-version").read_text(encoding="utf-8").strip()
    assert re.fullmatch(r"3\.\d+", version)
    assert SpecifierSet(PYPROJECT["requires-python"]).contains(f"{version}.0")
    assert f"FROM python:{version}-" in (ROOT / "Dockerfile").read_text(encoding="utf-8")
    assert f"# python: {version}\n" in (ROOT / "requirements.txt").read_text(encoding="utf-8")


def run_profile(**env: str) -> str | None:
    """What Heroku's start-up gives stoplive as STOPLIVE_REDIS_URL, given these variables."""
    script = '. ./.profile; printf %s "${STOPLIVE_REDIS_URL-<unset>}"'
    out = subprocess.run(
        ["bash", "-c", script],
        cwd=ROOT,
        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), **env},
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return None if out == "<unset>" else out


def test_heroku_redis_certificate_is_handled_without_editing_its_url() -> None:
    heroku = "rediss://:p4ss@ec2-1-2-3-4.compute-1.amazonaws.com:12345"
    url = run_profile(REDIS_URL=heroku)
    assert url == heroku + "?ssl_cert_reqs=none"
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        metastudio_project_id="0" * 32,
        metastudio_auth_token=SecretStr("t"),
        slack_bot_token=SecretStr("xoxb-1"),
        slack_signing_secret=SecretStr("abcdef0123456789"),
        stoplive_allowlist='{"U024BE7LH": "ops-alice"}',
        stoplive_redis_url=SecretStr(url),
    )
    assert settings.stoplive_redis_url is not None
    pool = ConnectionPool.from_url(settings.stoplive_redis_url.get_secret_value())
    assert pool.connection_kwargs["ssl_cert_reqs"] in ("none", None)
    assert run_profile(REDIS_URL=heroku + "?a=1") == heroku + "?a=1&ssl_cert_reqs=none"
    # a plain redis:// URL, a URL set on purpose, and no Redis at all are left alone
    assert run_profile(REDIS_URL="redis://h:6379") is None
    mine = "rediss://:x@mine:6380/0"
    assert run_profile(REDIS_URL=heroku, STOPLIVE_REDIS_URL=mine) == mine
    assert run_profile() is None


def test_the_procfile_serves_http_on_port() -> None:
    procfile = (ROOT / "Procfile").read_text(encoding="utf-8")
    assert re.search(r"^web: .*STOPLIVE_MODE=http .*python -m bot$", procfile, re.MULTILINE)


def test_the_count_of_request_urls_agrees_in_the_manifest_and_the_readme() -> None:
    manifest = (ROOT / "manifest.yml").read_text(encoding="utf-8")
    urls = re.findall(r"^\s*#\s*(?:url|request_url): https://YOUR-APP", manifest, re.MULTILINE)
    words = {2: "two", 3: "three"}
    assert len(urls) == 3
    assert f"uncomment the {words[len(urls)]} `url` / `request_url` lines" in manifest
    deploy = README.split("## Deploy", 1)[1]
    assert f"set the {words[len(urls)]} URLs" in " ".join(deploy.split())
    for other in set(words.values()) - {words[len(urls)]}:
        assert f"{other} URLs" not in README and f"the {other} `url`" not in manifest


# --- systemd -----------------------------------------------------------------------------------


def test_the_systemd_unit_restarts_runs_unprivileged_and_outwaits_the_shutdown() -> None:
    unit = configparser.ConfigParser(interpolation=None, strict=True)
    unit.optionxform = str  # type: ignore[assignment,method-assign]
    unit.read_string((ROOT / "deploy" / "stoplive.service").read_text(encoding="utf-8"))
    service = unit["Service"]
    assert service["User"] not in ("", "root", "0")
    assert service["EnvironmentFile"].startswith("/")
    assert service["ExecStart"].endswith(" -m bot")
    assert service["Restart"] in ("on-failure", "always")
    assert service.get("KillSignal", "SIGTERM") == "SIGTERM"
    assert int(service["TimeoutStopSec"]) > SHUTDOWN_BOUND
    assert service["ExecReload"] == "/bin/kill -HUP $MAINPID"  # re-reads the allowlist file
    assert unit["Install"]["WantedBy"] == "multi-user.target"
    assert "deploy/stoplive.service" in README


# --- Kubernetes --------------------------------------------------------------------------------


def kubernetes() -> dict[str, dict[str, Any]]:
    documents = list(yaml.safe_load_all((ROOT / "deploy" / "kubernetes.yaml").read_text("utf-8")))
    return {f"{d['kind']}/{d['metadata']['name']}": d for d in documents}


def test_the_kubernetes_manifest_runs_two_replicas_on_redis_with_known_settings_only() -> None:
    objects = kubernetes()
    deployment = objects["Deployment/stoplive"]["spec"]
    assert deployment["replicas"] == 2
    pod = deployment["template"]["spec"]
    assert pod["terminationGracePeriodSeconds"] > SHUTDOWN_BOUND
    assert pod["securityContext"]["runAsNonRoot"] is True
    (container,) = pod["containers"]
    names = {e["name"] for e in container["env"]}
    for source in container["envFrom"]:
        secret = objects[f"Secret/{source['secretRef']['name']}"]
        names |= set(secret["stringData"])
        assert secret["stringData"]["STOPLIVE_REDIS_URL"].startswith(("redis://", "rediss://"))
    assert names <= known_settings(), names - known_settings()
    assert "STOPLIVE_REDIS_URL" in names and "PORT" in names
    assert deployment["selector"]["matchLabels"].items() <= pod_labels(deployment).items()


def pod_labels(deployment: dict[str, Any]) -> dict[str, str]:
    return cast(dict[str, str], deployment["template"]["metadata"]["labels"])


def test_the_kubernetes_probes_point_at_real_routes_on_port() -> None:
    routes = {
        route.resource.canonical
        for route in web_app(cast(AsyncApp, object()), "0" * 32).router.routes()
        if route.method == "GET" and route.resource is not None
    }
    (container,) = kubernetes()["Deployment/stoplive"]["spec"]["template"]["spec"]["containers"]
    port = int(next(e["value"] for e in container["env"] if e["name"] == "PORT"))
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    probes = [
        container[k] for k in ("readinessProbe", "livenessProbe", "startupProbe") if k in container
    ]
    assert probes
    for probe in probes:
        assert probe["httpGet"]["path"] in routes
        assert ports.get(probe["httpGet"]["port"], probe["httpGet"]["port"]) == port


# --- Settings, everywhere ----------------------------------------------------------------------


def test_env_example_lists_every_setting_of_the_readme_and_no_other() -> None:
    example = (ROOT / ".env.example").read_text(encoding="utf-8")
    listed = set(re.findall(r"^#? ?([A-Z][A-Z0-9_]+)=", example, re.MULTILINE))
    table = readme_table_settings()
    assert table - listed <= {"REDIS_URL"}, table - listed  # STOPLIVE_REDIS_URL's alias
    assert listed <= known_settings(), listed - known_settings()
    assert {"METASTUDIO_TIMEOUT", "STOPLIVE_HOST"} <= listed


@pytest.mark.parametrize("path", ["docker-compose.yml", "deploy/kubernetes.yaml"])
def test_deploy_files_set_only_known_settings(path: str) -> None:
    text = (ROOT / path).read_text(encoding="utf-8")
    set_here = set(
        re.findall(
            r"^\s+(?:- name: )?((?:STOPLIVE|SLACK|METASTUDIO|HUAWEICLOUD)_[A-Z0-9_]+)",
            text,
            re.MULTILINE,
        )
    )
    assert set_here and set_here <= known_settings(), set_here - known_settings()
