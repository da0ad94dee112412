// The remote tagging providers against fake servers (libmicrohttpd on
// 127.0.0.1) speaking the documented formats and decoding the images they are
// sent: `openai` (Chat Completions) and `google_vision` (images:annotate), and
// the tag stage's fallback, circuit, cost cap and cache around them.

#include "catalog/catalog.hpp"
#include "config/config.hpp"
#include "imaging/probe.hpp"
#include "pipeline/ingest.hpp"
#include "pipeline/render.hpp"
#include "pipeline/tag.hpp"
#include "tagging/google_vision.hpp"
#include "tagging/openai.hpp"
#include "require_tool.hpp"
#include "temp_dir.hpp"
#include "test_images.hpp"

#include <gtest/gtest.h>
#include <microhttpd.h>
#include <nlohmann/json.hpp>
#include <openssl/evp.h>
#include <tbb/global_control.h>
#include <vips/vips8>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <mutex>
#include <string>
#include <vector>

namespace {

using wsp::testing::make_jpeg;

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using nlohmann::json;
using wsp::testing::TempDir;

constexpr const char* k_key = "sk-test-5ecret-key-0123456789";
constexpr const char* k_vision_key = "AIzaTestVisionKey0123456789abcdef";

struct Received {
  std::string path;
  wsp::net::Headers headers;
  wsp::net::Headers query;
  std::string body;
  std::chrono::steady_clock::time_point at;
  std::string header(const std::string& name) const {
    for (const auto& h : headers)
      if (strcasecmp(h.name.c_str(), name.c_str()) == 0) return h.value;
    return {};
  }
};

struct Reply {
  int status = 200;
  std::string body = {};
  wsp::net::Headers headers = {};
  std::chrono::milliseconds delay{0};  // answers after this (or when the server stops)
};

// A Chat Completions server on 127.0.0.1 whose answers the test scripts.
class FakeOpenAi {
public:
  using Script = std::function<Reply(const Received&, int index)>;

  explicit FakeOpenAi(Script script) : m_script(std::move(script)) {
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    m_daemon = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION, 0, nullptr, nullptr,
                                &FakeOpenAi::on_request, this, MHD_OPTION_SOCK_ADDR, &address,
                                MHD_OPTION_NOTIFY_COMPLETED, &FakeOpenAi::on_completed, this, MHD_OPTION_END);
    if (!m_daemon) throw std::runtime_error("cannot start the fake OpenAI server");
    m_port = MHD_get_daemon_info(m_daemon, MHD_DAEMON_INFO_BIND_PORT)->port;
  }
  ~FakeOpenAi() {
    {
      std::lock_guard lock(m_mutex);
      m_stopping = true;
    }
    m_changed.notify_all();
    MHD_stop_daemon(m_daemon);
  }
  std::string base_url() const { return "http://127.0.0.1:" + std::to_string(m_port) + "/v1"; }
  std::vector<Received> received() const {
    std::lock_guard lock(m_mutex);
    return m_received;
  }
  void set_script(Script script) {
    std::lock_guard lock(m_mutex);
    m_script = std::move(script);
  }

private:
  static void on_completed(void*, MHD_Connection*, void** context, MHD_RequestTerminationCode) {
    delete static_cast<std::string*>(*context);
    *context = nullptr;
  }
  static MHD_Result collect(void* into, MHD_ValueKind, const char* key, const char* value) {
    static_cast<wsp::net::Headers*>(into)->push_back({key, value ? value : ""});
    return MHD_YES;
  }
  static MHD_Result on_request(void* self, MHD_Connection* connection, const char* url, const char*, const char*,
                               const char* upload, size_t* upload_size, void** context) {
    auto* server = static_cast<FakeOpenAi*>(self);
    if (!*context) {
      *context = new std::string;
      return MHD_YES;
    }
    auto* body = static_cast<std::string*>(*context);
    if (*upload_size > 0) {
      body->append(upload, *upload_size);
      *upload_size = 0;
      return MHD_YES;
    }
    Received received{url, {}, {}, *body, std::chrono::steady_clock::now()};
    MHD_get_connection_values(connection, MHD_HEADER_KIND, &FakeOpenAi::collect, &received.headers);
    MHD_get_connection_values(connection, MHD_GET_ARGUMENT_KIND, &FakeOpenAi::collect, &received.query);
    Script script;
    int index;
    {
      std::lock_guard lock(server->m_mutex);
      index = static_cast<int>(server->m_received.size());
      server->m_received.push_back(received);
      script = server->m_script;
    }
    server->m_changed.notify_all();
    {
      std::lock_guard lock(server->m_mutex);
      server->m_max_inside = std::max(server->m_max_inside, ++server->m_inside);
    }
    Reply reply = script(received, index);
    {
      std::unique_lock lock(server->m_mutex);
      if (reply.delay > 0ms) server->m_changed.wait_for(lock, reply.delay, [&] { return server->m_stopping; });
      --server->m_inside;
    }
    auto* response = MHD_create_response_from_buffer(reply.body.size(), reply.body.data(), MHD_RESPMEM_MUST_COPY);
    for (const auto& h : reply.headers) MHD_add_response_header(response, h.name.c_str(), h.value.c_str());
    MHD_add_response_header(response, "Content-Type", "application/json");
    auto result = MHD_queue_response(connection, reply.status, response);
    MHD_destroy_response(response);
    return result;
  }

  Script m_script;
  MHD_Daemon* m_daemon = nullptr;
  int m_port = 0;
  mutable std::mutex m_mutex;
  std::condition_variable m_changed;
  std::vector<Received> m_received;
  bool m_stopping = false;
  int m_inside = 0;
  int m_max_inside = 0;

public:
  int max_inside() const {
    std::lock_guard lock(m_mutex);
    return m_max_inside;
  }
  // Whether `count` requests have come in within `timeout`.
  bool wait_for_received(std::size_t count, std::chrono::milliseconds timeout) {
    std::unique_lock lock(m_mutex);
    return m_changed.wait_for(lock, timeout, [&] { return m_received.size() >= count; });
  }
};

json content(std::string scene = "ceremony", double confidence = 0.9) {
  return {{"scene", scene},        {"confidence", confidence}, {"alt_text", "A couple exchanging rings"},
          {"keywords", {"rings", "altar"}}, {"people", 2},     {"eyes_closed", true}};
}

// A Chat Completions answer in the documented shape.
Reply completion(const json& answer, std::string finish = "stop", json refusal = nullptr) {
  json message = {{"role", "assistant"}, {"content", answer.is_string() ? answer : json(answer.dump())},
                  {"refusal", refusal}};
  if (!refusal.is_null()) message["content"] = nullptr;
  json body = {{"id", "chatcmpl-1"},
               {"object", "chat.completion"},
               {"choices", {{{"index", 0}, {"message", message}, {"finish_reason", finish}}}},
               {"usage", {{"prompt_tokens", 1200}, {"completion_tokens", 80}, {"total_tokens", 1280}}}};
  return {200, body.dump()};
}

Reply error_reply(int status, wsp::net::Headers headers = {}) {
  return {status, json{{"error", {{"message", "try later"}, {"type", "server_error"}}}}.dump(), std::move(headers)};
}

std::string base64_decoded(const std::string& text) {
  std::string out(text.size() / 4 * 3, '\0');
  int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(text.data()), static_cast<int>(text.size()));
  if (n < 0) return {};
  std::size_t padding = text.ends_with("==") ? 2 : text.ends_with("=") ? 1 : 0;
  out.resize(static_cast<std::size_t>(n) - padding);
  return out;
}

