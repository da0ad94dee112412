#include "notify/delivery.hpp"

#include "net/http.hpp"
#include "notify/events.hpp"
#include "notify/signature.hpp"
#include "notify/circuits.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <future>
#include <map>
#include <random>
#include <sstream>
#include <thread>
#include <utility>
#include <unistd.h>

namespace wsp::notify {

namespace {

using namespace std::chrono_literals;

constexpr std::array<std::chrono::milliseconds, k_max_attempts> k_schedule{
    0ms, 5s, 5min, 30min, 2h, 5h, 10h, 10h};

// A lease comfortably longer than one attempt may take.
constexpr std::chrono::milliseconds k_lease_margin = 10s;

std::string lowercase(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

// The host of an http(s) URL, without port or brackets.
std::string host_of(std::string_view url) {
  auto start = url.find("://");
  if (start == std::string_view::npos) return {};
  auto rest = url.substr(start + 3);
  rest = rest.substr(0, rest.find_first_of("/?#"));
  if (auto at = rest.rfind('@'); at != std::string_view::npos) rest.remove_prefix(at + 1);
  if (rest.starts_with('[')) return lowercase(rest.substr(1, rest.find(']') - 1));
  return lowercase(rest.substr(0, rest.find(':')));
}

bool is_loopback(const std::string& host) {
  if (host == "localhost" || host == "::1") return true;
  if (!host.starts_with("127.")) return false;
  return std::all_of(host.begin(), host.end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)) || c == '.'; });
}

std::vector<std::string> split_secrets(const std::string& text) {
  std::vector<std::string> secrets;
  std::istringstream words(text);
  for (std::string word; words >> word;) secrets.push_back(word);
  return secrets;
}

std::string owner_name() {
  std::random_device device;
  return fmt::format("webhooks:{}:{:08x}", ::getpid(), device());
}

std::string truncated(const std::string& body) {
  if (body.size() <= k_kept_response_bytes) return body;
  return body.substr(0, k_kept_response_bytes) + "...";
}

struct Prepared {
  catalog::Delivery delivery;
  const config::Webhook* webhook = nullptr;
  std::string refusal;  // sent nowhere: an error recorded as the attempt
  bool final_refusal = false;  // dead at once (the config forbids it), not retried
  std::future<net::HttpResponse> response;
};

Attempt conclude(Prepared& item, const DispatchSettings& settings, net::CircuitBreakers& breakers) {
  Attempt attempt{item.delivery, catalog::DeliveryState::pending, std::nullopt, {}, {}};
  std::optional<std::chrono::milliseconds> retry_after;
  if (!item.refusal.empty()) {
    attempt.error = item.refusal;
    if (item.final_refusal) {
      attempt.state = catalog::DeliveryState::dead;
      return attempt;
    }
  } else {
    auto response = item.response.get();
    if (response.status) attempt.status = response.status;
    attempt.response = truncated(response.body);
    if (!response.ok())
      attempt.error = response.error.empty() ? fmt::format("HTTP {}", response.status) : response.error;
    breakers.record(item.delivery.endpoint, response.ok(), attempt.error);
    if (response.ok()) {
      attempt.state = catalog::DeliveryState::delivered;
      return attempt;
    }
    if (response.status == 410) {
      attempt.state = catalog::DeliveryState::dead;
      return attempt;
    }
    if (response.status == 429 || response.status == 503)
      if (auto value = response.header("Retry-After"))
        retry_after = net::parse_retry_after(*value, std::chrono::system_clock::now());
  }
  if (auto delay = retry_delay(item.delivery.attempts + 1, retry_after, settings.random())) attempt.retry_in = *delay;
  else attempt.state = catalog::DeliveryState::dead;
  return attempt;
}

}  // namespace

std::optional<std::chrono::milliseconds> retry_delay(int attempts_made,
                                                     std::optional<std::chrono::milliseconds> retry_after,
                                                     double random) {
  if (attempts_made < 1 || attempts_made >= k_max_attempts) return std::nullopt;
  if (retry_after) return std::min(*retry_after, k_schedule.back());
  const auto base = k_schedule[static_cast<std::size_t>(attempts_made)];
  const double factor = 0.9 + 0.2 * std::clamp(random, 0.0, 1.0);
  return std::chrono::milliseconds(static_cast<std::int64_t>(static_cast<double>(base.count()) * factor));
}

