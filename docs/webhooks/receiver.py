#!/usr/bin/env python3
"""A coolingd webhook receiver, Python standard library only (docs/webhooks.md).

    python3 receiver.py --port 9000 --secret-file webhook.secret [--state-file F]

Refuses (401) a delivery whose Coolingd-Signature does not verify or whose
t is more than 5 minutes from this clock, acknowledges (204) the others, and
prints each event it has not seen before as one line:

    event SEQ TYPE LENDER LOAN_ID

Deliveries are at least once and in seq order per endpoint, so the highest
seq handled per webhook is all there is to remember; --state-file keeps it
across restarts.
"""
import argparse, hashlib, hmac, json, os, sys, time
from http.server import BaseHTTPRequestHandler, HTTPServer

TOLERANCE_S = 300


def verify(secret: bytes, header: str, body: bytes) -> bool:
    try:
        fields = dict(kv.split("=", 1) for kv in header.split(","))
        t, v1 = fields["t"], fields["v1"]
        if abs(time.time() - int(t)) > TOLERANCE_S:
            return False  # a replay, or a clock far off
    except (KeyError, ValueError):
        return False
    mac = hmac.new(secret, t.encode() + b"." + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(mac, v1)


class Receiver(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        if not verify(self.server.secret, self.headers.get("Coolingd-Signature", ""), body):
            return self.answer(401)
        batch = json.loads(body)
        hook = str(batch["webhook"])
        for event in batch["events"]:
            if event["seq"] <= self.server.last.get(hook, 0):
                continue  # delivered before: at least once, so skip it
            handle(event)
            self.server.last[hook] = event["seq"]
        self.server.save()
        self.answer(204)  # any 2xx acknowledges the batch

    def answer(self, status):
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


def handle(event):
    # Your work goes here (tell the borrower, move the loan on); it must be
    # done, or queued durably, before the 2xx.
    print("event", event["seq"], event["type"], event["lender"], event["loan_id"], flush=True)


class Server(HTTPServer):
    def __init__(self, port, secret, state_file):
        super().__init__(("127.0.0.1", port), Receiver)
        self.secret, self.state_file, self.last = secret, state_file, {}
        if state_file and os.path.exists(state_file):
            with open(state_file) as f:
                self.last = json.load(f)

    def save(self):
        if self.state_file:
            with open(self.state_file + ".tmp", "w") as f:
                json.dump(self.last, f)
            os.replace(self.state_file + ".tmp", self.state_file)


def main():
    p = argparse.ArgumentParser(description="A coolingd webhook receiver")
    p.add_argument("--port", type=int, default=9000)
    p.add_argument("--secret-file", required=True, help="the webhook's secret (64 hex characters)")
    p.add_argument("--state-file", help="where the highest seq handled is kept")
    a = p.parse_args()
    with open(a.secret_file) as f:
        secret = f.read().rstrip("\n").encode()
    server = Server(a.port, secret, a.state_file)
    print(f"listening on http://127.0.0.1:{a.port}/", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    sys.exit(main())
