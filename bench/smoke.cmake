# smoke.cmake - the bench-smoke test: the bench binary starts, parses its
# options (usage, a bad option), runs one tiny case (streamer over tcp,
# 16 B, one round of 10 ms per contender), and its JSON report is
# complete and well-formed. No benchmark, no speed threshold: measuring
# is `make bench`'s business, and the test build is a sanitizer build.
#   cmake -DBENCH=zrelay-bench -DCHECK=zrelay-bench-check -DOUT=file -P this

execute_process(COMMAND ${BENCH} --help
    OUTPUT_VARIABLE out ERROR_VARIABLE err RESULT_VARIABLE rc)
if(NOT rc EQUAL 0 OR NOT out MATCHES "usage: zrelay-bench")
    message(FATAL_ERROR "zrelay-bench --help: exit ${rc}\n${out}${err}")
endif()

execute_process(COMMAND ${BENCH} --pattern no-such-pattern
    OUTPUT_VARIABLE out ERROR_VARIABLE err RESULT_VARIABLE rc)
if(NOT rc EQUAL 2 OR NOT err MATCHES "unknown pattern 'no-such-pattern'")
    message(FATAL_ERROR "zrelay-bench --pattern no-such-pattern: exit ${rc}, "
        "want 2 and the pattern named\n${out}${err}")
endif()

file(REMOVE ${OUT})
execute_process(COMMAND ${BENCH} --pattern streamer --transport tcp
        --size 16 --reps 2 --duration 0.01 --allow-debug --no-table
        --json ${OUT}
    RESULT_VARIABLE rc TIMEOUT 60)
if(NOT rc EQUAL 0)
    message(FATAL_ERROR "zrelay-bench (one tiny case) exited with ${rc}")
endif()
execute_process(COMMAND ${CHECK} ${OUT} RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
    message(FATAL_ERROR "the report ${OUT} is not well-formed")
endif()
