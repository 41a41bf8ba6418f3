// Route health on the live graph: every route's figures over the chosen window, polled from
// /api/routes, written beside its label on the graph and in the table under it. The busiest
// route's label is drawn heavier, the slowest's and any failing one's in warning colours; a
// click (or Enter) on a route's label opens its page.

import { duration, el } from "./util.js";

const SVG = "http://www.w3.org/2000/svg";
const POLL_MS = 5000;

const panel = document.querySelector("[data-route-health]");
const svg = document.querySelector("[data-graph]");
const table = document.querySelector("[data-route-table]");
const chooser = document.querySelectorAll("[data-route-window]");
const summary = document.querySelector("[data-route-summary]");
const routeBase = panel.dataset.routeBase.replace(/R$/, ""); // the URL of a route named "R", less its name
const routeUrl = (rule) => `${routeBase}${encodeURIComponent(rule)}`;
let windowName = panel.dataset.window;
let timer = null;

function rate(perSecond) {
  if (!perSecond) return "0/s";
  return perSecond >= 10 ? `${perSecond.toFixed(0)}/s` : perSecond >= 0.1 ? `${perSecond.toFixed(2)}/s` : `${perSecond.toFixed(3)}/s`;
}

function chipLabel(route) {
  const parts = [rate(route.perSecond)];
  if (route.latency.p95Ms !== null) parts.push(`p95 ${duration(route.latency.p95Ms)}`);
  if (route.failures) parts.push(`✕${route.failures}`);
  return parts.join(" ");
}

// What a figure must not cover: every label, box and line of the graph (but the line it
// labels, and the one running back beside it), and the figures already placed.
const graphData = JSON.parse(document.getElementById("graph-data").textContent);
const boxOf = (rect) => ({ x: Number(rect.getAttribute("x")), y: Number(rect.getAttribute("y")),
  w: Number(rect.getAttribute("width")), h: Number(rect.getAttribute("height")) });
const obstacles = [
  ...[...svg.querySelectorAll(".chip rect")].map(boxOf),
  ...graphData.nodes.map((node) => ({ x: node.x, y: node.y, w: node.w, h: node.h })),
];
const lines = graphData.connectors.flatMap((connector) => connector.points.slice(1).map((point, index) => {
  const [ax, ay] = connector.points[index];
  const [bx, by] = point;
  return { id: connector.id, x: Math.min(ax, bx), y: Math.min(ay, by), w: Math.abs(ax - bx), h: Math.abs(ay - by) };
}));
const pairOf = (id) => { const [source, target] = id.slice(2).split(">"); return `c:${target}>${source}`; };
const placed = new Map(); // chip edge id → the box its figure took
const overlaps = (a, b) => a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;

/** Beside its label, right or left, wherever it covers nothing; if the whole line fits
 * nowhere, the rate alone; else not drawn (the label's title and the table below say it). */
function place(chip, text, lines) {
  placed.delete(chip.dataset.edge);
  text.classList.remove("hidden"); // measured as shown
  const box = boxOf(chip.querySelector("rect"));
  const own = chip.dataset.connector;
  const crossing = lines.filter((line) => line.id !== own && line.id !== pairOf(own));
  const taken = [...obstacles, ...crossing, ...placed.values()];
  for (const line of lines) {
    text.textContent = line;
    const width = text.getComputedTextLength();
    for (const [x, anchor, left] of [[box.x + box.w + 4, "start", box.x + box.w + 4],
      [box.x - 4, "end", box.x - 4 - width]]) {
      const want = { x: left - 1, y: box.y + 1, w: width + 2, h: box.h - 2 };
      if (left < 0 || left + width > graphData.width || taken.some((other) => overlaps(want, other))) continue;
      text.setAttribute("x", String(x));
      text.setAttribute("y", String(box.y + 13.5));
      text.setAttribute("text-anchor", anchor);
      placed.set(chip.dataset.edge, want);
      return;
    }
  }
  text.classList.add("hidden");
}

function figureText(chip) {
  let text = chip.querySelector(".route-figure");
  if (!text) {
    text = document.createElementNS(SVG, "text");
    text.setAttribute("class", "route-figure");
    chip.append(text);
    if (!chip.querySelector(":scope > title")) chip.prepend(document.createElementNS(SVG, "title"));
  }
  return text;
}

