// The stuck orders, refreshed from the read model: as events arrive (an order moves on),
// and every little while (an order becomes stuck as time passes, with no event at all).
import { connect, showConnection } from "./stream.js";
import { paintSwatches, refreshParts, throttle } from "./util.js";

const root = document.querySelector("[data-stuck]");
const period = Number(root.dataset.refreshSeconds || 15) * 1000;
paintSwatches();

const refresh = throttle(async () => {
  if (document.hidden) return;
  if (await refreshParts(root.dataset.partialUrl, root)) paintSwatches(root);
}, 2000);

connect("/ws/events", { onState: showConnection, onItems: refresh });
setInterval(refresh, period);
