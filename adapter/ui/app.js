/* adapter run inspector: plain JavaScript over the adapter HTTP API.
 *
 * Views (hash routing, so the page works from any static host):
 *   #/                         runs, newest first
 *                              (#/?workflow=PART&status=STATUS&since=LOCAL&until=LOCAL)
 *   #/runs/<runId>             one run: header, timeline, child runs, events
 *
 * The API base is the page's origin, or the ?api= query parameter
 * (e.g. index.html?api=https://abc.execute-api.eu-west-1.amazonaws.com).
 * Everything is built with DOM calls and textContent: no payload is ever parsed as HTML.
 */
"use strict";

(() => {
  const REFRESH_MS = 2000;
  const RUNS_LIMIT = 100;
  const STATUSES = ["pending", "running", "completed", "failed", "cancelled"];
  const FILTER_STATUSES = [...STATUSES, "stuck"]; // stuck: pending or running, cannot advance
  const ACTIVE = new Set(["pending", "running"]);
  const STATUS_ICONS = {
    pending: "○",
    running: "●",
    completed: "✔",
    failed: "✖",
    cancelled: "⊘",
    stuck: "⚠",
  };
  // What a timeline bar ended as: icon and text, so colour is never the only signal.
  const OUTCOMES = {
    pending: { icon: "○", label: "pending" },
    running: { icon: "▶", label: "running" },
    completed: { icon: "✔", label: "completed" },
    retried: { icon: "↻", label: "failed, retried" },
    failed: { icon: "✖", label: "failed" },
    abandoned: { icon: "⚠", label: "abandoned" },
    cancelled: { icon: "⊘", label: "cancelled" },
    sleeping: { icon: "◷", label: "sleeping" },
    slept: { icon: "✔", label: "woke up" },
    waiting: { icon: "◌", label: "waiting" },
    received: { icon: "✔", label: "received" },
    disposed: { icon: "⊘", label: "disposed" },
    conflict: { icon: "✖", label: "token conflict" },
    unfinished: { icon: "⊘", label: "unfinished" },
  };
  const FAILURES = new Set(["failed", "retried", "conflict", "abandoned"]);

  const query = new URLSearchParams(window.location.search);
  const API = (query.get("api") || "").trim().replace(/\/+$/, "");

  // --- small helpers -------------------------------------------------------------------

  function h(tag, props, ...kids) {
    const el = document.createElement(tag);
    for (const [key, value] of Object.entries(props || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (key === "class") el.className = value;
      else if (key === "text") el.textContent = value;
      else if (key === "dataset") Object.assign(el.dataset, value);
      else if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
      else el.setAttribute(key, value === true ? "" : String(value));
    }
    append(el, kids);
    return el;
  }

  function append(el, ...kids) {
    for (const kid of kids.flat(Infinity)) {
      if (kid === null || kid === undefined || kid === false) continue;
      el.append(kid instanceof Node ? kid : String(kid));
    }
    return el;
  }

  /** Re-render a container without losing keyboard focus on one of its links. */
  function keepFocus(container, render) {
    const active = document.activeElement;
    const href = active && container.contains(active) ? active.getAttribute("href") : null;
    render();
    if (href) {
      const again = [...container.querySelectorAll("a[href]")].find((a) => a.getAttribute("href") === href);
      if (again) again.focus();
    }
  }

  function clear(el) {
    while (el.firstChild) el.removeChild(el.firstChild);
    return el;
  }

  function ms(iso) {
    if (!iso) return null;
    // Python writes microseconds; keep milliseconds so every engine parses it.
    const value = Date.parse(String(iso).replace(/(\.\d{3})\d+/, "$1"));
    return Number.isNaN(value) ? null : value;
  }

  function pad(n, width = 2) {
    return String(n).padStart(width, "0");
  }

  function fmtTime(at) {
    if (at === null || at === undefined) return "–";
    const d = new Date(at);
    return (
      `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ` +
      `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`
    );
  }

  function fmtClock(at) {
    const d = new Date(at);
    return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
  }

  /** 12ms, 1.25s, 12.5s, 2m03s, 1h02m, 3d04h (as the CLI prints them). */
  function fmtDuration(millis) {
    let seconds = Math.max(0, millis) / 1000;
    if (seconds < 1) return `${Math.round(seconds * 1000)}ms`;
    if (seconds < 60) return seconds < 10 ? `${seconds.toFixed(2)}s` : `${seconds.toFixed(1)}s`;
    seconds = Math.floor(seconds);
    let minutes = Math.floor(seconds / 60);
    if (minutes < 60) return `${minutes}m${pad(seconds % 60)}s`;
    let hours = Math.floor(minutes / 60);
    minutes %= 60;
    if (hours < 48) return `${hours}h${pad(minutes)}m`;
    const days = Math.floor(hours / 24);
    hours %= 24;
    return `${days}d${pad(hours)}h`;
  }

  function shortName(name) {
    return String(name || "").split(".").pop();
  }

  function compactJson(value, limit) {
    let text;
    try {
      text = JSON.stringify(value);
    } catch (err) {
      text = String(value);
    }
    if (text === undefined) text = "undefined";
    return limit && text.length > limit ? `${text.slice(0, limit - 1)}…` : text;
  }

  function prettyJson(value) {
    try {
      return JSON.stringify(value, null, 2);
    } catch (err) {
      return String(value);
    }
  }

  function isEmpty(value) {
    return (
      value === null ||
      value === undefined ||
      (typeof value === "object" && Object.keys(value).length === 0)
    );
  }

  /** The tracebacks a failed run recorded, from its events: the step attempts that failed
   * for good (the last one first), then the run's own. */
  function failureStacks(events) {
    const found = [];
    for (const ev of events) {
      const error = ev.data && ev.data.error;
      if (!error || !error.stack) continue;
      if (ev.type === "step_failed") {
        const attempt = error.attempt ? ` (attempt ${error.attempt})` : "";
        found.unshift({ title: `Traceback of step ${shortName(error.step_name || ev.correlationId)}${attempt}`, stack: error.stack });
      } else if (ev.type === "run_failed") {
        found.push({ title: "Traceback of the run", stack: error.stack });
      }
    }
    return found;
  }

  function errorText(error) {
    if (!error) return "";
    return `${error.type || "Error"}: ${error.message || ""}`.trim();
  }

  function announce(text) {
    const live = document.getElementById("announcer");
    live.textContent = "";
    window.setTimeout(() => {
      live.textContent = text;
    }, 50);
  }

  function statusBadge(status, extraClass) {
    const known = STATUSES.includes(status);
    return h(
      "span",
      {
        class: `status status-${known ? status : "unknown"}${extraClass ? ` ${extraClass}` : ""}`,
        dataset: { status },
      },
      h("span", { class: "status-icon", "aria-hidden": "true", text: STATUS_ICONS[status] || "?" }),
      h("span", { class: "status-text", text: status }),
    );
  }

  /** A workflow name: the module path muted and breakable, the function name bold. */
  function workflowName(name) {
    const parts = String(name || "").split(".");
    const last = parts.pop();
    const module = parts.map((part) => [h("span", { text: `${part}.` }), h("wbr")]);
    return h(
      "span",
      { class: "wf-name", title: name },
      module.length ? h("span", { class: "wf-module" }, module) : null,
      h("strong", { class: "wf-short", text: last }),
    );
  }

  function runLink(runId, label) {
    return h("a", { href: `#/runs/${encodeURIComponent(runId)}`, class: "run-link" }, label || h("code", { text: runId }));
  }

  function notice(kind, text) {
    const icon = kind === "error" ? "✖" : "ℹ";
    return h(
      "p",
      { class: `notice notice-${kind}` },
      h("span", { class: "notice-icon", "aria-hidden": "true", text: icon }),
      " ",
      text,
    );
  }

  // --- the API -------------------------------------------------------------------------

  class ApiError extends Error {
    constructor(status, code, message) {
      super(message);
      this.status = status;
      this.code = code;
    }
  }

  async function api(method, path, body) {
    const init = { method, cache: "no-store" };
    if (method !== "GET") {
      // The dev stack refuses writes that are not declared JSON (cross-site requests).
      init.headers = { "Content-Type": "application/json" };
    }
    if (body !== undefined) {
      init.body = JSON.stringify(body);
    }
    let response;
    try {
      response = await fetch(API + path, init);
    } catch (err) {
      throw new ApiError(0, "unreachable", `cannot reach the API at ${API || window.location.origin} (${err.message}); is it running?`);
    }
    const text = await response.text();
    let data = null;
    try {
      data = text ? JSON.parse(text) : null;
    } catch (err) {
      data = null;
    }
    if (!response.ok) {
      const error = (data && data.error) || {};
      throw new ApiError(
        response.status,
        error.code || `http_${response.status}`,
        error.message || `${method} ${path} answered HTTP ${response.status}`,
      );
    }
    return data;
  }

  /** An unfiltered list is merged from one query per status: keep each run once, with
   * its most advanced status (as the CLI does). */
  function uniqueRuns(runs) {
    const progress = { pending: 0, running: 1 };
    const best = new Map();
    for (const run of runs) {
      const seen = best.get(run.runId);
      const rank = progress[run.status] ?? 2;
      if (!seen || rank > (progress[seen.status] ?? 2)) best.set(run.runId, run);
    }
    return runs.filter((run) => best.get(run.runId) === run);
  }

  // --- routing ---------------------------------------------------------------------------

  let current = null; // { stop() } of the view on screen
  let generation = 0;

  function parseHash() {
    const hash = window.location.hash || "#/";
    if (!hash.startsWith("#/")) return null;
    const [path, search = ""] = hash.slice(1).split("?");
    const params = new URLSearchParams(search);
    const match = path.match(/^\/runs\/([^/]+)\/?$/);
    if (match) return { view: "run", runId: decodeURIComponent(match[1]) };
    if (path === "/" || path === "/runs" || path === "/runs/") {
      const filters = { view: "runs" };
      for (const key of ["workflow", "status", "since", "until"]) filters[key] = params.get(key) || "";
      return filters;
    }
    return { view: "missing", path };
  }

  function route(initial) {
    const target = parseHash();
    if (target === null) return; // an in-page anchor, not a view
    if (current) current.stop();
    generation += 1;
    const main = clear(document.getElementById("main"));
    for (const link of document.querySelectorAll("[data-nav]")) {
      if (target.view === "runs") link.setAttribute("aria-current", "page");
      else link.removeAttribute("aria-current");
    }
    if (target.view === "runs") current = runsView(main, target, generation);
    else if (target.view === "run") current = runView(main, target.runId, generation);
    else current = missingView(main, target.path);
    if (!initial) {
      const heading = main.querySelector("h1");
      if (heading) heading.focus({ preventScroll: false });
      window.scrollTo(0, 0);
    }
  }

  function missingView(main, path) {
    document.title = "Not found · adapter";
    append(
      main,
      h("h1", { tabindex: "-1", text: "Nothing here" }),
      notice("error", `There is no view at ${path}.`),
      h("p", {}, h("a", { href: "#/", text: "Back to the runs" })),
    );
    return { stop() {} };
  }

  /** Calls load() now and then every REFRESH_MS while it returns true (and the tab is
   * visible); refresh() loads again at once. */
  function poller(load) {
    let timer = null;
    let stopped = false;
    let busy = false;
    let again = false;
    let pending = false; // a refresh came due while the tab was hidden
    async function tick() {
      if (stopped) return;
      window.clearTimeout(timer);
      timer = null;
      if (busy) {
        again = true;
        return;
      }
      busy = true;
      let keep = false;
      try {
        keep = await load();
      } finally {
        busy = false;
      }
      if (stopped) return;
      if (again) {
        again = false;
        tick();
      } else if (keep) {
        timer = window.setTimeout(() => {
          if (document.visibilityState === "hidden") pending = true;
          else tick();
        }, REFRESH_MS);
      }
    }
    function onVisible() {
      if (document.visibilityState === "visible" && pending) {
        pending = false;
        tick();
      }
    }
    document.addEventListener("visibilitychange", onVisible);
    tick();
    return {
      refresh: tick,
      stop() {
        stopped = true;
        window.clearTimeout(timer);
        document.removeEventListener("visibilitychange", onVisible);
      },
    };
  }

  // --- the runs view -------------------------------------------------------------------------

  const knownWorkflows = new Set();

  function runsView(main, filters, gen) {
    document.title = "Runs · adapter";
    const field = (id, label, control) =>
      h("div", { class: `field field-${id}` }, h("label", { for: `filter-${id}`, text: label }), control);
    const runIdInput = h("input", {
      id: "filter-run-id", name: "run", type: "search", placeholder: "wrun_…",
      autocomplete: "off", spellcheck: "false",
    });
    const searchForm = h(
      "form",
      { class: "run-search", role: "search", "aria-label": "Find a run by id", onsubmit: findRun },
      field("run-id", "Run ID", runIdInput),
      h("button", { type: "submit", class: "button", text: "Open run" }),
      h("p", { class: "field-error", id: "run-id-error", role: "alert" }),
    );
    const workflowInput = h("input", {
      id: "filter-workflow", name: "workflow", type: "text", list: "workflow-names",
      value: filters.workflow, placeholder: "any (part of the name, e.g. orders)",
      autocomplete: "off", spellcheck: "false",
    });
    const datalist = h("datalist", { id: "workflow-names" });
    const statusSelect = h(
      "select",
      { id: "filter-status", name: "status" },
      h("option", { value: "", text: "any status" }),
      FILTER_STATUSES.map((s) => h("option", { value: s, text: `${STATUS_ICONS[s]} ${s}`, selected: s === filters.status })),
    );
    const sinceInput = h("input", { id: "filter-since", name: "since", type: "datetime-local", step: "1", value: filters.since });
    const untilInput = h("input", { id: "filter-until", name: "until", type: "datetime-local", step: "1", value: filters.until });
    const form = h(
      "form",
      { class: "filters", role: "search", "aria-label": "Filter runs", onsubmit: apply },
      h("div", { class: "field-workflow-wrap" }, field("workflow", "Workflow", workflowInput), datalist),
      field("status", "Status", statusSelect),
      field("since", "Created from", sinceInput),
      field("until", "Created before", untilInput),
      h("div", { class: "field-buttons" },
        h("button", { type: "submit", class: "button", text: "Apply filters" }),
        h("button", {
          type: "button", class: "button button-quiet", text: "Clear",
          disabled: !filtered(filters), onclick: () => navigate({}),
        }),
      ),
    );
    statusSelect.addEventListener("change", apply);

    function apply(event) {
      if (event) event.preventDefault();
      navigate({
        workflow: workflowInput.value.trim(), status: statusSelect.value,
        since: sinceInput.value, until: untilInput.value,
      });
    }

    function navigate(next) {
      const params = new URLSearchParams();
      for (const key of ["workflow", "status", "since", "until"]) if (next[key]) params.set(key, next[key]);
      const search = params.toString();
      const hash = `#/${search ? `?${search}` : ""}`;
      if (window.location.hash === hash || (!window.location.hash && hash === "#/")) refresher.refresh();
      else window.location.hash = hash;
    }

    async function findRun(event) {
      event.preventDefault();
      const wanted = runIdInput.value.trim();
      const problem = searchForm.querySelector(".field-error");
      problem.textContent = "";
      if (!wanted) {
        problem.textContent = "Type a run id (wrun_…).";
        runIdInput.focus();
        return;
      }
      try {
        await api("GET", `/runs/${encodeURIComponent(wanted)}`);
      } catch (err) {
        problem.textContent = err.status === 404 ? `No run with id ${wanted}.` : err.message;
        runIdInput.focus();
        return;
      }
      window.location.hash = `#/runs/${encodeURIComponent(wanted)}`;
    }

    const note = h("span", { class: "refresh-note", id: "refresh-note" });
    const refreshButton = h("button", {
      type: "button", class: "button button-quiet", text: "Refresh", onclick: () => refresher.refresh(),
    });
    const errorBox = h("div", { class: "error-box" });
    const counts = h("ul", { class: "status-counts", "aria-label": "Runs per status" });
    const tbody = h("tbody");
    const table = h(
      "table",
      { class: "data runs-table", "aria-describedby": "runs-count" },
      h("caption", { class: "visually-hidden", text: "Runs, newest first" }),
      h("thead", {},
        h("tr", {},
          h("th", { scope: "col", text: "Run" }),
          h("th", { scope: "col", text: "Workflow" }),
          h("th", { scope: "col", text: "Status" }),
          h("th", { scope: "col", text: "Deployment" }),
          h("th", { scope: "col", text: "Created" }),
          h("th", { scope: "col", class: "num", text: "Duration" }),
        ),
      ),
      tbody,
    );
    const count = h("p", { class: "count", id: "runs-count" });
    const moreButton = h("button", {
      type: "button", class: "button", text: "Load older runs", hidden: true, onclick: () => loadOlder(),
    });

    append(
      main,
      h("div", { class: "view-head" },
        h("h1", { tabindex: "-1", text: filtered(filters) ? "Runs (filtered)" : "Runs" }),
        h("div", { class: "view-tools" }, note, refreshButton),
      ),
      searchForm,
      form,
      errorBox,
      counts,
      h("div", { class: "table-wrap" }, table),
      h("div", { class: "paging" }, count, moreButton),
    );

    // Every run shown, by id; the newest page is read again on each refresh (new runs
    // appear on their own), older pages once each, through the API's cursor.
    const shown = new Map();
    let olderCursor = null; // the cursor after the oldest page read (null: none left)
    let pagedOnce = false;
    // A full name the page has seen is filtered by the API; anything else (a part of a
    // name) here, on each page. Decided once, so every page of the view has one query.
    const serverWorkflow = knownWorkflows.has(filters.workflow) ? filters.workflow : "";
    const sinceIso = localToIso(filters.since);
    const untilIso = localToIso(filters.until);

    function pageQuery(cursor) {
      const params = new URLSearchParams({ limit: String(RUNS_LIMIT) });
      // A full registered name is filtered by the API; a part of one here, on each page.
      if (serverWorkflow) params.set("workflow", serverWorkflow);
      // "stuck" is a mark on pending and running runs: picked out here.
      if (filters.status && filters.status !== "stuck") params.set("status", filters.status);
      if (sinceIso) params.set("since", sinceIso);
      if (untilIso) params.set("until", untilIso);
      if (cursor) params.set("cursor", cursor);
      return `/runs?${params}`;
    }

    function keep(run) {
      const name = String(run.workflowName || "").toLowerCase();
      const wanted = filters.workflow.toLowerCase();
      const created = ms(run.createdAt);
      return (
        (!wanted || name.includes(wanted)) &&
        (!filters.status || run.status === filters.status || (filters.status === "stuck" && run.stuck)) &&
        (!sinceIso || created >= ms(sinceIso)) &&
        (!untilIso || created < ms(untilIso))
      );
    }

    function take(runs) {
      let known = false;
      for (const run of uniqueRuns(runs)) {
        knownWorkflows.add(run.workflowName);
        if (shown.has(run.runId)) known = true;
        if (keep(run)) shown.set(run.runId, run);
      }
      return known;
    }

    async function load() {
      try {
        const first = await api("GET", pageQuery(null));
        if (gen !== generation) return false;
        const hadRuns = shown.size > 0;
        let known = take(first.runs || []);
        let cursor = first.nextCursor || null;
        // More new runs than a page since the last refresh: read on until a known one.
        for (let hops = 0; hadRuns && !known && cursor && hops < 20; hops += 1) {
          const next = await api("GET", pageQuery(cursor));
          if (gen !== generation) return false;
          known = take(next.runs || []);
          cursor = next.nextCursor || null;
        }
        if (!pagedOnce) {
          pagedOnce = true;
          olderCursor = cursor;
        }
      } catch (err) {
        if (gen !== generation) return false;
        clear(errorBox).append(notice("error", err.message));
        note.textContent = `Retrying every ${REFRESH_MS / 1000} s`;
        return err.status === 0 || err.status >= 500;
      }
      clear(errorBox);
      render();
      note.textContent = `Auto-refreshing every ${REFRESH_MS / 1000} s · updated ${fmtClock(Date.now())}`;
      note.classList.add("live");
      return true;
    }

    async function loadOlder() {
      if (!olderCursor) return;
      moreButton.disabled = true;
      try {
        const page = await api("GET", pageQuery(olderCursor));
        if (gen !== generation) return;
        take(page.runs || []);
        olderCursor = page.nextCursor || null;
        render();
        announce(`${shown.size} runs shown.`);
      } catch (err) {
        clear(errorBox).append(notice("error", `Loading older runs failed: ${err.message}`));
      } finally {
        moreButton.disabled = false;
      }
    }

    function render() {
      const runs = [...shown.values()].sort(newestFirst);
      clear(datalist).append(...[...knownWorkflows].sort().map((name) => h("option", { value: name })));
      renderCounts(runs);
      renderRows(runs);
      moreButton.hidden = !olderCursor;
      const many = runs.length === 1 ? "run" : "runs";
      count.textContent = `${runs.length} ${many}${filtered(filters) ? " matching the filters" : ""}` +
        (olderCursor ? " shown; older runs on the next pages." : ".");
    }

    function renderCounts(runs) {
      const tally = new Map(STATUSES.map((s) => [s, 0]));
      let stuck = 0;
      for (const run of runs) {
        tally.set(run.status, (tally.get(run.status) || 0) + 1);
        if (run.stuck) stuck += 1;
      }
      const items = [...tally.entries()].map(([status, n]) => [status, n]);
      if (stuck) items.push(["stuck", stuck]);
      clear(counts).append(
        ...items.map(([status, n]) =>
          h("li", { dataset: { status, count: String(n) } },
            h("a", {
              href: `#/?${new URLSearchParams({ ...cleanFilters(filters), status })}`,
              class: `count-chip status-${status}${filters.status === status ? " is-current" : ""}`,
              "aria-current": filters.status === status ? "true" : null,
              title: `Show only ${status} runs`,
            },
              h("span", { class: "status-icon", "aria-hidden": "true", text: STATUS_ICONS[status] || "⚠" }),
              ` ${status} `,
              h("strong", { class: "count-n", text: String(n) }),
            ),
          ),
        ),
      );
    }

    function renderRows(runs) {
      // Keep keyboard focus on the same run's link across a refresh.
      const focused = document.activeElement && tbody.contains(document.activeElement)
        ? document.activeElement.closest("tr")?.dataset.runId
        : null;
      const now = Date.now();
      clear(tbody);
      if (!runs.length) {
        tbody.append(
          h("tr", {}, h("td", { colspan: "6", class: "empty" },
            filtered(filters) ? "No runs match these filters." : "No runs yet. Start one with POST /runs (or `adapter start`).")),
        );
      }
      for (const run of runs) {
        const created = ms(run.createdAt);
        const ended = ms(run.completedAt);
        const active = ACTIVE.has(run.status);
        tbody.append(
          h("tr", { dataset: { runId: run.runId, status: run.status } },
            h("td", { class: "cell-id" }, runLink(run.runId)),
            h("td", { class: "cell-wf" },
              h("a", {
                href: `#/?workflow=${encodeURIComponent(run.workflowName)}`,
                class: "wf-filter-link",
                title: `Show only runs of ${run.workflowName}`,
              }, workflowName(run.workflowName)),
            ),
            h("td", {}, statusBadge(run.status), run.stuck ? h("span", { class: "stuck-flag", title: run.stuck.reason, text: " ⚠ stuck" }) : null),
            h("td", {}, h("code", { text: run.deploymentId })),
            h("td", {}, h("time", { datetime: run.createdAt, title: run.createdAt, text: fmtTime(created) })),
            h("td", { class: "num" },
              fmtDuration((ended ?? now) - created),
              active
                ? h("span", { class: "so-far", title: "still going" },
                    "…", h("span", { class: "visually-hidden", text: " so far" }))
                : null,
            ),
          ),
        );
      }
      if (focused) {
        const row = [...tbody.rows].find((tr) => tr.dataset.runId === focused);
        const link = row && row.querySelector("a");
        if (link) link.focus();
      }
    }

    const refresher = poller(load);
    return { stop: () => refresher.stop() };
  }

  function filtered(filters) {
    return Boolean(filters.workflow || filters.status || filters.since || filters.until);
  }

  function cleanFilters(filters) {
    const out = {};
    for (const key of ["workflow", "since", "until"]) if (filters[key]) out[key] = filters[key];
    return out;
  }

  function newestFirst(a, b) {
    const byTime = (ms(b.createdAt) ?? 0) - (ms(a.createdAt) ?? 0);
    if (byTime) return byTime;
    return a.runId < b.runId ? 1 : a.runId > b.runId ? -1 : 0;
  }

  /** A datetime-local value (local time) as an ISO moment with its zone, or "". */
  function localToIso(value) {
    if (!value) return "";
    const at = new Date(value);
    return Number.isNaN(at.getTime()) ? "" : at.toISOString();
  }

  // --- the run view ----------------------------------------------------------------------------

  function runView(main, runId, gen) {
    document.title = `Run ${runId} · adapter`;
    const kicker = h("span", { class: "run-kicker" });
    const heading = h("h1", { tabindex: "-1", class: "run-title" }, kicker, h("code", { class: "run-id", text: runId }));
    const statusSlot = h("div", { class: "run-status" });
    const actions = h("div", { class: "run-actions" });
    const errorBox = h("div", { class: "error-box" });
    const facts = h("dl", { class: "facts" });
    const io = h("div", { class: "io" });
    const timelineBox = h("div", { class: "timeline-box" });
    const waitingSection = h("section", { class: "panel waiting-panel", "aria-labelledby": "waiting-title", hidden: true });
    const childrenBox = h("div", { class: "children-box" });
    const eventsBody = h("tbody");
    const eventsCount = h("span", { class: "section-count" });
    const childrenCount = h("span", { class: "section-count" });
    const note = h("span", { class: "refresh-note" });

    append(
      main,
      h("div", { class: "crumbs-row" },
        h("nav", { class: "crumbs", "aria-label": "Breadcrumb" },
          h("ol", {},
            h("li", {}, h("a", { href: "#/", text: "Runs" })),
            h("li", {}, h("span", { "aria-current": "page" }, h("code", { text: runId }))),
          ),
        ),
        note,
      ),
      h("div", { class: "run-head" },
        h("div", { class: "run-head-main" }, heading),
        statusSlot,
        actions,
      ),
      errorBox,
      facts,
      io,
      waitingSection,
      h("section", { class: "panel", "aria-labelledby": "timeline-title" },
        h("h2", { id: "timeline-title" }, "Timeline"),
        timelineBox,
      ),
      h("section", { class: "panel", "aria-labelledby": "children-title" },
        h("h2", { id: "children-title" }, "Child runs ", childrenCount),
        childrenBox,
      ),
      h("section", { class: "panel", "aria-labelledby": "events-title" },
        h("h2", { id: "events-title" }, "Events ", eventsCount),
        h("div", { class: "table-wrap" },
          h("table", { class: "data events-table" },
            h("caption", { class: "visually-hidden", text: "The run's event log, in order" }),
            h("thead", {},
              h("tr", {},
                h("th", { scope: "col", class: "num", text: "Seq" }),
                h("th", { scope: "col", text: "Type" }),
                h("th", { scope: "col", text: "Correlation" }),
                h("th", { scope: "col", class: "num", text: "Time" }),
                h("th", { scope: "col", text: "Data" }),
              ),
            ),
            eventsBody,
          ),
        ),
      ),
    );

    let lastStatus = null;
    let shownSeq = 0;
    let headKey = "";
    let childrenKey = "";
    let confirming = false;
    let cancelling = false;

    async function load() {
      let run;
      let events;
      let children;
      let timeline;
      try {
        const optional = (err) => {
          if (err.status === 404 && err.code === "not_found") return null; // an API without the route
          throw err;
        };
        [run, events, children, timeline] = await Promise.all([
          api("GET", `/runs/${encodeURIComponent(runId)}`),
          api("GET", `/runs/${encodeURIComponent(runId)}/events`).then((body) => body.events || []),
          api("GET", `/runs/${encodeURIComponent(runId)}/children`).then((body) => body.children || [], optional),
          api("GET", `/runs/${encodeURIComponent(runId)}/timeline`).then((body) => body, optional),
        ]);
      } catch (err) {
        if (gen !== generation) return false;
        if (err.status === 404) {
          clear(errorBox).append(notice("error", `No run with id ${runId}.`));
          return false;
        }
        clear(errorBox).append(notice("error", err.message));
        return err.status === 0 || err.status >= 500;
      }
      if (gen !== generation) return false;
      clear(errorBox);
      render(run, events, children, timeline);
      const active = ACTIVE.has(run.status);
      note.textContent = active
        ? `Auto-refreshing every ${REFRESH_MS / 1000} s while the run is ${run.status} · updated ${fmtClock(Date.now())}`
        : `Updated ${fmtClock(Date.now())}`;
      note.classList.toggle("live", active);
      return active;
    }

    function render(run, events, children, timeline) {
      if (lastStatus !== null && lastStatus !== run.status) announce(`Run is now ${run.status}.`);
      lastStatus = run.status;
      document.title = `${shortName(run.workflowName)} ${run.status} · ${runId} · adapter`;
      const now = Date.now();
      const stacks = run.error ? failureStacks(events) : [];
      const key = JSON.stringify([run.status, run.completedAt, run.output, run.error, run.parentRunId, stacks]);
      if (key !== headKey) {
        headKey = key;
        renderHead(run, stacks);
      }
      keepFocus(facts, () => renderFacts(run, now));
      const stepNames = new Map();
      for (const ev of events) {
        if (ev.type === "step_created") stepNames.set(ev.correlationId, ev.data.step_name);
      }
      renderWaiting(run, timeline);
      keepFocus(timelineBox, () => renderTimeline(run, events, timeline, children || [], now));
      renderChildren(children, stepNames);
      renderEvents(run, events);
    }

    // What the run waits on (its open sleeps and hooks), with a way to end each wait now:
    // "Wake now" for a sleep, a payload form for a hook. Kept while the user types.
    let waitingKey = "";

    function renderWaiting(run, timeline) {
      const active = ACTIVE.has(run.status) && timeline !== null;
      const sleeps = active ? (timeline.waits || []).filter((w) => !w.completedAt) : [];
      const hooks = active ? (timeline.hooks || []).filter((k) => !k.conflict && !k.disposedAt) : [];
      const key = JSON.stringify([sleeps.map((w) => w.correlationId), hooks.map((k) => [k.correlationId, k.payloads])]);
      if (key === waitingKey) return;
      if (waitingSection.contains(document.activeElement) && waitingKey) {
        // Someone is typing a payload: leave the form alone until they are done.
        const typing = document.activeElement.tagName === "TEXTAREA";
        if (typing) return;
      }
      waitingKey = key;
      clear(waitingSection);
      waitingSection.hidden = !sleeps.length && !hooks.length;
      if (waitingSection.hidden) return;
      waitingSection.append(h("h2", { id: "waiting-title" }, "Waiting on"));
      if (sleeps.length) {
        const button = h("button", {
          type: "button", class: "button wake-button", text: "Wake now",
          "aria-describedby": "waiting-sleeps",
          onclick: () => wake(button),
        });
        waitingSection.append(
          h("div", { class: "waiting-item waiting-sleep" },
            h("ul", { id: "waiting-sleeps", class: "plain-list" },
              sleeps.map((wait) =>
                h("li", { dataset: { cid: wait.correlationId } },
                  h("span", { "aria-hidden": "true", text: "◷ " }),
                  "Sleep ", h("code", { text: wait.correlationId }), " until ",
                  h("time", { datetime: wait.resumeAt, text: fmtTime(ms(wait.resumeAt)) }),
                ),
              ),
            ),
            button,
            h("p", { class: "muted hint", text: "Wake now ends the pending sleeps at once (recorded like any wake): for development and tests." }),
          ),
        );
      }
      for (const hook of hooks) waitingSection.append(hookForm(hook));
    }

    function hookForm(hook) {
      const base = API || window.location.origin;
      const path = `/${hook.webhook ? "webhooks" : "hooks"}/${encodeURIComponent(hook.token)}`;
      const id = `payload-${hook.correlationId}`;
      const textarea = h("textarea", { id, name: "payload", rows: "3", spellcheck: "false", class: "payload-input" });
      textarea.value = "{}";
      const problem = h("p", { class: "field-error", role: "alert" });
      const submit = h("button", { type: "submit", class: "button", text: "Resume" });
      const form = h("form", {
        class: "waiting-item waiting-hook resume-form",
        dataset: { cid: hook.correlationId, token: hook.token },
        "aria-label": `Resume hook ${hook.token}`,
        onsubmit: async (event) => {
          event.preventDefault();
          problem.textContent = "";
          let payload;
          try {
            payload = JSON.parse(textarea.value);
          } catch (err) {
            problem.textContent = `Not valid JSON: ${err.message}`;
            textarea.focus();
            return;
          }
          submit.disabled = true;
          try {
            await api("POST", path, payload);
            announce(`Resumed hook ${hook.token}.`);
            textarea.blur();
            waitingKey = "";
            refresher.refresh();
          } catch (err) {
            problem.textContent = `Resuming failed: ${err.message}`;
          } finally {
            submit.disabled = false;
          }
        },
      },
        h("p", {},
          h("span", { "aria-hidden": "true", text: "◌ " }),
          hook.webhook ? "Webhook " : "Hook ", h("code", { class: "hook-token", text: hook.token }),
          hook.payloads ? ` · ${hook.payloads} payload${hook.payloads === 1 ? "" : "s"} received` : "",
        ),
        hook.webhook
          ? h("p", { class: "webhook-url" }, "POST JSON to ", h("code", { class: "breakable", text: base + path }))
          : null,
        h("label", { for: id, text: "Payload (JSON)" }),
        textarea,
        problem,
        submit,
      );
      return form;
    }

    async function wake(button) {
      button.disabled = true;
      try {
        const body = await api("POST", `/runs/${encodeURIComponent(runId)}/wake`);
        const woken = (body && body.woken) || [];
        announce(woken.length ? `Woke ${woken.join(", ")}.` : "Nothing to wake: the sleep had already ended.");
        waitingKey = "";
        refresher.refresh();
      } catch (err) {
        clear(errorBox).append(notice("error", `Waking failed: ${err.message}`));
        button.disabled = false;
      }
    }

    function renderHead(run, stacks) {
      clear(kicker).append(workflowName(run.workflowName));
      clear(statusSlot).append(statusBadge(run.status, "status-large"));
      renderActions(run);
      clear(io);
      io.append(
        h("section", { class: "io-block", "aria-labelledby": "input-title" },
          h("h2", { id: "input-title", text: "Input" }),
          h("pre", { class: "json", tabindex: "0" }, prettyJson(run.input)),
        ),
      );
      if (run.status === "completed") {
        io.append(
          h("section", { class: "io-block", "aria-labelledby": "output-title" },
            h("h2", { id: "output-title", text: "Output" }),
            h("pre", { class: "json", tabindex: "0" }, prettyJson(run.output)),
          ),
        );
      } else if (run.error) {
        io.append(
          h("section", { class: "io-block io-error", "aria-labelledby": "error-title" },
            h("h2", { id: "error-title" }, h("span", { "aria-hidden": "true", text: "✖ " }), "Error"),
            h("p", { class: "error-line" }, h("strong", { text: run.error.type }), `: ${run.error.message}`),
            ...stacks.map(({ title, stack }, i) =>
              h("details", { class: "stack", open: i === 0 ? "" : null },
                h("summary", { text: title }),
                h("pre", { class: "stack-trace", tabindex: "0", text: stack }),
              ),
            ),
          ),
        );
      } else {
        io.append(
          h("section", { class: "io-block io-waiting", "aria-labelledby": "output-title" },
            h("h2", { id: "output-title", text: "Output" }),
            h("p", {
              class: "muted",
              text: run.status === "cancelled"
                ? "None: the run was cancelled."
                : "Not yet: the run has not finished.",
            }),
          ),
        );
      }
    }

    function renderActions(run) {
      const hadFocus = actions.contains(document.activeElement);
      clear(actions);
      if (!ACTIVE.has(run.status)) {
        confirming = false;
        return;
      }
      if (cancelling) {
        actions.append(h("button", { type: "button", class: "button button-danger", disabled: true, text: "Cancelling…" }));
      } else if (confirming) {
        const keep = h("button", {
          type: "button",
          class: "button button-quiet",
          text: "Keep it running",
          onclick: () => {
            confirming = false;
            renderActions(run);
          },
        });
        actions.append(
          h("div", { class: "confirm", role: "group", "aria-labelledby": "confirm-text" },
            h("span", { id: "confirm-text", class: "confirm-text", text: "Cancel this run? This cannot be undone." }),
            h("button", { type: "button", class: "button button-danger", text: "Yes, cancel run", onclick: () => cancel() }),
            keep,
          ),
        );
        keep.focus();
        return;
      } else {
        actions.append(
          h("button", {
            type: "button",
            class: "button button-danger-outline",
            text: "Cancel run…",
            onclick: () => {
              confirming = true;
              renderActions(run);
            },
          }),
        );
      }
      if (hadFocus) actions.querySelector("button")?.focus();
    }

    async function cancel() {
      cancelling = true;
      confirming = false;
      renderActions({ status: "running" });
      try {
        await api("POST", `/runs/${encodeURIComponent(runId)}/cancel`);
        announce("Cancellation requested.");
      } catch (err) {
        clear(errorBox).append(notice("error", `Cancelling failed: ${err.message}`));
      } finally {
        cancelling = false;
        headKey = "";
        refresher.refresh();
      }
    }

    function fact(label, ...value) {
      return [h("dt", { text: label }), h("dd", {}, ...value)];
    }

    function renderFacts(run, now) {
      const created = ms(run.createdAt);
      const started = ms(run.startedAt);
      const ended = ms(run.completedAt);
      const items = [
        fact("Run ID", h("code", { text: run.runId })),
        fact("Workflow", h("code", { class: "breakable", text: run.workflowName })),
        fact("Status", statusBadge(run.status)),
        fact("Deployment", h("code", { text: run.deploymentId })),
      ];
      if (run.parentRunId) items.push(fact("Parent run", runLink(run.parentRunId)));
      items.push(fact("Created", h("time", { datetime: run.createdAt, text: fmtTime(created) })));
      items.push(fact("Started", started ? h("time", { datetime: run.startedAt, text: fmtTime(started) }) : "not yet"));
      if (ended) items.push(fact("Ended", h("time", { datetime: run.completedAt, text: fmtTime(ended) })));
      items.push(fact(ended ? "Duration" : "Age", fmtDuration((ended ?? now) - created), ended ? "" : " so far"));
      clear(facts).append(...items.flat());
    }

    function renderChildren(children, stepNames) {
      if (children === null) {
        childrenCount.textContent = "";
        clear(childrenBox).append(h("p", { class: "muted", text: "This API does not list child runs (GET /runs/{runId}/children)." }));
        return;
      }
      const key = JSON.stringify(children.map((c) => [c.runId, c.status, c.spawnedBy]));
      if (key === childrenKey) return;
      childrenKey = key;
      childrenCount.textContent = `(${children.length})`;
      clear(childrenBox);
      if (!children.length) {
        childrenBox.append(h("p", { class: "muted", text: "None: no step of this run started another run." }));
        return;
      }
      childrenBox.append(
        h("div", { class: "table-wrap" },
          h("table", { class: "data children-table" },
            h("caption", { class: "visually-hidden", text: "Runs started from this run's steps" }),
            h("thead", {},
              h("tr", {},
                h("th", { scope: "col", text: "Run" }),
                h("th", { scope: "col", text: "Workflow" }),
                h("th", { scope: "col", text: "Status" }),
                h("th", { scope: "col", text: "Started by step" }),
                h("th", { scope: "col", text: "Created" }),
              ),
            ),
            h("tbody", {},
              children.map((child) =>
                h("tr", { dataset: { runId: child.runId } },
                  h("td", { class: "cell-id" }, runLink(child.runId)),
                  h("td", {}, workflowName(child.workflowName)),
                  h("td", {}, statusBadge(child.status)),
                  h("td", {},
                    child.spawnedBy
                      ? [
                          h("strong", { text: shortName(stepNames.get(child.spawnedBy) || "?") }),
                          " ",
                          h("code", { class: "muted", text: child.spawnedBy }),
                        ]
                      : "–",
                  ),
                  h("td", {}, h("time", { datetime: child.createdAt, text: fmtTime(ms(child.createdAt)) })),
                ),
              ),
            ),
          ),
        ),
      );
    }

    function renderEvents(run, events) {
      const origin = ms(run.createdAt);
      if (events.length < shownSeq) {
        clear(eventsBody);
        shownSeq = 0;
      }
      // The log only grows: append what is new, so open <details> stay open.
      for (const ev of events) {
        if (ev.seq <= shownSeq) continue;
        shownSeq = ev.seq;
        const at = ms(ev.createdAt);
        const bad = ev.type === "step_failed" || ev.type === "run_failed" || ev.type === "step_retrying";
        // A recorded traceback reads as lines under the JSON, not as one escaped string in it.
        const stack = ev.data && ev.data.error && ev.data.error.stack;
        const data = stack ? { ...ev.data, error: { ...ev.data.error, stack: undefined } } : ev.data;
        eventsBody.append(
          h("tr", { dataset: { seq: ev.seq, type: ev.type } },
            h("td", { class: "num" }, String(ev.seq)),
            h("td", {},
              h("span", { class: `ev-type${bad ? " ev-bad" : ""}` },
                bad ? h("span", { "aria-hidden": "true", text: ev.type === "step_retrying" ? "↻ " : "✖ " }) : null,
                ev.type,
              ),
            ),
            h("td", {}, ev.correlationId ? h("code", { text: ev.correlationId }) : h("span", { class: "muted", text: "–" })),
            h("td", { class: "num" },
              h("time", { datetime: ev.createdAt, title: fmtTime(at) }, `+${fmtDuration(at - origin)}`),
            ),
            h("td", { class: "cell-data" },
              isEmpty(data)
                ? h("span", { class: "muted", text: "–" })
                : h("details", {},
                    h("summary", {}, h("code", { class: "preview", text: compactJson(data, 96) })),
                    h("pre", { class: "json" }, prettyJson(data)),
                    stack ? h("pre", { class: "stack-trace", text: stack }) : null,
                  ),
            ),
          ),
        );
      }
      eventsCount.textContent = `(${events.length})`;
    }

    function renderTimeline(run, events, timeline, children, now) {
      if (timeline === null) {
        clear(timelineBox).append(h("p", { class: "muted", text: "This API does not serve the timeline (GET /runs/{runId}/timeline)." }));
        return;
      }
      const origin = ms(run.createdAt);
      const lastEvent = events.length ? ms(events[events.length - 1].createdAt) : origin;
      const runEnd = ms(run.completedAt);
      const end = runEnd ?? Math.max(now, lastEvent);
      const total = Math.max(end - origin, 1);
      const rows = timelineRows(timeline, runEnd);
      const childrenByStep = new Map();
      for (const child of children) {
        if (!child.spawnedBy) continue;
        if (!childrenByStep.has(child.spawnedBy)) childrenByStep.set(child.spawnedBy, []);
        childrenByStep.get(child.spawnedBy).push(child);
      }
      // The last attempt of a step is the one that started its children.
      const lastAttempt = new Map();
      const attemptsOf = new Map();
      for (const row of rows) {
        if (row.kind !== "step") continue;
        lastAttempt.set(row.cid, row);
        attemptsOf.set(row.cid, (attemptsOf.get(row.cid) || 0) + 1);
      }

      const pct = (at) => Math.min(100, Math.max(0, ((at - origin) / total) * 100));
      const list = h("ol", { class: "timeline", "aria-label": "Steps, sleeps and hooks over time" });
      const runRow = {
        kind: "run",
        name: shortName(run.workflowName),
        fullName: run.workflowName,
        start: origin,
        end: runEnd,
        outcome: run.status,
        detail: run.error ? errorText(run.error) : "",
      };
      for (const row of [runRow, ...rows]) {
        const stop = row.end ?? (runEnd ?? end);
        const left = pct(row.start);
        const width = Math.max(0, pct(stop) - left);
        const outcome = row.kind === "run"
          ? { icon: STATUS_ICONS[row.outcome] || "?", label: row.outcome }
          : OUTCOMES[row.outcome] || { icon: "?", label: row.outcome };
        const took = fmtDuration(stop - row.start) + (row.end === null ? "…" : "");
        const retried = row.kind === "step" && (attemptsOf.get(row.cid) > 1 || row.attempt > 1);
        const attemptText = retried ? `attempt ${row.attempt}` : row.kind === "hook" && row.attempt > 1 ? `payload ${row.attempt}` : "";
        const track = h("div", { class: "tl-track" });
        if (row.gapFrom !== null && row.gapFrom !== undefined && row.gapFrom < row.start) {
          const gapLeft = pct(row.gapFrom);
          const gap = h("span", { class: "tl-gap", title: `waited ${fmtDuration(row.start - row.gapFrom)} before this attempt` });
          gap.style.left = `${gapLeft}%`;
          gap.style.width = `${Math.max(0, left - gapLeft)}%`;
          track.append(gap);
        }
        const bar = h("span", {
          class: `tl-bar bar-${row.kind} outcome-${row.outcome}${row.end === null ? " open" : ""}`,
          title: [
            row.fullName || row.name,
            attemptText,
            outcome.label,
            `+${fmtDuration(row.start - origin)} for ${took}`,
          ].filter(Boolean).join(" · "),
        });
        bar.style.left = `${Math.min(left, 99.5)}%`;
        bar.style.width = `${width}%`;
        track.append(bar);
        const spawned = row.kind === "step" && lastAttempt.get(row.cid) === row ? childrenByStep.get(row.cid) || [] : [];
        list.append(
          h("li", {
            class: `tl-row tl-${row.kind}${FAILURES.has(row.outcome) ? " tl-failure" : ""}`,
            dataset: { kind: row.kind, name: row.name, attempt: row.attempt ?? "", outcome: row.outcome, cid: row.cid ?? "" },
          },
            h("div", { class: "tl-label" },
              h("span", { class: `tl-kind kind-${row.kind}`, text: row.kind === "run" ? "run" : row.kind }),
              " ",
              h("span", { class: "tl-name", title: row.fullName || row.name, text: row.name }),
              attemptText ? [" ", h("span", { class: "tl-attempt", text: attemptText })] : null,
            ),
            track,
            h("div", { class: "tl-outcome" },
              h("span", { class: `tl-result result-${row.outcome}` },
                h("span", { class: "tl-icon", "aria-hidden": "true", text: outcome.icon }),
                ` ${outcome.label}`,
              ),
              h("span", { class: "tl-times" }, ` +${fmtDuration(row.start - origin)} · ${took}`),
              row.detail ? h("span", { class: "tl-detail", title: row.detail, text: row.detail }) : null,
              spawned.length
                ? h("span", { class: "tl-children" },
                    h("span", { "aria-hidden": "true", text: "↳ " }),
                    spawned.length === 1 ? "started child run " : `started ${spawned.length} child runs: `,
                    spawned.map((child, i) => [i ? ", " : "", runLink(child.runId, h("code", { text: child.runId }))]),
                  )
                : null,
            ),
          ),
        );
      }

      const ticks = h("div", { class: "tl-axis-track", "aria-hidden": "true" });
      for (const fraction of [0, 0.25, 0.5, 0.75, 1]) {
        const tick = h("span", { class: "tl-tick", text: `+${fmtDuration(total * fraction)}` });
        tick.style.left = `${fraction * 100}%`;
        ticks.append(tick);
      }
      const legend = h("ul", { class: "legend", "aria-label": "Legend" },
        [
          ["completed", "completed"],
          ["retried", "attempt failed, retried"],
          ["failed", "failed"],
          ["running", "running"],
          ["sleeping", "sleep"],
          ["waiting", "hook wait"],
        ].map(([outcome, label]) =>
          h("li", {},
            h("span", { class: `swatch outcome-${outcome}`, "aria-hidden": "true" }),
            h("span", { class: "tl-icon", "aria-hidden": "true", text: OUTCOMES[outcome].icon }),
            ` ${label}`,
          ),
        ),
      );
      clear(timelineBox).append(
        legend,
        h("div", { class: "tl-axis" },
          h("div", { class: "tl-label tl-head", text: "Step, sleep or hook" }),
          ticks,
          h("div", { class: "tl-outcome tl-head", text: "Outcome · start · duration" }),
        ),
        list,
      );
      if (!rows.length) {
        timelineBox.append(h("p", { class: "muted", text: "No steps, sleeps or hooks yet." }));
      }
    }

    const refresher = poller(load);
    return { stop: () => refresher.stop() };
  }

  /** Timeline rows from the API's folded run (GET /runs/{runId}/timeline): one per step
   * attempt, sleep and hook, in the order they began. Nothing is folded here. */
  function timelineRows(timeline, runEnd) {
    const rows = [];
    for (const step of timeline.steps || []) {
      const name = shortName(step.stepName);
      let lastEnd = null;
      if (!step.attempts.length) {
        rows.push({ kind: "step", cid: step.correlationId, name, fullName: step.stepName, attempt: 0,
          start: ms(step.createdAt), end: null, outcome: "pending", detail: "", gapFrom: null });
      }
      for (const attempt of step.attempts) {
        const outcome = attempt.outcome === "retrying" ? "retried" : attempt.outcome;
        let detail = attempt.error ? errorText(attempt.error) : "";
        if (outcome === "failed" && attempt.error && attempt.error.fatal) detail = `fatal · ${detail}`;
        if (outcome === "abandoned") detail = "its invocation was lost; a later delivery took over";
        rows.push({
          kind: "step", cid: step.correlationId, name, fullName: step.stepName,
          attempt: attempt.attempt, start: ms(attempt.startedAt), end: ms(attempt.endedAt),
          outcome, detail, gapFrom: lastEnd,
        });
        lastEnd = ms(attempt.endedAt);
      }
    }
    for (const wait of timeline.waits || []) {
      const start = ms(wait.createdAt);
      const requested = ms(wait.resumeAt) - start;
      // resumeAt counts from the workflow's recorded now(), a moment before the event:
      // round, so "5m" reads 5m00s and "1s" reads 1s.
      const whole = Math.round(requested / 1000);
      const label = requested < 1000 ? fmtDuration(requested) : whole < 60 ? `${whole}s` : fmtDuration(whole * 1000);
      const done = ms(wait.completedAt);
      rows.push({
        kind: "sleep", cid: wait.correlationId, name: label, start, end: done,
        outcome: done === null ? "sleeping" : "slept",
        detail: done === null ? `until ${fmtTime(ms(wait.resumeAt))}` : "",
      });
    }
    for (const hook of timeline.hooks || []) {
      const received = (hook.receivedAt || []).map(ms);
      const row = {
        kind: "hook", cid: hook.correlationId, name: hook.token, attempt: hook.payloads || 0,
        start: ms(hook.createdAt), end: null, outcome: "waiting", detail: "",
      };
      if (hook.conflict) {
        Object.assign(row, { end: row.start, outcome: "conflict", detail: `token held by run ${hook.conflict}` });
      } else if (hook.disposedAt && !received.length) {
        Object.assign(row, { end: ms(hook.disposedAt), outcome: "disposed" });
      } else if (received.length) {
        const last = received[received.length - 1];
        Object.assign(row, {
          end: hook.disposedAt ? last : null,
          outcome: hook.disposedAt ? "received" : "waiting",
          detail: `${received.length} payload${received.length === 1 ? "" : "s"} received`,
        });
      }
      rows.push(row);
    }
    rows.sort((a, b) => (a.start ?? 0) - (b.start ?? 0));
    if (runEnd !== null) {
      for (const row of rows) {
        if (row.end === null) {
          row.end = runEnd;
          row.outcome = "unfinished";
          row.detail = row.detail || "the run ended first";
        }
      }
    }
    return rows;
  }

  // --- start -------------------------------------------------------------------------------------

  function init() {
    document.getElementById("api-base").textContent = API || `${window.location.origin} (same origin)`;
    const skip = document.querySelector("[data-skip]");
    skip.addEventListener("click", (event) => {
      // The hash is the router's: move focus without touching it.
      event.preventDefault();
      document.getElementById("main").focus();
    });
    window.addEventListener("hashchange", () => route(false));
    route(true);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
