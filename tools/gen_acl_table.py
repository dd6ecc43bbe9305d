#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Writes proxy/acl_table.c: every command and subcommand a redis-server
knows, with its ACL categories and what its keys are read or written for,
as the server itself tells (COMMAND INFO).  Run it against the Redis the
table should follow:

    tools/gen_acl_table.py PORT > proxy/acl_table.c

tests/integration/test_acl.py checks the table against the redis-server the
tests run, so a Redis upgrade that moves a command shows there."""
import socket
import sys


def read_reply(f):
    line = f.readline()
    if not line.endswith(b"\r\n"):
        raise EOFError("connection closed")
    kind, rest = line[:1], line[1:-2]
    if kind in (b"+", b"-"):
        return rest.decode()
    if kind == b":":
        return int(rest)
    if kind == b"$":
        n = int(rest)
        if n < 0:
            return None
        data = f.read(n + 2)
        return data[:-2].decode()
    if kind in (b"*", b"~", b"%"):
        n = int(rest)
        if kind == b"%":
            n *= 2
        return [read_reply(f) for _ in range(n)]
    raise ValueError("unexpected reply type %r" % kind)


def command(sock, f, *args):
    out = b"*%d\r\n" % len(args)
    for a in args:
        a = a.encode()
        out += b"$%d\r\n%s\r\n" % (len(a), a)
    sock.sendall(out)
    return read_reply(f)


def pairs(lst):
    return dict(zip(lst[0::2], lst[1::2]))


def key_flags(specs):
    """(first key's, the others') flags: R for access, W for insert, delete or
    update; the first spec's, then the last one's (a destination after its
    sources, or a source before its destination)."""
    def one(spec):
        flags = pairs(spec)["flags"]
        v = ""
        if "access" in flags:
            v += "R"
        if any(x in flags for x in ("insert", "delete", "update")):
            v += "W"
        return v
    if not specs:
        return "", ""
    return one(specs[0]), one(specs[-1])


def entries(info, out):
    name, cats = info[0], [c[1:] for c in info[6]]
    specs = info[8] if len(info) > 8 else []
    first, rest = key_flags(specs)
    out.append((name, cats, first, rest))
    for sub in (info[9] if len(info) > 9 else []) or []:
        entries(sub, out)


def main():
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 6379
    sock = socket.create_connection(("127.0.0.1", port))
    f = sock.makefile("rb")
    cats = command(sock, f, "ACL", "CAT")
    table = []
    for info in command(sock, f, "COMMAND"):
        entries(info, table)
    table.sort(key=lambda e: e[0])
    version = [l for l in command(sock, f, "INFO", "server").split("\r\n") if l.startswith("redis_version:")]
    p = print
    p("/* SPDX-License-Identifier: Apache-2.0 */")
    p("/* acl_table.c — every Redis command and subcommand with its ACL categories and key access (generated). */")
    p("/* Written by tools/gen_acl_table.py from Redis %s's COMMAND: do not edit by hand. */" %
      version[0].split(":")[1] if version else "?")
    p('#include "acl_table.h"')
    p("")
    p("#if ACL_NCOMMANDS != %d" % len(table))
    p("#error \"acl_table.h: ACL_NCOMMANDS must be %d\"" % len(table))
    p("#endif")
    p("")
    p("const char *const acl_category_names[ACL_NCATEGORIES] = {")
    for i in range(0, len(cats), 6):
        p("    " + " ".join('"%s",' % c for c in cats[i:i + 6]))
    p("};")
    p("")
    p("#define C(x) (1u << ACL_CAT_##x)")
    p("#define R ACL_KEY_READ")
    p("#define W ACL_KEY_WRITE")
    p("#define RW (ACL_KEY_READ | ACL_KEY_WRITE)")
    p("#define N 0")
    p("")
    p("const struct acl_command acl_commands[ACL_NCOMMANDS] = {")
    for name, ccats, first, rest in table:
        mask = " | ".join("C(%s)" % c.upper() for c in ccats) or "0"
        p('    { "%s", %s, %s, %s },' % (name, mask, first or "N", rest or "N"))
    p("};")
    sys.stderr.write("%d categories, %d commands\n" % (len(cats), len(table)))


if __name__ == "__main__":
    main()
