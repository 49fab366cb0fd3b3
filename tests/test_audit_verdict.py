"""scripts/audit_verdict.py reads npm audit's and pip-audit's JSON reports (shapes from npm 7+'s `npm audit --json`,
auditReportVersion 2, and pip-audit's `-f json` format) and tells an advisory from a database it could not reach."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "audit_verdict.py"


def verdict(tool: str, report: object | str) -> tuple[int, str]:
    text = report if isinstance(report, str) else json.dumps(report)
    done = subprocess.run([sys.executable, str(SCRIPT), tool], input=text, capture_output=True, text=True)
    return done.returncode, done.stdout


NPM_CLEAN = {"auditReportVersion": 2, "vulnerabilities": {}, "metadata": {"vulnerabilities": {"high": 0}}}
NPM_MODERATE = {"auditReportVersion": 2, "vulnerabilities": {"diff": {"name": "diff", "severity": "moderate"}}}
NPM_HIGH = {"auditReportVersion": 2, "vulnerabilities": {"dompurify": {"name": "dompurify", "severity": "high"}}}
NPM_UNREACHABLE = {
    "message": "405 Method Not Allowed - POST https://registry.npmjs.org/-/npm/v1/security/advisories/bulk"
}


@pytest.mark.parametrize(
    ("report", "status"), [(NPM_CLEAN, 0), (NPM_MODERATE, 0), (NPM_HIGH, 1), (NPM_UNREACHABLE, 3), ("", 3)]
)
def test_npm_fails_on_high_and_says_when_it_could_not_audit(report: object, status: int) -> None:
    code, out = verdict("npm", report)
    assert code == status, out
    if status == 1:
        assert "dompurify: high" in out


def test_pip_audit_fails_on_any_advisory_even_when_some_packages_were_skipped() -> None:
    report = {
        "dependencies": [
            {"name": "jinja2", "version": "3.1.4", "vulns": [{"id": "GHSA-q2x7-8rv6-6q7h", "fix_versions": ["3.1.5"]}]},
            {"name": "anywidget", "skip_reason": "Dependency not found on PyPI and could not be audited"},
        ],
        "fixes": [],
    }
    code, out = verdict("pip-audit", report)
    assert code == 1
    assert "jinja2==3.1.4: GHSA-q2x7-8rv6-6q7h" in out


def test_pip_audit_with_every_package_skipped_is_not_a_pass() -> None:
    report = {"dependencies": [{"name": "anywidget", "skip_reason": "could not be audited"}], "fixes": []}
    assert verdict("pip-audit", report)[0] == 3
    clean = {"dependencies": [{"name": "anywidget", "version": "0.11.0", "vulns": []}], "fixes": []}
    assert verdict("pip-audit", clean)[0] == 0
