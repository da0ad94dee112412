#include "tagging/google_vision.hpp"

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <future>
#include <mutex>
#include <thread>

#include <fmt/format.h>
#include <openssl/evp.h>

#include "net/rate_limit.hpp"
#include "tagging/openai.hpp"
#include "util/hash.hpp"
#include "util/text.hpp"

namespace wsp::tagging {
namespace {

using nlohmann::json;

constexpr double k_keyword_score = 0.7;  // labels less sure than this are not said

std::string base64(std::string_view bytes) {
  std::string encoded(4 * ((bytes.size() + 2) / 3), '\0');
  int written = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(encoded.data()),
                                reinterpret_cast<const unsigned char*>(bytes.data()), static_cast<int>(bytes.size()));
  encoded.resize(static_cast<std::size_t>(std::max(written, 0)));
  return encoded;
}

Answer answer_for(const json& one, const config::Config& config) {
  if (!one.is_object()) return Answer::failed("the answer for this photo is not an object", true);
  if (one.contains("error") && one["error"].is_object()) {
    const auto& error = one["error"];
    const int code = error.value("code", 0);
    std::string message = error.value("message", std::string());
    if (message.size() > 200) message = message.substr(0, 200) + "...";
    // 3 is INVALID_ARGUMENT: this image, asked again, would fail again.
    return Answer::failed(fmt::format("error {}: {}", code, message), code != 3);
  }
  Observation seen;
  std::optional<SceneGuess> best;
  if (one.contains("labelAnnotations") && one["labelAnnotations"].is_array())
    for (const auto& label : one["labelAnnotations"]) {
      if (!label.is_object() || !label.contains("description") || !label["description"].is_string()) continue;
      const std::string text = util::ascii_lower(label["description"].get<std::string>());
      const double score = label.value("score", 0.0);
      if (score >= k_keyword_score && std::find(seen.labels.begin(), seen.labels.end(), text) == seen.labels.end())
        seen.labels.push_back(text);
      for (const auto& rule : config.tagging.google_vision.labels)
        if (util::ascii_lower(rule.label) == text && (!best || score > best->confidence)) best = SceneGuess{rule.scene, score};
    }
  if (best) seen.scenes.push_back(*best);
  if (one.contains("faceAnnotations") && one["faceAnnotations"].is_array())
    seen.people = static_cast<int>(one["faceAnnotations"].size());
  else
    seen.people = 0;
  Answer answer;
  answer.observation = std::move(seen);
  return answer;
}

class GoogleVisionProvider final : public Provider {
public:
  GoogleVisionProvider(const config::Config& config, std::optional<std::string> key, net::HttpSettings http)
      : m_config(config),
        m_key(std::move(key)),
        m_gather(std::max(0, config.tagging.google_vision.batch_wait_ms)),
        m_limiter({.concurrency = std::max(1, config.tagging.google_vision.concurrency),
                   .requests_per_minute = config.tagging.google_vision.requests_per_minute}) {
    std::string table;
    for (const auto& rule : config.tagging.google_vision.labels) table += rule.label + "=" + rule.scene + ";";
    m_model = "vision-1#" + util::sha256_hex(table + json(vision_request_body({})).dump()).substr(0, 12);
    m_client = std::make_unique<net::HttpClient>(std::move(http));
    m_gatherer = std::thread([this] { gather(); });
  }
  ~GoogleVisionProvider() override {
    // What waits for the limiter is answered first, so that nothing is sent on a client being stopped.
    m_limiter.stop();
    {
      std::lock_guard lock(m_mutex);
      m_stopping = true;
    }
    m_changed.notify_all();
    m_gatherer.join();
    m_client.reset();  // answers what is still in flight
  }

  std::string name() const override { return "google_vision"; }
  std::string model() const override { return m_model; }
  bool remote() const override { return true; }

  Answer ask(const Pixels& analysis) override { return wait_for_answer(analysis); }

  // Queues the photo for the next batch; its JPEG is made when the batch goes.
  void ask_async(const Pixels& analysis, std::function<void(Answer)> done) override {
    {
      std::lock_guard lock(m_mutex);
      if (m_waiting.empty()) m_first_waiting = std::chrono::steady_clock::now();
      m_waiting.push_back({analysis, std::move(done)});
    }
    m_changed.notify_all();
  }

private:
  struct Photo {
    Pixels pixels;
    std::function<void(Answer)> done;
  };

  // Sends the waiting photos 16 at a time, a partial batch once it has
  // waited batch_wait_ms, each request when the limiter lets it go (concurrency,
  // requests per minute, a 429's Retry-After); photos arriving meanwhile make
  // the next batch.
  void gather() {
    std::unique_lock lock(m_mutex);
    while (true) {
      m_changed.wait(lock, [&] { return m_stopping || !m_waiting.empty(); });
      if (m_waiting.empty() && m_stopping) return;
      m_changed.wait_until(lock, m_first_waiting + m_gather,
                           [&] { return m_stopping || m_waiting.size() >= k_vision_batch; });
      std::vector<Photo> batch;
      while (!m_waiting.empty() && batch.size() < k_vision_batch) {
        batch.push_back(std::move(m_waiting.front()));
        m_waiting.pop_front();
      }
      lock.unlock();
      send(std::move(batch));
      lock.lock();
      m_first_waiting = std::chrono::steady_clock::now();
    }
  }