std::string refuse_url(std::string_view url, bool allow_http) {
  if (url.starts_with("https://")) return {};
  if (!url.starts_with("http://")) return fmt::format("{}: only http(s) URLs can receive webhooks", url);
  if (allow_http || is_loopback(host_of(url))) return {};
  return fmt::format("{}: plain http:// is refused for a host that is not loopback (set allow_http: true)", url);
}

int DispatchReport::delivered() const {
  return static_cast<int>(std::count_if(attempts.begin(), attempts.end(), [](const Attempt& a) {
    return a.state == catalog::DeliveryState::delivered;
  }));
}

int DispatchReport::failed() const { return static_cast<int>(attempts.size()) - delivered(); }

DispatchReport deliver_due(catalog::Catalog& catalog, const config::Config& config, const DispatchSettings& settings) {
  DispatchReport report;
  std::map<std::string, const config::Webhook*> endpoints;
  std::chrono::milliseconds longest_timeout{1000};
  for (const auto& webhook : config.webhooks) {
    endpoints.emplace(webhook.url, &webhook);
    longest_timeout = std::max<std::chrono::milliseconds>(longest_timeout, std::chrono::seconds(webhook.timeout_seconds));
  }

  net::HttpSettings http;
  http.retry.retries = 0;  // the outbox's own schedule retries, across processes
  http.breaker.failure_threshold = 1 << 30;  // the breakers below are per endpoint, not per host
  http.max_response_bytes = 1u << 20;
  http.connect_timeout = std::chrono::seconds(config.network.connect_timeout_seconds);
  http.low_speed_bytes = config.network.stall_bytes_per_second;
  http.low_speed_time = std::chrono::seconds(config.network.stall_seconds);
  net::HttpClient client(http);
  // Each endpoint's circuit goes on from where the last process left it.
  CircuitRecorder circuits(catalog, "webhook");
  net::CircuitBreakers breakers(net::BreakerSettings{}, net::real_steady_clock(), circuits.observer());
  circuits.restore(breakers);
  const auto owner = owner_name();
  const auto lease = longest_timeout + k_lease_margin;
  const auto deadline = std::chrono::steady_clock::now() + settings.wait;
  const auto stopped = [&] { return settings.stop && settings.stop->load(); };

  if (const auto retention = settings.retention.value_or(config.webhook_retention); retention.count() > 0)
    catalog.prune_deliveries(catalog::now_ms() -
                             std::chrono::duration_cast<std::chrono::milliseconds>(retention).count());
  try {
    while (!stopped()) {
      auto batch = catalog.claim_deliveries(owner, lease.count(), 32, settings.endpoint);
      std::vector<Prepared> items;
      bool held_back = false;
      for (auto& delivery : batch) {
        Prepared item;
        item.delivery = delivery;
        auto found = endpoints.find(delivery.endpoint);
        if (found == endpoints.end()) {
          item.refusal = fmt::format("{}: the endpoint is no longer in the configuration", delivery.endpoint);
          item.final_refusal = true;
          items.push_back(std::move(item));
          continue;
        }
        item.webhook = found->second;
        if (!breakers.allow(delivery.endpoint)) {
          held_back = true;  // its claim is handed back below, untouched
          continue;
        }
        if (auto refusal = refuse_url(delivery.endpoint, item.webhook->allow_http); !refusal.empty()) {
          item.refusal = refusal;
          item.final_refusal = true;
          items.push_back(std::move(item));
          continue;
        }
        const auto secret = config::resolve_secret(item.webhook->secret, config.project_dir);
        const auto where = !item.webhook->secret.env.empty() ? item.webhook->secret.env : item.webhook->secret.file;
        if (!secret) {
          item.refusal = fmt::format("{}: no signing secret in {}", delivery.endpoint, where.empty() ? "the config" : where);
          items.push_back(std::move(item));
          continue;
        }
        const auto body = envelope(delivery);
        const auto timestamp = std::chrono::duration_cast<std::chrono::seconds>(
                                   std::chrono::system_clock::now().time_since_epoch())
                                   .count();
        auto signature = sign(delivery.message_id, timestamp, body, split_secrets(*secret));
        if (!signature) {
          item.refusal = fmt::format("{}: the secret in {} cannot sign: {}", delivery.endpoint, where, signature.message());
          items.push_back(std::move(item));
          continue;
        }
        net::HttpRequest request;
        request.method = "POST";
        request.url = delivery.endpoint;
        request.body = body;
        request.retryable = false;
        request.timeout = std::chrono::seconds(item.webhook->timeout_seconds);
        if (settings.attempt_cap.count() > 0) request.timeout = std::min(request.timeout, settings.attempt_cap);
        request.headers = {{"Content-Type", "application/json"},
                           {"webhook-id", delivery.message_id},
                           {"webhook-timestamp", std::to_string(timestamp)},
                           {"webhook-signature", *signature}};
        item.response = client.send(std::move(request));
        items.push_back(std::move(item));
      }
      for (auto& item : items) {
        auto attempt = conclude(item, settings, breakers);
        catalog::DeliveryOutcome outcome;
        outcome.id = item.delivery.id;
        outcome.state = attempt.state;
        outcome.status = attempt.status;
        outcome.error = attempt.error;
        outcome.response = attempt.response;
        outcome.next_attempt_ms = catalog::now_ms() + attempt.retry_in.count();
        if (attempt.status == 410) outcome.disable_endpoint_reason = "410 Gone";
        if (catalog.record_delivery(owner, outcome)) report.attempts.push_back(std::move(attempt));
      }
      if (!batch.empty() && !held_back) continue;
      if (held_back) catalog.release_deliveries(owner);
      // Nothing more due: wait for the next delivery that falls due, within the wait.
      auto next = catalog.next_delivery_ms();
      if (!next) break;
      const auto now = std::chrono::steady_clock::now();
      if (now >= deadline) break;
      auto until_due = std::chrono::milliseconds(std::max<std::int64_t>(*next - catalog::now_ms(), 0));
      if (held_back) until_due = std::max<std::chrono::milliseconds>(until_due, 1s);
      if (now + until_due > deadline) break;
      const auto wake = now + until_due;
      while (!stopped() && std::chrono::steady_clock::now() < wake) std::this_thread::sleep_for(50ms);
    }
  } catch (...) {
    catalog.release_deliveries(owner);
    throw;
  }
  catalog.release_deliveries(owner);
  for (const auto& backlog : catalog.webhook_backlog()) report.pending_left += backlog.pending;
  return report;
}

