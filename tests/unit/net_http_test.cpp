// The HTTP client against a real HTTP server (libmicrohttpd) on 127.0.0.1.

#include "net/http.hpp"
#include "temp_dir.hpp"

#include <gtest/gtest.h>
#include <microhttpd.h>

#include <arpa/inet.h>
#include <nlohmann/json.hpp>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <functional>
#include <fstream>
#include <future>
#include <sstream>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace {

using namespace std::chrono_literals;
using wsp::net::BreakerState;
using wsp::net::HttpClient;
using wsp::net::HttpRequest;
using wsp::net::HttpResponse;
using wsp::net::HttpSettings;

struct Received {
  std::string method, path;
  wsp::net::Headers headers;
  wsp::net::Headers query;
  std::string body;
  std::chrono::steady_clock::time_point at;

  std::string header(const std::string& name) const {
    for (const auto& h : headers)
      if (strcasecmp(h.name.c_str(), name.c_str()) == 0) return h.value;
    return {};
  }
  bool has_header(const std::string& name) const {
    for (const auto& h : headers)
      if (strcasecmp(h.name.c_str(), name.c_str()) == 0) return true;
    return false;
  }
};

struct Reply {
  enum class Kind { answer, drop, stall } kind = Kind::answer;
  int status = 200;
  wsp::net::Headers headers;
  std::string body = "ok";
};

Reply answer(int status, std::string body = "ok", wsp::net::Headers headers = {}) {
  Reply reply;
  reply.status = status;
  reply.body = std::move(body);
  reply.headers = std::move(headers);
  return reply;
}
Reply drop() {
  Reply reply;
  reply.kind = Reply::Kind::drop;
  return reply;
}
Reply stall() {
  Reply reply;
  reply.kind = Reply::Kind::stall;
  return reply;
}

HttpRequest request(std::string method, std::string url, wsp::net::Headers headers = {}, std::string body = {}) {
  HttpRequest out;
  out.method = std::move(method);
  out.url = std::move(url);
  out.headers = std::move(headers);
  out.body = std::move(body);
  return out;
}

// An HTTP/1.1 server on 127.0.0.1, a thread per connection, that records what
// it receives and answers what the test's handler says.
class TestServer {
public:
  using Handler = std::function<Reply(const Received&, int index)>;

  // With a PEM key and certificate, the server speaks HTTPS.
  explicit TestServer(Handler handler, std::string tls_key = {}, std::string tls_cert = {})
      : m_handler(std::move(handler)), m_tls_key(std::move(tls_key)), m_tls_cert(std::move(tls_cert)) {
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = 0;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION;
    if (m_tls_key.empty()) {
      m_daemon = MHD_start_daemon(flags, 0, nullptr, nullptr, &TestServer::on_request, this, MHD_OPTION_SOCK_ADDR,
                                  &address, MHD_OPTION_NOTIFY_CONNECTION, &TestServer::on_connection, this,
                                  MHD_OPTION_NOTIFY_COMPLETED, &TestServer::on_completed, this,
                                  MHD_OPTION_CONNECTION_TIMEOUT, 30u, MHD_OPTION_END);
    } else {
      m_daemon = MHD_start_daemon(flags | MHD_USE_TLS, 0, nullptr, nullptr, &TestServer::on_request, this,
                                  MHD_OPTION_SOCK_ADDR, &address, MHD_OPTION_NOTIFY_CONNECTION,
                                  &TestServer::on_connection, this, MHD_OPTION_NOTIFY_COMPLETED,
                                  &TestServer::on_completed, this, MHD_OPTION_CONNECTION_TIMEOUT, 30u,
                                  MHD_OPTION_HTTPS_MEM_KEY, m_tls_key.c_str(), MHD_OPTION_HTTPS_MEM_CERT,
                                  m_tls_cert.c_str(), MHD_OPTION_END);
    }
    if (!m_daemon) throw std::runtime_error("cannot start the test HTTP server");
    m_port = MHD_get_daemon_info(m_daemon, MHD_DAEMON_INFO_BIND_PORT)->port;
  }

  ~TestServer() {
    {
      std::lock_guard lock(m_mutex);
      m_stopping = true;
    }
    m_changed.notify_all();
    MHD_stop_daemon(m_daemon);
  }

