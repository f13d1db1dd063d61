# plot-scale.gp - the plots of `make bench-scale`, one PNG per scenario.
#   gnuplot -e "scenario='fanout'; datafile='scale-fanout.dat'; \
#               outfile='perf-scale-fanout.png'" plot-scale.gp
# The queue also reads varsfile (scale-queue.vars: its strategies and
# client counts). datafile is what zrelay-bench-scale --out writes: one
# block per line of the plot, named in its first comment line; every value
# is a triple, median, min and max of the rounds ("?": none).
if (!exists("scenario")) scenario = 'fanout'
if (!exists("datafile")) datafile = 'scale-'.scenario.'.dat'
if (!exists("outfile")) outfile = 'perf-scale-'.scenario.'.png'

set terminal pngcairo size 1400,520 font "DejaVu Sans,11" noenhanced
set output outfile
set datafile missing "?"
set grid ytics mytics xtics lc rgb "#dddddd"
set key top left Left reverse box opaque
set format y "%.1s%c"

set style line 1 lc rgb "#1b9e77" lw 2 pt 9 ps 1.3
set style line 2 lc rgb "#d95f02" lw 2 pt 5 ps 1.1
set style line 3 lc rgb "#7570b3" lw 2 pt 7 ps 1.1
set style line 4 lc rgb "#e7298a" lw 2 pt 11 ps 1.2
set style line 5 lc rgb "#666666" lw 1 dt 2

note = "(median of the rounds; bars: their min-max)"

if (scenario eq 'fanout') {
    set multiplot layout 1,2 title "Forwarder fan-out: PUB -> forwarder -> N SUB over tcp, 16 B ".note
    set logscale x
    set autoscale x
    set offsets graph 0.06, graph 0.06, 0, 0
    set xtics ("1" 1, "10" 10, "100" 100, "1,000" 1000)
    set xlabel "subscribers"
    set yrange [0:*]
    set title "messages delivered per second, all subscribers together"
    set ylabel "msgs/s"
    plot datafile index "fanout zrelay" using 1:2:3:4 with yerrorlines ls 1 title "zrelay", \
         '' index "fanout zmq_proxy" using 1:2:3:4 with yerrorlines ls 2 title "zmq_proxy"
    set title "relay CPU per delivered message (all its threads)"
    set ylabel "microseconds"
    set format y "%.2f"
    set key top right
    plot datafile index "fanout zrelay" using 1:5:6:7 with yerrorlines ls 1 title "zrelay", \
         '' index "fanout zmq_proxy" using 1:5:6:7 with yerrorlines ls 2 title "zmq_proxy"
    unset multiplot
}

if (scenario eq 'subs') {
    set terminal pngcairo size 1600,480 font "DejaVu Sans,11" noenhanced
    set output outfile
    set multiplot layout 1,4 title "Subscriptions: N distinct prefixes over 4 SUB sockets, a forwarder over tcp ".note
    set logscale x
    set autoscale x
    set offsets graph 0.06, graph 0.06, 0, 0
    set xtics ("10" 10, "1,000" 1000, "100,000" 100000)
    set xlabel "subscriptions"
    set yrange [0:*]
    set title "msgs/s through (16 B, each matching one)"
    set ylabel "msgs/s"
    plot datafile index "subs zrelay" using 1:2:3:4 with yerrorlines ls 1 title "zrelay", \
         '' index "subs zmq_proxy" using 1:2:3:4 with yerrorlines ls 2 title "zmq_proxy"
    set title "relay CPU per subscription taken"
    set ylabel "microseconds"
    set format y "%.0f"
    plot datafile index "subs zrelay" using 1:14:15:16 with yerrorlines ls 1 title "zrelay", \
         '' index "subs zmq_proxy" using 1:14:15:16 with yerrorlines ls 2 title "zmq_proxy"
    set title "relay RSS per subscription"
    set ylabel "bytes"
    plot datafile index "subs zrelay" using 1:5:6:7 with yerrorlines ls 1 title "zrelay", \
         '' index "subs zmq_proxy" using 1:5:6:7 with yerrorlines ls 2 title "zmq_proxy"
    set title "zrelay ctl EP stats --json, whole command"
    set ylabel "milliseconds"
    plot datafile index "subs zrelay" using 1:8:9:10 with yerrorlines ls 1 title "zrelay"
    unset multiplot
}

