"""checkov offline in its own virtual environment, and the rendered cloud-init files."""

from __future__ import annotations

import base64
import json
import re
import shutil
import subprocess
from typing import Any

import pytest

from tests.conftest import REPO

TERRAFORM = REPO / "terraform"
CHECKOV = REPO / ".venv-checkov" / "bin" / "checkov"
# HTTPS, TLS, public access, SSH and password authentication: never skipped, and each must run
NEVER_SKIPPED = {
    "CKV_AZURE_3": "storage HTTPS only",
    "CKV_AZURE_44": "storage minimum TLS 1.2",
    "CKV_AZURE_59": "storage public network access",
    "CKV_AZURE_190": "storage blob public access",
    "CKV_AZURE_34": "container public access level",
    "CKV2_AZURE_47": "blob anonymous access",
    "CKV_AZURE_189": "Key Vault public network access",
    "CKV_AZURE_119": "public IPs on network interfaces",
    "CKV2_AZURE_39": "VM public IP",
    "CKV_AZURE_10": "SSH from the internet",
    "CKV_AZURE_178": "SSH keys on Linux VMs",
    "CKV_AZURE_1": "basic (password) authentication",
    "CKV_AZURE_149": "VM password authentication",
}
SKIP = re.compile(r"#\s*checkov:skip=([A-Z0-9_]+)(?::(.*))?")
SECRET_LOOKING = [
    re.compile(r"(?i)(password|passwd|secret|token|key)\s*[=:]\s*['\"]?[A-Za-z0-9+/_\-]{8,}"),
    re.compile(r"AccountKey=|SharedAccessSignature=|[?&]sig=|-----BEGIN"),
    re.compile(r"(?<![A-Za-z0-9/+])[A-Za-z0-9+/]{40,}={0,2}(?![A-Za-z0-9/+])"),
    re.compile(r"amqp://[^:@\s]+:[^$@\s][^@\s]*@"),
]


@pytest.fixture(scope="module")
def checkov_report() -> dict[str, Any]:
    assert CHECKOV.exists(), "checkov is not installed; run `make setup`"
    proc = subprocess.run(
        [str(CHECKOV), "-d", str(TERRAFORM), "--framework", "terraform", "--skip-download",
         "-o", "json"],
        capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    report: dict[str, Any] = json.loads(proc.stdout)
    return report


def test_checkov_finds_no_failure_and_checks_enough(checkov_report: dict[str, Any]) -> None:
    summary = checkov_report["summary"]
    failed = [(c["check_id"], c["resource"]) for c in checkov_report["results"]["failed_checks"]]
    assert summary["failed"] == 0, failed
    assert summary["parsing_errors"] == 0
    assert summary["passed"] >= 40, summary


def test_security_checks_are_never_skipped_and_every_skip_has_a_reason(
    checkov_report: dict[str, Any],
) -> None:
    skips = [
        (path.name, match.group(1), (match.group(2) or "").strip())
        for path in sorted(TERRAFORM.rglob("*.tf"))
        for match in SKIP.finditer(path.read_text())
    ]
    assert skips, "the skip parser found nothing: it would pass vacuously"
    for file, check, reason in skips:
        assert check not in NEVER_SKIPPED, f"{file} skips {check} ({NEVER_SKIPPED[check]})"
        assert len(reason.split()) >= 5, f"{file} skips {check} without a written reason"
    passed = {c["check_id"] for c in checkov_report["results"]["passed_checks"]}
    assert set(NEVER_SKIPPED) <= passed, sorted(set(NEVER_SKIPPED) - passed)


def render(template: str, variables: str) -> str:
    """Render a template with Terraform's own templatefile (offline: `terraform console`)."""
    terraform = shutil.which("terraform")
    assert terraform, "terraform (the CLI) is needed to render cloud-init"
    expression = f'templatefile("{TERRAFORM / "cloud-init" / template}", {variables})'
    proc = subprocess.run(
        [terraform, "console"], input=expression, capture_output=True, text=True,
        timeout=120, check=True, cwd=TERRAFORM / "cloud-init",
    )  # fmt: skip
    text = proc.stdout.strip()
    assert text.startswith("<<EOT") and text.endswith("EOT"), text[:200]
    return text.removeprefix("<<EOT").removesuffix("EOT").strip("\n") + "\n"


BOOT = (
    'templatefile("{common}", {{client_id="11111111-2222-3333-4444-555555555555", '
    'key_vault_name="vloc-kv-a1b2c3", repo_url="https://example.com/app.git", code_ref="v1.2.3", '
    'postgres_host="vloc-pg.vloc.private.postgres.database.azure.com", '
    'storage_account="vlocmediaa1b2c3"}})'
).format(common=TERRAFORM / "cloud-init" / "common.sh.tftpl")


@pytest.mark.parametrize(
    ("template", "extra"),
    [
        (
            "control.yaml.tftpl",
            'translator_url="http://10.40.2.4:8000/v1", translator_model="q", '
            'tts_url="http://10.40.2.4:8020/synthesize", tts_voice="v", ',
        ),
        (
            "gpu.yaml.tftpl",
            'control_host="10.40.1.4", segment_cache_lun=10, llm={model="q", '
            "port=8000, max_model_len=8192, gpu_memory_utilization=0.45}, "
            'tts={port=8020, voice="v", command=""}, ',
        ),
    ],
)
def test_cloud_init_renders_small_and_without_secrets(template: str, extra: str) -> None:
    rendered = render(template, f"{{{extra}boot_script={BOOT}}}")
    assert rendered.startswith("#cloud-config\n")
    assert len(base64.b64encode(rendered.encode())) < 64 * 1024, "custom data limit is 64 KB"
    for pattern in SECRET_LOOKING:
        assert not pattern.search(rendered), (pattern.pattern, pattern.search(rendered))
    assert "$(secret dagster-pg-password)" in rendered, "secrets are fetched at boot"


def test_secret_detector_catches_a_leaked_password() -> None:
    leaked = "DAGSTER_PG_PASSWORD=Sup3rS3cretValue42\n"
    assert any(p.search(leaked) for p in SECRET_LOOKING)
    assert any(
        p.search("amqp://localization:hunter2hunter2@10.0.0.4:5672//") for p in SECRET_LOOKING
    )


def test_terraform_files_are_formatted() -> None:
    terraform = shutil.which("terraform")
    assert terraform
    proc = subprocess.run(
        [terraform, "fmt", "-check", "-recursive", str(TERRAFORM)],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout
