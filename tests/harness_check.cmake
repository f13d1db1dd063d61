# harness_check.cmake - the harness test: runs test_harness, whose cases
# pass, fail, skip, crash, hang and leak on purpose, and checks that each
# is reported as what it is, that none ends the run early, and the exit
# status.
#   cmake -DHARNESS=path/to/test_harness -DSANITIZE=ON|OFF -P this

set(problems 0)

# run(OUT RC [ENV NAME=VALUE...] ARGS...): runs test_harness, its stdout
# and stderr merged into OUT.
function(run out rc)
    cmake_parse_arguments(R "" "" "ENV;ARGS" ${ARGN})
    execute_process(COMMAND ${CMAKE_COMMAND} -E env ${R_ENV}
        ${HARNESS} ${R_ARGS}
        OUTPUT_VARIABLE text ERROR_VARIABLE text RESULT_VARIABLE code
        TIMEOUT 50)
    message("---- ${R_ENV} test_harness ${R_ARGS}: exit ${code}\n${text}")
    set(${out} "${text}" PARENT_SCOPE)
    set(${rc} "${code}" PARENT_SCOPE)
endfunction()

function(expect what cond)
    if(NOT cond)
        message("WRONG: ${what}")
        math(EXPR n "${problems} + 1")
        set(problems ${n} PARENT_SCOPE)
    endif()
endfunction()

# expect_line(TEXT REGEX): a whole line of TEXT matches REGEX.
function(expect_line text regex)
    if(NOT "\n${text}" MATCHES "\n${regex}\n")
        message("WRONG: no line matching '${regex}'")
        math(EXPR n "${problems} + 1")
        set(problems ${n} PARENT_SCOPE)
    endif()
endfunction()

set(ms "\\([0-9]+ ms\\)")
set(here "test_harness\\.c:[0-9]+")

# Every case, forked; a hang is killed after 2 s.
run(out rc ENV ZRT_TIMEOUT=2)
expect("exit status 1 when a case failed (got ${rc})" rc EQUAL 1)
expect_line("${out}" "ok   fine: passes ${ms}")
expect_line("${out}" "FAIL fails a check ${ms}: ${here}: 1 \\+ 1 == 3: 2 != 3")
expect_line("${out}" "SKIP fine: skips with a reason ${ms}: no frobnicator here")
expect_line("${out}" "SKIP fine: skips after setup ${ms}: set up, then found no peer")
expect_line("${out}" "FAIL aborts ${ms}: killed by signal 6 \\(Aborted\\)")
# Under ASan, its SEGV handler reports and exits 1.
expect_line("${out}" "FAIL crashes ${ms}: (killed by signal 11 \\(Segmentation fault\\)|exited 1 with no failed check \\(a sanitizer's report\\? see above\\))")
expect_line("${out}" "FAIL hangs ${ms}: still running after 2 s \\(ZRT_TIMEOUT\\): killed")
expect_line("${out}" "FAIL fails in another thread ${ms}: ${here}: arg == NULL")
expect_line("${out}" "FAIL fails with a child running ${ms}: ${here}: on purpose, with pid [0-9]+ running")
# The child's stderr is shown, and the child is gone.
expect("the child's stderr shown" "${out}" MATCHES "---- '/bin/sh -c [^\n]*' \\(still running[^\n]*said on stderr:\nchild says hi\n")
if("${out}" MATCHES "on purpose, with pid ([0-9]+) running")
    expect("the failed case's child (pid ${CMAKE_MATCH_1}) was killed"
        NOT EXISTS /proc/${CMAKE_MATCH_1})
endif()
if(SANITIZE)
    expect_line("${out}" "FAIL leaks ${ms}: exited [0-9]+ with no failed check \\(a sanitizer's report\\? see above\\)")
    expect("LeakSanitizer's report" "${out}" MATCHES "LeakSanitizer: detected memory leaks")
    set(summary "11 cases: 2 ok, 7 failed, 2 skipped")
else()
    expect_line("${out}" "ok   leaks ${ms}")
    set(summary "11 cases: 3 ok, 6 failed, 2 skipped")
endif()
expect_line("${out}" "ok   fine: passes after all that ${ms}")
expect_line("${out}" "test_harness: ${summary}")
foreach(name "fails a check" aborts crashes hangs "fails in another thread"
        "fails with a child running")
    expect_line("${out}" "  failed: ${name}")
endforeach()
# A skip after setup reports no leak.
string(REGEX MATCH "RUN  fine: skips after setup\n.*RUN  aborts" skip_part "${out}")
expect("a skip is no leak" NOT skip_part MATCHES "LeakSanitizer")

# Only skips: 77.
run(out rc ARGS "fine: s")
expect("exit status 77 when every case skipped (got ${rc})" rc EQUAL 77)
expect_line("${out}" "test_harness: 2 cases: 0 ok, 0 failed, 2 skipped")

# Passes only: 0.
run(out rc ARGS "fine: p")
expect("exit status 0 when all passed (got ${rc})" rc EQUAL 0)
expect_line("${out}" "test_harness: 2 cases: 2 ok, 0 failed, 0 skipped")

# Passes and skips: 0.
run(out rc ARGS fine)
expect("exit status 0 when cases pass or skip (got ${rc})" rc EQUAL 0)
expect_line("${out}" "test_harness: 4 cases: 2 ok, 0 failed, 2 skipped")

# In-process (ZRT_NOFORK=1): a failed check ends the run.
run(out rc ENV ZRT_NOFORK=1 ARGS "fails a check")
expect("ZRT_NOFORK: exit status 1 (got ${rc})" rc EQUAL 1)
expect("ZRT_NOFORK: the check's report" "${out}" MATCHES
    "FAIL fails a check \\(test_harness\\.c:[0-9]+\\): 1 \\+ 1 == 3")
run(out rc ENV ZRT_NOFORK=1 ARGS "fine: p")
expect("ZRT_NOFORK: exit status 0 (got ${rc})" rc EQUAL 0)

# Nothing selected is an error; --list names every case.
run(out rc ARGS nosuch)
expect("exit status 1 when nothing matches (got ${rc})" rc EQUAL 1)
expect_line("${out}" "test_harness: no test matches 'nosuch'")
run(out rc ARGS --list)
expect("--list: exit status 0 (got ${rc})" rc EQUAL 0)
expect_line("${out}" "fine: passes after all that")

if(problems GREATER 0)
    message(FATAL_ERROR "the harness misreported ${problems} thing(s)")
endif()
message("the harness reported every case as what it is")
