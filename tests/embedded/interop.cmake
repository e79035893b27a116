# Kafka interop on the embedded cluster: kafka-python and kcat read what `horizons produce` writes, and
# `horizons consume` reads what kafka-python writes (Avro by python-avro). See check_kafka_interop.py.
# Included from tests/embedded/CMakeLists.txt. Needs /usr/bin/python3 with Debian's python3-avro,
# python3-kafka, python3-snappy and python3-lz4 (the catalogue's codecs), and kcat on PATH; both tests
# start their own `horizons up --brokers 3`.

# The same cache entry as tests/interop (whichever directory sets it first wins; the default is the same).
set(HORIZONS_INTEROP_PYTHON /usr/bin/python3 CACHE FILEPATH "Python interpreter with python3-avro for tests/interop")
execute_process(
  COMMAND ${HORIZONS_INTEROP_PYTHON} -c
          "import avro.io, kafka, kafka.codec; assert kafka.codec.has_snappy() and kafka.codec.has_lz4(); print(kafka.__version__)"
  RESULT_VARIABLE kafka_interop_python_result
  OUTPUT_VARIABLE kafka_interop_kafka_version
  OUTPUT_STRIP_TRAILING_WHITESPACE
  ERROR_QUIET)
find_program(HORIZONS_KCAT kcat)
if(NOT kafka_interop_python_result EQUAL 0 OR NOT HORIZONS_KCAT)
  message(WARNING
    "tests/embedded: the kafka_interop tests will fail: they need ${HORIZONS_INTEROP_PYTHON} with avro, kafka, "
    "snappy and lz4 (apt-get install python3-avro python3-kafka python3-snappy python3-lz4) and kcat on PATH "
    "(apt-get install kcat).")
else()
  message(STATUS "tests/embedded: kafka-python ${kafka_interop_kafka_version} and ${HORIZONS_KCAT} for kafka_interop")
endif()

# kafka_interop_test(<test name> [extra arguments of check_kafka_interop.py])
function(kafka_interop_test name)
  add_test(NAME ${name}
           COMMAND ${HORIZONS_INTEROP_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/check_kafka_interop.py
                   $<TARGET_FILE:horizons_bin> ${CMAKE_SOURCE_DIR} ${ARGN})
  set_tests_properties(${name} PROPERTIES LABELS embedded TIMEOUT 120)
endfunction()

kafka_interop_test(kafka_interop)                          # Horizons <-> kafka-python, kcat over Kafka
kafka_interop_test(kafka_interop_self_test --self-test)    # each check above can fail
