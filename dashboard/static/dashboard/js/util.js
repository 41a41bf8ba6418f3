// Small helpers shared by the pages. Data never goes through innerHTML: elements are built
// and their text set with textContent.

const PALETTE = ["#38bdf8", "#f472b6", "#a3e635", "#fb923c", "#c084fc", "#facc15",
  "#2dd4bf", "#f87171", "#818cf8", "#4ade80", "#e879f9", "#fdba74"];

/** A stable colour per order, the same on every page. */
export function orderColour(orderId) {
  let hash = 2166136261;
  for (let i = 0; i < orderId.length; i += 1) {
    hash ^= orderId.charCodeAt(i);
    hash = Math.imul(hash, 16777619);
  }
  return PALETTE[(hash >>> 0) % PALETTE.length];
}

/** An order's colour swatch. Its colour is set through the CSSOM: the page's
 * Content-Security-Policy refuses style attributes. */
export function swatch(orderId) {
  const node = el("span", { class: "swatch" });
  node.style.setProperty("--hit", orderColour(orderId));
  return node;
}

export function paintSwatches(root = document) {
  for (const swatch of root.querySelectorAll("[data-swatch]")) {
    swatch.style.setProperty("--hit", orderColour(swatch.dataset.swatch));
  }
}

/** el("a", {class: "x", href: "/y"}, "text", child); never a `style` attribute (see swatch). */
export function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === null || value === undefined || value === false) continue;
    node.setAttribute(name, String(value));
  }
  for (const child of children) {
    if (child === null || child === undefined) continue;
    node.append(typeof child === "string" ? document.createTextNode(child) : child);
  }
  return node;
}

export function duration(ms) {
  if (ms === null || ms === undefined) return "—";
  const value = Number(ms);
  if (Math.abs(value) < 1000) return `${value.toFixed(0)} ms`;
  if (Math.abs(value) < 60000) return `${(value / 1000).toFixed(1)} s`;
  const minutes = Math.floor(value / 60000);
  return `${minutes} min ${Math.floor((value % 60000) / 1000)} s`;
}

export function clock(iso) {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return "";
  const pad = (n, w = 2) => String(n).padStart(w, "0");
  return `${pad(date.getUTCHours())}:${pad(date.getUTCMinutes())}:${pad(date.getUTCSeconds())}.${pad(date.getUTCMilliseconds(), 3)}`;
}

export function orderUrl(orderId) {
  return `/orders/${encodeURIComponent(orderId)}`;
}

/** Replace the children of `target` with those of the same `data-part` in fetched HTML. */
export async function refreshParts(url, root = document) {
  const response = await fetch(url, { headers: { Accept: "text/html" }, credentials: "same-origin" });
  if (!response.ok) return false;
  const fetched = new DOMParser().parseFromString(await response.text(), "text/html");
  for (const part of root.querySelectorAll("[data-part]")) {
    const fresh = fetched.querySelector(`[data-part="${part.dataset.part}"]`);
    if (fresh) part.replaceChildren(...fresh.childNodes);
  }
  return true;
}

/** Run `fn` at most once per `ms`, trailing call included. */
export function throttle(fn, ms) {
  let timer = null;
  let pending = false;
  return () => {
    if (timer) { pending = true; return; }
    fn();
    timer = setTimeout(function again() {
      timer = null;
      if (pending) { pending = false; fn(); timer = setTimeout(again, ms); }
    }, ms);
  };
}
