#!/bin/sh
# run_examples.sh - run the examples' scenarios (S1, S2, S4-S7) against
# the zrelay binary and check what they print, so the examples never rot.
# SPDX-License-Identifier: MIT
#
# usage: sh run_examples.sh ZRELAY EXAMPLES_DIR [SCENARIO...]
# SCENARIO: check_help s1 s2 s4 s5 s6 s7 sync lvc (default: all of them).
#
# Relays bind free loopback ports (@tcp://127.0.0.1:*); the script reads
# their "frontend bind ADDRESS" / "backend bind ADDRESS" lines through a
# FIFO up to "ready", so it never sleeps to wait for them. Every program
# runs under `timeout 60`. Exit 0 only if every scenario passed.

set -u

if [ $# -lt 2 ]; then
    echo "usage: sh run_examples.sh ZRELAY EXAMPLES_DIR [SCENARIO...]" >&2
    exit 2
fi
ZRELAY=$1
EX=$2
shift 2
SCENARIOS=${*:-check_help s1 s2 s4 s5 s6 s7 sync lvc}
# --foreground: on SIGTERM, GNU timeout otherwise also sends SIGCONT,
# which can cancel the SIGSTOPs LeakSanitizer's exit-time check sends to
# the program's threads and leave it hung for good. -k: whatever happens,
# KILL 10 s after the TERM.
if timeout --foreground -k 1 10 true 2>/dev/null; then
    T="timeout --foreground -k 10 60"
else
    T="timeout -k 10 60"
fi
ANY='@tcp://127.0.0.1:*' # zrelay: bind a free port
LOOP='tcp://127.0.0.1:*'  # the same for programs that bind it themselves

for tool in timeout mkfifo mktemp; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "run_examples: needs '$tool'" >&2
        exit 1
    fi
done
if [ ! -x "$ZRELAY" ]; then
    echo "run_examples: no zrelay binary at '$ZRELAY'" >&2
    exit 1
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/zrelay-examples.XXXXXX") || exit 1
PIDS="" # everything started in the background, killed at exit

cleanup() {
    for p in $PIDS; do
        kill -TERM "$p" 2>/dev/null
    done
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

# bg OUT CMD...: run CMD in the background with stdout and stderr in
# $WORK/OUT, under the timeout; its pid in BG.
bg() {
    bg_out=$1
    shift
    $T "$@" >"$WORK/$bg_out" 2>&1 &
    BG=$!
    PIDS="$PIDS $BG"
}

# Functions share one namespace for variables (POSIX sh has no `local`),
# hence the prefixes below.

# start_ready NAME CMD...: start CMD in the background and read its
# stdout through a FIFO until a line that ends in "ready" (zrelay and
# s5_broker print their endpoints first; s4_server one line, "..., ready").
# Lines up to there go to $WORK/NAME.out, later ones to NAME.rest. Sets
# R_PID and R_CAT. Returns 1 if CMD never got ready (it died, or `timeout`
# ended it).
start_ready() {
    sr_name=$1
    shift
    sr_fifo=$WORK/$sr_name.fifo
    sr_out=$WORK/$sr_name.out
    mkfifo "$sr_fifo" || return 1
    $T "$@" >"$sr_fifo" 2>"$WORK/$sr_name.err" &
    R_PID=$!
    PIDS="$PIDS $R_PID"
    # Opening blocks until CMD's side is open; `read` then takes one line
    # at a time and returns at EOF if CMD dies.
    exec 3<"$sr_fifo"
    sr_ready=no
    : >"$sr_out"
    while IFS= read -r sr_line <&3; do
        echo "$sr_line" >>"$sr_out"
        case $sr_line in
        *ready)
            sr_ready=yes
            break
            ;;
        esac
    done
    # The read end stays open all along (here, then in cat), so CMD never
    # gets EPIPE for what it prints later.
    cat <&3 >"$WORK/$sr_name.rest" &
    R_CAT=$!
    PIDS="$PIDS $R_CAT"
    exec 3<&-
    if [ "$sr_ready" != yes ]; then
        echo "run_examples: $sr_name never got ready" >>"$WORK/$sr_name.err"
        return 1
    fi
    return 0
}

# start_relay NAME CMD...: start_ready, then the relay's addresses in
# R_FRONT and R_BACK (from "frontend bind ADDRESS", "backend bind ...").
start_relay() {
    start_ready "$@" || return 1
    R_FRONT=$(sed -n 's/^frontend bind //p' "$WORK/$1.out" | head -n 1)
    R_BACK=$(sed -n 's/^backend bind //p' "$WORK/$1.out" | head -n 1)
    if [ -z "$R_FRONT" ] || [ -z "$R_BACK" ]; then
        echo "run_examples: $1 printed no addresses" >>"$WORK/$1.err"
        return 1
    fi
    return 0
}

# stop_relay PID CATPID: SIGTERM stops a relay (or server) cleanly; it
# must exit 0.
stop_relay() {
    kill -TERM "$1" 2>/dev/null
    wait "$1"
    st_rc=$?
    wait "$2"
    return $st_rc
}

# lines PATTERN FILE: how many lines of FILE match PATTERN.
lines() {
    grep -c -- "$1" "$2" 2>/dev/null || true
}

FAILED=""
PASSED=0

# result NAME RC PREFIX: report a scenario; on failure show its files.
result() {
    if [ "$2" -eq 0 ]; then
        echo "ok - $1"
        PASSED=$((PASSED + 1))
        return
    fi
    echo "not ok - $1"
    FAILED="$FAILED $1"
    for f in "$WORK/$3"*; do
        if [ -f "$f" ]; then
            echo "--- ${f#"$WORK"/}"
            cat "$f"
        fi
    done
}

# fail WHY: note why a scenario failed (shown with its files).
fail() {
    echo "FAILED: $*" >>"$WORK/$PREFIX.why"
    return 1
}

# ---- every program: --help prints one usage line, a bad option is a
# usage error (exit 2) -------------------------------------------------
check_help() {
    PREFIX=help
    status=0
    for prog in s1_publisher s1_subscriber s2_publisher s2_subscriber \
        s4_client s4_server s5_broker s6_asyncsrv s7_producer s7_consumer \
        sync_publisher late_subscriber; do
        $T "$EX/$prog" --help >"$WORK/help.$prog" 2>&1
        rc=$?
        n=$(wc -l <"$WORK/help.$prog")
        if [ $rc -ne 0 ] || [ "$n" -ne 1 ] ||
            ! grep -q "^usage: $prog " "$WORK/help.$prog"; then
            fail "$prog --help: exit $rc, $n lines"
            status=1
        fi
        $T "$EX/$prog" --no-such-option >/dev/null 2>&1
        rc=$?
        if [ $rc -ne 2 ]; then
            fail "$prog --no-such-option: exit $rc, expected 2"
            status=1
        fi
    done
    return $status
}

# ---- S1: pub/sub through a forwarder ---------------------------------
# The subscriber starts first and wants 5 messages; the publisher sends
# one every 10 ms until stopped, so the slow joiner costs only the first
# few, however long the subscription takes to travel.
s1() {
    PREFIX=s1
    start_relay s1_forwarder "$ZRELAY" forwarder "$ANY" "$ANY" ||
        return 1
    relay=$R_PID rcat=$R_CAT front=$R_FRONT back=$R_BACK
    bg s1_sub.out "$EX/s1_subscriber" -n 5 -t 30 "$back"
    sub=$BG
    bg s1_pub.out "$EX/s1_publisher" -n 0 -i 10 "$front"
    pub=$BG
    wait $sub
    sub_rc=$?
    kill -TERM $pub 2>/dev/null
    wait $pub
    pub_rc=$?
    stop_relay $relay $rcat || fail "forwarder: exit $?"
    [ $sub_rc -eq 0 ] || fail "subscriber: exit $sub_rc"
    [ $pub_rc -eq 0 ] || fail "publisher: exit $pub_rc"
    [ "$(lines '^got: Hello there #' "$WORK/s1_sub.out")" -eq 5 ] ||
        fail "subscriber: not 5 messages"
    # Once subscribed, nothing is lost: the 5 are consecutive.
    awk -F'#' '/^got: /{ if (n && $2 != n + 1) bad = 1; n = $2 }
               END { exit bad }' "$WORK/s1_sub.out" ||
        fail "subscriber: a gap between messages"
    [ ! -f "$WORK/s1.why" ]
}

# ---- S2 cured in the broker: the forwarder's sync service -------------
# Two subscribers that know nothing of it; a publisher that waits for both
# through --sync, then sends 1000 at once: each subscriber gets all 1000,
# from the first.
sync() {
    PREFIX=sync
    start_relay sync_forwarder "$ZRELAY" forwarder "$ANY" "$ANY" \
        --sync "$ANY" --sndhwm 2000 --rcvhwm 2000 || return 1
    relay=$R_PID rcat=$R_CAT front=$R_FRONT back=$R_BACK
    syncep=$(sed -n 's/^sync bind //p' "$WORK/sync_forwarder.out")
    bg sync_sub1.out "$EX/s1_subscriber" -n 1000 -t 30 "$back"
    sub1=$BG
    bg sync_sub2.out "$EX/s1_subscriber" -n 1000 -t 30 "$back"
    sub2=$BG
    $T "$EX/sync_publisher" -w 2 -n 1000 "$front" "$syncep" \
        >"$WORK/sync_pub.out" 2>&1
    pub_rc=$?
    wait $sub1
    rc1=$?
    wait $sub2
    rc2=$?
    stop_relay $relay $rcat || fail "forwarder: exit $?"
    [ $pub_rc -eq 0 ] || fail "publisher: exit $pub_rc"
    for n in 1 2; do
        out=$WORK/sync_sub$n.out
        [ "$(lines '^got: Hello there #' "$out")" -eq 1000 ] ||
            fail "subscriber $n: not 1000 messages"
        grep -q '^got: Hello there #1$' "$out" ||
            fail "subscriber $n: the first message is missing"
    done
    [ $rc1 -eq 0 ] || fail "subscriber 1: exit $rc1"
    [ $rc2 -eq 0 ] || fail "subscriber 2: exit $rc2"
    [ ! -f "$WORK/sync.why" ]
}

# ---- the last value cache: a late subscriber gets the current value ---
# A publisher (sync_publisher, waiting for one subscriber to everything)
# sends "weather Hello there #1..#10"; a subscriber that joins after that
# gets the newest of them at once.
lvc() {
    PREFIX=lvc
    start_relay lvc_forwarder "$ZRELAY" forwarder "$ANY" "$ANY" \
        --sync "$ANY" --last-value || return 1
    relay=$R_PID rcat=$R_CAT front=$R_FRONT back=$R_BACK
    syncep=$(sed -n 's/^sync bind //p' "$WORK/lvc_forwarder.out")
    bg lvc_early.out "$EX/s1_subscriber" -n 10 -t 30 "$back"
    early=$BG
    $T "$EX/sync_publisher" -w 1 -n 10 -t "weather " "$front" "$syncep" \
        >"$WORK/lvc_pub.out" 2>&1 || fail "publisher: exit $?"
    wait $early || fail "early subscriber: exit $?"
    $T "$EX/late_subscriber" -t 2000 "$back" weather \
        >"$WORK/lvc_late.out" 2>&1 || fail "late subscriber: exit $?"
    grep -q '^got: weather Hello there #10$' "$WORK/lvc_late.out" ||
        fail "the late subscriber did not get the last value"
    stop_relay $relay $rcat || fail "forwarder: exit $?"
    [ ! -f "$WORK/lvc.why" ]
}

# ---- S2: the REQ/REP handshake, then 3 publications ------------------
# The seed's handshake is itself racy (see s2_publisher.c): "yes" does not
# prove the subscription reached the publisher, and here subscriber and
# publisher start together, which is when the race bites (about one run in
# six on a loaded machine). The run is retried, up to 5 times, when and
# only when the handshake succeeded and the publications were then lost;
# anything else fails at once.
s2_once() {
    start_relay s2_forwarder "$ZRELAY" forwarder "$ANY" "$ANY" ||
        return 1
    frelay=$R_PID fcat=$R_CAT ffront=$R_FRONT fback=$R_BACK
    if ! start_relay s2_queue "$ZRELAY" queue "$ANY" "$ANY"; then
        stop_relay $frelay $fcat
        return 1
    fi
    qrelay=$R_PID qcat=$R_CAT qfront=$R_FRONT qback=$R_BACK
    bg s2_sub.out "$EX/s2_subscriber" -n 3 -t 5 "$fback" "$qback"
    sub=$BG
    $T "$EX/s2_publisher" -n 3 -t 30 "$ffront" "$qfront" \
        >"$WORK/s2_pub.out" 2>&1
    pub_rc=$?
    wait $sub
    sub_rc=$?
    stop_relay $qrelay $qcat || fail "queue: exit $?"
    stop_relay $frelay $fcat || fail "forwarder: exit $?"
    [ $pub_rc -eq 0 ] || fail "publisher: exit $pub_rc"
    grep -q '^rep = yes$' "$WORK/s2_pub.out" || fail "no 'yes' for Hello"
    grep -q '^req = Hello$' "$WORK/s2_sub.out" || fail "no Hello"
    if [ $sub_rc -ne 0 ]; then
        if [ $pub_rc -eq 0 ] && [ ! -f "$WORK/s2.why" ] &&
            grep -q 'no publication for' "$WORK/s2_sub.out"; then
            return 3 # the known race: lost after a good handshake
        fi
        fail "subscriber: exit $sub_rc"
    fi
    [ "$(lines '^got: Blablabla #' "$WORK/s2_sub.out")" -eq 3 ] ||
        fail "subscriber: not 3 publications"
    [ ! -f "$WORK/s2.why" ]
}

s2() {
    PREFIX=s2
    for attempt in 1 2 3 4 5; do
        s2_once
        rc=$?
        [ $rc -ne 3 ] && return $rc
        echo "# S2 attempt $attempt: publications lost after the" \
            "handshake (the race s2_publisher.c describes); again"
        rm -f "$WORK"/s2_*
    done
    fail "publications lost after the handshake 5 times in a row"
}

# reqrep NAME FRONT BACK: 3 s4_servers behind BACK (each waited for),
# then 2 s4_clients of 10 requests each in front of FRONT, at once; every
# reply must match its request and the servers must have served all 20.
reqrep() {
    name=$1 front=$2 back=$3
    servers=""
    for i in 1 2 3; do
        start_ready "${name}_server$i" "$EX/s4_server" -i "server-$i" \
            "$back" || fail "server-$i: not ready"
        servers="$servers $R_PID:$R_CAT"
    done
    clients=""
    for i in 1 2; do
        bg "${name}_client$i.out" "$EX/s4_client" -n 10 -i "client-$i" \
            -t 30 "$front"
        clients="$clients $BG"
    done
    i=0
    for p in $clients; do
        i=$((i + 1))
        wait "$p" || fail "client-$i: exit $?"
        grep -q "client-$i sent 10 requests, got 10 matching replies" \
            "$WORK/${name}_client$i.out" || fail "client-$i: not 10 replies"
    done
    i=0
    for p in $servers; do
        i=$((i + 1))
        stop_relay "${p%:*}" "${p#*:}" || fail "server-$i: exit $?"
    done
    served=$(cat "$WORK/${name}"_server*.rest |
        sed -n 's/.* served \([0-9][0-9]*\) request.*/\1/p' |
        awk '{ n += $1 } END { print n + 0 }')
    [ "$served" -eq 20 ] || fail "servers served $served requests, not 20"
}

# ---- S4: REQ clients, REP servers, zrelay queue in between -----------
s4() {
    PREFIX=s4
    start_relay s4_queue "$ZRELAY" queue "$ANY" "$ANY" || return 1
    relay=$R_PID rcat=$R_CAT
    reqrep s4 "$R_FRONT" "$R_BACK"
    stop_relay $relay $rcat || fail "queue: exit $?"
    [ ! -f "$WORK/s4.why" ]
}

# ---- S5: the same through s5_broker, zr_proxy and zr_device ----------
s5() {
    PREFIX=s5
    for mode in proxy device; do
        flag=""
        [ $mode = device ] && flag=--device
        start_relay "s5_broker_$mode" "$EX/s5_broker" $flag \
            "$LOOP" "$LOOP" || return 1
        relay=$R_PID rcat=$R_CAT
        reqrep "s5_$mode" "$R_FRONT" "$R_BACK"
        stop_relay $relay $rcat || fail "s5_broker $flag: exit $?"
    done
    # The device reports what it relayed: 20 requests, 20 replies.
    grep -q 'relayed 20 requests and 20 replies' \
        "$WORK/s5_broker_device.rest" || fail "s5_broker --device: counts"
    [ ! -f "$WORK/s5.why" ]
}

# ---- S6: asynchronous client/server, all in one process --------------
s6() {
    PREFIX=s6
    $T "$EX/s6_asyncsrv" -n 10 -i 20 -d 50 -t 50 \
        "$LOOP" "$LOOP" >"$WORK/s6.out" 2>&1 ||
        fail "s6_asyncsrv: exit $?"
    grep -q 'every reply reached the client that asked' "$WORK/s6.out" ||
        fail "s6_asyncsrv: no success line"
    [ ! -f "$WORK/s6.why" ]
}

# ---- S7: 2 producers -> zrelay streamer -> 1 consumer ----------------
s7() {
    PREFIX=s7
    start_relay s7_streamer "$ZRELAY" streamer "$ANY" "$ANY" || return 1
    relay=$R_PID rcat=$R_CAT
    bg s7_consumer.out "$EX/s7_consumer" -n 100 -t 30 "$R_BACK"
    consumer=$BG
    bg s7_producer1.out "$EX/s7_producer" -n 50 -i p1 "$R_FRONT"
    p1=$BG
    bg s7_producer2.out "$EX/s7_producer" -n 50 -i p2 "$R_FRONT"
    p2=$BG
    wait $p1 || fail "producer p1: exit $?"
    wait $p2 || fail "producer p2: exit $?"
    wait $consumer || fail "consumer: exit $?"
    grep -q 'received 100 tasks from 2 producers, each in order' \
        "$WORK/s7_consumer.out" || fail "consumer: not 100 tasks in order"
    stop_relay $relay $rcat || fail "streamer: exit $?"
    [ ! -f "$WORK/s7.why" ]
}

for scenario in $SCENARIOS; do
    case $scenario in
    check_help | s1 | s2 | s4 | s5 | s6 | s7 | sync | lvc) ;;
    *)
        echo "run_examples: no scenario '$scenario'" >&2
        exit 2
        ;;
    esac
done
for scenario in $SCENARIOS; do
    $scenario
    result "$scenario" $? "$PREFIX"
done

TOTAL=$((PASSED + $(echo $FAILED | wc -w)))
if [ -n "$FAILED" ]; then
    echo "run_examples: FAILED:$FAILED ($PASSED of $TOTAL passed)"
    exit 1
fi
echo "run_examples: all $TOTAL passed"
exit 0
