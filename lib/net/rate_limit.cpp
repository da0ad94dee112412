#include "net/rate_limit.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <vector>

namespace wsp::net {

namespace {

using Clock = std::chrono::steady_clock;

Clock::duration from_ms(double ms) {
  return std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double, std::milli>(std::max(0.0, ms)));
}

std::optional<std::int64_t> whole_number(std::optional<std::string> text) {
  if (!text) return std::nullopt;
  std::string_view value = *text;
  while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
  while (!value.empty() && (value.back() == ' ' || value.back() == '\t' || value.back() == '\r')) value.remove_suffix(1);
  std::int64_t number = 0;
  auto [end, error] = std::from_chars(value.data(), value.data() + value.size(), number);
  if (error != std::errc{} || end != value.data() + value.size() || value.empty()) return std::nullopt;
  return number;
}

}  // namespace

std::optional<std::chrono::milliseconds> parse_reset_duration(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t' || text.back() == '\r')) text.remove_suffix(1);
  if (text.empty()) return std::nullopt;
  if (text == "0") return std::chrono::milliseconds(0);
  // Units longest first, so that "ms" is not read as minutes.
  static const std::vector<std::pair<std::string_view, double>> k_units{
      {"ns", 1e-6}, {"us", 1e-3}, {"\xC2\xB5s", 1e-3}, {"\xCE\xBCs", 1e-3}, {"ms", 1.0},
      {"s", 1e3},   {"m", 60e3},  {"h", 3600e3}};
  double total_ms = 0;
  while (!text.empty()) {
    std::size_t digits = 0;
    bool dot = false, any_digit = false;
    while (digits < text.size() && ((text[digits] >= '0' && text[digits] <= '9') || (text[digits] == '.' && !dot))) {
      if (text[digits] == '.') dot = true;
      else any_digit = true;
      ++digits;
    }
    if (!any_digit) return std::nullopt;
    double number = 0;
    auto [end, error] = std::from_chars(text.data(), text.data() + digits, number);
    if (error != std::errc{} || end != text.data() + digits) return std::nullopt;
    text.remove_prefix(digits);
    bool matched = false;
    for (const auto& [unit, ms] : k_units)
      if (text.starts_with(unit)) {
        total_ms += number * ms;
        text.remove_prefix(unit.size());
        matched = true;
        break;
      }
    if (!matched) return std::nullopt;
  }
  if (!std::isfinite(total_ms) || total_ms > 1e12) return std::nullopt;
  return std::chrono::milliseconds(static_cast<std::int64_t>(std::ceil(total_ms)));
}

void RateBudget::Bucket::repay(TimePoint now) {
  if (per_ms <= 0 || now <= repaid_at) return;
  owed = std::max(0.0, owed - per_ms * std::chrono::duration<double, std::milli>(now - repaid_at).count());
  repaid_at = now;
}

RateBudget::TimePoint RateBudget::Bucket::clear_at(TimePoint now) {
  repay(now);
  return owed <= 0 ? now : now + from_ms(owed / per_ms);
}

