// Brings the server-drawn graph alive: a token per event flies along the lines its routes
// take (paths computed on the server, from the model), lighting each line and label it
// passes in the order's colour.

const SVG = "http://www.w3.org/2000/svg";
const MAX_TOKENS = 90;
const LIT_MS = 1200;
const SPEED = 0.6; // px per ms

export class GraphView {
  constructor(svg, data) {
    this.svg = svg;
    this.data = data;
    this.connectors = new Map();
    for (const path of svg.querySelectorAll("path[data-connector]")) this.connectors.set(path.dataset.connector, path);
    this.chips = new Map();
    for (const chip of svg.querySelectorAll(".chip[data-edge]")) this.chips.set(chip.dataset.edge, chip);
    this.nodes = new Map();
    for (const node of svg.querySelectorAll("[data-node]")) this.nodes.set(node.dataset.node, node);
    this.edges = new Map(data.edges.map((edge) => [edge.id, edge]));
    this.tokenLayer = svg.querySelector("[data-tokens]");
    this.guides = document.createElementNS(SVG, "g");
    this.guides.setAttribute("visibility", "hidden");
    svg.append(this.guides);
    this.guideCache = new Map();
    this.tokens = [];
    this.timers = new WeakMap();
    this.frame = null;
  }

  flights(type, bus) {
    return this.data.flights[`${type}@${bus}`] || [];
  }

  /** Animate one sighting of an event. */
  play(item, colour) {
    const flights = this.flights(item.type, item.bus);
    flights.forEach((flight, index) => {
      const [path, length] = this.guide(`${item.type}@${item.bus}#${index}`, flight.path);
      const duration = Math.min(2400, Math.max(900, length / SPEED));
      this.flight(flight, colour, duration);
      this.token(path, length, colour, duration);
    });
    for (const id of this.data.observe[item.bus] || []) {
      this.light(this.connectors.get(id), colour, LIT_MS / 2);
    }
  }

  /** Light a flight's lines and labels in step with its token. */
  flight(flight, colour, duration) {
    const step = duration / Math.max(1, flight.edges.length);
    flight.edges.forEach((edgeId, index) => {
      const edge = this.edges.get(edgeId);
      setTimeout(() => {
        this.light(this.connectors.get(edge && edge.connector), colour, LIT_MS);
        this.light(this.chips.get(edgeId), colour, LIT_MS);
        if (edge) this.light(this.nodes.get(edge.target), colour, LIT_MS, "active");
      }, index * step);
    });
  }

  light(element, colour, ms, className = "lit") {
    if (!element) return;
    element.style.setProperty("--hit", colour);
    element.classList.add(className);
    clearTimeout(this.timers.get(element));
    this.timers.set(element, setTimeout(() => element.classList.remove(className), ms));
  }

  guide(key, d) {
    let cached = this.guideCache.get(key);
    if (!cached) {
      const path = document.createElementNS(SVG, "path");
      path.setAttribute("d", d);
      path.setAttribute("fill", "none");
      this.guides.append(path);
      cached = [path, path.getTotalLength()];
      this.guideCache.set(key, cached);
    }
    return cached;
  }

  token(path, length, colour, duration) {
    if (this.tokens.length >= MAX_TOKENS || !length) return;
    const circle = document.createElementNS(SVG, "circle");
    circle.setAttribute("r", "6");
    circle.setAttribute("class", "token");
    circle.setAttribute("fill", colour);
    circle.setAttribute("stroke", "#0a0f1c");
    circle.setAttribute("stroke-width", "1.5");
    const start = path.getPointAtLength(0);
    circle.setAttribute("cx", start.x);
    circle.setAttribute("cy", start.y);
    this.tokenLayer.append(circle);
    this.tokens.push({ circle, path, length, duration, started: performance.now() });
    if (!this.frame) this.frame = requestAnimationFrame((now) => this.tick(now));
  }

  tick(now) {
    this.tokens = this.tokens.filter((token) => {
      const t = (now - token.started) / token.duration;
      if (t >= 1) { token.circle.remove(); return false; }
      const eased = t < 0.5 ? 2 * t * t : 1 - ((-2 * t + 2) ** 2) / 2;
      const point = token.path.getPointAtLength(eased * token.length);
      token.circle.setAttribute("cx", point.x.toFixed(1));
      token.circle.setAttribute("cy", point.y.toFixed(1));
      return true;
    });
    this.frame = this.tokens.length ? requestAnimationFrame((next) => this.tick(next)) : null;
  }

  /** Mark a sighting's lines and labels as taken (a trace's path). */
  take(type, bus) {
    for (const flight of this.flights(type, bus)) {
      for (const id of flight.connectors) this.connectors.get(id)?.classList.add("taken");
      for (const id of flight.edges) this.chips.get(id)?.classList.add("taken");
    }
  }
}
