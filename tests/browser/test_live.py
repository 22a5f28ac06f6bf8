"""The inspector's live and operator features, in chromium, against a real ``adapter dev``:
the hook resume form, run-id search, workflow, status and time filters, status counts,
new runs appearing on their own, cursor paging, the wake button, 800 px and focus."""

from __future__ import annotations

import json
import re
import uuid
from datetime import datetime, timedelta

from playwright.sync_api import Locator, Page, expect

from .conftest import Scenario
from .stack import DevServer


def rows(page: Page) -> Locator:
    return page.locator("table.runs-table tbody tr[data-run-id]")


def row(page: Page, run_id: str) -> Locator:
    return page.locator(f'table.runs-table tr[data-run-id="{run_id}"]')


def test_a_hook_is_resumed_from_its_form(dev: DevServer, page: Page) -> None:
    token = f"approval-{uuid.uuid4().hex[:8]}"
    run_id = dev.start_run("wait_for_approval", token)
    dev.wait_for_event(run_id, "hook_created")
    page.goto(f"{dev.ui}#/runs/{run_id}")
    waiting = page.get_by_role("region", name="Waiting on")
    form = waiting.get_by_role("form", name=f"Resume hook {token}")
    expect(form.locator(".hook-token")).to_have_text(token)
    expect(form.locator(".webhook-url")).to_have_count(0)  # a hook, not a webhook

    payload = form.get_by_label("Payload (JSON)")
    payload.fill("{not json")
    form.get_by_role("button", name="Resume").click()
    expect(form.get_by_role("alert")).to_contain_text("Not valid JSON")
    assert dev.request("GET", f"/runs/{run_id}")[1]["status"] == "running"

    payload.fill('{"approved": true, "by": "ana"}')
    form.get_by_role("button", name="Resume").click()
    expect(page.locator(".run-status .status")).to_have_text(re.compile(r"completed"))
    expect(page.get_by_role("region", name="Output")).to_contain_text('"approved": true')
    expect(waiting).to_be_hidden()  # nothing left to wait on
    assert dev.request("GET", f"/runs/{run_id}")[1]["output"] == {"approved": True, "by": "ana"}


def test_run_id_search(dev: DevServer, scenario: Scenario, page: Page) -> None:
    page.goto(dev.ui)
    search = page.get_by_role("search", name="Find a run by id")
    search.get_by_label("Run ID").fill("wrun_nope")
    search.get_by_label("Run ID").press("Enter")
    expect(search.get_by_role("alert")).to_have_text("No run with id wrun_nope.")
    expect(page).not_to_have_url(re.compile(r"#/runs/"))
    search.get_by_label("Run ID").fill(f"  {scenario.chain} ")
    search.get_by_role("button", name="Open run").click()
    expect(page).to_have_url(re.compile(rf"#/runs/{scenario.chain}$"))
    expect(page.get_by_role("heading", level=1)).to_contain_text(scenario.chain)


def test_workflow_filter_by_part_of_the_name_and_status_counts(
    dev: DevServer, scenario: Scenario, page: Page
) -> None:
    dev.wait_for_status(scenario.chain, "completed")
    page.goto(dev.ui)
    expect(row(page, scenario.chain)).to_be_visible()
    page.get_by_label("Workflow").fill("THREE_st")  # a part of the short name, any case
    page.get_by_label("Workflow").press("Enter")
    expect(page).to_have_url(re.compile(r"#/\?workflow=THREE_st$"))
    expect(row(page, scenario.chain)).to_be_visible()
    names = rows(page).locator(".wf-name")
    expect(names.first).to_be_visible()
    assert all(
        title.endswith(".three_steps") for title in names.evaluate_all("ns => ns.map(n => n.title)")
    )

    # One count per status, matching the rows shown, each a link to that status.
    page.goto(f"{dev.ui}#/")
    expect(row(page, scenario.chain)).to_be_visible()
    counts = page.get_by_role("list", name="Runs per status")
    completed = counts.locator('li[data-status="completed"]')
    shown = rows(page).locator('.status[data-status="completed"]')
    expect(completed.locator(".count-n")).to_have_text(str(shown.count()))
    completed.get_by_role("link").click()
    expect(page).to_have_url(re.compile(r"#/\?status=completed$"))
    expect(rows(page).first).to_be_visible()
    expect(rows(page).locator('.status:not([data-status="completed"])')).to_have_count(0)


