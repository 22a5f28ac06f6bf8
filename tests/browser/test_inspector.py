"""The run inspector page, in chromium, against a real ``adapter dev``."""

from __future__ import annotations

import http.client
import re
import time

from playwright.sync_api import Locator, Page, expect

from tests.devstack import free_port

from .conftest import Scenario
from .stack import WORKFLOWS, DevServer


def row(page: Page, run_id: str) -> Locator:
    return page.locator(f'table.runs-table tr[data-run-id="{run_id}"]')


def timeline_steps(page: Page) -> Locator:
    return page.locator('ol.timeline li[data-kind="step"]')


def test_the_dev_stack_serves_the_page_and_its_assets(dev: DevServer) -> None:
    def get(path: str, method: str = "GET") -> tuple[int, dict[str, str], bytes]:
        conn = http.client.HTTPConnection("127.0.0.1", dev.port, timeout=10)
        try:
            conn.request(method, path)
            answer = conn.getresponse()
            return answer.status, {k.lower(): v for k, v in answer.getheaders()}, answer.read()
        finally:
            conn.close()

    status, headers, _ = get("/ui?api=x")
    assert status == 308 and headers["location"] == "/ui/?api=x"
    status, headers, body = get("/ui/")
    assert status == 200 and headers["content-type"] == "text/html; charset=utf-8"
    assert (
        b'<script src="app.js"' in body
        and "default-src 'self'" in headers["content-security-policy"]
    )
    for asset, kind in [
        ("app.js", "text/javascript; charset=utf-8"),
        ("app.css", "text/css; charset=utf-8"),
        ("favicon.svg", "image/svg+xml"),
    ]:
        status, headers, body = get(f"/ui/{asset}")
        assert (status, headers["content-type"]) == (200, kind) and body
        assert headers["x-content-type-options"] == "nosniff"
    for bad in ("/ui/nope.js", "/ui/../devstack.py", "/ui/%2e%2e%2fcli.py", "/ui/__init__.py"):
        assert get(bad)[0] == 404, bad
    assert get("/ui/", "POST")[0] == 405
    assert get("/ui/app.js", "HEAD")[0] == 200


def test_runs_view_lists_runs_started_over_the_api(
    dev: DevServer, scenario: Scenario, page: Page
) -> None:
    page.goto(dev.ui)
    expect(page.get_by_role("heading", level=1)).to_have_text("Runs")
    for run_id in (scenario.chain, scenario.retried, scenario.parent, scenario.hook):
        expect(row(page, run_id)).to_be_visible()
    chain = row(page, scenario.chain)
    expect(chain.get_by_role("cell").nth(1)).to_contain_text(f"{WORKFLOWS}.three_steps")
    expect(chain.get_by_role("cell").nth(3)).to_have_text("$LATEST")
    # Status as a word next to its icon, not colour alone; the page keeps refreshing
    # while runs are active, so "completed" shows up without a reload.
    expect(chain.locator(".status")).to_have_text(re.compile(r"✔\s*completed"))
    expect(row(page, scenario.hook).locator(".status")).to_have_text(re.compile(r"running"))
    expect(page.locator("#refresh-note")).to_contain_text("Auto-refreshing")

    # Filters: labelled controls that update the hash (so a filtered view is a link).
    page.get_by_label("Status", exact=True).select_option("running")
    expect(page).to_have_url(re.compile(r"#/\?status=running$"))
    expect(row(page, scenario.hook)).to_be_visible()
    expect(row(page, scenario.chain)).to_have_count(0)
    page.get_by_role("button", name="Clear").click()
    page.get_by_label("Workflow").fill(f"{WORKFLOWS}.three_steps")
    page.get_by_label("Workflow").press("Enter")
    expect(row(page, scenario.chain)).to_be_visible()
    expect(page.locator("table.runs-table tbody tr")).to_have_count(1)
    expect(row(page, scenario.hook)).to_have_count(0)

    # Each run links to its own view.
    page.get_by_role("link", name=scenario.chain).click()
    expect(page).to_have_url(re.compile(rf"#/runs/{scenario.chain}$"))
    expect(page.get_by_role("heading", level=1)).to_contain_text(scenario.chain)


