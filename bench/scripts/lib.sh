# Helpers the benchmark scripts share; sourced, never run: . "$root/bench/scripts/lib.sh"

# A TCP port free on 127.0.0.1 now (the kernel picks it).
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }

# A process's CPU time so far (utime + stime), in clock ticks (getconf CLK_TCK per second).
cpu_ticks() { awk '{print $14+$15}' "/proc/$1/stat"; }

# A process's resident memory in KiB (empty once it is gone).
rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status" 2>/dev/null || true; }
