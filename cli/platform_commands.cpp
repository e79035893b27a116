// horizons run | serve <service> | submit: the platform's services from the command line.
#include <unistd.h>

#include <algorithm>
#include <condition_variable>
#include <fstream>
#include <iostream>
#include <mutex>
#include <sstream>
#include <thread>

#include <httplib.h>
#include <nlohmann/json.hpp>

#include <horizons/producer.hpp>

#include "commands.hpp"
#include "kafka_options.hpp"
#include "state_option.hpp"
#include "services/orchestrator/submission.hpp"
#include "services/platform/registry.hpp"
#include "services/platform/run_harness.hpp"

namespace horizons::cli {
namespace {

// The simulated scheduler's knobs, shared by `run` and `serve orchestrator`.
void add_simulation_options(CLI::App* command, orchestrator::simulation& sim) {
  command->add_option("--time-scale", sim.time_scale, "Simulated seconds per real second (3600: an hour per second)")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  command->add_option("--max-retries", sim.max_retries, "Retries of a failed job before it fails for good")
      ->check(CLI::Range(0, 20))
      ->capture_default_str();
  command->add_option("--cancel-rate", sim.cancel_rate, "Chance that a user cancels a job before it runs")
      ->check(CLI::Range(0.0, 1.0))
      ->capture_default_str();
  command
      ->add_option_function<double>(
          "--failure-rate",
          [&sim](double rate) {
            for (auto& p : sim.systems) p.failure_rate = rate;
          },
          "Chance that one attempt of a job fails, on every system (default per system: 0.08-0.15)")
      ->check(CLI::Range(0.0, 1.0));
  command->add_option("--sim-seed", sim.seed, "Seed of the scheduler's draws (queue waits, run times, failures)");
}

// Where the orchestrator's jobs run, shared by `run` and `serve orchestrator`.
void add_scheduler_options(CLI::App* command, orchestrator::scheduler_options& scheduling) {
  command
      ->add_option_function<std::string>(
          "--scheduler",
          [&scheduling](const std::string& name) {
            auto kind = orchestrator::parse_scheduler(name);
            if (!kind) throw CLI::ValidationError("--scheduler", kind.error());
            scheduling.kind = *kind;
          },
          "Where jobs run: simulation (default; a simulated TACC scheduler) or slurm (real batch jobs; Slurm's "
          "tools on PATH and SLURM_CONF, e.g. from tools/slurm/slurm.sh up)")
      ->envname("HORIZONS_SCHEDULER");
  command->add_option("--pipelines", scheduling.batch.pipelines_dir,
                      "slurm: the pipeline scripts (prelude.sh and <pipeline>.sh; default: the source tree's "
                      "services/orchestrator/pipelines)");
  command
      ->add_option_function<std::vector<std::string>>(
          "--partition",
          [&scheduling](const std::vector<std::string>& pairs) {
            for (const auto& pair : pairs) {
              auto eq = pair.find('=');
              auto system_name = pair.substr(0, eq);
              std::ranges::transform(system_name, system_name.begin(),
                                     [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
              auto system = eq == std::string::npos ? std::nullopt : enum_from_string<tacc_system>(system_name);
              if (!system || eq + 1 == pair.size()) {
                throw CLI::ValidationError("--partition", fmt::format("expected SYSTEM=PARTITION (e.g. "
                                                                      "frontera=normal), got '{}'",
                                                                      pair));
              }
              scheduling.batch.partitions[*system] = pair.substr(eq + 1);
            }
          },
          "slurm: the partition of a TACC system's jobs, SYSTEM=PARTITION (repeatable; default: the cluster's "
          "default partition)")
      ->delimiter(',');
  command->add_option("--slurm-bin", scheduling.slurm.bin_dir,
                      "slurm: where sbatch, squeue, scontrol and scancel are "
                      "(default: PATH)");
  command
      ->add_option_function<double>(
          "--sample-interval",
          [&scheduling](double seconds) {
            scheduling.batch.sample_interval = std::chrono::milliseconds(static_cast<std::int64_t>(seconds * 1000));
          },
          "slurm: seconds between two job.metrics.recorded of a running job (default 5)")
      ->check(CLI::Range(0.1, 3600.0));
}

// One line of progress: a bar on a terminal, a plain line every two seconds otherwise.
void show_progress(const platform::progress& p) {
  static bool tty = isatty(STDERR_FILENO) != 0;
  static auto last_line = std::chrono::steady_clock::now() - std::chrono::seconds(10);
  if (!tty && std::chrono::steady_clock::now() - last_line < std::chrono::seconds(2)) return;
  last_line = std::chrono::steady_clock::now();
  constexpr int width = 30;
  int filled = p.jobs_total > 0 ? p.jobs_ended * width / p.jobs_total : 0;
  std::string states;
  for (const auto& [state, n] : p.jobs_by_state) states += fmt::format(" {} {}", state, n);
  fmt::print(stderr, "{}[{}{}] {}/{} jobs ended | {} events, {:.0f}/s | {:.1f} s |{}{}", tty ? "\r\033[K" : "",
             std::string(static_cast<std::size_t>(filled), '#'),
             std::string(static_cast<std::size_t>(width - filled), '.'), p.jobs_ended, p.jobs_total, p.events,
             p.events_per_s, p.elapsed.count(), states, tty ? "" : "\n");
  std::fflush(stderr);
}

}  // namespace

void add_platform_commands(CLI::App& app, int& result) {
  // ---- run
  {
    auto* run =
        app.add_subcommand("run", "Run the whole platform: cluster, topics, the five services, a workload, a report");
    auto kafka = std::make_shared<kafka_options>();
    add_kafka_options(run, kafka);
    auto opts = std::make_shared<platform::options>();
    auto services = std::make_shared<std::vector<std::string>>();
    auto report_json = std::make_shared<std::string>();
    auto timeout_s = std::make_shared<int>(600);
    run->add_option("--jobs", opts->jobs, "Jobs to submit")->check(CLI::Range(1, 1'000'000))->capture_default_str();
    run->add_option("--rate", opts->submit_rate, "Jobs submitted per second")
        ->check(CLI::PositiveNumber)
        ->capture_default_str();
    run->add_option("--data-dir", opts->data_dir, "Where the services keep their files (and state, without --state)")
        ->capture_default_str();
    auto run_state = std::make_shared<std::string>();
    add_state_option(run, *run_state);
    run->add_option("--services", *services,
                    "Services to run in this process (default: all; none: no service): " + platform::service_names() +
                        "; the others must run elsewhere (horizons serve) on the same cluster and data dir")
        ->delimiter(',');
    run->add_option("--instances", opts->instances,
                    "Instances of each service in this process, sharing its consumer group and its state")
        ->check(CLI::Range(1, 16))
        ->capture_default_str();
    run->add_option("--webhook", opts->webhook_url, "Also deliver notifications to this URL (HTTP POST)");
    run->add_option("--report-json", *report_json, "Also write the report as JSON to this file");
    run->add_option("--timeout", *timeout_s, "Give up after this many seconds")
        ->check(CLI::Range(10, 86'400))
        ->capture_default_str();
    run->add_option("--seed", opts->seed, "Seed of the workload (job mix, users)")->capture_default_str();
    auto dashboard = std::make_shared<std::string>();
    auto dashboard_hold_s = std::make_shared<int>(-1);
    run->add_option("--dashboard", *dashboard,
                    "Serve the health monitor's live dashboard at host:port (default 127.0.0.1:0: any free port) "
                    "and print its URL before the workload starts")
        ->expected(0, 1);
    run->add_option("--dashboard-hold", *dashboard_hold_s,
                    "Seconds the dashboard stays up after the report (default: until Ctrl-C when stdout is a "
                    "terminal, else 0)")
        ->check(CLI::Range(0, 86'400));
    add_simulation_options(run, opts->sim);
    add_scheduler_options(run, opts->scheduling);
    run->footer(
        "Examples:\n"
        "  horizons run                                  # embedded 3-broker cluster, 300 jobs\n"
        "  horizons run --jobs 1000 --report-json run.json\n"
        "  horizons run --brokers 127.0.0.1:19092 --data-dir /tmp/h   # a real cluster\n"
        "  horizons run --dashboard                      # prints Dashboard: http://127.0.0.1:PORT/\n"
        "  export $(tools/slurm/slurm.sh up) && horizons run --scheduler slurm --jobs 20   # real batch jobs\n"
        "Exit status: 0 when every job ended, nothing was lost or duplicated and the ledger verified; 1 otherwise.");
    run->callback(
        [&result, run, kafka, opts, services, report_json, timeout_s, dashboard, dashboard_hold_s, run_state] {
          auto config = resolve_config(*kafka, false);
          if (!config) {
            result = fail("run", config.error(), exit_usage);
            return;
          }
          auto root = state_root(*run_state);
          if (!root) {
            result = fail("run", root.error(), exit_usage);
            return;
          }
          auto options = *opts;
          options.state = *root;
          options.config = *config;
          options.timeout = std::chrono::seconds(*timeout_s);
          if (!services->empty()) {
            options.services.clear();
            for (const auto& name : *services) {
              if (name == "none") continue;  // every service runs elsewhere
              const auto* s = platform::find_service(name);
              if (!s) {
                result = fail("run", fmt::format("unknown service '{}' (expected {})", name, platform::service_names()),
                              exit_usage);
                return;
              }
              options.services.push_back(s);
            }
          }
          if (auto ok = options.sim.check(); !ok) {
            result = fail("run", ok.error(), exit_usage);
            return;
          }
          options.on_progress = show_progress;
          auto stop = stop_on_signals();  // first: threads started later (tracing's) inherit its signal mask
          auto tracing = start_tracing("run", "horizons", result);
          if (!tracing) return;
          // The dashboard is this command's, not the monitor's: up before the workload, and after the report.
          if (run->count("--dashboard") > 0) {
            auto listen = dashboard->empty() ? std::string("127.0.0.1:0") : *dashboard;
            auto started = health_monitor::http_endpoint::start(listen);
            if (!started) {
              result = fail("run", fmt::format("--dashboard: {}", started.error()), exit_usage);
              return;
            }
            options.dashboard = std::move(*started);
            fmt::print("Dashboard: {}\n", options.dashboard->url());
            std::fflush(stdout);
            if (std::ranges::find(options.services, &health_monitor::descriptor) == options.services.end()) {
              fmt::print(stderr, "horizons run: the health monitor runs elsewhere; this dashboard shows nothing\n");
            }
          }
          auto report = platform::run(options, stop);
          if (isatty(STDERR_FILENO)) fmt::print(stderr, "\n");
          if (!report) {
            result = fail("run", report.error());
            return;
          }
          fmt::print("{}", report->text());
          std::fflush(stdout);
          if (!report_json->empty()) {
            std::ofstream file(*report_json);
            file << report->json();
            if (!file) {
              result = fail("run", fmt::format("cannot write {}", *report_json));
              return;
            }
          }
          result = report->ok() ? exit_ok : exit_bad_input;
          if (options.dashboard) {
            // A person at a terminal keeps the page until Ctrl-C; scripts and CI never wait unless asked to.
            int hold_s = *dashboard_hold_s >= 0 ? *dashboard_hold_s : isatty(STDOUT_FILENO) ? 86'400 : 0;
            if (hold_s > 0 && !stop.stop_requested()) {
              fmt::print(stderr, "Dashboard still at {} ({}); Ctrl-C ends it\n", options.dashboard->url(),
                         *dashboard_hold_s >= 0 ? fmt::format("for {} s", hold_s) : std::string("until Ctrl-C"));
              std::mutex mutex;
              std::condition_variable_any never;
              std::unique_lock lock(mutex);
              never.wait_for(lock, stop, std::chrono::seconds(hold_s), [] { return false; });
            }
          }
        });
  }

  // ---- serve
  {
    auto* serve = app.add_subcommand("serve", "Run one service in this process until SIGTERM or SIGINT");
    auto kafka = std::make_shared<kafka_options>();
    add_kafka_options(serve, kafka);
    auto opts = std::make_shared<platform::serve_options>();
    auto name = std::make_shared<std::string>();
    serve->add_option("service", *name, "One of: " + platform::served_service_names())->required();
    serve->add_option("--data-dir", opts->data_dir, "Where the service keeps its files (and state, without --state)")
        ->capture_default_str();
    auto serve_state = std::make_shared<std::string>();
    add_state_option(serve, *serve_state);
    serve->add_option("--http,--listen", opts->http_listen,
                      "host:port of the orchestrator's job API (default: none), the health monitor's "
                      "/healthz and /metrics (default 127.0.0.1:9464) or the schema registry's REST API "
                      "(default 127.0.0.1:8081; port 0: any free port)");
    serve
        ->add_option_function<int>(
            "--writer-lease-ms", [opts](int ms) { opts->writer_lease = std::chrono::milliseconds(ms); },
            "schema-registry: how long its writer may go unheard before another instance takes over "
            "(default 30000)")
        ->check(CLI::Range(500, 3'600'000));
    serve->add_option("--advertised-url", opts->advertised_url,
                      "schema-registry: where the other instances reach this one, to forward writes "
                      "(default: http://<listen address>)");
    serve->add_option("--webhook", opts->webhook_url, "notification-dispatcher: also POST each notification here");
    serve->add_option("--metrics", opts->metrics_listen,
                      "host:port of a listener of its own for GET /metrics (port 0: any free port); services "
                      "with an HTTP API serve /metrics there too");
    add_simulation_options(serve, opts->sim);
    add_scheduler_options(serve, opts->scheduling);
    serve->footer(
        "Examples:\n"
        "  horizons serve orchestrator --brokers 127.0.0.1:19092 --http 127.0.0.1:8070\n"
        "  horizons serve compliance-auditor --brokers 127.0.0.1:19092 --data-dir /var/lib/horizons \\\n"
        "      --metrics 127.0.0.1:9470\n"
        "  horizons serve schema-registry --brokers 127.0.0.1:19092 --listen 127.0.0.1:8081\n"
        "  horizons serve metrics-aggregator --brokers kafka1:9092 --state postgresql://horizons@db:5432/horizons\n"
        "Scale out by starting more processes of a service: on one host with the same data dir, or on any\n"
        "hosts with the same --state postgresql://...; they share its consumer group and its state.");
    serve->callback([&result, kafka, opts, name, serve_state] {
      const auto* s = platform::find_served_service(*name);
      if (!s) {
        result =
            fail("serve", fmt::format("unknown service '{}' (expected {})", *name, platform::served_service_names()),
                 exit_usage);
        return;
      }
      auto config = resolve_config(*kafka, true);
      if (!config) {
        result = fail("serve", config.error(), exit_usage);
        return;
      }
      auto root = state_root(*serve_state);
      if (!root) {
        result = fail("serve", root.error(), exit_usage);
        return;
      }
      auto options = *opts;
      options.config = *config;
      options.state = *root;
      // On stdout, for whoever started it to read the address (port 0 picks one).
      options.on_listening = [service = *name](const std::string& url) {
        fmt::print("horizons serve: {} ready at {}\n", service, url);
        std::fflush(stdout);
      };
      options.on_metrics_listening = [service = *name](const std::string& url) {
        fmt::print("horizons serve: {} metrics at {}\n", service, url);
        std::fflush(stdout);
      };
      auto stop = stop_on_signals();  // first: threads started later (tracing's) inherit its signal mask
      auto tracing = start_tracing("serve", *name, result);
      if (!tracing) return;
      fmt::print(stderr, "horizons serve: {} running on {} (state in {}); SIGTERM stops it\n", *name, config->brokers,
                 options.state ? options.state->to_string() : options.data_dir.string());
      if (auto ran = platform::serve(*s, options, stop); !ran) {
        result = fail("serve", ran.error());
        return;
      }
      fmt::print(stderr, "horizons serve: {} stopped\n", *name);
      result = exit_ok;
    });
  }

  // ---- submit
  {
    auto* submit = app.add_subcommand("submit", "Submit a job (a job.submitted event) to the orchestrator");
    auto kafka = std::make_shared<kafka_options>();
    add_kafka_options(submit, kafka);
    struct submit_flags {
      std::string json_file, via, token, ca_cert, name, pipeline = "alpha_cal", system = "frontera",
                                                        dataset = "vla-0001", user, job_id;
      int nodes = 1, gpus = 0, cores = 56, memory_gb = 192, minutes = 120;
    };
    auto f = std::make_shared<submit_flags>();
    submit->add_option("--json", f->json_file, "Read the submission (JSON) from this file, or - for stdin");
    submit->add_option("--via", f->via,
                       "POST to the orchestrator's API at this URL (http://host:port) instead of Kafka; the "
                       "submitter is the token's subject");
    submit->add_option("--token", f->token, "With --via: the bearer token (horizons token issue)")
        ->envname("HORIZONS_TOKEN");
    submit
        ->add_option("--ca-cert", f->ca_cert,
                     "With --via https://: the CA certificate (PEM) the API's certificate must chain to; default: "
                     "the system's CA store")
        ->envname("HORIZONS_HTTP_CA");
    submit->add_option("--name", f->name, "Job name");
    submit->add_option("--job-id", f->job_id, "Job id (default: a fresh one)");
    submit->add_option("--pipeline", f->pipeline, "alpha_cal, image_reconstruction, anomaly_detection, other")
        ->capture_default_str();
    submit->add_option("--system", f->system, "frontera, stampede3, lonestar6")->capture_default_str();
    submit->add_option("--dataset", f->dataset, "Dataset id")->capture_default_str();
    submit->add_option("--nodes", f->nodes, "Nodes")->check(CLI::Range(1, 10'000))->capture_default_str();
    submit->add_option("--gpus", f->gpus, "GPUs per node")->check(CLI::Range(0, 10'000))->capture_default_str();
    submit->add_option("--cores", f->cores, "Cores per node")->check(CLI::Range(1, 100'000))->capture_default_str();
    submit->add_option("--memory-gb", f->memory_gb, "Memory per node, GB")
        ->check(CLI::Range(1, 1'000'000))
        ->capture_default_str();
    submit->add_option("--minutes", f->minutes, "Wall-time limit, minutes")
        ->check(CLI::Range(1, 1'000'000))
        ->capture_default_str();
    submit->add_option("--user", f->user, "Submitting user (required without --via)");
    submit->footer(
        "Examples:\n"
        "  horizons submit --brokers 127.0.0.1:19092 --user alice --name m87-cal --nodes 4\n"
        "  echo '{\"job_name\":\"m87\",\"pipeline\":\"ImageReconstruction\"}' | horizons submit --user alice --json - "
        "--brokers ...\n"
        "  HORIZONS_TOKEN=$(horizons token issue --sub alice) horizons submit --via http://127.0.0.1:8070 --name m87\n"
        "  horizons submit --user alice --cores 1 --memory-gb 1 --minutes 5   # fits tools/slurm's one node");
    submit->callback([&result, kafka, f] {
      std::string body;
      if (!f->json_file.empty()) {
        std::stringstream text;
        if (f->json_file == "-") {
          text << std::cin.rdbuf();
        } else {
          std::ifstream file(f->json_file);
          if (!file) {
            result = fail("submit", fmt::format("cannot read {}", f->json_file), exit_usage);
            return;
          }
          text << file.rdbuf();
        }
        body = text.str();
      } else {
        nlohmann::json j{{"job_name", f->name.empty() ? "job" : f->name},
                         {"pipeline", f->pipeline},
                         {"tacc_system", f->system},
                         {"dataset_id", f->dataset},
                         {"resources",
                          {{"nodes", f->nodes},
                           {"gpus", f->gpus},
                           {"cores_per_node", f->cores},
                           {"memory_gb", f->memory_gb},
                           {"wall_time_minutes", f->minutes}}}};
        if (!f->job_id.empty()) j["job_id"] = f->job_id;
        if (!f->user.empty()) j["user_id"] = f->user;  // via the API, refused (403) unless it is the token's subject
        body = j.dump();
      }
      if (!f->via.empty()) {
        if (f->token.empty()) {
          result = fail("submit", "--via needs a bearer token: --token or HORIZONS_TOKEN (horizons token issue)",
                        exit_usage);
          return;
        }
        httplib::Client client(f->via);
        client.set_connection_timeout(std::chrono::seconds(5));
        if (!f->ca_cert.empty()) client.set_ca_cert_path(f->ca_cert.c_str());
        auto answer = client.Post("/jobs", {{"Authorization", "Bearer " + f->token}}, body, "application/json");
        if (!answer) {
          result = fail("submit", fmt::format("{}: {}{}", f->via, httplib::to_string(answer.error()),
                                              answer.error() == httplib::Error::SSLServerVerification
                                                  ? " (its certificate does not chain to a trusted CA: --ca-cert)"
                                                  : ""));
          return;
        }
        if (answer->status != 202) {
          result = fail("submit", fmt::format("{} answered {}: {}", f->via, answer->status, answer->body));
          return;
        }
        fmt::print("{}\n", answer->body);
        result = exit_ok;
        return;
      }
      if (f->user.empty()) {
        result = fail("submit", "--user is required (with --via, the token names the submitter)", exit_usage);
        return;
      }
      auto submission = orchestrator::submission_from_json(body, f->user);
      if (!submission) {
        result = fail("submit", submission.error(), exit_usage);
        return;
      }
      auto config = resolve_config(*kafka, true);
      if (!config) {
        result = fail("submit", config.error(), exit_usage);
        return;
      }
      auto tracing = start_tracing("submit", "horizons", result);
      if (!tracing) return;
      std::optional<std::optional<kafka_error>> outcome;
      std::mutex mutex;
      auto made = producer::create({.config = *config,
                                    .on_delivery =
                                        [&](const delivery_report& r) {
                                          std::lock_guard lock(mutex);
                                          outcome = r.error;
                                        },
                                    .enqueue_timeout = std::chrono::milliseconds(30'000),
                                    .max_queued_messages = 1'000});
      if (!made) {
        result = fail("submit", made.error().message);
        return;
      }
      if (auto queued = (*made)->publish(*submission); !queued) {
        result = fail("submit", queued.error().message);
        return;
      }
      (*made)->close(config->delivery_timeout);
      std::lock_guard lock(mutex);
      if (!outcome || *outcome) {
        result = fail("submit", outcome ? (*outcome)->message : "no delivery report");
        return;
      }
      fmt::print("{{\"job_id\": \"{}\", \"event_id\": \"{}\"}}\n", submission->payload.job_id,
                 submission->event_id.to_string());
      result = exit_ok;
    });
  }
}

}  // namespace horizons::cli
