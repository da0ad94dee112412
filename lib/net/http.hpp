#pragma once
// The one HTTP client every remote feature uses (S3 uploads, CDN purges,
// webhooks, vision providers): libcurl's multi interface driven by one thread,
// so that many transfers are in flight at once without holding a CPU thread
// each; connections are reused per host, HTTP/2 is used where the server
// offers it over TLS, TLS verification is always on, proxies come from the
// usual environment variables (https_proxy, no_proxy...). Transient failures
// are retried (retry.hpp) and each remote host has a circuit breaker. Every
// error and log line it produces has its secrets redacted (redact.hpp).

#include "net/body.hpp"
#include "net/header.hpp"
#include "net/retry.hpp"

#include <chrono>
#include <cstdint>
#include <functional>
#include <future>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace wsp::net {

struct HttpRequest {
  std::string method = "GET";
  std::string url;  // sent as written: the caller encodes the path (sigv4.hpp's encode_path)
  Headers headers;
  std::string body;
  // Sent instead of `body` when set: read as libcurl sends it (large uploads).
  std::shared_ptr<const BodySource> body_source;
  // A private CA for this target (PEM file), used instead of the system's; verification stays on.
  std::string ca_file;
  // Whether a transient failure may be retried: false for a call that must not happen twice.
  bool retryable = true;
  // Overrides HttpSettings::request_timeout for this request; zero keeps it.
  std::chrono::milliseconds timeout{0};
};

struct HttpResponse {
  int status = 0;  // 0 when no response arrived
  Headers headers;
  std::string body;
  // Why the request failed, redacted, with its method and URL: empty on a 2xx.
  std::string error;
  bool transient = false;  // whether the final failure was a transient one
  int attempts = 0;
  int http_version = 0;  // 1 or 2, as the last attempt spoke

  bool ok() const { return status >= 200 && status < 300 && error.empty(); }
  // The first header of that name (case-insensitive).
  std::optional<std::string> header(std::string_view name) const;
};

struct HttpSettings {
  std::chrono::milliseconds connect_timeout{10'000};
  // A transfer slower than low_speed_bytes per second for low_speed_time is stalled, and aborted.
  long low_speed_bytes = 1024;
  std::chrono::seconds low_speed_time{30};
  std::chrono::milliseconds request_timeout{300'000};  // cap on one attempt, start to end
  long max_connections_per_host = 8;
  long max_connections = 64;
  std::size_t max_response_bytes = 64u << 20;  // a larger body is an error, not an allocation
  std::string ca_file;                          // default private CA, for every request
  std::string user_agent = "wsportfolio";
  RetrySettings retry;
  BreakerSettings breaker;
};

// Injectable parts, so that tests can drive time and chance.
struct HttpEnvironment {
  SteadyClock clock = real_steady_clock();        // circuit breakers
  SystemClock wall_clock = real_system_clock();   // Retry-After dates
  RandomSource random = real_random_source();     // backoff jitter
};

using LogSink = std::function<void(std::string_view line)>;

class HttpClient {
public:
  explicit HttpClient(HttpSettings settings = {}, HttpEnvironment environment = {}, LogSink log = {});
  // Stops the transfer thread; transfers still in flight complete with an error.
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // Starts a request; `done` runs on the client's thread once it has its final
  // answer (after retries), so it must be short and must not wait on the client.
  void send(HttpRequest request, std::function<void(HttpResponse)> done);
  std::future<HttpResponse> send(HttpRequest request);
  // Sends and waits.
  HttpResponse perform(HttpRequest request);

  // The circuit of every host this client has talked to, for `status`.
  std::vector<BreakerSnapshot> breakers() const;
  int retries_spent() const;

private:
  struct Engine;
  std::unique_ptr<Engine> m_engine;
};

// The host (and port, when given) of a URL: what a circuit breaker is kept for.
std::string url_host(std::string_view url);

}  // namespace wsp::net
