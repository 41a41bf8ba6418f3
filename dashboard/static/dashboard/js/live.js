// The live view: the graph, the event feed, recent orders and the place-order form.
import { GraphView } from "./graph.js";
import { matches, parseQuery, searchParams } from "./query.js";
import { connect, showConnection } from "./stream.js";
import { clock, duration, el, orderColour, orderUrl, paintSwatches, swatch } from "./util.js";

const FEED_LIMIT = 200;
// While paused, at most as many events are held as the feed shows: more would scroll off it
// on resume anyway. Beyond that the oldest held are let go and counted, with a link to find
// them in Search (the read model keeps every one).
const HELD_LIMIT = FEED_LIMIT;
const RECENT_LIMIT = 12;
const LEGEND_LIMIT = 8;

const graph = new GraphView(document.querySelector("[data-graph]"),
  JSON.parse(document.getElementById("graph-data").textContent));
const feed = document.querySelector("[data-feed]");
const feedEmpty = document.querySelector("[data-feed-empty]");
const pauseButton = document.querySelector("[data-pause]");
const legend = document.querySelector("[data-legend]");
const recent = document.querySelector("[data-recent]");
const rate = document.querySelector("[data-rate]");
paintSwatches();

let paused = false;
let pausedAt = null;
let held = [];
let letGo = 0;

// --- the feed's filter: /search/'s query syntax, matched as events stream ---
const syntax = JSON.parse(document.getElementById("search-syntax").textContent);
const renderedData = JSON.parse(document.getElementById("feed-data").textContent);
const filterForm = document.querySelector("[data-feed-filter]");
const filterInput = document.querySelector("[data-filter-input]");
const filterError = document.querySelector("[data-filter-error]");
const filterSearch = document.querySelector("[data-filter-search]");
const heldNote = document.querySelector("[data-held]");
const feedUnmatched = document.querySelector("[data-feed-unmatched]");
const feedItems = new Map(); // eventId → the websocket item its row shows
let query = parseQuery("", syntax);
const inFlight = new Map(); // orderId → {status, seen}
const arrivals = [];

function badge(text, className) {
  return el("span", { class: `badge ${className}` }, text);
}

function feedRow(item) {
  const type = item.valid
    ? el("span", {}, el("span", { class: `type src-${item.source}` }, item.type),
      ...(item.version ? [" ", el("span", { class: `badge version-badge version-${item.version}`,
        "data-version": String(item.version), title: item.dataschema || "" }, `v${item.version}`)] : []))
    : el("span", {}, el("span", { class: "type invalid", title: item.invalidReason || "" }, item.type || "(not a CloudEvent)"), " ", badge("invalid", "invalid"));
  const order = item.orderId
    ? el("a", { class: "order-link", href: orderUrl(item.orderId) },
      swatch(item.orderId), item.orderId)
    : "—";
  const buses = el("td", {});
  for (const bus of item.buses || [item.bus]) buses.append(badge(bus, `bus-${bus}`), " ");
  return el("tr", { class: "fresh", "data-event-id": item.eventId },
    el("td", { class: "time", title: item.observedAt }, clock(item.observedAt)),
    el("td", {}, type),
    el("td", {}, order),
    buses,
    el("td", { class: "num" }, duration(item.hopLatencyMs)),
    el("td", { class: "num" }, duration(item.observedLagMs)));
}

function addToFeed(items) {
  // One row per event, whatever the buses it was seen on: the latest sighting lists them all.
  const latest = new Map();
  for (const item of items) { latest.delete(item.eventId); latest.set(item.eventId, item); }
  const rows = document.createDocumentFragment();
  for (const item of [...latest.values()].reverse()) {
    feed.querySelector(`tr[data-event-id="${CSS.escape(item.eventId)}"]`)?.remove();
    feedItems.set(item.eventId, item);
    rows.append(feedRow(item));
  }
  feed.prepend(rows);
  while (feed.rows.length > FEED_LIMIT) {
    feedItems.delete(feed.rows[feed.rows.length - 1].dataset.eventId);
    feed.deleteRow(-1);
  }
  if (items.length) feedEmpty?.classList.add("hidden");
  showUnmatched();
}

