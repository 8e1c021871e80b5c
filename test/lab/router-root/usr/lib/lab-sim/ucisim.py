# Lab simulation of libuci (OpenWrt's Unified Configuration Interface).
#
# Written for the owrt-ecmp lab router from the behaviour of openwrt/uci
# (file.c parser, delta.c delta files, list.c set/add_list/... semantics,
# cli.c output formats). Not a port: only what the lab needs, kept byte
# compatible in the formats (export, show, changes, delta files).

import fcntl
import glob
import os
import tempfile

DEFAULT_CONFDIR = os.environ.get("UCI_SIM_CONFDIR", "/etc/config")
# libuci always puts its built-in save dir (/tmp/.uci) on the delta path.
# The env override exists only so host tests never touch the real /tmp/.uci.
DEFAULT_SAVEDIR = os.environ.get("UCI_SIM_DEFAULT_SAVEDIR", "/tmp/.uci")

OK, ERR_MEM, ERR_INVAL, ERR_NOTFOUND, ERR_IO, ERR_PARSE, ERR_DUPLICATE, ERR_UNKNOWN = range(8)
ERRSTR = ["Success", "Out of memory", "Invalid argument", "Entry not found",
          "I/O error", "Parse error", "Duplicate entry", "Unknown error"]

CMD_ADD, CMD_REMOVE, CMD_CHANGE, CMD_RENAME, CMD_REORDER, CMD_LIST_ADD, CMD_LIST_DEL = range(7)
CMD_CHAR = {CMD_ADD: "+", CMD_REMOVE: "-", CMD_CHANGE: "", CMD_RENAME: "@",
            CMD_REORDER: "^", CMD_LIST_ADD: "|", CMD_LIST_DEL: "~"}


class UciError(Exception):
    def __init__(self, code, reason=None, line=0, byte=0):
        super().__init__(ERRSTR[code])
        self.code = code
        self.reason = reason
        self.line = line
        self.byte = byte

    def message(self, prefix="uci"):
        s = "%s: %s" % (prefix, ERRSTR[self.code]) if prefix else ERRSTR[self.code]
        if self.code == ERR_PARSE and self.reason:
            s += " (%s) at line %d, byte %d" % (self.reason, self.line, self.byte)
        return s


def _isalnum(c):
    return ("a" <= c <= "z") or ("A" <= c <= "Z") or ("0" <= c <= "9")


def validate_str(s, name, package=False):
    if not s:
        return False
    for c in s:
        if _isalnum(c) or c == "_":
            continue
        if c == "-" and package:
            continue
        if name or ord(c) < 33 or ord(c) > 126:
            return False
    return True


def validate_name(s):
    return validate_str(s, True)


def validate_type(s):
    return validate_str(s, False)


def validate_package(s):
    return validate_str(s, False, True)


def validate_text(s):
    return all(not (ord(c) < 32 and c not in "\t\n\r") for c in s)


def _isspace(c):
    return c is not None and c in " \t\n\v\f\r"


# ---------------------------------------------------------------- lexer

