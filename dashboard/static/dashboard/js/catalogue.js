// The catalogue's traffic, followed live: each observed event asks for the per-type counts
// again (at most every two seconds), and a slow tick ages the "last seen" and lets events
// leave the last hour.
import { connect, showConnection } from "./stream.js";
import { duration, throttle } from "./util.js";

const root = document.querySelector("[data-catalogue]");
const AGE_MS = 30000;

function ago(iso, now) {
  if (!iso) return "never";
  return `${duration(Math.max(0, now - new Date(iso).getTime()))} ago`;
}

function show(document_) {
  const now = new Date(document_.now).getTime();
  for (const [name, traffic] of Object.entries(document_.types)) {
    for (const cell of root.querySelectorAll(`[data-traffic="${CSS.escape(name)}"]`)) {
      cell.querySelector("[data-recent]").textContent = String(traffic.recent);
      cell.querySelector("[data-recent-invalid]").textContent = String(traffic.recentInvalid);
      cell.querySelector(".refused").classList.toggle("hidden", !traffic.recentInvalid);
    }
    for (const cell of root.querySelectorAll(`[data-last-seen="${CSS.escape(name)}"]`)) {
      cell.dataset.at = traffic.lastSeen || "";
      cell.title = traffic.lastSeen || "";
      cell.textContent = ago(traffic.lastSeen, now);
    }
  }
  const total = root.querySelector("[data-recent-total]");
  if (total) total.textContent = String(Object.values(document_.types).reduce((sum, t) => sum + t.recent, 0));
}

const refresh = throttle(async () => {
  const response = await fetch(root.dataset.trafficUrl, { credentials: "same-origin" });
  if (response.ok) show(await response.json());
}, 2000);

connect("/ws/events", { onState: showConnection, onItems: refresh });
setInterval(refresh, AGE_MS);
