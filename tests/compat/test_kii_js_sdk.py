"""Acceptance of the Kii-compatible facade with the official Kii Cloud JavaScript SDK.

Runs ``tests/compat/kii-js`` (``kii-cloud-sdk`` 2.4.19 under ``node --test``, DESIGN section 6: users and
tokens in ``auth.test.mjs``, buckets, objects and queries in ``objects.test.mjs``) against
the local stack's edge. ``npm ci`` installs the pinned SDK from the committed lock file when
``node_modules`` is missing or holds another version. Node and npm are required: without them the test
fails with a clear message instead of skipping.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from infra.local.stack import Stack
from services.auth.config import AuthSettings

pytestmark = pytest.mark.integration

KII_JS_DIR = Path(__file__).parent / "kii-js"
SDK_PACKAGE = "kii-cloud-sdk"
SDK_VERSION = "2.4.19"
BUDGET_S = 120.0  # npm ci (when needed) and the node run of both suites (~25 s on 2 cores) together
DEFAULT_APP_ID = "vitalsync"


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.fail(
            f"{name!r} is not on PATH: the Kii JS SDK acceptance tests need Node.js 20+ and npm "
            f"(install them, then run `npm ci` in {KII_JS_DIR})",
            pytrace=False,
        )
    return path


def _installed_sdk_version() -> str | None:
    manifest = KII_JS_DIR / "node_modules" / SDK_PACKAGE / "package.json"
    try:
        return str(json.loads(manifest.read_text(encoding="utf-8"))["version"])
    except (OSError, ValueError, KeyError):
        return None


def _output(completed: subprocess.CompletedProcess[str]) -> str:
    return f"--- stdout ---\n{completed.stdout}\n--- stderr ---\n{completed.stderr}"


def _timeout_output(exc: subprocess.TimeoutExpired) -> str:
    def text(value: str | bytes | None) -> str:
        return value.decode(errors="replace") if isinstance(value, bytes) else (value or "")

    return f"--- stdout ---\n{text(exc.stdout)}\n--- stderr ---\n{text(exc.stderr)}"


def _npm_ci(deadline: float) -> None:
    npm = _tool("npm")
    try:
        completed = subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund"],
            cwd=KII_JS_DIR,
            capture_output=True,
            text=True,
            timeout=max(1.0, deadline - time.monotonic()),
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"`npm ci` in {KII_JS_DIR} timed out\n{_timeout_output(exc)}", pytrace=False)
    if completed.returncode != 0:
        pytest.fail(f"`npm ci` in {KII_JS_DIR} failed ({completed.returncode})\n{_output(completed)}", pytrace=False)
    installed = _installed_sdk_version()
    assert installed == SDK_VERSION, f"npm ci installed {SDK_PACKAGE} {installed}, expected {SDK_VERSION}"


def _kii_app() -> tuple[str, str]:
    """The Kii application the stack's auth service serves (``vitalsync`` when configured)."""
    apps = AuthSettings().kii_apps
    assert apps, "the auth service serves no Kii application (VITALSYNC_KII_APPS is empty)"
    app_id = DEFAULT_APP_ID if DEFAULT_APP_ID in apps else next(iter(apps))
    return app_id, apps[app_id]


def _assert_reset_emails_sent(report: str) -> None:
    """The facade answers 204 to every reset request; check the reset email really went out (moto SES)."""
    addresses = re.findall(r"^\s*# reset-email-sent-to (\S+)$", report, re.MULTILINE)
    assert addresses, f"the reset test reported no address\n{report}"
    endpoint = AuthSettings().aws_endpoint_url
    assert endpoint, "no AWS endpoint (moto) configured: cannot check the reset email"
    with urllib.request.urlopen(f"{endpoint}/moto-api/data.json", timeout=10) as response:
        messages = json.loads(response.read())["ses"]["Message"]
    for address in addresses:
        bodies = [m["body"] for m in messages if address in m["destinations"]["ToAddresses"]]
        assert bodies, f"no password reset email was sent to {address} (moto SES holds {len(messages)} messages)"
        assert "password reset code" in bodies[-1], bodies[-1]


def test_official_kii_js_sdk_auth_flows(stack: Stack) -> None:
    deadline = time.monotonic() + BUDGET_S
    node = _tool("node")
    if _installed_sdk_version() != SDK_VERSION:
        _npm_ci(deadline)

    app_id, app_key = _kii_app()
    env = {
        **os.environ,
        "VITALSYNC_KII_SITE": f"http://127.0.0.1:{stack.settings.edge_port}/api",
        "VITALSYNC_KII_APP_ID": app_id,
        "VITALSYNC_KII_APP_KEY": app_key,
        "NO_COLOR": "1",
    }
    try:
        completed = subprocess.run(
            [node, "--test", "--test-reporter=tap"],
            cwd=KII_JS_DIR,
            env=env,
            capture_output=True,
            text=True,
            timeout=max(1.0, deadline - time.monotonic()),
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"`node --test` in {KII_JS_DIR} timed out\n{_timeout_output(exc)}", pytrace=False)
    print(completed.stdout)  # the TAP report (todo items included), shown by pytest -s or -rP
    if completed.returncode != 0:
        pytest.fail(
            f"the Kii JS SDK acceptance tests failed (`node --test` exit code {completed.returncode})\n"
            f"{_output(completed)}",
            pytrace=False,
        )
    _assert_reset_emails_sent(completed.stdout)
    summary = dict(re.findall(r"^# (tests|pass|fail) (\d+)$", completed.stdout, re.MULTILINE))
    assert summary.get("fail") == "0" and int(summary.get("pass", "0")) > 0, _output(completed)
