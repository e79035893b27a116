// Where the notification dispatcher keeps its state:
//
//   its state database (--state: <data_dir>/notification-dispatcher/state.db, or the PostgreSQL
//   schema notification_dispatcher): the in-app inbox, the webhook queue, the handled-source marks
//   and the outgoing events, so one transaction covers them all
//   <data_dir>/notification-dispatcher/outbox/    the email outbox, one <notification_id>.eml each
//
//   auto db = horizons::sql::database::open(horizons::notification_dispatcher::state_location(root));
//   horizons::notification_dispatcher::email_outbox mail(horizons::notification_dispatcher::outbox_path(data_dir));
#pragma once

#include <filesystem>

#include "services/common/state_store.hpp"
#include "services/notification_dispatcher/dispatcher.hpp"

namespace horizons::notification_dispatcher {

/// The dispatcher's database under the state root (services/common/state_store.hpp).
[[nodiscard]] inline sql::location state_location(const sql::location& root) {
  return services::state_location(root, descriptor.name);
}
[[nodiscard]] inline std::filesystem::path outbox_path(const std::filesystem::path& data_dir) {
  return data_dir / descriptor.name / "outbox";
}

}  // namespace horizons::notification_dispatcher