  std::string url(const std::string& path) const {
    return (m_tls_key.empty() ? "http://127.0.0.1:" : "https://127.0.0.1:") + std::to_string(m_port) + path;
  }

  std::vector<Received> received() const {
    std::lock_guard lock(m_mutex);
    return m_received;
  }
  int connections() const {
    std::lock_guard lock(m_mutex);
    return m_connections;
  }

  // Holds each request until `count` requests are inside the handler at once
  // (or `limit` has passed); returns whether they all were.
  bool wait_together(int count, std::chrono::milliseconds limit) {
    std::unique_lock lock(m_mutex);
    ++m_inside;
    m_max_inside = std::max(m_max_inside, m_inside);
    m_changed.notify_all();
    bool together = m_changed.wait_for(lock, limit, [&] { return m_max_inside >= count || m_stopping; });
    --m_inside;
    return together && !m_stopping;
  }
  int max_inside() const {
    std::lock_guard lock(m_mutex);
    return m_max_inside;
  }

private:
  struct Upload {
    std::string body;
  };

  static void on_connection(void* self, MHD_Connection*, void**, MHD_ConnectionNotificationCode code) {
    if (code != MHD_CONNECTION_NOTIFY_STARTED) return;
    auto* server = static_cast<TestServer*>(self);
    std::lock_guard lock(server->m_mutex);
    ++server->m_connections;
  }

  static void on_completed(void*, MHD_Connection*, void** context, MHD_RequestTerminationCode) {
    delete static_cast<Upload*>(*context);
    *context = nullptr;
  }

  static MHD_Result collect(void* into, MHD_ValueKind, const char* key, const char* value) {
    static_cast<wsp::net::Headers*>(into)->push_back({key, value ? value : ""});
    return MHD_YES;
  }

  // Sends 100 bytes, then nothing until the server stops.
  static ssize_t stalled_body(void* self, uint64_t position, char* buffer, size_t max) {
    auto* server = static_cast<TestServer*>(self);
    if (position == 0) {
      size_t bytes = std::min<size_t>(max, 100);
      std::fill(buffer, buffer + bytes, 'x');
      return static_cast<ssize_t>(bytes);
    }
    std::unique_lock lock(server->m_mutex);
    server->m_changed.wait_for(lock, 60s, [&] { return server->m_stopping; });
    return MHD_CONTENT_READER_END_WITH_ERROR;
  }

  static MHD_Result on_request(void* self, MHD_Connection* connection, const char* url, const char* method,
                               const char*, const char* upload_data, size_t* upload_size, void** context) {
    auto* server = static_cast<TestServer*>(self);
    if (!*context) {
      *context = new Upload;
      return MHD_YES;
    }
    auto* upload = static_cast<Upload*>(*context);
    if (*upload_size > 0) {
      upload->body.append(upload_data, *upload_size);
      *upload_size = 0;
      return MHD_YES;
    }

    Received received;
    received.method = method;
    received.path = url;
    received.body = upload->body;
    received.at = std::chrono::steady_clock::now();
    MHD_get_connection_values(connection, MHD_HEADER_KIND, &TestServer::collect, &received.headers);
    MHD_get_connection_values(connection, MHD_GET_ARGUMENT_KIND, &TestServer::collect, &received.query);
    int index;
    {
      std::lock_guard lock(server->m_mutex);
      index = static_cast<int>(server->m_received.size());
      server->m_received.push_back(received);
    }
    Reply reply = server->m_handler(received, index);
    if (reply.kind == Reply::Kind::drop) return MHD_NO;  // closes the connection without an answer

    MHD_Response* response;
    if (reply.kind == Reply::Kind::stall) {
      response = MHD_create_response_from_callback(1'000'000, 1024, &TestServer::stalled_body, server, nullptr);
    } else {
      response = MHD_create_response_from_buffer(reply.body.size(), reply.body.data(), MHD_RESPMEM_MUST_COPY);
    }
    for (const auto& header : reply.headers) MHD_add_response_header(response, header.name.c_str(), header.value.c_str());
    MHD_Result result = MHD_queue_response(connection, reply.status, response);
    MHD_destroy_response(response);
    return result;
  }

