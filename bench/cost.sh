#!/usr/bin/env bash
# cost.sh - what one message costs a relay process, zrelay against
# zmq_proxy: instructions (callgrind) and system calls (perf tracepoints).
# Counts, not times: the same on a busy machine (bench/README.md, "Cost
# per message").
#
#   bench/cost.sh [OPTIONS] [BUILD]        the tables (make bench-cost)
#   bench/cost.sh --check FILE [BUILD]     the plain streamer against the
#                                          baseline in FILE (ctest bench-cost)
#   bench/cost.sh --update FILE [BUILD]    measure it and write it into FILE
#
# BUILD is an optimized, non-sanitized build tree (default: build) with
# zrelay, zrelay-bench-zmq-proxy and zrelay-bench-cost. valgrind cannot run
# an ASan binary, so with --source SRC the script configures SRC into
# BUILD (Release, no tests) and builds those targets first.
#
# The method: the relay process runs alone under valgrind or perf stat;
# zrelay-bench-cost (bench/cost_drive.c) drives native traffic through it
# over tcp 127.0.0.1 (or ipc), from another process.
#   relay Ir   instructions of the whole relay process (every thread), run
#              twice, N and 2N messages: the difference over N is one
#              message's cost, start and stop cancel out
#   loop Ir    the same for the inclusive instructions of the relay's loop
#              function: zr__engine_run (zrelay) or zmq_proxy (libzmq)
#   syscalls   system calls of the relay process (raw_syscalls:sys_enter)
#              natively at full speed, counted during the traffic only, over
#              N: median and range of a few runs (a count that follows the
#              timing), with the top few by name
# The queue's figures are per round trip (request and reply), the
# others' per message.
set -euf -o pipefail
shopt -s inherit_errexit

usage() {
    cat >&2 <<'EOF'
usage: bench/cost.sh [OPTIONS] [BUILD]
       bench/cost.sh --check FILE | --update FILE [OPTIONS] [BUILD]
  --devices LIST     streamer,forwarder,reqrep,dealer (default: all)
  --sizes LIST       message sizes in bytes (default: 16,1024)
  --contenders LIST  zmq_proxy,zrelay (default: both)
  --transport T      tcp (default) or ipc
  --scale F          multiply every message count by F (default: 1)
  --no-perf          no syscall counts (perf needs root)
  --no-callgrind     no instruction counts
  --reps N           runs per cell, each a pair for callgrind (default: 3;
                     --check/--update: 5)
  --source SRC       configure and build SRC into BUILD first
  --keep DIR         keep the callgrind and perf files in DIR
EOF
    exit 2
}

BUILD=build
MODE=table
BASELINE=
SOURCE=
REPS=
DEVICES=streamer,forwarder,reqrep,dealer
SIZES=16,1024
CONTENDERS=zmq_proxy,zrelay
TRANSPORT=tcp
SCALE=1
PERF=1
CALLGRIND=1
KEEP=
while [ $# -gt 0 ]; do
    case $1 in
    --check | --update)
        [ $# -ge 2 ] || usage
        MODE=${1#--}
        BASELINE=$2
        shift
        ;;
    --devices) DEVICES=$2; shift ;;
    --sizes) SIZES=$2; shift ;;
    --contenders) CONTENDERS=$2; shift ;;
    --transport) TRANSPORT=$2; shift ;;
    --scale) SCALE=$2; shift ;;
    --reps) REPS=$2; shift ;;
    --source) SOURCE=$2; shift ;;
    --keep) KEEP=$2; shift ;;
    --no-perf) PERF=0 ;;
    --no-callgrind) CALLGRIND=0 ;;
    -h | --help) usage ;;
    -*) usage ;;
    *) BUILD=$1 ;;
    esac
    shift
done
case $TRANSPORT in tcp | ipc) ;; *) usage ;; esac
if [ -z "$REPS" ]; then
    REPS=3
    [ "$MODE" = table ] || REPS=5
fi

die() {
    echo "cost.sh: $*" >&2
    exit 1
}

# The regression check is the plain streamer, 16 B over tcp, zrelay.
CHECK_KEY=streamer-tcp-16

if [ "$MODE" != table ]; then
    # A test without valgrind is skipped (CTest's SKIP_RETURN_CODE).
    if ! command -v valgrind >/dev/null; then
        echo "cost.sh: valgrind is not installed: skipped" \
            "(scripts/deps.sh installs it)"
        exit 77
    fi
    DEVICES=streamer SIZES=16 CONTENDERS=zrelay TRANSPORT=tcp PERF=0
