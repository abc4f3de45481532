// Refreshes the dashboard's problems and devices panel every two seconds, so a printer that
// runs out of paper shows within seconds. A failed fetch keeps the last panel and says so.
(function () {
  "use strict";
  const panel = document.getElementById("live");
  if (!panel) return;
  const source = panel.dataset.refresh;
  let busy = false;
  async function refresh() {
    if (busy || document.hidden) return;
    busy = true;
    try {
      const response = await fetch(source, { credentials: "same-origin", cache: "no-store" });
      if (response.redirected) { location.reload(); return; } // signed out meanwhile
      if (!response.ok) throw new Error(response.status);
      panel.innerHTML = await response.text();
      panel.removeAttribute("data-stale");
    } catch (error) {
      panel.setAttribute("data-stale", "true");
    } finally {
      busy = false;
    }
  }
  setInterval(refresh, 2000);
})();
