// The failures page: invalid events arrive over the websocket and are shown as they come;
// dead letters are only counted (looking at them is a receive), and the page says when a
// count no longer matches what it shows.
import { onDeadLetters } from "./nav.js";
import { connect, showConnection } from "./stream.js";
import { paintSwatches, refreshParts, throttle } from "./util.js";

paintSwatches();

const invalid = document.querySelector("[data-invalid]");
const refreshInvalid = throttle(async () => {
  const open = new Set([...invalid.querySelectorAll("details[open][data-event-id]")].map((d) => d.dataset.eventId));
  if (await refreshParts(invalid.dataset.partialUrl, invalid)) {
    for (const details of invalid.querySelectorAll("details[data-event-id]")) {
      if (open.has(details.dataset.eventId)) details.open = true;
    }
    paintSwatches(invalid);
  }
}, 1000);

connect("/ws/events", {
  onState: showConnection,
  onItems(items) {
    if (items.some((item) => !item.valid)) refreshInvalid();
  },
});

const notice = document.querySelector("[data-dead-letters-changed]");
onDeadLetters(({ queues }) => {
  const changed = [];
  for (const { name, count } of queues) {
    const section = document.querySelector(`[data-queue="${CSS.escape(name)}"]`);
    const shown = section ? Number(section.dataset.count) : 0;
    if (shown !== count) changed.push(`${name} ${shown} → ${count}`);
  }
  notice.querySelector("[data-changed-text]").textContent = changed.join(", ");
  notice.classList.toggle("hidden", changed.length === 0);
});

// A redrive runs in the background: while one does, follow its progress every second.
const REDRIVE_POLL_MS = 1000;

function showJob(job) {
  const box = document.querySelector(`[data-redrive-job="${CSS.escape(job.queue)}"]`);
  if (!box) return;
  box.dataset.state = job.state;
  box.querySelector("[data-redrive-summary]").textContent = job.summary;
  const bar = box.querySelector("progress");
  if (typeof job.total === "number") {
    bar.max = Math.max(job.total, 1);
    bar.value = job.done;
  } else {
    bar.removeAttribute("value");
  }
}

async function followRedrives() {
  let body = null;
  try {
    const response = await fetch("/api/redrives", { headers: { Accept: "application/json" }, credentials: "same-origin" });
    body = response.ok ? await response.json() : null;
  } catch {
    body = null;
  }
  if (body) body.jobs.forEach(showJob);
  const running = document.querySelector('[data-redrive-job][data-state="running"]');
  if (running) setTimeout(followRedrives, REDRIVE_POLL_MS);
}

if (document.querySelector('[data-redrive-job][data-state="running"]')) setTimeout(followRedrives, REDRIVE_POLL_MS);
