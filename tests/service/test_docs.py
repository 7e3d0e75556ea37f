"""/docs and /redoc: on by default, off with ``docs: false``, and in a real headless browser.

The browser is Debian's Chromium, driven by Playwright, against the live service. Every request the pages make
is recorded (and any to another host is refused, so nothing leaves the machine even if a page tried): all of
them must go to the service itself.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from diabetes_risk_model.service import ServiceSettings, load_configuration
from tests.support.packages import Artifacts, local_store
from tests.support.service import service_configuration

CHROMIUM = Path("/usr/bin/chromium")  # scripts/install_system_packages.sh installs it
LAUNCH_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# The prediction request of the README's "HTTP client" section.
README_BODY = {"body_mass_index": 32, "general_health": "FAIR", "age": "SIXTY_TO_SIXTY_FOUR", "income": "LESS_THAN_10K"}
OPERATION_ID = "PredictionController_api_models_diabetes_risk_model_prediction_post"
PREDICT_PATH = "/api/models/diabetes_risk_model/prediction"


def test_docs_pages_are_on_by_default_and_off_with_docs_false(
    artifacts: Artifacts, tmp_path: Path, start_service
) -> None:
    base = service_configuration(
        minio_url=local_store(tmp_path / "store", artifacts.package), keyring_path=str(artifacts.keyring_file)
    )
    on = start_service(base)
    page = on.get("/docs")
    assert page.status_code == 200 and "swagger-ui" in page.text
    redoc = on.get("/redoc")
    assert redoc.status_code == 200 and "redoc" in redoc.text
    for text in (page.text, redoc.text):
        assert "http://" not in text and "https://" not in text, "a docs page names another host"
    assert on.get("/docs/static/swagger-ui-bundle.js").status_code == 200
    assert on.get("/docs/static/redoc.standalone.js").status_code == 200
    assert on.get("/docs/static/no-such-file.js").json()["type"] == "NotFound"
    index = on.get("/").json()
    assert (index["docs"], index["redoc"]) == ("/docs", "/redoc")

    off = start_service(ServiceSettings(**base.model_dump(), docs=False))
    for path in ("/docs", "/redoc", "/docs/oauth2-redirect", "/docs/static/swagger-ui.css"):
        assert off.get(path).status_code == 404, path
    index = off.get("/").json()
    assert (index["docs"], index["redoc"]) == (None, None)
    assert on.get("/openapi.json").status_code == 200 and off.get("/openapi.json").status_code == 200


def test_a_docs_setting_in_yaml_is_read(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("service_title: t\ndocs: false\nmodels: []\n")
    assert load_configuration(config).docs is False
    config.write_text("service_title: t\nmodels: []\n")
    assert load_configuration(config).docs is True


# -- in a browser ------------------------------------------------------------------------------------------------


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Any]:
    """A Chromium context (Debian's binary, never a downloaded one) with a new, empty profile."""
    from playwright.sync_api import sync_playwright

    assert CHROMIUM.exists(), f"{CHROMIUM} is missing: run scripts/install_system_packages.sh"
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path / "profile"),
            executable_path=str(CHROMIUM),
            headless=True,
            args=LAUNCH_FLAGS,
        )
        try:
            yield context
        finally:
            context.close()


class Requests:
    """Every URL the pages of a context ask for, and those the page's Content-Security-Policy stopped.

    A request the policy stops never leaves the browser (Chromium reports it, then fails it as ``csp``); one
    to another host that the policy let through would be aborted by the route below, and still counted.
    """

    def __init__(self, context: Any, origin: str) -> None:
        self.origin = origin
        self.requested: list[str] = []
        self.stopped_by_policy: list[str] = []
        context.on("request", lambda request: self.requested.append(request.url))
        context.on("requestfailed", self._failed)
        context.route("**/*", self._only_the_service)

    def _failed(self, request: Any) -> None:
        if request.failure == "csp":
            self.stopped_by_policy.append(request.url)

    def _only_the_service(self, route: Any) -> None:
        if route.request.url.startswith(self.origin + "/"):
            route.continue_()
        else:
            route.abort()

    def sent(self) -> list[str]:
        """What went over the network (in-page ``blob:``/``data:`` URLs and requests the policy stopped are not)."""
        stopped = set(self.stopped_by_policy)
        return [url for url in self.requested if url not in stopped and not url.startswith(("blob:", "data:"))]

    def elsewhere(self) -> list[str]:
        return [url for url in self.sent() if not url.startswith(self.origin + "/")]


def test_swagger_ui_lists_the_prediction_and_try_it_out_answers_200(live_service: str, browser: Any) -> None:
    requests = Requests(browser, live_service)
    page = browser.new_page()
    page.goto(f"{live_service}/docs")
    operation = page.locator(f"#operations-default-{OPERATION_ID}")
    operation.wait_for(timeout=30_000)
    assert PREDICT_PATH in operation.inner_text()

    operation.locator(".opblock-summary").first.click()
    operation.locator("button.try-out__btn").click()
    operation.locator("textarea.body-param__text").fill(json.dumps(README_BODY))
    with page.expect_response(lambda response: response.url.endswith(PREDICT_PATH)) as answer:
        operation.locator("button.execute").click()
    response = answer.value
    assert response.status == 200, response.text()
    assert response.json()["diabetes_risk"] in {"DIABETES", "NO_DIABETES"}
    assert response.request.post_data_json == README_BODY
    status = operation.locator(".live-responses-table tr.response .response-col_status").first
    status.wait_for(timeout=10_000)
    assert status.inner_text().strip().startswith("200")

    sent = requests.sent()
    assert f"{live_service}/docs" in sent and f"{live_service}/openapi.json" in sent
    assert f"{live_service}/docs/static/swagger-ui-bundle.js" in sent
    assert f"{live_service}{PREDICT_PATH}" in sent
    assert requests.elsewhere() == [], f"the page requested other hosts: {requests.elsewhere()}"
    assert requests.stopped_by_policy == [], "Swagger UI asks for nothing elsewhere"


def test_redoc_renders_the_prediction_operation_from_the_service_alone(live_service: str, browser: Any) -> None:
    requests = Requests(browser, live_service)
    page = browser.new_page()
    page.goto(f"{live_service}/redoc")
    page.get_by_text(PREDICT_PATH).first.wait_for(timeout=30_000)
    page.get_by_text("API docs by Redocly").first.wait_for(timeout=10_000)  # the sidebar footer, with its logo
    assert f"{live_service}/openapi.json" in requests.sent()
    assert requests.elsewhere() == [], f"the page requested other hosts: {requests.elsewhere()}"
    # ReDoc's footer asks for the Redocly logo on a CDN: the page's policy stops it in the browser.
    assert all(not url.startswith(live_service) for url in requests.stopped_by_policy), requests.stopped_by_policy
