// The Devices page: every 2 s, the state of each device in words (online, paper low, ...).
"use strict";
(function () {
  const PERIOD = 2000;
  async function refresh() {
    try {
      const response = await fetch("/ui/devices/status", { credentials: "same-origin", cache: "no-store" });
      const type = response.headers.get("Content-Type") || "";
      if (!response.ok || !type.startsWith("application/json")) return;
      const { devices } = await response.json();
      for (const device of devices) {
        const badge = document.querySelector(`[data-state-of="${CSS.escape(device.id)}"]`);
        if (!badge) continue;
        badge.textContent = device.word;
        badge.className = "state" + (device.tone ? ` state-${device.tone}` : "");
        badge.title = device.detail || "";
      }
      document.body.dataset.devicesPolled = String(Number(document.body.dataset.devicesPolled || 0) + 1);
    } catch (error) {
      // the node is restarting or the network is down: the next poll tries again
    }
  }
  setInterval(refresh, PERIOD);
  refresh();
})();
