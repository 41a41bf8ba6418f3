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