  // Encodes the batch, then waits (on the gatherer's thread) for the limiter.
  void send(std::vector<Photo> batch) {
    std::vector<std::string> jpegs;
    std::vector<Photo> sendable;
    for (auto& photo : batch) {
      auto jpeg = plain_jpeg(photo.pixels, m_config.render.analysis_size);
      if (!jpeg.ok()) {
        photo.done(Answer::failed(fmt::format("analysis image: {}", jpeg.message()), false));
        continue;
      }
      jpegs.push_back(std::move(*jpeg));
      photo.pixels = {};
      sendable.push_back(std::move(photo));
    }
    batch = std::move(sendable);
    if (batch.empty()) return;
    std::promise<std::string> permit;
    auto granted = permit.get_future();
    m_limiter.when_allowed(0, [&permit](std::string refused) { permit.set_value(std::move(refused)); });
    if (auto refused = granted.get(); !refused.empty()) {
      for (auto& photo : batch) photo.done(Answer::failed(refused, true));
      return;
    }
    net::HttpRequest request;
    request.method = "POST";
    std::string base = m_config.tagging.google_vision.base_url;
    while (!base.empty() && base.back() == '/') base.pop_back();
    request.url = base + "/images:annotate";
    if (m_key && !m_key->empty()) request.url += "?key=" + *m_key;
    request.headers.push_back({"Content-Type", "application/json"});
    request.body = vision_request_body(jpegs).dump();
    request.timeout = std::chrono::seconds(m_config.tagging.google_vision.timeout_seconds);
    auto shared = std::make_shared<std::vector<Photo>>(std::move(batch));
    m_client->send(std::move(request), [this, shared](net::HttpResponse response) {
      auto answers = read_vision_answers(response, shared->size(), m_config);
      m_limiter.finished(response, 0, std::nullopt);
      for (std::size_t i = 0; i < shared->size(); ++i) (*shared)[i].done(std::move(answers[i]));
    });
  }

  const config::Config m_config;
  std::optional<std::string> m_key;
  std::chrono::milliseconds m_gather;  // how long a partial batch waits for company
  std::string m_model;
  std::mutex m_mutex;
  std::condition_variable m_changed;
  std::deque<Photo> m_waiting;
  std::chrono::steady_clock::time_point m_first_waiting;
  bool m_stopping = false;
  net::RateLimiter m_limiter;
  std::unique_ptr<net::HttpClient> m_client;
  std::thread m_gatherer;
};

}  // namespace

json vision_request_body(const std::vector<std::string>& jpegs) {
  json requests = json::array();
  for (const auto& jpeg : jpegs)
    requests.push_back({{"image", {{"content", base64(jpeg)}}},
                        {"features",
                         {{{"type", "LABEL_DETECTION"}, {"maxResults", 20}},
                          {{"type", "FACE_DETECTION"}, {"maxResults", 50}},
                          {{"type", "IMAGE_PROPERTIES"}}}}});
  return {{"requests", requests}};
}

std::vector<Answer> read_vision_answers(const net::HttpResponse& response, std::size_t count,
                                        const config::Config& config) {
  auto all = [&](Answer answer) { return std::vector<Answer>(count, answer); };
  if (response.status == 0) return all(Answer::failed(response.error.empty() ? "no answer" : response.error, true));
  if (!response.ok()) {
    const bool refused = response.status == 400 || response.status == 413;
    return all(Answer::failed(fmt::format("HTTP {}", response.status), !refused));
  }
  auto body = json::parse(response.body, nullptr, false);
  if (body.is_discarded() || !body.is_object() || !body.contains("responses") || !body["responses"].is_array() ||
      body["responses"].size() != count)
    return all(Answer::failed("the server's answer is not an images:annotate response for this batch", true));
  std::vector<Answer> answers;
  for (const auto& one : body["responses"]) {
    auto answer = answer_for(one, config);
    // One request for the batch, each photo billed.
    answer.calls = answers.empty() ? 1 : 0;
    answer.usage.images = 1;
    answers.push_back(std::move(answer));
  }
  return answers;
}

std::unique_ptr<Provider> make_google_vision_provider(const config::Config& config, std::optional<std::string> key,
                                                      net::HttpSettings http) {
  return std::make_unique<GoogleVisionProvider>(config, std::move(key), std::move(http));
}

std::unique_ptr<Provider> make_google_vision_provider(const config::Config& config) {
  net::HttpSettings http;
  http.retry.retries = config.pipeline.retries;
  http.connect_timeout = std::chrono::seconds(config.network.connect_timeout_seconds);
  http.low_speed_bytes = config.network.stall_bytes_per_second;
  http.low_speed_time = std::chrono::seconds(config.network.stall_seconds);
  return make_google_vision_provider(
      config, config::resolve_secret(config.tagging.google_vision.api_key, config.project_dir), std::move(http));
}

}  // namespace wsp::tagging