  Handler m_handler;
  std::string m_tls_key, m_tls_cert;
  MHD_Daemon* m_daemon = nullptr;
  int m_port = 0;
  mutable std::mutex m_mutex;
  std::condition_variable m_changed;
  std::vector<Received> m_received;
  int m_connections = 0;
  int m_inside = 0;
  int m_max_inside = 0;
  bool m_stopping = false;
};

// Fast retries, so that the tests wait for the behaviour, not for the defaults.
HttpSettings quick_settings() {
  HttpSettings settings;
  settings.retry.retries = 3;
  settings.retry.base_delay = 10ms;
  settings.retry.max_delay = 50ms;
  settings.breaker.failure_threshold = 100;
  return settings;
}

// A port nothing listens on: bound, then closed.
int closed_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address);
  socklen_t length = sizeof address;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
  ::close(fd);
  return ntohs(address.sin_port);
}

class NetHttp : public ::testing::Test {
protected:
  // A proxy from the environment must not catch the tests' loopback requests.
  void SetUp() override { ::setenv("no_proxy", "127.0.0.1,localhost", 1); }
};

TEST_F(NetHttp, ManyRequestsAreInFlightAtOnce) {
  constexpr int k_requests = 8;
  // The handler waits until all requests are inside it at the same time:
  // only a client with all of them in flight at once gets every answer.
  std::atomic<TestServer*> self{nullptr};
  TestServer barrier([&](const Received&, int) -> Reply {
    bool all = self.load()->wait_together(k_requests, 10s);
    return all ? answer(200, "together") : answer(500, "alone");
  });
  self = &barrier;

  auto settings = quick_settings();
  settings.retry.retries = 0;
  HttpClient client(settings);
  std::vector<std::future<HttpResponse>> answers;
  for (int i = 0; i < k_requests; ++i) answers.push_back(client.send(request("GET", barrier.url("/p" + std::to_string(i)))));
  for (auto& answer : answers) {
    auto response = answer.get();
    EXPECT_EQ(response.status, 200) << response.error;
    EXPECT_EQ(response.body, "together");
  }
  EXPECT_EQ(barrier.max_inside(), k_requests);
}

TEST_F(NetHttp, ConnectionsAreReused) {
  TestServer server([](const Received&, int) { return answer(200); });
  HttpClient client(quick_settings());
  for (int i = 0; i < 10; ++i) {
    auto response = client.perform(request("GET", server.url("/photo/" + std::to_string(i))));
    ASSERT_TRUE(response.ok()) << response.error;
  }
  EXPECT_EQ(server.received().size(), 10u);
  EXPECT_EQ(server.connections(), 1);
}

TEST_F(NetHttp, BodyAndHeadersGoOutAsGiven) {
  TestServer server([](const Received&, int) { return answer(201, "", {{"ETag", "\"abc\""}}); });
  HttpClient client(quick_settings());
  std::string photo(300'000, '\0');
  for (std::size_t i = 0; i < photo.size(); ++i) photo[i] = static_cast<char>(i * 31);
  auto response = client.perform(
      request("PUT", server.url("/bucket/a/./b/../Mari%C3%A9e%2001.jpg"), {{"x-amz-meta-scene", "ceremony"}}, photo));
  ASSERT_TRUE(response.ok()) << response.error;
  EXPECT_EQ(response.status, 201);
  EXPECT_EQ(response.header("etag").value_or(""), "\"abc\"");
  auto received = server.received();
  ASSERT_EQ(received.size(), 1u);
  EXPECT_EQ(received[0].method, "PUT");
  EXPECT_EQ(received[0].body, photo);
  EXPECT_EQ(received[0].header("x-amz-meta-scene"), "ceremony");
  EXPECT_FALSE(received[0].has_header("Content-Type"));  // no form type invented by libcurl
  EXPECT_FALSE(received[0].has_header("Expect"));
  EXPECT_EQ(received[0].path, "/bucket/a/./b/../Mariée 01.jpg");  // dot segments kept, as signed
}

TEST_F(NetHttp, ServiceUnavailableWithRetryAfterThenSuccess) {
  TestServer server([](const Received&, int index) {
    if (index == 0) return answer(503, "busy", {{"Retry-After", "1"}});
    return answer(200, "done");
  });
  std::vector<std::string> log;
  HttpClient client(quick_settings(), {}, [&](std::string_view line) { log.emplace_back(line); });
  auto response = client.perform(request("GET", server.url("/gallery/index.html")));
  ASSERT_TRUE(response.ok()) << response.error;
  EXPECT_EQ(response.body, "done");
  EXPECT_EQ(response.attempts, 2);
  auto received = server.received();
  ASSERT_EQ(received.size(), 2u);
  // The backoff alone would have waited at most 10 ms; the server asked for a second.
  EXPECT_GE(received[1].at - received[0].at, 950ms);
  ASSERT_EQ(log.size(), 1u);
  EXPECT_NE(log[0].find("HTTP 503"), std::string::npos) << log[0];
}

TEST_F(NetHttp, RetryAfterIsCapped) {
  TestServer server([](const Received&, int index) {
    if (index == 0) return answer(429, "", {{"Retry-After", "3600"}});
    return answer(200);
  });
  auto settings = quick_settings();
  settings.retry.max_retry_after = 200ms;
  HttpClient client(settings);
  auto start = std::chrono::steady_clock::now();
  auto response = client.perform(request("GET", server.url("/")));
  ASSERT_TRUE(response.ok()) << response.error;
  auto received = server.received();
  ASSERT_EQ(received.size(), 2u);
  EXPECT_GE(received[1].at - received[0].at, 190ms);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 10s);
}

