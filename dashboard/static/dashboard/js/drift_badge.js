// The top bar's count of differences between the running system and the model. The server
// reads the deployed rules at most once a minute whoever asks, so asking more often than that
// would only repeat its answer.

const PERIOD_MS = 60000;
const badge = document.querySelector("[data-drift-badge]");

async function count() {
  if (!badge || document.hidden) return;
  let body = null;
  try {
    const response = await fetch("/api/drift/count", { headers: { Accept: "application/json" }, credentials: "same-origin" });
    body = response.ok ? await response.json() : null;
  } catch {
    body = null;
  }
  // AWS unreachable: the badge keeps what it last knew.
  if (!body || typeof body.total !== "number") return;
  badge.textContent = String(body.total);
  badge.classList.toggle("hidden", body.total === 0);
  const parts = [[body.undeclaredRules, "rule(s) nobody declared"], [body.routes, "declared route(s) missing or changed"],
    [body.undeclaredEventTypes, "undeclared event type(s) seen"]];
  badge.title = parts.filter(([n]) => n).map(([n, what]) => `${n} ${what}`).join("\n")
    || "the running system matches the model";
}

// A page rendered with a fresh count needs no second one straight away.
if (badge && !("counted" in badge.dataset)) count();
setInterval(count, PERIOD_MS);
document.addEventListener("visibilitychange", () => { if (!document.hidden) count(); });
