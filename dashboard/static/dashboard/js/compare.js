// Two orders compared: redrawn when an event of either arrives (one still in flight moves on).
import { connect, showConnection } from "./stream.js";
import { paintSwatches, throttle } from "./util.js";

paintSwatches();
const body = () => document.querySelector("[data-compare-body]");
const orders = new Set([body()?.dataset.a, body()?.dataset.b].filter(Boolean));

const refresh = throttle(async () => {
  const response = await fetch(location.href, { credentials: "same-origin" });
  if (!response.ok) return;
  const fetched = new DOMParser().parseFromString(await response.text(), "text/html");
  const fresh = fetched.querySelector("[data-compare-body]");
  if (fresh && body()) { body().replaceWith(fresh); paintSwatches(fresh); }
}, 1000);

connect("/ws/events", {
  onState: showConnection,
  onItems(items) { if (items.some((item) => orders.has(item.orderId))) refresh(); },
});
