// The stuck orders, refreshed from the read model: an order becomes stuck as time passes,
// not as an event arrives, so the page asks again every little while.
import { paintSwatches, refreshParts } from "./util.js";

const root = document.querySelector("[data-stuck]");
const period = Number(root.dataset.refreshSeconds || 15) * 1000;
paintSwatches();

setInterval(async () => {
  if (document.hidden) return;
  if (await refreshParts(root.dataset.partialUrl, root)) paintSwatches(root);
}, period);
