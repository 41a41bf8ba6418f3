// The search page: its first page of results follows new events as they are observed (a
// later page stays put: newer events would shift it under the reader).
import { connect, showConnection } from "./stream.js";
import { paintSwatches, throttle } from "./util.js";

paintSwatches();
const params = new URLSearchParams(location.search);
const results = () => document.querySelector("[data-search-results]");
const firstPage = results() && (params.get("page") || "1") === "1";

const refresh = throttle(async () => {
  const response = await fetch(location.href, { credentials: "same-origin" });
  if (!response.ok) return;
  const fetched = new DOMParser().parseFromString(await response.text(), "text/html");
  const fresh = fetched.querySelector("[data-search-results]");
  if (fresh) { results().replaceWith(fresh); paintSwatches(fresh); }
}, 1000);

connect("/ws/events", { onState: showConnection, onItems: firstPage ? refresh : () => {} });