RateBudget::RateBudget(RateLimits limits, TimePoint now) : m_limits(limits) {
  if (limits.requests_per_minute > 0) m_requests = {limits.requests_per_minute / 60'000.0, 0.0, now};
  if (limits.tokens_per_minute > 0) m_tokens = {limits.tokens_per_minute / 60'000.0, 0.0, now};
}

RateBudget::TimePoint RateBudget::earliest(std::int64_t tokens, TimePoint now) {
  TimePoint at = std::max(now, m_paused_until);
  if (m_requests.per_ms > 0) at = std::max(at, m_requests.clear_at(now));
  if (m_tokens.per_ms > 0) at = std::max(at, m_tokens.clear_at(now));
  if (m_server_requests.holds(now) && *m_server_requests.remaining <= 0) at = std::max(at, m_server_requests.until);
  if (m_server_tokens.holds(now) && *m_server_tokens.remaining < tokens) at = std::max(at, m_server_tokens.until);
  return at;
}

void RateBudget::take(std::int64_t tokens, TimePoint now) {
  if (m_requests.per_ms > 0) {
    m_requests.repay(now);
    m_requests.owed += 1.0;
  }
  if (m_tokens.per_ms > 0) {
    m_tokens.repay(now);
    m_tokens.owed += static_cast<double>(tokens);
  }
  if (m_server_requests.holds(now)) --*m_server_requests.remaining;
  if (m_server_tokens.holds(now)) *m_server_tokens.remaining -= tokens;
}

void RateBudget::settle(std::int64_t counted, std::int64_t used) {
  if (used <= counted) return;
  if (m_tokens.per_ms > 0) m_tokens.owed += static_cast<double>(used - counted);
  if (m_server_tokens.remaining) *m_server_tokens.remaining -= used - counted;
}

void RateBudget::server_said(const HttpResponse& response, int others_out, std::int64_t others_tokens, TimePoint now,
                             std::chrono::system_clock::time_point wall) {
  auto counter = [&](const char* remaining_name, const char* reset_name, Allowance& allowance, std::int64_t out) {
    auto remaining = whole_number(response.header(remaining_name));
    auto reset = response.header(reset_name);
    auto wait = reset ? parse_reset_duration(*reset) : std::nullopt;
    if (!remaining || !wait) return;
    // What is still in flight may not be counted in the server's figure yet.
    allowance.remaining = std::max<std::int64_t>(0, *remaining - out);
    allowance.until = now + *wait;
  };
  counter("x-ratelimit-remaining-requests", "x-ratelimit-reset-requests", m_server_requests, others_out);
  counter("x-ratelimit-remaining-tokens", "x-ratelimit-reset-tokens", m_server_tokens, others_tokens);
  if (response.status == 429) {
    std::optional<std::chrono::milliseconds> wait;
    if (auto ms = whole_number(response.header("retry-after-ms"))) wait = std::chrono::milliseconds(*ms);
    else if (auto value = response.header("retry-after")) wait = parse_retry_after(*value, wall);
    if (wait) pause_until(now + *wait);
  }
}

void RateBudget::pause_until(TimePoint until) { m_paused_until = std::max(m_paused_until, until); }

RateLimiter::RateLimiter(RateLimits limits, SystemClock wall_clock)
    : m_limits(limits), m_wall_clock(std::move(wall_clock)), m_budget(limits, Clock::now()) {
  m_thread = std::thread([this] { loop(); });
}

RateLimiter::~RateLimiter() { stop(); }

void RateLimiter::stop() {
  {
    std::lock_guard lock(m_mutex);
    if (m_stopping && !m_thread.joinable()) return;
    m_stopping = true;
  }
  m_changed.notify_all();
  if (m_thread.joinable() && m_thread.get_id() != std::this_thread::get_id()) m_thread.join();
}

bool RateLimiter::may_go(Clock::time_point now, Clock::time_point& until, bool& refuse) {
  refuse = false;
  until = Clock::time_point::max();
  if (m_limits.concurrency > 0 && m_out >= m_limits.concurrency) return false;  // until one is answered
  const auto& first = m_waiting.front();
  const auto at = m_budget.earliest(first.tokens, now);
  if (at <= now) return true;
  if (at - now > m_limits.longest_wait) {
    refuse = true;
    until = at;
    return false;
  }
  until = at;
  return false;
}

void RateLimiter::when_allowed(std::int64_t tokens, Task task) {
  std::unique_lock lock(m_mutex);
  if (m_stopping) {
    lock.unlock();
    return task("not sent: the client is stopping");
  }
  m_waiting.push_back({tokens, std::move(task)});
  // At once, on this thread, when nothing waits before it and it may go.
  if (m_waiting.size() == 1) {
    const auto now = Clock::now();
    Clock::time_point until;
    bool refuse = false;
    if (may_go(now, until, refuse)) {
      auto go = std::move(m_waiting.front());
      m_waiting.pop_front();
      m_budget.take(go.tokens, now);
      ++m_out;
      m_out_tokens += go.tokens;
      lock.unlock();
      return go.task("");
    }
  }
  lock.unlock();
  m_changed.notify_all();
}

void RateLimiter::finished(const HttpResponse& response, std::int64_t counted_tokens,
                           std::optional<std::int64_t> used_tokens) {
  {
    std::lock_guard lock(m_mutex);
    m_out = std::max(0, m_out - 1);
    m_out_tokens = std::max<std::int64_t>(0, m_out_tokens - counted_tokens);
    m_budget.server_said(response, m_out, m_out_tokens, Clock::now(), m_wall_clock());
    if (used_tokens) m_budget.settle(counted_tokens, *used_tokens);
  }
  m_changed.notify_all();
}

void RateLimiter::loop() {
  std::unique_lock lock(m_mutex);
  while (!m_stopping) {
    if (m_waiting.empty()) {
      m_changed.wait(lock, [&] { return m_stopping || !m_waiting.empty(); });
      continue;
    }
    const auto now = Clock::now();
    Clock::time_point until;
    bool refuse = false;
    if (may_go(now, until, refuse)) {
      auto go = std::move(m_waiting.front());
      m_waiting.pop_front();
      m_budget.take(go.tokens, now);
      ++m_out;
      m_out_tokens += go.tokens;
      lock.unlock();
      go.task("");
      lock.lock();
      continue;
    }
    if (refuse) {
      auto refused = std::move(m_waiting.front());
      m_waiting.pop_front();
      const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(until - now).count() + 1;
      lock.unlock();
      refused.task(fmt::format("not sent: rate limit reached, the next request may go in {} s, longer than this run "
                               "waits ({} s)",
                               seconds, std::chrono::duration_cast<std::chrono::seconds>(m_limits.longest_wait).count()));
      lock.lock();
      continue;
    }
    if (until == Clock::time_point::max())
      m_changed.wait(lock);
    else
      m_changed.wait_until(lock, until);
  }
  auto left = std::move(m_waiting);
  m_waiting.clear();
  lock.unlock();
  for (auto& waiting : left) waiting.task("not sent: the client is stopping");
}

}  // namespace wsp::net
