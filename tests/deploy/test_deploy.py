"""deploy/ is valid: compose and Kubernetes files parse and hang together, systemd units load."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"


def test_dockerfile_runs_as_non_root_and_installs_the_package() -> None:
    text = (DEPLOY / "Dockerfile").read_text()
    assert re.search(r"^USER (?!root)\S+", text, re.M)
    assert 'ENTRYPOINT ["signalbox"]' in text


def test_compose_has_postgres_migration_scheduler_two_routers_and_dashboard() -> None:
    compose = yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())
    services = compose["services"]
    assert {"postgres", "migrate", "router-1", "router-2", "dashboard"} <= set(services)
    assert any(s.get("command") == ["probe"] for s in services.values())
    for name, service in services.items():
        depends = service.get("depends_on", {})
        for dep in depends if isinstance(depends, list) else depends.keys():
            assert dep in services, f"{name} depends on unknown service {dep}"
    assert services["migrate"]["command"] == ["db", "upgrade"]
    assert "service_completed_successfully" in str(services["router-1"]["depends_on"])
    conf = (DEPLOY / "nginx-router.conf").read_text()
    assert "router-1:8700" in conf and "router-2:8700" in conf


def test_kubernetes_manifests_parse_with_probes_secrets_and_a_migration_job() -> None:
    docs = [
        doc
        for path in sorted((DEPLOY / "k8s").glob("*.yaml"))
        for doc in yaml.safe_load_all(path.read_text())
        if doc
    ]
    kinds = {(d["kind"], d["metadata"]["name"]) for d in docs}
    assert ("Job", "signalbox-migrate") in kinds
    assert ("Secret", "signalbox-secrets") in kinds
    assert ("Service", "signalbox-router") in kinds
    router = next(
        d for d in docs if d["kind"] == "Deployment" and "router" in d["metadata"]["name"]
    )
    container = router["spec"]["template"]["spec"]["containers"][0]
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    for doc in docs:
        assert "apiVersion" in doc and "kind" in doc and "metadata" in doc
        if doc["kind"] == "Deployment":
            spec = doc["spec"]
            assert (
                spec["selector"]["matchLabels"].items()
                <= spec["template"]["metadata"]["labels"].items()
            )
            assert spec["template"]["spec"]["securityContext"]["runAsNonRoot"] is True


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze not installed")
def test_systemd_units_verify(tmp_path: Path) -> None:
    # The console script beside this interpreter (the venv's), whether or not it is on PATH.
    beside = Path(sys.executable).parent / "signalbox"
    signalbox = str(beside) if beside.exists() else shutil.which("signalbox")
    if signalbox is None:
        pytest.skip("the signalbox console script is not installed")
    for unit in (DEPLOY / "systemd").glob("*.service"):
        text = unit.read_text().replace("/usr/local/bin/signalbox", signalbox)
        (tmp_path / unit.name).write_text(text)
    shutil.copy(tmp_path / "signalbox-router@.service", tmp_path / "signalbox-router@8700.service")
    names = [
        "signalbox-migrate.service",
        "signalbox-probe.service",
        "signalbox-router@8700.service",
        "signalbox-dashboard.service",
    ]
    proc = subprocess.run(
        ["systemd-analyze", "verify", *names],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