class Lexer:
    """Argument parser with libuci's quoting rules (file.c parse_str)."""

    def __init__(self, stream):
        self.stream = stream
        self.buf = ""
        self.pos = 0
        self.line = 0
        self.eof = False

    def getln(self, offset):
        line = self.stream.readline()
        if line == "":
            self.eof = True
            self.buf = self.buf[:offset]
            return
        self.line += 1
        self.buf = self.buf[:offset] + line

    def new_line(self):
        self.buf = ""
        self.pos = 0
        self.getln(0)

    def cur(self):
        return self.buf[self.pos] if self.pos < len(self.buf) else None

    def error(self, reason):
        raise UciError(ERR_PARSE, reason, self.line, self.pos)

    def _backslash(self):
        """True: the escaped char is literal; False: line continued."""
        self.pos += 1
        c = self.cur()
        rest = self.buf[self.pos:]
        if c is None or c == "\n" or rest == "\r\n":
            self.getln(self.pos)
            return False
        return True

    def _single(self, out):
        self.pos += 1
        while True:
            c = self.cur()
            if c == "'":
                self.pos += 1
                return
            if c is None:
                self.getln(self.pos)
                if self.cur() is None:
                    self.error("EOF with unterminated '")
                continue
            out.append(c)
            self.pos += 1

    def _double(self, out):
        self.pos += 1
        while True:
            c = self.cur()
            if c == '"':
                self.pos += 1
                return
            if c is None:
                self.getln(self.pos)
                if self.cur() is None:
                    self.error('EOF with unterminated "')
                continue
            if c == "\\":
                if not self._backslash():
                    continue
                c = self.cur()
            out.append(c)
            self.pos += 1

    def parse_str(self):
        out = []
        nxt = True
        while True:
            c = self.cur()
            if c == "'":
                self._single(out)
            elif c == '"':
                self._double(out)
            elif c == "#":
                self.buf = self.buf[:self.pos]
                break
            elif c is None:
                break
            elif c == ";":
                nxt = False
                break
            elif c == "\\":
                if self._backslash():
                    out.append(self.cur())
                    self.pos += 1
            else:
                out.append(c)
                self.pos += 1
            if self.cur() is None or _isspace(self.cur()):
                break
        if self.cur() is not None and nxt:
            self.pos += 1
        return "".join(out)

    def next_arg(self):
        while _isspace(self.cur()):
            self.pos += 1
        if self.cur() == ";":
            self.pos += 1
            return ""
        return self.parse_str()


# ---------------------------------------------------------------- model

class Option:
    __slots__ = ("name", "value")

    def __init__(self, name, value):
        self.name = name
        self.value = value  # str or list of str

    @property
    def is_list(self):
        return isinstance(self.value, list)


class Section:
    __slots__ = ("name", "type", "anonymous", "options")

    def __init__(self, name, stype, anonymous):
        self.name = name
        self.type = stype
        self.anonymous = anonymous
        self.options = []

    def get(self, name):
        for o in self.options:
            if o.name == name:
                return o
        return None


def _djbhash(h, s):
    if h is None:
        h = 5381
    for b in s.encode("utf-8", "surrogateescape"):
        c = b - 256 if b > 127 else b  # C 'char' is signed on the lab's arches
        h = (h * 33 + c) & 0xFFFFFFFF
    return h & 0x7FFFFFFF


class Package:
    def __init__(self, name):
        self.name = name
        self.sections = []
        self.n_section = 0
        self.path = None
        self.has_delta = False
        self.delta = []        # (cmd, section, option, value) made by this process
        self.saved_delta = []  # loaded from delta files, for `uci changes`

    def find(self, name):
        for s in self.sections:
            if s.name == name:
                return s
        return None

    def alloc_section(self, stype, name):
        s = Section(name or None, stype, not name)
        self.n_section += 1
        self.sections.append(s)
        return s

    def add_section(self, stype, record=True):
        s = self.alloc_section(stype, None)
        h = _djbhash(None, s.type)
        for o in s.options:
            h = _djbhash(h, o.name)
            if not o.is_list:
                h = _djbhash(h, o.value)
        self.n_section += 1
        s.name = "cfg%02x%04x" % (self.n_section, h % (1 << 16))
        if record and self.has_delta:
            self.delta.append((CMD_ADD, s.name, None, stype))
        return s


class Ptr:
    def __init__(self):
        self.package = self.section = self.option = self.value = None
        self.p = self.s = self.o = None
        self.extended = False
        self.complete = False


def parse_ptr(text):
    ptr = Ptr()
    if "=" in text:
        text, ptr.value = text.split("=", 1)
    parts = text.split(".")
    if len(parts) > 3:
        raise UciError(ERR_PARSE)
    ptr.package = parts[0]
    if len(parts) > 1:
        ptr.section = parts[1]
    if len(parts) > 2:
        ptr.option = parts[2]
    if not validate_package(ptr.package):
        raise UciError(ERR_PARSE)
    if ptr.section is not None and not validate_name(ptr.section):
        ptr.extended = True
    if ptr.option is not None and not validate_name(ptr.option):
        raise UciError(ERR_PARSE)
    if ptr.value is not None and not validate_text(ptr.value):
        raise UciError(ERR_PARSE)
    return ptr


