// posedge kitchen display: the "86" panel. The station's items (and their modifiers), each a
// button: tapped, it is unavailable on every till of the store until tapped again. What the
// panel shows comes from GET /api/v1/catalog/stations/{station}, asked again after every tap
// and every few seconds while the panel is open, so a mark made elsewhere shows too.
"use strict";

(() => {
  const TOKEN_KEY = "posedge.kds.token";
  const REFRESH = 5000; // ms between reads of the catalog while the panel is open
  const $ = (id) => document.getElementById(id);
  const station = decodeURIComponent(location.pathname.replace(/^\/kds\//, "").replace(/\/$/, ""));
  const panel = { open: false, timer: null, busy: false };

  function origin() {
    return window.kds ? window.kds.nodes.current : location.origin;
  }

  function headers() {
    return { Authorization: `Bearer ${localStorage.getItem(TOKEN_KEY)}` };
  }

  function element(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function say(text) {
    $("eighty-six-status").textContent = text;
  }

  async function load() {
    try {
      const path = `/api/v1/catalog/stations/${encodeURIComponent(station)}`;
      const answer = await fetch(`${origin()}${path}`, { headers: headers() });
      if (!answer.ok) return say(`the node answered ${answer.status}`);
      render(await answer.json());
      say("");
    } catch (error) {
      say("the node does not answer; trying again");
    }
  }

  // One button per item or modifier: its name, and "86" while it is unavailable.
  function toggle(kind, code, name, available) {
    const button = element("button", available ? "available" : "unavailable");
    button.type = "button";
    button.dataset.kind = kind;
    button.dataset.code = code;
    button.append(element("span", "name", name), element("span", "mark", available ? "" : "86"));
    button.addEventListener("click", () => mark(kind, code, available));
    return button;
  }

  function render(answer) {
    const items = answer.items;
    const modifiers = new Map();
    for (const item of items) {
      for (const modifier of item.modifiers) modifiers.set(modifier.code, modifier);
    }
    $("eighty-six-items").replaceChildren(
      ...items.map((item) => toggle("items", item.sku, item.name, item.available)),
    );
    $("eighty-six-modifiers").replaceChildren(
      ...[...modifiers.values()].map((m) => toggle("modifiers", m.code, m.name, m.available)),
    );
    if (items.length === 0) say("no item of the menu is made at this station");
  }

  async function mark(kind, code, available) {
    if (panel.busy) return;
    panel.busy = true;
    const url = `${origin()}/api/v1/catalog/${kind}/${encodeURIComponent(code)}/availability`;
    try {
      const answer = available
        ? await fetch(url, {
          method: "PUT",
          headers: { ...headers(), "Content-Type": "application/json" },
          body: JSON.stringify({ reason: `86 on the ${document.title.split(" · ")[0]} screen` }),
        })
        : await fetch(url, { method: "DELETE", headers: headers() });
      if (!answer.ok) {
        const problem = await answer.json().catch(() => ({}));
        say(problem.detail || problem.title || `the node answered ${answer.status}`);
      }
    } catch (error) {
      say("the node does not answer; try again");
    } finally {
      panel.busy = false;
    }
    await load();
  }

  function show(open) {
    panel.open = open;
    $("eighty-six").hidden = !open;
    $("eighty-six-open").setAttribute("aria-expanded", String(open));
    clearInterval(panel.timer);
    if (open) {
      load();
      panel.timer = setInterval(load, REFRESH);
    }
  }

  if (station === "expo") return; // expo shows no station's items
  $("eighty-six-open").hidden = false;
  $("eighty-six-open").addEventListener("click", () => show(!panel.open));
  $("eighty-six-close").addEventListener("click", () => show(false));
  window.kds86 = { show, load };
})();
