"""TCP connections for the --balance netns test (test/integration/router-lib-balance.test.ts).
The server is pin-traffic.py's `serve` (it answers "who" with the peer's address).

hold N ADDR:PORT   open N connections at once and ask "who" on each; print the JSON list of
                   the addresses the server saw (one per connection, in order). Then for every
                   line on stdin: "who" asks again on every connection (a dead one gives null),
                   anything else sends a line on each and prints a JSON list of booleans.
"""
import json
import socket
import sys


def ask(conn, line, timeout=2.0):
    conn.settimeout(timeout)
    try:
        conn.sendall(line)
        return conn.recv(64).decode().strip() or None
    except OSError:
        return None


def hold(n, target):
    host, port = target.rsplit(":", 1)
    conns = [socket.create_connection((host, int(port)), timeout=3) for _ in range(n)]
    print(json.dumps([ask(c, b"who\n") for c in conns]), flush=True)
    for cmd in sys.stdin:
        if cmd.strip() == "who":
            print(json.dumps([ask(c, b"who\n") for c in conns]), flush=True)
        else:
            print(json.dumps([ask(c, b"ping\n") == "ping" for c in conns]), flush=True)


if __name__ == "__main__":
    if sys.argv[1] == "hold":
        hold(int(sys.argv[2]), sys.argv[3])