function decorate(route, health, heaviest) {
  const chip = svg.querySelector(`.chip[data-edge="${CSS.escape(route.rule)}"]`);
  if (!chip) return;
  chip.classList.add("route-chip");
  // The page draws each route's label inside a link to the route; a label drawn without one
  // still opens it, by click or by keyboard.
  if (!chip.closest("a") && !chip.hasAttribute("tabindex")) {
    chip.setAttribute("tabindex", "0");
    chip.setAttribute("role", "link");
    const open = () => { window.location.href = routeUrl(route.rule); };
    chip.addEventListener("click", open);
    chip.addEventListener("keydown", (event) => {
      if (event.key === "Enter" || event.key === " ") { event.preventDefault(); open(); }
    });
  }
  place(chip, figureText(chip), [chipLabel(route), rate(route.perSecond)]);
  const lat = route.latency;
  // A label marked as drifted says first what differs from the model (drawn by the server).
  const drift = chip.dataset.driftNote ? `${chip.dataset.driftNote}\n` : "";
  chip.querySelector("title").textContent = `${drift}${route.rule}: ${route.events} events in ${health.window} `
    + `(${rate(route.perSecond)}), p50 ${duration(lat.p50Ms)} p95 ${duration(lat.p95Ms)} p99 ${duration(lat.p99Ms)}, `
    + `${route.failures} failures — open the route`;
  chip.setAttribute("aria-label", chip.querySelector("title").textContent);
  const share = heaviest ? route.perSecond / heaviest : 0;
  for (let level = 1; level <= 3; level += 1) chip.classList.toggle(`route-load-${level}`, share > 0 && Math.ceil(share * 3) === level);
  chip.classList.toggle("route-busiest", health.busiest === route.rule);
  chip.classList.toggle("route-slowest", health.slowest === route.rule);
  chip.classList.toggle("route-failing", route.failures > 0);
}

function row(route, health) {
  const lat = route.latency;
  const marks = [];
  if (health.busiest === route.rule) marks.push(el("span", { class: "badge route-mark busiest" }, "busiest"));
  if (health.slowest === route.rule) marks.push(el("span", { class: "badge route-mark slowest" }, "slowest"));
  const dead = route.deadLetters === null ? "—" : String(route.deadLetters);
  return el("tr", { "data-rule": route.rule },
    el("td", {}, el("a", { href: routeUrl(route.rule), class: "mono" }, route.rule), " ", ...marks),
    el("td", {}, el("span", { class: `badge bus-${route.bus}` }, route.bus)),
    el("td", { class: "num", "data-col": "events" }, String(route.events)),
    el("td", { class: "num", "data-col": "rate" }, rate(route.perSecond)),
    el("td", { class: "num", "data-col": "p50" }, duration(lat.p50Ms)),
    el("td", { class: "num", "data-col": "p95" }, duration(lat.p95Ms)),
    el("td", { class: "num", "data-col": "p99" }, duration(lat.p99Ms)),
    el("td", { class: route.invalid ? "num bad" : "num", "data-col": "invalid" }, String(route.invalid)),
    el("td", { class: route.deadLetters ? "num bad" : "num", "data-col": "dead" }, dead));
}

function show(health) {
  const heaviest = Math.max(0, ...health.routes.map((route) => route.perSecond));
  for (const route of health.routes) decorate(route, health, heaviest);
  table.replaceChildren(...health.routes.map((route) => row(route, health)));
  // a dead-letter queue is shared by every route to its target: counted once
  const queues = new Map(health.routes.filter((route) => route.deadLetterQueue)
    .map((route) => [route.deadLetterQueue, route.deadLetters || 0]));
  const total = health.routes.reduce((sum, route) => sum + route.invalid, 0)
    + [...queues.values()].reduce((sum, count) => sum + count, 0);
  summary.textContent = `over the last ${health.window} · busiest ${health.busiest || "—"} · slowest ${health.slowest || "—"}`
    + (total ? ` · ${total} failures` : "");
}

async function poll() {
  clearTimeout(timer);
  try {
    const asked = windowName;
    const response = await fetch(`${panel.dataset.url}?window=${encodeURIComponent(asked)}`,
      { headers: { Accept: "application/json" } });
    // an answer for a window no longer chosen is dropped
    if (response.ok && asked === windowName) show(await response.json());
  } catch {
    // the server is away (restarting, say): the figures shown stay until the next poll
  } finally {
    timer = setTimeout(poll, POLL_MS);
  }
}

for (const button of chooser) {
  button.addEventListener("click", () => {
    windowName = button.dataset.routeWindow;
    for (const other of chooser) other.setAttribute("aria-pressed", String(other === button));
    poll();
  });
}
poll();