// What the fake server found in the image it was sent.
struct SentImage {
  bool is_jpeg = false;
  int width = 0, height = 0;
  std::vector<std::string> metadata;  // libvips fields that carry metadata
  std::string detail;
};

SentImage decoded_image(const std::string& bytes) {
  SentImage sent;
  auto decoded = vips::VImage::new_from_buffer(bytes.data(), bytes.size(), "");
  sent.is_jpeg = std::string(decoded.get_string("vips-loader")) == "jpegload_buffer";
  sent.width = decoded.width();
  sent.height = decoded.height();
  for (const char* field : {"exif-data", "xmp-data", "iptc-data", "icc-profile-data", "jpeg-comment"})
    if (decoded.get_typeof(field) != 0) sent.metadata.push_back(field);
  char** fields = vips_image_get_fields(decoded.get_image());
  for (char** f = fields; *f; ++f) {
    if (std::string(*f).starts_with("exif-")) sent.metadata.push_back(*f);
    g_free(*f);
  }
  g_free(fields);
  return sent;
}

SentImage sent_image(const Received& request) {
  auto body = json::parse(request.body);
  const auto& image = body["messages"][1]["content"][1]["image_url"];
  const std::string url = image["url"].get<std::string>();
  const std::string prefix = "data:image/jpeg;base64,";
  if (!url.starts_with(prefix)) return {};
  auto sent = decoded_image(base64_decoded(url.substr(prefix.size())));
  sent.detail = image["detail"].get<std::string>();
  return sent;
}

wsp::net::HttpSettings quick_http(int retries = 0) {
  wsp::net::HttpSettings http;
  http.retry.retries = retries;
  http.retry.base_delay = 5ms;
  http.retry.max_delay = 20ms;
  http.breaker.failure_threshold = 1000;  // the stage's own breaker is under test
  return http;
}

wsp::config::Config provider_config(const FakeOpenAi& server) {
  wsp::config::Config config;
  wsp::config::apply_derived_defaults(config);
  config.tagging.providers = {"openai", "local"};
  config.tagging.openai.base_url = server.base_url();
  config.tagging.openai.model = "test-vision-1";
  config.tagging.openai.timeout_seconds = 5;
  return config;
}

wsp::tagging::Pixels pixels(int width, int height) {
  wsp::tagging::Pixels p{width, height, std::vector<std::uint8_t>(static_cast<std::size_t>(width) * height * 3)};
  for (std::size_t i = 0; i < p.rgb.size(); ++i) p.rgb[i] = static_cast<std::uint8_t>((i * 7) % 251);
  return p;
}

TEST(OpenAiProvider, SendsOnlyASmallPlainJpegWithTheKeyInItsHeaderAndTheScenesAsTheSchema) {
  FakeOpenAi server([](const Received&, int) { return completion(content()); });
  auto config = provider_config(server);
  auto provider = wsp::tagging::make_openai_provider(config, std::string(k_key), quick_http());
  auto answer = provider->ask(pixels(900, 700));
  ASSERT_TRUE(answer.observation) << answer.failure;

  auto received = server.received();
  ASSERT_EQ(received.size(), 1u);
  EXPECT_EQ(received[0].path, "/v1/chat/completions");
  EXPECT_EQ(received[0].header("Authorization"), std::string("Bearer ") + k_key);
  EXPECT_EQ(received[0].body.find(k_key), std::string::npos);
  EXPECT_EQ(received[0].path.find(k_key), std::string::npos);
  auto image = sent_image(received[0]);
  EXPECT_TRUE(image.is_jpeg);
  EXPECT_LE(std::max(image.width, image.height), 512);
  EXPECT_GT(image.width, image.height);
  EXPECT_TRUE(image.metadata.empty()) << image.metadata.front();
  EXPECT_EQ(image.detail, "low");

  auto body = json::parse(received[0].body);
  EXPECT_EQ(body["model"], "test-vision-1");
  const auto& format = body["response_format"];
  EXPECT_EQ(format["type"], "json_schema");
  EXPECT_EQ(format["json_schema"]["strict"], true);
  EXPECT_EQ(format["json_schema"]["schema"]["properties"]["scene"]["enum"], json(config.tagging.scenes));
  EXPECT_EQ(format["json_schema"]["schema"]["additionalProperties"], false);
}

TEST(OpenAiProvider, WithoutAKeyNoAuthorizationHeaderIsSent) {
  FakeOpenAi server([](const Received&, int) { return completion(content()); });
  auto provider = wsp::tagging::make_openai_provider(provider_config(server), std::nullopt, quick_http());
  ASSERT_TRUE(provider->ask(pixels(64, 48)).observation);
  EXPECT_EQ(server.received().at(0).header("Authorization"), "");
}

TEST(OpenAiProvider, ReadsSceneKeywordsAltTextPeopleClosedEyesAndTokens) {
  FakeOpenAi server([](const Received&, int) { return completion(content("ceremony", 0.85)); });
  auto provider = wsp::tagging::make_openai_provider(provider_config(server), std::nullopt, quick_http());
  auto answer = provider->ask(pixels(64, 48));
  ASSERT_TRUE(answer.observation) << answer.failure;
  const auto& seen = *answer.observation;
  ASSERT_EQ(seen.scenes.size(), 1u);
  EXPECT_EQ(seen.scenes[0].scene, "ceremony");
  EXPECT_DOUBLE_EQ(seen.scenes[0].confidence, 0.85);
  EXPECT_EQ(seen.labels, (std::vector<std::string>{"rings", "altar"}));
  EXPECT_EQ(seen.description, "A couple exchanging rings");
  EXPECT_EQ(seen.people, 2);
  EXPECT_EQ(seen.eyes_closed, true);
  EXPECT_EQ(answer.usage.input_tokens, 1200);
  EXPECT_EQ(answer.usage.output_tokens, 80);
  EXPECT_EQ(answer.calls, 1);
}

TEST(OpenAiProvider, RefusalsCutShortInvalidAndOutOfSchemaAnswersArePermanentFailures) {
  auto extra = content();
  extra["password"] = "x";
  auto missing = content();
  missing.erase("people");
  auto wrong_type = content();
  wrong_type["people"] = "two";
  const std::vector<std::pair<std::string, Reply>> cases = {
      {"refused", completion(nullptr, "stop", "I can't help with that.")},
      {"cut short", completion(content(), "length")},
      {"not valid JSON", completion(json("{\"scene\": \"ceremony\", "))},
      {"not one of tagging.scenes", completion(content("funeral"))},
      {"outside the schema", completion(extra)},
      {"lacks 'people'", completion(missing)},
      {"not a count", completion(wrong_type)},
      {"not a number from 0 to 1", completion(content("ceremony", 7.0))},
      {"HTTP 400", error_reply(400)},
  };
  for (const auto& [expected, reply] : cases) {
    FakeOpenAi server([reply](const Received&, int) { return reply; });
    auto provider = wsp::tagging::make_openai_provider(provider_config(server), std::nullopt, quick_http(2));
    auto answer = provider->ask(pixels(64, 48));
    EXPECT_FALSE(answer.observation) << expected;
    EXPECT_FALSE(answer.transient) << expected;
    EXPECT_NE(answer.failure.find(expected), std::string::npos) << expected << " / " << answer.failure;
    EXPECT_EQ(server.received().size(), 1u) << expected << ": a verdict is not asked twice";
  }
}

