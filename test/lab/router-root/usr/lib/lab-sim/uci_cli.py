# Lab stand-in for OpenWrt's /sbin/uci (see /usr/lib/lab-sim/ucisim.py).
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.realpath(__file__)))
import ucisim as U  # noqa: E402

APP = "uci"
USAGE = """Usage: %s [<options>] <command> [<arguments>]

Commands:
\tbatch
\texport     [<config>]
\timport     [<config>]
\tchanges    [<config>]
\tcommit     [<config>]
\tadd        <config> <section-type>
\tadd_list   <config>.<section>.<option>=<string>
\tdel_list   <config>.<section>.<option>=<string>
\tshow       [<config>[.<section>[.<option>]]]
\tget        <config>.<section>[.<option>]
\tset        <config>.<section>[.<option>]=<value>
\tdelete     <config>[.<section>[[.<option>][=<id>]]]
\trename     <config>.<section>[.<option>]=<name>
\trevert     <config>[.<section>[.<option>]]
\treorder    <config>.<section>=<position>

Options:
\t-c <path>  set the search path for config files (default: /etc/config)
\t-d <str>   set the delimiter for list values in uci show
\t-f <file>  use <file> as input instead of stdin
\t-m         when importing, merge data into an existing package
\t-n         name unnamed sections on export (default)
\t-N         don't name unnamed sections
\t-p <path>  add a search path for config change files
\t-P <path>  add a search path for config change files and use as default
\t-t <path>  set save path for config change files
\t-q         quiet mode (don't print error messages)
\t-s         force strict mode (stop on parser errors, default)
\t-S         disable strict mode
\t-X         do not use extended syntax on 'show'

"""


class Cli:
    def __init__(self):
        self.ctx = U.Context()
        self.quiet = False
        self.nocommit = False
        self.batch = False
        self.show_ext = True
        self.delimiter = " "
        self.input = sys.stdin
        self.out = []

    def write(self, s):
        sys.stdout.write(s)

    def perror(self, err):
        if not self.quiet:
            sys.stdout.flush()
            sys.stderr.write(err.message(APP) + "\n")
            sys.stderr.flush()

    def error(self, msg):
        if not self.quiet:
            sys.stdout.flush()
            sys.stderr.write(msg)
            sys.stderr.flush()

    # ---- output helpers (cli.c)
    @staticmethod
    def quote(v):
        return "'" + v.replace("'", "'\\''") + "'"

    def value_str(self, o, quote):
        if not o.is_list:
            return (self.quote(o.value) if quote else o.value) + "\n"
        parts = []
        for item in o.value:
            if not quote and not any(c in item for c in " \t\r\n"):
                parts.append(item)
            else:
                parts.append(self.quote(item))
        return self.delimiter.join(parts) + "\n"

    def show_section(self, pkg, s, ref=None):
        sname = ref or s.name
        self.write("%s.%s=%s\n" % (pkg.name, sname, s.type))
        for o in s.options:
            self.write("%s.%s.%s=%s" % (pkg.name, sname, o.name, self.value_str(o, True)))

    def show_package(self, pkg):
        counts = {}
        for s in pkg.sections:
            idx = counts.get(s.type, 0)
            counts[s.type] = idx + 1
            ref = None
            if self.show_ext and s.anonymous:
                ref = "@%s[%d]" % (s.type, idx)
            self.show_section(pkg, s, ref)

    def show_changes(self, pkg):
        for cmd, section, option, value in pkg.saved_delta:
            prefix = "-" if cmd == U.CMD_REMOVE else ""
            op = {U.CMD_LIST_ADD: "+=", U.CMD_LIST_DEL: "-="}.get(cmd, "=")
            line = "%s%s.%s" % (prefix, pkg.name, section)
            if option is not None:
                line += "." + option
            if cmd != U.CMD_REMOVE:
                line += op + self.quote(value if value is not None else "")
            self.write(line + "\n")

    # ---- commands
    def package_cmd(self, cmd, tuple_):
        try:
            ptr = self.ctx.lookup(tuple_)
        except U.UciError as e:
            self.perror(e)
            return 1
        p = ptr.p
        if cmd == "changes":
            self.show_changes(p)
        elif cmd == "commit":
            if self.nocommit:
                return 0
            try:
                self.ctx.commit(p)
            except U.UciError as e:
                self.perror(e)
                return 1
        elif cmd == "export":
            self.write(U.export_package(p, header=True, name_anon=self.ctx.export_name))
        elif cmd == "show":
            if not ptr.complete:
                self.perror(U.UciError(U.ERR_NOTFOUND))
                return 1
            if ptr.o is not None:
                self.write("%s.%s.%s=%s" % (p.name, ptr.s.name, ptr.o.name, self.value_str(ptr.o, True)))
            elif ptr.s is not None:
                self.show_section(p, ptr.s)
            else:
                self.show_package(p)
        return 0

    def do_package_cmd(self, cmd, args):
        if len(args) > 2:
            return 255
        if len(args) == 2:
            return self.package_cmd(cmd, args[1])
        try:
            names = self.ctx.list_configs()
        except U.UciError as e:
            self.perror(e)
            return 1
        for n in names:
            self.package_cmd(cmd, n)
        return 0

    def do_add(self, args):
        if len(args) != 3:
            return 255
        try:
            p = self.ctx.load(args[1])
            if not U.validate_type(args[2]):
                raise U.UciError(U.ERR_INVAL)
            s = p.add_section(args[2])
            self.ctx.save(p)
        except U.UciError as e:
            self.perror(e)
            return e.code
        self.write(s.name + "\n")
        return 0

    def do_section_cmd(self, cmd, args):
        if len(args) != 2:
            return 255
        try:
            ptr = self.ctx.lookup(args[1])
        except U.UciError as e:
            self.perror(e)
            return 1
        if ptr.value is not None and cmd not in ("set", "delete", "add_list", "del_list", "rename", "reorder"):
            return 1
        ctx = self.ctx
        try:
            if cmd == "get":
                if not ptr.complete:
                    self.perror(U.UciError(U.ERR_NOTFOUND))
                    return 1
                if ptr.o is not None:
                    self.write(self.value_str(ptr.o, False))
                elif ptr.s is not None:
                    self.write(ptr.s.type + "\n")
                return 0
            if cmd == "revert":
                ctx.revert(ptr.p, ptr.section if ptr.section is not None else None, ptr.option)
                return 0
            if cmd == "set":
                ctx.set(ptr)
            elif cmd == "add_list":
                ctx.add_list(ptr)
            elif cmd == "del_list":
                ctx.del_list(ptr)
            elif cmd == "rename":
                if ptr.value is not None and not U.validate_name(ptr.value):
                    raise U.UciError(U.ERR_INVAL)
                ctx.rename(ptr)
            elif cmd == "reorder":
                if ptr.s is None or ptr.value is None:
                    self.perror(U.UciError(U.ERR_NOTFOUND))
                    return 1
                U.reorder(ptr.p, ptr.s, U._strtoul(ptr.value))
            elif cmd == "delete":
                if ptr.value is not None and U._sscanf_int(ptr.value) is None:
                    return 1
                ctx.delete(ptr)
            ctx.save(ptr.p)
        except U.UciError as e:
            self.perror(e)
            return 1
        return 0

    def run_batch(self):
        self.batch = True
        lx = U.Lexer(self.input)
        while True:
            lx.new_line()
            if lx.eof and lx.buf == "":
                break
            argv = []
            err = None
            try:
                while True:
                    if len(argv) == 4:
                        err = "too_many"
                        break
                    a = lx.next_arg()
                    if not a:
                        break
                    argv.append(a)
            except U.UciError as e:
                self.perror(e)
                argv = []
            if err == "too_many":
                self.error("Too many arguments\n")
                argv = []
            if argv:
                if argv[0].lower() == "exit":
                    return 0
                ret = self.cmd(argv)
                if ret == 255:
                    self.error("Unknown command\n")
            sys.stdout.flush()
            if lx.eof:
                break
        self.batch = False
        return 0

    def cmd(self, argv):
        c = argv[0].lower()
        if c == "batch" and not self.batch:
            return self.run_batch()
        alias = {"ren": "rename", "del": "delete"}
        c = alias.get(c, c)
        if c in ("get", "set", "add_list", "del_list", "delete", "rename", "revert", "reorder"):
            return self.do_section_cmd(c, argv)
        if c in ("show", "changes", "export", "commit"):
            return self.do_package_cmd(c, argv)
        if c == "add":
            return self.do_add(argv)
        if c == "import":
            self.error("uci: import is not implemented by the lab simulation\n")
            return 1
        if c == "help":
            sys.stderr.write(USAGE % APP)
            return 0
        return 255