// A row rendered with the page, as the item it would have come as.
function rowItem(row) {
  const id = row.dataset.eventId;
  return feedItems.get(id) || {
    eventId: id, type: row.dataset.type, source: row.dataset.source, orderId: row.dataset.subject,
    correlationId: row.dataset.correlationId, causationId: row.dataset.causationId,
    time: row.dataset.time, event: { data: renderedData[id] },
  };
}

function showUnmatched() {
  const rows = [...feed.rows];
  feedUnmatched.classList.toggle("hidden", !query.terms.length || !rows.length
    || rows.some((row) => !row.classList.contains("hidden")));
}

function showHeld() {
  const count = new Set(held.map((item) => item.eventId)).size;
  pauseButton.textContent = paused ? `Resume (${count})` : "Pause";
  heldNote.classList.toggle("hidden", !paused);
  if (!paused) return;
  const since = searchParams(query, { since: pausedAt });
  heldNote.replaceChildren(`Paused: ${count} ${count === 1 ? "event" : "events"} held, shown on resume.`);
  if (letGo) {
    heldNote.append(` ${letGo} earlier beyond the ${HELD_LIMIT} the feed shows are let go — `,
      el("a", { href: `${filterSearch.pathname}?${since}`, "data-held-search": "" }, "find them in Search"), ".");
  }
}

function hold(items) {
  held.push(...items);
  if (held.length > HELD_LIMIT) {
    letGo += held.length - HELD_LIMIT;
    held = held.slice(-HELD_LIMIT);
  }
  showHeld();
}

function applyFilter(text) {
  const parsed = parseQuery(text, syntax);
  filterError.classList.toggle("hidden", !parsed.errors.length);
  filterError.textContent = parsed.errors.length
    ? `${parsed.errors.join("; ")} (the filter in force is the last that could be read)` : "";
  if (parsed.errors.length) return;
  query = parsed;
  for (const row of feed.rows) row.classList.toggle("hidden", !matches(rowItem(row), query));
  held = held.filter((item) => matches(item, query));
  showHeld();
  showUnmatched();
  filterSearch.href = `${filterSearch.pathname}?${searchParams(query)}`;
  const url = new URL(location.href);
  if (query.terms.length) url.searchParams.set("q", query.text); else url.searchParams.delete("q");
  history.replaceState(null, "", url);
}

function updateRecent(items) {
  for (const item of items) {
    if (!item.orderId || !item.valid) continue;
    let row = recent.querySelector(`[data-order="${CSS.escape(item.orderId)}"]`);
    if (!row) {
      row = el("a", { class: "recent-row", href: orderUrl(item.orderId), "data-order": item.orderId },
        swatch(item.orderId),
        el("span", { class: "mono" }, item.orderId, el("span", { class: "last" }, "")),
        el("span", { class: "badge", "data-status": "" }, ""),
        el("span", { class: "badge deviates hidden", "data-deviates": "" }, "deviates"));
      recent.prepend(row);
      recent.querySelector("[data-recent-empty]")?.remove();
      while (recent.children.length > RECENT_LIMIT) recent.lastElementChild.remove();
    }
    const status = row.querySelector("[data-status]");
    status.textContent = item.orderStatus || "placed";
    status.className = `badge status-${item.orderStatus || "placed"}`;
    row.querySelector(".last").textContent = ` · ${item.type}`;
    // An order that once deviated from the model stays flagged (the read model keeps why).
    const deviates = row.querySelector("[data-deviates]");
    if (deviates && item.orderDeviation) {
      deviates.classList.remove("hidden");
      deviates.title = item.orderDeviation;
    }
  }
}

function updateLegend(items) {
  const now = Date.now();
  for (const item of items) {
    if (item.orderId && item.valid) inFlight.set(item.orderId, { status: item.orderStatus, seen: now });
  }
  for (const [orderId, entry] of inFlight) {
    const stale = now - entry.seen > (entry.status && entry.status !== "placed" ? 15000 : 120000);
    if (stale) inFlight.delete(orderId);
  }
  const entries = [...inFlight.entries()].sort((a, b) => b[1].seen - a[1].seen).slice(0, LEGEND_LIMIT);
  legend.replaceChildren(...entries.map(([orderId, entry]) => el("a", { href: orderUrl(orderId) },
    swatch(orderId), orderId,
    el("span", { class: "hint" }, entry.status && entry.status !== "placed" ? ` ${entry.status}` : ""))));
}

