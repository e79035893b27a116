// Where the notification dispatcher keeps its state under --data-dir:
//
//   <data_dir>/notification-dispatcher/state.db   one SQLite database: the in-app inbox, the
//                                                  handled-source marks and the outgoing events,
//                                                  so one transaction covers all three
//   <data_dir>/notification-dispatcher/outbox/    the email outbox, one <notification_id>.eml each
//
//   auto db = horizons::sqlite::database::open(horizons::notification_dispatcher::state_path(data_dir));
//   horizons::notification_dispatcher::email_outbox mail(horizons::notification_dispatcher::outbox_path(data_dir));
#pragma once

#include <filesystem>

#include "services/common/state_store.hpp"
#include "services/notification_dispatcher/dispatcher.hpp"

namespace horizons::notification_dispatcher {

/// The database every service keeps at <data_dir>/<service>/state.db (services/common).
[[nodiscard]] inline std::filesystem::path state_path(const std::filesystem::path& data_dir) {
  return services::state_path(data_dir, descriptor.name);
}
[[nodiscard]] inline std::filesystem::path outbox_path(const std::filesystem::path& data_dir) {
  return data_dir / descriptor.name / "outbox";
}

}  // namespace horizons::notification_dispatcher
