// The planner page: the brief form <-> the URL query string, /v1/rank and /v1/forecast, and what they answer;
// keeping a plan (/v1/campaigns), the kept campaigns' measured lift and the track record.
// Everything from the API is inserted with textContent (never innerHTML), so no answer can inject markup.
"use strict";

(() => {
  const form = document.getElementById("brief");
  const results = document.getElementById("results");
  const NUMBERS = ["product_price", "baseline_units_per_month", "weeks", "budget", "max_price_per_post", "gift_value",
    "margin", "commission_rate"];
  const OPTIONAL = new Set(["max_price_per_post", "gift_value", "margin", "commission_rate", "objective", "brand"]);
  const CHOICES = ["niche", "marketplace", "compensation", "objective"];
  const TEXTS = ["brand"];
  const LISTS = ["platforms", "tiers"];
  const BRIEF_NUMBERS = ["product_price", "baseline_units_per_month", "weeks", "gift_value", "margin",
    "commission_rate"];
  const PARTS = ["forecast", "curve", "roster", "ranking"];
  const TOP_K = 50;
  let inflight = null;
  let ranked = [];
  let roster = [];
  let sortKey = "rank";
  let sortAscending = true;
  // Values from a shared address that the form cannot hold (a word in a number field, an unknown choice): sent to
  // the API as they were, so its answer names the field and the value in the link, until the field is edited.
  const linked = new Map();
  // The plan on show: the query it answered, and why it no longer matches the brief (null while it does).
  let plannedQuery = null;
  let failure = null;
  // The forecast request behind the plan on show: what "Save plan" sends, never rebuilt from the form.
  let plannedForecast = null;

  const usd = new Intl.NumberFormat("en-US", { style: "currency", currency: "USD", maximumFractionDigits: 0 });
  const cents = new Intl.NumberFormat("en-US", { style: "currency", currency: "USD", maximumFractionDigits: 2 });
  const whole = new Intl.NumberFormat("en-US", { maximumFractionDigits: 0 });
  const fine = new Intl.NumberFormat("en-US", { maximumFractionDigits: 2 });
  const pct = new Intl.NumberFormat("en-US", { style: "percent", maximumFractionDigits: 0 });
  const money = (x) => (Math.abs(x) < 100 ? cents.format(x) : usd.format(x));
  const times = (x) => `${fine.format(x)}×`;
  const show = (format, x) => (x === null || x === undefined ? "–" : format(x));
  const band = (format, b) => (b ? `${format(b.p10)} – ${format(b.p90)}` : "");
  // The expected value: what adds up across creators and what every total on the page shows.
  const mean = (b) => (b && typeof b === "object" ? b.mean : b);

  // --- the brief: form <-> URL <-> request bodies ------------------------------------------------------------

  function queryFromForm() {
    const query = new URLSearchParams();
    for (const name of [...CHOICES, ...TEXTS, ...NUMBERS]) {
      const control = form.elements[name];
      if (control.disabled) continue;
      const value = linked.has(name) ? linked.get(name)[0] : control.value.trim();
      if (value !== "" || !OPTIONAL.has(name)) query.set(name, value);
    }
    for (const name of LISTS) {
      if (linked.has(name)) {
        for (const value of linked.get(name)) query.append(name, value);
        continue;
      }
      const boxes = form.querySelectorAll(`input[name="${name}"]:checked`);
      for (const box of boxes) query.append(name, box.value);
      if (!boxes.length) query.set(name, ""); // none ticked: any, and kept so a reload does not tick the defaults
    }
    return query;
  }

  function fillForm(query) {
    for (const name of [...CHOICES, ...TEXTS, ...NUMBERS]) {
      if (!query.has(name)) continue;
      const control = form.elements[name];
      control.value = query.get(name);
      // a number input drops what is not a number, a select what it does not offer
      if (control.value !== query.get(name) && query.get(name).trim() !== control.value) {
        linked.set(name, [query.get(name)]);
      }
    }
    for (const name of LISTS) {
      if (!query.has(name)) continue;
      const chosen = new Set(query.getAll(name));
      const boxes = [...form.querySelectorAll(`input[name="${name}"]`)];
      for (const box of boxes) box.checked = chosen.has(box.value);
      const offered = new Set(boxes.map((box) => box.value));
      if (query.getAll(name).some((value) => value !== "" && !offered.has(value))) {
        linked.set(name, query.getAll(name));
      }
    }
    showCompensation();
  }

  // The commission field belongs to affiliate campaigns only: hidden and left out of the brief otherwise.
  function showCompensation() {
    const compensation = form.elements.compensation.value;
    for (const field of form.querySelectorAll("[data-when]")) {
      const on = field.dataset.when === compensation;
      field.hidden = !on;
      field.querySelector("input").disabled = !on;
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
    for (const name of BRIEF_NUMBERS) {
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
    const rank = { ...common, top_k: TOP_K };
    if (query.get("objective")) rank.objective = query.get("objective"); // none chosen: the API's default
    // the brand's measured campaigns calibrate the forecast; the ranking does not depend on them
    const forecast = query.get("brand") ? { ...common, brand: query.get("brand") } : common;
    return { rank, forecast };
  }

  // --- talking to the API -------------------------------------------------------------------------------------

  async function answerOf(response) {
    let payload = null;
    try {
      payload = await response.json();
    } catch {
      payload = { title: `HTTP ${response.status}`, detail: "the service answered with something other than JSON" };
    }
    return { ok: response.ok, status: response.status, payload };
  }

  async function post(path, body, signal, headers = {}) {
    const response = await fetch(path, { method: "POST", signal, body: JSON.stringify(body),
      headers: { "Content-Type": "application/json", Accept: "application/json", ...headers } });
    return answerOf(response);
  }

  async function get(path, signal) {
    return answerOf(await fetch(path, { signal, headers: { Accept: "application/json" } }));
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
        failure = showProblems(problems).join("; ");
        showStale();
        return;
      }
      document.getElementById("empty").hidden = true;
      showRanking(rank.payload);
      showForecast(forecast.payload);
      // the ranking's notes that the forecast card above does not already say
      fillList("rank-notes", (rank.payload.notes || []).filter((note) => !forecast.payload.notes.includes(note)));
      plannedQuery = query.toString();
      plannedForecast = body.forecast;
      failure = null;
      showSave();
      showStale();
    } catch (error) {
      if (error.name === "AbortError") return;
      failure = `the service could not be reached: ${error.message}`;
      showGeneral(`The service could not be reached: ${error.message}`);
      showStale();
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

  // A plan on show that no longer answers the brief (an error, or an edit not yet planned) is greyed under a
  // banner saying why, so it is never read as the answer to what the form now says.
  function showStale() {
    const banner = document.getElementById("stale");
    let why = null;
    if (plannedQuery !== null) {
      if (failure) why = failure;
      else if (queryFromForm().toString() !== plannedQuery) {
        why = "the brief has changed; press Plan the campaign to update it";
      }
    }
    banner.textContent = why ? `This plan is out of date: ${why}` : "";
    banner.hidden = !why;
    for (const id of PARTS) {
      const part = document.getElementById(id);
      part.classList.toggle("stale", Boolean(why));
      if (why) part.setAttribute("aria-describedby", "stale");
      else part.removeAttribute("aria-describedby");
    }
    const saveStale = document.getElementById("save-stale");
    saveStale.textContent = why ? `The plan above is out of date (${why}); plan it again before saving it.` : "";
    saveStale.hidden = !why;
    return why;
  }

  // --- errors next to their fields ----------------------------------------------------------------------------

  function inputFor(field) {
    const name = field.replace(/^(brief|filters)\./, "").replace(/\[\d+\]$/, "");
    const selector = `[data-field="${CSS.escape(name)}"]`;
    const container = form.querySelector(selector) || saveForm.querySelector(selector);
    if (!container || container.hidden) return null;
    return { container, control: container.matches("fieldset") ? container : container.querySelector("input, select") };
  }

  function clearErrors(scope = form) {
    for (const node of scope.querySelectorAll(".error")) {
      node.hidden = true;
      node.textContent = "";
    }
    for (const node of scope.querySelectorAll("[aria-invalid]")) {
      node.removeAttribute("aria-invalid");
      const hint = document.getElementById(`${node.id}-hint`);
      if (hint) node.setAttribute("aria-describedby", hint.id);
      else node.removeAttribute("aria-describedby");
    }
  }

  function showGeneral(text, id = "form-error") {
    const box = document.getElementById(id);
    box.textContent = box.textContent ? `${box.textContent} ${text}` : text;
    box.hidden = false;
  }

  // Each problem's errors by their fields (the rest under the form, or in the box `general` names); returns the
  // texts shown.
  function showProblems(problems, general = "form-error") {
    const seen = new Set();
    let first = null;
    for (const problem of problems) {
      const errors = problem.errors && problem.errors.length ? problem.errors : [null];
      for (const error of errors) {
        const text = !error ? `${problem.title || "Error"}: ${problem.detail || ""}`
          : error.message || `${error.field}: got ${JSON.stringify(error.value)}; expected ${error.accepted}`;
        if (seen.has(text)) continue;
        seen.add(text);
        const target = error ? inputFor(error.field) : null;
        if (!target) {
          showGeneral(text, general);
          continue;
        }
        const closed = target.container.closest("details");
        if (closed) closed.open = true;
        const message = target.container.querySelector(".error");
        message.textContent = message.textContent ? `${message.textContent} ${text}` : text;
        message.hidden = false;
        target.control.setAttribute("aria-invalid", "true");
        const hint = target.container.querySelector(".field-hint");
        target.control.setAttribute("aria-describedby", hint ? `${message.id} ${hint.id}` : message.id);
        first = first || target.control;
      }
    }
    if (first) (first.matches("fieldset") ? first.querySelector("input") : first).focus();
    return [...seen];
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
    const td = cell(row, show(format, mean(b)), true);
    const range = document.createElement("small");
    range.textContent = band(format, b);
    td.append(document.createElement("br"), range);
  }

  function fillList(name, items) {
    const list = document.querySelector(`[data-out="${name}"]`);
    list.replaceChildren(...items.map((text) => {
      const item = document.createElement("li");
      item.textContent = text;
      return item;
    }));
  }

  function showMargin(scope, margin) {
    for (const node of scope.querySelectorAll('[data-margin="with"]')) node.hidden = margin === null;
    for (const node of scope.querySelectorAll('[data-margin="without"]')) node.hidden = margin !== null;
  }

  let rankedMargin = null;

  function showRanking(answer) {
    ranked = answer.creators;
    rankedMargin = answer.margin ?? null;
    const name = (answer.objective || "").replaceAll("_", " ");
    out("ranked-of", `Top ${ranked.length} of ${whole.format(answer.candidates)} candidates by ${name}.`);
    out("rank-margin", rankedMargin === null ? "" : ` Profit uses a gross margin of ${pct.format(rankedMargin)}.`);
    showMargin(document.getElementById("rank-table"), rankedMargin);
    if (rankedMargin === null && ["profit", "roi"].includes(sortKey)) {
      sortKey = "rank";
      sortAscending = true;
    }
    drawRanking();
    document.getElementById("ranking").hidden = false;
  }

  function sortValue(row, key) {
    return mean(row[key]);
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
      banded(row, c.attributed_units, fine.format);
      banded(row, c.incremental_revenue, money);
      banded(row, c.cost, money);
      banded(row, c.net_revenue, money);
      banded(row, c.roas, times);
      if (rankedMargin !== null) {
        banded(row, c.profit, money);
        banded(row, c.roi, pct.format);
      }
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

  // What decided the roster: the budget, or (when `cap` says so) the eligible catalog or the roster-size cap.
  function heading(answer) {
    const cap = answer.cap;
    if (!cap) return `Forecast for a budget of ${usd.format(answer.budget)}`;
    const why = cap.by === "catalog" ? `the eligible catalog (${whole.format(cap.creators)} creators) caps the roster`
      : `the ${whole.format(cap.creators)}-creator cap limits the roster`;
    return `Forecast for ${usd.format(cap.spend)} of a ${usd.format(answer.budget)} budget: ${why}`;
  }

  function showForecast(answer) {
    const f = answer.forecast;
    const card = document.getElementById("forecast");
    document.getElementById("forecast-title").textContent = heading(answer);
    out("units", whole.format(mean(f.units_per_month_during)));
    out("units-band", `p10–p90 ${band(whole.format, f.units_per_month_during)}`);
    out("lift", show(times, mean(f.lift_multiple)));
    out("lift-band", f.lift_multiple ? `p10–p90 ${band(times, f.lift_multiple)}`
      : "none: a new product has no sales to multiply");
    out("revenue", usd.format(mean(f.incremental_revenue)));
    out("revenue-band", `p10–p90 ${band(usd.format, f.incremental_revenue)}`);
    out("cost", usd.format(mean(f.cost)));
    out("cost-band", `p10–p90 ${band(usd.format, f.cost)}`);
    out("roas", show(times, mean(f.roas)));
    out("roas-band", f.roas ? `p10–p90 ${band(times, f.roas)}` : "nothing spent");
    out("p-revenue", show(pct.format, f.p_revenue_above_cost));
    const margin = f.margin ?? null;
    showMargin(card, margin);
    if (margin !== null) {
      out("roi", show(pct.format, mean(f.roi)));
      out("roi-band", f.roi ? `p10–p90 ${band(pct.format, f.roi)}` : "nothing spent");
      out("p-roi", show(pct.format, f.p_roi_positive));
    }
    out("baseline", whole.format(f.baseline_units_per_month));
    const suggested = answer.suggested_budget;
    const note = suggested.note.replace(/[^.]$/, "$&.");
    out("suggested", suggested.budget === null ? `No suggested budget: ${note}`
      : `Suggested budget ${usd.format(suggested.budget)}: ${note}`);
    fillList("notes", answer.notes || []);
    out("calibration", calibrationNote(answer.calibration));
    card.hidden = false;
    showRoster(answer.roster);
    showCurve(answer, margin);
  }

  // What measured campaigns did to this forecast, as the answer says it (the models' alone when none informs it).
  function calibrationNote(calibration) {
    if (!calibration || !calibration.note) return "";
    const note = calibration.note.replace(/[^.]$/, "$&.");
    return note.charAt(0).toUpperCase() + note.slice(1);
  }

  function fillSplit(id, split) {
    const body = document.getElementById(id);
    body.replaceChildren();
    for (const [name, part] of Object.entries(split)) {
      const row = document.createElement("tr");
      cell(row, name);
      cell(row, whole.format(part.creators), true);
      cell(row, usd.format(mean(part.cost)), true);
      body.append(row);
    }
  }

  function showRoster(chosen) {
    roster = chosen.creators;
    out("roster-count", whole.format(roster.length));
    out("roster-cost", usd.format(mean(chosen.total_cost)));
    out("roster-units", fine.format(roster.reduce((sum, c) => sum + mean(c.attributed_units), 0)));
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
      cell(row, money(mean(c.cost)), true);
      cell(row, fine.format(mean(c.posts)), true);
      cell(row, fine.format(mean(c.attributed_units)), true);
      body.append(row);
    }
    document.getElementById("download").disabled = roster.length === 0;
    document.getElementById("roster").hidden = false;
  }

  function showCurve(answer, margin) {
    const chart = document.getElementById("curve-chart");
    out("curve-note", "Incremental revenue over the campaign (expected, with p10–p90) against the budget; the "
      + "dashed line is the budget itself (revenue = cost)"
      + (margin === null ? "." : `; the dotted one is break-even on profit at a ${pct.format(margin)} margin.`));
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
      { x, y: revenue("mean"), mode: "lines+markers", line: { color: "#1f77b4" }, name: "expected" },
      { x, y: x, mode: "lines", line: { color: "#888", dash: "dash" }, name: "revenue = cost" },
    ];
    if (margin !== null) {
      traces.push({ x, y: x.map((budget) => budget / margin), mode: "lines", line: { color: "#8c564b", dash: "dot" },
        name: "break-even on profit" });
    }
    const shapes = [];
    const annotations = [];
    // Marks are labelled inside the plot's top edge, leaving the space above the plot to the legend.
    const mark = (value, label, color, side) => {
      shapes.push({ type: "line", xref: "x", yref: "paper", x0: value, x1: value, y0: 0, y1: 1,
        line: { color, width: 2, dash: "dot" } });
      annotations.push({ x: value, y: 1, xref: "x", yref: "paper", text: label, showarrow: false, yanchor: "top",
        xanchor: side, xshift: side === "left" ? 3 : -3, font: { color }, bgcolor: "rgba(255,255,255,0.8)" });
    };
    const suggested = answer.suggested_budget.budget;
    if (suggested !== null) mark(suggested, "suggested", "#d62728", suggested > answer.budget ? "left" : "right");
    mark(answer.budget, "this budget", "#2ca02c", suggested !== null && suggested > answer.budget ? "right" : "left");
    // The legend sits above the plot (wrapping on a narrow screen), never over the axis titles below and beside it.
    const layout = { margin: { l: 70, r: 20, t: 20, b: 50 }, shapes, annotations, hovermode: "x unified",
      xaxis: { title: { text: "budget (USD)" }, tickprefix: "$", rangemode: "tozero" },
      yaxis: { title: { text: "incremental revenue (USD)" }, tickprefix: "$", rangemode: "tozero" },
      legend: { orientation: "h", traceorder: "normal", x: 0, xanchor: "left", y: 1.02, yanchor: "bottom" } };
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
      "engagements", "attributed_units"];
    const lines = [columns.join(","), ...roster.map((c) => columns.map((k) => csvField(mean(c[k]))).join(","))];
    const blob = new Blob([`${lines.join("\r\n")}\r\n`], { type: "text/csv" });
    const link = document.createElement("a");
    link.href = URL.createObjectURL(blob);
    link.download = "microlift-roster.csv";
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(link.href), 1000);
  }

  // --- keeping the plan ---------------------------------------------------------------------------------------

  const saveForm = document.getElementById("save-form");
  // The API key lives in the password field only: never in the address, the brief or the browser's storage.
  const keyField = document.getElementById("api-key");

  // A new plan on show: the save form is offered for it, and a previous save's message no longer applies.
  function showSave() {
    document.getElementById("saved").hidden = true;
    clearErrors(saveForm);
    document.getElementById("save").hidden = false;
  }

  // The service's refusal of the key (none, or one it does not know) belongs by the key field.
  function keyProblem(answer) {
    if (answer.status !== 401 && answer.status !== 403) return answer.payload;
    const text = `${answer.payload.title || "Unauthorized"}: ${answer.payload.detail || ""}`;
    return { ...answer.payload, errors: [{ field: "api_key", message: text }] };
  }

  async function savePlan() {
    clearErrors(saveForm);
    document.getElementById("saved").hidden = true;
    const why = showStale();
    if (plannedForecast === null || why) {
      showGeneral(plannedForecast === null ? "Plan the campaign before saving it."
        : `Not saved: the plan on show is out of date (${why}). Press Plan the campaign, then save.`, "save-error");
      return;
    }
    const body = { ...plannedForecast };
    const name = document.getElementById("campaign-name").value.trim();
    const start = document.getElementById("start-date").value;
    if (name) body.name = name;
    if (start) body.start_date = start;
    const key = keyField.value.trim();
    const button = document.getElementById("save-plan");
    button.disabled = true;
    try {
      const answer = await post("/v1/campaigns", body, undefined, key ? { Authorization: `Bearer ${key}` } : {});
      if (!answer.ok) {
        showProblems([keyProblem(answer)], "save-error");
        return;
      }
      showSaved(answer.payload);
      loadRecord();
    } catch (error) {
      showGeneral(`The service could not be reached: ${error.message}`, "save-error");
    } finally {
      button.disabled = false;
    }
  }

  function showSaved(campaign) {
    const saved = document.getElementById("saved");
    const link = document.createElement("a");
    link.href = "#campaigns";
    link.textContent = "its measurement";
    link.addEventListener("click", (event) => {
      event.preventDefault(); // a #fragment would add a history entry, and going back would plan again
      chooseCampaign(campaign.id, campaign.name);
      document.getElementById("campaigns").scrollIntoView({ block: "start" });
    });
    const who = campaign.brand ? ` for brand ${campaign.brand}` : "";
    saved.replaceChildren(`Saved as plan `, Object.assign(document.createElement("code"), { textContent: campaign.id }),
      `${who}. Import its results when the campaign has run, then see `, link, ".");
    saved.dataset.id = campaign.id;
    saved.hidden = false;
  }

  // --- kept campaigns, their measurement, the track record ----------------------------------------------------

  // Each section drops an older answer when a newer question is asked, and greys what it shows while it waits.
  const asking = new Map();

  function ask(section) {
    asking.get(section)?.abort();
    const controller = new AbortController();
    asking.set(section, controller);
    loading(section, true);
    return controller;
  }

  function loading(section, on) {
    const node = document.getElementById(section);
    node.setAttribute("aria-busy", String(on));
    node.querySelector(":scope > .loading").hidden = !on;
    node.querySelector(":scope > .answer").classList.toggle("stale", on);
  }

  // A section's answer to GET `path` once `after` (another answer it needs) is in; null when a newer question
  // replaced it. Not reaching the service comes back as an answer that says so.
  async function fetchFor(section, path, after = null) {
    const controller = ask(section);
    let answer = null;
    try {
      answer = await get(path, controller.signal);
    } catch (error) {
      if (error.name !== "AbortError") {
        answer = { ok: false, status: 0, payload: { detail: `the service could not be reached: ${error.message}` } };
      }
    }
    await after;
    if (asking.get(section) !== controller) return null;
    asking.delete(section);
    loading(section, false);
    return answer;
  }

  const problemText = (answer) => answer.payload.detail || answer.payload.title || `HTTP ${answer.status}`;

  const brandQuery = () => {
    const brand = document.getElementById("record-brand").value.trim();
    return brand ? `?brand=${encodeURIComponent(brand)}` : "";
  };
  const day = (stamp) => (stamp ? String(stamp).slice(0, 10) : "–");
  // Names of the kept campaigns, so the track record can say them rather than ids.
  const campaignNames = new Map();
  let chosenCampaign = null;

  function loadRecord() {
    loadTrackRecord(loadCampaigns());
  }

  async function loadCampaigns() {
    const answer = await fetchFor("campaigns", `/v1/campaigns${brandQuery()}`);
    if (!answer) return;
    if (answer.ok) showCampaigns(answer.payload.campaigns);
    else {
      out("campaigns-note", `The campaigns could not be read: ${problemText(answer)}`);
      showCampaigns(null);
    }
  }

  // The kept campaigns (null: none could be read), each a button that shows its measurement.
  function showCampaigns(campaigns) {
    if (campaigns) {
      out("campaigns-note", campaigns.length ? `${whole.format(campaigns.length)} kept campaign`
        + `${campaigns.length === 1 ? "" : "s"}, newest first; choose one to see its measured lift.`
        : "No campaign kept yet: plan one and press Save plan.");
    }
    const body = document.querySelector("#campaigns-table tbody");
    body.replaceChildren();
    body.closest(".scroll").hidden = !campaigns?.length;
    for (const c of campaigns || []) {
      campaignNames.set(c.id, c.name || c.id);
      const row = document.createElement("tr");
      row.dataset.id = c.id;
      const choose = document.createElement("button");
      choose.type = "button";
      choose.className = "link";
      choose.textContent = c.name || c.id;
      choose.setAttribute("aria-pressed", String(c.id === chosenCampaign));
      choose.addEventListener("click", () => chooseCampaign(c.id, c.name));
      cell(row, "").append(choose);
      cell(row, c.brand ?? "–");
      cell(row, c.niche ?? "–");
      cell(row, c.start_date ?? "–");
      cell(row, c.budget === null || c.budget === undefined ? "–" : usd.format(c.budget), true);
      cell(row, day(c.created_at));
      cell(row, c.results_imported_at ? `imported ${day(c.results_imported_at)}`
        : c.unplanned ? "unplanned" : "no results yet");
      body.append(row);
    }
  }

  async function chooseCampaign(id, name) {
    chosenCampaign = id;
    for (const button of document.querySelectorAll("#campaigns-table button.link")) {
      button.setAttribute("aria-pressed", String(button.closest("tr").dataset.id === id));
    }
    const section = document.getElementById("measurement");
    section.hidden = false;
    document.getElementById("measurement-title").textContent = `Measurement of ${name || id}`;
    const answer = await fetchFor("measurement", `/v1/campaigns/${encodeURIComponent(id)}/measurement`);
    if (answer) showMeasurement(id, answer);
  }

  // A measured band as "mean" over "80%: p10 – p90" (the measurement's own coverage).
  function showBand(name, b, coverage) {
    out(name, show(whole.format, mean(b)));
    out(`${name}-band`, b ? `${pct.format(coverage)}: ${band(whole.format, b)}` : "");
  }

  function showMeasurement(id, answer) {
    const status = document.getElementById("measurement-status");
    const figures = document.getElementById("measurement-figures");
    const plot = document.getElementById("measurement-plot");
    if (!answer.ok) {
      const detail = problemText(answer);
      status.textContent = answer.status === 409 ? `No results yet: ${detail}`
        : answer.status === 422 ? `Not measured: ${detail}` : `The measurement could not be read: ${detail}`;
      status.dataset.state = answer.status === 409 ? "no-results" : answer.status === 422 ? "refused" : "error";
      figures.hidden = true;
      plot.hidden = true;
      plot.removeAttribute("src");
      return;
    }
    const m = answer.payload;
    const coverage = m.coverage ?? 0.8;
    const incremental = m.incremental_units;
    status.dataset.state = "measured";
    const periods = m.periods || {};
    const span = (p) => (p ? `${p.start} to ${p.end} (${fine.format(p.weeks)} weeks)` : "");
    status.textContent = `Measured from ${m.frequency || ""} sales: the campaign ran ${span(periods.during)}, `
      + `against what the ${fine.format(periods.pre?.weeks ?? 0)} weeks before it predict without it.`;
    showBand("m-during", incremental.during, coverage);
    if (incremental.after) showBand("m-after", incremental.after, coverage);
    else {
      out("m-after", "–");
      out("m-after-band", "no sales after the campaign were imported");
    }
    showBand("m-total", incremental.total, coverage);
    const forecast = m.forecast?.incremental_units;
    out("m-forecast", forecast ? whole.format(forecast.p50) : "–");
    out("m-forecast-band", forecast ? `p10–p50–p90 ${whole.format(forecast.p10)} – ${whole.format(forecast.p50)} – `
      + `${whole.format(forecast.p90)}, over the campaign` : "none: results of a campaign not planned here");
    out("m-attributed", show(whole.format, m.attributed_units));
    out("m-relative", m.relative_lift ? pct.format(mean(m.relative_lift)) : "–");
    out("m-relative-band", m.relative_lift ? `${pct.format(coverage)}: ${band(pct.format, m.relative_lift)}`
      : "none: nothing would have sold without the campaign");
    out("m-method", `Method: ${m.model || m.method}; sold during the campaign `
      + `${show(whole.format, m.observed_units?.during)} units against ${show(whole.format,
        mean(m.counterfactual_units?.during))} expected without it.`);
    fillList("m-notes", m.notes || []);
    figures.hidden = false;
    plot.alt = `Unit sales of ${campaignNames.get(id) || id} against what was expected without the campaign, `
      + `with its ${pct.format(coverage)} band`;
    // the import's time in the address: results imported again draw a new picture, not the browser's old one
    const imported = encodeURIComponent(m.results_imported_at || "");
    plot.src = `/v1/campaigns/${encodeURIComponent(id)}/measurement.png?imported=${imported}`;
    plot.hidden = false;
  }

  // `listed`: the campaigns being listed, whose names the chart uses.
  async function loadTrackRecord(listed) {
    const answer = await fetchFor("track", `/v1/track-record${brandQuery()}`, listed);
    if (!answer) return;
    if (answer.ok) showTrackRecord(answer.payload);
    else {
      showTrackRecord({ campaigns: null, rows: [] });
      out("t-note", `The track record could not be read: ${problemText(answer)}`);
    }
  }

  function fillScores(id, rows, label) {
    const body = document.querySelector(`#${id} tbody`);
    body.replaceChildren();
    for (const row of rows || []) {
      const tr = document.createElement("tr");
      cell(tr, row[label]);
      cell(tr, whole.format(row.campaigns), true);
      cell(tr, show(pct.format, row.inside_80), true);
      cell(tr, show(pct.format, row.median_ape), true);
      body.append(tr);
    }
  }

  function showTrackRecord(record) {
    out("t-campaigns", show(whole.format, record.campaigns));
    out("t-inside", show(pct.format, record.inside_80));
    out("t-ape", show(pct.format, record.median_ape));
    out("t-ratio", record.median_log_ratio === null || record.median_log_ratio === undefined ? "–"
      : times(Math.exp(record.median_log_ratio)));
    out("t-note", record.campaigns ? "" : "No measured campaign yet: save a plan, import its results when it has "
      + "run, and it is scored here.");
    document.getElementById("track-splits").hidden = !record.campaigns;
    fillScores("by-version-set", record.by_version_set, "versions");
    fillScores("by-month", record.by_month, "month");
    drawTrackRecord(record.rows || []);
  }

  function drawTrackRecord(rows) {
    const chart = document.getElementById("track-chart");
    chart.hidden = rows.length === 0;
    if (!rows.length) return;
    if (!window.Plotly) {
      chart.textContent = "The chart library did not load.";
      return;
    }
    // a campaign's name, or its id when it has none or shares its name with another measured campaign
    const names = rows.map((r) => campaignNames.get(r.campaign_id) || r.campaign_id);
    const x = rows.map((r, i) => (names.indexOf(names[i]) === names.lastIndexOf(names[i]) ? names[i]
      : `${names[i]} (${r.campaign_id})`));
    const forecast = { x, y: rows.map((r) => r.forecast.p50), mode: "markers", name: "forecast p50, p10–p90",
      marker: { color: "#1f77b4", symbol: "line-ew-open", size: 14 },
      error_y: { type: "data", symmetric: false, array: rows.map((r) => r.forecast.p90 - r.forecast.p50),
        arrayminus: rows.map((r) => r.forecast.p50 - r.forecast.p10), color: "#1f77b4", thickness: 2, width: 8 } };
    const measured = { x, y: rows.map((r) => r.measured.p50), mode: "markers", name: "measured",
      marker: { color: "#d62728", size: 10 } };
    const layout = { margin: { l: 70, r: 20, t: 20, b: 70 }, hovermode: "closest",
      xaxis: { title: { text: "campaign" }, type: "category", automargin: true },
      yaxis: { title: { text: "incremental units during the campaign" }, rangemode: "tozero" },
      legend: { orientation: "h", x: 0, xanchor: "left", y: 1.02, yanchor: "bottom" } };
    window.Plotly.react(chart, [forecast, measured], layout, { responsive: true, displaylogo: false });
  }

  // --- wiring -------------------------------------------------------------------------------------------------

  function planForm() {
    const query = queryFromForm();
    const url = `${location.pathname}?${query}`;
    if (`${location.pathname}${location.search}` !== url) history.pushState(null, "", url);
    plan(query);
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    planForm();
  });
  const edited = (event) => {
    if (event.target.name) linked.delete(event.target.name);
    if (event.target.name === "compensation") showCompensation();
    showStale();
  };
  form.addEventListener("input", edited);
  form.addEventListener("change", edited);
  document.getElementById("reference").addEventListener("click", () => {
    form.reset();
    linked.clear();
    showCompensation();
    planForm();
  });
  document.querySelector(".to-margin").addEventListener("click", (event) => {
    event.preventDefault(); // a #fragment would add a history entry, and going back would plan again
    form.elements.margin.focus();
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
    linked.clear();
    showCompensation();
    clearErrors();
    if (!location.search) {
      showStale();
      return;
    }
    fillForm(new URLSearchParams(location.search));
    const query = queryFromForm();
    history.replaceState(null, "", `${location.pathname}?${query}`);
    plan(query);
  }
  saveForm.addEventListener("submit", (event) => {
    event.preventDefault();
    savePlan();
  });
  document.getElementById("record-filter").addEventListener("submit", (event) => {
    event.preventDefault();
    loadRecord();
  });
  window.addEventListener("popstate", planFromAddress);
  planFromAddress();
  loadRecord();
})();
