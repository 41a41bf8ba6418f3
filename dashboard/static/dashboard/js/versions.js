// The versions page, kept current: whenever events arrive over the websocket, the table of
// each route's versions is fetched again (at most every two seconds).
import { connect, showConnection } from "./stream.js";
import { throttle } from "./util.js";

const body = document.querySelector("[data-versions-body]");

const refresh = throttle(async () => {
  const response = await fetch(body.dataset.partialUrl, { credentials: "same-origin" });
  if (!response.ok) return;
  const fetched = new DOMParser().parseFromString(await response.text(), "text/html");
  body.replaceChildren(...fetched.body.childNodes);
}, 2000);

connect("/ws/events", {
  onState: showConnection,
  onItems: (items) => { if (items.some((item) => item.valid)) refresh(); },
});
