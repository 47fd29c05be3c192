#!/usr/bin/env python3
"""CPU time of a process per request, per thread name (bench/load.sh).

usage: cpu.py snapshot PID > before.json
       cpu.py report before.json after.json REQUESTS
Reads /proc/PID/task/*/stat (utime, stime in clock ticks); thread names are grouped by the
part before '|' (actix names its workers 'actix-rt|system:…'). The total comes from
/proc/PID/stat, which keeps the time of threads that ended during the run (tokio's blocking
threads end after 10 s idle), so the per-thread lines may sum to less."""
import json
import os
import sys

TICK_US = 1e6 / os.sysconf("SC_CLK_TCK")


def snapshot(pid):
    stat = open(f"/proc/{pid}/stat").read()
    fields = stat[stat.rindex(")") + 2 :].split()
    out = {"": [int(fields[11]), int(fields[12])]}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            stat = open(f"/proc/{pid}/task/{tid}/stat").read()
        except FileNotFoundError:
            continue  # the thread ended between listing and reading
        name = stat[stat.index("(") + 1 : stat.rindex(")")].split("|")[0]
        fields = stat[stat.rindex(")") + 2 :].split()
        acc = out.setdefault(name, [0, 0])
        acc[0] += int(fields[11])
        acc[1] += int(fields[12])
    return out


def report(before, after, requests):
    def per_request(name):
        (u1, s1), (u0, s0) = after.get(name, [0, 0]), before.get(name, [0, 0])
        return (u1 - u0) * TICK_US / requests, (s1 - s0) * TICK_US / requests

    for name in sorted(n for n in after if n):
        user, sys_ = per_request(name)
        if user + sys_ > 0:
            print(f"   server thread {name:18s} user {user:5.1f} µs  sys {sys_:5.1f} µs per request")
    user, sys_ = per_request("")
    print(f"   server CPU per request: {user + sys_:.1f} µs (user {user:.1f}, sys {sys_:.1f})")


if __name__ == "__main__":
    if sys.argv[1] == "snapshot":
        json.dump(snapshot(sys.argv[2]), sys.stdout)
    else:
        report(json.load(open(sys.argv[2])), json.load(open(sys.argv[3])), int(sys.argv[4]))
