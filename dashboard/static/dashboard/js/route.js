// A route's page, kept current: whenever an event of its type (or one its consumer published
// in answer) arrives over the websocket, its figures, histogram and lists are fetched again.
import { connect, showConnection } from "./stream.js";
import { throttle } from "./util.js";

const body = document.querySelector("[data-route-body]");
const event = body.dataset.event;

const refresh = throttle(async () => {
  const response = await fetch(body.dataset.partialUrl, { credentials: "same-origin" });
  if (!response.ok) return;
  const fetched = new DOMParser().parseFromString(await response.text(), "text/html");
  body.replaceChildren(...fetched.body.childNodes);
}, 2000);

connect("/ws/events", {
  onState: showConnection,
  onItems: (items) => {
    if (items.some((item) => item.type === event || item.causeType === event)) refresh();
  },
});
