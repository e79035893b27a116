// The Horizons test kit in one include: link `horizons_testkit` and
//
//   #include <horizons/testkit/testkit.hpp>
//
// event builders and samplers (event_builder.hpp, sample.hpp), the mock
// publisher (mock_publisher.hpp), the message capture with waiting
// assertions (message_capture.hpp), the latency recorder
// (latency_recorder.hpp), the embedded-cluster fixture with fault
// injection (cluster_fixture.hpp) and a topic's contents read back
// (topic_contents.hpp).
#pragma once

#include <horizons/event_builder.hpp>
#include <horizons/sample.hpp>
#include <horizons/testkit/cluster_fixture.hpp>
#include <horizons/testkit/latency_recorder.hpp>
#include <horizons/testkit/message_capture.hpp>
#include <horizons/testkit/mock_publisher.hpp>
#include <horizons/testkit/topic_contents.hpp>
