#pragma once
// Keeping a client under a service's rate limits: requests in flight at once,
// requests and tokens per minute as our own limits, and what the server says
// of its own counters (OpenAI's x-ratelimit-remaining-* and
// x-ratelimit-reset-* headers, a 429's Retry-After), so that the client slows
// down before the server has to refuse. Waiting requests hold no thread: they
// queue, and the limiter's one timer thread sends them when they may go.

#include "net/http.hpp"
#include "net/retry.hpp"

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>

namespace wsp::net {

struct RateLimits {
  int concurrency = 0;                  // requests out at once; 0: no limit
  int requests_per_minute = 0;          // 0: no limit
  std::int64_t tokens_per_minute = 0;   // 0: no limit
  // A request that would have to wait longer than this (a server whose limit
  // resets in six minutes, or tomorrow) is not sent but refused at once.
  std::chrono::milliseconds longest_wait{60'000};
};

// A duration as OpenAI writes its x-ratelimit-reset-* headers (Go's format):
// "1s", "6m0s", "20ms", "1h2m3.5s", "0.5s", "120us"; rounded up to whole
// milliseconds. Nothing for any other text.
std::optional<std::chrono::milliseconds> parse_reset_duration(std::string_view text);

// The arithmetic of the limits, not thread-safe, with the time passed in.
// A per-minute limit is a debt repaid at its rate: a request goes out when
// nothing is owed and adds what it counts (1 request, its tokens), so that
// requests are evenly spaced rather than a minute's worth at once (servers
// enforce their per-minute limits over much shorter periods). The server's
// own counters are allowances until their reset.
class RateBudget {
public:
  using TimePoint = std::chrono::steady_clock::time_point;
  RateBudget(RateLimits limits, TimePoint now);

  // When a request counting `tokens` may go out; `now` or earlier: at once.
  // Concurrency is not counted here.
  TimePoint earliest(std::int64_t tokens, TimePoint now);
  // Counts a request that went out.
  void take(std::int64_t tokens, TimePoint now);
  // A request counted as `counted` tokens turned out to use `used`: more is
  // charged; less is not given back (servers count what was asked, max_tokens included).
  void settle(std::int64_t counted, std::int64_t used);
  // What a response said of the server's counters. `others_out` requests of
  // `others_tokens` are still in flight: the server may not have counted them yet.
  void server_said(const HttpResponse& response, int others_out, std::int64_t others_tokens, TimePoint now,
                   std::chrono::system_clock::time_point wall);
  // Sends nothing before `until`.
  void pause_until(TimePoint until);

private:
  struct Bucket {
    double per_ms = 0;  // repaid per millisecond; 0: no limit
    double owed = 0;
    TimePoint repaid_at{};
    void repay(TimePoint now);
    TimePoint clear_at(TimePoint now);
  };
  // What the server allows until its counter resets.
  struct Allowance {
    std::optional<std::int64_t> remaining;
    TimePoint until{};
    bool holds(TimePoint now) const { return remaining && now < until; }
  };

  RateLimits m_limits;
  Bucket m_requests, m_tokens;
  Allowance m_server_requests, m_server_tokens;
  TimePoint m_paused_until{};
};

// A queue in front of a client: `when_allowed` runs its task once the request
// may go out, in the order asked. Thread-safe.
class RateLimiter {
public:
  // `refused` empty: send now (and call finished() once it is answered);
  // else why it is not sent (the limiter is stopping, or the wait would be
  // longer than longest_wait), and finished() must not be called.
  using Task = std::function<void(std::string refused)>;

  explicit RateLimiter(RateLimits limits, SystemClock wall_clock = real_system_clock());
  // Calls stop().
  ~RateLimiter();
  RateLimiter(const RateLimiter&) = delete;
  RateLimiter& operator=(const RateLimiter&) = delete;

  // Runs `task` on this thread when the request may go now and none waits
  // before it, else later on the limiter's thread.
  void when_allowed(std::int64_t tokens, Task task);
  // A request sent by a task has its final answer: frees its place, reads the
  // server's counters (and a 429's Retry-After), and charges the tokens it
  // used beyond those it counted for.
  void finished(const HttpResponse& response, std::int64_t counted_tokens, std::optional<std::int64_t> used_tokens);
  // Refuses what still waits and whatever is asked from now on; finished()
  // may still be called for what is out.
  void stop();

private:
  struct Waiting {
    std::int64_t tokens;
    Task task;
  };
  void loop();
  // With the lock held: whether the first waiting request may go now; if it
  // must wait, until when (refuse: it would wait too long).
  bool may_go(std::chrono::steady_clock::time_point now, std::chrono::steady_clock::time_point& until, bool& refuse);

  RateLimits m_limits;
  SystemClock m_wall_clock;
  std::mutex m_mutex;
  std::condition_variable m_changed;
  RateBudget m_budget;
  std::deque<Waiting> m_waiting;
  int m_out = 0;
  std::int64_t m_out_tokens = 0;
  bool m_stopping = false;
  std::thread m_thread;
};

}  // namespace wsp::net
