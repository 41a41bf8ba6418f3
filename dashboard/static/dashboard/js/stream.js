// The websocket: reconnects with back-off, and drops what it has seen already (delivery is
// at least once, so the same sighting — an event on a bus — may come twice).

const SEEN_LIMIT = 20000;

export function connect(path, { onItems, onState = () => {}, onOpen = () => {} }) {
  const seen = new Set();
  let socket = null;
  let delay = 500;
  let closed = false;

  function remember(key) {
    seen.add(key);
    if (seen.size > SEEN_LIMIT) {
      const oldest = seen.values().next().value;
      seen.delete(oldest);
    }
  }

  function open() {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    socket = new WebSocket(`${scheme}://${location.host}${path}`);
    onState("connecting");
    socket.addEventListener("open", () => { delay = 500; onState("open"); onOpen(socket); });
    socket.addEventListener("message", (message) => {
      let frame;
      try { frame = JSON.parse(message.data); } catch { return; }
      if (!frame || frame.type !== "events" || !Array.isArray(frame.events)) return;
      const fresh = [];
      for (const item of frame.events) {
        const key = `${item.eventId}@${item.bus}`;
        if (seen.has(key)) continue;
        remember(key);
        fresh.push(item);
      }
      if (fresh.length) onItems(fresh);
    });
    socket.addEventListener("close", () => {
      onState("closed");
      if (closed) return;
      setTimeout(open, delay);
      delay = Math.min(delay * 2, 10000);
    });
  }

  open();
  return {
    markSeen(key) { remember(key); },
    send(data) { if (socket && socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify(data)); },
    close() { closed = true; if (socket) socket.close(); },
  };
}

/** Show the connection's state in the top bar. */
export function showConnection(state) {
  const indicator = document.querySelector("[data-connection]");
  if (!indicator) return;
  indicator.dataset.state = state;
  const text = indicator.querySelector("[data-connection-text]");
  if (text) text.textContent = { open: "live", connecting: "connecting", closed: "reconnecting" }[state] || state;
}