TEST_F(NetHttp, ServerErrorsUntilTheAttemptsRunOut) {
  TestServer server([](const Received&, int) { return answer(500, "broken"); });
  auto settings = quick_settings();
  settings.retry.retries = 2;
  HttpClient client(settings);
  auto response = client.perform(request("GET", server.url("/manifest.json")));
  EXPECT_FALSE(response.ok());
  EXPECT_EQ(response.status, 500);
  EXPECT_TRUE(response.transient);
  EXPECT_EQ(response.attempts, 3);
  EXPECT_EQ(server.received().size(), 3u);
  EXPECT_NE(response.error.find("HTTP 500"), std::string::npos) << response.error;
  EXPECT_NE(response.error.find("after 3 attempts"), std::string::npos) << response.error;
}

TEST_F(NetHttp, S3SlowDownIsRetriedAndItsCodeReported) {
  const std::string slow_down =
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>SlowDown</Code><Message>Please reduce your request "
      "rate.</Message></Error>";
  const std::string request_timeout = "<Error><Code>RequestTimeout</Code><Message>idle</Message></Error>";
  TestServer server([&](const Received&, int index) {
    if (index == 0) return answer(503, slow_down);
    if (index == 1) return answer(400, request_timeout);  // S3 sends this one as a 400
    return answer(400, "<Error><Code>InvalidArgument</Code><Message>no</Message></Error>");
  });
  std::vector<std::string> log;
  HttpClient client(quick_settings(), {}, [&](std::string_view line) { log.emplace_back(line); });
  auto response = client.perform(request("PUT", server.url("/bucket/key.jpg"), {}, "bytes"));
  EXPECT_EQ(server.received().size(), 3u);
  EXPECT_EQ(response.status, 400);
  EXPECT_FALSE(response.transient);
  EXPECT_NE(response.error.find("InvalidArgument"), std::string::npos) << response.error;
  ASSERT_GE(log.size(), 2u);
  EXPECT_NE(log[0].find("SlowDown: Please reduce your request rate."), std::string::npos) << log[0];
  EXPECT_NE(log[1].find("RequestTimeout"), std::string::npos) << log[1];
}

TEST_F(NetHttp, DroppedConnectionIsRetried) {
  TestServer server([](const Received&, int index) {
    return index == 0 ? drop() : answer(200, "second time");
  });
  HttpClient client(quick_settings());
  auto response = client.perform(request("GET", server.url("/")));
  ASSERT_TRUE(response.ok()) << response.error;
  EXPECT_EQ(response.body, "second time");
  EXPECT_EQ(response.attempts, 2);
  EXPECT_EQ(server.received().size(), 2u);
}

TEST_F(NetHttp, ConnectionRefusedIsTransient) {
  auto settings = quick_settings();
  settings.retry.retries = 1;
  HttpClient client(settings);
  auto response = client.perform(request("GET", "http://127.0.0.1:" + std::to_string(closed_port()) + "/"));
  EXPECT_FALSE(response.ok());
  EXPECT_EQ(response.status, 0);
  EXPECT_TRUE(response.transient);
  EXPECT_EQ(response.attempts, 2);
}

