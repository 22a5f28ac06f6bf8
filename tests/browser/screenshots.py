"""Take the documentation screenshots of the run inspector.

    .venv/bin/python -m tests.browser.screenshots [OUTDIR]     (default: docs/)

Starts ``adapter dev`` with the browser-test workflows, starts a few runs over the HTTP
API, and saves ``ui-runs.png`` (the runs view), ``ui-run.png`` (a run with a retried
step, a sleep and a child run) and ``ui-hook.png`` (a run waiting on a hook, with its
resume form) from Debian's chromium at 1280px.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from playwright.sync_api import expect, sync_playwright

from tests.devstack import ROOT

from .stack import launch_chromium, start_dev

WIDTH = 1280


def main(argv: list[str]) -> int:
    out = Path(argv[0]) if argv else ROOT / "docs"
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as work:
        dev = start_dev(Path(work))
        try:
            checkout = dev.start_run("checkout", "o-1042", 4200)
            dev.start_run("three_steps", "o-1041")
            dev.start_run("declined_payment", 9900)
            dev.start_run("retry_then_succeed", "inventory")
            dev.start_run("parent_job", 21)
            dev.wait_for_status(checkout, "completed", timeout=60)
            waiting = dev.start_run("wait_for_approval", "approval:o-1043")
            dev.start_run("three_steps", "o-1044")

            with sync_playwright() as playwright:
                browser = launch_chromium(playwright)
                page = browser.new_page(viewport={"width": WIDTH, "height": 760})
                page.goto(dev.ui)
                expect(page.locator("table.runs-table tbody tr")).to_have_count(9)
                running = page.locator("table.runs-table .status-running")
                expect(running).to_have_count(1, timeout=20_000)
                page.mouse.move(0, 0)
                page.screenshot(path=str(out / "ui-runs.png"), full_page=True)

                page.goto(f"{dev.ui}#/runs/{checkout}")
                expect(page.locator(".children-table tbody tr")).to_have_count(1)
                expect(page.locator(".children-table .status-completed")).to_have_count(1)
                # One expanded payload, to show what the event list holds.
                page.locator(
                    'table.events-table tr[data-type="step_retrying"] summary'
                ).first.click()
                page.mouse.move(0, 0)
                page.screenshot(path=str(out / "ui-run.png"), full_page=True)

                page.goto(f"{dev.ui}#/runs/{waiting}")
                form = page.locator("form.resume-form")
                expect(form).to_have_count(1)
                form.get_by_label("Payload (JSON)").fill('{"approved": true, "by": "ana"}')
                page.mouse.move(0, 0)
                page.screenshot(path=str(out / "ui-hook.png"), full_page=True)
                browser.close()
        finally:
            dev.stop()
    print(f"saved {out / 'ui-runs.png'}, {out / 'ui-run.png'} and {out / 'ui-hook.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
