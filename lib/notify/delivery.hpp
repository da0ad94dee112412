#pragma once
// Sending the outbox: claimed deliveries are signed and POSTed through the
// shared HTTP client, one attempt each, and their outcome written back. The
// retry schedule is Standard Webhooks' (now, 5 s, 5 min, 30 min, 2 h, 5 h,
// 10 h, 10 h, with jitter); a 429 or 503 that says Retry-After is taken at its
// word; 410 Gone disables the endpoint until `webhooks enable`; after the last
// attempt a delivery is dead-lettered, kept for `webhooks list --dead` and
// `retry`. The claim is a lease in the catalog, so that two processes never
// send the same attempt, and one killed mid-send leaves it to the next.

#include "catalog/catalog.hpp"
#include "config/config.hpp"
#include "net/retry.hpp"

#include <atomic>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <memory>
#include <mutex>
#include <vector>

namespace wsp::notify {

// Attempts in all, the first included.
inline constexpr int k_max_attempts = 8;
// What is kept of a receiver's answer.
inline constexpr std::size_t k_kept_response_bytes = 1024;

// The wait after `attempts_made` failed attempts, jittered by up to a tenth
// either way with `random` in [0, 1), or `retry_after` when the receiver asked
// for it (capped at the schedule's longest wait); nothing once the attempts
// are spent.
std::optional<std::chrono::milliseconds> retry_delay(int attempts_made,
                                                     std::optional<std::chrono::milliseconds> retry_after,
                                                     double random);

// Why `url` may not be sent to, or empty: only https://, unless the host is
// loopback (127.0.0.0/8, ::1, localhost) or `allow_http` is set.
std::string refuse_url(std::string_view url, bool allow_http);

// One attempt made, as `webhooks deliver` and `test` report it.
struct Attempt {
  catalog::Delivery delivery;  // as claimed
  catalog::DeliveryState state = catalog::DeliveryState::pending;  // after the attempt
  std::optional<int> status;
  std::string error;
  std::string response;  // truncated
  std::chrono::milliseconds retry_in{0};  // when still pending: the wait before the next attempt
};

struct DispatchSettings {
  // How long to go on sending; zero: only what is due now, once.
  std::chrono::milliseconds wait{0};
  // Only deliveries to this endpoint, when not empty.
  std::string endpoint;
  // Delivered rows older than this are pruned first; the events stay. Zero:
  // no pruning; none: the config's webhook_retention.
  std::optional<std::chrono::hours> retention;
  // When not zero, no attempt takes longer than this (the endpoint's timeout otherwise).
  std::chrono::milliseconds attempt_cap{0};
  // Returns early once set.
  const std::atomic<bool>* stop = nullptr;
  net::RandomSource random = net::real_random_source();
};

struct DispatchReport {
  std::vector<Attempt> attempts;
  std::int64_t pending_left = 0;
  int delivered() const;
  int failed() const;  // attempts that did not deliver
};

// Sends what is due (and, within `settings.wait`, what falls due) to the
// endpoints of `config`; secrets are read at the point of use and never
// leave this function.
DispatchReport deliver_due(catalog::Catalog& catalog, const config::Config& config, const DispatchSettings& settings);

// Sends the outbox continuously from a thread of its own with its own catalog
// connection, for `watch`: the batches commit events, and this delivers them
// without the pipeline waiting on any receiver. Stops (and hands its claims
// back) when destroyed.
class BackgroundSender {
public:
  BackgroundSender(catalog::Catalog& catalog, config::Config config);
  ~BackgroundSender();
  BackgroundSender(const BackgroundSender&) = delete;
  BackgroundSender& operator=(const BackgroundSender&) = delete;

  // Sends with `config`'s endpoints and secrets from now on (SIGHUP): the
  // attempts under way end first, then the sending starts again.
  void reload(config::Config config);

private:
  void loop();

  std::unique_ptr<catalog::Catalog> m_catalog;
  config::Config m_config;  // the sending thread's
  std::mutex m_mutex;
  std::optional<config::Config> m_reloaded;
  std::atomic<bool> m_stop{false};
  std::atomic<bool> m_interrupt{false};  // ends a sending round early: stop or reload
  std::thread m_thread;
};

}  // namespace wsp::notify