TEST(OpenAiProvider, OutagesAndUnreadableEnvelopesAreTransient) {
  const std::vector<std::pair<std::string, Reply>> cases = {
      {"HTTP 500", error_reply(500)},
      {"HTTP 503", error_reply(503)},
      {"not JSON", Reply{200, "<html>gateway</html>"}},
      {"no choices", Reply{200, json{{"choices", json::array()}}.dump()}},
  };
  for (const auto& [expected, reply] : cases) {
    FakeOpenAi server([reply](const Received&, int) { return reply; });
    auto provider = wsp::tagging::make_openai_provider(provider_config(server), std::nullopt, quick_http());
    auto answer = provider->ask(pixels(64, 48));
    EXPECT_FALSE(answer.observation) << expected;
    EXPECT_TRUE(answer.transient) << expected;
    EXPECT_NE(answer.failure.find(expected), std::string::npos) << expected << " / " << answer.failure;
  }
}

TEST(OpenAiProvider, A429IsAskedAgainAfterItsRetryAfter) {
  FakeOpenAi server([](const Received&, int index) {
    return index == 0 ? error_reply(429, {{"Retry-After", "1"}}) : completion(content());
  });
  auto provider = wsp::tagging::make_openai_provider(provider_config(server), std::nullopt, quick_http(2));
  auto answer = provider->ask(pixels(64, 48));
  ASSERT_TRUE(answer.observation) << answer.failure;
  auto received = server.received();
  ASSERT_EQ(received.size(), 2u);
  EXPECT_GE(received[1].at - received[0].at, 950ms);
}

// Asks about `count` photos at once, as the tag stage does, and waits for every answer.
std::vector<wsp::tagging::Answer> ask_all(wsp::tagging::Provider& provider, int count,
                                          std::chrono::seconds within = 30s) {
  std::mutex mutex;
  std::condition_variable all_in;
  std::vector<wsp::tagging::Answer> answers;
  for (int i = 0; i < count; ++i)
    provider.ask_async(pixels(64 + i, 48), [&](wsp::tagging::Answer answer) {
      std::lock_guard lock(mutex);
      answers.push_back(std::move(answer));
      all_in.notify_all();
    });
  std::unique_lock lock(mutex);
  if (!all_in.wait_for(lock, within, [&] { return answers.size() == static_cast<std::size_t>(count); }))
    ADD_FAILURE() << "only " << answers.size() << " of " << count << " answers came";
  return answers;
}

// The most requests the server saw in any `window`.
std::size_t busiest(const std::vector<Received>& received, std::chrono::milliseconds window) {
  std::size_t most = 0;
  for (std::size_t i = 0; i < received.size(); ++i) {
    std::size_t inside = 0;
    for (const auto& other : received)
      if (other.at >= received[i].at && other.at - received[i].at < window) ++inside;
    most = std::max(most, inside);
  }
  return most;
}

// A server that takes `allowed` requests in any sliding `window` and answers
// 429 beyond it, as OpenAI does (its limits are enforced over short periods).
FakeOpenAi::Script throttled(int allowed, std::chrono::milliseconds window, std::shared_ptr<std::atomic<int>> refused) {
  auto times = std::make_shared<std::vector<std::chrono::steady_clock::time_point>>();
  auto mutex = std::make_shared<std::mutex>();
  return [=](const Received& request, int) {
    std::lock_guard lock(*mutex);
    std::erase_if(*times, [&](auto at) { return request.at - at >= window; });
    if (static_cast<int>(times->size()) >= allowed) {
      ++*refused;
      return error_reply(429, {{"Retry-After", "1"}});
    }
    times->push_back(request.at);
    return completion(content());
  };
}

TEST(OpenAiProvider, RequestsPerMinuteKeepTheClientUnderTheServersLimit) {
  auto refused = std::make_shared<std::atomic<int>>(0);
  FakeOpenAi server(throttled(5, 1000ms, refused));
  auto config = provider_config(server);
  config.tagging.openai.concurrency = 8;
  config.tagging.openai.requests_per_minute = 270;  // 4.5 a second, under the server's 5
  auto provider = wsp::tagging::make_openai_provider(config, std::nullopt, quick_http(3));
  const auto started = std::chrono::steady_clock::now();
  auto answers = ask_all(*provider, 12);
  const auto wall = std::chrono::steady_clock::now() - started;
  for (const auto& answer : answers) EXPECT_TRUE(answer.observation) << answer.failure;
  EXPECT_EQ(refused->load(), 0) << "the client slowed down before the server had to refuse";
  auto received = server.received();
  EXPECT_EQ(received.size(), 12u);
  EXPECT_LE(busiest(received, 1000ms), 5u);
  // Twelve requests 222 ms apart: the last goes out 2.4 s after the first.
  EXPECT_GE(wall, 2200ms);
}

TEST(OpenAiProvider, TokensPerMinuteKeepTheClientUnderTheServersLimit) {
  auto refused = std::make_shared<std::atomic<int>>(0);
  FakeOpenAi server(throttled(5, 1000ms, refused));
  auto config = provider_config(server);
  config.tagging.openai.concurrency = 8;
  // Each request counts as its estimated tokens: 4.5 requests' worth a second.
  config.tagging.openai.tokens_per_minute = wsp::tagging::openai_rate_tokens(config) * 270;
  auto provider = wsp::tagging::make_openai_provider(config, std::nullopt, quick_http(3));
  auto answers = ask_all(*provider, 12);
  for (const auto& answer : answers) EXPECT_TRUE(answer.observation) << answer.failure;
  EXPECT_EQ(refused->load(), 0);
  EXPECT_LE(busiest(server.received(), 1000ms), 5u);
}

TEST(OpenAiProvider, NoLimitsConfiguredSendsAtOnceAndMeetsTheServersRefusals) {
  // The server of the two tests above, and a client without limits: the
  // limit is what kept those under it.
  auto refused = std::make_shared<std::atomic<int>>(0);
  FakeOpenAi server(throttled(5, 1000ms, refused));
  auto config = provider_config(server);
  config.tagging.openai.concurrency = 8;
  auto provider = wsp::tagging::make_openai_provider(config, std::nullopt, quick_http(0));
  ask_all(*provider, 12);
  EXPECT_GT(refused->load(), 0);
}

TEST(OpenAiProvider, NoRequestsRemainingWaitsForTheResetTheServerGives) {
  for (const auto& counter : std::vector<std::pair<std::string, std::string>>{
           {"x-ratelimit-remaining-requests", "x-ratelimit-reset-requests"},
           {"x-ratelimit-remaining-tokens", "x-ratelimit-reset-tokens"}}) {
    const std::string remaining = counter.first, reset = counter.second;
    FakeOpenAi server([remaining, reset](const Received&, int) {
      auto reply = completion(content());
      reply.headers = {{"x-ratelimit-limit-requests", "500"}, {"x-ratelimit-limit-tokens", "30000"},
                       {remaining, "0"}, {reset, "1s"}};
      return reply;
    });
    auto provider = wsp::tagging::make_openai_provider(provider_config(server), std::nullopt, quick_http());
    auto first = provider->ask(pixels(64, 48));
    ASSERT_TRUE(first.observation) << first.failure;
    auto second = provider->ask(pixels(64, 48));
    ASSERT_TRUE(second.observation) << second.failure;
    auto received = server.received();
    ASSERT_EQ(received.size(), 2u);
    EXPECT_GE(received[1].at - received[0].at, 900ms) << remaining;
    EXPECT_LT(received[1].at - received[0].at, 5s) << remaining;
  }
}