function showRate() {
  const now = Date.now();
  while (arrivals.length && now - arrivals[0] > 5000) arrivals.shift();
  rate.textContent = `${(arrivals.length / 5).toFixed(1)} events/s`;
}
setInterval(showRate, 1000);

const stream = connect("/ws/events", {
  onState: showConnection,
  onItems(items) {
    const now = Date.now();
    for (const item of items) {
      arrivals.push(now);
      if (item.valid && item.orderId) graph.play(item, orderColour(item.orderId));
    }
    updateRecent(items);
    updateLegend(items);
    const shown = items.filter((item) => matches(item, query));
    if (paused) { hold(shown); return; }
    addToFeed(shown);
  },
});
// What the page was rendered with is not news.
for (const row of feed.querySelectorAll("tr[data-event-id]")) {
  for (const bus of (row.dataset.buses || "").split(" ")) if (bus) stream.markSeen(`${row.dataset.eventId}@${bus}`);
}

pauseButton?.addEventListener("click", () => {
  paused = !paused;
  pauseButton.setAttribute("aria-pressed", String(paused));
  pausedAt = paused ? new Date().toISOString() : null;
  if (!paused && held.length) addToFeed(held);
  if (!paused) { held = []; letGo = 0; }
  showHeld();
});

filterForm.addEventListener("submit", (event) => event.preventDefault());
filterInput.addEventListener("input", () => applyFilter(filterInput.value));
filterInput.value = new URLSearchParams(location.search).get("q") || "";
if (filterInput.value) applyFilter(filterInput.value);

// --- the place-order form: submitted in the background so the graph keeps animating ---
const form = document.querySelector("[data-order-form]");
if (form) {
  const cardNumber = form.querySelector("[data-card-number]");
  const placed = form.querySelector("[data-placed]");
  const problem = form.querySelector("[data-problem]");
  const submit = form.querySelector("[data-submit]");
  const sending = form.querySelector("[data-sending]");
  const syncCard = () => {
    const custom = form.querySelector('input[name="card"]:checked')?.value === "custom";
    cardNumber.classList.toggle("hidden", !custom);
  };
  form.addEventListener("change", syncCard);
  syncCard();

  const clearErrors = () => {
    for (const box of form.querySelectorAll("[data-error-for]")) box.textContent = "";
    for (const field of form.querySelectorAll(".has-error")) field.classList.remove("has-error");
    problem.classList.add("hidden");
    problem.replaceChildren();
  };

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors();
    placed.classList.add("hidden");
    submit.disabled = true;
    sending.textContent = "placing…";
    try {
      const response = await fetch(form.action, {
        method: "POST", body: new FormData(form), credentials: "same-origin",
        headers: { Accept: "application/json", "X-CSRFToken": form.elements.csrfmiddlewaretoken.value },
      });
      const body = await response.json().catch(() => ({}));
      if (body.placed) {
        if (form.elements.request_key && body.nextRequestKey) form.elements.request_key.value = body.nextRequestKey;
        placed.replaceChildren("Order ", el("a", { href: body.traceUrl, class: "mono" }, body.orderId),
          " placed — watch it on the graph, or open its trace.");
        placed.classList.remove("hidden");
        updateLegend([{ orderId: body.orderId, valid: true, orderStatus: "placed" }]);
        return;
      }
      const errors = body.fieldErrors || {};
      for (const [name, messages] of Object.entries(errors)) {
        const key = name === "card_number" ? "card" : name;
        const box = form.querySelector(`[data-error-for="${CSS.escape(key)}"]`);
        if (box && name !== "__all__") {
          box.textContent = messages.join(" ");
          box.closest("[data-field]")?.classList.add("has-error");
        } else {
          problem.append(el("div", {}, messages.join(" ")));
          problem.classList.remove("hidden");
        }
      }
      if (!Object.keys(errors).length) {
        problem.append(el("div", {}, `The dashboard answered ${response.status}.`));
        problem.classList.remove("hidden");
      }
    } catch (error) {
      problem.append(el("div", {}, `Could not reach the dashboard: ${error.message}`));
      problem.classList.remove("hidden");
    } finally {
      submit.disabled = false;
      sending.textContent = "";
    }
  });
}
