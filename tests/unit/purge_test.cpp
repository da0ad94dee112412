// CDN purges against small HTTP servers on 127.0.0.1 that check each
// provider's documented API: method, path, headers and body shape.

#include "publish/purge.hpp"

#include <gtest/gtest.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <nlohmann/json.hpp>
#include <pugixml.hpp>

#include <functional>
#include <mutex>
#include <set>
#include <string>
#include <vector>

namespace {

using namespace wsp;

struct Call {
  std::string method, path, body;
  net::Headers headers;
  std::string header(std::string_view name) const {
    for (const auto& h : headers)
      if (strcasecmp(h.name.c_str(), std::string(name).c_str()) == 0) return h.value;
    return {};
  }
};

struct Answer {
  int status = 200;
  std::string body;
};

// Records every request; answers with `handler`.
class FakeCdn {
public:
  explicit FakeCdn(std::function<Answer(const Call&)> handler) : m_handler(std::move(handler)) {
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    m_daemon = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION, 0, nullptr, nullptr,
                                &FakeCdn::on_request, this, MHD_OPTION_SOCK_ADDR, &address,
                                MHD_OPTION_NOTIFY_COMPLETED, &FakeCdn::on_completed, this, MHD_OPTION_END);
    if (!m_daemon) throw std::runtime_error("cannot start the fake CDN");
    m_port = MHD_get_daemon_info(m_daemon, MHD_DAEMON_INFO_BIND_PORT)->port;
  }
  ~FakeCdn() { MHD_stop_daemon(m_daemon); }
  std::string base() const { return "http://127.0.0.1:" + std::to_string(m_port); }
  std::vector<Call> calls() const {
    std::lock_guard lock(m_mutex);
    return m_calls;
  }

private:
  static void on_completed(void*, MHD_Connection*, void** context, MHD_RequestTerminationCode) {
    delete static_cast<std::string*>(*context);
    *context = nullptr;
  }
  static MHD_Result collect(void* into, MHD_ValueKind, const char* key, const char* value) {
    static_cast<net::Headers*>(into)->push_back({key, value ? value : ""});
    return MHD_YES;
  }
  static MHD_Result on_request(void* self, MHD_Connection* connection, const char* url, const char* method,
                               const char*, const char* upload_data, size_t* upload_size, void** context) {
    auto* server = static_cast<FakeCdn*>(self);
    if (!*context) {
      *context = new std::string;
      return MHD_YES;
    }
    auto* body = static_cast<std::string*>(*context);
    if (*upload_size > 0) {
      body->append(upload_data, *upload_size);
      *upload_size = 0;
      return MHD_YES;
    }
    Call call{method, url, *body, {}};
    MHD_get_connection_values(connection, MHD_HEADER_KIND, &FakeCdn::collect, &call.headers);
    {
      std::lock_guard lock(server->m_mutex);
      server->m_calls.push_back(call);
    }
    Answer answer = server->m_handler(call);
    MHD_Response* response =
        MHD_create_response_from_buffer(answer.body.size(), answer.body.data(), MHD_RESPMEM_MUST_COPY);
    MHD_Result result = MHD_queue_response(connection, answer.status, response);
    MHD_destroy_response(response);
    return result;
  }

  std::function<Answer(const Call&)> m_handler;
  MHD_Daemon* m_daemon = nullptr;
  int m_port = 0;
  mutable std::mutex m_mutex;
  std::vector<Call> m_calls;
};

net::HttpClient client() {
  net::HttpSettings settings;
  settings.retry.retries = 2;
  settings.retry.base_delay = std::chrono::milliseconds(1);
  settings.retry.max_delay = std::chrono::milliseconds(5);
  return net::HttpClient(settings);
}

std::vector<std::string> many_urls(int count) {
  std::vector<std::string> paths;
  for (int i = 0; i < count; ++i) paths.push_back("album/page-" + std::to_string(i) + ".html");
  return publish::purge_urls("https://photos.example.com", paths);
}

