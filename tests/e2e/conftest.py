"""Browser tests: pytest-playwright driving Debian's chromium against the live server.

``playwright install`` cannot download browsers here; chromium comes from
``apt-get install -y chromium`` and is launched by path (see STACK.md).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.optimizer.conftest import scoring_settings  # noqa: F401

# live_server runs in a thread while sync Playwright runs an event loop in this one.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = Path(os.environ.get("E2E_CHROMIUM", "/usr/bin/chromium"))
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
ARTIFACTS = Path(__file__).parent / "artifacts"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "e2e: real-browser test (needs /usr/bin/chromium)")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if CHROMIUM.exists():
        return
    skip = pytest.mark.skip(reason=f"no chromium at {CHROMIUM}: apt-get install -y chromium")
    for item in items:
        if "e2e" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    return {**browser_type_launch_args, "executable_path": str(CHROMIUM), "args": ARGS}


@pytest.fixture
def shot():
    """``shot(page, name)`` saves a full-page screenshot under tests/e2e/artifacts/, prints it."""
    ARTIFACTS.mkdir(exist_ok=True)
    taken: list[Path] = []

    def take(page, name: str) -> Path:
        path = ARTIFACTS / f"{len(taken) + 1:02d}-{name}.png"
        page.screenshot(path=str(path), full_page=True)
        taken.append(path)
        print(f"screenshot: {path.relative_to(ARTIFACTS.parent.parent.parent)}")
        return path

    return take