fi
if [ "$CALLGRIND" = 1 ]; then
    command -v valgrind >/dev/null ||
        die "valgrind is not installed (scripts/deps.sh), or --no-callgrind"
fi
if [ "$PERF" = 1 ] && ! perf stat -e raw_syscalls:sys_enter true \
    >/dev/null 2>&1; then
    echo "cost.sh: perf cannot count tracepoints here (not installed:" \
        "scripts/deps.sh --bench; or not root): no syscall counts" >&2
    PERF=0
fi

if [ -n "$SOURCE" ]; then
    CMAKE=${CMAKE:-cmake}
    "$CMAKE" -S "$SOURCE" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release \
        -DZR_SANITIZE=OFF -DZR_BUILD_TESTS=OFF -DZR_BUILD_EXAMPLES=OFF \
        >/dev/null || die "cannot configure $SOURCE into $BUILD"
    targets="zrelay zrelay-bench-cost"
    [ "$MODE" = table ] && targets="$targets zrelay-bench-zmq-proxy"
    # shellcheck disable=SC2086
    "$CMAKE" --build "$BUILD" -j "$(nproc 2>/dev/null || echo 2)" \
        --target $targets >/dev/null || die "cannot build $BUILD"
fi
DRIVE=$BUILD/zrelay-bench-cost
[ -x "$DRIVE" ] || die "no $DRIVE: build it (make build) or pass --source"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/zrelay-cost.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

# ---------------------------------------------------------------------
# One device, one contender, one size.

# The message count for a tool: enough that start and stop are noise,
# few enough that valgrind is done in seconds (the queue's round trips
# each wake the relay up).
count() { # TOOL DEVICE SIZE
    local n
    case $1:$2 in
    callgrind:reqrep) n=2000 ;;
    callgrind:dealer) n=20000 ;;
    callgrind:*) n=50000 ;;
    perf:reqrep) n=2000 ;;
    perf:dealer) n=50000 ;;
    perf:*) n=200000 ;;
    esac
    if [ "$3" -gt 4096 ]; then
        n=$((n / 4))
    fi
    awk -v n="$n" -v f="$SCALE" 'BEGIN { printf "%d", n * f }'
}

# The relay's command line, its endpoints binding where the driver finds
# them ("frontend bind ADDRESS"). Under callgrind the forwarder's XPUB
# gets a send HWM of 100,000 (both relays): valgrind runs a process's
# threads one at a time, in long slices, so the loop thread fills the
# 1,000 messages of the default before the I/O thread drains any, and the
# XPUB drops (libzmq's default for a slow subscriber) a varying share of
# the messages, each dropped one cheaper than a delivered one.
relay() { # TOOL CONTENDER DEVICE
    local verb=$3 bin opts=
    case $3 in reqrep | dealer) verb=queue ;; esac
    case $2 in
    zrelay) bin=$BUILD/zrelay ;;
    zmq_proxy) bin=$BUILD/zrelay-bench-zmq-proxy ;;
    *) die "unknown contender $2" ;;
    esac
    [ -x "$bin" ] || die "no $bin: build it (make build)"
    if [ "$1:$3" = callgrind:forwarder ]; then
        opts="--sndhwm 100000"
    fi
    if [ "$TRANSPORT" = tcp ]; then
        echo "$bin $verb $opts @tcp://127.0.0.1:* @tcp://127.0.0.1:*"
    else
        local d
        d=$(mktemp -d "$WORK/ipc.XXXXXX")
        echo "$bin $verb $opts @ipc://$d/front @ipc://$d/back"
    fi
}

# Run COUNT messages of DEVICE/SIZE through the relay: the driver's
# options, "--", and the command the relay runs under (valgrind, perf).
# The driver's line to stdout.
drive() { # TOOL CONTENDER DEVICE SIZE COUNT [OPTIONS] -- WRAPPER...
    local tool=$1 contender=$2 device=$3 size=$4 n=$5 err=$WORK/drive.err
    shift 5
    # shellcheck disable=SC2046
    "$DRIVE" "$device" "$size" "$n" "$@" $(relay "$tool" "$contender" \
        "$device") 2>"$err" || {
        cat "$err" >&2
        die "$contender $device $size B, $n messages: the run failed"
    }
}

