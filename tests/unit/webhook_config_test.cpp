#include "config/config.hpp"
#include "temp_dir.hpp"

#include <gtest/gtest.h>

#include <fstream>
#include <string>

namespace {

using namespace wsp::config;

// Loads a project whose config has one endpoint, as commands do (the checks across keys included).
Config load_hook(const std::string& url, const std::string& more = "") {
  wsp::testing::TempDir dir;
  std::ofstream(dir.path() / "wsportfolio.yaml")
      << "webhooks:\n  - { url: \"" + url + "\", secret_env: WEBHOOK_SECRET" + more + " }\n";
  return load_config("", dir.path());
}

TEST(WebhookConfig, PlainHttpToAHostThatIsNotLoopbackIsRefusedAtLoad) {
  try {
    load_hook("http://hooks.example.com/x");
    ADD_FAILURE() << "accepted";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("wsportfolio.yaml"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("webhooks[0].url"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("allow_http"), std::string::npos) << e.what();
  }
  EXPECT_THROW(load_hook("http://127.0.0.1.example.com/x"), ConfigError);
}

TEST(WebhookConfig, HttpsLoopbackAndAllowedHttpAreAccepted) {
  EXPECT_NO_THROW(load_hook("https://hooks.example.com/x"));
  EXPECT_NO_THROW(load_hook("http://127.0.0.1:8080/x"));
  EXPECT_NO_THROW(load_hook("http://localhost/x"));
  EXPECT_NO_THROW(load_hook("http://[::1]:9000/x"));
  auto config = load_hook("http://hooks.example.com/x", ", allow_http: true, timeout_seconds: 3");
  EXPECT_TRUE(config.webhooks.at(0).allow_http);
  EXPECT_EQ(config.webhooks.at(0).timeout_seconds, 3);
}

}  // namespace
