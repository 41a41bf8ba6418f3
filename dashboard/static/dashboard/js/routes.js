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
  return parts.join(" · ");
}

function figureText(chip) {
  let text = chip.querySelector(".route-figure");
  if (!text) {
    const box = chip.querySelector("rect");
    text = document.createElementNS(SVG, "text");
    text.setAttribute("class", "route-figure");
    text.setAttribute("x", String(Number(box.getAttribute("x")) + Number(box.getAttribute("width")) + 5));
    text.setAttribute("y", String(Number(box.getAttribute("y")) + 13.5));
    chip.append(text);
    const title = document.createElementNS(SVG, "title");
    chip.prepend(title);
  }
  return text;
}

function decorate(route, health, heaviest) {
  const chip = svg.querySelector(`.chip[data-edge="${CSS.escape(route.rule)}"]`);
  if (!chip) return;
  if (!chip.hasAttribute("tabindex")) {
    chip.setAttribute("tabindex", "0");
    chip.setAttribute("role", "link");
    chip.classList.add("route-chip");
    const open = () => { window.location.href = routeUrl(route.rule); };
    chip.addEventListener("click", open);
    chip.addEventListener("keydown", (event) => {
      if (event.key === "Enter" || event.key === " ") { event.preventDefault(); open(); }
    });
  }
  figureText(chip).textContent = chipLabel(route);
  const lat = route.latency;
  chip.querySelector("title").textContent = `${route.rule}: ${route.events} events in ${health.window} `
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
  const dead = route.deadLetterQueue === null ? "—" : route.deadLetters === null ? "?" : String(route.deadLetters);
  return el("tr", { "data-rule": route.rule, class: route.failures ? "route-failing-row" : "" },
    el("td", {}, el("a", { href: routeUrl(route.rule), class: "mono" }, route.rule), " ", ...marks),
    el("td", {}, el("span", { class: `badge bus-${route.bus}` }, route.bus)),
    el("td", { class: "num", "data-col": "events" }, String(route.events)),
    el("td", { class: "num", "data-col": "rate" }, rate(route.perSecond)),
    el("td", { class: "num", "data-col": "p50" }, duration(lat.p50Ms)),
    el("td", { class: "num", "data-col": "p95" }, duration(lat.p95Ms)),
    el("td", { class: "num", "data-col": "p99" }, duration(lat.p99Ms)),
    el("td", { class: "num", "data-col": "invalid" }, String(route.invalid)),
    el("td", { class: "num", "data-col": "dead" }, dead));
}

function show(health) {
  const heaviest = Math.max(0, ...health.routes.map((route) => route.perSecond));
  for (const route of health.routes) decorate(route, health, heaviest);
  table.replaceChildren(...health.routes.map((route) => row(route, health)));
  const total = health.routes.reduce((sum, route) => sum + route.failures, 0);
  summary.textContent = `over the last ${health.window} · busiest ${health.busiest || "—"} · slowest ${health.slowest || "—"}`
    + (total ? ` · ${total} failures` : "");
}

async function poll() {
  clearTimeout(timer);
  try {
    const response = await fetch(`${panel.dataset.url}?window=${encodeURIComponent(windowName)}`,
      { headers: { Accept: "application/json" } });
    if (response.ok) show(await response.json());
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