# Instructions: RESULT="RELAY LOOP DELIVERED%" per message.
callgrind() { # CONTENDER DEVICE SIZE
    local loopfn=zr__engine_run n line k
    if [ "$1" = zmq_proxy ]; then
        loopfn=zmq_proxy
    fi
    n=$(count callgrind "$2" "$3")
    for k in 1 2; do
        local out=$WORK/cg.$k total loop
        line=$(drive callgrind "$1" "$2" "$3" $((n * k)) -- \
            valgrind -q --tool=callgrind --callgrind-out-file="$out")
        total=$(awk '/^summary:/ { print $2 }' "$out")
        loop=$(callgrind_annotate --inclusive=yes --threshold=100 "$out" |
            awk -v fn=":$loopfn " 'index($0, fn) && !found {
                gsub(",", "", $1); print $1; found = 1 }')
        line=${line#*delivered=}
        echo "${total:?no total in $out} ${loop:--} ${line%% *}" \
            >"$WORK/cg.$k.sum"
        if [ -n "$KEEP" ]; then
            mkdir -p "$KEEP"
            cp "$out" "$KEEP/callgrind.$1.$2.$3.$((n * k))"
        fi
    done
    RESULT=$(awk -v n="$n" 'NR == 1 { r = $1; l = $2 } NR == 2 {
        lp = l == "-" || $2 == "-" ? "-" : sprintf("%.0f", ($2 - l) / n)
        printf "%.0f %s %.1f\n", ($1 - r) / n, lp, 100 * $3 / (2 * n) }' \
        "$WORK/cg.1.sum" "$WORK/cg.2.sum")
}

# The median of a list of numbers, rounded, and half their range in % of
# it: "MEDIAN HALF".
spread() {
    printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END {
        m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
        printf "%.0f %.1f\n", m, m ? 50 * (v[NR] - v[1]) / m : 0 }'
}

# callgrind REPS times: RESULT="RELAY HALF% LOOP HALF% DELIVERED%" (the
# lowest delivered share).
callgrind_reps() { # CONTENDER DEVICE SIZE
    local r relays=() loops=() deliv=100.0 a b c lp
    for r in $(seq "$REPS"); do
        callgrind "$@"
        read -r a b c <<<"$RESULT"
        relays+=("$a")
        loops+=("$b")
        deliv=$(awk -v a="$deliv" -v b="$c" 'BEGIN {
            printf "%.1f\n", (b < a ? b : a) }')
    done
    lp="- -"
    if [ "${loops[0]}" != - ]; then
        lp=$(spread "${loops[@]}")
    fi
    RESULT="$(spread "${relays[@]}") $lp $deliv"
}

# The system calls perf counts one by one; the rest is "other".
SYSCALLS="getpid poll ppoll read write recvfrom sendto recvmsg sendmsg
    epoll_wait epoll_ctl futex sched_yield"

# System calls at full speed, counted during the traffic only (perf's
# control FIFOs: zrelay-bench-cost enables the counters when it starts
# and disables them when the far end has the end of stream), REPS
# times: RESULT="MEDIAN HALF% DELIVERED% name=per-msg..." per message (the
# median, half the range in % of it), the names the top four of the
# median run.
syscalls() { # CONTENDER DEVICE SIZE
    local n events=raw_syscalls:sys_enter line r sc tracefs
    n=$(count perf "$2" "$3")
    # Only the tracepoints this kernel has (an arm64 has no poll, say).
    for tracefs in /sys/kernel/tracing /sys/kernel/debug/tracing; do
        for sc in $SYSCALLS; do
            if [ -d "$tracefs/events/syscalls/sys_enter_$sc" ]; then
                events="$events,syscalls:sys_enter_$sc"
            fi
        done
        if [ "$events" != raw_syscalls:sys_enter ]; then
            break
        fi
    done
    rm -f "$WORK/ctl" "$WORK/ack"
    mkfifo "$WORK/ctl" "$WORK/ack"
    for r in $(seq "$REPS"); do
        local out=$WORK/perf.$r
        line=$(drive perf "$1" "$2" "$3" "$n" \
            --control "$WORK/ctl,$WORK/ack" -- \
            perf stat -x, -o "$out" -D -1 --control \
            "fifo:$WORK/ctl,$WORK/ack" -e "$events")
        line=${line#*delivered=}
        echo "${line%% *}" >"$out.delivered"
        if [ -n "$KEEP" ]; then
            mkdir -p "$KEEP"
            cp "$out" "$KEEP/perf.$1.$2.$3.$r"
        fi
    done
    # One line per run: total per message, delivered %, then name=per-msg
    # sorted by count; then the median, min and max of the totals.
    RESULT=$(for r in $(seq "$REPS"); do
        awk -F, -v n="$n" '
            FNR == 1 { f++ }
            f == 1 && $3 ~ /^(raw_)?syscalls:/ {
                name = $3; sub(/^.*:sys_enter_?/, "", name)
                c[name ? name : "total"] = $1
            }
            f == 2 { got = $1 }
            END {
                other = c["total"]
                for (s in c) if (s != "total") other -= c[s]
                c["other"] = other
                printf "%.3f %.1f", c["total"] / n, 100 * got / n
                for (i = 0; i < 4; i++) {
                    best = ""
                    for (s in c) if (s != "total" && !(s in done) &&
                                     (best == "" || c[s] > c[best])) best = s
                    if (best == "" || c[best] / n < 0.0005) break
                    done[best] = 1
                    printf " %s=%.3f", best, c[best] / n
                }
                printf "\n"
            }' "$WORK/perf.$r" "$WORK/perf.$r.delivered"
    done | sort -g | awk '{ v[NR] = $1; line[NR] = $0 } END {
        m = int((NR + 1) / 2); split(line[m], f, " ")
        printf "%s %.1f", v[m], v[m] ? 50 * (v[NR] - v[1]) / v[m] : 0
        for (i = 2; i in f; i++) printf " %s", f[i]
        printf "\n" }')
}

label() { # DEVICE
    case $1 in
    streamer) echo "streamer PUSH->PULL" ;;
    forwarder) echo "forwarder PUB->SUB" ;;
    reqrep) echo "queue REQ->REP (per round trip)" ;;
    dealer) echo "queue DEALER x64 (per round trip)" ;;
    *) die "unknown device $1" ;;
    esac
}

