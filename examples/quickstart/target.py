"""A small local HTTP target for the quickstart demo: answers GET/POST with a tiny body after a
configurable delay, and fails a configurable fraction of requests with 500. Loopback only."""
import argparse
import random
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, default=8080)
    p.add_argument("--latency-ms", type=float, default=20.0)
    p.add_argument("--error-rate", type=float, default=0.0)
    a = p.parse_args()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _answer(self):
            length = int(self.headers.get("Content-Length") or 0)
            if length:
                self.rfile.read(length)
            time.sleep(a.latency_ms / 1000.0)
            ok = random.random() >= a.error_rate
            body = b'{"status":"ok"}\n' if ok else b'{"status":"error"}\n'
            self.send_response(200 if ok else 500)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = _answer

        def log_message(self, *args):
            pass

    class Server(ThreadingHTTPServer):
        daemon_threads = True

        def handle_error(self, request, client_address):
            # The load generator cuts requests still in flight when hold-for ends: a broken
            # pipe here is expected, not worth a traceback.
            pass

    server = Server(("127.0.0.1", a.port), Handler)
    print(f"target listening on http://127.0.0.1:{a.port}/ (latency {a.latency_ms} ms, error rate {a.error_rate})", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
