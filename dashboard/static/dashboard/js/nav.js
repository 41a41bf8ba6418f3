// The top bar's count of dead letters, kept fresh on every page. Counting is cheap for SQS;
// looking at the dead letters is a receive, which only the failures page does, on request.

const PERIOD_MS = 10000;
const badge = document.querySelector("[data-dead-letter-badge]");
const listeners = [];

/** Call `listener({total, queues})` after each count. */
export function onDeadLetters(listener) {
  listeners.push(listener);
}

/** The JSON of a dashboard API, or null if it could not be had (the caller keeps what it
 * last showed). */
async function fetchJson(path) {
  try {
    const response = await fetch(path, { headers: { Accept: "application/json" }, credentials: "same-origin" });
    return response.ok ? await response.json() : null;
  } catch {
    return null;
  }
}

async function count() {
  if (!badge || document.hidden) return;
  const body = await fetchJson("/api/dead-letters");
  // AWS unreachable: the badge keeps what it last knew.
  if (!body || typeof body.total !== "number") return;
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
  const body = await fetchJson("/api/backlog");
  if (!body || typeof body.total !== "number") return;
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
