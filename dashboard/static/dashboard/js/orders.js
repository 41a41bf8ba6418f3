// The order list, refreshed from the server as events arrive.
import { connect, showConnection } from "./stream.js";
import { paintSwatches, throttle } from "./util.js";

const container = document.querySelector("[data-orders]");
paintSwatches();

const refresh = throttle(async () => {
  const response = await fetch(container.dataset.partialUrl, { credentials: "same-origin" });
  if (!response.ok) return;
  const fetched = new DOMParser().parseFromString(await response.text(), "text/html");
  container.replaceChildren(...fetched.body.childNodes);
  paintSwatches(container);
}, 1000);

connect("/ws/events", { onState: showConnection, onItems: refresh });
