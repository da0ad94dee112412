#include "net/rate_limit.hpp"

#include <gtest/gtest.h>

#include <chrono>

namespace {

using namespace std::chrono_literals;
using namespace wsp::net;
using Time = std::chrono::steady_clock::time_point;

const Time k_start = std::chrono::steady_clock::time_point{} + 1000h;
const auto k_wall = std::chrono::system_clock::time_point{} + 1000h;

HttpResponse answered(int status, Headers headers) {
  HttpResponse response;
  response.status = status;
  response.headers = std::move(headers);
  return response;
}

TEST(NetRateLimit, ResetDurationsInOpenAisFormat) {
  EXPECT_EQ(parse_reset_duration("1s"), 1000ms);
  EXPECT_EQ(parse_reset_duration("6m0s"), 360'000ms);
  EXPECT_EQ(parse_reset_duration("20ms"), 20ms);
  EXPECT_EQ(parse_reset_duration("1h2m3.5s"), 3'723'500ms);
  EXPECT_EQ(parse_reset_duration("0.5s"), 500ms);
  EXPECT_EQ(parse_reset_duration("17.123ms"), 18ms) << "rounded up";
  EXPECT_EQ(parse_reset_duration("120us"), 1ms);
  EXPECT_EQ(parse_reset_duration(" 2s "), 2000ms);
  EXPECT_EQ(parse_reset_duration("0"), 0ms);
  for (auto bad : {"", "s", "1", "1x", "1.2.3s", "-1s", "abc", "1s2", "ms"})
    EXPECT_FALSE(parse_reset_duration(bad)) << bad;
}

TEST(NetRateLimit, RequestsPerMinuteAreEvenlySpaced) {
  RateBudget budget({.requests_per_minute = 120}, k_start);  // one each 500 ms
  EXPECT_EQ(budget.earliest(0, k_start), k_start);
  budget.take(0, k_start);
  EXPECT_EQ(budget.earliest(0, k_start), k_start + 500ms);
  EXPECT_EQ(budget.earliest(0, k_start + 200ms), k_start + 500ms);
  budget.take(0, k_start + 500ms);
  EXPECT_EQ(budget.earliest(0, k_start + 500ms), k_start + 1000ms);
  // Idle time is not saved up for a burst.
  EXPECT_EQ(budget.earliest(0, k_start + 10s), k_start + 10s);
  budget.take(0, k_start + 10s);
  EXPECT_EQ(budget.earliest(0, k_start + 10s), k_start + 10500ms);
}

TEST(NetRateLimit, TokensPerMinuteCountEachRequestsTokensAndWhatItUsedBeyond) {
  RateBudget budget({.tokens_per_minute = 60'000}, k_start);  // 1000 a second
  budget.take(500, k_start);
  EXPECT_EQ(budget.earliest(500, k_start), k_start + 500ms);
  budget.settle(500, 1500);  // it used 1000 more than it counted
  EXPECT_EQ(budget.earliest(500, k_start), k_start + 1500ms);
  budget.settle(500, 100);  // less is not given back
  EXPECT_EQ(budget.earliest(500, k_start), k_start + 1500ms);
}

TEST(NetRateLimit, TheServersRemainingCountsHoldUntilTheirReset) {
  RateBudget budget({}, k_start);
  budget.server_said(answered(200, {{"x-ratelimit-remaining-requests", "2"}, {"x-ratelimit-reset-requests", "1s"}}), 0,
                     0, k_start, k_wall);
  EXPECT_EQ(budget.earliest(1, k_start), k_start);
  budget.take(1, k_start);
  budget.take(1, k_start);
  EXPECT_EQ(budget.earliest(1, k_start), k_start + 1s);
  EXPECT_EQ(budget.earliest(1, k_start + 1s), k_start + 1s) << "reset";

  // One still in flight may not be in the server's count yet.
  budget.server_said(answered(200, {{"x-ratelimit-remaining-requests", "1"}, {"x-ratelimit-reset-requests", "2s"}}), 1,
                     0, k_start + 1s, k_wall);
  EXPECT_EQ(budget.earliest(1, k_start + 1s), k_start + 3s);

  budget.server_said(answered(200, {{"x-ratelimit-remaining-tokens", "800"}, {"x-ratelimit-reset-tokens", "6m0s"}}), 0,
                     0, k_start + 3s, k_wall);
  EXPECT_EQ(budget.earliest(700, k_start + 3s), k_start + 3s);
  EXPECT_EQ(budget.earliest(900, k_start + 3s), k_start + 3s + 6min);

  // Figures without a reset, or unreadable, say nothing.
  RateBudget other({}, k_start);
  other.server_said(answered(200, {{"x-ratelimit-remaining-requests", "0"}}), 0, 0, k_start, k_wall);
  other.server_said(answered(200, {{"x-ratelimit-remaining-requests", "none"}, {"x-ratelimit-reset-requests", "1s"}}),
                    0, 0, k_start, k_wall);
  EXPECT_EQ(other.earliest(1, k_start), k_start);
}

TEST(NetRateLimit, A429sRetryAfterPausesEveryRequest) {
  RateBudget budget({}, k_start);
  budget.server_said(answered(429, {{"Retry-After", "3"}}), 0, 0, k_start, k_wall);
  EXPECT_EQ(budget.earliest(1, k_start + 1s), k_start + 3s);
  budget.server_said(answered(429, {{"retry-after-ms", "250"}, {"Retry-After", "9"}}), 0, 0, k_start + 3s, k_wall);
  EXPECT_EQ(budget.earliest(1, k_start + 3s), k_start + 3250ms) << "the precise one first";
  // A Retry-After on a success is no pause.
  budget.server_said(answered(200, {{"Retry-After", "30"}}), 0, 0, k_start + 4s, k_wall);
  EXPECT_EQ(budget.earliest(1, k_start + 4s), k_start + 4s);
}

}  // namespace