TEST(OpenAiProvider, RemainingRequestsAreSpentUntilTheReset) {
  // Two left for the next 1.5 s: two go at once, the third waits for the reset.
  FakeOpenAi server([](const Received&, int index) {
    auto reply = completion(content());
    if (index == 0)
      reply.headers = {{"x-ratelimit-remaining-requests", "2"}, {"x-ratelimit-reset-requests", "1.5s"},
                       {"x-ratelimit-remaining-tokens", "29000"}, {"x-ratelimit-reset-tokens", "20ms"}};
    return reply;
  });
  auto config = provider_config(server);
  config.tagging.openai.concurrency = 1;
  auto provider = wsp::tagging::make_openai_provider(config, std::nullopt, quick_http());
  ASSERT_TRUE(provider->ask(pixels(64, 48)).observation);
  ask_all(*provider, 3);
  auto received = server.received();
  ASSERT_EQ(received.size(), 4u);
  EXPECT_LT(received[2].at - received[0].at, 1000ms);
  EXPECT_GE(received[3].at - received[0].at, 1400ms);
}

TEST(OpenAiProvider, A429sRetryAfterHoldsBackTheNextRequestsToo) {
  FakeOpenAi server([](const Received&, int index) {
    return index == 0 ? error_reply(429, {{"Retry-After", "1"}}) : completion(content());
  });
  auto provider = wsp::tagging::make_openai_provider(provider_config(server), std::nullopt, quick_http(0));
  auto first = provider->ask(pixels(64, 48));
  EXPECT_FALSE(first.observation);
  EXPECT_TRUE(first.transient);
  ASSERT_TRUE(provider->ask(pixels(64, 48)).observation);
  auto received = server.received();
  ASSERT_EQ(received.size(), 2u);
  EXPECT_GE(received[1].at - received[0].at, 950ms);
}

TEST(OpenAiProvider, AResetTooFarAwayFailsThePhotosForNowInsteadOfWaiting) {
  // A daily limit spent: waiting six minutes would hold the run; the photos stay due instead.
  FakeOpenAi server([](const Received&, int) {
    auto reply = completion(content());
    reply.headers = {{"x-ratelimit-remaining-requests", "0"}, {"x-ratelimit-reset-requests", "6m0s"}};
    return reply;
  });
  auto provider = wsp::tagging::make_openai_provider(provider_config(server), std::nullopt, quick_http());
  ASSERT_TRUE(provider->ask(pixels(64, 48)).observation);
  const auto started = std::chrono::steady_clock::now();
  auto answers = ask_all(*provider, 3);
  EXPECT_LT(std::chrono::steady_clock::now() - started, 5s);
  for (const auto& answer : answers) {
    EXPECT_FALSE(answer.observation);
    EXPECT_TRUE(answer.transient);
    EXPECT_NE(answer.failure.find("rate limit"), std::string::npos) << answer.failure;
  }
  EXPECT_EQ(server.received().size(), 1u);
}

TEST(OpenAiProvider, TheLimitsAreReadFromTheConfigAndChecked) {
  auto config = wsp::config::parse_config(R"(
tagging:
  openai: { requests_per_minute: 500, tokens_per_minute: 200000 }
  google_vision: { requests_per_minute: 1800 }
)",
                                          "wsportfolio.yaml");
  EXPECT_EQ(config.tagging.openai.requests_per_minute, 500);
  EXPECT_EQ(config.tagging.openai.tokens_per_minute, 200'000);
  EXPECT_EQ(config.tagging.google_vision.requests_per_minute, 1800);
  EXPECT_EQ(wsp::config::Config().tagging.openai.requests_per_minute, 0) << "no limit of ours by default";
  EXPECT_THROW(wsp::config::parse_config("tagging: { openai: { requests_per_minute: -1 } }\n", "wsportfolio.yaml"),
               wsp::config::ConfigError);
  EXPECT_THROW(wsp::config::parse_config("tagging: { openai: { tokens_per_minute: lots } }\n", "wsportfolio.yaml"),
               wsp::config::ConfigError);
}

TEST(OpenAiProvider, AServerThatDoesNotAnswerInTimeIsATransientFailure) {
  FakeOpenAi server([](const Received&, int) {
    auto reply = completion(content());
    reply.delay = 10s;
    return reply;
  });
  auto config = provider_config(server);
  config.tagging.openai.timeout_seconds = 1;
  auto provider = wsp::tagging::make_openai_provider(config, std::nullopt, quick_http());
  const auto started = std::chrono::steady_clock::now();
  auto answer = provider->ask(pixels(64, 48));
  EXPECT_LT(std::chrono::steady_clock::now() - started, 5s);
  EXPECT_FALSE(answer.observation);
  EXPECT_TRUE(answer.transient) << answer.failure;
}

TEST(OpenAiProvider, TheCacheKeyChangesWithTheModelThePromptAndTheScenes) {
  FakeOpenAi server([](const Received&, int) { return completion(content()); });
  auto config = provider_config(server);
  const auto base = wsp::tagging::make_openai_provider(config, std::nullopt, quick_http())->model();
  auto other_model = config;
  other_model.tagging.openai.model = "test-vision-2";
  auto other_scenes = config;
  other_scenes.tagging.scenes.push_back("first_dance");
  auto other_language = config;
  other_language.tagging.language = "German";
  for (const auto* changed : {&other_model, &other_scenes, &other_language})
    EXPECT_NE(wsp::tagging::make_openai_provider(*changed, std::nullopt, quick_http())->model(), base);
  EXPECT_EQ(wsp::tagging::make_openai_provider(config, std::nullopt, quick_http())->model(), base);
}

struct Quiet : wsp::pipeline::Observer {};

// Everything the tag stage says, as text.
struct Transcript : wsp::pipeline::Observer {
  std::mutex mutex;
  std::string text;
  void add(std::string_view line) {
    std::lock_guard lock(mutex);
    text.append(line).append("\n");
  }
  void item_done(std::string_view, std::string_view file, std::string_view outcome, std::int64_t) override {
    add(std::string(file) + ": " + std::string(outcome));
  }
  void item_problem(std::string_view, std::string_view file, std::string_view reason) override {
    add(std::string(file) + ": " + std::string(reason));
  }
  void warning(std::string_view message) override { add(message); }
};

using LocalFactory = std::function<std::unique_ptr<wsp::tagging::Provider>(const wsp::config::Config&)>;

// A shoot of `count` photos, ingested and rendered, tagged against the fake server.
class TaggedShoot {
public:
  // `prepare` may change the photos before they are ingested.
  TaggedShoot(int count, const FakeOpenAi& server, std::function<void(const fs::path& shoot)> prepare = {},
              int width = 640, int height = 480) {
    fs::create_directories(m_dir.path() / "shoot");
    for (int i = 0; i < count; ++i)
      std::ofstream(m_dir.path() / "shoot" / ("IMG_" + std::to_string(1000 + i) + ".jpg"), std::ios::binary)
          << make_jpeg(width, height, 40.0 + i * 9);
    if (prepare) prepare(m_dir.path() / "shoot");
    m_config.project_dir = m_dir.path();
    wsp::config::apply_derived_defaults(m_config);
    m_config.render.widths = {320};
    m_config.render.webp.enabled = false;
    m_config.render.placeholder = "none";
    m_config.tagging.providers = {"openai", "local"};
    m_config.tagging.openai.base_url = server.base_url();
    m_config.tagging.openai.model = "test-vision-1";
    fs::create_directories(m_config.state_dir());
    m_catalog = wsp::catalog::open_sqlite_catalog(m_config.state_dir() / "catalog.db");
    Quiet quiet;
    wsp::pipeline::ingest(m_config, *m_catalog, {}, quiet);
    wsp::pipeline::RenderRequest render;
    render.run_id = "render";
    wsp::pipeline::render(m_config, *m_catalog, render, quiet);
  }