def lookup_ext_section(p, sect):
    if not sect.startswith("@"):
        raise UciError(ERR_INVAL)
    body = sect[1:]
    lb = body.find("[")
    if lb < 0 or not body.endswith("]"):
        raise UciError(ERR_INVAL)
    name, idxstr = body[:lb], body[lb + 1:-1]
    if "]" in idxstr:
        raise UciError(ERR_INVAL)
    try:
        idx = int(idxstr, 10) if idxstr.strip() else 0
    except ValueError:
        raise UciError(ERR_INVAL)
    if name and not validate_type(name):
        raise UciError(ERR_INVAL)
    matches = [s for s in p.sections if not name or s.type == name]
    if idx < 0:
        idx += len(matches)
    if 0 <= idx < len(matches):
        return matches[idx]
    return None


# ---------------------------------------------------------------- file io

def _open_locked(path, write, create=False, mode=0o600):
    flags = os.O_RDWR if write else os.O_RDONLY
    if create:
        flags |= os.O_CREAT
    if not write:
        try:
            st = os.stat(path)
        except OSError:
            raise UciError(ERR_NOTFOUND)
        if not os.path.isfile(path):
            raise UciError(ERR_NOTFOUND)
    try:
        fd = os.open(path, flags, mode)
    except OSError:
        raise UciError(ERR_IO)
    fcntl.flock(fd, fcntl.LOCK_EX if write else fcntl.LOCK_SH)
    return fd


def escape(s):
    return s.replace("'", "'\\''")


def export_package(p, header=True, name_anon=False):
    out = []
    if header:
        out.append("package %s\n" % escape(p.name))
    for s in p.sections:
        out.append("\nconfig %s" % escape(s.type))
        if not s.anonymous or name_anon:
            out.append(" '%s'" % escape(s.name))
        out.append("\n")
        for o in s.options:
            if o.is_list:
                for item in o.value:
                    out.append("\tlist %s '%s'\n" % (escape(o.name), escape(item)))
            else:
                out.append("\toption %s '%s'\n" % (escape(o.name), escape(o.value)))
    out.append("\n")
    return "".join(out)


