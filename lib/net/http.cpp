#include "net/http.hpp"

#include "net/redact.hpp"
#include "util/text.hpp"

#include <curl/curl.h>
#include <fmt/format.h>

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <thread>

namespace wsp::net {

namespace {

// Failures of the connection itself that another attempt may not meet.
bool is_transient_curl(CURLcode code) {
  switch (code) {
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_CONNECT:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_GOT_NOTHING:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_PARTIAL_FILE:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_WEIRD_SERVER_REPLY:
      return true;
    default:
      return false;
  }
}

void init_curl_once() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

}  // namespace

std::optional<std::string> HttpResponse::header(std::string_view name) const {
  auto wanted = util::ascii_lower(name);
  for (const auto& h : headers)
    if (util::ascii_lower(h.name) == wanted) return h.value;
  return std::nullopt;
}

std::string url_host(std::string_view url) {
  auto scheme_end = url.find("://");
  auto start = scheme_end == std::string_view::npos ? 0 : scheme_end + 3;
  auto end = url.find_first_of("/?#", start);
  auto authority = url.substr(start, end == std::string_view::npos ? url.npos : end - start);
  if (auto at = authority.rfind('@'); at != std::string_view::npos) authority.remove_prefix(at + 1);
  return util::ascii_lower(authority);
}

// One request from send() to its final answer, across its attempts.
struct Transfer {
  HttpRequest request;
  std::function<void(HttpResponse)> done;
  std::string host;
  Redactor redactor;
  int attempts = 0;

  // The attempt in flight.
  CURL* easy = nullptr;
  curl_slist* header_list = nullptr;
  HttpResponse response;
  char error_buffer[CURL_ERROR_SIZE] = {};
  bool too_large = false;
  std::size_t max_body = 0;
  std::int64_t body_sent = 0;  // of request.body_source, this attempt
  std::string read_error;

  ~Transfer() { release_attempt(); }
  void release_attempt() {
    if (easy) curl_easy_cleanup(easy);
    if (header_list) curl_slist_free_all(header_list);
    easy = nullptr;
    header_list = nullptr;
  }
  std::string describe() const { return request.method + " " + redact_url(request.url); }
};

struct HttpClient::Engine {
  HttpSettings settings;
  HttpEnvironment environment;
  LogSink log;
  Backoff backoff;
  RetryBudget budget;
  CircuitBreakers breakers;
  CURLM* multi = nullptr;

  std::mutex mutex;
  std::deque<std::unique_ptr<Transfer>> incoming;
  bool stopping = false;

  // Touched only by the transfer thread.
  std::map<CURL*, std::unique_ptr<Transfer>> running;
  std::multimap<std::chrono::steady_clock::time_point, std::unique_ptr<Transfer>> waiting;

  std::thread thread;

  Engine(HttpSettings settings_, HttpEnvironment environment_, LogSink log_)
      : settings(std::move(settings_)),
        environment(std::move(environment_)),
        log(std::move(log_)),
        backoff(settings.retry, environment.random),
        budget(settings.retry),
        breakers(settings.breaker, environment.clock) {
    init_curl_once();
    multi = curl_multi_init();
    if (!multi) throw std::runtime_error("libcurl could not start a multi handle");
    curl_multi_setopt(multi, CURLMOPT_MAX_HOST_CONNECTIONS, settings.max_connections_per_host);
    curl_multi_setopt(multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, settings.max_connections);
    curl_multi_setopt(multi, CURLMOPT_PIPELINING, CURLPIPE_MULTIPLEX);
    thread = std::thread([this] { loop(); });
  }

  ~Engine() {
    {
      std::lock_guard lock(mutex);
      stopping = true;
    }
    curl_multi_wakeup(multi);
    thread.join();
    curl_multi_cleanup(multi);
  }

  void submit(std::unique_ptr<Transfer> transfer) {
    {
      std::lock_guard lock(mutex);
      if (!stopping) {
        incoming.push_back(std::move(transfer));
        transfer = nullptr;
      }
    }
    if (transfer) {
      HttpResponse response;
      response.error = transfer->redactor(transfer->describe() + ": the HTTP client is shutting down");
      transfer->done(std::move(response));
      return;
    }
    curl_multi_wakeup(multi);
  }