  // `local` empty: the built-in local provider.
  wsp::pipeline::TagSummary tag(const std::string& run_id, wsp::net::SteadyClock circuit_clock = {},
                                wsp::pipeline::Observer* observer = nullptr, LocalFactory local = {}) {
    Quiet quiet;
    wsp::pipeline::TagRequest request;
    request.run_id = run_id;
    request.jobs = 1;
    request.circuit_clock = std::move(circuit_clock);
    request.providers = [local](const std::string& name,
                                const wsp::config::Config& config) -> std::unique_ptr<wsp::tagging::Provider> {
      if (name == "local" && local) return local(config);
      if (name == "openai") return wsp::tagging::make_openai_provider(config, std::string(k_key), quick_http());
      if (name == "google_vision")
        return wsp::tagging::make_google_vision_provider(config, std::string(k_vision_key), quick_http());
      return nullptr;
    };
    return wsp::pipeline::tag(m_config, *m_catalog, request, observer ? *observer : quiet);
  }

  std::int64_t jobs(const std::string& state) {
    for (const auto& row : m_catalog->stage_counts())
      if (row.stage == "tag" && row.state == state) return row.count;
    return 0;
  }
  std::map<std::string, std::string> providers_by_path() {
    std::map<std::string, std::string> out;
    for (const auto& t : m_catalog->tags()) out[t.source_path] = t.provider;
    return out;
  }
  std::string catalog_bytes() {
    m_catalog.reset();
    std::string all;
    for (const auto& entry : fs::directory_iterator(m_config.state_dir()))
      if (entry.path().filename().string().starts_with("catalog.db")) {
        std::ifstream in(entry.path(), std::ios::binary);
        all.append(std::istreambuf_iterator<char>(in), {});
      }
    m_catalog = wsp::catalog::open_sqlite_catalog(m_config.state_dir() / "catalog.db");
    return all;
  }

  wsp::config::Config m_config;
  std::unique_ptr<wsp::catalog::Catalog> m_catalog;

private:
  TempDir m_dir;
};

TEST(RemoteTagging, ATransientFailureTagsLocallyKeepsThePhotoDueAndTheNextRunAsksAgain) {
  FakeOpenAi server([](const Received&, int) { return error_reply(503); });
  TaggedShoot shoot(3, server);
  auto first = shoot.tag("run-1");
  EXPECT_EQ(server.received().size(), 3u);
  EXPECT_EQ(first.due_remote, 3u);
  EXPECT_EQ(first.rerender, 0u);
  EXPECT_EQ(shoot.jobs("pending"), 3);
  EXPECT_EQ(shoot.m_catalog->tags().size(), 3u) << "the best conclusion stands meanwhile";
  for (const auto& t : shoot.m_catalog->tags()) {
    EXPECT_EQ(t.provider, "local") << t.source_path;
    EXPECT_GT(t.sharpness, 0) << t.source_path << ": the local measurement stands without the provider";
    EXPECT_FALSE(t.palette.empty()) << t.source_path;
  }

  server.set_script([](const Received&, int) { return completion(content("ceremony", 0.9)); });
  auto second = shoot.tag("run-2");
  EXPECT_EQ(server.received().size(), 6u);
  EXPECT_EQ(second.tagged, 3u);
  EXPECT_EQ(shoot.jobs("done"), 3);
  for (const auto& t : shoot.m_catalog->tags()) {
    EXPECT_EQ(t.provider, "openai");
    EXPECT_EQ(t.scene, "ceremony");
    EXPECT_EQ(t.alt_text, "A couple exchanging rings");
    EXPECT_NE(std::find(t.keywords.begin(), t.keywords.end(), "rings"), t.keywords.end());
    EXPECT_GT(t.sharpness, 0) << "the pixels are still measured locally";
  }
  auto usage = shoot.m_catalog->provider_usage();
  ASSERT_EQ(usage.size(), 1u);
  EXPECT_EQ(usage[0].provider, "openai");
  EXPECT_EQ(usage[0].failures, 3);
  EXPECT_EQ(usage[0].input_tokens, 3 * 1200);
  EXPECT_EQ(usage[0].circuit, "closed");
}

TEST(RemoteTagging, CachedPhotosAndRecordedRefusalsMakeNoCall) {
  FakeOpenAi server([](const Received&, int index) {
    return index == 0 ? completion(nullptr, "stop", "I can't help with that.") : completion(content());
  });
  TaggedShoot shoot(3, server);
  auto first = shoot.tag("run-1");
  EXPECT_EQ(first.tagged, 3u);
  EXPECT_EQ(server.received().size(), 3u);
  // A new alt text template makes every photo due again, not a new call.
  shoot.m_config.tagging.alt_text = "{scene} photo";
  auto second = shoot.tag("run-2");
  EXPECT_EQ(second.tagged, 3u);
  EXPECT_EQ(server.received().size(), 3u);
  EXPECT_EQ(shoot.jobs("done"), 3);
  int local = 0;
  for (const auto& [path, provider] : shoot.providers_by_path()) local += provider == "local";
  EXPECT_EQ(local, 1) << "the refused photo falls back to local, and is not asked again";
  // A new model asks again.
  shoot.m_config.tagging.openai.model = "test-vision-2";
  shoot.tag("run-3");
  EXPECT_EQ(server.received().size(), 6u);
}

TEST(RemoteTagging, TheCircuitOpensAfterRepeatedFailuresAndThePhotosStayDue) {
  FakeOpenAi server([](const Received&, int) { return error_reply(500); });
  TaggedShoot shoot(8, server);
  shoot.m_config.tagging.openai.concurrency = 1;  // one at a time: the count is exact
  shoot.tag("run-1");
  // The default breaker opens after 5 consecutive failures, then stays open for 30 s.
  EXPECT_EQ(server.received().size(), 5u);
  EXPECT_EQ(shoot.jobs("pending"), 8);
  auto usage = shoot.m_catalog->provider_usage();
  ASSERT_EQ(usage.size(), 1u);
  EXPECT_EQ(usage[0].circuit, "open");
}

// Counts the photos tagged without a provider because its circuit was open.
struct CircuitWatcher : wsp::pipeline::Observer {
  std::atomic<int> held_back{0};
  void warning(std::string_view message) override {
    if (message.find("circuit open") != std::string_view::npos) ++held_back;
  }
};

