# SPDX-License-Identifier: Apache-2.0
# charts.gp — draws bench/run.sh's headline comparisons as PNG charts from the data files beside them.
#
#   gnuplot -e "dir='bench/charts'" bench/charts.gp
#
# Each chart is drawn when its data file is in DIR (default .), and written there:
#   switch.png                     switch.dat [+ switch_instructions.dat]     (bench/run.sh)
#   shared_stack.png               shared_stack.dat, libaco_published.dat     (bench/run.sh)
#   shared_stack_instructions.png  shared_stack_instructions.dat (bench/shared_curve.sh),
#                                  libaco_instructions.dat (a copy of bench/libaco_instructions.dat)
#   redis_cpu.png                  redis.dat                                  (bench/redis.py --data)
#   tcp.png                        tcp.dat                                    (bench/tcp.py --data)
# A data file is whitespace columns after `#` notes; its `# machine:` and
# `# run:` notes become the chart's subtitle.

if (!exists("dir")) dir = "."
path(f) = dir . "/" . f
has(f) = system("test -s '" . path(f) . "' && echo 1 || echo 0") eq "1"
note(f, key) = system("sed -n 's/^# " . key . ": //p' '" . path(f) . "' | head -n 1")
subtitle(f) = note(f, "machine") . ";  " . note(f, "run")
# rows of f for which the awk condition holds (the notes kept)
rows(f, cond) = "< awk '/^#/ || (" . cond . ")' '" . path(f) . "'"
# column col of f's row whose first column is key, as a number
field(f, key, col) = system(sprintf("awk '$1 == \"%s\" { print $%d; exit }' '%s'", key, col, path(f))) + 0

# one colour per program, the same in every chart
c_co = 0x1f5fa8       # libcostack, coproxy (threads = 1)
c_co2 = 0x7fb0e0      # coproxy, threads = 2
c_co3 = 0x0b2f5a      # coproxy, threads = 1, RESP3 clients
c_peer = 0xe07b24     # what it is compared with: swapcontext, libaco, twemproxy, HAProxy
c_floor = 0x9a9a9a    # relay_epoll, the least a relay does
target_colour(s) = s eq "coproxy" ? c_co : s eq "haproxy" ? c_peer : c_floor
target_name(s) = s eq "haproxy" ? "HAProxy" : s
case_colour(s) = s eq "swapcontext" ? c_peer : c_co
# a redis-benchmark configuration (redis.dat's test, clients, size) as a tic label
bytes(d) = d >= 1024 ? sprintf("%d KiB", d / 1024) : sprintf("%d B", d)
config(test, clients, size) = sprintf("%s -d %s\n-c %d", test eq "get" ? "GET" : "SET", bytes(size), clients)

# the terminal, less its size (a macro: setting a terminal again resets what is not named)
png = 'set terminal pngcairo noenhanced font "DejaVu Sans,10" size'
@png 1000,600
set style fill solid 0.85 border -1
set grid ytics lc rgb "#dddddd"
set key top left box opaque
set offsets 0, 0, graph 0.08, 0     # room above the tallest bar for its label

# ---- the switch: ns and instructions per resume + yield round trip ----------
if (has("switch.dat")) {
    set output path("switch.png")
    set multiplot layout 1, (has("switch_instructions.dat") ? 2 : 1) \
        title "Context switch: one co_resume + co_yield_ct round trip, libcostack against glibc swapcontext\n" \
              . subtitle("switch.dat")
    unset key
    set boxwidth 0.6
    set xrange [-0.6:2.6]
    set logscale y
    set yrange [1:*]
    set offsets 0, 0, 0, 0      # (a log axis ends a decade up: room enough)
    set title "wall clock (log scale)"
    set ylabel "ns per round trip"
    plot path("switch.dat") using 0:2:(case_colour(strcol(1))):xtic(1) with boxes lc rgb variable notitle, \
         '' using 0:2:(sprintf("%.1f ns", $2)) with labels offset 0,0.8 notitle
    unset logscale y
    set offsets 0, 0, graph 0.08, 0
    if (has("switch_instructions.dat")) {
        set yrange [0:*]
        set title "instructions (callgrind, exact)\nuser space only: swapcontext also makes two system calls"
        set ylabel "instructions per round trip"
        plot path("switch_instructions.dat") using 0:2:(case_colour(strcol(1))):xtic(1) \
                 with boxes lc rgb variable notitle, \
             '' using 0:2:(sprintf("%.1f", $2)) with labels offset 0,0.8 notitle
    }
    unset multiplot
    unset xrange; unset yrange; unset title
    set autoscale
    set key
}

