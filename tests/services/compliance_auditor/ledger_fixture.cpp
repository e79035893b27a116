// ledger_fixture LEDGER COUNT [OLD]: fills a ledger with COUNT sampled audit events of every
// type, the first OLD of them 100 days old (past retention), the rest from the last hour.
// For check_audit_cli.py, which then runs and tampers with `horizons audit`.
#include "services/compliance_auditor/ledger.hpp"

#include <horizons/catalogue.hpp>
#include <horizons/sample.hpp>

#include <cstdlib>
#include <string>

#include <fmt/format.h>

int main(int argc, char** argv) {
  using namespace std::chrono_literals;
  if (argc < 3) {
    fmt::print(stderr, "usage: ledger_fixture LEDGER COUNT [OLD]\n");
    return 2;
  }
  auto count = std::stoi(argv[2]);
  auto old = argc > 3 ? std::stoi(argv[3]) : 0;
  std::vector<std::string_view> types;
  for (auto type : horizons::all_event_types) {
    if (horizons::topic_of_event_type(type) == horizons::topic_id::audit_trail) types.push_back(type);
  }
  horizons::event_sampler sampler(5);
  std::vector<horizons::audit_event> events;
  auto start = horizons::now();
  for (int i = 0; i < count; ++i) {
    auto e = std::get<horizons::audit_event>(*sampler.next(types[static_cast<std::size_t>(i) % types.size()]));
    e.occurred_at = (i < old ? start - 100 * 24h : start - 1h) + std::chrono::seconds(i);
    events.push_back(std::move(e));
  }
  auto ledger = horizons::compliance::ledger::open(std::filesystem::path(argv[1]));
  if (!ledger) {
    fmt::print(stderr, "ledger_fixture: {}\n", ledger.error().message);
    return 1;
  }
  if (auto appended = ledger->append(events); !appended) {
    fmt::print(stderr, "ledger_fixture: {}\n", appended.error().message);
    return 1;
  }
  return 0;
}
