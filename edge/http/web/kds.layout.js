// posedge kitchen display: which lines of which ticket go on which card, in which column of
// which page. `measurer` measures the tickets on hidden cards kds.js builds; `paginate`, pure,
// says where each card goes, and kds.js lays them out so.
//
// Tickets flow down the columns in order. A ticket goes whole where it fits, or else at the
// top of the next column; one taller than a column fills it and goes on at the top of the
// next, on as many cards as it needs, each marked continued. A ticket is not started on a
// page it cannot end on, unless it is taller than a whole page. Pages never straddle a group
// of nine tickets, so a ticket's position (1-9, what a bump bar's keys select) is the same on
// every screen and on the serial bump bars (edge/kitchen/tickets.py).
"use strict";

window.kdsLayout = (() => {
  const PAGE = 9;

  const sum = (heights) => heights.reduce((total, height) => total + height, 0);
  const height = (node) => node.getBoundingClientRect().height;

  // What `paginate` needs of each ticket, from a card of it with all its lines, a part number
  // in its header and a "continued" strip above and below them, laid out in a column.
  function measure(cards) {
    return cards.map((card) => {
      const lines = [...card.querySelectorAll(".lines > li")].map(height);
      const mark = height(card.querySelector(".continued"));
      return { lines, mark, chrome: height(card) - 2 * mark - sum(lines) };
    });
  }

  // Measures tickets on hidden cards as wide as a column: `card(ticket, index)` builds such a
  // card, `shape(ticket)` says what else its height depends on. Laying out new cards costs
  // (some 100 ms for 80 tickets on a small machine): a ticket measured for the last layout,
  // in the same shape and width, is not measured again.
  function measurer(card, shape) {
    let known = new Map();
    return (tickets, column) => {
      const width = column.getBoundingClientRect().width;
      const shapes = tickets.map((ticket) => `${width} ${shape(ticket)}`);
      const probes = document.createElement("div");
      probes.className = "measure";
      tickets.forEach((ticket, index) => {
        if (!known.has(shapes[index])) probes.append(card(ticket, index));
      });
      column.append(probes);
      const fresh = measure([...probes.children]);
      probes.remove();
      const before = known;
      known = new Map(shapes.map((key) => [key, before.get(key) ?? fresh.shift()]));
      return shapes.map((key) => known.get(key));
    };
  }

  // A ticket's cards from column `column` (counted across pages), where `used` pixels are
  // taken. `ticket`: `lines`, each line's height; `chrome`, the height of a card around its
  // lines; `mark`, what each "continued" strip adds to a card of a split ticket.
  function cardsOf(ticket, column, used, room) {
    const { lines, chrome, mark } = ticket;
    const whole = chrome + sum(lines);
    const top = used > 0 ? used + room.gap : 0;
    const all = { from: 0, to: lines.length };
    if (top + whole <= room.height) return [{ column, ...all, bottom: top + whole }];
    if (used > 0) column += 1;
    if (whole <= room.height) return [{ column, ...all, bottom: whole }];
    const cards = [];
    for (let from = 0; from < lines.length; column += 1) {
      const base = chrome + (from > 0 ? mark : 0); // a later card says it continues
      const rest = sum(lines.slice(from));
      if (base + rest <= room.height) {
        cards.push({ column, from, to: lines.length, bottom: base + rest });
        break;
      }
      let to = from;
      let bottom = base + mark; // and the strip saying it goes on
      while (to < lines.length && bottom + lines[to] <= room.height) bottom += lines[to++];
      if (to === from) bottom += lines[to++]; // a line taller than a column goes on its own
      cards.push({ column, from, to, bottom });
      from = to;
    }
    return cards;
  }

  // The pages of `tickets` in `room` ({columns, height, gap}): each a list of cards
  // ({index, from, to, part, parts, column}) and the indexes of its first and last ticket.
  function paginate(tickets, room) {
    const pages = [{ cards: [], first: 0, last: -1 }];
    const pageOf = (column) => Math.floor(column / room.columns);
    let column = 0;
    let used = 0;
    tickets.forEach((ticket, index) => {
      const nextPage = () => [(pageOf(column) + 1) * room.columns, 0];
      const started = () => used > 0 || column % room.columns > 0; // this page has cards
      if (index % PAGE === 0 && started()) [column, used] = nextPage();
      let cards = cardsOf(ticket, column, used, room);
      if (pageOf(cards.at(-1).column) > pageOf(cards[0].column) && started()) {
        [column, used] = nextPage();
        cards = cardsOf(ticket, column, used, room);
      }
      cards.forEach((card, part) => {
        while (pages.length <= pageOf(card.column)) {
          pages.push({ cards: [], first: index, last: index });
        }
        const page = pages[pageOf(card.column)];
        page.last = index;
        page.cards.push({
          index, from: card.from, to: card.to, part: part + 1, parts: cards.length,
          column: card.column % room.columns,
        });
      });
      column = cards.at(-1).column;
      used = cards.at(-1).bottom;
    });
    return pages;
  }

  return { PAGE, measurer, paginate };
})();
