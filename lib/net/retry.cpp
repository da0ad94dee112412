#include "net/retry.hpp"

#include <curl/curl.h>
#include <nlohmann/json.hpp>
#include <pugixml.hpp>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <memory>
#include <random>

namespace wsp::net {

SteadyClock real_steady_clock() {
  return [] { return std::chrono::steady_clock::now(); };
}

SystemClock real_system_clock() {
  return [] { return std::chrono::system_clock::now(); };
}

RandomSource real_random_source() {
  auto engine = std::make_shared<std::mt19937_64>(std::random_device{}());
  auto mutex = std::make_shared<std::mutex>();
  return [engine, mutex] {
    std::lock_guard lock(*mutex);
    return std::uniform_real_distribution<double>(0.0, 1.0)(*engine);
  };
}

bool is_transient_status(int status) {
  switch (status) {
    case 408: case 429: case 500: case 502: case 503: case 504: return true;
    default: return false;
  }
}

bool is_transient_s3_code(std::string_view code) {
  return code == "SlowDown" || code == "InternalError" || code == "RequestTimeout" || code == "ServiceUnavailable";
}

std::optional<S3Error> parse_s3_error(std::string_view body) {
  if (body.find('<') == std::string_view::npos) return std::nullopt;
  pugi::xml_document document;
  if (!document.load_buffer(body.data(), body.size())) return std::nullopt;
  auto error = document.child("Error");
  if (!error) return std::nullopt;
  S3Error out{error.child_value("Code"), error.child_value("Message")};
  if (out.code.empty()) return std::nullopt;
  return out;
}

std::optional<std::chrono::milliseconds> parse_retry_after(std::string_view value,
                                                           std::chrono::system_clock::time_point now) {
  while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
  while (!value.empty() && (value.back() == ' ' || value.back() == '\t' || value.back() == '\r')) value.remove_suffix(1);
  if (value.empty()) return std::nullopt;
  if (std::all_of(value.begin(), value.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    std::int64_t seconds = 0;
    auto [end, error] = std::from_chars(value.data(), value.data() + value.size(), seconds);
    if (error != std::errc{}) return std::chrono::milliseconds::max();  // absurdly long: the cap applies
    return std::chrono::milliseconds(std::min<std::int64_t>(seconds, 1'000'000'000) * 1000);
  }
  std::string date(value);
  std::time_t at = curl_getdate(date.c_str(), nullptr);
  if (at == -1) return std::nullopt;
  auto wait = std::chrono::system_clock::from_time_t(at) - now;
  return std::max(std::chrono::milliseconds(0), std::chrono::duration_cast<std::chrono::milliseconds>(wait));
}

Backoff::Backoff(RetrySettings settings, RandomSource random) : m_settings(settings), m_random(std::move(random)) {}

std::chrono::milliseconds Backoff::delay(int retry, std::optional<std::chrono::milliseconds> retry_after) const {
  double ceiling = static_cast<double>(m_settings.base_delay.count()) * std::pow(2.0, std::min(retry, 40));
  ceiling = std::min(ceiling, static_cast<double>(m_settings.max_delay.count()));
  auto jittered = std::chrono::milliseconds(static_cast<std::int64_t>(m_random() * ceiling));
  if (!retry_after) return jittered;
  return std::max(jittered, std::min(*retry_after, m_settings.max_retry_after));
}

RetryBudget::RetryBudget(const RetrySettings& settings)
    : m_min(settings.min_budget), m_ratio(settings.budget_ratio) {}

void RetryBudget::record_first_attempt() {
  std::lock_guard lock(m_mutex);
  ++m_first_attempts;
}

bool RetryBudget::try_spend() {
  std::lock_guard lock(m_mutex);
  double allowed = m_min + m_ratio * static_cast<double>(m_first_attempts);
  if (m_spent + 1 > allowed) return false;
  ++m_spent;
  return true;
}

int RetryBudget::spent() const {
  std::lock_guard lock(m_mutex);
  return m_spent;
}

std::string_view to_string(BreakerState state) {
  switch (state) {
    case BreakerState::closed: return "closed";
    case BreakerState::open: return "open";
    case BreakerState::half_open: return "half-open";
  }
  return "unknown";
}

CircuitBreaker::CircuitBreaker(BreakerSettings settings, SteadyClock clock)
    : m_settings(settings), m_clock(std::move(clock)) {}

bool CircuitBreaker::allow() {
  if (m_state == BreakerState::open && m_clock() - m_opened_at >= m_settings.open_for) {
    m_state = BreakerState::half_open;
    m_probe_out = false;
  }
  switch (m_state) {
    case BreakerState::closed: return true;
    case BreakerState::open: return false;
    case BreakerState::half_open:
      if (m_probe_out) return false;
      m_probe_out = true;
      return true;
  }
  return false;
}

void CircuitBreaker::record_success() {
  m_state = BreakerState::closed;
  m_failures = 0;
  m_probe_out = false;
}

void CircuitBreaker::record_failure() {
  ++m_failures;
  if (m_state == BreakerState::half_open || m_failures >= m_settings.failure_threshold) {
    m_state = BreakerState::open;
    m_opened_at = m_clock();
    m_probe_out = false;
  }
}

BreakerState CircuitBreaker::state() const {
  if (m_state == BreakerState::open && m_clock() - m_opened_at >= m_settings.open_for) return BreakerState::half_open;
  return m_state;
}

void CircuitBreaker::restore(BreakerState state, int failures, std::chrono::milliseconds age) {
  m_failures = std::max(0, failures);
  m_probe_out = false;
  m_state = state == BreakerState::closed ? BreakerState::closed : BreakerState::open;
  m_opened_at = m_clock() - (state == BreakerState::half_open ? std::max(age, m_settings.open_for) : age);
}

void to_json(nlohmann::json& out, const BreakerSnapshot& snapshot) {
  out = {{"host", snapshot.host},
         {"state", std::string(to_string(snapshot.state))},
         {"consecutive_failures", snapshot.consecutive_failures}};
}

CircuitBreakers::CircuitBreakers(BreakerSettings settings, SteadyClock clock, BreakerObserver observer)
    : m_settings(settings), m_clock(std::move(clock)), m_observer(std::move(observer)) {}

CircuitBreaker& CircuitBreakers::breaker(const std::string& host) {
  return m_breakers.try_emplace(host, m_settings, m_clock).first->second;
}

void CircuitBreakers::tell(const std::string& host, bool changed, std::string_view error,
                           std::unique_lock<std::mutex>& lock) {
  if (!m_observer || !changed) return;
  const auto& b = breaker(host);
  BreakerSnapshot snapshot{host, b.state(), b.consecutive_failures()};
  lock.unlock();
  m_observer(snapshot, error);
}

bool CircuitBreakers::allow(const std::string& host) {
  std::unique_lock lock(m_mutex);
  auto& b = breaker(host);
  const bool allowed = b.allow();
  // The probe going out is the change worth telling: until then an open
  // circuit whose time is up only reads as half-open.
  tell(host, allowed && b.state() == BreakerState::half_open, {}, lock);
  return allowed;
}

void CircuitBreakers::record(const std::string& host, bool success, std::string_view error) {
  std::unique_lock lock(m_mutex);
  auto& b = breaker(host);
  const auto before = b.state();
  const int failures = b.consecutive_failures();
  if (success)
    b.record_success();
  else
    b.record_failure();
  const bool changed = b.state() != before || b.consecutive_failures() != failures;
  tell(host, changed, success ? std::string_view() : error, lock);
}

void CircuitBreakers::restore(const std::string& host, BreakerState state, int failures,
                              std::chrono::milliseconds age) {
  std::lock_guard lock(m_mutex);
  breaker(host).restore(state, failures, age);
}

std::vector<BreakerSnapshot> CircuitBreakers::snapshot() const {
  std::lock_guard lock(m_mutex);
  std::vector<BreakerSnapshot> out;
  for (const auto& [host, breaker] : m_breakers) out.push_back({host, breaker.state(), breaker.consecutive_failures()});
  return out;
}

}  // namespace wsp::net
