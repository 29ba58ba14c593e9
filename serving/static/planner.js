// The planner page: the brief form <-> the URL query string, /v1/rank and /v1/forecast, and what they answer.
// Everything from the API is inserted with textContent (never innerHTML), so no answer can inject markup.
"use strict";

(() => {
  const form = document.getElementById("brief");
  const results = document.getElementById("results");
  const NUMBERS = ["product_price", "baseline_units_per_month", "weeks", "budget", "max_price_per_post", "gift_value",
    "margin"];
  const OPTIONAL = new Set(["max_price_per_post", "gift_value", "margin"]);
  const CHOICES = ["niche", "marketplace", "compensation", "objective"];
  const LISTS = ["platforms", "tiers"];
  const TOP_K = 50;
  let inflight = null;
  let ranked = [];
  let roster = [];
  let sortKey = "rank";
  let sortAscending = true;

  const usd = new Intl.NumberFormat("en-US", { style: "currency", currency: "USD", maximumFractionDigits: 0 });
  const whole = new Intl.NumberFormat("en-US", { maximumFractionDigits: 0 });
  const fine = new Intl.NumberFormat("en-US", { maximumFractionDigits: 2 });
  const pct = new Intl.NumberFormat("en-US", { style: "percent", maximumFractionDigits: 0 });
  const times = (x) => `${fine.format(x)}×`;
  const show = (format, x) => (x === null || x === undefined ? "–" : format(x));
  const band = (format, b) => (b ? `${format(b.p10)} – ${format(b.p90)}` : "");

  // --- the brief: form <-> URL <-> request bodies ------------------------------------------------------------

  function queryFromForm() {
    const query = new URLSearchParams();
    for (const name of [...CHOICES, ...NUMBERS]) {
      const value = form.elements[name].value.trim();
      if (value !== "" || !OPTIONAL.has(name)) query.set(name, value);
    }
    for (const name of LISTS) {
      const boxes = form.querySelectorAll(`input[name="${name}"]:checked`);
      for (const box of boxes) query.append(name, box.value);
      if (!boxes.length) query.set(name, ""); // none ticked: any, and kept so a reload does not tick the defaults
    }
    return query;
  }

  function fillForm(query) {
    for (const name of [...CHOICES, ...NUMBERS]) {
      if (query.has(name)) form.elements[name].value = query.get(name);
    }
    for (const name of LISTS) {
      if (!query.has(name)) continue;
      const chosen = new Set(query.getAll(name));
      for (const box of form.querySelectorAll(`input[name="${name}"]`)) box.checked = chosen.has(box.value);
    }
  }

  // Text as typed becomes a number; what is not one goes to the API as typed so its answer names the field.
  function number(text) {
    if (text === "") return null;
    const value = Number(text);
    return Number.isFinite(value) ? value : text;
  }

  function bodies(query) {
    const brief = { niche: query.get("niche"), marketplace: query.get("marketplace"),
      compensation: query.get("compensation") };
    for (const name of ["product_price", "baseline_units_per_month", "weeks", "gift_value", "margin"]) {
      const value = number(query.get(name) ?? "");
      if (value !== null || !OPTIONAL.has(name)) brief[name] = value;
    }
    const filters = {};
    for (const name of LISTS) {
      const chosen = query.getAll(name).filter((value) => value !== "");
      if (chosen.length) brief[name] = filters[name] = chosen;
    }
    const maxPrice = number(query.get("max_price_per_post") ?? "");
    if (maxPrice !== null) filters.max_price_per_post = maxPrice;
    const budget = number(query.get("budget") ?? "");
    const common = { brief, budget, filters };
    return { rank: { ...common, objective: query.get("objective"), top_k: TOP_K }, forecast: common };
  }

  // --- talking to the API -------------------------------------------------------------------------------------

  async function post(path, body, signal) {
    const response = await fetch(path, { method: "POST", signal, body: JSON.stringify(body),
      headers: { "Content-Type": "application/json", Accept: "application/json" } });
    let payload = null;
    try {
      payload = await response.json();
    } catch {
      payload = { title: `HTTP ${response.status}`, detail: "the service answered with something other than JSON" };
    }
    return { ok: response.ok, payload };
  }

  async function plan(query) {
    if (inflight) inflight.abort();
    const controller = new AbortController();
    inflight = controller;
    clearErrors();
    busy(true);
    const body = bodies(query);
    try {
      const [rank, forecast] = await Promise.all([post("/v1/rank", body.rank, controller.signal),
        post("/v1/forecast", body.forecast, controller.signal)]);
      if (controller.signal.aborted) return;
      const problems = [rank, forecast].filter((answer) => !answer.ok).map((answer) => answer.payload);
      if (problems.length) {
        showProblems(problems);
        return;
      }
      document.getElementById("empty").hidden = true;
      showRanking(rank.payload);
      showForecast(forecast.payload);
    } catch (error) {
      if (error.name !== "AbortError") showGeneral(`The service could not be reached: ${error.message}`);
    } finally {
      if (inflight === controller) {
        inflight = null;
        busy(false);
      }
    }
  }

  function busy(on) {
    results.setAttribute("aria-busy", String(on));
    document.getElementById("progress").hidden = !on;
    document.getElementById("plan").setAttribute("aria-disabled", String(on));
  }

  // --- errors next to their fields ----------------------------------------------------------------------------

  function inputFor(field) {
    const name = field.replace(/^(brief|filters)\./, "").replace(/\[\d+\]$/, "");
    const container = form.querySelector(`[data-field="${CSS.escape(name)}"]`);
    if (!container) return null;
    return { container, control: container.matches("fieldset") ? container : container.querySelector("input, select") };
  }

  function clearErrors() {
    for (const node of form.querySelectorAll(".error")) {
      node.hidden = true;
      node.textContent = "";
    }
    for (const node of form.querySelectorAll("[aria-invalid]")) {
      node.removeAttribute("aria-invalid");
      node.removeAttribute("aria-describedby");
    }
  }

  function showGeneral(text) {
    const box = document.getElementById("form-error");
    box.textContent = box.textContent ? `${box.textContent} ${text}` : text;
    box.hidden = false;
  }

  function showProblems(problems) {
    const seen = new Set();
    let first = null;
    for (const problem of problems) {
      const errors = problem.errors && problem.errors.length ? problem.errors : [null];
      for (const error of errors) {
        const text = error ? `${error.field}: got ${JSON.stringify(error.value)}; expected ${error.accepted}`
          : `${problem.title || "Error"}: ${problem.detail || ""}`;
        if (seen.has(text)) continue;
        seen.add(text);
        const target = error ? inputFor(error.field) : null;
        if (!target) {
          showGeneral(text);
          continue;
        }
        const message = target.container.querySelector(".error");
        message.textContent = message.textContent ? `${message.textContent} ${text}` : text;
        message.hidden = false;
        target.control.setAttribute("aria-invalid", "true");
        target.control.setAttribute("aria-describedby", message.id);
        first = first || target.control;
      }
    }
    if (first) (first.matches("fieldset") ? first.querySelector("input") : first).focus();
  }

  // --- results ------------------------------------------------------------------------------------------------

  function cell(row, text, numeric) {
    const td = document.createElement("td");
    td.textContent = text;
    if (numeric) td.className = "num";
    row.append(td);
    return td;
  }

  function banded(row, b, format) {
    const td = cell(row, show(format, b && b.p50), true);
    const range = document.createElement("small");
    range.textContent = band(format, b);
    td.append(document.createElement("br"), range);
  }

  function showRanking(answer) {
    ranked = answer.creators;
    document.querySelector('[data-out="ranked-of"]').textContent =
      `Top ${ranked.length} of ${whole.format(answer.candidates)} candidates by ${answer.objective}.`;
    drawRanking();
    document.getElementById("ranking").hidden = false;
  }

  function sortValue(row, key) {
    const value = row[key];
    return value && typeof value === "object" ? value.p50 : value;
  }

  function drawRanking() {
    const rows = [...ranked].sort((a, b) => {
      const x = sortValue(a, sortKey);
      const y = sortValue(b, sortKey);
      const order = typeof x === "string" ? x.localeCompare(y) : (x ?? -Infinity) - (y ?? -Infinity);
      return sortAscending ? order : -order;
    });
    const body = document.querySelector("#rank-table tbody");
    body.replaceChildren();
    for (const c of rows) {
      const row = document.createElement("tr");
      cell(row, String(c.rank), true);
      cell(row, c.creator_id);
      cell(row, c.platform);
      cell(row, c.tier);
      cell(row, whole.format(c.followers), true);
      banded(row, c.engagements, whole.format);
      banded(row, c.conversions, fine.format);
      banded(row, c.revenue, usd.format);
      banded(row, c.cost, usd.format);
      banded(row, c.profit, usd.format);
      banded(row, c.roi, times);
      const reasons = document.createElement("ul");
      for (const reason of c.reasons) {
        const item = document.createElement("li");
        item.textContent = reason;
        reasons.append(item);
      }
      cell(row, "").append(reasons);
      body.append(row);
    }
    for (const th of document.querySelectorAll("#rank-table th")) {
      const button = th.querySelector("button");
      if (!button) continue;
      if (button.dataset.sort === sortKey) th.setAttribute("aria-sort", sortAscending ? "ascending" : "descending");
      else th.removeAttribute("aria-sort");
    }
  }

  function out(name, text) {
    document.querySelector(`[data-out="${name}"]`).textContent = text;
  }

  function showForecast(answer) {
    const f = answer.forecast;
    out("budget", usd.format(answer.budget));
    out("units", whole.format(f.units_per_month_during.p50));
    out("units-band", `p10–p90 ${band(whole.format, f.units_per_month_during)}`);
    out("lift", show(times, f.lift_multiple && f.lift_multiple.p50));
    out("lift-band", f.lift_multiple ? `p10–p90 ${band(times, f.lift_multiple)}`
      : "none: a new product has no sales to multiply");
    out("revenue", usd.format(f.incremental_revenue.p50));
    out("revenue-band", `p10–p90 ${band(usd.format, f.incremental_revenue)}`);
    out("roi", show(times, f.roi && f.roi.p50));
    out("roi-band", f.roi ? `p10–p90 ${band(times, f.roi)}` : "nothing spent");
    out("p-roi", pct.format(f.p_roi_positive));
    out("baseline", whole.format(f.baseline_units_per_month));
    const suggested = answer.suggested_budget;
    out("suggested", suggested.budget === null ? `No suggested budget: ${suggested.note}.`
      : `Suggested budget ${usd.format(suggested.budget)}: ${suggested.note}.`);
    out("notes", (answer.notes || []).join(" "));
    document.getElementById("forecast").hidden = false;
    showRoster(answer.roster);
    showCurve(answer);
  }

  function fillSplit(id, split) {
    const body = document.getElementById(id);
    body.replaceChildren();
    for (const [name, part] of Object.entries(split)) {
      const row = document.createElement("tr");
      cell(row, name);
      cell(row, whole.format(part.creators), true);
      cell(row, usd.format(part.cost), true);
      body.append(row);
    }
  }

  function showRoster(chosen) {
    roster = chosen.creators;
    out("roster-count", whole.format(roster.length));
    out("roster-cost", usd.format(chosen.total_cost));
    fillSplit("by-tier", chosen.by_tier);
    fillSplit("by-platform", chosen.by_platform);
    const body = document.querySelector("#roster-table tbody");
    body.replaceChildren();
    for (const c of roster) {
      const row = document.createElement("tr");
      cell(row, c.creator_id);
      cell(row, c.platform);
      cell(row, c.niche);
      cell(row, c.tier);
      cell(row, whole.format(c.followers), true);
      cell(row, usd.format(c.cost), true);
      cell(row, fine.format(c.posts), true);
      cell(row, fine.format(c.conversions), true);
      body.append(row);
    }
    document.getElementById("download").disabled = roster.length === 0;
    document.getElementById("roster").hidden = false;
  }

  function showCurve(answer) {
    const chart = document.getElementById("curve-chart");
    document.getElementById("curve").hidden = false;
    if (!window.Plotly) {
      chart.textContent = "The chart library did not load.";
      return;
    }
    const points = answer.budget_curve;
    const x = points.map((p) => p.budget);
    const revenue = (q) => points.map((p) => p.incremental_revenue[q]);
    const traces = [
      { x, y: revenue("p90"), mode: "lines", line: { width: 0 }, hoverinfo: "skip", showlegend: false },
      { x, y: revenue("p10"), mode: "lines", line: { width: 0 }, fill: "tonexty", fillcolor: "rgba(31,119,180,0.2)",
        name: "p10–p90" },
      { x, y: revenue("p50"), mode: "lines+markers", line: { color: "#1f77b4" }, name: "median" },
      { x, y: x, mode: "lines", line: { color: "#888", dash: "dash" }, name: "budget (break-even)" },
    ];
    const shapes = [];
    const annotations = [];
    const mark = (value, label, color) => {
      shapes.push({ type: "line", xref: "x", yref: "paper", x0: value, x1: value, y0: 0, y1: 1,
        line: { color, width: 2, dash: "dot" } });
      annotations.push({ x: value, y: 1, xref: "x", yref: "paper", text: label, showarrow: false, yanchor: "bottom",
        font: { color } });
    };
    if (answer.suggested_budget.budget !== null) mark(answer.suggested_budget.budget, "suggested", "#d62728");
    mark(answer.budget, "this budget", "#2ca02c");
    const layout = { margin: { l: 70, r: 20, t: 30, b: 50 }, shapes, annotations, hovermode: "x unified",
      xaxis: { title: { text: "budget (USD)" }, tickprefix: "$", rangemode: "tozero" },
      yaxis: { title: { text: "incremental revenue (USD)" }, tickprefix: "$", rangemode: "tozero" },
      legend: { orientation: "h", y: -0.25 } };
    window.Plotly.react(chart, traces, layout, { responsive: true, displaylogo: false });
  }

  // --- roster CSV -------------------------------------------------------------------------------------------

  function csvField(value) {
    const text = String(value ?? "");
    // A leading =, +, - or @ would be run as a formula by spreadsheets.
    const safe = /^[=+\-@]/.test(text) && Number.isNaN(Number(text)) ? `'${text}` : text;
    return /[",\n\r]/.test(safe) ? `"${safe.replaceAll('"', '""')}"` : safe;
  }

  function downloadRoster() {
    const columns = ["creator_id", "platform", "niche", "tier", "followers", "price", "cost", "posting", "posts",
      "engagements", "conversions"];
    const lines = [columns.join(","), ...roster.map((c) => columns.map((k) => csvField(c[k])).join(","))];
    const blob = new Blob([`${lines.join("\r\n")}\r\n`], { type: "text/csv" });
    const link = document.createElement("a");
    link.href = URL.createObjectURL(blob);
    link.download = "microlift-roster.csv";
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(link.href), 1000);
  }

  // --- wiring -------------------------------------------------------------------------------------------------

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const query = queryFromForm();
    const url = `${location.pathname}?${query}`;
    if (`${location.pathname}${location.search}` !== url) history.pushState(null, "", url);
    plan(query);
  });
  document.getElementById("reference").addEventListener("click", () => {
    form.reset();
    clearErrors();
  });
  document.getElementById("download").addEventListener("click", downloadRoster);
  for (const button of document.querySelectorAll("#rank-table th button")) {
    button.addEventListener("click", () => {
      const key = button.dataset.sort;
      sortAscending = key === sortKey ? !sortAscending : ["rank", "creator_id", "platform", "tier"].includes(key);
      sortKey = key;
      drawRanking();
    });
  }
  // A shared address may name only some fields: the form's defaults fill in the rest, and the address then says all.
  function planFromAddress() {
    form.reset();
    clearErrors();
    if (!location.search) return;
    fillForm(new URLSearchParams(location.search));
    const query = queryFromForm();
    history.replaceState(null, "", `${location.pathname}?${query}`);
    plan(query);
  }
  window.addEventListener("popstate", planFromAddress);
  planFromAddress();
})();