TEST_F(NetHttp, StalledBodyIsAbortedByTheLowSpeedLimit) {
  TestServer server([](const Received&, int) { return stall(); });
  auto settings = quick_settings();
  settings.retry.retries = 0;
  settings.low_speed_bytes = 1000;
  settings.low_speed_time = 1s;
  HttpClient client(settings);
  auto start = std::chrono::steady_clock::now();
  auto response = client.perform(request("GET", server.url("/big.jpg")));
  auto took = std::chrono::steady_clock::now() - start;
  EXPECT_FALSE(response.ok());
  EXPECT_TRUE(response.transient);
  EXPECT_NE(response.error.find("too slow"), std::string::npos) << response.error;
  EXPECT_LT(took, 10s);
}

TEST_F(NetHttp, EachAttemptHasATimeCap) {
  TestServer server([](const Received&, int) { return stall(); });
  auto settings = quick_settings();
  settings.retry.retries = 0;
  settings.low_speed_bytes = 0;  // only the cap applies
  HttpClient client(settings);
  auto slow = request("GET", server.url("/big.jpg"));
  slow.timeout = 800ms;
  auto start = std::chrono::steady_clock::now();
  auto response = client.perform(slow);
  auto took = std::chrono::steady_clock::now() - start;
  EXPECT_FALSE(response.ok());
  EXPECT_NE(response.error.find("Timeout"), std::string::npos) << response.error;
  EXPECT_GE(took, 700ms);
  EXPECT_LT(took, 10s);
}

TEST_F(NetHttp, NotFoundIsNotRetried) {
  TestServer server([](const Received&, int) { return answer(404, "no such photo"); });
  HttpClient client(quick_settings());
  auto response = client.perform(request("GET", server.url("/missing.jpg")));
  EXPECT_EQ(response.status, 404);
  EXPECT_FALSE(response.ok());
  EXPECT_FALSE(response.transient);
  EXPECT_EQ(response.attempts, 1);
  EXPECT_EQ(server.received().size(), 1u);
  EXPECT_NE(response.error.find("HTTP 404"), std::string::npos);
}

TEST_F(NetHttp, RequestsThatMustNotRepeatAreNotRetried) {
  TestServer server([](const Received&, int) { return answer(503, ""); });
  HttpClient client(quick_settings());
  auto charge = request("POST", server.url("/charge"), {}, "{}");
  charge.retryable = false;
  auto response = client.perform(charge);
  EXPECT_EQ(response.status, 503);
  EXPECT_TRUE(response.transient);
  EXPECT_EQ(server.received().size(), 1u);
}

TEST_F(NetHttp, CircuitOpensGoesHalfOpenAndCloses) {
  std::atomic<bool> healthy{false};
  TestServer server([&](const Received&, int) {
    return healthy ? answer(200) : answer(503, "");
  });
  auto settings = quick_settings();
  settings.retry.retries = 0;
  settings.breaker.failure_threshold = 2;
  settings.breaker.open_for = 30s;
  std::atomic<std::int64_t> fake_ms{0};
  wsp::net::HttpEnvironment environment;
  environment.clock = [&] { return std::chrono::steady_clock::time_point(std::chrono::milliseconds(fake_ms.load())); };
  HttpClient client(settings, environment);
  auto state = [&] {
    auto breakers = client.breakers();
    EXPECT_EQ(breakers.size(), 1u);
    return breakers.empty() ? BreakerState::closed : breakers[0].state;
  };
  auto url = server.url("/");

  EXPECT_EQ(client.perform(request("GET", url)).status, 503);
  EXPECT_EQ(state(), BreakerState::closed);
  EXPECT_EQ(client.perform(request("GET", url)).status, 503);
  EXPECT_EQ(state(), BreakerState::open);
  EXPECT_EQ(client.breakers()[0].host, "127.0.0.1:" + url.substr(url.rfind(':') + 1, url.size() - url.rfind(':') - 2));

  // Open: nothing reaches the server.
  auto refused = client.perform(request("GET", url));
  EXPECT_EQ(refused.status, 0);
  EXPECT_NE(refused.error.find("circuit open"), std::string::npos) << refused.error;
  EXPECT_EQ(server.received().size(), 2u);

  // Half-open after the wait: one probe, which fails and opens the circuit again.
  fake_ms += 30'000;
  EXPECT_EQ(state(), BreakerState::half_open);
  EXPECT_EQ(client.perform(request("GET", url)).status, 503);
  EXPECT_EQ(server.received().size(), 3u);
  EXPECT_EQ(state(), BreakerState::open);
  EXPECT_EQ(client.perform(request("GET", url)).status, 0);
  EXPECT_EQ(server.received().size(), 3u);

  // The next probe succeeds and closes it.
  fake_ms += 30'000;
  healthy = true;
  EXPECT_TRUE(client.perform(request("GET", url)).ok());
  EXPECT_EQ(state(), BreakerState::closed);
  EXPECT_TRUE(client.perform(request("GET", url)).ok());
  EXPECT_EQ(server.received().size(), 5u);
}