  void loop() {
    for (;;) {
      std::deque<std::unique_ptr<Transfer>> arrived;
      {
        std::lock_guard lock(mutex);
        if (stopping) break;
        arrived.swap(incoming);
      }
      for (auto& transfer : arrived) start(std::move(transfer));
      auto now = std::chrono::steady_clock::now();
      while (!waiting.empty() && waiting.begin()->first <= now) {
        auto transfer = std::move(waiting.begin()->second);
        waiting.erase(waiting.begin());
        start(std::move(transfer));
      }

      int still_running = 0;
      curl_multi_perform(multi, &still_running);
      int left = 0;
      while (CURLMsg* message = curl_multi_info_read(multi, &left))
        if (message->msg == CURLMSG_DONE) finish(message->easy_handle, message->data.result);

      int timeout_ms = 1000;
      if (!waiting.empty()) {
        auto until = std::chrono::duration_cast<std::chrono::milliseconds>(waiting.begin()->first -
                                                                           std::chrono::steady_clock::now());
        timeout_ms = static_cast<int>(std::clamp<std::int64_t>(until.count(), 0, timeout_ms));
      }
      curl_multi_poll(multi, nullptr, 0, timeout_ms, nullptr);
    }
    abandon_all();
  }

  void abandon_all() {
    std::vector<std::unique_ptr<Transfer>> left;
    for (auto& [easy, transfer] : running) {
      curl_multi_remove_handle(multi, easy);
      left.push_back(std::move(transfer));
    }
    running.clear();
    for (auto& [due, transfer] : waiting) left.push_back(std::move(transfer));
    waiting.clear();
    {
      std::lock_guard lock(mutex);
      for (auto& transfer : incoming) left.push_back(std::move(transfer));
      incoming.clear();
    }
    for (auto& transfer : left) {
      transfer->release_attempt();
      HttpResponse response;
      response.attempts = transfer->attempts;
      response.transient = true;
      response.error = transfer->redactor(transfer->describe() + ": abandoned, the HTTP client was shut down");
      transfer->done(std::move(response));
    }
  }

  static std::size_t on_body(char* data, std::size_t size, std::size_t count, void* user) {
    auto* transfer = static_cast<Transfer*>(user);
    std::size_t bytes = size * count;
    if (transfer->response.body.size() + bytes > transfer->max_body) {
      transfer->too_large = true;
      return 0;  // aborts the transfer
    }
    transfer->response.body.append(data, bytes);
    return bytes;
  }

  static std::size_t on_read(char* buffer, std::size_t size, std::size_t count, void* user) {
    auto* transfer = static_cast<Transfer*>(user);
    const auto& source = *transfer->request.body_source;
    const auto left = source.size() - transfer->body_sent;
    if (left <= 0) return 0;
    const auto most = static_cast<std::size_t>(std::min<std::int64_t>(left, static_cast<std::int64_t>(size * count)));
    auto got = source.read(buffer, most, transfer->body_sent);
    if (!got) {
      transfer->read_error = got.message();
      return CURL_READFUNC_ABORT;
    }
    transfer->body_sent += static_cast<std::int64_t>(*got);
    return *got;
  }

  static int on_seek(void* user, curl_off_t offset, int origin) {
    auto* transfer = static_cast<Transfer*>(user);
    if (origin != SEEK_SET || offset < 0 || offset > transfer->request.body_source->size()) return CURL_SEEKFUNC_CANTSEEK;
    transfer->body_sent = offset;
    return CURL_SEEKFUNC_OK;
  }

  static std::size_t on_header(char* data, std::size_t size, std::size_t count, void* user) {
    auto* transfer = static_cast<Transfer*>(user);
    std::size_t bytes = size * count;
    std::string_view line(data, bytes);
    while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.remove_suffix(1);
    // A new status line (after a 100 Continue, say) starts a new set of headers.
    if (line.starts_with("HTTP/")) {
      transfer->response.headers.clear();
    } else if (auto colon = line.find(':'); colon != std::string_view::npos) {
      std::string_view value = line.substr(colon + 1);
      while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
      transfer->response.headers.push_back({std::string(line.substr(0, colon)), std::string(value)});
    }
    return bytes;
  }

