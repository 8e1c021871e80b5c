# Router-side route sampler for the benchmarks and the soak (runs in the lab VM's python3).
# Dumps the kernel's IPv4 default routes, nexthop objects and IPv4 addresses over rtnetlink
# every INTERVAL ms and prints one line per state change:
#   <CLOCK_BOOTTIME s>|<ECMP devs (metric M)>|<devs of any usable default route>|<pppoe devs with IPv4>|
#   <devs of the other default routes (netifd's own per-dial routes: netifd has the dial up)>
# plus "#tick <t> <samples>" every second, so the reader knows the real sampling rate.
# The ECMP route lives in its own table (BASE, default 3000); netifd's per-dial routes in main.
# Stops when STOPFILE exists.  argv: INTERVAL_MS METRIC STOPFILE [TABLE]
import os, socket, struct, sys, time

interval = int(sys.argv[1]) / 1000.0
metric = int(sys.argv[2])
stopfile = sys.argv[3]
ecmp_table = int(sys.argv[4]) if len(sys.argv) > 4 else 3000
s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 0)
s.bind((0, 0))
s.settimeout(2)
seq = [0]

def dump(msgtype, body):
    seq[0] += 1
    hdr = struct.pack('=IHHII', 16 + len(body), msgtype, 0x301, seq[0], 0)
    s.send(hdr + body)
    out = []
    while True:
        data = s.recv(1 << 20)
        off = 0
        while off + 16 <= len(data):
            ln, typ, flags, sq, pid = struct.unpack_from('=IHHII', data, off)
            if ln < 16:
                return out
            if typ == 3 or typ == 2:  # DONE / ERROR
                return out
            out.append((typ, data[off + 16:off + ln]))
            off += (ln + 3) & ~3

def attrs(buf, off):
    res = {}
    while off + 4 <= len(buf):
        ln, typ = struct.unpack_from('=HH', buf, off)
        if ln < 4:
            break
        res.setdefault(typ & 0x3fff, buf[off + 4:off + ln])
        off += (ln + 3) & ~3
    return res

u32 = lambda b: struct.unpack('=I', b[:4])[0]

def names():
    return {i: n for i, n in socket.if_nameindex()}

def sample():
    nm = names()
    # nexthop objects: id -> ('dev', ifindex) | ('grp', [ids])
    nh = {}
    try:
        for typ, m in dump(106, struct.pack('=BBBBI', 0, 0, 0, 0, 0)):
            a = attrs(m, 8)
            if 1 not in a:
                continue
            i = u32(a[1])
            if 2 in a:
                g = a[2]
                nh[i] = ('grp', [u32(g[k:k + 4]) for k in range(0, len(g), 8)])
            elif 5 in a:
                nh[i] = ('dev', u32(a[5]))
            else:
                nh[i] = ('dev', 0)
    except OSError:
        pass

    def nh_devs(i, depth=0):
        e = nh.get(i)
        if not e or depth > 2:
            return []
        if e[0] == 'dev':
            return [e[1]]
        r = []
        for j in e[1]:
            r += nh_devs(j, depth + 1)
        return r

    ecmp, usable, own = set(), set(), set()
    for typ, m in dump(26, struct.pack('=BBBBBBBBI', 2, 0, 0, 0, 0, 0, 0, 0, 0)):
        fam, dl, sl, tos, table, proto, scope, rtype, fl = struct.unpack_from('=BBBBBBBBI', m, 0)
        if dl != 0 or rtype != 1:
            continue
        a = attrs(m, 12)
        tbl = u32(a[15]) if 15 in a else table
        if tbl not in (254, ecmp_table):
            continue
        prio = u32(a[6]) if 6 in a else 0
        devs = []
        if 30 in a:
            devs = nh_devs(u32(a[30]))
        elif 9 in a:
            mp = a[9]
            o = 0
            while o + 8 <= len(mp):
                ln, f, hops, idx = struct.unpack_from('=HBBi', mp, o)
                if not f & 1:  # RTNH_F_DEAD
                    devs.append(idx)
                o += (ln + 3) & ~3 if ln else 8
        elif 4 in a:
            devs = [u32(a[4])]
        dn = [nm.get(d, '?%d' % d) for d in devs]
        if tbl == ecmp_table:
            if prio == metric:
                ecmp.update(dn)
        else:
            own.update(d for d in dn if not d.startswith('?'))
        usable.update(d for d in dn if not d.startswith('?'))
    up = set()
    for typ, m in dump(22, struct.pack('=BBBBI', 2, 0, 0, 0, 0)):
        fam, plen, fl, scope, idx = struct.unpack_from('=BBBBI', m, 0)
        n = nm.get(idx, '')
        if n.startswith('pppoe-') and scope == 0:
            up.add(n)
    return '|'.join(','.join(sorted(x)) for x in (ecmp, usable, up, own))

last = None
count = 0
tick = 0.0
while not os.path.exists(stopfile):
    t = time.clock_gettime(time.CLOCK_BOOTTIME)
    st = sample()
    count += 1
    if st != last:
        print('%.4f|%s' % (t, st), flush=True)
        last = st
    if t - tick >= 1:
        print('#tick %.4f %d' % (t, count), flush=True)
        tick = t
    d = interval - (time.clock_gettime(time.CLOCK_BOOTTIME) - t)
    if d > 0:
        time.sleep(d)
