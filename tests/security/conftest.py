"""Session-wide privacy scan (issue #8 item 4).

From configuration on, every log record any logger emits in the test session is rendered as the services render it
(shared.logs.JsonFormatter) and scanned; at the session's end the artefacts the suites left under the session's temp
dir (e-mails, exports, logs, registry databases) are scanned too. Any national ID or test candidate name fails the
run. The scan only sees what ran: the README's test command runs everything, so it covers every suite.
"""
from __future__ import annotations

import logging

from .privacy_scan import findings_in_text, findings_in_tree

LOG_FINDINGS: list[tuple[str, str]] = []
_original_call_handlers = logging.Logger.callHandlers


def _scanning_call_handlers(self, record):
    try:
        from shared.logs import JsonFormatter
        rendered = JsonFormatter("scan").format(record)
    except Exception:  # a record that cannot be rendered is the logger's bug, not the scan's
        rendered = str(record.msg)
    for finding in findings_in_text(rendered):
        LOG_FINDINGS.append((f"log record from {record.name}", finding))
    return _original_call_handlers(self, record)


def pytest_configure(config):
    logging.Logger.callHandlers = _scanning_call_handlers
    config._privacy_scan_active = True


def pytest_unconfigure(config):
    logging.Logger.callHandlers = _original_call_handlers


def pytest_sessionfinish(session, exitstatus):
    findings = list(LOG_FINDINGS)
    try:
        basetemp = session.config._tmp_path_factory.getbasetemp()
        findings += findings_in_tree(basetemp)
    except Exception:  # noqa: BLE001  no temp dir made this session: nothing to scan
        pass
    if findings:
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        lines = [f"PRIVACY SCAN: personal data found in test artefacts ({len(findings)}):"]
        lines += [f"  {where}: {what}" for where, what in findings[:50]]
        if reporter:
            reporter.write_line("\n".join(lines), red=True)
        session.exitstatus = 1
