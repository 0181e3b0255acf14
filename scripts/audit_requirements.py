"""pip-audit of requirements.txt that says what it could not check (scripts/security.sh).

pip-audit passes quietly when its vulnerability service does not know a dependency ("Dependency not found on
PyPI", exit 0): a run that audited nothing looks clean. This reads its JSON report and ends with
  0  every dependency audited, no known vulnerability
  1  a known vulnerability (each printed with its fix versions)
  2  NOT AUDITED: some or all dependencies could not be looked up, or pip-audit could not run (reasons printed)
"""
from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

REQUIREMENTS = Path(__file__).resolve().parent.parent / "requirements.txt"


def main() -> int:
    with tempfile.TemporaryDirectory() as folder:
        report_file = Path(folder) / "report.json"
        run = subprocess.run(  # our own interpreter, fixed arguments, no shell
            [sys.executable, "-m", "pip_audit", "-r", str(REQUIREMENTS), "--progress-spinner", "off",
             "--format", "json", "--output", str(report_file)], capture_output=True, text=True)
        if not report_file.exists() or not report_file.read_text().strip():
            # Typically no package index or vulnerability service reachable: nothing was checked, say so.
            print(f"pip-audit: NOT AUDITED: pip-audit stopped (exit {run.returncode}) before auditing anything:")
            print((run.stderr or run.stdout).strip()[-2000:])
            return 2
        report = json.loads(report_file.read_text())
    code, lines = verdict(report)
    print("\n".join(lines))
    return code


def verdict(report: dict) -> tuple[int, list[str]]:
    """The exit code and the lines to print for pip-audit's JSON report."""
    dependencies = report["dependencies"]
    skipped = [d for d in dependencies if d.get("skip_reason")]
    vulnerable = [d for d in dependencies if d.get("vulns")]
    lines = []
    for dependency in vulnerable:
        for vuln in dependency["vulns"]:
            fixes = ", ".join(vuln.get("fix_versions") or []) or "no fix released"
            lines.append(f"VULNERABLE {dependency['name']} {dependency['version']}: {vuln['id']} (fixed in {fixes})")
    lines.append(f"pip-audit: {len(dependencies) - len(skipped)} of {len(dependencies)} dependencies audited, "
                 f"{sum(len(d['vulns']) for d in vulnerable)} known vulnerabilities")
    if skipped:
        reasons = Counter(d["skip_reason"].split(":")[0] for d in skipped)
        lines.append(f"pip-audit: NOT AUDITED: {len(skipped)} of {len(dependencies)} dependencies could not be looked "
                     f"up ({'; '.join(f'{n}x {reason}' for reason, n in reasons.items())}): "
                     + ", ".join(f"{d['name']} {d.get('version', '')}".strip() for d in skipped))
        lines.append("pip-audit: its vulnerability service (PyPI's JSON API per version, https://pypi.org/pypi/<name>/"
                     "<version>/json) did not answer for them; see docs/security.md")
    if vulnerable:
        return 1, lines
    return (2 if skipped else 0), lines


if __name__ == "__main__":
    sys.exit(main())