size_label() {
    if [ "$1" -ge 1024 ] && [ $(($1 % 1024)) = 0 ]; then
        echo "$(($1 / 1024)) KiB"
    else
        echo "$1 B"
    fi
}

ratio() { # A B: B / A
    awk -v a="$1" -v b="$2" 'BEGIN {
        if (a == "-" || b == "-" || a == "" || b == "" || a == 0) print "-"
        else printf "%.2fx\n", b / a }'
}

# ---------------------------------------------------------------------
# --check and --update: the plain streamer's relay instructions.

if [ "$MODE" != table ]; then
    echo "cost.sh: zrelay streamer, 16 B over tcp: relay instructions per" \
        "message, $REPS measurements of $(count callgrind streamer 16) and" \
        "twice as many messages"
    figures=()
    for r in $(seq "$REPS"); do
        callgrind zrelay streamer 16
        figures+=("${RESULT%% *}")
        echo "  $r: ${figures[-1]}"
    done
    read -r median half <<<"$(spread "${figures[@]}")"
    echo "cost.sh: median $median instructions/message, range ±$half % of it"
    if [ "$MODE" = update ]; then
        [ -f "$BASELINE" ] || die "no $BASELINE"
        sed -i "s/^$CHECK_KEY .*/$CHECK_KEY $median/" "$BASELINE"
        grep -q "^$CHECK_KEY $median\$" "$BASELINE" ||
            die "no line '$CHECK_KEY N' in $BASELINE"
        echo "cost.sh: $BASELINE: $CHECK_KEY $median"
        exit 0
    fi
    base=$(awk -v k="$CHECK_KEY" '$1 == k { print $2 }' "$BASELINE")
    [ -n "$base" ] || die "no '$CHECK_KEY N' line in $BASELINE"
    read -r delta verdict <<<"$(awk -v m="$median" -v b="$base" 'BEGIN {
        d = 100 * (m - b) / b
        printf "%+.1f %s\n", d, (d > 5 ? "FAIL" : d < -5 ? "cheaper" : "ok") }')"
    echo "cost.sh: baseline $base ($BASELINE): $delta %, $verdict" \
        "(fails above +5 %)"
    case $verdict in
    FAIL)
        echo "cost.sh: FAIL: the streamer's relay costs ${delta#+} % more per" \
            "message than the baseline; if that is deliberate:" \
            "make build && bench/cost.sh --update $BASELINE" >&2
        exit 1
        ;;
    cheaper)
        echo "cost.sh: more than 5 % cheaper than the baseline: lock the" \
            "gain in with make build && bench/cost.sh --update $BASELINE"
        ;;
    esac
    exit 0
fi

# ---------------------------------------------------------------------
# The tables.

