"""TCP traffic for the router-library netns tests (test/integration/router-lib-pin.test.ts).

serve PORT            accept connections; echo every line back, answer "who" with the peer's address
who N ADDR:PORT       connect N times, ask "who"; prints the sorted list of distinct answers
probe N T ADDR:PORT.. connect N times to each address (timeout T s), send a line, expect it back;
                      prints {"ADDR:PORT": successes, ...}
hold N ADDR:PORT      open N connections, print "ready"; then for every line on stdin send a line
                      on each connection and print a JSON list of booleans (echoed within 2 s)
"""
import json
import socket
import sys
import threading


def echo(conn, peer):
    with conn:
        f = conn.makefile("rwb", buffering=0)
        for line in f:
            f.write(peer.encode() + b"\n" if line == b"who\n" else line)


def serve(port):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("0.0.0.0", port))
    s.listen(64)
    print("listening", flush=True)
    while True:
        conn, peer = s.accept()
        threading.Thread(target=echo, args=(conn, peer[0]), daemon=True).start()


def roundtrip(conn, timeout):
    conn.settimeout(timeout)
    try:
        conn.sendall(b"ping\n")
        return conn.recv(16) == b"ping\n"
    except OSError:
        return False


def addr(text):
    host, port = text.rsplit(":", 1)
    return host, int(port)


def probe(n, timeout, targets):
    out = {}
    for t in targets:
        ok = 0
        for _ in range(n):
            try:
                with socket.create_connection(addr(t), timeout=timeout) as c:
                    ok += roundtrip(c, timeout)
            except OSError:
                pass
        out[t] = ok
    print(json.dumps(out), flush=True)


def who(n, target):
    seen = set()
    for _ in range(n):
        try:
            with socket.create_connection(addr(target), timeout=2) as c:
                c.settimeout(2)
                c.sendall(b"who\n")
                seen.add(c.recv(64).decode().strip())
        except OSError:
            seen.add("timeout")
    print(json.dumps(sorted(seen)), flush=True)


def hold(n, target):
    conns = [socket.create_connection(addr(target), timeout=3) for _ in range(n)]
    print(json.dumps([roundtrip(c, 2) for c in conns]), flush=True)
    for _ in sys.stdin:
        print(json.dumps([roundtrip(c, 2) for c in conns]), flush=True)


if __name__ == "__main__":
    cmd = sys.argv[1]
    if cmd == "serve":
        serve(int(sys.argv[2]))
    elif cmd == "probe":
        probe(int(sys.argv[2]), float(sys.argv[3]), sys.argv[4:])
    elif cmd == "who":
        who(int(sys.argv[2]), sys.argv[3])
    elif cmd == "hold":
        hold(int(sys.argv[2]), sys.argv[3])