BackgroundSender::BackgroundSender(catalog::Catalog& catalog, config::Config config)
    : m_catalog(catalog.reopen()), m_config(std::move(config)), m_thread([this] { loop(); }) {}

BackgroundSender::~BackgroundSender() {
  m_stop = true;
  m_interrupt = true;
  m_thread.join();
}

void BackgroundSender::reload(config::Config config) {
  {
    std::lock_guard lock(m_mutex);
    m_reloaded = std::move(config);
  }
  m_interrupt = true;
}

void BackgroundSender::loop() {
  DispatchSettings settings;
  settings.wait = 30s;
  settings.stop = &m_interrupt;
  bool pruned = false;
  while (!m_stop) {
    {
      std::lock_guard lock(m_mutex);
      if (m_reloaded) m_config = std::move(*std::exchange(m_reloaded, std::nullopt));
      m_interrupt = m_stop.load();
    }
    try {
      // A read first: the pipeline's writers are not made to wait while nothing is due.
      const auto next = m_catalog->next_delivery_ms();
      if (next && *next <= catalog::now_ms()) {
        // Pruned once per watch is enough.
        settings.retention = pruned ? std::optional(std::chrono::hours(0)) : std::nullopt;
        deliver_due(*m_catalog, m_config, settings);
        pruned = true;
      }
    } catch (const std::exception&) {
      // A busy or unavailable catalog: the deliveries stay pending, their
      // errors are the attempts' (`status`); try again after the pause.
    }
    for (int i = 0; i < 20 && !m_interrupt; ++i) std::this_thread::sleep_for(50ms);
  }
}

}  // namespace wsp::notify