TEST(PurgeUrls, EncodeEachSegmentAndAddTheFolderOfAnIndex) {
  std::vector<std::string> paths{"index.html", "Mariée à l'église/index.html", "manifest.json"};
  auto urls = publish::purge_urls("https://photos.example.com/anna-ben/", paths);
  EXPECT_EQ(urls, (std::vector<std::string>{
                      "https://photos.example.com/anna-ben/",
                      "https://photos.example.com/anna-ben/index.html",
                      "https://photos.example.com/anna-ben/Mari%C3%A9e%20%C3%A0%20l%27%C3%A9glise/",
                      "https://photos.example.com/anna-ben/Mari%C3%A9e%20%C3%A0%20l%27%C3%A9glise/index.html",
                      "https://photos.example.com/anna-ben/manifest.json"}));
}

TEST(Purge, CloudflarePostsFilesInBatchesOfThirtyWithTheBearerToken) {
  ::setenv("no_proxy", "127.0.0.1", 1);
  FakeCdn cdn([](const Call&) { return Answer{200, R"({"success": true, "errors": [], "result": {"id": "z"}})"}; });
  publish::CdnSettings settings{"cloudflare", cdn.base() + "/client/v4", "023e105f4ecef8ad9ca31a8372d0c353", "", "cf-token-1234", {}, false};
  auto urls = many_urls(65);
  auto http = client();
  auto report = publish::purge(http, settings, urls);
  EXPECT_TRUE(report.stale.empty());
  EXPECT_EQ(report.purged.size(), urls.size());
  auto calls = cdn.calls();
  ASSERT_EQ(calls.size(), 3u);
  std::multiset<std::string> seen;
  for (const auto& call : calls) {
    EXPECT_EQ(call.method, "POST");
    EXPECT_EQ(call.path, "/client/v4/zones/023e105f4ecef8ad9ca31a8372d0c353/purge_cache");
    EXPECT_EQ(call.header("Authorization"), "Bearer cf-token-1234");
    EXPECT_EQ(call.header("Content-Type"), "application/json");
    auto body = nlohmann::json::parse(call.body);
    ASSERT_TRUE(body.is_object());
    EXPECT_EQ(body.size(), 1u) << "only the files list";
    ASSERT_TRUE(body["files"].is_array());
    EXPECT_LE(body["files"].size(), 30u);
    for (const auto& file : body["files"]) seen.insert(file.get<std::string>());
  }
  EXPECT_EQ(seen, std::multiset<std::string>(urls.begin(), urls.end()));
}

TEST(Purge, CloudflareRefusalLeavesEveryUrlStaleWithoutTheToken) {
  ::setenv("no_proxy", "127.0.0.1", 1);
  FakeCdn cdn([](const Call& call) {
    // A 200 that says it failed, then an outage: neither is a purge.
    if (call.body.find("page-0.html") != std::string::npos)
      return Answer{200, R"({"success": false, "errors": [{"code": 1012, "message": "Request must contain one of files"}]})"};
    return Answer{503, "unavailable"};
  });
  publish::CdnSettings settings{"cloudflare", cdn.base(), "zone", "", "cf-secret-token-987", {}, false};
  auto urls = many_urls(40);
  auto http = client();
  auto report = publish::purge(http, settings, urls);
  EXPECT_TRUE(report.purged.empty());
  EXPECT_EQ(report.stale.size(), urls.size());
  ASSERT_EQ(report.errors.size(), 2u);
  for (const auto& error : report.errors) EXPECT_EQ(error.find("cf-secret-token-987"), std::string::npos) << error;
  EXPECT_EQ(cdn.calls().size(), 1u + 3u) << "the refusal is not retried, the outage is (2 retries)";
}