class Context:
    def __init__(self, confdir=None):
        self.confdir = confdir or DEFAULT_CONFDIR
        self.savedir = DEFAULT_SAVEDIR
        self.delta_path = [DEFAULT_SAVEDIR]
        self.strict = True
        self.export_name = False
        self.record_same_value = os.environ.get("UCI_SIM_RECORD_SAME_VALUE") == "1"

    # -p: add a delta search path, kept before the save dir
    def add_delta_path(self, d):
        if d in self.delta_path:
            raise UciError(ERR_DUPLICATE)
        self.delta_path.insert(len(self.delta_path) - 1, d)

    # -t / -P: the save dir moves to (or is appended at) the end of the delta path
    def set_savedir(self, d):
        if d in self.delta_path:
            self.delta_path.remove(d)
        self.delta_path.append(d)
        self.savedir = d

    def list_configs(self):
        names = []
        for path in sorted(glob.glob(os.path.join(glob.escape(self.confdir), "*"))):
            base = os.path.basename(path)
            if os.path.isdir(path) or not validate_package(base):
                continue
            names.append(base)
        return names

    # ---- parsing config files
    def import_stream(self, stream, name):
        p = Package(name)
        lx = Lexer(stream)
        cur_sec = [None]
        while True:
            lx.new_line()
            if lx.eof and lx.buf == "":
                break
            self._parse_line(lx, p, cur_sec)
            if lx.eof:
                break
        return p

    def _parse_line(self, lx, p, cur_sec):
        while True:
            while _isspace(lx.cur()):
                lx.pos += 1
            rest = lx.buf[lx.pos:]
            if not rest:
                return
            end = 0
            while end < len(rest) and rest[end] not in " \t":
                end += 1
            word = rest[:end]
            if not word or word[0] == "#":
                return
            lx.pos += end + 1 if end < len(rest) else end
            kw = word.rstrip("\n").rstrip("\r")
            if kw in ("p", "package"):
                lx.next_arg()
                self._assert_eol(lx)
            elif kw in ("c", "config"):
                stype = lx.next_arg()
                if not stype:
                    lx.error("insufficient arguments")
                if not validate_type(stype):
                    lx.error("invalid character in type field")
                name = lx.next_arg()
                if name and not validate_name(name):
                    lx.error("invalid character in name field")
                self._assert_eol(lx)
                if not name:
                    cur_sec[0] = p.add_section(stype, record=False)
                else:
                    s = p.find(name)
                    if s is not None:
                        if self.strict and s.type != stype:
                            lx.error("section of different type overwrites prior section with same name")
                        s.type = stype
                    else:
                        s = p.alloc_section(stype, name)
                    cur_sec[0] = s
            elif kw in ("o", "option", "l", "list"):
                if cur_sec[0] is None:
                    lx.error("option/list command found before the first section")
                oname = lx.next_arg()
                if not oname:
                    lx.error("insufficient arguments")
                if not validate_name(oname):
                    lx.error("invalid character in name field")
                value = lx.next_arg()
                self._assert_eol(lx)
                s = cur_sec[0]
                if kw in ("l", "list"):
                    _add_list(s, oname, value)
                elif value:
                    _set_option(s, oname, value)
            else:
                lx.error("invalid command")
            if lx.cur() is None:
                return

    def _assert_eol(self, lx):
        extra = lx.next_arg()
        if extra and self.strict:
            lx.error("too many arguments")

    # ---- loading
    def load(self, name, apply_delta=True):
        if name.startswith("/") or name.startswith("./"):
            path, confdir = name, False
            name = name.rsplit("/", 1)[1]
        elif name.startswith("."):
            raise UciError(ERR_NOTFOUND)
        else:
            if not validate_package(name):
                raise UciError(ERR_INVAL)
            path, confdir = os.path.join(self.confdir, name), True
        fd = _open_locked(path, False)
        try:
            with os.fdopen(os.dup(fd), "r", encoding="utf-8", errors="surrogateescape", newline="") as f:
                p = self.import_stream(f, name)
        finally:
            os.close(fd)
        p.path = path
        p.has_delta = confdir
        if confdir and apply_delta:
            self.load_delta(p)
        return p

    def _delta_file_lines(self, path):
        try:
            fd = _open_locked(path, False)
        except UciError:
            return None
        try:
            with os.fdopen(os.dup(fd), "r", encoding="utf-8", errors="surrogateescape", newline="") as f:
                return f.read()
        finally:
            os.close(fd)

    def load_delta(self, p):
        changes = 0
        for d in self.delta_path:
            text = self._delta_file_lines(os.path.join(d, p.name))
            if text:
                changes += self.apply_delta_text(p, text)
        return changes

    def apply_delta_text(self, p, text):
        import io
        lx = Lexer(io.StringIO(text))
        changes = 0
        while True:
            lx.new_line()
            if lx.eof and lx.buf == "":
                break
            try:
                self._delta_line(lx, p)
                changes += 1
            except UciError:
                pass
            if lx.eof:
                break
        return changes

    def _delta_line(self, lx, p):
        arg = lx.next_arg()
        if lx.buf[lx.pos:].strip(" \t\r\n"):
            raise UciError(ERR_INVAL)
        if not arg:
            raise UciError(ERR_INVAL)
        cmd = CMD_CHANGE
        for c, ch in CMD_CHAR.items():
            if ch and arg[0] == ch:
                cmd = c
                arg = arg[1:]
                break
        ptr = parse_ptr(arg)
        if ptr.section is None or ptr.extended:
            raise UciError(ERR_INVAL)
        if cmd != CMD_REMOVE and ptr.value is None:
            raise UciError(ERR_INVAL)
        if cmd == CMD_REORDER and ptr.option is not None:
            raise UciError(ERR_INVAL)
        if cmd == CMD_RENAME and not validate_name(ptr.value):
            raise UciError(ERR_INVAL)
        if cmd in (CMD_LIST_ADD, CMD_LIST_DEL) and ptr.option is None:
            raise UciError(ERR_INVAL)
        if ptr.package != p.name:
            raise UciError(ERR_PARSE)
        p.saved_delta.append((cmd, ptr.section, ptr.option, ptr.value))
        ptr.p = p
        self._resolve(ptr)
        if cmd == CMD_REORDER:
            if ptr.s is None:
                raise UciError(ERR_NOTFOUND)
            reorder(p, ptr.s, _strtoul(ptr.value), record=False)
        elif cmd == CMD_RENAME:
            self.rename(ptr, record=False)
        elif cmd == CMD_REMOVE:
            self.delete(ptr, record=False)
        elif cmd == CMD_LIST_ADD:
            self.add_list(ptr, record=False)
        elif cmd == CMD_LIST_DEL:
            self.del_list(ptr, record=False)
        elif cmd == CMD_ADD:
            self.set(ptr, record=False)
            if ptr.option is None and ptr.s is not None:
                ptr.s.anonymous = True
        else:
            self.set(ptr, record=False)

    # ---- lookup
    def lookup(self, text, cache=None):
        ptr = parse_ptr(text)
        if cache is not None and ptr.package in cache:
            ptr.p = cache[ptr.package]
        else:
            ptr.p = self.load(ptr.package)
            if cache is not None:
                cache[ptr.package] = ptr.p
        self._resolve(ptr, extended_ok=True)
        return ptr

    def _resolve(self, ptr, extended_ok=False):
        p = ptr.p
        ptr.s = ptr.o = None
        ptr.complete = False
        if ptr.section is None:
            ptr.complete = True
            return
        if ptr.extended:
            if not extended_ok:
                raise UciError(ERR_INVAL)
            s = lookup_ext_section(p, ptr.section)
            if s is not None:
                ptr.section = s.name
                ptr.extended = False
        else:
            s = p.find(ptr.section)
        if s is None:
            return
        ptr.s = s
        if ptr.option is not None:
            o = s.get(ptr.option)
            if o is None:
                return
            ptr.o = o
        ptr.complete = True

    # ---- operations (list.c semantics)
    def set(self, ptr, record=True):
        p = ptr.p
        if ptr.value is None:
            raise UciError(ERR_INVAL)
        if not (ptr.s is not None or (ptr.option is None and ptr.section is not None)):
            raise UciError(ERR_INVAL)
        if ptr.option is None and ptr.value and not validate_type(ptr.value):
            raise UciError(ERR_INVAL)
        if ptr.extended:
            raise UciError(ERR_INVAL)
        if ptr.o is None and ptr.s is not None and ptr.option is not None:
            ptr.o = ptr.s.get(ptr.option)
        if ptr.value == "":
            if not ptr.complete:
                return
            return self.delete(ptr, record)
        if ptr.o is None and ptr.option is not None:
            ptr.o = _set_option(ptr.s, ptr.option, ptr.value)
        elif ptr.s is None and ptr.section is not None:
            ptr.s = p.alloc_section(ptr.value, ptr.section)
        elif ptr.o is not None and ptr.option is not None:
            if not ptr.o.is_list and ptr.o.value == ptr.value and not self.record_same_value:
                return  # libuci: setting an option to its current value records nothing
            ptr.o = _set_option(ptr.s, ptr.option, ptr.value)
        elif ptr.s is not None and ptr.section is not None:
            ptr.s.type = ptr.value
        else:
            raise UciError(ERR_INVAL)
        if record and p.has_delta:
            p.delta.append((CMD_CHANGE, ptr.section, ptr.option, ptr.value))

    def delete(self, ptr, record=True):
        p = ptr.p
        if not ptr.complete:
            raise UciError(ERR_NOTFOUND)
        if ptr.s is None:
            raise UciError(ERR_INVAL)
        if ptr.o is not None and ptr.o.is_list and ptr.value:
            idx = _sscanf_int(ptr.value)
            if idx is None:
                return 1
            if 0 <= idx < len(ptr.o.value):
                if record and p.has_delta:
                    p.delta.append((CMD_REMOVE, ptr.section, ptr.option, ptr.value))
                del ptr.o.value[idx]
            return 0
        if record and p.has_delta:
            p.delta.append((CMD_REMOVE, ptr.section, ptr.option, None))
        if ptr.option is not None:
            ptr.s.options.remove(ptr.o)
            ptr.o = None
        else:
            p.sections.remove(ptr.s)
            ptr.s = None
        return 0

    def add_list(self, ptr, record=True):
        p = ptr.p
        if ptr.s is None or ptr.value is None or ptr.option is None:
            raise UciError(ERR_INVAL)
        _add_list(ptr.s, ptr.option, ptr.value)
        if record and p.has_delta:
            p.delta.append((CMD_LIST_ADD, ptr.section, ptr.option, ptr.value))

    def del_list(self, ptr, record=True):
        p = ptr.p
        if ptr.s is None or ptr.value is None:
            raise UciError(ERR_INVAL)
        if ptr.o is None or ptr.option is None or not ptr.o.is_list:
            return
        if record and p.has_delta:
            p.delta.append((CMD_LIST_DEL, ptr.section, ptr.option, ptr.value))
        ptr.o.value = [v for v in ptr.o.value if v != ptr.value]

    def rename(self, ptr, record=True):
        p = ptr.p
        if not ptr.complete:
            raise UciError(ERR_NOTFOUND)
        if ptr.s is None or ptr.value is None:
            raise UciError(ERR_INVAL)
        if record and p.has_delta:
            p.delta.append((CMD_RENAME, ptr.section, ptr.option, ptr.value))
        if ptr.o is not None:
            ptr.o.name = ptr.value
        else:
            ptr.s.name = ptr.value
            ptr.s.anonymous = False

    # ---- persistence (delta.c / file.c)
    def save(self, p):
        if not p.has_delta:
            return self.commit(p, overwrite=False)
        if not p.delta:
            return
        if not os.path.isdir(self.savedir):
            if os.path.exists(self.savedir):
                raise UciError(ERR_IO)
            try:
                mode = os.stat(self.confdir).st_mode & 0o7777
            except OSError:
                mode = 0o700
            os.makedirs(self.savedir, mode, exist_ok=True)
        path = os.path.join(self.savedir, p.name)
        try:
            mode = os.stat(os.path.join(self.confdir, p.name)).st_mode & 0o777
        except OSError:
            mode = 0o600
        fd = _open_locked(path, True, create=True, mode=mode)
        try:
            os.lseek(fd, 0, os.SEEK_END)
            data = "".join(delta_line(p.name, d) for d in p.delta)
            os.write(fd, data.encode("utf-8", "surrogateescape"))
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)
        p.delta = []

    def commit(self, p, overwrite=False):
        if p.path is None:
            raise UciError(ERR_INVAL)
        f1 = _open_locked(p.path, True, create=True, mode=0o644)
        try:
            if p.has_delta:
                if p.delta:
                    self.save(p)
                with os.fdopen(os.dup(f1), "r", encoding="utf-8", errors="surrogateescape", newline="") as f:
                    f.seek(0)
                    np = self.import_stream(f, p.name)
                np.path, np.has_delta = p.path, True
                changes = self.load_delta(np)
                # flush: only the save dir's file is emptied
                sd = os.path.join(self.savedir, p.name)
                if changes > 0 and os.path.exists(sd):
                    fd = _open_locked(sd, True)
                    try:
                        os.ftruncate(fd, 0)
                    finally:
                        os.close(fd)
                if changes == 0:
                    return
                p = np
            real = os.path.realpath(p.path)
            d = os.path.dirname(real)
            fd, tmp = tempfile.mkstemp(prefix=".%s.uci-" % p.name, dir=self.confdir)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                os.write(fd, export_package(p, header=False, name_anon=self.export_name).encode("utf-8", "surrogateescape"))
                os.fsync(fd)
                os.close(fd)
                os.chmod(tmp, os.stat(real).st_mode & 0o7777)
                os.rename(tmp, real)
            except OSError:
                try:
                    os.unlink(tmp)
                except OSError:
                    pass
                raise UciError(ERR_IO)
            _ = d
        finally:
            try:
                fcntl.flock(f1, fcntl.LOCK_UN)
            finally:
                os.close(f1)

    def revert(self, p, section=None, option=None):
        path = os.path.join(self.savedir, p.name)
        if not os.path.exists(path):
            return
        fd = _open_locked(path, True, create=True)
        try:
            with os.fdopen(os.dup(fd), "r", encoding="utf-8", errors="surrogateescape", newline="") as f:
                text = f.read()
            keep = []
            import io
            lx = Lexer(io.StringIO(text))
            while True:
                lx.new_line()
                if lx.eof and lx.buf == "":
                    break
                try:
                    arg = lx.next_arg()
                    cmd = CMD_CHANGE
                    for c, ch in CMD_CHAR.items():
                        if ch and arg and arg[0] == ch:
                            cmd, arg = c, arg[1:]
                            break
                    ptr = parse_ptr(arg)
                except UciError:
                    if lx.eof:
                        break
                    continue
                match = True
                if section is not None and ptr.section != section:
                    match = False
                if match and option is not None and ptr.option != option:
                    match = False
                if not match and ptr.section is not None:
                    keep.append(delta_line(p.name, (cmd, ptr.section, ptr.option, ptr.value)))
                if lx.eof:
                    break
            os.lseek(fd, 0, os.SEEK_SET)
            os.ftruncate(fd, 0)
            os.write(fd, "".join(keep).encode("utf-8", "surrogateescape"))
        finally:
            os.close(fd)