# ---- the shared stack: the cost of saving and restoring frames --------------
if (has("shared_stack.dat") && has("libaco_published.dat")) {
    set output path("shared_stack.png")
    set title "Shared stack, two coroutines alternating (every resume saves one's frames, restores the other's)\n" \
              . subtitle("shared_stack.dat")
    set logscale x 2
    set xrange [8:8192]
    set yrange [0:*]
    set xlabel "bytes of frames saved and restored per switch (log scale)"
    set ylabel "ns per round trip"
    plot path("shared_stack.dat") using 1:2 with linespoints lw 2 pt 7 lc rgb c_co \
             title "libcostack, this machine (bench/switch)", \
         path("libaco_published.dat") using 1:2 with linespoints lw 2 pt 5 dt 2 lc rgb c_peer \
             title "libaco, its published figures (AWS c5d.large)"
    unset logscale x
    unset xrange; unset yrange; unset xlabel; unset title
}

if (has("shared_stack_instructions.dat") && has("libaco_instructions.dat")) {
    set output path("shared_stack_instructions.png")
    set title "Shared stack, two coroutines alternating: instructions per round trip (callgrind, exact)\n" \
              . "every size of saved frames 16 B apart; libaco v1.2.4 measured the same way " \
              . "(bench/libaco_instructions.dat)"
    set xrange [0:4200]
    set yrange [0:*]
    set xlabel "bytes of frames saved and restored per switch"
    set ylabel "instructions per round trip"
    plot path("shared_stack_instructions.dat") using 1:2 with steps lw 2 lc rgb c_co \
             title "libcostack (bench/shared_curve.sh)", \
         path("libaco_instructions.dat") using 1:2 with linespoints lw 2 pt 5 dt 2 lc rgb c_peer \
             title "libaco"
    unset xrange; unset yrange; unset xlabel; unset title
}

# ---- redis mode: CPU per million requests, per redis-benchmark configuration -
if (has("redis.dat")) {
    set output path("redis_cpu.png")
    @png 1100,860
    set style data histogram
    set style histogram clustered gap 1
    set boxwidth 0.9 relative
    set yrange [0:*]
    set ylabel "proxy CPU-s per million requests"
    set multiplot layout 2, 1 \
        title "Redis mode: CPU per million requests, coproxy against twemproxy (redis-benchmark)\n" \
              . subtitle("redis.dat") margins screen 0.08, 0.98, 0.08, 0.86 spacing screen 0.12
    set key at screen 0.5, screen 0.935 center top horizontal noopaque
    do for [p in "1 16"] {
        set xlabel (p eq "1" ? "not pipelined (-P 1)" : "pipelined (-P 16)") offset 0, -1.2
        if (p ne "1") { unset key }
        plot rows("redis.dat", "$3 == " . p) using 8:xtic(config(strcol(1), column(2), column(4))) \
                 lc rgb c_peer title "twemproxy", \
             '' using 10 lc rgb c_co title "coproxy, 1 thread", \
             '' using 12 lc rgb c_co2 title "coproxy, 2 threads", \
             '' using 14 lc rgb c_co3 title "coproxy, 1 thread, RESP3 clients"
    }
    unset multiplot
    @png 1000,600
    set style data points
    set key top left inside opaque
    unset yrange; unset xlabel; set autoscale
}

# ---- tcp mode: CPU per GB relayed and per million round trips -------------
if (has("tcp.dat")) {
    set output path("tcp.png")
    set multiplot layout 1, 2 \
        title "TCP mode: the relay's CPU, coproxy (threads = 1) against HAProxy (nbthread 1) and relay_epoll\n" \
              . subtitle("tcp.dat")
    unset key
    set boxwidth 0.6
    set xrange [-0.6:2.6]
    set yrange [0:*]
    relays = rows("tcp.dat", "$1 != \"direct\"")
    set title sprintf("bulk: one connection, 256 KiB writes\ncoproxy / HAProxy = %.2fx", \
        field("tcp.dat", "coproxy", 3) / field("tcp.dat", "haproxy", 3))
    set ylabel "CPU-s per GB relayed"
    plot relays using 0:3:(target_colour(strcol(1))):xtic(target_name(strcol(1))) with boxes lc rgb variable notitle, \
         '' using 0:3:(sprintf("%.3f", $3)) with labels offset 0,0.8 notitle
    set title sprintf("request/response: 50 connections, 64 B ping-pong\ncoproxy / HAProxy = %.2fx", \
        field("tcp.dat", "coproxy", 5) / field("tcp.dat", "haproxy", 5))
    set ylabel "CPU-s per million round trips"
    plot relays using 0:5:(target_colour(strcol(1))):xtic(target_name(strcol(1))) with boxes lc rgb variable notitle, \
         '' using 0:5:(sprintf("%.2f", $5)) with labels offset 0,0.8 notitle
    unset multiplot
}
