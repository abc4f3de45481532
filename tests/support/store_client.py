"""A terminal of an installed node, as a script: the package tests run it on the machine the
node is installed on (in its network namespace, or chrooted into a Debian root, with that
root's Python), so it uses the standard library alone and imports nothing of posedge.

    store_client.py URL [--ca FILE] ready
        wait (60 s at most) until /readyz says ready
    store_client.py URL [--ca FILE] sale CODE
        pair with the one-time CODE, ring up a Classic Burger, pay it in cash and queue its
        receipt: prints {"token", "order", "job"} as JSON
    store_client.py URL [--ca FILE] show TOKEN ORDER_ID JOB_ID [--printed]
        the order and the print job as TOKEN sees them, {"order", "job"}; with --printed,
        once the job has printed (60 s at most)

URL is http://127.0.0.1:8420 or https://localhost:8420; over HTTPS it trusts the CA in
FILE alone and checks the host name. Exits non-zero, saying why, when a step fails.
"""

from __future__ import annotations

import argparse
import json
import ssl
import sys
import time
import urllib.error
import urllib.request

WITHIN = 60.0


class Terminal:
    def __init__(self, url: str, ca: str | None) -> None:
        self.url = url
        self.tls = ssl.create_default_context(cafile=ca) if ca else None
        self.token: str | None = None

    def call(self, method: str, path: str, body: dict | None = None) -> dict:
        request = urllib.request.Request(
            self.url + path,
            method=method,
            data=None if body is None else json.dumps(body).encode(),
            headers={
                "Content-Type": "application/json",
                **({"Authorization": "Bearer " + self.token} if self.token else {}),
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=30, context=self.tls) as response:
                return json.load(response)
        except urllib.error.HTTPError as exc:
            sys.exit(f"{method} {path}: {exc.code} {exc.read().decode(errors='replace')}")

    def wait(self, what: str, check) -> dict:
        deadline = time.monotonic() + WITHIN
        while True:
            try:
                found = check()
            except (urllib.error.URLError, ConnectionError):
                found = None
            if found:
                return found
            if time.monotonic() > deadline:
                sys.exit(f"{what}: not within {WITHIN:.0f} s")
            time.sleep(0.2)


def ready(node: Terminal) -> dict:
    def answered() -> dict | None:
        request = urllib.request.Request(node.url + "/readyz")
        with urllib.request.urlopen(request, timeout=5, context=node.tls) as response:
            found = json.load(response)
        return found if found.get("status") == "ready" else None

    return node.wait("the node getting ready", answered)


def sale(node: Terminal, code: str) -> dict:
    node.token = node.call("POST", "/api/v1/pair", {"code": code})["token"]
    order = node.call("POST", "/api/v1/orders", {"channel": "takeaway"})["order"]
    path = f"/api/v1/orders/{order['id']}"
    node.call("POST", path + "/lines", {"sku": "BURGER"})
    due = node.call("GET", path)["order"]["totals"]["balance_due"]
    node.call("POST", path + "/payments", {"tender": "cash", "amount": due})
    job = node.call("POST", path + "/receipt", {})["job"]
    return {"token": node.token, "order": node.call("GET", path)["order"], "job": job}


def show(node: Terminal, token: str, order_id: str, job_id: str, printed: bool) -> dict:
    node.token = token
    job_path = f"/api/v1/print-jobs/{job_id}"
    if printed:
        node.wait("the job printing", lambda: node.call("GET", job_path)["job"]["printed_at"])
    return {
        "order": node.call("GET", f"/api/v1/orders/{order_id}")["order"],
        "job": node.call("GET", job_path)["job"],
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("--ca")
    steps = parser.add_subparsers(dest="step", required=True)
    steps.add_parser("ready")
    steps.add_parser("sale").add_argument("code")
    shown = steps.add_parser("show")
    for name in ("token", "order_id", "job_id"):
        shown.add_argument(name)
    shown.add_argument("--printed", action="store_true")
    args = parser.parse_args()
    node = Terminal(args.url, args.ca)
    if args.step == "ready":
        found = ready(node)
    elif args.step == "sale":
        found = sale(node, args.code)
    else:
        found = show(node, args.token, args.order_id, args.job_id, args.printed)
    print(json.dumps(found))


if __name__ == "__main__":
    main()
