# horizons_add_test(NAME name LABEL unit|embedded|kafka SOURCES ... [LIBS ...] [PROPERTIES ...])
# One GoogleTest binary registered with CTest under its label; PROPERTIES are extra CTest properties.
function(horizons_add_test)
  cmake_parse_arguments(T "" "NAME;LABEL" "SOURCES;LIBS;PROPERTIES" ${ARGN})
  add_executable(${T_NAME} ${T_SOURCES})
  target_link_libraries(${T_NAME} PRIVATE horizons GTest::gtest_main ${T_LIBS})
  # Generous per-test timeout: embedded and kafka tests start clusters; a hang still ends.
  gtest_discover_tests(${T_NAME} PROPERTIES LABELS ${T_LABEL} TIMEOUT 600 ${T_PROPERTIES} DISCOVERY_TIMEOUT 30)
endfunction()
