/* adapter run inspector: plain JavaScript over the adapter HTTP API.
 *
 * Views (hash routing, so the page works from any static host):
 *   #/                         runs, newest first   (#/?workflow=NAME&status=STATUS)
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
  const ACTIVE = new Set(["pending", "running"]);
  const STATUS_ICONS = {
    pending: "○",
    running: "●",
    completed: "✔",
    failed: "✖",
    cancelled: "⊘",
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
      return { view: "runs", workflow: params.get("workflow") || "", status: params.get("status") || "" };
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
    const workflowInput = h("input", {
      id: "filter-workflow",
      name: "workflow",
      type: "text",
      list: "workflow-names",
      value: filters.workflow,
      placeholder: "any workflow (full registered name)",
      autocomplete: "off",
      spellcheck: "false",
    });
    const datalist = h("datalist", { id: "workflow-names" });
    const statusSelect = h(
      "select",
      { id: "filter-status", name: "status" },
      h("option", { value: "", text: "any status" }),
      STATUSES.map((s) => h("option", { value: s, text: `${STATUS_ICONS[s]} ${s}`, selected: s === filters.status })),
    );
    const form = h(
      "form",
      { class: "filters", role: "search", "aria-label": "Filter runs", onsubmit: apply },
      h(
        "div",
        { class: "field field-workflow" },
        h("label", { for: "filter-workflow", text: "Workflow" }),
        workflowInput,
        datalist,
      ),
      h("div", { class: "field" }, h("label", { for: "filter-status", text: "Status" }), statusSelect),
      h("div", { class: "field-buttons" },
        h("button", { type: "submit", class: "button", text: "Apply filters" }),
        h("button", {
          type: "button",
          class: "button button-quiet",
          text: "Clear",
          disabled: !filters.workflow && !filters.status,
          onclick: () => navigate("", ""),
        }),
      ),
    );
    statusSelect.addEventListener("change", apply);

    function apply(event) {
      if (event) event.preventDefault();
      navigate(workflowInput.value.trim(), statusSelect.value);
    }

    function navigate(workflow, status) {
      const params = new URLSearchParams();
      if (workflow) params.set("workflow", workflow);
      if (status) params.set("status", status);
      const search = params.toString();
      const hash = `#/${search ? `?${search}` : ""}`;
      if (window.location.hash === hash || (!window.location.hash && hash === "#/")) refresher.refresh();
      else window.location.hash = hash;
    }

    const note = h("span", { class: "refresh-note", id: "refresh-note" });
    const refreshButton = h("button", {
      type: "button",
      class: "button button-quiet",
      text: "Refresh",
      onclick: () => refresher.refresh(),
    });
    const errorBox = h("div", { class: "error-box" });
    const tbody = h("tbody");
    const table = h(
      "table",
      { class: "data runs-table", "aria-describedby": "runs-count" },
      h("caption", { class: "visually-hidden", text: "Runs, newest first" }),
      h(
        "thead",
        {},
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
    const filtered = filters.workflow || filters.status;

    append(
      main,
      h("div", { class: "view-head" },
        h("h1", { tabindex: "-1", text: filtered ? "Runs (filtered)" : "Runs" }),
        h("div", { class: "view-tools" }, note, refreshButton),
      ),
      form,
      errorBox,
      h("div", { class: "table-wrap" }, table),
      count,
    );

    async function load() {
      const params = new URLSearchParams({ limit: String(RUNS_LIMIT) });
      if (filters.workflow) params.set("workflow", filters.workflow);
      if (filters.status) params.set("status", filters.status);
      let runs;
      try {
        const body = await api("GET", `/runs?${params}`);
        runs = uniqueRuns(body.runs || []);
      } catch (err) {
        if (gen !== generation) return false;
        clear(errorBox).append(notice("error", err.message));
        note.textContent = `Retrying every ${REFRESH_MS / 1000} s`;
        return err.status === 0 || err.status >= 500;
      }
      if (gen !== generation) return false;
      clear(errorBox);
      for (const run of runs) knownWorkflows.add(run.workflowName);
      clear(datalist).append(...[...knownWorkflows].sort().map((name) => h("option", { value: name })));
      renderRows(runs);
      const active = runs.some((run) => ACTIVE.has(run.status));
      const now = fmtClock(Date.now());
      note.textContent = active
        ? `Auto-refreshing every ${REFRESH_MS / 1000} s while runs are pending or running · updated ${now}`
        : `Updated ${now}`;
      note.classList.toggle("live", active);
      return active;
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
            filtered ? "No runs match these filters." : "No runs yet. Start one with POST /runs (or `adapter start`).")),
        );
      }
      for (const run of runs) {
        const created = ms(run.createdAt);
        const ended = ms(run.completedAt);
        const active = ACTIVE.has(run.status);
        const took = (ended ?? now) - created;
        tbody.append(
          h(
            "tr",
            { dataset: { runId: run.runId, status: run.status } },
            h("td", { class: "cell-id" }, runLink(run.runId)),
            h("td", { class: "cell-wf" },
              h("a", {
                href: `#/?workflow=${encodeURIComponent(run.workflowName)}`,
                class: "wf-filter-link",
                title: `Show only runs of ${run.workflowName}`,
              }, workflowName(run.workflowName)),
            ),
            h("td", {}, statusBadge(run.status)),
            h("td", {}, h("code", { text: run.deploymentId })),
            h("td", {}, h("time", { datetime: run.createdAt, title: run.createdAt, text: fmtTime(created) })),
            h("td", { class: "num" },
              fmtDuration(took),
              active
                ? h("span", { class: "so-far", title: "still going" },
                    "…", h("span", { class: "visually-hidden", text: " so far" }))
                : null,
            ),
          ),
        );
      }
      const shown = runs.length;
      count.textContent = shown >= RUNS_LIMIT
        ? `Showing the newest ${shown} runs.`
        : `${shown} run${shown === 1 ? "" : "s"}${filtered ? " matching the filters" : ""}.`;
      if (focused) {
        const row = [...tbody.rows].find((tr) => tr.dataset.runId === focused);
        const link = row && row.querySelector("a");
        if (link) link.focus();
      }
    }

    const refresher = poller(load);
    return { stop: () => refresher.stop() };
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
      try {
        [run, events, children] = await Promise.all([
          api("GET", `/runs/${encodeURIComponent(runId)}`),
          api("GET", `/runs/${encodeURIComponent(runId)}/events`).then((body) => body.events || []),
          api("GET", `/runs/${encodeURIComponent(runId)}/children`).then(
            (body) => body.children || [],
            (err) => {
              if (err.status === 404 && err.code === "not_found") return null; // an API without the route
              throw err;
            },
          ),
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
      render(run, events, children);
      const active = ACTIVE.has(run.status);
      note.textContent = active
        ? `Auto-refreshing every ${REFRESH_MS / 1000} s while the run is ${run.status} · updated ${fmtClock(Date.now())}`
        : `Updated ${fmtClock(Date.now())}`;
      note.classList.toggle("live", active);
      return active;
    }

    function render(run, events, children) {
      if (lastStatus !== null && lastStatus !== run.status) announce(`Run is now ${run.status}.`);
      lastStatus = run.status;
      document.title = `${shortName(run.workflowName)} ${run.status} · ${runId} · adapter`;
      const now = Date.now();
      const key = JSON.stringify([run.status, run.completedAt, run.output, run.error, run.parentRunId]);
      if (key !== headKey) {
        headKey = key;
        renderHead(run);
      }
      keepFocus(facts, () => renderFacts(run, now));
      const stepNames = new Map();
      for (const ev of events) {
        if (ev.type === "step_created") stepNames.set(ev.correlationId, ev.data.step_name);
      }
      keepFocus(timelineBox, () => renderTimeline(run, events, children || [], now));
      renderChildren(children, stepNames);
      renderEvents(run, events);
    }

    function renderHead(run) {
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
        const data = ev.data;
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
                  ),
            ),
          ),
        );
      }
      eventsCount.textContent = `(${events.length})`;
    }

    function renderTimeline(run, events, children, now) {
      const origin = ms(run.createdAt);
      const lastEvent = events.length ? ms(events[events.length - 1].createdAt) : origin;
      const runEnd = ms(run.completedAt);
      const end = runEnd ?? Math.max(now, lastEvent);
      const total = Math.max(end - origin, 1);
      const rows = buildTimeline(events);
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

  /** The run's events folded into timeline rows: one per step attempt, sleep and hook
   * wait, grouped by what they belong to, in the order those began. */
  function buildTimeline(events) {
    const groups = new Map();
    const order = [];
    let runEnd = null;

    function attempt(group, at, number) {
      const row = {
        kind: "step",
        cid: group.cid,
        name: shortName(group.name),
        fullName: group.name,
        attempt: number || group.rows.length + 1,
        start: at,
        end: null,
        outcome: "running",
        detail: "",
        gapFrom: group.lastEnd,
      };
      group.rows.push(row);
      group.open = row;
      return row;
    }

    for (const ev of events) {
      const at = ms(ev.createdAt);
      const cid = ev.correlationId || "";
      const data = ev.data || {};
      const group = groups.get(cid);
      switch (ev.type) {
        case "step_created": {
          const created = { kind: "step", cid, name: data.step_name, rows: [], open: null, lastEnd: null };
          groups.set(cid, created);
          order.push(created);
          break;
        }
        case "step_started": {
          if (!group || group.kind !== "step") break;
          if (group.open) {
            group.open.end = at;
            group.open.outcome = "abandoned";
            group.open.detail = "its invocation was lost; a later delivery took over";
          }
          attempt(group, at, data.attempt);
          break;
        }
        case "step_retrying":
        case "step_completed":
        case "step_failed": {
          if (!group || group.kind !== "step") break;
          const row = group.open || attempt(group, at, data.attempt || (data.error && data.error.attempt));
          row.end = at;
          group.open = null;
          group.lastEnd = at;
          if (ev.type === "step_completed") {
            row.outcome = "completed";
          } else if (ev.type === "step_retrying") {
            row.outcome = "retried";
            row.detail = errorText(data.error);
          } else {
            row.outcome = "failed";
            row.detail = (data.error && data.error.fatal ? "fatal · " : "") + errorText(data.error);
          }
          break;
        }
        case "wait_created": {
          const requested = ms(data.resume_at) - at;
          // resume_at counts from the workflow's recorded now(), a moment before the
          // event: round, so "5m" reads 5m00s and "1s" reads 1s.
          const whole = Math.round(requested / 1000);
          const label = requested < 1000 ? fmtDuration(requested) : whole < 60 ? `${whole}s` : fmtDuration(whole * 1000);
          const row = {
            kind: "sleep", cid, name: label, start: at, end: null, outcome: "sleeping",
            detail: `until ${fmtTime(ms(data.resume_at))}`,
          };
          const created = { kind: "sleep", cid, rows: [row], open: row };
          groups.set(cid, created);
          order.push(created);
          break;
        }
        case "wait_completed": {
          if (!group || !group.open) break;
          group.open.end = at;
          group.open.outcome = "slept";
          group.open.detail = "";
          group.open = null;
          break;
        }
        case "hook_created": {
          const row = {
            kind: "hook", cid, name: data.token, attempt: 1, start: at, end: null,
            outcome: "waiting", detail: "",
          };
          if (data.conflict) {
            row.end = at;
            row.outcome = "conflict";
            row.detail = `token held by run ${data.conflict}`;
          }
          const created = { kind: "hook", cid, rows: [row], open: data.conflict ? null : row, lastEnd: at, token: data.token };
          groups.set(cid, created);
          order.push(created);
          break;
        }
        case "hook_received": {
          if (!group || group.kind !== "hook") break;
          let row = group.open;
          if (!row) {
            // A further payload (async for): a wait from the previous one to this one.
            row = {
              kind: "hook", cid, name: group.token, attempt: group.rows.length + 1,
              start: group.lastEnd, end: null, outcome: "waiting", detail: "",
            };
            group.rows.push(row);
          }
          row.end = at;
          row.outcome = "received";
          row.detail = `payload ${compactJson(data.payload, 60)}`;
          group.open = null;
          group.lastEnd = at;
          break;
        }
        case "hook_disposed": {
          if (!group || !group.open) break;
          group.open.end = at;
          group.open.outcome = "disposed";
          group.open = null;
          break;
        }
        case "run_completed":
        case "run_failed":
        case "run_cancelled":
          runEnd = at;
          break;
        default:
          break;
      }
    }
    const rows = order.flatMap((group) => group.rows);
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
