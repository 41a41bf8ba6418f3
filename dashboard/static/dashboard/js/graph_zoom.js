// Zoom and pan for the graph. The graph is drawn in its own units (its viewBox); on screen it
// takes a scale. "Fit" (the default) fits it to its card, never larger than 1.2 and never so
// small that its smallest text goes under 8 px: a choreography too wide for that is shown at
// that scale and panned sideways (scroll, or drag) within the card, which is as tall as the
// graph. "Whole" fits the whole width whatever the text's size; − and + zoom from there.

const SMALLEST_FONT = 10; // px in the graph's units: its route figures
const READABLE = 8.2; // px on screen
const LARGEST = 1.2;
const STEP = 1.25;
const LIMITS = [0.3, 3];

function setUp(scroller) {
  const svg = scroller.querySelector("svg[data-graph]");
  const controls = scroller.previousElementSibling?.matches("[data-graph-zoom]")
    ? scroller.previousElementSibling : null;
  const width = svg.viewBox.baseVal.width;
  let mode = "fit"; // fit | whole | fixed
  let scale = 1;

  const room = () => scroller.clientWidth - 2;
  const fitted = () => Math.min(LARGEST, Math.max(READABLE / SMALLEST_FONT, room() / width));

  function apply() {
    if (mode === "fit") scale = fitted();
    else if (mode === "whole") scale = Math.min(LARGEST, room() / width);
    svg.style.width = `${Math.round(width * scale)}px`;
    svg.style.maxWidth = "none";
    const pannable = scroller.scrollWidth > scroller.clientWidth + 1;
    scroller.classList.toggle("pannable", pannable);
    controls?.querySelector("[data-zoom-hint]")?.classList.toggle("hidden", !pannable);
    for (const button of controls?.querySelectorAll("[aria-pressed]") || []) {
      button.setAttribute("aria-pressed", String(button.dataset.zoom === mode));
    }
  }

  controls?.addEventListener("click", (event) => {
    const button = event.target.closest("[data-zoom]");
    if (!button) return;
    const centre = (scroller.scrollLeft + scroller.clientWidth / 2) / scale;
    if (button.dataset.zoom === "in" || button.dataset.zoom === "out") {
      const factor = button.dataset.zoom === "in" ? STEP : 1 / STEP;
      scale = Math.min(LIMITS[1], Math.max(LIMITS[0], scale * factor));
      mode = "fixed";
    } else {
      mode = button.dataset.zoom;
    }
    apply();
    scroller.scrollLeft = centre * scale - scroller.clientWidth / 2;
  });

  // Drag to pan, from anywhere but a link (a node or a route's label opens its page).
  let drag = null;
  scroller.addEventListener("pointerdown", (event) => {
    if (event.button !== 0 || event.target.closest("a, [role='link']")) return;
    if (!scroller.classList.contains("pannable")) return;
    drag = { x: event.clientX, left: scroller.scrollLeft };
    scroller.classList.add("panning");
    scroller.setPointerCapture(event.pointerId);
  });
  scroller.addEventListener("pointermove", (event) => {
    if (!drag) return;
    scroller.scrollLeft = drag.left - (event.clientX - drag.x);
  });
  const release = () => { drag = null; scroller.classList.remove("panning"); };
  scroller.addEventListener("pointerup", release);
  scroller.addEventListener("pointercancel", release);

  new ResizeObserver(() => { if (mode !== "fixed") apply(); }).observe(scroller);
  apply();
}

for (const scroller of document.querySelectorAll("[data-graph-scroll]")) setUp(scroller);
