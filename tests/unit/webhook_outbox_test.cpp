#include "catalog/catalog.hpp"
#include "notify/delivery.hpp"
#include "notify/events.hpp"
#include "catalog_backends.hpp"
#include "temp_dir.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <stdexcept>

namespace {

using namespace std::chrono_literals;
using namespace wsp;
using catalog::DeliveryState;
using wsp::testing::TempDir;

class WebhookOutbox : public ::testing::TestWithParam<wsp::testing::Backend> {
protected:
  void SetUp() override {
    WSP_REQUIRE_BACKEND(GetParam());
    m_place = wsp::testing::new_place(GetParam(), m_dir.path());
    m_catalog = m_place.open();
    m_catalog->subscribe({{"https://a.example/hook", {"run.completed", "run.failed"}},
                          {"https://b.example/hook", {"run.failed"}}});
  }
  void record(notify::EventType type) {
    m_catalog->write([&] { notify::record_event(*m_catalog, type, {{"run_id", "r1"}}, "r1"); });
  }
  TempDir m_dir;
  wsp::testing::CatalogPlace m_place;
  std::unique_ptr<catalog::Catalog> m_catalog;
};

INSTANTIATE_TEST_SUITE_P(Backends, WebhookOutbox, wsp::testing::all_backends(), wsp::testing::backend_name);

TEST_P(WebhookOutbox, AnEventGetsOneDeliveryPerSubscribedEndpoint) {
  record(notify::EventType::run_failed);
  record(notify::EventType::run_completed);
  record(notify::EventType::run_started);  // nobody subscribed
  auto all = m_catalog->deliveries(std::nullopt);
  ASSERT_EQ(all.size(), 3u);
  EXPECT_EQ(all[0].event_type, "run.completed");
  EXPECT_EQ(all[0].endpoint, "https://a.example/hook");
  EXPECT_NE(all[1].message_id, all[2].message_id);
  EXPECT_TRUE(all[0].message_id.starts_with("msg_"));
  for (const auto& d : all) EXPECT_EQ(d.state, DeliveryState::pending);
}

TEST_P(WebhookOutbox, AWriteThatRollsBackLeavesNoDelivery) {
  EXPECT_THROW(m_catalog->write([&] {
    notify::record_event(*m_catalog, notify::EventType::run_failed, {{"run_id", "r1"}}, "r1");
    throw std::runtime_error("the stage failed");
  }),
               std::runtime_error);
  EXPECT_TRUE(m_catalog->deliveries(std::nullopt).empty());
  EXPECT_EQ(m_catalog->event_count(), 0);
}

TEST_P(WebhookOutbox, TheEnvelopeIsStandardWebhooksWithVersionedData) {
  record(notify::EventType::run_completed);
  auto d = m_catalog->deliveries(std::nullopt).at(0);
  auto body = nlohmann::json::parse(notify::envelope(d));
  EXPECT_EQ(body.at("type"), "run.completed");
  EXPECT_EQ(body.at("data").at("run_id"), "r1");
  EXPECT_EQ(body.at("data").at("version"), notify::k_payload_version);
  EXPECT_TRUE(body.at("timestamp").get<std::string>().ends_with("Z"));
  EXPECT_EQ(notify::envelope(d), notify::envelope(m_catalog->delivery(d.id).value())) << "the same body on every attempt";
}

TEST_P(WebhookOutbox, AClaimIsHeldByOneOwnerAndOnlyItsHolderRecords) {
  record(notify::EventType::run_failed);
  auto first = m_catalog->claim_deliveries("one", 60'000, 10);
  ASSERT_EQ(first.size(), 2u);
  auto other = m_place.open();
  EXPECT_TRUE(other->claim_deliveries("two", 60'000, 10).empty());
  catalog::DeliveryOutcome done{first[0].id, DeliveryState::delivered, 0, 200, "", "ok", std::nullopt};
  EXPECT_FALSE(other->record_delivery("two", done));
  EXPECT_TRUE(m_catalog->record_delivery("one", done));
  EXPECT_FALSE(m_catalog->record_delivery("one", done)) << "an attempt is recorded once";
  m_catalog->release_deliveries("one");
  auto second = other->claim_deliveries("two", 60'000, 10);
  ASSERT_EQ(second.size(), 1u);
  EXPECT_EQ(second[0].id, first[1].id);
  EXPECT_EQ(second[0].message_id, first[1].message_id);
}

TEST_P(WebhookOutbox, GoneDisablesTheEndpointUntilEnabled) {
  record(notify::EventType::run_failed);
  record(notify::EventType::run_failed);
  auto claimed = m_catalog->claim_deliveries("one", 60'000, 1, "https://b.example/hook");
  ASSERT_EQ(claimed.size(), 1u);
  catalog::DeliveryOutcome gone{claimed[0].id, DeliveryState::dead, 0, 410, "HTTP 410", "", "410 Gone"};
  ASSERT_TRUE(m_catalog->record_delivery("one", gone));
  EXPECT_TRUE(m_catalog->claim_deliveries("one", 60'000, 10, "https://b.example/hook").empty());
  EXPECT_TRUE(m_catalog->enable_endpoint("https://b.example/hook"));
  EXPECT_EQ(m_catalog->claim_deliveries("one", 60'000, 10, "https://b.example/hook").size(), 1u);
}

TEST_P(WebhookOutbox, DeadDeliveriesAreRetriedAndReplayedWithTheirWebhookId) {
  record(notify::EventType::run_failed);
  auto claimed = m_catalog->claim_deliveries("one", 60'000, 10);
  ASSERT_EQ(claimed.size(), 2u);
  ASSERT_TRUE(m_catalog->record_delivery("one", {claimed[0].id, DeliveryState::dead, 0, 500, "HTTP 500", "", {}}));
  ASSERT_TRUE(m_catalog->record_delivery("one", {claimed[1].id, DeliveryState::delivered, 0, 200, "", "", {}}));
  EXPECT_EQ(m_catalog->deliveries(DeliveryState::dead).size(), 1u);
  EXPECT_EQ(m_catalog->retry_dead_deliveries(), 1);
  auto again = m_catalog->delivery(claimed[0].id).value();
  EXPECT_EQ(again.state, DeliveryState::pending);
  EXPECT_EQ(again.attempts, 0);
  EXPECT_EQ(again.message_id, claimed[0].message_id);
  EXPECT_EQ(m_catalog->replay_deliveries(catalog::now_ms() + 60'000), 0) << "no event that recent";
  EXPECT_EQ(m_catalog->replay_deliveries(0), 1) << "the delivered one; the pending one already is";
  EXPECT_EQ(m_catalog->delivery(claimed[1].id)->message_id, claimed[1].message_id);
}

TEST_P(WebhookOutbox, DeliveredRowsArePrunedAndTheEventsStay) {
  record(notify::EventType::run_failed);
  auto claimed = m_catalog->claim_deliveries("one", 60'000, 10);
  ASSERT_TRUE(m_catalog->record_delivery("one", {claimed[0].id, DeliveryState::delivered, 0, 200, "", "", {}}));
  EXPECT_EQ(m_catalog->prune_deliveries(catalog::now_ms() - 60'000), 0);
  EXPECT_EQ(m_catalog->prune_deliveries(catalog::now_ms() + 1), 1);
  EXPECT_EQ(m_catalog->deliveries(std::nullopt).size(), 1u) << "the pending one stays";
  EXPECT_EQ(m_catalog->event_count(), 1);
}

TEST(WebhookSchedule, FollowsStandardWebhooksWithJitterThenGivesUp) {
  const std::chrono::milliseconds expected[] = {5s, 5min, 30min, 2h, 5h, 10h, 10h};
  for (int made = 1; made <= 7; ++made) {
    const auto base = expected[made - 1];
    EXPECT_EQ(notify::retry_delay(made, std::nullopt, 0.5), base) << made;
    EXPECT_EQ(notify::retry_delay(made, std::nullopt, 0.0), base * 9 / 10) << made;
    EXPECT_LT(*notify::retry_delay(made, std::nullopt, 0.999), base * 11 / 10) << made;
  }
  EXPECT_FALSE(notify::retry_delay(8, std::nullopt, 0.5)) << "eight attempts in all";
  EXPECT_EQ(notify::retry_delay(1, 2s, 0.5), 2s) << "Retry-After is taken at its word";
  EXPECT_EQ(notify::retry_delay(2, 100h, 0.5), 10h) << "but capped";
}

TEST(WebhookSchedule, OnlyHttpsUnlessLoopbackOrAllowed) {
  EXPECT_EQ(notify::refuse_url("https://hooks.example.com/x", false), "");
  EXPECT_EQ(notify::refuse_url("http://127.0.0.1:8080/x", false), "");
  EXPECT_EQ(notify::refuse_url("http://localhost/x", false), "");
  EXPECT_EQ(notify::refuse_url("http://[::1]:9/x", false), "");
  EXPECT_NE(notify::refuse_url("http://hooks.example.com/x", false), "");
  EXPECT_NE(notify::refuse_url("http://127.0.0.1.evil.example/x", false), "");
  EXPECT_EQ(notify::refuse_url("http://hooks.example.com/x", true), "");
  EXPECT_NE(notify::refuse_url("ftp://hooks.example.com/x", true), "");
}

}  // namespace
