"""A small local HTTP target for the quickstart demo: answers GET/POST with a tiny body after a
configurable delay, and fails a configurable fraction of requests with 500. Loopback only.

Each response leaves in one send() on a TCP_NODELAY socket. `http.server` would write the head
and the body in two sends; with Nagle's algorithm the second waits for the ACK of the first,
which the client delays by ~40 ms, so a "20 ms" target measured ~64 ms."""
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
        disable_nagle_algorithm = True  # TCP_NODELAY on every accepted connection

        def _answer(self):
            length = int(self.headers.get("Content-Length") or 0)
            if length:
                self.rfile.read(length)
            time.sleep(a.latency_ms / 1000.0)
            ok = random.random() >= a.error_rate
            body = b'{"status":"ok"}\n' if ok else b'{"status":"error"}\n'
            status = b"200 OK" if ok else b"500 Internal Server Error"
            head = b"HTTP/1.1 %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n" % (
                status,
                len(body),
            )
            self.wfile.write(head + body)  # one send: head and body together

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
    port = server.server_address[1]  # --port 0: a free port, printed for the caller
    print(f"target listening on http://127.0.0.1:{port}/ (latency {a.latency_ms} ms, error rate {a.error_rate})", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
