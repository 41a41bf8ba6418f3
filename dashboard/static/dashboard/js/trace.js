// One order's trace: its path on the graph, kept up to date while the order is in flight.
import { GraphView } from "./graph.js";
import { connect, showConnection } from "./stream.js";
import { orderColour, paintSwatches, refreshParts, throttle } from "./util.js";

const root = document.querySelector("[data-trace]");
const orderId = root.dataset.trace;
const colour = orderColour(orderId);
const svg = document.querySelector("[data-graph]");
const graph = new GraphView(svg, JSON.parse(document.getElementById("graph-data").textContent));
svg.classList.add("tracing");
svg.style.setProperty("--hit", colour);
paintSwatches();

function sightings() {
  const script = document.getElementById("trace-sightings");
  return script ? JSON.parse(script.textContent) : [];
}
for (const { type, bus } of sightings()) graph.take(type, bus);

// The steps still to come, as ghosts on the graph: the lines they would take, dashed.
function drawGhosts() {
  const script = document.getElementById("trace-ghosts");
  const ghosts = script ? JSON.parse(script.textContent) : { connectors: [], edges: [] };
  for (const ghost of svg.querySelectorAll(".ghost")) ghost.classList.remove("ghost");
  for (const id of ghosts.connectors) {
    const line = svg.querySelector(`[data-connector="${CSS.escape(id)}"].connector`);
    if (line && !line.classList.contains("taken")) line.classList.add("ghost");
  }
  for (const id of ghosts.edges) {
    const chip = svg.querySelector(`.chip[data-edge="${CSS.escape(id)}"]`);
    if (chip && !chip.classList.contains("taken")) chip.classList.add("ghost");
  }
}
drawGhosts();

const refresh = throttle(async () => {
  // Keep open rows open across a refresh.
  const open = new Set([...root.querySelectorAll("details[open][data-event-id]")].map((d) => d.dataset.eventId));
  if (await refreshParts(root.dataset.partialUrl, root)) {
    for (const details of root.querySelectorAll("details[data-event-id]")) {
      if (open.has(details.dataset.eventId)) details.open = true;
    }
    paintSwatches(root);
    drawGhosts();
  }
}, 400);

connect(`/ws/orders/${encodeURIComponent(orderId)}`, {
  onState: showConnection,
  onItems(items) {
    for (const item of items) {
      if (!item.valid) continue;
      graph.take(item.type, item.bus);
      graph.play(item, colour);
    }
    refresh();
  },
});

// Replay: the order's sightings again, in order, time compressed to a few seconds.
document.querySelector("[data-replay]")?.addEventListener("click", () => {
  const steps = sightings();
  const span = Math.max(1, ...steps.map((s) => s.offsetMs || 0));
  const scale = Math.min(1, 6000 / span);
  let at = 0;
  for (const step of steps) {
    at = Math.max(at + 350, (step.offsetMs || 0) * scale);
    setTimeout(() => graph.play({ ...step, valid: true, orderId }, colour), at);
  }
});