  void start(std::unique_ptr<Transfer> transfer) {
    if (transfer->attempts == 0) budget.record_first_attempt();
    if (!breakers.allow(transfer->host)) {
      HttpResponse response;
      response.attempts = transfer->attempts;
      response.transient = true;
      response.error = transfer->redactor(
          fmt::format("{}: not sent, {} failed too often lately (circuit open)", transfer->describe(), transfer->host));
      transfer->done(std::move(response));
      return;
    }

    transfer->response = {};
    transfer->too_large = false;
    transfer->body_sent = 0;
    transfer->read_error.clear();
    transfer->error_buffer[0] = '\0';
    transfer->max_body = settings.max_response_bytes;
    CURL* easy = curl_easy_init();
    if (!easy) {
      HttpResponse response;
      response.error = transfer->redactor(transfer->describe() + ": libcurl could not start a transfer");
      transfer->done(std::move(response));
      return;
    }
    transfer->easy = easy;
    const auto& request = transfer->request;
    curl_easy_setopt(easy, CURLOPT_URL, request.url.c_str());
    curl_easy_setopt(easy, CURLOPT_PRIVATE, transfer.get());
    curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https");
    // An S3 key may hold "./" or "../": the path goes out exactly as signed.
    curl_easy_setopt(easy, CURLOPT_PATH_AS_IS, 1L);
    curl_easy_setopt(easy, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(easy, CURLOPT_HTTP_VERSION, CURL_HTTP_VERSION_2TLS);
    // Over TLS, wait to learn whether the first connection multiplexes (HTTP/2)
    // before opening more to the same host.
    if (request.url.starts_with("https://")) curl_easy_setopt(easy, CURLOPT_PIPEWAIT, 1L);
    curl_easy_setopt(easy, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(easy, CURLOPT_SSL_VERIFYHOST, 2L);
    const std::string& ca_file = request.ca_file.empty() ? settings.ca_file : request.ca_file;
    if (!ca_file.empty()) curl_easy_setopt(easy, CURLOPT_CAINFO, ca_file.c_str());
    curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(settings.connect_timeout.count()));
    curl_easy_setopt(easy, CURLOPT_LOW_SPEED_LIMIT, settings.low_speed_bytes);
    curl_easy_setopt(easy, CURLOPT_LOW_SPEED_TIME, static_cast<long>(settings.low_speed_time.count()));
    auto timeout = request.timeout.count() > 0 ? request.timeout : settings.request_timeout;
    curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, static_cast<long>(timeout.count()));
    curl_easy_setopt(easy, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(easy, CURLOPT_USERAGENT, settings.user_agent.c_str());
    curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, transfer->error_buffer);
    curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, &Engine::on_body);
    curl_easy_setopt(easy, CURLOPT_WRITEDATA, transfer.get());
    curl_easy_setopt(easy, CURLOPT_HEADERFUNCTION, &Engine::on_header);
    curl_easy_setopt(easy, CURLOPT_HEADERDATA, transfer.get());

    bool sends_body = !request.body.empty() || request.body_source || request.method == "PUT" || request.method == "POST" ||
                      request.method == "PATCH";
    if (request.method == "HEAD") {
      curl_easy_setopt(easy, CURLOPT_NOBODY, 1L);
    } else if (request.method == "GET" && !sends_body) {
      curl_easy_setopt(easy, CURLOPT_HTTPGET, 1L);
    } else {
      if (request.body_source) {
        curl_easy_setopt(easy, CURLOPT_UPLOAD, 1L);
        curl_easy_setopt(easy, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(request.body_source->size()));
        curl_easy_setopt(easy, CURLOPT_READFUNCTION, &Engine::on_read);
        curl_easy_setopt(easy, CURLOPT_READDATA, transfer.get());
        curl_easy_setopt(easy, CURLOPT_SEEKFUNCTION, &Engine::on_seek);
        curl_easy_setopt(easy, CURLOPT_SEEKDATA, transfer.get());
      } else if (sends_body) {
        curl_easy_setopt(easy, CURLOPT_POSTFIELDS, request.body.data());
        curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(request.body.size()));
      }
      curl_easy_setopt(easy, CURLOPT_CUSTOMREQUEST, request.method.c_str());
    }

    bool has_content_type = false, has_expect = false;
    for (const auto& header : request.headers) {
      auto name = util::ascii_lower(header.name);
      has_content_type = has_content_type || name == "content-type";
      has_expect = has_expect || name == "expect";
      // "Name;" is how libcurl sends a header with an empty value.
      std::string line = header.value.empty() ? header.name + ";" : header.name + ": " + header.value;
      transfer->header_list = curl_slist_append(transfer->header_list, line.c_str());
    }
    // libcurl would otherwise add a form Content-Type to every body, and wait a
    // second for a 100 Continue before large ones.
    if (sends_body && !has_content_type) transfer->header_list = curl_slist_append(transfer->header_list, "Content-Type:");
    if (!has_expect) transfer->header_list = curl_slist_append(transfer->header_list, "Expect:");
    curl_easy_setopt(easy, CURLOPT_HTTPHEADER, transfer->header_list);

