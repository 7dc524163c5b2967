#!/usr/bin/env python3
"""Prints the Markdown table of every command usher serves, from a running server's
COMMAND DOCS (name, group, summary, complexity), so docs/commands.md never drifts from the
command table. Usage: scripts/gen-command-table.py [port]  (default 6379)."""
import socket
import sys


def command(sock, *args):
    out = b"*%d\r\n" % len(args)
    for a in args:
        a = a.encode() if isinstance(a, str) else a
        out += b"$%d\r\n%s\r\n" % (len(a), a)
    sock.sendall(out)
    return read(sock.makefile("rb"))


def read(f):
    line = f.readline().rstrip(b"\r\n")
    kind, rest = line[:1], line[1:]
    if kind in (b"+", b"-", b":"):
        return rest.decode()
    if kind == b"$":
        n = int(rest)
        return None if n < 0 else f.read(n + 2)[:-2].decode()
    if kind == b"*":
        return [read(f) for _ in range(int(rest))]
    raise ValueError(line)


def main():
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 6379
    sock = socket.create_connection(("127.0.0.1", port))
    docs = command(sock, "COMMAND", "DOCS")
    rows = {}
    for name, fields in zip(docs[::2], docs[1::2]):
        info = dict(zip(fields[::2], fields[1::2]))
        rows[name] = info
    groups = {}
    for name, info in rows.items():
        groups.setdefault(info.get("group", ""), []).append((name, info))
    order = ["queue", "string", "generic", "list", "hash", "set", "sorted-set", "transactions",
             "pubsub", "connection", "server"]
    print("| command | summary | complexity |")
    print("| --- | --- | --- |")
    for group in order + sorted(set(groups) - set(order)):
        for name, info in sorted(groups.get(group, [])):
            subs = info.get("subcommands")
            names = [name] if not subs else [s for s in subs[::2]]
            infos = [info] if not subs else [dict(zip(v[::2], v[1::2])) for v in subs[1::2]]
            for n, i in zip(names, infos):
                summary = i.get("summary", "").replace("|", "\\|")
                complexity = i.get("complexity", "").replace("|", "\\|")
                print(f"| `{n.upper().replace('|', ' ')}` ({group}) | {summary} | {complexity} |")


if __name__ == "__main__":
    main()