TEST(RemoteTagging, TheCircuitClosesAgainAfterASuccessfulProbeAndThePhotosKeptDueAreAskedAgain) {
  // Down for five requests, then back.
  FakeOpenAi server([](const Received&, int index) { return index < 5 ? error_reply(500) : completion(content()); });
  TaggedShoot shoot(16, server);
  shoot.m_config.tagging.openai.concurrency = 1;  // one at a time: the order is exact
  // Simulated time: each look at the clock is 5 s later, so that the 30 s the
  // circuit stays open pass while photos are held back.
  auto ticks = std::make_shared<std::atomic<long>>(0);
  const auto origin = std::chrono::steady_clock::now();
  auto clock = [ticks, origin] { return origin + std::chrono::seconds(5 * ++*ticks); };
  CircuitWatcher watcher;
  auto first = shoot.tag("run-1", clock, &watcher);

  auto received = server.received();
  ASSERT_GE(received.size(), 6u) << "a probe went out once the circuit was half-open";
  EXPECT_GE(watcher.held_back.load(), 1) << "photos were held back while the circuit was open";
  EXPECT_EQ(static_cast<int>(received.size()) + watcher.held_back.load(), 16)
      << "every photo is either asked or held back";
  auto usage = shoot.m_catalog->provider_usage();
  ASSERT_EQ(usage.size(), 1u);
  EXPECT_EQ(usage[0].failures, 5);
  EXPECT_EQ(usage[0].calls, static_cast<std::int64_t>(received.size()) - 5) << "answered requests";
  EXPECT_EQ(usage[0].circuit, "closed") << "the probe's success closed the circuit, and it stayed closed";
  const auto due = shoot.jobs("pending");
  EXPECT_EQ(due, 5 + watcher.held_back.load()) << "the failed and the held-back photos stay due";
  EXPECT_EQ(first.due_remote, static_cast<std::size_t>(due));
  EXPECT_EQ(shoot.jobs("done"), 16 - due);

  auto second = shoot.tag("run-2");
  EXPECT_EQ(server.received().size(), received.size() + static_cast<std::size_t>(due)) << "only those are asked again";
  EXPECT_EQ(second.tagged, static_cast<std::size_t>(due));
  EXPECT_EQ(shoot.jobs("done"), 16);
  for (const auto& [path, provider] : shoot.providers_by_path()) EXPECT_EQ(provider, "openai") << path;
}

TEST(RemoteTagging, AnOpenCircuitOutlivesTheRun) {
  FakeOpenAi server([](const Received&, int) { return error_reply(500); });
  TaggedShoot shoot(8, server);
  shoot.m_config.tagging.openai.concurrency = 1;
  shoot.tag("run-1");
  ASSERT_EQ(server.received().size(), 5u);
  auto circuits = shoot.m_catalog->circuits();
  ASSERT_EQ(circuits.size(), 1u);
  EXPECT_EQ(circuits[0].kind, "provider");
  EXPECT_EQ(circuits[0].name, "openai");
  EXPECT_EQ(circuits[0].state, "open");
  EXPECT_EQ(circuits[0].consecutive_failures, 5);
  EXPECT_FALSE(circuits[0].last_error.empty());
  // The next run, within the 30 s: the provider is left alone.
  shoot.tag("run-2");
  EXPECT_EQ(server.received().size(), 5u);
  EXPECT_EQ(shoot.jobs("pending"), 8);
}

TEST(RemoteTagging, TheCostCapStopsRemoteCallsAndTheRestStayDue) {
  FakeOpenAi server([](const Received&, int) { return completion(content()); });
  TaggedShoot shoot(5, server);
  // 1200 input tokens at 1000 per million + 80 output at 2500 per million: 1.4 per call.
  shoot.m_config.tagging.openai.prices = {1000.0, 2500.0};
  shoot.m_config.tagging.max_cost = 2.5;
  shoot.m_config.tagging.openai.concurrency = 1;  // requests already out when the cap is reached still land
  shoot.tag("run-1");
  EXPECT_EQ(server.received().size(), 2u);
  EXPECT_EQ(shoot.jobs("done"), 2);
  EXPECT_EQ(shoot.jobs("pending"), 3);
  auto usage = shoot.m_catalog->provider_usage();
  ASSERT_EQ(usage.size(), 1u);
  EXPECT_NEAR(usage[0].cost, 2.8, 1e-9);
}

TEST(RemoteTagging, RequestsAreInFlightTogetherUpToTheProvidersConcurrencyWithOneWorker) {
  FakeOpenAi server([](const Received&, int) {
    auto reply = completion(content());
    reply.delay = 300ms;
    return reply;
  });
  TaggedShoot shoot(10, server);
  shoot.m_config.tagging.openai.concurrency = 4;
  // One thread for the whole process, as `-j 1` gives; the local face finder
  // runs on it (tagging.faces: auto) while the requests are out.
  tbb::global_control one_worker(tbb::global_control::max_allowed_parallelism, 1);
  auto summary = shoot.tag("run-1");  // jobs = 1
  EXPECT_EQ(summary.tagged, 10u);
  const auto received = server.received();
  ASSERT_EQ(received.size(), 10u);
  EXPECT_EQ(server.max_inside(), 4) << "never more than tagging.openai.concurrency, and not one per worker";
  // The requests' own pace, whatever the measurements take: three rounds of four.
  EXPECT_LT(received.back().at - received.front().at, 9 * 300ms) << "not one after the other";
  for (const auto& t : shoot.m_catalog->tags()) {
    EXPECT_EQ(t.provider, "openai") << t.source_path;
    EXPECT_GT(t.sharpness, 0) << t.source_path << ": measured locally too";
    EXPECT_EQ(t.faces.has_value(), wsp::tagging::use_faces(shoot.m_config)) << t.source_path;
  }
}

// The built-in local provider, whose every measurement lasts until `ready`
// (or a few seconds), counting the ones that could not wait longer: a
// measurement as slow as a test needs, made observable.
class SlowLocal : public wsp::tagging::Provider {
public:
  SlowLocal(const wsp::config::Config& config, std::function<bool()> ready, std::atomic<int>& not_ready)
      : m_real(wsp::tagging::make_local_provider(wsp::tagging::use_faces(config))),
        m_ready(std::move(ready)),
        m_not_ready(not_ready) {}
  std::string name() const override { return m_real->name(); }
  std::string model() const override { return m_real->model(); }
  wsp::tagging::Answer ask(const wsp::tagging::Pixels& analysis) override {
    if (!m_ready()) ++m_not_ready;
    return m_real->ask(analysis);
  }

private:
  std::unique_ptr<wsp::tagging::Provider> m_real;
  std::function<bool()> m_ready;
  std::atomic<int>& m_not_ready;
};

TEST(RemoteTagging, EachRequestGoesOutBeforeThePhotoIsMeasuredLocally) {
  FakeOpenAi server([](const Received&, int) { return completion(content()); });
  TaggedShoot shoot(8, server);
  shoot.m_config.tagging.openai.concurrency = 4;
  tbb::global_control one_worker(tbb::global_control::max_allowed_parallelism, 1);
  // A photo's measurement lasts until the server has the first four
  // requests: requests sent only after their photo's measurement would never
  // get there.
  std::atomic<int> not_ready{0};
  auto summary = shoot.tag("run-1", {}, nullptr, [&](const wsp::config::Config& config) {
    return std::make_unique<SlowLocal>(config, [&server] { return server.wait_for_received(4, 3s); }, not_ready);
  });
  EXPECT_EQ(not_ready.load(), 0) << "photos were measured before the first four requests were out";
  EXPECT_EQ(summary.tagged, 8u);
  EXPECT_EQ(server.received().size(), 8u);
  ASSERT_EQ(shoot.m_catalog->tags().size(), 8u);
  for (const auto& t : shoot.m_catalog->tags()) {
    EXPECT_EQ(t.provider, "openai") << t.source_path;
    EXPECT_EQ(t.scene, "ceremony") << t.source_path;
    EXPECT_GT(t.sharpness, 0) << t.source_path << ": the local measurement joins the provider's answer";
  }
}

