// posedge kitchen display, the expo screen (/kds/expo): one card per order, with each of
// its stations' progress, READY once every station has bumped it. kds.js lays the cards out
// and keeps their timers; `element` and `where` are its own helpers, handed over.
"use strict";

window.kdsExpo = (() => {
  const READY_SHOWN_FOR = 300000; // ms a ready order stays on the screen

  // The orders the expo shows at node time `now`: the open ones and those ready lately.
  function shown(snap, now) {
    return snap.orders.filter((o) => o.done_ms === null || now - o.done_ms < READY_SHOWN_FOR);
  }

  function orderCard(order, names, { element, where }) {
    const card = element("article", "ticket order");
    card.dataset.order = order.order_id;
    card.dataset.fired = order.fired_ms;
    if (order.rush) card.classList.add("rush");
    if (order.void) card.classList.add("void");
    if (order.done_ms !== null) card.classList.add("ready");
    const head = element("header");
    head.append(element("span", "number", order.number), element("span", "timer"));
    const sub = element("div", "where", where(order));
    if (order.done_ms !== null) sub.prepend(element("span", "badge ready-badge", "READY"));
    if (order.rush) sub.prepend(element("span", "badge rush-badge", "RUSH"));
    const list = element("ul", "stations");
    for (const s of order.stations) {
      const done = s.open === 0;
      const row = element("li", done ? "done" : "open");
      row.append(
        element("span", "name", names[s.station] || s.station),
        element("span", "progress", done ? "done" : `${s.open} cooking`),
      );
      list.append(row);
    }
    card.append(head, sub, list);
    return card;
  }

  return { shown, orderCard };
})();
