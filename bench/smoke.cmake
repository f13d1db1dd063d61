# smoke.cmake - the bench-smoke test: zrelay-bench --quick, then check that
# its JSON report is complete and well-formed.
file(REMOVE ${OUT})
execute_process(COMMAND ${BENCH} --quick --no-table --json ${OUT}
    RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
    message(FATAL_ERROR "zrelay-bench --quick exited with ${rc}")
endif()
execute_process(COMMAND ${CHECK} --quick ${OUT} RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
    message(FATAL_ERROR "the report ${OUT} is not well-formed")
endif()
