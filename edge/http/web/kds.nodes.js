// posedge kitchen display: which node of the store the screen talks to, and the bumps and
// recalls no node has taken yet.
//
// A screen loaded from one node learns every node of the store from its snapshots (`nodes`,
// each with its API's addresses). When its node stops answering, the screen goes on with
// the next node by name, and after the last with the first again; the page stays the one it
// loaded, calling the other node across origins (edge/http/cross_origin.py) with the token
// it paired with, which every node of the store takes.
//
// Bumps and recalls wait in local storage, each with the Idempotency-Key it was made with,
// until a node has answered them: one made while the screen's node is away goes to the node
// the screen reaches next, and one a node took just before it went away, sent again to
// another, is the same event in the order log (the key names it).
"use strict";

window.kdsNodes = (() => {
  const OUTBOX_KEY = "posedge.kds.outbox";
  const SEND_TIMEOUT = 5000; // ms a node has to answer before the screen tries again later

  // A fetch that gives up after `ms`: a node whose cable is pulled never answers at all.
  async function fetchWithin(ms, url, options = {}) {
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(), ms);
    try {
      return await fetch(url, { ...options, signal: abort.signal });
    } finally {
      clearTimeout(timer);
    }
  }

  class NodeList {
    constructor() {
      this.origins = [location.origin];
      this.index = 0;
    }

    get current() {
      return this.origins[this.index];
    }

    // The store's nodes from a snapshot of the node at `current`, by name: that node at the
    // origin the screen reaches it by, the others at their addresses, in the page's scheme
    // (a screen allowed plain HTTP stays on it; every node serves both on one port).
    learn(nodes) {
      const current = this.current;
      const found = [];
      for (const node of nodes || []) {
        const origins = node.this_node
          ? [current]
          : node.api.map((api) => `${location.protocol}//${new URL(api).host}`);
        for (const origin of origins) if (!found.includes(origin)) found.push(origin);
      }
      if (!found.includes(current)) found.unshift(current);
      this.origins = found;
      this.index = found.indexOf(current);
    }

    // Go on with the next node; whether that begins a new round (every node tried once).
    advance() {
      this.index = (this.index + 1) % this.origins.length;
      return this.index === 0;
    }
  }

  class Outbox {
    constructor() {
      this.actions = [];
      try {
        const kept = JSON.parse(localStorage.getItem(OUTBOX_KEY) || "[]");
        if (Array.isArray(kept)) this.actions = kept;
      } catch (error) {
        localStorage.removeItem(OUTBOX_KEY); // not ours, or cut short: nothing to send
      }
      this.sending = false;
    }

    save() {
      localStorage.setItem(OUTBOX_KEY, JSON.stringify(this.actions));
    }

    // Keep `action` ({path, body, key, ticket}) until a node answers it.
    add(action) {
      this.actions.push(action);
      this.save();
    }

    // Whether a bump or recall of the ticket `ticket` is waiting.
    has(ticket) {
      return this.actions.some((action) => action.ticket === ticket);
    }

    // Hand the waiting actions to the node at `origin`, oldest first, telling `answered`
    // of each answer; stops at the first the node does not answer, or answers 5xx, and keeps
    // it and the rest for later.
    async flush(origin, token, answered) {
      if (this.sending) return;
      this.sending = true;
      try {
        while (this.actions.length > 0) {
          const action = this.actions[0];
          let answer;
          try {
            answer = await fetchWithin(SEND_TIMEOUT, origin + action.path, {
              method: "POST",
              headers: {
                Authorization: `Bearer ${token}`,
                "Content-Type": "application/json",
                "Idempotency-Key": action.key,
              },
              body: JSON.stringify(action.body),
            });
          } catch (error) {
            return;
          }
          if (answer.status >= 500) return;
          this.actions.shift();
          this.save();
          await answered(action, answer);
        }
      } finally {
        this.sending = false;
      }
    }
  }

  return { NodeList, Outbox, fetchWithin };
})();
