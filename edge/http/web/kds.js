// posedge kitchen display: one station's live tickets (or, at /kds/expo, every order's
// progress). Plain JavaScript shipped with posedge; nothing is loaded from the internet.
//
// The node sends a whole snapshot on connect and on every change of the station, and a
// tick every few seconds; a screen that hears nothing for STALE_AFTER ms, or whose socket
// closes, greys its tickets out as not live and goes on with another node of the store
// (kds.nodes.js), backing off once it has tried them all. Bumps wait until a node takes
// them. Ticket
// timers run on the node's clock (`now` in every message). Keys as a USB bump bar types
// them: 1-9 select, B or Enter bump, R recall, N/P page, H first page. kds.layout.js says
// which card of which ticket goes where, so that nothing is ever cut off.
"use strict";

(() => {
  const { PAGE, measurer, paginate } = window.kdsLayout;
  const { chime } = window.kdsSound;
  const { NodeList, Outbox, fetchWithin } = window.kdsNodes;
  const { shown, orderCard } = window.kdsExpo;
  const STALE_AFTER = 12000; // ms without a message: the node sends one every 5 s
  const BACKOFF_CAP = 5000;
  const UNKNOWN_STATION_RETRY = 10000;
  const TOKEN_KEY = "posedge.kds.token";
  const COLUMN_EM = 20; // the narrowest column: a header with BUMP and "1/2" still on one row

  const station = decodeURIComponent(location.pathname.replace(/^\/kds\//, "").replace(/\/$/, ""));
  const expo = station === "expo";
  const $ = (id) => document.getElementById(id);

  const screen = {
    snapshot: null,
    offset: 0, // node clock minus this screen's clock, ms
    pages: [], // the board's layout (kds.layout.js), at its present size
    page: 0,
    selected: null, // the selected ticket's key
    live: false,
    socket: null,
    nodes: new NodeList(), // where the screen's node is, and where the others are
    outbox: new Outbox(), // bumps and recalls no node has taken yet
    attempt: 0,
    watchdog: null,
    retry: null,
    timings: {}, // ticket key -> {arrived, rendered} in ms since the epoch (bench, tests)
  };
  window.kds = screen;

  // -- pairing ------------------------------------------------------------------------

  function token() {
    return localStorage.getItem(TOKEN_KEY);
  }

  function showPairing(message) {
    localStorage.removeItem(TOKEN_KEY);
    setState("not paired", "unpaired");
    $("pair").hidden = false;
    $("pair-error").textContent = message || "";
    $("code").focus();
  }

  $("pair").addEventListener("submit", async (event) => {
    event.preventDefault();
    $("pair-error").textContent = "";
    try {
      const answer = await fetch("/api/v1/pair", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ code: $("code").value.trim() }),
      });
      const body = await answer.json();
      if (answer.status !== 201) {
        $("pair-error").textContent = body.detail || body.title || "pairing failed";
        return;
      }
      localStorage.setItem(TOKEN_KEY, body.token);
      $("pair").hidden = true;
      $("code").value = "";
      connect();
    } catch (error) {
      $("pair-error").textContent = "the node does not answer; try again";
    }
  });

  // -- connection ---------------------------------------------------------------------

  function setState(text, kind) {
    $("state").textContent = text;
    document.body.dataset.state = kind;
  }

  function markStale(text) {
    screen.live = false;
    setState(text, "stale");
    $("banner").textContent = "Reconnecting: the tickets shown are not live";
    $("banner").hidden = false;
  }

  function reconnectLater(delay) {
    clearTimeout(screen.retry);
    const wait = delay ?? Math.min(BACKOFF_CAP, 250 * 2 ** screen.attempt) * (0.5 + Math.random() / 2);
    screen.attempt += 1;
    screen.retry = setTimeout(connect, wait);
  }

  function dropSocket() {
    clearTimeout(screen.watchdog);
    const socket = screen.socket;
    screen.socket = null;
    if (socket) {
      socket.onmessage = socket.onclose = socket.onerror = null;
      socket.close();
    }
  }

  // The screen's node did not answer: go on with the next one at once, and back off only
  // once every node was tried.
  function moveOn() {
    markStale("reconnecting");
    if (screen.nodes.advance()) reconnectLater();
    else reconnectLater(0);
  }

  function armWatchdog() {
    clearTimeout(screen.watchdog);
    screen.watchdog = setTimeout(() => {
      dropSocket();
      moveOn();
    }, STALE_AFTER);
  }

  async function connect() {
    clearTimeout(screen.retry);
    dropSocket();
    if (!token()) {
      showPairing();
      return;
    }
    if (!screen.snapshot) setState("connecting", "connecting");
    const origin = screen.nodes.current;
    // The socket's handshake hides why it failed: ask first whether the token still works.
    try {
      const answer = await fetchWithin(5000, `${origin}/api/v1/terminals/me`, {
        headers: { Authorization: `Bearer ${token()}` },
      });
      if (answer.status === 401) {
        showPairing("this screen's token is no longer valid: pair it again");
        return;
      }
      if (!answer.ok) throw new Error(`status ${answer.status}`);
    } catch (error) {
      moveOn();
      return;
    }
    const url = `${origin.replace(/^http/, "ws")}/api/v1/kds/${encodeURIComponent(station)}` +
      `?access_token=${encodeURIComponent(token())}`;
    const socket = new WebSocket(url);
    screen.socket = socket;
    armWatchdog();
    socket.onmessage = (event) => receive(event.data);
    socket.onclose = (event) => {
      screen.socket = null;
      clearTimeout(screen.watchdog);
      if (event.code === 4401) {
        showPairing("this screen's token was revoked: pair it again");
      } else if (event.code === 4404) {
        screen.live = false;
        setState("unknown station", "stale");
        $("banner").textContent = event.reason;
        $("banner").hidden = false;
        reconnectLater(UNKNOWN_STATION_RETRY);
      } else {
        moveOn();
      }
    };
  }

  function receive(data) {
    const arrived = performance.timeOrigin + performance.now();
    armWatchdog();
    const message = JSON.parse(data);
    screen.offset = message.now - Date.now();
    if (screen.outbox.actions.length > 0) send();
    if (message.type !== "snapshot") return;
    screen.nodes.learn(message.nodes);
    screen.attempt = 0;
    screen.live = true;
    $("banner").hidden = true;
    setState("live", "live");
    const fresh = expo ? [] : message.tickets.filter((t) => !(t.key in screen.timings));
    for (const ticket of fresh) screen.timings[ticket.key] = { arrived, rendered: null };
    const isNew = screen.snapshot !== null && fresh.length > 0; // not the page's first
    screen.snapshot = message;
    render();
    requestAnimationFrame(() => {
      const now = performance.timeOrigin + performance.now();
      for (const ticket of fresh) {
        if (document.querySelector(`[data-key="${CSS.escape(ticket.key)}"]`)) {
          screen.timings[ticket.key].rendered = now;
        }
      }
    });
    if (isNew) chime();
  }

  // -- rendering ----------------------------------------------------------------------

  function element(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function nodeNow() {
    return Date.now() + screen.offset;
  }

  function age(ms) {
    const seconds = Math.max(0, Math.floor((nodeNow() - ms) / 1000));
    const minutes = Math.floor(seconds / 60);
    return `${minutes}:${String(seconds % 60).padStart(2, "0")}`;
  }

  function ageClass(ms) {
    const seconds = (nodeNow() - ms) / 1000;
    const snap = screen.snapshot;
    if (seconds >= snap.late_after) return "late";
    if (seconds >= snap.warn_after) return "warn";
    return "fresh";
  }

  const CHANNELS = {
    counter: "Counter", dine_in: "Dine in", takeaway: "Takeaway", delivery: "Delivery",
    drive_thru: "Drive-thru", kiosk: "Kiosk", online: "Online",
  };

  function where(item) {
    const channel = CHANNELS[item.channel] || item.channel;
    return item.table ? `${channel} · Table ${item.table}` : channel;
  }

  const measured = measurer( // each ticket whole, as a middle part of three: its tallest card
    (ticket, index) => renderCard(ticket, {
      index, from: 0, to: ticket.lines.length, part: 2, parts: 3,
    }),
    (ticket) => `${age(ticket.fired_ms).length} ${JSON.stringify(ticket)}`,
  );

  function render() {
    const snap = screen.snapshot;
    if (!snap) return;
    if (expo) return renderExpo(snap);
    $("title").textContent = snap.station.name;
    document.title = `${snap.station.name} · KDS`;
    const tickets = snap.tickets;
    if (!tickets.some((ticket) => ticket.key === screen.selected)) screen.selected = null;
    const board = $("board");
    const style = getComputedStyle(board);
    const px = (property) => parseFloat(style[property]);
    const width = board.clientWidth - px("paddingLeft") - px("paddingRight");
    const gap = px("columnGap");
    const count = Math.max(1, Math.floor((width + gap) / (COLUMN_EM * px("fontSize") + gap)));
    const columns = Array.from({ length: count }, () => element("div", "column"));
    board.replaceChildren(...columns);
    const room = { columns: count, height: columns[0].getBoundingClientRect().height };
    room.gap = parseFloat(getComputedStyle(columns[0]).rowGap);
    screen.pages = paginate(measured(tickets, columns[0]), room);
    screen.page = Math.min(screen.page, screen.pages.length - 1);
    const page = screen.pages[screen.page];
    for (const piece of page.cards) {
      columns[piece.column].append(renderCard(tickets[piece.index], piece));
    }
    const later = tickets.length - page.last - 1;
    $("page").textContent = `${screen.page + 1}/${screen.pages.length}`;
    $("count").textContent = `${tickets.length} open` + (later ? ` · ${later} on later pages` : "");
    $("allday-list").replaceChildren(
      ...snap.all_day.map((item) => {
        const row = element("li");
        row.append(element("span", "qty", String(item.qty)), element("span", "name", item.name));
        return row;
      }),
    );
    $("recall").disabled = snap.recent_bumps.length === 0;
    tickTimers();
  }

  // One card of a ticket: its lines `from` up to `to`, part `part` of `parts` (kds.layout.js).
  // Its BUMP button has its place in the header whether or not the ticket is selected.
  function renderCard(ticket, { index, from, to, part, parts }) {
    const card = element("article", "ticket");
    card.dataset.key = ticket.key;
    card.dataset.fired = ticket.fired_ms;
    if (ticket.rush) card.classList.add("rush");
    if (ticket.void) card.classList.add("void");
    if (ticket.key === screen.selected) card.classList.add("selected");
    if (screen.outbox.has(ticket.key)) card.classList.add("bumping");
    const button = element("button", "bump-ticket", "BUMP");
    button.type = "button";
    button.addEventListener("click", (event) => {
      event.stopPropagation();
      bump(ticket);
    });
    const head = element("header");
    head.append(element("span", "position", String((index % PAGE) + 1)));
    head.append(element("span", "number", ticket.number));
    if (parts > 1) head.append(element("span", "part", `${part}/${parts}`));
    head.append(button, element("span", "timer"));
    const sub = element("div", "where", where(ticket));
    if (ticket.rush) sub.prepend(element("span", "badge rush-badge", "RUSH"));
    if (ticket.void) sub.prepend(element("span", "badge void-badge", "VOID"));
    card.append(head, sub);
    if (parts > 1) {
      card.classList.add("split");
      card.dataset.part = `${part}/${parts}`;
    }
    if (part > 1) card.append(element("div", "continued", "‹ continued"));
    const lines = element("ul", "lines");
    ticket.lines.slice(from, to).forEach((line, offset) => {
      const row = element("li", line.voided ? "voided" : "");
      row.dataset.line = from + offset;
      const text = element(line.voided ? "s" : "span", "item");
      text.append(element("b", "qty", `${line.qty}×`), document.createTextNode(` ${line.name}`));
      row.append(text);
      for (const modifier of line.modifiers) row.append(element("div", "modifier", modifier));
      if (line.note) row.append(element("div", "note", line.note));
      lines.append(row);
    });
    card.append(lines);
    if (part < parts) card.append(element("div", "continued", "continued ›"));
    card.addEventListener("click", () => {
      screen.selected = ticket.key;
      render();
    });
    timeCard(card);
    return card;
  }

  function renderExpo(snap) {
    $("title").textContent = "Expo";
    document.title = "Expo · KDS";
    const names = Object.fromEntries(snap.stations.map((s) => [s.id, s.name]));
    const orders = shown(snap, nodeNow());
    const helpers = { element, where };
    $("board").replaceChildren(...orders.map((order) => orderCard(order, names, helpers)));
    $("count").textContent = `${orders.length} orders`;
    $("allday").hidden = true;
    $("controls").hidden = true;
    tickTimers();
  }

  // Show a card's age; says whether its timer's text got longer or shorter.
  function timeCard(card) {
    const fired = Number(card.dataset.fired);
    const timer = card.querySelector(".timer");
    const text = age(fired);
    const resized = timer.textContent.length !== text.length;
    timer.textContent = text;
    card.classList.remove("fresh", "warn", "late");
    if (!card.classList.contains("ready")) card.classList.add(ageClass(fired));
    return resized;
  }

  function tickTimers() {
    if (!screen.snapshot) return;
    $("clock").textContent = new Date(nodeNow()).toLocaleTimeString([], {
      hour: "2-digit", minute: "2-digit", timeZone: screen.snapshot.zone,
    });
    let resized = false;
    for (const card of document.querySelectorAll("#board .ticket")) {
      resized = timeCard(card) || resized;
    }
    if (resized && !expo) render(); // a longer timer (10:00) may wrap a header: lay out again
  }
  setInterval(tickTimers, 1000);

  // -- actions ------------------------------------------------------------------------

  function newKey() {
    // crypto.randomUUID needs a secure context; screens are served over plain HTTP on the LAN.
    const bytes = crypto.getRandomValues(new Uint8Array(16));
    return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  }

  // Keep a bump or recall until a node takes it (kds.nodes.js), and hand it over now.
  function post(path, body, ticket) {
    screen.outbox.add({ path, body, ticket, key: newKey() });
    send();
  }

  function send() {
    screen.outbox.flush(screen.nodes.current, token(), async (action, answer) => {
      if (answer.status === 401) return showPairing("this screen's token is no longer valid");
      if (!answer.ok) {
        const problem = await answer.json().catch(() => ({}));
        toast(problem.detail || problem.title || `the node answered ${answer.status}`);
        render(); // a bump refused: its ticket is not on its way out after all
      }
    });
  }

  // Bump a ticket: while the screen is not live, too; it goes to the node it reaches next.
  function bump(ticket) {
    if (!ticket || screen.outbox.has(ticket.key)) return;
    const cards = document.querySelectorAll(`#board [data-key="${CSS.escape(ticket.key)}"]`);
    for (const card of cards) card.classList.add("bumping"); // the bump is the whole ticket's
    screen.selected = null;
    const body = { fire_id: ticket.fire_id, station: ticket.station };
    post(`/api/v1/orders/${ticket.order_id}/bump`, body, ticket.key);
  }

  function bumpSelected() {
    const tickets = screen.snapshot ? screen.snapshot.tickets : [];
    const page = screen.pages[screen.page]?.cards ?? [];
    const first = page.map((card) => tickets[card.index]).find((t) => !screen.outbox.has(t.key));
    const selected = tickets.find((ticket) => ticket.key === screen.selected);
    bump(selected ?? first);
  }

  // Select the ticket at `position` (1-9) of the page's nine, turning to its page if need be.
  function select(position) {
    const index = Math.floor(screen.pages[screen.page].first / PAGE) * PAGE + position - 1;
    const ticket = screen.snapshot.tickets[index];
    if (!ticket) return;
    screen.selected = ticket.key;
    const shows = (page) => page.cards.some((card) => card.index === index);
    if (!shows(screen.pages[screen.page])) screen.page = screen.pages.findIndex(shows);
    render();
  }

  function recall() {
    const last = screen.live && screen.snapshot.recent_bumps[0];
    if (last) post(`/api/v1/orders/${last.order_id}/recall`, { bump_id: last.bump_id }, null);
  }

  function turn(page) {
    screen.page = Math.max(0, Math.min(page, screen.pages.length - 1));
    screen.selected = null;
    render();
  }

  function toast(text) {
    $("toast").textContent = text;
    $("toast").hidden = false;
    clearTimeout(toast.timer);
    toast.timer = setTimeout(() => { $("toast").hidden = true; }, 4000);
  }

  const KEYS = {
    b: bumpSelected, Enter: bumpSelected, r: recall,
    n: () => turn(screen.page + 1), PageDown: () => turn(screen.page + 1), ArrowRight: () => turn(screen.page + 1),
    p: () => turn(screen.page - 1), PageUp: () => turn(screen.page - 1), ArrowLeft: () => turn(screen.page - 1),
    h: () => turn(0), Home: () => turn(0),
  };

  document.addEventListener("keydown", (event) => {
    if (expo || !screen.snapshot || event.target.tagName === "INPUT") return;
    if (event.ctrlKey || event.altKey || event.metaKey) return;
    const key = event.key.length === 1 ? event.key.toLowerCase() : event.key;
    if (/^[1-9]$/.test(key)) {
      select(Number(key));
    } else if (KEYS[key]) {
      KEYS[key]();
    } else {
      return;
    }
    event.preventDefault();
  });

  $("bump").addEventListener("click", bumpSelected);
  $("recall").addEventListener("click", recall);
  $("previous").addEventListener("click", () => turn(screen.page - 1));
  $("next").addEventListener("click", () => turn(screen.page + 1));

  if (expo) document.body.classList.add("expo");
  new ResizeObserver(render).observe($("board")); // a rotated tablet, the banner shown or gone
  connect();
})();
