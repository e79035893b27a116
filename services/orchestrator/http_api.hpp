// The orchestrator's HTTP API: submit jobs, see them, cancel them, as the caller a bearer token names.
//
//   auto api = horizons::orchestrator::http_api::start({.listen = "127.0.0.1:8070", .config = config,
//                                                       .database = state_location(root, "orchestrator"),
//                                                       .auth = **services::token_keys::for_checking()});
//   // TOKEN=$(horizons token issue --sub alice)
//   // curl -X POST -H "Authorization: Bearer $TOKEN" -d '{"job_name": "m87"}' http://127.0.0.1:8070/jobs
//   api->reset();   // stops serving
//
// Every route except GET /metrics needs `Authorization: Bearer <JWT>` (bearer_tokens.hpp): 401 with a
// JSON error and a WWW-Authenticate header when it is missing or does not pass. The caller is the
// token's subject; a header or body cannot name another one.
// POST /jobs: a JSON submission (submission.hpp) → 202 {"job_id", "event_id", "status"} once Kafka
// acknowledged the job.submitted record (its own producer, client id "orchestrator-http"); 400 naming
// a bad field; 403 when its "user_id" is not the caller; 503 when Kafka did not acknowledge within 30 s.
// GET /jobs/<job_id> → {"job_id", "user_id", "status", "attempt", "finished", "cancel_requested",
// "batch_job_id" (with a batch system)} for its submitter or an admin (403 for anyone else); 404 before
// the orchestrator admitted the job.
// POST /jobs/<job_id>/cancel: the submitter (or an admin) asks to cancel → 202 once recorded (the engine
// cancels at its next step; with Slurm, scancel); 403 another user, 404 unknown, 409 already finished.
// Limits: a body over `max_body_bytes` → 413; more than the rate limit per caller → 429 with
// Retry-After. Every error is {"error": "..."}. With `tls` the API speaks HTTPS only (url() says
// https://), so that tokens never cross the network in clear.
//
// Threads: the server answers on a thread of its own; start() and the destructor from one thread. The
// destructor stops the server and closes the producer (up to 10 s).
#pragma once

#include <expected>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>

#include <horizons/config.hpp>

#include "services/common/bearer_tokens.hpp"
#include "services/common/http_listener.hpp"
#include "services/common/sql/sql.hpp"
#include "services/orchestrator/rate_limit.hpp"

namespace horizons::orchestrator {

class http_api {
 public:
  struct options {
    std::string listen{};  // host:port (port 0: any free port)
    client_config config{};
    sql::location database{std::filesystem::path{}};  // the orchestrator's state database, read through job_store
    services::token_keys auth{};                      // checks the callers' tokens; a key is required
    rate_limit::settings per_caller{};                // 429 beyond it
    std::size_t max_body_bytes = 64 * 1024;           // 413 beyond it
    std::optional<services::tls_files> tls{};         // HTTPS only, with this certificate and key
  };

  /// Errors: no key in `auth`, a bad or busy address, a producer or database that cannot be opened.
  [[nodiscard]] static std::expected<std::unique_ptr<http_api>, std::string> start(const options& opts);
  ~http_api();
  http_api(const http_api&) = delete;
  http_api& operator=(const http_api&) = delete;
  /// "http://host:port", with the port actually bound.
  [[nodiscard]] std::string url() const;
  /// The listener its routes answer on (http_listener::answer serves a request in memory).
  [[nodiscard]] services::http_listener& listener();

  struct impl;

 private:
  explicit http_api(std::unique_ptr<impl> state);
  std::unique_ptr<impl> impl_;
};

}  // namespace horizons::orchestrator
