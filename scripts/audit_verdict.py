"""Read an audit's JSON report on stdin and say what it found: ``... | python scripts/audit_verdict.py npm|pip-audit``.

Exit status: 0 nothing found, 1 an advisory (npm: high or critical; pip-audit: any), 3 not audited (the advisory
database could not be asked, so the report holds no verdict). Used by scripts/audit.sh.
"""

from __future__ import annotations

import json
import sys


def npm(data: dict) -> int:
    if "vulnerabilities" not in data:
        print(f"npm audit: not audited ({data.get('message', 'no answer from the advisory database')})")
        return 3
    bad = {n: v["severity"] for n, v in data["vulnerabilities"].items() if v["severity"] in ("high", "critical")}
    for name, severity in sorted(bad.items()):
        print(f"npm audit: {name}: {severity} advisory")
    return 1 if bad else 0


def pip_audit(data: dict) -> int:
    deps = data.get("dependencies", [])
    found = [(d["name"], d["version"], v["id"]) for d in deps for v in d.get("vulns", [])]
    skipped = [d["name"] for d in deps if d.get("skip_reason")]
    for name, version, advisory in found:
        print(f"pip-audit: {name}=={version}: {advisory}")
    if skipped:
        print(f"pip-audit: {len(skipped)} of {len(deps)} packages not audited (no advisory data could be fetched)")
    if found:
        return 1
    return 3 if skipped or not deps else 0


def main(tool: str) -> int:
    text = sys.stdin.read()
    try:
        data = json.loads(text[text.index("{") :])
    except ValueError:
        print(f"{tool}: no report (its advisory database could not be asked)")
        return 3
    return npm(data) if tool == "npm" else pip_audit(data)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
