# horizons_add_test(NAME name LABEL unit|embedded|kafka SOURCES ... [LIBS ...])
# One GoogleTest binary registered with CTest under its label.
function(horizons_add_test)
  cmake_parse_arguments(T "" "NAME;LABEL" "SOURCES;LIBS" ${ARGN})
  add_executable(${T_NAME} ${T_SOURCES})
  target_link_libraries(${T_NAME} PRIVATE horizons GTest::gtest_main ${T_LIBS})
  gtest_discover_tests(${T_NAME} PROPERTIES LABELS ${T_LABEL} DISCOVERY_TIMEOUT 30)
endfunction()