def test_a_completed_run_shows_its_steps_in_order(
    dev: DevServer, scenario: Scenario, page: Page
) -> None:
    dev.wait_for_status(scenario.chain, "completed")
    page.goto(f"{dev.ui}#/runs/{scenario.chain}")
    expect(page.locator(".run-status .status")).to_have_text(re.compile(r"completed"))
    expect(page.locator(".run-kicker")).to_contain_text("three_steps")
    expect(page.get_by_role("region", name="Output")).to_contain_text('"o-1 confirmed for 200"')
    expect(page.get_by_role("region", name="Input")).to_contain_text('"o-1"')

    steps = timeline_steps(page)
    expect(steps).to_have_count(3)
    assert [steps.nth(i).get_attribute("data-name") for i in range(3)] == [
        "fetch_order",
        "price_order",
        "confirm_order",
    ]
    expect(steps.locator(".tl-result")).to_have_text(["✔ completed"] * 3)
    # Bars are placed by time: each step starts no earlier than the one before it.
    lefts = [
        steps.nth(i).locator(".tl-bar").evaluate("el => el.getBoundingClientRect().left")
        for i in range(3)
    ]
    assert lefts == sorted(lefts)

    events = page.locator("table.events-table tbody tr")
    expect(events.first).to_have_attribute("data-type", "run_created")
    expect(events.last).to_have_attribute("data-type", "run_completed")
    last = events.last
    details = last.locator("details")
    expect(details.locator("pre")).not_to_be_visible()
    last.locator("summary").click()
    expect(details.locator("pre")).to_be_visible()
    expect(details.locator("pre")).to_contain_text('"output": "o-1 confirmed for 200"')
    # No Cancel button on a run that ended.
    expect(page.get_by_role("button", name=re.compile("Cancel run"))).to_have_count(0)


def test_a_retried_step_shows_each_attempt(dev: DevServer, scenario: Scenario, page: Page) -> None:
    dev.wait_for_status(scenario.retried, "completed")
    page.goto(f"{dev.ui}#/runs/{scenario.retried}")
    attempts = page.locator('ol.timeline li[data-kind="step"][data-name="flaky_call"]')
    expect(attempts).to_have_count(3)
    expect(attempts.locator(".tl-attempt")).to_have_text(["attempt 1", "attempt 2", "attempt 3"])
    expect(attempts.locator(".tl-bar")).to_have_count(3)
    expect(attempts.locator(".tl-result")).to_have_text(
        ["↻ failed, retried", "↻ failed, retried", "✔ completed"]
    )
    expect(attempts.nth(0).locator(".tl-detail")).to_have_text(
        "RetryableError: upstream busy (attempt 1)"
    )
    expect(attempts.nth(1)).to_have_class(re.compile(r"\btl-failure\b"))
    # The later attempts start after the earlier ones ended (the retry delay).
    boxes = [attempts.nth(i).locator(".tl-bar").bounding_box() for i in range(3)]
    assert all(box is not None for box in boxes)
    assert boxes[0]["x"] < boxes[1]["x"] < boxes[2]["x"]  # type: ignore[index]
    retrying = page.locator('table.events-table tr[data-type="step_retrying"]')
    expect(retrying).to_have_count(2)


def test_a_failed_run_shows_its_tracebacks(dev: DevServer, page: Page) -> None:
    run_id = dev.start_run("declined_payment", 4200)
    dev.wait_for_status(run_id, "failed")
    page.goto(f"{dev.ui}#/runs/{run_id}")
    panel = page.locator("section.io-error")
    expect(panel.locator(".error-line")).to_contain_text("card declined for 4200")
    stacks = panel.locator("details.stack")
    expect(stacks.locator("summary")).to_have_text(
        ["Traceback of step charge_declined (attempt 1)", "Traceback of the run"]
    )
    # The step's own traceback is open, naming the line that raised.
    expect(stacks.nth(0).locator("pre.stack-trace")).to_be_visible()
    expect(stacks.nth(0).locator("pre.stack-trace")).to_contain_text(
        'raise FatalError(f"card declined for {amount_cents}")'
    )
    expect(stacks.nth(1).locator("pre.stack-trace")).to_contain_text(
        "return await charge_declined(amount_cents)"
    )
    # In the events table the stack reads as lines, not as an escaped JSON string.
    failed = page.locator('table.events-table tr[data-type="step_failed"]')
    failed.locator("summary").click()
    expect(failed.locator("pre.stack-trace")).to_contain_text("Traceback (most recent call last):")
    expect(failed.locator("pre.json")).not_to_contain_text("Traceback")


def test_a_child_run_is_linked_and_opens_its_own_view(
    dev: DevServer, scenario: Scenario, page: Page
) -> None:
    parent = dev.wait_for_status(scenario.parent, "completed")
    child_id = parent["output"].removeprefix("spawned ")
    page.goto(f"{dev.ui}#/runs/{scenario.parent}")
    children = page.get_by_role("region", name=re.compile("Child runs"))
    expect(children).to_contain_text("(1)")
    child_row = children.locator(f'tr[data-run-id="{child_id}"]')
    expect(child_row).to_contain_text("child_job")
    expect(child_row).to_contain_text("spawn_child")
    # The spawning step's row on the timeline links to the child too.
    spawner = page.locator('ol.timeline li[data-name="spawn_child"]')
    expect(spawner.get_by_role("link", name=child_id)).to_be_visible()

    child_row.get_by_role("link", name=child_id).click()
    expect(page).to_have_url(re.compile(rf"#/runs/{child_id}$"))
    expect(page.get_by_role("heading", level=1)).to_contain_text(child_id)
    expect(page.locator(".run-kicker")).to_contain_text("child_job")
    expect(page.locator(".run-status .status")).to_have_text(re.compile(r"completed"))
    expect(timeline_steps(page)).to_have_count(1)
    expect(page.get_by_role("region", name="Output")).to_contain_text("42")
    page.go_back()
    expect(page.get_by_role("heading", level=1)).to_contain_text(scenario.parent)


