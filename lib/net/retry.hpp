#pragma once
// When to try a remote call again, and when to stop trying a remote host at
// all. Pure policy: the clock and the random source are passed in, so that
// tests can drive them.

#include <nlohmann/json_fwd.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace wsp::net {

using SteadyClock = std::function<std::chrono::steady_clock::time_point()>;
using SystemClock = std::function<std::chrono::system_clock::time_point()>;
// Uniform in [0, 1).
using RandomSource = std::function<double()>;

SteadyClock real_steady_clock();
SystemClock real_system_clock();
RandomSource real_random_source();

// HTTP statuses worth another attempt: 408, 429, 500, 502, 503, 504.
bool is_transient_status(int status);
// S3 error codes worth another attempt, whatever the status: SlowDown,
// InternalError, RequestTimeout (sent as a 400), ServiceUnavailable.
bool is_transient_s3_code(std::string_view code);

// The Code and Message of an S3 (or S3-compatible) XML error body.
struct S3Error {
  std::string code;
  std::string message;
};
std::optional<S3Error> parse_s3_error(std::string_view body);

// Retry-After as delta-seconds ("120") or an HTTP date ("Wed, 21 Oct 2015
// 07:28:00 GMT", or the obsolete RFC 850 and asctime forms); a date in the past
// is no wait at all. Nothing when the value is neither.
std::optional<std::chrono::milliseconds> parse_retry_after(std::string_view value,
                                                           std::chrono::system_clock::time_point now);

struct RetrySettings {
  int retries = 3;  // attempts after the first (pipeline.retries)
  std::chrono::milliseconds base_delay{250};
  std::chrono::milliseconds max_delay{20'000};
  // A server asking for a longer wait than this gets this wait.
  std::chrono::milliseconds max_retry_after{60'000};
  // The run's budget: retries allowed = min_budget + budget_ratio x first attempts.
  int min_budget = 20;
  double budget_ratio = 0.2;
};

// Capped exponential backoff with full jitter: a random wait in
// [0, min(max_delay, base_delay x 2^retry)), or what the server asked for
// (capped) when that is longer.
class Backoff {
public:
  Backoff(RetrySettings settings, RandomSource random);
  // `retry` counts from 0 for the wait before the second attempt.
  std::chrono::milliseconds delay(int retry, std::optional<std::chrono::milliseconds> retry_after = {}) const;

private:
  RetrySettings m_settings;
  RandomSource m_random;
};

// Bounds the retries of a whole run, so that an outage does not multiply the
// load on a struggling service by the number of attempts. Thread-safe.
class RetryBudget {
public:
  explicit RetryBudget(const RetrySettings& settings);
  void record_first_attempt();
  // Takes one retry from the budget; false when it is spent.
  bool try_spend();
  int spent() const;

private:
  mutable std::mutex m_mutex;
  int m_min;
  double m_ratio;
  std::int64_t m_first_attempts = 0;
  int m_spent = 0;
};

struct BreakerSettings {
  int failure_threshold = 5;  // consecutive failures that open the circuit
  std::chrono::milliseconds open_for{30'000};  // then one probe is let through
};

enum class BreakerState { closed, open, half_open };
std::string_view to_string(BreakerState state);

// One remote host's circuit: closed (calls go through), open after
// `failure_threshold` consecutive failures (calls fail at once), half-open
// once `open_for` has passed (one probe goes through; its success closes the
// circuit, its failure opens it again). Not thread-safe: see CircuitBreakers.
class CircuitBreaker {
public:
  CircuitBreaker(BreakerSettings settings, SteadyClock clock);
  // Whether a call may go out now; in half-open, true once for the probe.
  bool allow();
  void record_success();
  void record_failure();
  BreakerState state() const;
  int consecutive_failures() const { return m_failures; }
  // Takes up the state an earlier process left: `state` since `age` ago (a
  // half-open one, whose probe never came back, is open and due a probe).
  void restore(BreakerState state, int failures, std::chrono::milliseconds age);

private:
  BreakerSettings m_settings;
  SteadyClock m_clock;
  BreakerState m_state = BreakerState::closed;
  int m_failures = 0;
  std::chrono::steady_clock::time_point m_opened_at{};
  bool m_probe_out = false;
};

// What `status` shows of one host.
struct BreakerSnapshot {
  std::string host;
  BreakerState state;
  int consecutive_failures;
};

// {"host": "s3.example.com", "state": "open", "consecutive_failures": 5}, as
// `status --json` and the catalog would record it.
void to_json(nlohmann::json& out, const BreakerSnapshot& snapshot);

// Told of every change of a circuit (its state or its count of failures),
// with the redacted error of the failure that made it, if any, so that the
// state can outlive the process. Called on the thread that made the change,
// outside the breakers' lock.
using BreakerObserver = std::function<void(const BreakerSnapshot& snapshot, std::string_view error)>;

// The circuits of every host a run talks to. Thread-safe.
class CircuitBreakers {
public:
  CircuitBreakers(BreakerSettings settings, SteadyClock clock, BreakerObserver observer = {});
  bool allow(const std::string& host);
  void record(const std::string& host, bool success, std::string_view error = {});
  void restore(const std::string& host, BreakerState state, int failures, std::chrono::milliseconds age);
  std::vector<BreakerSnapshot> snapshot() const;

private:
  CircuitBreaker& breaker(const std::string& host);
  void tell(const std::string& host, bool changed, std::string_view error, std::unique_lock<std::mutex>& lock);

  BreakerSettings m_settings;
  SteadyClock m_clock;
  BreakerObserver m_observer;
  mutable std::mutex m_mutex;
  std::map<std::string, CircuitBreaker> m_breakers;
};

}  // namespace wsp::net