TEST_F(NetHttp, RetryBudgetBoundsTheRun) {
  TestServer server([](const Received&, int) { return answer(500, ""); });
  auto settings = quick_settings();
  settings.retry.retries = 3;
  settings.retry.min_budget = 2;
  settings.retry.budget_ratio = 0;
  HttpClient client(settings);
  auto first = client.perform(request("GET", server.url("/a")));
  EXPECT_EQ(first.attempts, 3);
  EXPECT_NE(first.error.find("retry budget is spent"), std::string::npos) << first.error;
  auto second = client.perform(request("GET", server.url("/b")));
  EXPECT_EQ(second.attempts, 1);
  EXPECT_EQ(server.received().size(), 4u);
  EXPECT_EQ(client.retries_spent(), 2);
}

TEST_F(NetHttp, SecretsNeverAppearInErrorsOrLogs) {
  const std::vector<std::string> secrets{"AUTHSECRET456", "QUERYSECRET123", "FASTLYSECRET789", "deadbeefcafe1234",
                                         "SESSIONTOKEN99"};
  // A server that echoes everything it was sent back in its error.
  TestServer server([](const Received& received, int) {
    std::string echo = "<Error><Code>InternalError</Code><Message>";
    for (const auto& h : received.headers) echo += h.name + ": " + h.value + "; ";
    for (const auto& q : received.query) echo += q.name + "=" + q.value + "&";
    echo += "</Message></Error>";
    return answer(500, echo);
  });
  std::vector<std::string> log;
  auto settings = quick_settings();
  settings.retry.retries = 1;
  HttpClient client(settings, {}, [&](std::string_view line) { log.emplace_back(line); });
  std::string query =
      "/purge?api_key=QUERYSECRET123&X-Amz-Signature=deadbeefcafe1234&X-Amz-Security-Token=SESSIONTOKEN99&page=2";
  wsp::net::Headers headers{{"Authorization", "Bearer AUTHSECRET456"}, {"Fastly-Key", "FASTLYSECRET789"}};

  auto echoed = client.perform(request("POST", server.url(query), headers, "{}"));
  auto refused = client.perform(request("POST", "http://127.0.0.1:" + std::to_string(closed_port()) + query, headers, "{}"));

  // The secrets did go out: the test would prove nothing otherwise.
  auto received = server.received();
  ASSERT_FALSE(received.empty());
  EXPECT_EQ(received[0].header("Authorization"), "Bearer AUTHSECRET456");
  EXPECT_NE(echoed.body.find("FASTLYSECRET789"), std::string::npos);

  std::vector<std::string> texts = log;
  texts.push_back(echoed.error);
  texts.push_back(refused.error);
  for (const auto& text : texts) {
    ASSERT_FALSE(text.empty());
    for (const auto& secret : secrets) EXPECT_EQ(text.find(secret), std::string::npos) << secret << " in: " << text;
  }
  EXPECT_NE(echoed.error.find("InternalError"), std::string::npos) << echoed.error;
  EXPECT_NE(echoed.error.find("page=2"), std::string::npos) << echoed.error;
  EXPECT_NE(refused.error.find("[REDACTED]"), std::string::npos) << refused.error;
}

