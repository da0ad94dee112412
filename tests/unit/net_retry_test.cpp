#include "net/retry.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <string>
#include <vector>

namespace {

using namespace std::chrono_literals;
using namespace wsp::net;

std::chrono::system_clock::time_point at_utc(int year, unsigned month, unsigned day, int hour, int minute, int second) {
  return std::chrono::sys_days{std::chrono::year{year} / month / day} + std::chrono::hours(hour) +
         std::chrono::minutes(minute) + std::chrono::seconds(second);
}

TEST(NetRetry, TransientStatuses) {
  for (int status : {408, 429, 500, 502, 503, 504}) EXPECT_TRUE(is_transient_status(status)) << status;
  for (int status : {200, 301, 400, 401, 403, 404, 409, 412, 501, 505}) EXPECT_FALSE(is_transient_status(status)) << status;
}

TEST(NetRetry, S3ErrorBodies) {
  auto error = parse_s3_error(
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>SlowDown</Code><Message>Please reduce your request "
      "rate.</Message><RequestId>4442587FB7D0A2F9</RequestId></Error>");
  ASSERT_TRUE(error);
  EXPECT_EQ(error->code, "SlowDown");
  EXPECT_EQ(error->message, "Please reduce your request rate.");
  EXPECT_TRUE(is_transient_s3_code(error->code));
  for (auto code : {"InternalError", "RequestTimeout", "ServiceUnavailable"}) EXPECT_TRUE(is_transient_s3_code(code));
  for (auto code : {"AccessDenied", "NoSuchKey", "SignatureDoesNotMatch", "InvalidArgument"})
    EXPECT_FALSE(is_transient_s3_code(code));
  EXPECT_FALSE(parse_s3_error("Service Unavailable"));
  EXPECT_FALSE(parse_s3_error("<html><body>502 Bad Gateway</body></html>"));
  EXPECT_FALSE(parse_s3_error("<Error><Code>Slow"));
  EXPECT_FALSE(parse_s3_error(""));
}

TEST(NetRetry, RetryAfterInSeconds) {
  auto now = at_utc(2026, 6, 13, 14, 0, 0);
  EXPECT_EQ(parse_retry_after("120", now), 120'000ms);
  EXPECT_EQ(parse_retry_after(" 3 ", now), 3'000ms);
  EXPECT_EQ(parse_retry_after("0", now), 0ms);
  EXPECT_FALSE(parse_retry_after("", now));
  EXPECT_FALSE(parse_retry_after("soon", now));
  EXPECT_FALSE(parse_retry_after("-5", now));
  EXPECT_GE(*parse_retry_after("99999999999999999999999", now), 3600'000ms);
}

TEST(NetRetry, RetryAfterAsAnHttpDate) {
  auto now = at_utc(2015, 10, 21, 7, 26, 30);
  EXPECT_EQ(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now), 90'000ms);
  EXPECT_EQ(parse_retry_after("Wednesday, 21-Oct-15 07:28:00 GMT", now), 90'000ms);
  EXPECT_EQ(parse_retry_after("Wed Oct 21 07:28:00 2015", now), 90'000ms);
  // A date already past means no wait, not a negative one.
  EXPECT_EQ(parse_retry_after("Wed, 21 Oct 2015 07:00:00 GMT", now), 0ms);
}

TEST(NetRetry, BackoffIsCappedExponentialWithFullJitter) {
  RetrySettings settings;
  settings.base_delay = 100ms;
  settings.max_delay = 1000ms;
  double chance = 0.999;
  Backoff backoff(settings, [&] { return chance; });
  EXPECT_EQ(backoff.delay(0), 99ms);
  EXPECT_EQ(backoff.delay(1), 199ms);
  EXPECT_EQ(backoff.delay(3), 799ms);
  EXPECT_EQ(backoff.delay(4), 999ms);   // capped
  EXPECT_EQ(backoff.delay(60), 999ms);  // no overflow
  chance = 0.5;
  EXPECT_EQ(backoff.delay(2), 200ms);
  chance = 0.0;  // full jitter: no wait at all is a possible draw
  EXPECT_EQ(backoff.delay(5), 0ms);
}

TEST(NetRetry, BackoffHonoursRetryAfterUpToItsCap) {
  RetrySettings settings;
  settings.base_delay = 100ms;
  settings.max_delay = 1000ms;
  settings.max_retry_after = 60s;
  Backoff backoff(settings, [] { return 0.5; });
  EXPECT_EQ(backoff.delay(0, 5s), 5s);
  EXPECT_EQ(backoff.delay(0, 2h), 60s);
  EXPECT_EQ(backoff.delay(3, 0ms), 400ms);  // the server's "now" does not shorten the backoff
}

TEST(NetRetry, BudgetGrowsWithTheRun) {
  RetrySettings settings;
  settings.min_budget = 2;
  settings.budget_ratio = 0.5;
  RetryBudget budget(settings);
  EXPECT_TRUE(budget.try_spend());
  EXPECT_TRUE(budget.try_spend());
  EXPECT_FALSE(budget.try_spend());
  budget.record_first_attempt();
  EXPECT_FALSE(budget.try_spend());  // 2.5 allowed
  budget.record_first_attempt();
  EXPECT_TRUE(budget.try_spend());  // 3 allowed
  EXPECT_FALSE(budget.try_spend());
  EXPECT_EQ(budget.spent(), 3);
}

TEST(NetRetry, CircuitBreakerStates) {
  std::chrono::steady_clock::time_point now{};
  CircuitBreaker breaker({3, 10s}, [&] { return now; });
  EXPECT_TRUE(breaker.allow());
  breaker.record_failure();
  breaker.record_failure();
  breaker.record_success();  // not consecutive any more
  breaker.record_failure();
  breaker.record_failure();
  EXPECT_EQ(breaker.state(), BreakerState::closed);
  breaker.record_failure();
  EXPECT_EQ(breaker.state(), BreakerState::open);
  EXPECT_FALSE(breaker.allow());

  now += 9s;
  EXPECT_FALSE(breaker.allow());
  now += 1s;
  EXPECT_EQ(breaker.state(), BreakerState::half_open);
  EXPECT_TRUE(breaker.allow());   // the probe
  EXPECT_FALSE(breaker.allow());  // nothing else while it is out
  breaker.record_failure();
  EXPECT_EQ(breaker.state(), BreakerState::open);
  now += 5s;
  EXPECT_FALSE(breaker.allow());  // the wait starts again from the failed probe
  now += 5s;
  EXPECT_TRUE(breaker.allow());
  breaker.record_success();
  EXPECT_EQ(breaker.state(), BreakerState::closed);
  EXPECT_TRUE(breaker.allow());
  EXPECT_TRUE(breaker.allow());
}

TEST(NetRetry, BreakersAreKeptPerHost) {
  std::chrono::steady_clock::time_point now{};
  CircuitBreakers breakers({1, 10s}, [&] { return now; });
  breakers.record("s3.example.com", false);
  EXPECT_FALSE(breakers.allow("s3.example.com"));
  EXPECT_TRUE(breakers.allow("api.cloudflare.com"));
  auto snapshot = breakers.snapshot();
  ASSERT_EQ(snapshot.size(), 2u);
  EXPECT_EQ(snapshot[0].host, "api.cloudflare.com");
  EXPECT_EQ(snapshot[0].state, BreakerState::closed);
  EXPECT_EQ(snapshot[1].host, "s3.example.com");
  EXPECT_EQ(snapshot[1].state, BreakerState::open);
  EXPECT_EQ(snapshot[1].consecutive_failures, 1);
  EXPECT_EQ(to_string(snapshot[1].state), "open");
  EXPECT_EQ(nlohmann::json(snapshot).dump(),
            R"([{"consecutive_failures":0,"host":"api.cloudflare.com","state":"closed"},)"
            R"({"consecutive_failures":1,"host":"s3.example.com","state":"open"}])");
  now += 10s;
  EXPECT_EQ(nlohmann::json(breakers.snapshot())[1]["state"], "half-open");
}

TEST(NetRetry, BreakersTellEachChangeAndTakeUpAnEarlierState) {
  std::chrono::steady_clock::time_point now{};
  std::vector<std::string> told;
  CircuitBreakers breakers({2, 10s}, [&] { return now; }, [&](const BreakerSnapshot& s, std::string_view error) {
    told.push_back(s.host + " " + std::string(to_string(s.state)) + " " + std::to_string(s.consecutive_failures) +
                   " " + std::string(error));
  });
  breakers.record("a", true);  // closed and no failures before: nothing changed
  EXPECT_TRUE(told.empty());
  breakers.record("a", false, "HTTP 500");
  breakers.record("a", false, "HTTP 502");
  EXPECT_FALSE(breakers.allow("a"));
  now += 10s;
  EXPECT_TRUE(breakers.allow("a"));   // the probe, told
  EXPECT_FALSE(breakers.allow("a"));  // held back, not told
  breakers.record("a", true);
  EXPECT_EQ(told, (std::vector<std::string>{"a closed 1 HTTP 500", "a open 2 HTTP 502", "a half-open 2 ",
                                            "a closed 0 "}));

  // Open for 4 s when an earlier process ended: 6 s to wait still.
  breakers.restore("b", BreakerState::open, 2, 4s);
  EXPECT_FALSE(breakers.allow("b"));
  now += 5s;
  EXPECT_FALSE(breakers.allow("b"));
  now += 1s;
  EXPECT_TRUE(breakers.allow("b"));
  // A probe that never came back: due another at once.
  breakers.restore("c", BreakerState::half_open, 2, 0s);
  EXPECT_TRUE(breakers.allow("c"));
  // Failures in a row go on counting from where they were.
  breakers.restore("d", BreakerState::closed, 1, 0s);
  EXPECT_TRUE(breakers.allow("d"));
  breakers.record("d", false);
  EXPECT_FALSE(breakers.allow("d"));
}

}  // namespace
