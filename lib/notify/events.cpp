#include "notify/events.hpp"

#include <fmt/chrono.h>
#include <fmt/format.h>

#include <array>
#include <chrono>
#include <utility>

namespace wsp::notify {

std::string_view name_of(EventType type) {
  constexpr std::array<std::pair<EventType, std::string_view>, 10> k_names{{
      {EventType::run_started, "run.started"},
      {EventType::run_completed, "run.completed"},
      {EventType::run_failed, "run.failed"},
      {EventType::images_rejected, "images.rejected"},
      {EventType::images_failed, "images.failed"},
      {EventType::review_needed, "review.needed"},
      {EventType::publish_completed, "publish.completed"},
      {EventType::publish_failed, "publish.failed"},
      {EventType::verify_failed, "verify.failed"},
      {EventType::test_ping, "test.ping"},
  }};
  for (const auto& [name, text] : k_names)
    if (name == type) return text;
  return "?";
}

void record_event(catalog::Catalog& catalog, EventType type, nlohmann::json data, const std::string& run_id) {
  data["version"] = k_payload_version;
  catalog.add_event({std::string(name_of(type)), std::nullopt,
                     data.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)},
                    run_id);
}

std::string envelope(const catalog::Delivery& delivery) {
  const std::chrono::sys_time<std::chrono::milliseconds> at{std::chrono::milliseconds(delivery.event_ms)};
  nlohmann::json body;
  body["type"] = delivery.event_type;
  body["timestamp"] = fmt::format("{:%FT%T}Z", at);
  auto data = nlohmann::json::parse(delivery.data, nullptr, false);
  body["data"] = data.is_discarded() ? nlohmann::json::object() : data;
  return body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

void subscribe(catalog::Catalog& catalog, const config::Config& config) {
  std::vector<catalog::WebhookSubscription> subscriptions;
  for (const auto& webhook : config.webhooks) subscriptions.push_back({webhook.url, webhook.events});
  catalog.subscribe(subscriptions);
}

void record_run_started(catalog::Catalog& catalog, const std::string& run_id, const std::string& command) {
  catalog.write([&] { record_event(catalog, EventType::run_started, {{"run_id", run_id}, {"command", command}}, run_id); });
}

void record_run_end(catalog::Catalog& catalog, const std::string& run_id, const RunSummary& summary) {
  auto rejected = nlohmann::json::array();
  for (const auto& image : catalog.images())
    if (image.status == catalog::ImageStatus::Rejected && image.updated_ms >= summary.started_ms)
      rejected.push_back({{"path", image.path}, {"reason", image.reject_reason}});
  auto failed = nlohmann::json::array();
  for (const auto* stage : {"render", "tag", "xmp"})
    for (const auto& [path, reason] : catalog.failures(stage))
      failed.push_back({{"path", path}, {"stage", stage}, {"reason", reason}});
  auto stages = nlohmann::json::object();
  for (const auto& [stage, items] : summary.stage_items) stages[stage] = items;
  const bool completed = summary.exit_code == 0 || summary.exit_code == 1;
  nlohmann::json data = {{"run_id", run_id},
                         {"command", summary.command},
                         {"exit_code", summary.exit_code},
                         {"seconds", summary.seconds},
                         {"stages", stages},
                         {"rejected", rejected.size()},
                         {"failed", failed.size()}};
  catalog.write([&] {
    record_event(catalog, completed ? EventType::run_completed : EventType::run_failed, data, run_id);
    if (!rejected.empty())
      record_event(catalog, EventType::images_rejected, {{"run_id", run_id}, {"images", rejected}}, run_id);
    if (!failed.empty()) record_event(catalog, EventType::images_failed, {{"run_id", run_id}, {"images", failed}}, run_id);
  });
}

void record_review_needed(catalog::Catalog& catalog, const std::string& run_id, const std::vector<std::string>& paths) {
  if (paths.empty()) return;
  catalog.write([&] {
    record_event(catalog, EventType::review_needed, {{"run_id", run_id}, {"count", paths.size()}, {"images", paths}},
                 run_id);
  });
}

void record_publish_failed(catalog::Catalog& catalog, const std::string& run_id, const std::string& target,
                           int exit_code) {
  catalog.write([&] {
    record_event(catalog, EventType::publish_failed,
                 {{"run_id", run_id}, {"target", target.empty() ? "*" : target}, {"exit_code", exit_code}}, run_id);
  });
}

}  // namespace wsp::notify
