# Lab stand-in for OpenWrt's ubus CLI, talking to netifd-sim's socket.
# Output format follows libubox blobmsg_format_json_indent (tabs, '"key": value',
# '/' escaped, empty containers as "{\n\t\n}"); exit codes are ubus status codes.
import fnmatch
import json
import os
import socket
import sys

SOCK = os.environ.get("NETIFD_SIM_SOCK", "/var/run/netifd-sim.sock")
STATUS = ["Success", "Invalid command", "Invalid argument", "Method not found", "Not found",
          "No response", "Permission denied", "Request timed out", "Operation not supported",
          "Unknown error", "Connection failed"]


def fmt_str(s):
    out = ['"']
    for ch in s:
        esc = {"\b": "b", "\n": "n", "\t": "t", "\r": "r", '"': '"', "\\": "\\", "/": "/"}.get(ch)
        if esc:
            out.append("\\" + esc)
        elif ord(ch) < 0x20:
            out.append("\\u%04x" % ord(ch))
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def fmt(v, level, indent):
    if isinstance(v, bool):
        return "true" if v else "false"
    if v is None:
        return "null"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return "%f" % v
    if isinstance(v, str):
        return fmt_str(v)
    array = isinstance(v, list)
    items = v if array else list(v.items())
    sep = ("\n" + "\t" * (level + 1)) if indent else ""
    end = ("\n" + "\t" * level) if indent else ""
    parts = []
    for it in items:
        if array:
            parts.append(fmt(it, level + 1, indent))
        else:
            parts.append(fmt_str(it[0]) + (": " if indent else ":") + fmt(it[1], level + 1, indent))
    return ("[" if array else "{") + sep + ("," + sep).join(parts) + end + ("]" if array else "}")


def request(req, timeout):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.connect(SOCK)
    with s:
        s.sendall((json.dumps(req) + "\n").encode())
        buf = b""
        while not buf.endswith(b"\n"):
            chunk = s.recv(65536)
            if not chunk:
                break
            buf += chunk
    return json.loads(buf)


def usage():
    sys.stderr.write("Usage: ubus [<options>] <command> [arguments...]\n"
                     "Options:\n -s <socket>:\t\tSet the unix domain socket to connect to\n"
                     " -t <timeout>:\t\tSet the timeout (in seconds) for a command to complete\n"
                     " -S:\t\t\tUse simplified output (for scripts)\n -v:\t\t\tMore verbose output\n\n"
                     "Commands:\n - list [<path>]\t\t\tList objects\n"
                     " - call <path> <method> [<message>]\tCall an object method\n\n")
    return 1


def main(argv):
    global SOCK
    args = argv[1:]
    simple = verbose = False
    timeout = 30
    while args and args[0].startswith("-") and len(args[0]) > 1:
        o = args.pop(0)
        if o == "-S":
            simple = True
        elif o == "-v":
            verbose = True
        elif o in ("-s", "-t") and args:
            val = args.pop(0)
            if o == "-s":
                SOCK = val
            else:
                timeout = int(val)
        elif o in ("-m", "-M") and args:
            args.pop(0)
        else:
            return usage()
    if not args:
        return usage()
    cmd = args.pop(0)
    try:
        if cmd == "list":
            resp = request({"op": "list"}, timeout)
            objs = resp.get("objects", {})
            pattern = args[0] if args else None
            shown = 0
            for name in sorted(objs):
                if pattern and not fnmatch.fnmatchcase(name, pattern):
                    continue
                shown += 1
                if verbose:
                    print("'%s' @%08x" % (name, abs(hash(name)) & 0xFFFFFFFF))
                    for m in objs[name]:
                        print('\t"%s":{}' % m)
                else:
                    print(name)
            if pattern and not shown:
                if not simple:
                    sys.stderr.write("Command failed: Not found\n")
                return 4
            return 0
        if cmd == "call":
            if len(args) < 2 or len(args) > 3:
                return usage()
            msg = {}
            if len(args) == 3:
                try:
                    msg = json.loads(args[2])
                    if not isinstance(msg, dict):
                        raise ValueError
                except ValueError:
                    if not simple:
                        sys.stderr.write("Failed to parse message data\n")
                    return 255
            resp = request({"op": "call", "path": args[0], "method": args[1], "args": msg}, timeout)
        else:
            return usage()
    except (OSError, ValueError):
        if not simple:
            sys.stderr.write("Failed to connect to ubus\n")
        return 255
    st = resp.get("status", 9)
    if st:
        if not simple:
            sys.stderr.write("Command failed: %s\n" % (STATUS[st] if st < len(STATUS) else "Unknown error"))
        return st
    data = resp.get("data")
    if data:
        sys.stdout.write(fmt(data, 0, not simple) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