    curl_multi_add_handle(multi, easy);
    running.emplace(easy, std::move(transfer));
  }

  void finish(CURL* easy, CURLcode code) {
    auto found = running.find(easy);
    if (found == running.end()) return;
    auto transfer = std::move(found->second);
    running.erase(found);
    curl_multi_remove_handle(multi, easy);
    ++transfer->attempts;

    HttpResponse response = std::move(transfer->response);
    response.attempts = transfer->attempts;
    std::string reason;
    bool transient = false;
    if (code != CURLE_OK) {
      response.status = 0;
      if (transfer->too_large) {
        reason = fmt::format("the answer is larger than {} bytes", settings.max_response_bytes);
      } else if (!transfer->read_error.empty()) {
        reason = "cannot read what it sends: " + transfer->read_error;
      } else {
        transient = is_transient_curl(code);
        reason = curl_easy_strerror(code);
        if (transfer->error_buffer[0]) reason += std::string(" (") + transfer->error_buffer + ")";
      }
    } else {
      long status = 0, version = 0;
      curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
      curl_easy_getinfo(easy, CURLINFO_HTTP_VERSION, &version);
      response.http_version = version == CURL_HTTP_VERSION_2_0 ? 2 : version == CURL_HTTP_VERSION_3 ? 3 : 1;
      response.status = static_cast<int>(status);
      if (status >= 400) {
        reason = fmt::format("HTTP {}", status);
        auto s3_error = parse_s3_error(response.body);
        if (s3_error) reason += " " + s3_error->code + (s3_error->message.empty() ? "" : ": " + s3_error->message);
        transient = is_transient_status(response.status) || (s3_error && is_transient_s3_code(s3_error->code));
      }
    }
    transfer->release_attempt();

    // A host that throttles (429) is alive: its circuit stays closed.
    breakers.record(transfer->host, !(transient && response.status != 429));

    if (reason.empty()) {
      transfer->done(std::move(response));
      return;
    }
    int retries_left = settings.retry.retries - (transfer->attempts - 1);
    if (transient && transfer->request.retryable && retries_left > 0) {
      if (budget.try_spend()) {
        std::optional<std::chrono::milliseconds> retry_after;
        if (auto value = response.header("Retry-After"))
          retry_after = parse_retry_after(*value, environment.wall_clock());
        auto delay = backoff.delay(transfer->attempts - 1, retry_after);
        if (log)
          log(transfer->redactor(fmt::format("{}: {}; trying again in {} ms (attempt {} of {})", transfer->describe(),
                                             reason, delay.count(), transfer->attempts + 1,
                                             settings.retry.retries + 1)));
        waiting.emplace(std::chrono::steady_clock::now() + delay, std::move(transfer));
        return;
      }
      reason += "; not tried again, the run's retry budget is spent";
    }
    if (transfer->attempts > 1) reason += fmt::format(" (after {} attempts)", transfer->attempts);
    response.transient = transient;
    response.error = transfer->redactor(transfer->describe() + ": " + reason);
    if (log) log(response.error);
    transfer->done(std::move(response));
  }
};

HttpClient::HttpClient(HttpSettings settings, HttpEnvironment environment, LogSink log)
    : m_engine(std::make_unique<Engine>(std::move(settings), std::move(environment), std::move(log))) {}

HttpClient::~HttpClient() = default;

void HttpClient::send(HttpRequest request, std::function<void(HttpResponse)> done) {
  auto transfer = std::make_unique<Transfer>();
  transfer->host = url_host(request.url);
  transfer->redactor = Redactor(request.url, request.headers);
  transfer->request = std::move(request);
  transfer->done = std::move(done);
  m_engine->submit(std::move(transfer));
}

std::future<HttpResponse> HttpClient::send(HttpRequest request) {
  auto promise = std::make_shared<std::promise<HttpResponse>>();
  auto future = promise->get_future();
  send(std::move(request), [promise](HttpResponse response) { promise->set_value(std::move(response)); });
  return future;
}

HttpResponse HttpClient::perform(HttpRequest request) { return send(std::move(request)).get(); }

std::vector<BreakerSnapshot> HttpClient::breakers() const { return m_engine->breakers.snapshot(); }

int HttpClient::retries_spent() const { return m_engine->budget.spent(); }

}  // namespace wsp::net