if (scenario eq 'queue') {
    load varsfile
    set terminal pngcairo size 500 * |strat| + 100,500 font "DejaVu Sans,11" noenhanced
    set output outfile
    set multiplot layout 1,|strat| title "zrelay queue: relay CPU per request (all its threads) by workers and clients, tcp ".note
    set logscale x
    set autoscale x
    set offsets graph 0.06, graph 0.06, 0, 0
    set xtics ("10" 10, "100" 100, "1,000" 1000)
    set xlabel "lbbroker REQ workers"
    set ylabel "microseconds per request"
    set format y "%.0f"
    set yrange [0:*]
    do for [s = 1:|strat|] {
        set title "--strategy ".strat[s]
        # A client count without a single point: its cells failed.
        failed = ""
        do for [c = 1:|clients|] {
            stats datafile index sprintf("[q %d %d]", s, c) \
                using (valid(2) ? 1 : 0) nooutput
            if (STATS_sum == 0) {
                failed = failed.sprintf("%s%d", failed eq "" ? "" : ", ", clients[c])
            }
        }
        unset label 1
        if (failed ne "") {
            set label 1 "failed (no line): ".failed." clients" \
                at graph 0.04, graph 0.06 tc rgb "#b00000"
        }
        plot for [c = 1:|clients|] datafile index sprintf("[q %d %d]", s, c) \
            using 1:2:3:4 with yerrorlines ls c title sprintf("%d clients", clients[c])
    }
    unset multiplot
}

if (scenario eq 'churn') {
    set multiplot layout 1,2 title "Connection churn: 1,000 SUB connects/closes a second, steady PUB -> forwarder -> SUB at full speed, tcp ".note
    set style fill solid 0.6 border -1
    set boxwidth 0.7
    set xrange [-0.6:5.6]
    set bmargin 4
    set xtics ("zrelay\nsteady" 0, "zrelay\nchurn on it" 1, \
               "zrelay\nelsewhere" 2, "zmq_proxy\nsteady" 3, \
               "zmq_proxy\nchurn on it" 4, "zmq_proxy\nelsewhere" 5)
    set key off
    set yrange [0:*]
    set title "steady stream, msgs/s"
    set ylabel "msgs/s"
    # zrelay green, zmq_proxy orange, as in the other plots.
    colour(x) = int(x) / 3 == 0 ? 0x1b9e77 : 0xd95f02
    plot datafile index "churn" using 1:3:4:5:(0.7):(colour($1)) \
        with boxerrorbars lc rgb variable
    set title "steady stream over the same relay's steady-only run (dashed: 0.9)"
    set ylabel "ratio"
    set format y "%.1f"
    set yrange [0:1.6]
    plot datafile index "churn" using 1:6:7:8:(0.7):(colour($1)) \
        with boxerrorbars lc rgb variable, \
        0.9 with lines ls 5
    unset multiplot
}

if (scenario eq 'io') {
    set multiplot layout 1,2 title "zrelay streamer --io-threads 1 and 2, PUSH -> PULL over tcp on 2 cores ".note
    set logscale x 2
    set autoscale x
    set offsets graph 0.06, graph 0.06, 0, 0
    set xtics ("1 KiB" 1024, "8 KiB" 8192, "64 KiB" 65536)
    set xlabel "message size"
    set yrange [0:*]
    set title "throughput"
    set ylabel "MB/s"
    set format y "%.0f"
    plot datafile index "io 1" using 1:2:3:4 with yerrorlines ls 1 title "--io-threads 1", \
         '' index "io 2" using 1:2:3:4 with yerrorlines ls 3 title "--io-threads 2"
    set title "--io-threads 2 over 1, round by round"
    set ylabel "ratio"
    set format y "%.1f"
    set yrange [0:1.6]
    plot datafile index "io 2" using 1:8:9:10 with yerrorlines ls 3 title "2 / 1", \
         1 with lines ls 5 notitle
    unset multiplot
}
