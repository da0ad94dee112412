#include "notify/signature.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>

namespace {

namespace fs = std::filesystem;
using namespace wsp::notify;

fs::path shared_dir() {
  const char* from_environment = std::getenv("WSP_SHARED_DIR");
  return from_environment && *from_environment ? fs::path(from_environment) : fs::path(WSP_SHARED_DIR);
}

nlohmann::json vectors() {
  std::ifstream in(shared_dir() / "testdata" / "webhooks" / "vectors.json");
  EXPECT_TRUE(in) << "cannot read " << (shared_dir() / "testdata" / "webhooks" / "vectors.json");
  return nlohmann::json::parse(in);
}

TEST(WebhookSignature, EveryStandardWebhooksVector) {
  const auto cases = vectors().at("standard_webhooks").at("cases");
  ASSERT_FALSE(cases.empty());
  for (const auto& c : cases) {
    const auto id = c.at("id").get<std::string>();
    const auto timestamp = c.at("timestamp").get<std::int64_t>();
    const auto body = c.at("body").get<std::string>();
    const auto secret = c.at("secret").get<std::string>();
    const auto expected = c.at("signature").get<std::string>();
    auto signature = sign(id, timestamp, body, {secret});
    ASSERT_TRUE(signature) << signature.message();
    EXPECT_EQ(*signature, expected);
    EXPECT_TRUE(verify(id, timestamp, body, expected, {secret}, timestamp));
    EXPECT_FALSE(verify(id, timestamp, body + " ", expected, {secret}, timestamp));
    EXPECT_FALSE(verify(id + "x", timestamp, body, expected, {secret}, timestamp));
    EXPECT_FALSE(verify(id, timestamp, body, expected, {secret}, timestamp + 301)) << "too old";
  }
}

TEST(WebhookSignature, EveryGithubVector) {
  const auto cases = vectors().at("github").at("cases");
  ASSERT_FALSE(cases.empty());
  for (const auto& c : cases)
    EXPECT_EQ(github_signature(c.at("secret").get<std::string>(), c.at("body").get<std::string>()),
              c.at("signature").get<std::string>());
}

TEST(WebhookSignature, SeveralSecretsGiveSeveralSignatures) {
  const auto c = vectors().at("standard_webhooks").at("cases").at(0);
  const auto id = c.at("id").get<std::string>();
  const auto timestamp = c.at("timestamp").get<std::int64_t>();
  const auto body = c.at("body").get<std::string>();
  const std::string old_secret = c.at("secret").get<std::string>();
  const std::string new_secret = "whsec_" + base64_encode("a brand new key for the rotation");
  auto both = sign(id, timestamp, body, {new_secret, old_secret});
  ASSERT_TRUE(both);
  EXPECT_EQ(both->find(' '), both->rfind(' '));
  EXPECT_TRUE(both->ends_with(" " + c.at("signature").get<std::string>()));
  EXPECT_TRUE(verify(id, timestamp, body, *both, {old_secret}, timestamp));
  EXPECT_TRUE(verify(id, timestamp, body, *both, {new_secret}, timestamp));
  EXPECT_FALSE(verify(id, timestamp, body, *both, {"whsec_" + base64_encode("someone else")}, timestamp));
}

TEST(WebhookSignature, ABadSecretIsAnErrorThatDoesNotQuoteIt) {
  auto signature = sign("msg_1", 1, "{}", {"whsec_not*base64!"});
  ASSERT_FALSE(signature);
  EXPECT_EQ(signature.message().find("not*base64"), std::string::npos);
  EXPECT_FALSE(sign("msg_1", 1, "{}", {}));
}

TEST(WebhookSignature, Base64RoundTrips) {
  for (std::string bytes : {"", "a", "ab", "abc", "abcd", "\xff\x00\x10"}) {
    auto back = base64_decode(base64_encode(bytes));
    if (bytes.empty()) continue;
    ASSERT_TRUE(back);
    EXPECT_EQ(*back, bytes);
  }
}

}  // namespace
