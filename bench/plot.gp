# plot.gp - throughput by message size: direct, zmq_proxy and zrelay.
#   gnuplot -e "datafile='plot.dat'; outfile='perf-throughput.png'" plot.gp
# datafile is zrelay-bench --plot-data: one block per pattern and
# transport, named in its first comment line ("# streamer tcp"); columns:
# size, then median msgs/s of direct, zmq_proxy-thread, zrelay-thread,
# zmq_proxy-process, zrelay-process, then MB/s of each in the same order.
if (!exists("datafile")) datafile = 'plot.dat'
if (!exists("outfile")) outfile = 'perf-throughput.png'

set terminal pngcairo size 1400,1000 font "DejaVu Sans,11" noenhanced
set output outfile
set datafile missing "NaN"
set logscale xy
set xtics ("16 B" 16, "256 B" 256, "1 KiB" 1024, "8 KiB" 8192, "64 KiB" 65536)
set format y "%.0s%c"
set grid xtics ytics mytics lc rgb "#dddddd"
set key bottom left box opaque
set xlabel "message size"
set ylabel "messages/s (median)"
set xrange [12:90000]

set style line 1 lc rgb "#444444" lw 2 pt 7 ps 1.1
set style line 2 lc rgb "#d95f02" lw 2 pt 5 ps 1.1 dt 2
set style line 3 lc rgb "#1b9e77" lw 2 pt 9 ps 1.3 dt 2
set style line 4 lc rgb "#d95f02" lw 2 pt 4 ps 1.1
set style line 5 lc rgb "#1b9e77" lw 2 pt 8 ps 1.3

set multiplot layout 2,2 title "zrelay-bench: throughput by message size (thr = in a thread, proc = separate process)"

do for [name in "streamer_tcp streamer_ipc streamer_inproc dealer_tcp"] {
    block = name[1:strstrt(name, "_") - 1] . " " . name[strstrt(name, "_") + 1:]
    set title block
    if (strstrt(block, "inproc") > 0) {
        plot datafile index block using 1:2 with linespoints ls 1 title "direct", \
             '' index block using 1:3 with linespoints ls 2 title "zmq_proxy thr", \
             '' index block using 1:4 with linespoints ls 3 title "zrelay thr"
    } else {
        plot datafile index block using 1:2 with linespoints ls 1 title "direct", \
             '' index block using 1:3 with linespoints ls 2 title "zmq_proxy thr", \
             '' index block using 1:4 with linespoints ls 3 title "zrelay thr", \
             '' index block using 1:5 with linespoints ls 4 title "zmq_proxy proc", \
             '' index block using 1:6 with linespoints ls 5 title "zrelay proc"
    }
}
unset multiplot
