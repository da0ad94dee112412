#include <algorithm>
#include <chrono>
#include <ctime>
#include <iomanip>
#include <map>
#include <regex>
#include <sstream>

#include <fmt/chrono.h>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/commands.hpp"
#include "notify/delivery.hpp"
#include "notify/events.hpp"
#include "pipeline/tag.hpp"

namespace wsp::cli {

void deliver_webhooks_at_end(const Context& context, const config::Config& config, catalog::Catalog& catalog) {
  using namespace std::chrono_literals;
  if (config.webhooks.empty()) return;
  notify::DispatchSettings settings;
  settings.wait = 3s;
  settings.attempt_cap = 3s;
  settings.stop = &context.stop;
  auto report = notify::deliver_due(catalog, config, settings);
  if (report.failed() > 0 || report.pending_left > 0)
    context.terminal.info(fmt::format("webhooks: {} delivered, {} attempt(s) failed, {} pending (`wsportfolio webhooks "
                                      "list --pending`)",
                                      report.delivered(), report.failed(), report.pending_left));
}

void record_review_needed(const config::Config& config, catalog::Catalog& catalog, const std::string& run_id) {
  std::vector<std::string> paths;
  for (const auto& tags : pipeline::effective_tags(config, catalog))
    if (tags.needs_review) paths.push_back(tags.path);
  notify::record_review_needed(catalog, run_id, paths);
}

void record_verify_failed(const Context& context, const config::Config& config, const nlohmann::json& findings) {
  const bool heard = std::any_of(config.webhooks.begin(), config.webhooks.end(), [](const config::Webhook& w) {
    return std::find(w.events.begin(), w.events.end(), "verify.failed") != w.events.end();
  });
  if (!heard) return;
  try {
    auto catalog = open_existing_catalog(config);
    catalog->write([&] {
      notify::record_event(*catalog, notify::EventType::verify_failed,
                           {{"count", findings.size()}, {"findings", findings}}, "");
    });
    deliver_webhooks_at_end(context, config, *catalog);
  } catch (const catalog::CatalogError& error) {
    context.terminal.warn(fmt::format("verify.failed not recorded for webhooks: {}", error.what()));
  }
}

void show_webhook_backlog(const Context& context, catalog::Catalog& catalog) {
  auto backlog = catalog.webhook_backlog();
  if (backlog.empty()) return;
  std::map<std::string, std::string> circuits;
  for (const auto& circuit : catalog.circuits())
    if (circuit.kind == "webhook") circuits[circuit.name] = circuit.state;
  if (!context.terminal.json()) fmt::print("\nwebhooks (`wsportfolio webhooks list`)\n");
  for (const auto& endpoint : backlog) {
    const std::string state = endpoint.disabled_ms ? "disabled: " + endpoint.disabled_reason : "enabled";
    const auto found = circuits.find(endpoint.endpoint);
    const std::string circuit = found == circuits.end() ? "closed" : found->second;
    if (!context.terminal.json())
      fmt::print("  {}: {} pending, {} dead, {}, circuit {}{}\n", endpoint.endpoint, endpoint.pending, endpoint.dead,
                 state, circuit, endpoint.last_error.empty() ? std::string() : "; last error: " + endpoint.last_error);
    context.terminal.emit(JsonLine()
                              .add("event", "status.webhook")
                              .add("endpoint", endpoint.endpoint)
                              .add("pending", endpoint.pending)
                              .add("dead", endpoint.dead)
                              .add("disabled", endpoint.disabled_ms.has_value())
                              .add("disabled_reason", endpoint.disabled_reason)
                              .add("circuit", circuit)
                              .add("last_error", endpoint.last_error));
  }
}

namespace {

using catalog::DeliveryState;

struct WebhooksOptions {
  std::string folder;
  bool pending = false;
  bool dead = false;
  std::int64_t id = 0;
  bool retry_dead = false;
  std::string since;
  std::string endpoint;
  double wait_seconds = 0;
  int keep_days = -1;  // -1: the config's webhook_retention
};

std::string when(std::int64_t ms) {
  const std::chrono::sys_time<std::chrono::milliseconds> at{std::chrono::milliseconds(ms)};
  return fmt::format("{:%FT%T}Z", std::chrono::floor<std::chrono::seconds>(at));
}

// "2026-06-14T18:00:00Z" (UTC), "2026-06-14", or an age: "90m", "2h", "3d".
std::int64_t parse_since(const std::string& text) {
  static const std::regex k_age(R"((\d+)([smhd]))");
  std::smatch match;
  if (std::regex_match(text, match, k_age)) {
    const std::int64_t count = std::stoll(match[1]);
    const std::int64_t unit = match[2] == "s" ? 1'000 : match[2] == "m" ? 60'000 : match[2] == "h" ? 3'600'000 : 86'400'000;
    return catalog::now_ms() - count * unit;
  }
  std::tm tm{};
  std::istringstream in(text);
  in >> std::get_time(&tm, text.size() > 10 ? "%Y-%m-%dT%H:%M:%S" : "%Y-%m-%d");
  if (in.fail()) throw UsageError(fmt::format("--since {}: expected a UTC time (2026-06-14T18:00:00Z) or an age (2h)", text));
  return static_cast<std::int64_t>(timegm(&tm)) * 1000;
}

void print(const Context& context, const catalog::Delivery& d) {
  context.terminal.emit(JsonLine()
                            .add("event", "webhook.delivery")
                            .add("id", d.id)
                            .add("webhook_id", d.message_id)
                            .add("type", d.event_type)
                            .add("endpoint", d.endpoint)
                            .add("state", to_string(d.state))
                            .add("attempts", d.attempts)
                            .add("created", when(d.created_ms))
                            .add("next_attempt", when(d.next_attempt_ms))
                            .add("last_status", static_cast<std::int64_t>(d.last_status.value_or(0)))
                            .add("last_error", d.last_error)
                            .add("last_response", d.last_response));
  if (context.terminal.json()) return;
  std::string last = d.last_status ? fmt::format("HTTP {}", *d.last_status) : std::string();
  if (!d.last_error.empty()) last += (last.empty() ? "" : ": ") + d.last_error;
  fmt::print("{:>6}  {:<9}  {}  {:<17}  {}  {}  attempts {}{}{}\n", d.id, to_string(d.state), when(d.created_ms),
             d.event_type, d.endpoint, d.message_id, d.attempts,
             d.state == DeliveryState::pending ? "  next " + when(d.next_attempt_ms) : std::string(),
             last.empty() ? std::string() : "  (" + last + ")");
}

void report_attempts(const Context& context, const notify::DispatchReport& report) {
  for (const auto& a : report.attempts) {
    context.terminal.emit(JsonLine()
                              .add("event", "webhook.attempt")
                              .add("id", a.delivery.id)
                              .add("webhook_id", a.delivery.message_id)
                              .add("type", a.delivery.event_type)
                              .add("endpoint", a.delivery.endpoint)
                              .add("attempt", a.delivery.attempts + 1)
                              .add("state", to_string(a.state))
                              .add("status", static_cast<std::int64_t>(a.status.value_or(0)))
                              .add("error", a.error)
                              .add("response", a.response));
    context.terminal.info(fmt::format("{} {} to {}: attempt {}: {}{}", a.delivery.event_type, a.delivery.message_id,
                                      a.delivery.endpoint, a.delivery.attempts + 1,
                                      a.status ? fmt::format("HTTP {}", *a.status) : std::string("no answer"),
                                      a.error.empty() ? std::string() : " (" + a.error + ")"));
  }
}

const config::Webhook& configured(const config::Config& config, const std::string& endpoint) {
  for (const auto& webhook : config.webhooks)
    if (webhook.url == endpoint) return webhook;
  throw UsageError(fmt::format("{}: not an endpoint in webhooks of {}", endpoint,
                               config.config_file.empty() ? std::string("the config") : config.config_file.string()));
}

int run_list(const WebhooksOptions& options, const Context& context) {
  auto config = load_project(context, existing_folder(options.folder));
  auto catalog = open_existing_catalog(config, catalog::Access::read_only);
  std::optional<DeliveryState> state;
  if (options.pending) state = DeliveryState::pending;
  if (options.dead) state = DeliveryState::dead;
  for (const auto& d : catalog->deliveries(state)) print(context, d);
  return k_exit_ok;
}

int run_retry(const WebhooksOptions& options, const Context& context) {
  if (options.retry_dead == (options.id != 0)) throw UsageError("webhooks retry: give a delivery ID or --dead");
  auto config = load_project(context, existing_folder(options.folder));
  auto catalog = open_existing_catalog(config);
  const auto count = options.retry_dead ? catalog->retry_dead_deliveries() : catalog->retry_delivery(options.id);
  if (!options.retry_dead && count == 0)
    throw UsageError(fmt::format("webhooks retry: no undelivered delivery {}", options.id));
  context.terminal.info(fmt::format("webhooks: {} delivery(ies) due again; `wsportfolio webhooks deliver` sends them", count));
  context.terminal.emit(JsonLine().add("event", "webhooks.retry").add("requeued", count));
  return k_exit_ok;
}

int run_replay(const WebhooksOptions& options, const Context& context) {
  const auto since = parse_since(options.since);
  auto config = load_project(context, existing_folder(options.folder));
  auto catalog = open_existing_catalog(config);
  const auto count = catalog->replay_deliveries(since);
  context.terminal.info(fmt::format("webhooks: {} delivery(ies) of events since {} due again, with their webhook-id",
                                    count, when(since)));
  context.terminal.emit(JsonLine().add("event", "webhooks.replay").add("requeued", count));
  return k_exit_ok;
}

int run_enable(const WebhooksOptions& options, const Context& context) {
  auto config = load_project(context, existing_folder(options.folder));
  configured(config, options.endpoint);
  auto catalog = open_existing_catalog(config);
  const bool enabled = catalog->enable_endpoint(options.endpoint);
  context.terminal.info(enabled ? fmt::format("webhooks: {} enabled; its pending deliveries go out again", options.endpoint)
                                : fmt::format("webhooks: {} was not disabled", options.endpoint));
  context.terminal.emit(JsonLine().add("event", "webhooks.enable").add("endpoint", options.endpoint).add("changed", enabled));
  return k_exit_ok;
}

int run_deliver(const WebhooksOptions& options, const Context& context) {
  auto config = load_project(context, existing_folder(options.folder));
  auto catalog = open_existing_catalog(config);
  notify::DispatchSettings settings;
  settings.wait = std::chrono::milliseconds(static_cast<std::int64_t>(options.wait_seconds * 1000));
  if (options.keep_days >= 0) settings.retention = std::chrono::hours(24 * options.keep_days);
  settings.stop = &context.stop;
  auto report = notify::deliver_due(*catalog, config, settings);
  report_attempts(context, report);
  context.terminal.info(fmt::format("webhooks: {} delivered, {} attempt(s) failed, {} pending", report.delivered(),
                                    report.failed(), report.pending_left));
  context.terminal.emit(JsonLine()
                            .add("event", "webhooks.deliver")
                            .add("delivered", report.delivered())
                            .add("failed", report.failed())
                            .add("pending", report.pending_left));
  if (context.stop) return k_exit_interrupted;
  return report.failed() > 0 ? k_exit_items_failed : k_exit_ok;
}

int run_test(const WebhooksOptions& options, const Context& context) {
  auto config = load_project(context, existing_folder(options.folder));
  std::vector<std::string> endpoints;
  if (!options.endpoint.empty()) endpoints.push_back(configured(config, options.endpoint).url);
  else
    for (const auto& webhook : config.webhooks) endpoints.push_back(webhook.url);
  if (endpoints.empty()) throw UsageError("webhooks test: no endpoint in the config's webhooks");
  auto catalog = open_existing_catalog(config);
  RunRegistration run(*catalog, "webhooks test");
  for (const auto& endpoint : endpoints)
    catalog->write([&] {
      notify::record_event(*catalog, notify::EventType::test_ping,
                           {{"endpoint", endpoint}, {"message", "test from wsportfolio"}}, run.id());
    });
  int code = k_exit_ok;
  for (const auto& endpoint : endpoints) {
    notify::DispatchSettings settings;
    settings.endpoint = endpoint;
    auto report = notify::deliver_due(*catalog, config, settings);
    report_attempts(context, report);
    for (const auto& a : report.attempts) {
      if (a.state != DeliveryState::delivered) code = k_exit_items_failed;
      if (!context.terminal.json())
        fmt::print("{}: {}\n{}\n", endpoint, a.status ? fmt::format("HTTP {}", *a.status) : a.error, a.response);
    }
    if (report.attempts.empty()) {
      context.terminal.warn(fmt::format("{}: not sent (endpoint disabled or its circuit open; see `webhooks list`)", endpoint));
      code = k_exit_items_failed;
    }
  }
  run.set_exit_code(code);
  return code;
}

}  // namespace

Runner define_webhooks(CLI::App& command) {
  auto options = std::make_shared<WebhooksOptions>();
  command.require_subcommand(1);
  auto* list = command.add_subcommand("list", "Deliveries, newest first");
  list->add_flag("--pending", options->pending, "Only those still to be sent");
  list->add_flag("--dead", options->dead, "Only those dead-lettered after their last attempt");
  auto* retry = command.add_subcommand("retry", "Send a dead-lettered delivery again, with fresh attempts");
  retry->add_option("id", options->id, "The delivery's ID (from `webhooks list`)");
  retry->add_flag("--dead", options->retry_dead, "Every dead-lettered delivery");
  auto* replay = command.add_subcommand("replay", "Send again every delivery of the events since TIME");
  replay->add_option("--since", options->since, "A UTC time (2026-06-14T18:00:00Z) or an age (2h, 3d)")->required();
  auto* enable = command.add_subcommand("enable", "Deliver again to an endpoint disabled by a 410 Gone");
  enable->add_option("endpoint", options->endpoint, "The endpoint's URL as in the config")->required();
  auto* test = command.add_subcommand("test", "Send test.ping and print the receiver's answer");
  test->add_option("endpoint", options->endpoint, "The endpoint's URL (default: every endpoint)");
  auto* deliver = command.add_subcommand("deliver", "Send whatever is due (for cron when no watcher runs)");
  deliver->add_option("--wait", options->wait_seconds, "Go on sending what falls due for this many seconds")
      ->check(CLI::Range(0.0, 86400.0));
  deliver->add_option("--keep-days", options->keep_days, "Delivered rows are pruned after this many days (default: webhook_retention)")
      ->check(CLI::Range(0, 3650));
  for (auto* sub : {list, retry, replay, enable, test, deliver})
    sub->add_option("-C,--project", options->folder, "Project folder (default: the current folder)");
  return [options, list, retry, replay, enable, test, deliver](const Context& context) {
    if (list->parsed()) return run_list(*options, context);
    if (retry->parsed()) return run_retry(*options, context);
    if (replay->parsed()) return run_replay(*options, context);
    if (enable->parsed()) return run_enable(*options, context);
    if (test->parsed()) return run_test(*options, context);
    if (deliver->parsed()) return run_deliver(*options, context);
    return k_exit_usage;
  };
}

}  // namespace wsp::cli