TEST(RemoteTagging, TheKeyIsInNoCatalogRow) {
  FakeOpenAi server([](const Received&, int index) {
    return index == 0 ? error_reply(401) : completion(content());
  });
  TaggedShoot shoot(2, server);
  shoot.tag("run-1");
  ASSERT_EQ(server.received().size(), 2u);
  EXPECT_EQ(shoot.catalog_bytes().find(k_key), std::string::npos);
}

// images:annotate answers, one per image of the request, in the documented shape.
Reply vision_reply(const Received& request, const std::function<json(int image)>& one) {
  auto body = json::parse(request.body);
  json responses = json::array();
  for (std::size_t i = 0; i < body["requests"].size(); ++i) responses.push_back(one(static_cast<int>(i)));
  return {200, json{{"responses", responses}}.dump()};
}

json vision_labels(const std::string& label, double score, int faces) {
  json out = {{"labelAnnotations",
               {{{"mid", "/m/1"}, {"description", label}, {"score", score}, {"topicality", score}},
                {{"mid", "/m/2"}, {"description", "Event"}, {"score", 0.6}, {"topicality", 0.6}}}},
              {"imagePropertiesAnnotation", {{"dominantColors", {{"colors", json::array()}}}}}};
  if (faces > 0) {
    out["faceAnnotations"] = json::array();
    for (int i = 0; i < faces; ++i)
      out["faceAnnotations"].push_back({{"detectionConfidence", 0.9}, {"blurredLikelihood", "VERY_UNLIKELY"}});
  }
  return out;
}

TEST(GoogleVisionProvider, SendsUpTo16PlainSmallJpegsPerRequestWithTheKeyOnlyInTheQuery) {
  FakeOpenAi server([](const Received& request, int) {
    return vision_reply(request, [](int) { return vision_labels("Wedding ring", 0.95, 2); });
  });
  auto config = provider_config(server);
  config.tagging.google_vision.base_url = server.base_url();
  // A full batch goes at once; the wait only holds the last four back, long
  // enough that a slow machine (sanitizers) still queues all twenty in time.
  config.tagging.google_vision.batch_wait_ms = 2000;
  auto provider = wsp::tagging::make_google_vision_provider(config, std::string(k_vision_key), quick_http());
  std::mutex mutex;
  std::condition_variable all_in;
  std::vector<wsp::tagging::Answer> answers;
  const auto photo = pixels(900, 600);
  for (int i = 0; i < 20; ++i)
    provider->ask_async(photo, [&](wsp::tagging::Answer answer) {
      std::lock_guard lock(mutex);
      answers.push_back(std::move(answer));
      all_in.notify_all();
    });
  {
    std::unique_lock lock(mutex);
    ASSERT_TRUE(all_in.wait_for(lock, 20s, [&] { return answers.size() == 20; }));
  }
  auto received = server.received();
  ASSERT_EQ(received.size(), 2u);
  std::vector<std::size_t> sizes;
  for (const auto& request : received) {
    EXPECT_EQ(request.path, "/v1/images:annotate");
    ASSERT_EQ(request.query.size(), 1u);
    EXPECT_EQ(request.query[0].name, "key");
    EXPECT_EQ(request.query[0].value, k_vision_key);
    for (const auto& header : request.headers) EXPECT_EQ(header.value.find(k_vision_key), std::string::npos);
    EXPECT_EQ(request.body.find(k_vision_key), std::string::npos);
    auto body = json::parse(request.body);
    sizes.push_back(body["requests"].size());
    for (const auto& one : body["requests"]) {
      std::vector<std::string> features;
      for (const auto& f : one["features"]) features.push_back(f["type"]);
      EXPECT_EQ(features, (std::vector<std::string>{"LABEL_DETECTION", "FACE_DETECTION", "IMAGE_PROPERTIES"}));
      auto image = decoded_image(base64_decoded(one["image"]["content"].get<std::string>()));
      EXPECT_TRUE(image.is_jpeg);
      EXPECT_LE(std::max(image.width, image.height), 512);
      EXPECT_TRUE(image.metadata.empty());
    }
  }
  EXPECT_EQ(sizes, (std::vector<std::size_t>{16, 4}));
  for (const auto& answer : answers) {
    ASSERT_TRUE(answer.observation) << answer.failure;
    ASSERT_EQ(answer.observation->scenes.size(), 1u);
    EXPECT_EQ(answer.observation->scenes[0].scene, "detail") << "through the label table";
    EXPECT_DOUBLE_EQ(answer.observation->scenes[0].confidence, 0.95);
    EXPECT_EQ(answer.observation->labels, (std::vector<std::string>{"wedding ring"}));
    EXPECT_EQ(answer.observation->people, 2);
  }
}

TEST(GoogleVisionProvider, RequestsPerMinuteSpaceTheBatches) {
  FakeOpenAi server([](const Received& request, int) {
    return vision_reply(request, [](int) { return vision_labels("Cake", 0.9, 0); });
  });
  auto config = provider_config(server);
  config.tagging.google_vision.base_url = server.base_url();
  config.tagging.google_vision.concurrency = 4;
  config.tagging.google_vision.requests_per_minute = 100;  // one each 600 ms
  auto provider = wsp::tagging::make_google_vision_provider(config, std::nullopt, quick_http());
  auto answers = ask_all(*provider, 40);
  for (const auto& answer : answers) EXPECT_TRUE(answer.observation) << answer.failure;
  auto received = server.received();
  ASSERT_EQ(received.size(), 3u) << "16 + 16 + 8";
  EXPECT_EQ(json::parse(received[0].body)["requests"].size(), 16u);
  EXPECT_EQ(json::parse(received[1].body)["requests"].size(), 16u);
  for (std::size_t i = 1; i < received.size(); ++i) EXPECT_GE(received[i].at - received[i - 1].at, 550ms) << i;
}

TEST(GoogleVisionProvider, A429sRetryAfterHoldsBackTheNextBatch) {
  FakeOpenAi server([](const Received& request, int index) {
    if (index == 0) return error_reply(429, {{"Retry-After", "1"}});
    return vision_reply(request, [](int) { return vision_labels("Cake", 0.9, 0); });
  });
  auto config = provider_config(server);
  config.tagging.google_vision.base_url = server.base_url();
  auto provider = wsp::tagging::make_google_vision_provider(config, std::nullopt, quick_http(0));
  auto first = ask_all(*provider, 2);
  for (const auto& answer : first) EXPECT_TRUE(answer.transient) << answer.failure;
  auto second = ask_all(*provider, 2);
  for (const auto& answer : second) EXPECT_TRUE(answer.observation) << answer.failure;
  auto received = server.received();
  ASSERT_EQ(received.size(), 2u);
  EXPECT_GE(received[1].at - received[0].at, 950ms);
}