def main(argv):
    cli = Cli()
    args = argv[1:]
    i = 0
    while i < len(args):
        a = args[i]
        if a == "--" or not a.startswith("-") or a == "-":
            if a == "--":
                i += 1
            break
        j = 1
        while j < len(a):
            o = a[j]
            if o in "cdfpPt":
                if j + 1 < len(a):
                    val = a[j + 1:]
                else:
                    i += 1
                    if i >= len(args):
                        sys.stderr.write(USAGE % APP)
                        return 0
                    val = args[i]
                if o == "c":
                    cli.ctx.confdir = val
                elif o == "d":
                    cli.delimiter = val
                elif o == "f":
                    if cli.input is not sys.stdin:
                        cli.error("Too many input files.\n")
                        return 1
                    try:
                        cli.input = open(val, "r", encoding="utf-8", errors="surrogateescape", newline="")
                    except OSError as e:
                        cli.error("uci: %s" % e.strerror)
                        return 1
                elif o == "p":
                    try:
                        cli.ctx.add_delta_path(val)
                    except U.UciError:
                        pass
                elif o == "P":
                    cli.ctx.set_savedir(val)
                    cli.nocommit = True
                elif o == "t":
                    cli.ctx.set_savedir(val)
                break
            if o == "m":
                pass
            elif o == "s":
                cli.ctx.strict = True
            elif o == "S":
                cli.ctx.strict = False
            elif o == "n":
                cli.ctx.export_name = True
            elif o == "N":
                cli.ctx.export_name = False
            elif o == "q":
                cli.quiet = True
            elif o == "X":
                cli.show_ext = False
            elif o == "L":
                pass
            else:
                sys.stderr.write(USAGE % APP)
                return 0
            j += 1
        i += 1
    rest = args[i:]
    if not rest:
        sys.stderr.write(USAGE % APP)
        return 0
    if cli.input is sys.stdin:
        sys.stdin.reconfigure(encoding="utf-8", errors="surrogateescape", newline="")
    sys.stdout.reconfigure(encoding="utf-8", errors="surrogateescape")
    ret = cli.cmd(rest)
    if ret == 255:
        sys.stderr.write(USAGE % APP)
    sys.stdout.flush()
    return ret


if __name__ == "__main__":
    sys.exit(main(sys.argv))