std::string slurp(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

TEST_F(NetHttp, TlsIsVerifiedAndAPrivateCaCanBeNamed) {
  wsp::testing::TempDir folder;
  auto key = folder.path() / "key.pem", cert = folder.path() / "cert.pem";
  std::string command = "openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=127.0.0.1 -addext "
                        "subjectAltName=IP:127.0.0.1 -keyout '" + key.string() + "' -out '" + cert.string() +
                        "' 2>/dev/null";
  ASSERT_EQ(std::system(command.c_str()), 0) << command;
  TestServer server([](const Received&, int) { return answer(200, "private studio store"); }, slurp(key),
                    slurp(cert));
  HttpClient client(quick_settings());

  // A certificate no trusted CA signed: refused, and not worth another attempt.
  auto unverified = client.perform(request("GET", server.url("/")));
  EXPECT_FALSE(unverified.ok());
  EXPECT_FALSE(unverified.transient) << unverified.error;
  EXPECT_EQ(unverified.attempts, 1);
  EXPECT_TRUE(server.received().empty());
  EXPECT_NE(unverified.error.find("certificate"), std::string::npos) << unverified.error;

  auto with_ca = request("GET", server.url("/"));
  with_ca.ca_file = cert.string();
  auto verified = client.perform(with_ca);
  ASSERT_TRUE(verified.ok()) << verified.error;
  EXPECT_EQ(verified.body, "private studio store");

  // The name must still match: the CA file adds trust, it does not turn checks off.
  auto wrong_name = request("GET", "https://localhost:" + server.url("/").substr(server.url("/").rfind(':') + 1));
  wrong_name.ca_file = cert.string();
  auto mismatch = client.perform(wrong_name);
  EXPECT_FALSE(mismatch.ok());
  EXPECT_NE(mismatch.error.find("host name 'localhost'"), std::string::npos) << mismatch.error;
}

TEST_F(NetHttp, AnOversizedAnswerIsAnErrorNotAnAllocation) {
  TestServer server([](const Received&, int) { return answer(200, std::string(100'000, 'x')); });
  auto settings = quick_settings();
  settings.max_response_bytes = 10'000;
  HttpClient client(settings);
  auto response = client.perform(request("GET", server.url("/huge")));
  EXPECT_FALSE(response.ok());
  EXPECT_FALSE(response.transient);
  EXPECT_EQ(response.attempts, 1);
  EXPECT_NE(response.error.find("larger than 10000 bytes"), std::string::npos) << response.error;
  EXPECT_LE(response.body.size(), 10'000u);
}

TEST_F(NetHttp, ShuttingDownAnswersWhatIsStillInFlight) {
  TestServer server([](const Received&, int) { return stall(); });
  auto client = std::make_unique<HttpClient>(quick_settings());
  auto pending = client->send(request("GET", server.url("/slow.jpg")));
  auto deadline = std::chrono::steady_clock::now() + 10s;
  while (server.received().empty() && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(5ms);
  ASSERT_EQ(server.received().size(), 1u);
  client.reset();
  ASSERT_EQ(pending.wait_for(10s), std::future_status::ready);
  auto response = pending.get();
  EXPECT_FALSE(response.ok());
  EXPECT_NE(response.error.find("shut down"), std::string::npos) << response.error;
}

TEST_F(NetHttp, ProxiesComeFromTheEnvironment) {
  TestServer proxy([](const Received&, int) { return answer(200, "via the studio's proxy"); });
  const char* saved = std::getenv("http_proxy");
  std::string previous = saved ? saved : "";
  ::setenv("http_proxy", proxy.url("").c_str(), 1);
  HttpClient client(quick_settings());
  // The name is never resolved here: the proxy is asked for it.
  auto response = client.perform(request("GET", "http://photos.example.invalid/gallery/index.html"));
  if (saved)
    ::setenv("http_proxy", previous.c_str(), 1);
  else
    ::unsetenv("http_proxy");
  ASSERT_TRUE(response.ok()) << response.error;
  EXPECT_EQ(response.body, "via the studio's proxy");
  auto received = proxy.received();
  ASSERT_EQ(received.size(), 1u);
  EXPECT_EQ(received[0].header("Host"), "photos.example.invalid");
}

// A node HTTP/2 server (TLS, HTTP/1.1 allowed too) that answers with the
// version it spoke and the number of connections it has had.
class NodeHttp2Server {
public:
  NodeHttp2Server(const std::filesystem::path& key, const std::filesystem::path& cert) {
    std::string script =
        "const http2 = require('node:http2'), fs = require('node:fs'); let sessions = 0;"
        "const server = http2.createSecureServer({key: fs.readFileSync(" + nlohmann::json(key.string()).dump() +
        "), cert: fs.readFileSync(" + nlohmann::json(cert.string()).dump() + "), allowHTTP1: true},"
        " (request, response) => setTimeout(() => response.end(request.httpVersion + ' ' + sessions), 100));"
        "server.on('connection', () => sessions++);"
        "server.listen(0, '127.0.0.1', () => console.log('listening on ' + server.address().port));";
    int fds[2];
    if (::pipe(fds) != 0) throw std::runtime_error("pipe failed");
    m_pid = ::fork();
    if (m_pid == 0) {
      ::dup2(fds[1], 1);
      ::close(fds[0]);
      ::execlp("node", "node", "-e", script.c_str(), static_cast<char*>(nullptr));
      ::_exit(127);
    }
    ::close(fds[1]);
    std::string said;
    auto deadline = std::chrono::steady_clock::now() + 20s;
    while (said.find('\n') == std::string::npos && std::chrono::steady_clock::now() < deadline) {
      pollfd waiting{fds[0], POLLIN, 0};
      if (::poll(&waiting, 1, 500) <= 0) continue;
      char buffer[128];
      auto got = ::read(fds[0], buffer, sizeof buffer);
      if (got <= 0) break;
      said.append(buffer, static_cast<std::size_t>(got));
    }
    ::close(fds[0]);
    auto at = said.find("listening on ");
    if (at != std::string::npos) m_port = std::atoi(said.c_str() + at + 13);
  }
  ~NodeHttp2Server() {
    ::kill(m_pid, SIGTERM);
    ::waitpid(m_pid, nullptr, 0);
  }
  int port() const { return m_port; }

private:
  pid_t m_pid = -1;
  int m_port = 0;
};

TEST_F(NetHttp, Http2IsUsedWhereTlsOffersIt) {
  if (std::system("node --version >/dev/null 2>&1") != 0) GTEST_SKIP() << "node is not installed";
  wsp::testing::TempDir folder;
  auto key = folder.path() / "key.pem", cert = folder.path() / "cert.pem";
  std::string command = "openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=127.0.0.1 -addext "
                        "subjectAltName=IP:127.0.0.1 -keyout '" + key.string() + "' -out '" + cert.string() +
                        "' 2>/dev/null";
  ASSERT_EQ(std::system(command.c_str()), 0) << command;
  NodeHttp2Server server(key, cert);
  ASSERT_NE(server.port(), 0) << "the node HTTP/2 server did not start";

  auto settings = quick_settings();
  settings.ca_file = cert.string();
  HttpClient client(settings);
  std::vector<std::future<HttpResponse>> answers;
  for (int i = 0; i < 6; ++i)
    answers.push_back(client.send(request("GET", "https://127.0.0.1:" + std::to_string(server.port()) + "/" + std::to_string(i))));
  for (auto& answer : answers) {
    auto response = answer.get();
    ASSERT_TRUE(response.ok()) << response.error;
    EXPECT_EQ(response.http_version, 2);
    // All six over one connection, multiplexed.
    EXPECT_EQ(response.body, "2.0 1");
  }
}

TEST_F(NetHttp, CallbacksLetOneThreadKeepManyRequestsGoing) {
  TestServer server([](const Received& received, int) { return answer(200, received.path); });
  HttpClient client(quick_settings());
  constexpr int k_requests = 50;
  std::mutex mutex;
  std::condition_variable all_done;
  std::vector<std::string> bodies;
  for (int i = 0; i < k_requests; ++i)
    client.send(request("GET", server.url("/r" + std::to_string(i))), [&](HttpResponse response) {
      std::lock_guard lock(mutex);
      bodies.push_back(response.body);
      all_done.notify_one();
    });
  std::unique_lock lock(mutex);
  ASSERT_TRUE(all_done.wait_for(lock, 30s, [&] { return bodies.size() == k_requests; }));
  std::sort(bodies.begin(), bodies.end());
  EXPECT_EQ(std::unique(bodies.begin(), bodies.end()) - bodies.begin(), k_requests);
}

}  // namespace