IFS=, read -r -a devices <<<"$DEVICES"
IFS=, read -r -a sizes <<<"$SIZES"
IFS=, read -r -a contenders <<<"$CONTENDERS"
declare -A IR IRH LOOP LOOPH DELIV SYS SYSH SYSDELIV TOP
for d in "${devices[@]}"; do
    for s in "${sizes[@]}"; do
        for c in "${contenders[@]}"; do
            k=$d.$s.$c
            echo "cost.sh: $c $(label "$d"), $(size_label "$s")" >&2
            IR[$k]=- IRH[$k]=- LOOP[$k]=- LOOPH[$k]=- DELIV[$k]=-
            SYS[$k]=- SYSH[$k]=- SYSDELIV[$k]=- TOP[$k]=
            if [ "$CALLGRIND" = 1 ]; then
                callgrind_reps "$c" "$d" "$s"
                read -r "IR[$k]" "IRH[$k]" "LOOP[$k]" "LOOPH[$k]" \
                    "DELIV[$k]" <<<"$RESULT"
            fi
            if [ "$PERF" = 1 ]; then
                syscalls "$c" "$d" "$s"
                read -r "SYS[$k]" "SYSH[$k]" "SYSDELIV[$k]" "TOP[$k]" \
                    <<<"$RESULT"
            fi
        done
    done
done

# A markdown table's separator line: a width per column, negative for a
# left-aligned one.
sep() {
    local line="|" w
    for w in "$@"; do
        if [ "$w" -lt 0 ]; then
            line="$line $(printf '%*s' $((-w)) '' | tr ' ' -) |"
        else
            line="$line $(printf '%*s' $((w - 1)) '' | tr ' ' -): |"
        fi
    done
    echo "$line"
}

# A median and its half range: "1984 ±0.2%".
cell() { # MEDIAN HALF
    if [ "${1:--}" = - ]; then
        echo -
    else
        echo "$1 ±$2%"
    fi
}

echo "### Cost per message ($TRANSPORT; the queue per round trip)"
echo
if [ "$CALLGRIND" = 1 ]; then
    echo "Instructions per message (callgrind, marginal over N and 2N" \
        "messages): relay = the whole relay process, loop = its loop" \
        "function, inclusive; median of $REPS pairs of runs ± half their" \
        "range; zr/zmq = the medians' ratio."
    echo
    # printf counts bytes: '±' takes two.
    f='| %-33s | %-6s | %16s | %13s | %6s | %15s | %12s | %6s |\n'
    # shellcheck disable=SC2059
    printf '| %-33s | %-6s | %15s | %12s | %6s | %14s | %11s | %6s |\n' \
        device size "relay zmq_proxy" "relay zrelay" "zr/zmq" \
        "loop zmq_proxy" "loop zrelay" "zr/zmq"
    sep -33 -6 15 12 6 14 11 6
    for d in "${devices[@]}"; do
        for s in "${sizes[@]}"; do
            z=$d.$s.zmq_proxy r=$d.$s.zrelay
            # shellcheck disable=SC2059
            printf "$f" "$(label "$d")" "$(size_label "$s")" \
                "$(cell "${IR[$z]:-}" "${IRH[$z]:-}")" \
                "$(cell "${IR[$r]:-}" "${IRH[$r]:-}")" \
                "$(ratio "${IR[$z]:--}" "${IR[$r]:--}")" \
                "$(cell "${LOOP[$z]:-}" "${LOOPH[$z]:-}")" \
                "$(cell "${LOOP[$r]:-}" "${LOOPH[$r]:-}")" \
                "$(ratio "${LOOP[$z]:--}" "${LOOP[$r]:--}")"
        done
    done
    for k in "${!DELIV[@]}"; do
        if [ "${DELIV[$k]}" != - ] && [ "${DELIV[$k]}" != 100.0 ]; then
            # Only the forwarder's XPUB can drop.
            echo "(under callgrind, $k: as little as ${DELIV[$k]} %" \
                "delivered)"
        fi
    done | sort
    echo
fi
if [ "$PERF" = 1 ]; then
    echo "System calls per message at full speed, counted during the" \
        "traffic only (perf raw_syscalls:sys_enter): median of $REPS" \
        "runs ± half their range, and the median run's top four by name" \
        "(other: the rest); delivered = what reached the far end (the" \
        "forwarder's XPUB drops when its subscriber falls behind)."
    echo
    f='| %-33s | %-6s | %-9s | %15s | %9s | %-56s |\n'
    # shellcheck disable=SC2059
    printf "${f//15s/14s}" device size contender syscalls delivered \
        "top syscalls per message"
    sep -33 -6 -9 14 9 -56
    for d in "${devices[@]}"; do
        for s in "${sizes[@]}"; do
            for c in "${contenders[@]}"; do
                k=$d.$s.$c
                # shellcheck disable=SC2059
                printf "$f" "$(label "$d")" "$(size_label "$s")" "$c" \
                    "$(cell "${SYS[$k]}" "${SYSH[$k]}")" \
                    "${SYSDELIV[$k]} %" "${TOP[$k]//=/ }"
            done
        done
    done
    echo
fi
