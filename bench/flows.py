# Long-lived TCP flows for the flow-stability scenario and the failover chart (lab VM's python3;
# no iperf3 control connection that could itself be on the dropped dial and abort every stream).
#   flows.py sink PORT                                (in the ISP netns) read and discard, one thread
#   flows.py source HOST PORT N MAXSECONDS READY STOP (in the LAN netns) N flows; writes READY (its
#     start time) once all are connected, sends until the file STOP exists (or MAXSECONDS), then
#     prints JSON:
#     {"start": CLOCK_BOOTTIME s when sending began, "ports": [local port per flow],
#      "t": [s after start, per row (about every 0.5 s; later when the VM is busy)],
#      "acked": [[bytes acknowledged by the peer, per flow] per row], "errors": {port: [s after start, msg]}}
# "acked" = bytes handed to send() minus what is still in the socket's send queue (SIOCOUTQ:
# unsent + unacknowledged), so a stalled flow shows no progress even though its buffer is full.
# Both ends are single-threaded event loops: under TCG every CPU cycle is shared with the packets.
import fcntl, json, os, selectors, socket, struct, sys, termios, time

if sys.argv[1] == 'sink':
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(('0.0.0.0', int(sys.argv[2])))
    srv.listen(256)
    srv.setblocking(False)
    sel = selectors.DefaultSelector()
    sel.register(srv, selectors.EVENT_READ)
    while True:
        for key, _ in sel.select():
            s = key.fileobj
            if s is srv:
                try:
                    c, _ = srv.accept()
                except OSError:
                    continue
                c.setblocking(False)
                sel.register(c, selectors.EVENT_READ)
                continue
            try:
                data = s.recv(262144)
            except BlockingIOError:
                continue
            except OSError:
                data = b''
            if not data:
                sel.unregister(s)
                s.close()

host, port, n, secs, ready, stop = sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5]), sys.argv[6], sys.argv[7]
TICK = 0.5
boottime = lambda: time.clock_gettime(time.CLOCK_BOOTTIME)
socks, ports, errors = [], [], {}
for _ in range(n):
    s = socket.create_connection((host, port), timeout=10)
    s.setblocking(False)
    socks.append(s)
    ports.append(s.getsockname()[1])
sel = selectors.DefaultSelector()
for i, s in enumerate(socks):
    sel.register(s, selectors.EVENT_WRITE, i)
buf = b'x' * 65536
sent = [0] * n
dead = set()


def outq(s):
    try:
        return struct.unpack('i', fcntl.ioctl(s, termios.TIOCOUTQ, b'\0\0\0\0'))[0]
    except OSError:
        return 0


acked, times = [], []
t0 = boottime()
with open(ready + '.tmp', 'w') as f:
    f.write('%.4f\n' % t0)
os.rename(ready + '.tmp', ready)
nxt = t0 + TICK
while boottime() - t0 < secs and not os.path.exists(stop):
    for key, _ in sel.select(0.1):
        i = key.data
        try:
            sent[i] += key.fileobj.send(buf)
        except BlockingIOError:
            pass
        except OSError as e:
            errors[str(ports[i])] = [round(boottime() - t0, 2), str(e)]
            sel.unregister(key.fileobj)
            dead.add(i)
    now = boottime()
    if now >= nxt:
        times.append(round(now - t0, 3))
        acked.append([sent[i] - (0 if i in dead else outq(socks[i])) for i in range(n)])
        nxt = max(nxt + TICK, now + TICK / 2)
print(json.dumps({'start': round(t0, 4), 'ports': ports, 't': times, 'acked': acked, 'errors': errors}))