def test_time_range_filter(dev: DevServer, scenario: Scenario, page: Page) -> None:
    local = lambda moment: moment.strftime("%Y-%m-%dT%H:%M:%S")  # noqa: E731
    # Seconds not zero: a datetime-local input shows "HH:MM" for whole minutes.
    later = local((datetime.now() + timedelta(hours=1)).replace(second=30))
    page.goto(f"{dev.ui}#/?since={later}")
    expect(page.get_by_label("Created from")).to_have_value(later)
    expect(page.locator("table.runs-table td.empty")).to_have_text("No runs match these filters.")
    page.goto(f"{dev.ui}#/?until={later}")
    expect(row(page, scenario.chain)).to_be_visible()
    page.goto(f"{dev.ui}#/?until={local(datetime.now() - timedelta(days=1))}")
    expect(page.locator("table.runs-table td.empty")).to_be_visible()


def test_new_runs_appear_without_refresh(dev: DevServer, page: Page) -> None:
    first = dev.start_run("quick", 1)
    dev.wait_for_status(first, "completed")
    # Only ended runs on screen: the page keeps polling all the same.
    page.goto(f"{dev.ui}#/?workflow=quick")
    expect(row(page, first)).to_be_visible()
    later = dev.start_run("quick", 2)
    expect(row(page, later)).to_be_visible()
    expect(row(page, later).locator(".status")).to_have_text(re.compile("completed"))
    assert rows(page).first.get_attribute("data-run-id") == later  # newest first


def test_cursor_paging_through_300_runs(dev: DevServer, page: Page) -> None:
    tag = uuid.uuid4().hex[:6]
    started = {dev.start_run("quick", f"{tag}-{n}") for n in range(300)}
    page.goto(dev.ui)
    more = page.get_by_role("button", name="Load older runs")
    expect(rows(page)).to_have_count(100)  # a page, and a way to the next
    for total in (200, 300):
        more.click()
        expect(rows(page)).to_have_count(total)
    # Then the runs of the other tests, older still: page on until there is no cursor.
    while more.is_visible():
        count = rows(page).count()
        more.click()
        expect(rows(page)).not_to_have_count(count)
    seen = rows(page).evaluate_all("rs => rs.map(r => r.dataset.runId)")
    assert len(seen) == len(set(seen)) >= 300 and started <= set(seen)
    created = rows(page).locator("time").evaluate_all("ts => ts.map(t => t.dateTime)")
    assert created == sorted(created, reverse=True)
    expect(page.locator("#runs-count")).to_have_text(f"{len(seen)} runs.")


def test_the_wake_button_ends_a_sleep(dev: DevServer, page: Page) -> None:
    run_id = dev.start_run("long_nap", "cat")
    dev.wait_for_event(run_id, "wait_created")
    page.goto(f"{dev.ui}#/runs/{run_id}")
    waiting = page.get_by_role("region", name="Waiting on")
    expect(waiting).to_contain_text("until")
    waiting.get_by_role("button", name="Wake now").click()
    expect(page.locator(".run-status .status")).to_have_text(re.compile(r"completed"))
    expect(page.get_by_role("region", name="Output")).to_contain_text("cat woke up")
    events = dev.request("GET", f"/runs/{run_id}/events")[1]["events"]
    assert [e["type"] for e in events].count("wait_completed") == 1


def test_fits_800px_and_focus_is_not_a_selection(
    dev: DevServer, scenario: Scenario, page: Page
) -> None:
    page.set_viewport_size({"width": 800, "height": 900})
    for view in ("#/", f"#/runs/{scenario.retried}"):
        page.goto(f"{dev.ui}{view}")
        expect(page.locator("main h1")).to_be_visible()
        page.wait_for_timeout(300)
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 800, f"{view} is {width}px wide at 800px"
    page.goto(f"{dev.ui}#/?status=completed")
    chip = page.locator('.count-chip[aria-current="true"]')
    expect(chip).to_have_count(1)
    page.get_by_label("Run ID").click()  # a text field shows its focus however it got it
    focused = json.loads(
        page.evaluate(
            "JSON.stringify((s => [s.outlineStyle, s.outlineWidth, s.boxShadow])"
            "(getComputedStyle(document.activeElement)))"
        )
    )
    selected = json.loads(
        page.evaluate(
            "JSON.stringify((s => [s.outlineStyle, s.backgroundColor])"
            "(getComputedStyle(document.querySelector('.count-chip.is-current'))))"
        )
    )
    assert focused[0] == "solid" and focused[1] == "3px" and focused[2] != "none"
    assert selected[0] == "none"  # a selection is a tint, never a ring
