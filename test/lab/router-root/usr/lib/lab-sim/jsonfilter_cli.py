# Lab stand-in for OpenWrt's jsonfilter (openwrt/jsonpath): same options,
# same output formats (raw strings, json-c "spaced" JSON for other values,
# `export VAR=...; ` with booleans as 1/0 for -e VAR=pattern).
import json
import sys


class JPError(Exception):
    pass


# ------------------------------------------------------------------ lexer
def tokenize(s):
    toks = []
    i = 0
    n = len(s)
    while i < n:
        c = s[i]
        if c in " \t\r\n":
            i += 1
            continue
        two = s[i:i + 2]
        if two in ("&&", "||", "!=", ">=", "<=", "=="):
            toks.append(("op", "=" if two == "==" else two, i))
            i += 2
            continue
        if c in "$@.[]*,()!=<>":
            toks.append(("op", c, i))
            i += 1
            continue
        if c in "'\"":
            q = c
            j = i + 1
            buf = []
            while j < n and s[j] != q:
                if s[j] == "\\" and j + 1 < n:
                    j += 1
                    buf.append({"n": "\n", "t": "\t", "r": "\r"}.get(s[j], s[j]))
                else:
                    buf.append(s[j])
                j += 1
            if j >= n:
                raise JPError("Unterminated string", i)
            toks.append(("str", "".join(buf), i))
            i = j + 1
            continue
        if c.isdigit() or (c == "-" and i + 1 < n and s[i + 1].isdigit()):
            j = i + 1
            while j < n and (s[j].isdigit() or s[j] == "."):
                j += 1
            txt = s[i:j]
            toks.append(("num", float(txt) if "." in txt else int(txt), i))
            i = j
            continue
        if c.isalpha() or c == "_":
            j = i + 1
            while j < n and (s[j].isalnum() or s[j] in "_-"):
                j += 1
            word = s[i:j]
            if word in ("true", "false"):
                toks.append(("bool", word == "true", i))
            else:
                toks.append(("label", word, i))
            i = j
            continue
        raise JPError("Unexpected character", i)
    toks.append(("end", None, n))
    return toks


# ------------------------------------------------------------------ parser
class Parser:
    def __init__(self, text):
        self.t = tokenize(text)
        self.i = 0

    def peek(self, k=0):
        return self.t[self.i + k]

    def take(self, kind=None, val=None):
        tok = self.t[self.i]
        if (kind and tok[0] != kind) or (val is not None and tok[1] != val):
            raise JPError("Unexpected token", tok[2])
        self.i += 1
        return tok

    def is_op(self, v, k=0):
        tok = self.peek(k)
        return tok[0] == "op" and tok[1] == v

    def top(self):
        var = None
        if self.peek()[0] == "label" and self.is_op("=", 1):
            var = self.take()[1]
            self.take("op", "=")
        path = self.path()
        self.take("end")
        return var, path

    def path(self):
        tok = self.peek()
        if tok[0] == "op" and tok[1] in "$@":
            self.i += 1
            root = tok[1]
        elif tok[0] == "label":
            root = "$"  # a bare label path is relative to the root
            segs = [("key", self.take()[1])]
            return (root, segs + self.segments())
        else:
            raise JPError("Expecting $ or @", tok[2])
        return (root, self.segments())

    def segments(self):
        segs = []
        while True:
            if self.is_op("."):
                self.i += 1
                tok = self.peek()
                if tok[0] == "op" and tok[1] == "*":
                    self.i += 1
                    segs.append(("wild",))
                elif tok[0] in ("label", "bool"):
                    self.i += 1
                    segs.append(("key", tok[1] if tok[0] == "label" else ("true" if tok[1] else "false")))
                elif tok[0] == "num":
                    self.i += 1
                    segs.append(("key", str(tok[1])))
                else:
                    raise JPError("Expecting label", tok[2])
            elif self.is_op("["):
                self.i += 1
                segs.append(self.bracket())
                self.take("op", "]")
            else:
                return segs

    def bracket(self):
        items = []
        while True:
            tok = self.peek()
            nxt = self.peek(1)
            simple = nxt[0] == "op" and nxt[1] in ",]"
            if tok[0] == "op" and tok[1] == "*" and simple:
                self.i += 1
                items.append(("wild",))
            elif tok[0] in ("str", "label") and simple:
                self.i += 1
                items.append(("key", tok[1]))
            elif tok[0] == "num" and simple:
                self.i += 1
                items.append(("idx", int(tok[1])))
            else:
                items.append(("filter", self.expr()))
            if self.is_op(","):
                self.i += 1
                continue
            break
        return items[0] if len(items) == 1 else ("union", items)

    def expr(self):
        left = self.and_expr()
        while self.is_op("||"):
            self.i += 1
            left = ("or", left, self.and_expr())
        return left

    def and_expr(self):
        left = self.unary()
        while self.is_op("&&"):
            self.i += 1
            left = ("and", left, self.unary())
        return left

    def unary(self):
        if self.is_op("!"):
            self.i += 1
            return ("not", self.unary())
        if self.is_op("("):
            self.i += 1
            e = self.expr()
            self.take("op", ")")
            return e
        left = self.operand()
        tok = self.peek()
        if tok[0] == "op" and tok[1] in ("=", "!=", "<", "<=", ">", ">="):
            self.i += 1
            return ("cmp", tok[1], left, self.operand())
        return ("truth", left)

    def operand(self):
        tok = self.peek()
        if tok[0] in ("str", "num", "bool"):
            self.i += 1
            return ("lit", tok[1])
        if tok[0] == "op" and tok[1] in "$@":
            return ("path", self.path())
        if tok[0] == "label":
            self.i += 1
            return ("lit", tok[1])
        raise JPError("Unexpected token", tok[2])