TEST(GoogleVisionProvider, AnErrorForOneImageFailsOnlyThatImage) {
  FakeOpenAi server([](const Received& request, int) {
    return vision_reply(request, [](int image) {
      if (image == 1) return json{{"error", {{"code", 3}, {"message", "Bad image data."}}}};
      if (image == 2) return json{{"error", {{"code", 14}, {"message", "Service unavailable."}}}};
      return vision_labels("Dance", 0.9, 0);
    });
  });
  auto config = provider_config(server);
  config.tagging.google_vision.base_url = server.base_url();
  wsp::net::HttpResponse response;
  auto provider = wsp::tagging::make_google_vision_provider(config, std::nullopt, quick_http());
  std::mutex mutex;
  std::condition_variable all_in;
  std::map<int, wsp::tagging::Answer> answers;
  for (int i = 0; i < 4; ++i)
    provider->ask_async(pixels(64 + i, 48), [&, i](wsp::tagging::Answer answer) {
      std::lock_guard lock(mutex);
      answers[i] = std::move(answer);
      all_in.notify_all();
    });
  {
    std::unique_lock lock(mutex);
    ASSERT_TRUE(all_in.wait_for(lock, 20s, [&] { return answers.size() == 4; }));
  }
  ASSERT_EQ(server.received().size(), 1u);
  EXPECT_TRUE(server.received()[0].query.empty()) << "no key, no key parameter";
  EXPECT_TRUE(answers[0].observation);
  EXPECT_EQ(answers[0].observation->scenes.at(0).scene, "reception");
  EXPECT_FALSE(answers[1].observation);
  EXPECT_FALSE(answers[1].transient);
  EXPECT_NE(answers[1].failure.find("Bad image data."), std::string::npos);
  EXPECT_FALSE(answers[2].observation);
  EXPECT_TRUE(answers[2].transient);
  EXPECT_TRUE(answers[3].observation);
}

TEST(RemoteTagging, AChangedLabelTableRetagsAndAsksVisionAgain) {
  FakeOpenAi vision([](const Received& request, int) {
    return vision_reply(request, [](int) { return vision_labels("Cake", 0.9, 0); });
  });
  TaggedShoot shoot(2, vision);
  shoot.m_config.tagging.providers = {"google_vision", "local"};
  shoot.m_config.tagging.google_vision.base_url = vision.base_url();
  shoot.tag("run-1");
  for (const auto& t : shoot.m_catalog->tags()) EXPECT_EQ(t.scene, "detail");
  const auto requests = vision.received().size();
  shoot.tag("run-2");
  EXPECT_EQ(vision.received().size(), requests) << "nothing due, nothing asked";
  shoot.m_config.tagging.google_vision.labels = {{"cake", "reception"}};
  auto third = shoot.tag("run-3");
  EXPECT_EQ(third.tagged, 2u);
  EXPECT_GT(vision.received().size(), requests);
  for (const auto& t : shoot.m_catalog->tags()) EXPECT_EQ(t.scene, "reception");
}

TEST(RemoteTagging, VisionGetsSmallJpegsWithoutTheShootsMetadataAndItsKeyIsInNoMessageOrCatalogRow) {
  WSP_REQUIRE_TOOL(std::system("exiftool -ver >/dev/null 2>&1") == 0, "exiftool writes the photos' GPS and serials");
  // The first request is not answered in time (its error names the URL); then the service is back.
  FakeOpenAi vision([](const Received& request, int index) {
    auto reply = vision_reply(request, [](int) { return vision_labels("Bouquet", 0.9, 1); });
    if (index == 0) reply.delay = 3s;
    return reply;
  });
  TaggedShoot shoot(
      18, vision,
      [](const fs::path& folder) {
        const auto command = "exiftool -q -overwrite_original -GPSLatitude=48.8584 -GPSLatitudeRef=N "
                             "-GPSLongitude=2.2945 -GPSLongitudeRef=E -SerialNumber=083021002694 "
                             "-Artist='Anna Photographer' -Comment='private note' '" + folder.string() + "'";
        ASSERT_EQ(std::system(command.c_str()), 0);
      },
      1600, 1200);
  shoot.m_config.tagging.providers = {"google_vision", "local"};
  shoot.m_config.tagging.google_vision.base_url = vision.base_url();
  shoot.m_config.tagging.google_vision.timeout_seconds = 1;
  shoot.m_config.tagging.google_vision.concurrency = 1;
  Transcript said;
  auto first = shoot.tag("run-1", {}, &said);
  EXPECT_GE(first.due_remote, 1u) << "the photos of the request that timed out stay due";
  EXPECT_NE(said.text.find("images:annotate"), std::string::npos) << "the error names the request: " << said.text;
  shoot.tag("run-2", {}, &said);
  EXPECT_EQ(shoot.jobs("done"), 18);

  std::size_t images = 0;
  for (const auto& request : vision.received()) {
    EXPECT_EQ(request.query.at(0).value, k_vision_key);
    auto body = json::parse(request.body);
    EXPECT_LE(body["requests"].size(), 16u);
    for (const auto& one : body["requests"]) {
      ++images;
      auto image = decoded_image(base64_decoded(one["image"]["content"].get<std::string>()));
      EXPECT_TRUE(image.is_jpeg);
      EXPECT_LE(std::max(image.width, image.height), 512);
      EXPECT_TRUE(image.metadata.empty()) << image.metadata.front();
      EXPECT_EQ(one.dump().find("083021002694"), std::string::npos);
    }
  }
  EXPECT_GE(images, 18u + first.due_remote);
  EXPECT_EQ(said.text.find(k_vision_key), std::string::npos) << said.text;
  EXPECT_EQ(shoot.catalog_bytes().find(k_vision_key), std::string::npos);
}

TEST(RemoteTagging, ProvidersAreAskedInOrderAndTheFirstStaysDueWhileItIsAway) {
  FakeOpenAi openai([](const Received&, int) { return error_reply(503); });
  FakeOpenAi vision([](const Received& request, int) {
    return vision_reply(request, [](int) { return vision_labels("Altar", 0.9, 2); });
  });
  TaggedShoot shoot(3, openai);
  shoot.m_config.tagging.providers = {"openai", "google_vision", "local"};
  shoot.m_config.tagging.google_vision.base_url = vision.base_url();
  auto first = shoot.tag("run-1");
  EXPECT_EQ(openai.received().size(), 3u);
  EXPECT_GE(vision.received().size(), 1u);
  EXPECT_EQ(first.due_remote, 3u);
  for (const auto& t : shoot.m_catalog->tags()) {
    EXPECT_EQ(t.provider, "google_vision");
    EXPECT_EQ(t.scene, "ceremony");
  }
  EXPECT_EQ(shoot.jobs("pending"), 3) << "still due for openai";

  openai.set_script([](const Received&, int) { return completion(content("portrait", 0.9)); });
  const auto vision_calls = vision.received().size();
  auto second = shoot.tag("run-2");
  EXPECT_EQ(second.tagged, 3u);
  EXPECT_EQ(openai.received().size(), 6u);
  EXPECT_EQ(vision.received().size(), vision_calls) << "the first provider answered: the second is not asked";
  for (const auto& t : shoot.m_catalog->tags()) EXPECT_EQ(t.provider, "openai");
  EXPECT_EQ(shoot.jobs("done"), 3);
}

}  // namespace

namespace {

TEST(RemoteTagging, ClosedEyesAProviderReportsAreACullingFlag) {
  FakeOpenAi server([](const Received&, int index) {
    auto answer = content();
    answer["eyes_closed"] = index == 0;
    return completion(answer);
  });
  TaggedShoot shoot(2, server);
  shoot.tag("run-1");
  auto tags = shoot.m_catalog->tags();
  ASSERT_EQ(tags.size(), 2u);
  int closed = 0;
  for (const auto& t : tags) {
    closed += t.eyes_closed;
    EXPECT_EQ(std::find(t.keywords.begin(), t.keywords.end(), "eyes closed") != t.keywords.end(), t.eyes_closed)
        << t.source_path;
  }
  EXPECT_EQ(closed, 1) << "the photo the provider saw blinking, and only that one";
}

}  // namespace