TEST(Purge, CloudFrontCreatesOneSignedInvalidationWithUniqueReferences) {
  ::setenv("no_proxy", "127.0.0.1", 1);
  FakeCdn cdn([](const Call&) {
    return Answer{201, R"(<?xml version="1.0"?><Invalidation><Id>I2J0I21PCUYOIK</Id><Status>InProgress</Status></Invalidation>)"};
  });
  publish::CdnSettings settings{"cloudfront", cdn.base(), "", "EDFDVBD6EXAMPLE", "", {"AKIDEXAMPLE", "cf-aws-secret", ""}, false};
  std::vector<std::string> paths{"index.html", "manifest.json"};
  auto urls = publish::purge_urls("https://d111111abcdef8.cloudfront.net/anna", paths);
  auto http = client();
  auto first = publish::purge(http, settings, urls);
  auto second = publish::purge(http, settings, urls);
  EXPECT_EQ(first.purged.size(), 3u);
  EXPECT_TRUE(second.stale.empty());
  auto calls = cdn.calls();
  ASSERT_EQ(calls.size(), 2u);
  std::set<std::string> references;
  for (const auto& call : calls) {
    EXPECT_EQ(call.method, "POST");
    EXPECT_EQ(call.path, "/2020-05-31/distribution/EDFDVBD6EXAMPLE/invalidation");
    auto authorization = call.header("Authorization");
    EXPECT_TRUE(authorization.starts_with("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/")) << authorization;
    EXPECT_NE(authorization.find("/us-east-1/cloudfront/aws4_request"), std::string::npos) << authorization;
    EXPECT_NE(authorization.find("SignedHeaders=content-type;host;x-amz-date"), std::string::npos) << authorization;
    EXPECT_EQ(call.header("X-Amz-Date").size(), 16u);
    pugi::xml_document document;
    ASSERT_TRUE(document.load_string(call.body.c_str()));
    auto batch = document.child("InvalidationBatch");
    ASSERT_TRUE(batch);
    EXPECT_STREQ(batch.attribute("xmlns").value(), "http://cloudfront.amazonaws.com/doc/2020-05-31/");
    std::vector<std::string> items;
    for (auto path : batch.child("Paths").child("Items").children("Path")) items.emplace_back(path.text().get());
    EXPECT_EQ(items, (std::vector<std::string>{"/anna/", "/anna/index.html", "/anna/manifest.json"}));
    EXPECT_EQ(batch.child("Paths").child("Quantity").text().as_int(), 3);
    references.insert(batch.child_value("CallerReference"));
  }
  EXPECT_EQ(references.size(), 2u) << "each invalidation has its own CallerReference";
  EXPECT_EQ(references.count(""), 0u);
}

TEST(Purge, FastlyPurgesEachUrlWithItsKeySoftWhenAsked) {
  ::setenv("no_proxy", "127.0.0.1", 1);
  FakeCdn cdn([](const Call&) { return Answer{200, R"({"status": "ok", "id": "108-1391560174-974124"})"}; });
  publish::CdnSettings settings{"fastly", cdn.base(), "", "", "fastly-key-42", {}, true};
  std::vector<std::string> paths{"index.html", "styles.css"};
  auto urls = publish::purge_urls("https://www.example.com", paths);
  auto http = client();
  auto report = publish::purge(http, settings, urls);
  EXPECT_EQ(report.purged.size(), 3u);
  auto calls = cdn.calls();
  ASSERT_EQ(calls.size(), 3u);
  std::set<std::string> purged_paths;
  for (const auto& call : calls) {
    EXPECT_EQ(call.method, "POST");
    EXPECT_EQ(call.header("Fastly-Key"), "fastly-key-42");
    EXPECT_EQ(call.header("Fastly-Soft-Purge"), "1");
    purged_paths.insert(call.path);
  }
  EXPECT_EQ(purged_paths, (std::set<std::string>{"/purge/www.example.com/", "/purge/www.example.com/index.html",
                                                 "/purge/www.example.com/styles.css"}));
  settings.soft = false;
  publish::purge(http, settings, std::vector<std::string>{urls.front()});
  EXPECT_EQ(cdn.calls().back().header("Fastly-Soft-Purge"), "") << "a hard purge unless soft is asked";
}

}  // namespace