# ------------------------------------------------------------------ matcher
def children(node):
    if isinstance(node, dict):
        return list(node.values())
    if isinstance(node, list):
        return list(node)
    return []


def apply_seg(seg, nodes, root):
    out = []
    kind = seg[0]
    for node in nodes:
        if kind == "wild":
            out.extend(children(node))
        elif kind == "key":
            if isinstance(node, dict) and seg[1] in node:
                out.append(node[seg[1]])
        elif kind == "idx":
            if isinstance(node, list):
                i = seg[1]
                if i < 0:
                    i += len(node)
                if 0 <= i < len(node):
                    out.append(node[i])
        elif kind == "filter":
            for ch in children(node):
                if evaluate(seg[1], ch, root):
                    out.append(ch)
        elif kind == "union":
            for sub in seg[1]:
                out.extend(apply_seg(sub, [node], root))
    return out


def match_path(path, cur, root):
    base, segs = path
    nodes = [root if base == "$" else cur]
    for seg in segs:
        nodes = apply_seg(seg, nodes, root)
        if not nodes:
            break
    return nodes


def kind_of(v):
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, (int, float)):
        return "num"
    if isinstance(v, str):
        return "str"
    return "other"


def compare(op, a, b):
    ka, kb = kind_of(a), kind_of(b)
    if ka != kb or ka == "other":
        return op == "!="
    if op == "=":
        return a == b
    if op == "!=":
        return a != b
    if ka == "bool":
        return False
    return {"<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b}[op]


def values(operand, cur, root):
    if operand[0] == "lit":
        return [operand[1]]
    return match_path(operand[1], cur, root)


def evaluate(e, cur, root):
    t = e[0]
    if t == "or":
        return evaluate(e[1], cur, root) or evaluate(e[2], cur, root)
    if t == "and":
        return evaluate(e[1], cur, root) and evaluate(e[2], cur, root)
    if t == "not":
        return not evaluate(e[1], cur, root)
    if t == "truth":
        vals = values(e[1], cur, root)
        if e[1][0] == "lit":
            return bool(vals[0])
        return len(vals) > 0
    if t == "cmp":
        left = values(e[2], cur, root)
        right = values(e[3], cur, root)
        return any(compare(e[1], a, b) for a in left for b in right)
    return False


# ------------------------------------------------------------------ output
def jsonc_string(s):
    out = ['"']
    for ch in s:
        o = ord(ch)
        if ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif ch == "/":
            out.append("\\/")
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\r":
            out.append("\\r")
        elif ch == "\t":
            out.append("\\t")
        elif ch == "\b":
            out.append("\\b")
        elif ch == "\f":
            out.append("\\f")
        elif o < 0x20:
            out.append("\\u%04x" % o)
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def jsonc(v):
    """json-c's JSON_C_TO_STRING_SPACED rendering."""
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        r = repr(v)
        return r if ("." in r or "e" in r) else r + ".0"
    if isinstance(v, str):
        return jsonc_string(v)
    if isinstance(v, list):
        if not v:
            return "[ ]"
        return "[ " + ", ".join(jsonc(x) for x in v) + " ]"
    if not v:
        return "{ }"
    return "{ " + ", ".join(jsonc_string(k) + ": " + jsonc(x) for k, x in v.items()) + " }"


def shell_quote(s):
    return "'" + s.replace("'", "'\"'\"'") + "'"


def print_sep(sep, sc):
    if sc[0] > 0:
        c = sep[(sc[0] - 1) % len(sep)]
        w = {'"': "'\"'", "'": "\"'\"", " ": "\\ "}.get(c, c)
        sys.stdout.write(w)
    sc[0] += 1


def export(matches, var, sep, limit):
    if not matches:
        return
    w = sys.stdout.write
    if var is not None:
        w("export %s=" % var)
        sc = [0]
        for v in matches[:max(limit, 0)]:
            if isinstance(v, dict):
                for k, x in v.items():
                    if x is None:
                        continue
                    print_sep(sep, sc)
                    w(shell_quote(k))
            elif isinstance(v, list):
                for i in range(len(v)):
                    print_sep(sep, sc)
                    w("%d" % i)
            elif isinstance(v, bool):
                print_sep(sep, sc)
                w("1" if v else "0")
            elif isinstance(v, int):
                print_sep(sep, sc)
                w("%d" % v)
            elif isinstance(v, float):
                print_sep(sep, sc)
                w("%f" % v)
            elif isinstance(v, str):
                print_sep(sep, sc)
                w(shell_quote(v))
        w("; ")
    else:
        for v in matches[:max(limit, 0)]:
            if v is None:
                continue
            w((v if isinstance(v, str) else jsonc(v)) + "\n")


TYPES = {"bool": "boolean", "num": None, "str": "string"}


def type_name(v):
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "boolean"
    if isinstance(v, int):
        return "int"
    if isinstance(v, float):
        return "double"
    if isinstance(v, str):
        return "string"
    if isinstance(v, list):
        return "array"
    return "object"


def export_type(matches, var, limit):
    if not matches:
        return
    w = sys.stdout.write
    if var is not None:
        w("export %s=" % var)
    first = True
    for v in matches:
        if not first:
            w("\\ ")
        if limit <= 0:
            break
        limit -= 1
        w(type_name(v))
        first = False
    w("; " if var is not None else "\n")


def parse_input(text, array_mode):
    dec = json.JSONDecoder()
    text = text.strip()
    if array_mode:
        arr = []
        i = 0
        while i < len(text):
            while i < len(text) and text[i] in " \t\r\n":
                i += 1
            if i >= len(text):
                break
            obj, i = dec.raw_decode(text, i)
            arr.append(obj)
        return arr
    if not text:
        raise ValueError("unexpected end of data")
    obj, _ = dec.raw_decode(text)
    return obj


def main(argv):
    args = argv[1:]
    if not args:
        sys.stdout.write("== Usage ==\n\n  # jsonfilter [-a] [-i <file> | -s \"json...\"] {-t <pattern> | -e <pattern>}\n")
        return 0
    array_mode = False
    source = None
    infile = None
    sep = " "
    limit = 0x7FFFFFFF
    data = None
    have = False
    rv = 0
    i = 0
    while i < len(args):
        a = args[i]
        if not a.startswith("-") or len(a) < 2:
            i += 1
            continue
        opt = a[1]
        needs = opt in "isetFl"
        val = None
        if needs:
            if len(a) > 2:
                val = a[2:]
            else:
                i += 1
                if i >= len(args):
                    sys.stderr.write("jsonfilter: option requires an argument -- '%s'\n" % opt)
                    return 1
                val = args[i]
        i += 1
        if opt == "a":
            array_mode = True
        elif opt == "h":
            return main([argv[0]])
        elif opt == "i":
            try:
                infile = open(val, "r", encoding="utf-8", errors="surrogateescape")
            except OSError as e:
                sys.stderr.write("Failed to open %s: %s\n" % (val, e.strerror))
                return 125
        elif opt == "s":
            source = val
        elif opt == "F":
            if val:
                sep = val
        elif opt == "l":
            try:
                limit = int(val)
            except ValueError:
                limit = 0
        elif opt == "q":
            sys.stderr = open("/dev/null", "w")
        elif opt in "et":
            if not have:
                try:
                    text = source if source is not None else (infile or sys.stdin).read()
                    data = parse_input(text, array_mode)
                    have = True
                except (ValueError, UnicodeDecodeError) as e:
                    sys.stderr.write("Failed to parse json data: %s\n" % e)
                    return 126
            try:
                var, path = Parser(val).top()
            except JPError as e:
                sys.stderr.write("Syntax error: %s\nIn expression %s\n" % (e.args[0], val))
                continue
            matches = match_path(path, data, data)
            if opt == "t":
                export_type(matches, var, limit)
            else:
                export(matches, var, sep, limit)
            if not matches:
                rv = 1
        else:
            sys.stderr.write("jsonfilter: invalid option -- '%s'\n" % opt)
            return 1
    sys.stdout.flush()
    return rv


if __name__ == "__main__":
    sys.exit(main(sys.argv))
