// The top bar's count of stuck orders, from the read model (no AWS call), kept fresh on
// every page as the dead letters' count is.

const PERIOD_MS = 15000;
const badge = document.querySelector("[data-stuck-badge]");

async function count() {
  if (!badge || document.hidden) return;
  let body = null;
  try {
    const response = await fetch("/api/stuck", { headers: { Accept: "application/json" }, credentials: "same-origin" });
    body = response.ok ? await response.json() : null;
  } catch {
    body = null;
  }
  if (!body || typeof body.total !== "number") return;
  badge.textContent = String(body.total);
  badge.classList.toggle("hidden", body.total === 0);
  badge.title = Object.entries(body.byEvent || {}).map(([type, n]) => `${n} stopped after ${type}`).join("\n")
    || "orders whose next step is overdue";
}

count();
setInterval(count, PERIOD_MS);
document.addEventListener("visibilitychange", () => { if (!document.hidden) count(); });
