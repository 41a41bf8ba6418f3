// The top bar's count of dead letters, kept fresh on every page. Counting is cheap for SQS;
// looking at the dead letters is a receive, which only the failures page does, on request.

const PERIOD_MS = 10000;
const badge = document.querySelector("[data-dead-letter-badge]");
const listeners = [];

/** Call `listener({total, queues})` after each count. */
export function onDeadLetters(listener) {
  listeners.push(listener);
}

async function count() {
  if (!badge || document.hidden) return;
  let body;
  try {
    const response = await fetch("/api/dead-letters", { headers: { Accept: "application/json" }, credentials: "same-origin" });
    if (!response.ok) return;
    body = await response.json();
  } catch {
    return;
  }
  // AWS unreachable: the badge keeps what it last knew.
  if (typeof body.total !== "number") return;
  badge.textContent = String(body.total);
  badge.classList.toggle("hidden", body.total === 0);
  for (const listener of listeners) listener(body);
}

// A page that counted as it was rendered needs no second count straight away.
if (badge && !("counted" in badge.dataset)) count();
setInterval(count, PERIOD_MS);
document.addEventListener("visibilitychange", () => { if (!document.hidden) count(); });

// The backlog: messages the functions have still to handle. Shown while there is one; it
// turns to a warning while it grows or while the order API turns orders away.
const BACKLOG_PERIOD_MS = 3000;
const backlog = document.querySelector("[data-backlog]");
let lastRefused = null;

async function measureBacklog() {
  if (!backlog || document.hidden) return;
  let body;
  try {
    const response = await fetch("/api/backlog", { headers: { Accept: "application/json" }, credentials: "same-origin" });
    if (!response.ok) return;
    body = await response.json();
  } catch {
    return;
  }
  if (typeof body.total !== "number") return;
  const refused = Object.values(body.refused || {}).reduce((sum, n) => sum + n, 0);
  const refusing = lastRefused !== null && refused > lastRefused;
  lastRefused = refused;
  backlog.querySelector("[data-backlog-total]").textContent = String(body.total);
  backlog.classList.toggle("hidden", body.total === 0 && !refusing);
  backlog.classList.toggle("warn", refusing);
  const lines = body.queues.map((q) => `${q.queue} → ${q.consumer}: ${q.waiting} waiting, ${q.inFlight} in flight`);
  if (refusing) lines.push("the order API is turning orders away (429/503 with Retry-After)");
  backlog.title = lines.join("\n");
}

measureBacklog();
setInterval(measureBacklog, BACKLOG_PERIOD_MS);