def test_cancel_on_a_run_waiting_on_a_hook(dev: DevServer, scenario: Scenario, page: Page) -> None:
    dev.wait_for_event(scenario.hook, "hook_created")
    page.goto(f"{dev.ui}#/runs/{scenario.hook}")
    expect(page.locator(".run-status .status")).to_have_text(re.compile(r"running"))
    hook = page.locator('ol.timeline li[data-kind="hook"]')
    expect(hook).to_have_count(1)
    expect(hook).to_contain_text(scenario.hook_token)
    expect(hook.locator(".tl-result")).to_have_text("◌ waiting")

    page.get_by_role("button", name="Cancel run…").click()
    # A confirmation first, with focus on the safe choice.
    expect(page.get_by_role("button", name="Keep it running")).to_be_focused()
    page.get_by_role("button", name="Yes, cancel run").click()
    expect(page.locator(".run-status .status")).to_have_text(re.compile(r"⊘\s*cancelled"))
    expect(page.get_by_role("button", name=re.compile("Cancel run"))).to_have_count(0)
    expect(page.locator('table.events-table tr[data-type="run_cancelled"]')).to_have_count(1)
    expect(hook.locator(".tl-result")).not_to_have_text("◌ waiting")
    assert dev.request("GET", f"/runs/{scenario.hook}")[1]["status"] == "cancelled"


def test_keyboard_reachable_and_fits_1024(dev: DevServer, scenario: Scenario, page: Page) -> None:
    dev.wait_for_status(scenario.retried, "completed")
    page.set_viewport_size({"width": 1024, "height": 800})
    page.goto(dev.ui)
    expect(row(page, scenario.retried)).to_be_visible()

    def no_horizontal_scroll() -> None:
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 1024, f"the page is {width}px wide at 1024px"

    no_horizontal_scroll()
    # Tab order: skip link, then main: Refresh, the run-id search, then the filters.
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="Skip to content")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator("main")).to_be_focused()
    for _ in range(6):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.id") == "filter-workflow":
            break
    expect(page.get_by_label("Workflow")).to_be_focused()
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline != "none"
    # A run link, reached and followed with the keyboard.
    link = row(page, scenario.retried).get_by_role("link", name=scenario.retried)
    link.focus()
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_be_focused()
    expect(timeline_steps(page)).to_have_count(3)
    no_horizontal_scroll()


def test_an_unknown_run_says_so(dev: DevServer, page: Page) -> None:
    started = time.monotonic()
    page.goto(f"{dev.ui}#/runs/wrun_nope")
    expect(page.get_by_role("alert").or_(page.locator(".notice-error"))).to_contain_text(
        "No run with id wrun_nope"
    )
    assert time.monotonic() - started < 10


def test_the_api_base_comes_from_the_api_parameter(
    dev: DevServer, scenario: Scenario, page: Page
) -> None:
    # An API that is not there: the page says where it looked.
    nowhere = f"http://127.0.0.1:{free_port()}"
    page.goto(f"{dev.ui}?api={nowhere}")
    expect(page.locator("#api-base")).to_have_text(nowhere)
    expect(page.locator(".notice-error")).to_contain_text(f"cannot reach the API at {nowhere}")
    # The real one, given explicitly (a trailing slash is fine).
    page.goto(f"{dev.ui}?api={dev.url}/#/runs/{scenario.chain}")
    expect(page.locator("#api-base")).to_have_text(dev.url)
    expect(page.get_by_role("heading", level=1)).to_contain_text(scenario.chain)
    expect(page.locator("table.events-table tbody tr").first).to_be_visible()


def test_the_children_route(dev: DevServer, scenario: Scenario) -> None:
    parent = dev.wait_for_status(scenario.parent, "completed")
    code, body = dev.request("GET", f"/runs/{scenario.parent}/children")
    assert code == 200
    [child] = body["children"]
    assert child["runId"] == parent["output"].removeprefix("spawned ")
    assert child["workflowName"] == f"{WORKFLOWS}.child_job"
    assert child["spawnedBy"] == "step_1"
    assert dev.request("GET", f"/runs/{scenario.chain}/children") == (200, {"children": []})
    code, body = dev.request("GET", "/runs/wrun_nope/children")
    assert code == 404 and body["error"]["code"] == "run_not_found"