def delta_line(pkg, d):
    cmd, section, option, value = d
    s = "%s%s.%s" % (CMD_CHAR[cmd], pkg, section)
    if option is not None:
        s += "." + option
    if cmd == CMD_REMOVE and value is None:
        return s + "\n"
    return s + "='" + escape(value) + "'\n"


def _strtoul(v):
    n = ""
    for c in v.strip():
        if c.isdigit():
            n += c
        else:
            break
    return int(n) if n else 0


def _sscanf_int(v):
    v = v.lstrip()
    n = ""
    for i, c in enumerate(v):
        if c.isdigit() or (i == 0 and c in "+-"):
            n += c
        else:
            break
    try:
        return int(n)
    except ValueError:
        return None


def _set_option(s, name, value):
    old = s.get(name)
    if old is not None:
        s.options.remove(old)  # libuci frees and re-allocates: the option moves to the end
    o = Option(name, value)
    s.options.append(o)
    return o


def _add_list(s, name, value):
    o = s.get(name)
    if o is not None and o.is_list:
        o.value.append(value)
        return o
    items = [o.value, value] if o is not None else [value]
    if o is not None:
        s.options.remove(o)
    o = Option(name, items)
    s.options.append(o)
    return o


def reorder(p, s, pos, record=True):
    p.sections.remove(s)
    pos = max(0, pos)
    p.sections.insert(min(pos, len(p.sections)), s)
    if record and p.has_delta:
        p.delta.append((CMD_REORDER, s.name, None, str(pos)))


def load_for_daemon(name, confdir=None, apply_delta=True):
    """How netifd/fw4 load a config: a default libuci context, i.e. the
    committed file plus the deltas staged in /tmp/.uci (netifd config.c
    config_init_package -> uci_alloc_context + uci_load)."""
    ctx = Context(confdir)
    try:
        return ctx.load(name, apply_delta=apply_delta)
    except UciError:
        return None


def section_dict(s):
    return {o.name: o.value for o in s.options}
