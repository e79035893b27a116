# horizons_add_test(NAME name LABEL unit|embedded|kafka SOURCES ... [LIBS ...] [PROPERTIES ...])
# One GoogleTest binary registered with CTest under its label; PROPERTIES are extra CTest properties.
function(horizons_add_test)
  cmake_parse_arguments(T "" "NAME;LABEL" "SOURCES;LIBS;PROPERTIES" ${ARGN})
  add_executable(${T_NAME} ${T_SOURCES})
  target_link_libraries(${T_NAME} PRIVATE horizons GTest::gtest_main ${T_LIBS})
  # Generous per-test timeout: embedded and kafka tests start clusters; a hang still ends.
  gtest_discover_tests(${T_NAME} PROPERTIES LABELS ${T_LABEL} TIMEOUT 600 ${T_PROPERTIES} DISCOVERY_TIMEOUT 30)
  horizons_test_needs(LABEL ${T_LABEL} TARGETS ${T_NAME})
endfunction()

# horizons_test_needs(LABEL label TARGETS ...): the tests of `label` run these executables, so the
# target tests_<label> (made in tests/CMakeLists.txt) builds them. The ASan run builds only the labels it
# runs this way instead of every binary.
function(horizons_test_needs)
  cmake_parse_arguments(N "" "LABEL" "TARGETS" ${ARGN})
  set_property(GLOBAL APPEND PROPERTY HORIZONS_TEST_TARGETS_${N_LABEL} ${N_TARGETS})
endfunction()
