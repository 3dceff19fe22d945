"""checkov over the SAM template and its translations: every finding is fixed or suppressed with a reason."""

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from lassodrop_local.template import REPO_ROOT, TEMPLATE_PATH, load_template, translate

pytestmark = pytest.mark.slow

# checkov reads parameter defaults to decide conditions, so each translation turns on the optional parts.
TRANSLATIONS = {
    "webhooks": {"EnableWebhooks": "true"},
    "existing-bucket-with-key": {
        "EnableWebhooks": "true",
        "ExistingInputBucketName": "my-recordings",
        "OutputToInputBucket": "true",
        "InputPrefix": "incoming/",
        "OutputPrefix": "separated/",
        "KmsKeyArn": "arn:aws:kms:us-east-1:123456789012:key/00000000-0000-0000-0000-000000000000",
    },
}


def _checkov() -> str:
    return os.environ.get("CHECKOV") or str(REPO_ROOT / ".venv-checkov" / "bin" / "checkov")


def _scan(path: Path, home: Path) -> dict[str, Any]:
    # --skip-download: checkov otherwise fetches guidelines from its vendor; tests never reach the internet.
    # --quiet reports failed checks only: checkov 3.3.30 crashes writing translated templates' passed ones.
    result = subprocess.run(
        [
            _checkov(),
            "--file",
            str(path),
            "--framework",
            "cloudformation",
            "--output",
            "json",
            "--skip-download",
            "--quiet",
        ],
        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home)},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    try:
        report: dict[str, Any] = json.loads(result.stdout)
    except json.JSONDecodeError:
        pytest.fail(f"checkov gave no report (exit {result.returncode}): {result.stderr[-2000:]}")
    assert report["summary"]["passed"] > 0, "checkov checked nothing"
    return report


def _findings(report: dict[str, Any]) -> list[str]:
    return [
        f"{check['check_id']} {check['resource']}: {check['check_name']}"
        for check in report["results"]["failed_checks"]
    ]


def _translated(parameters: dict[str, str], directory: Path) -> Path:
    template = load_template()
    for name, value in parameters.items():
        template["Parameters"][name]["Default"] = value
    path = directory / "translated.json"
    path.write_text(json.dumps(translate(template).template))
    return path


def test_checkov_is_installed() -> None:
    assert Path(_checkov()).is_file(), f"checkov not found at {_checkov()}: run `make test` or set CHECKOV"


def test_checkov_finds_nothing_unexplained_in_the_sam_template(tmp_path: Path) -> None:
    report = _scan(TEMPLATE_PATH, tmp_path)

    findings = _findings(report)
    assert not findings, "unsuppressed checkov findings:\n" + "\n".join(findings)
    assert report["summary"]["skipped"] > 0


@pytest.mark.parametrize("parameters", TRANSLATIONS.values(), ids=TRANSLATIONS.keys())
def test_checkov_finds_nothing_unexplained_in_the_translated_template(
    parameters: dict[str, str], tmp_path: Path
) -> None:
    report = _scan(_translated(parameters, tmp_path), tmp_path)

    findings = _findings(report)
    assert not findings, "unsuppressed checkov findings:\n" + "\n".join(findings)


def test_every_suppression_says_why(sam_template: dict[str, Any]) -> None:
    skips = [
        skip
        for resource in sam_template["Resources"].values()
        for skip in resource.get("Metadata", {}).get("checkov", {}).get("skip", [])
    ]

    assert skips
    assert [skip["id"] for skip in skips if len(skip.get("comment", "")) < 20] == []


def test_checkov_reports_a_weakened_template(tmp_path: Path) -> None:
    # Guards the tests above against a scanner that silently checks nothing.
    weakened = tmp_path / "template.yaml"
    weakened.write_text(
        TEMPLATE_PATH.read_text().replace("BlockPublicAcls: true", "BlockPublicAcls: false", 1)
    )

    findings = _findings(_scan(weakened, tmp_path))

    assert [finding for finding in findings if finding.startswith("CKV_AWS_53 AWS::S3::Bucket.InputBucket:")]
