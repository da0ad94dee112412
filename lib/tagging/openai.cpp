#include "tagging/openai.hpp"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>
#include <openssl/evp.h>
#include <vips/vips8>

#include "imaging/probe.hpp"
#include "net/rate_limit.hpp"
#include "util/hash.hpp"

namespace wsp::tagging {
namespace {

using nlohmann::json;

constexpr std::size_t k_max_keywords = 25;
constexpr std::size_t k_max_text = 500;
constexpr int k_max_answer_tokens = 400;

std::string base64(std::string_view bytes) {
  std::string encoded(4 * ((bytes.size() + 2) / 3), '\0');
  int written = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(encoded.data()),
                                reinterpret_cast<const unsigned char*>(bytes.data()), static_cast<int>(bytes.size()));
  encoded.resize(static_cast<std::size_t>(std::max(written, 0)));
  return encoded;
}

std::string dump(const json& value) { return value.dump(-1, ' ', false, json::error_handler_t::replace); }

// A server's own words about an error, short: they go into the catalog.
std::string server_message(std::string_view body) {
  auto parsed = json::parse(body, nullptr, false);
  std::string message;
  if (parsed.is_object() && parsed.contains("error")) {
    const auto& error = parsed["error"];
    if (error.is_object() && error.contains("message") && error["message"].is_string())
      message = error["message"].get<std::string>();
    else if (error.is_string())
      message = error.get<std::string>();
  }
  if (message.size() > 200) message = message.substr(0, 200) + "...";
  return message;
}

// The model's answer, checked against the schema it was given: strict mode is
// the server's promise, not a guarantee (local servers often ignore it).
util::Result<Observation> observation_from_answer(const json& answer, const config::Config& config) {
  static const std::vector<std::string> k_fields{"scene", "confidence", "alt_text", "keywords", "people", "eyes_closed"};
  if (!answer.is_object()) return util::Error{"the answer is not a JSON object"};
  for (const auto& [key, value] : answer.items())
    if (std::find(k_fields.begin(), k_fields.end(), key) == k_fields.end())
      return util::Error{fmt::format("the answer has a field outside the schema: '{}'", key)};
  for (const auto& field : k_fields)
    if (!answer.contains(field)) return util::Error{fmt::format("the answer lacks '{}'", field)};
  const auto& scene = answer["scene"];
  const auto& scenes = config.tagging.scenes;
  if (!scene.is_string() || std::find(scenes.begin(), scenes.end(), scene.get<std::string>()) == scenes.end())
    return util::Error{fmt::format("the answer's scene {} is not one of tagging.scenes", dump(scene))};
  const auto& confidence = answer["confidence"];
  if (!confidence.is_number() || !std::isfinite(confidence.get<double>()) || confidence.get<double>() < 0 ||
      confidence.get<double>() > 1)
    return util::Error{fmt::format("the answer's confidence {} is not a number from 0 to 1", dump(confidence))};
  const auto& alt = answer["alt_text"];
  if (!alt.is_string() || alt.get<std::string>().size() > k_max_text)
    return util::Error{"the answer's alt_text is not a short string"};
  const auto& keywords = answer["keywords"];
  if (!keywords.is_array() || keywords.size() > k_max_keywords)
    return util::Error{"the answer's keywords are not a short list"};
  const auto& people = answer["people"];
  if (!people.is_number_integer() || people.get<long long>() < 0 || people.get<long long>() > 10'000)
    return util::Error{fmt::format("the answer's people {} is not a count", dump(people))};
  if (!answer["eyes_closed"].is_boolean()) return util::Error{"the answer's eyes_closed is not true or false"};

  Observation seen;
  seen.scenes.push_back({scene.get<std::string>(), confidence.get<double>()});
  for (const auto& keyword : keywords) {
    if (!keyword.is_string() || keyword.get<std::string>().size() > 80)
      return util::Error{"the answer's keywords are not short strings"};
    auto text = keyword.get<std::string>();
    if (!text.empty() && std::find(seen.labels.begin(), seen.labels.end(), text) == seen.labels.end())
      seen.labels.push_back(std::move(text));
  }
  seen.people = static_cast<int>(people.get<long long>());
  seen.eyes_closed = answer["eyes_closed"].get<bool>();
  seen.description = alt.get<std::string>();
  return seen;
}

class OpenAiProvider final : public Provider {
public:
  OpenAiProvider(const config::Config& config, std::optional<std::string> key, net::HttpSettings http)
      : m_config(config),
        m_key(std::move(key)),
        m_rate_tokens(openai_rate_tokens(config)),
        m_limiter({.concurrency = std::max(1, config.tagging.openai.concurrency),
                   .requests_per_minute = config.tagging.openai.requests_per_minute,
                   .tokens_per_minute = config.tagging.openai.tokens_per_minute}),
        m_client(std::make_unique<net::HttpClient>(std::move(http))) {
    m_model = fmt::format("{}#{}", config.tagging.openai.model,
                          util::sha256_hex(openai_prompt(config) + dump(openai_schema(config))).substr(0, 12));
  }

  std::string name() const override { return "openai"; }
  std::string model() const override { return m_model; }
  bool remote() const override { return true; }

  Answer ask(const Pixels& analysis) override { return wait_for_answer(analysis); }

  // Requests wait in the limiter's queue, without a thread each, for a place
  // among tagging.openai.concurrency and for the per-minute limits and the
  // server's own counters to allow them.
  void ask_async(const Pixels& analysis, std::function<void(Answer)> done) override {
    auto jpeg = plain_jpeg(analysis, m_config.render.analysis_size);
    if (!jpeg.ok()) return done(Answer::failed(fmt::format("analysis image: {}", jpeg.message()), false));
    net::HttpRequest request;
    request.method = "POST";
    std::string base = m_config.tagging.openai.base_url;
    while (!base.empty() && base.back() == '/') base.pop_back();
    request.url = base + "/chat/completions";
    request.headers.push_back({"Content-Type", "application/json"});
    if (m_key && !m_key->empty()) request.headers.push_back({"Authorization", "Bearer " + *m_key});
    request.body = dump(openai_request_body(m_config, *jpeg));
    request.timeout = std::chrono::seconds(m_config.tagging.openai.timeout_seconds);
    m_limiter.when_allowed(m_rate_tokens, [this, request = std::move(request),
                                           done = std::move(done)](std::string refused) mutable {
      if (!refused.empty()) return done(Answer::failed(std::move(refused), true));
      m_client->send(std::move(request), [this, done = std::move(done)](net::HttpResponse response) {
        auto answer = read_openai_answer(response, m_config);
        const auto used = answer.usage.input_tokens + answer.usage.output_tokens;
        m_limiter.finished(response, m_rate_tokens, used > 0 ? std::optional(used) : std::nullopt);
        done(std::move(answer));
      });
    });
  }

  ~OpenAiProvider() override {
    // What waits is answered first, so that nothing is sent on a client being stopped.
    m_limiter.stop();
  }

private:
  const config::Config m_config;  // a copy: the provider may outlive the caller's
  std::optional<std::string> m_key;
  std::string m_model;
  const std::int64_t m_rate_tokens;
  net::RateLimiter m_limiter;
  // Last, so that it stops (answering what is in flight) while the rest still exists.
  std::unique_ptr<net::HttpClient> m_client;
};

}  // namespace

util::Result<std::string> plain_jpeg(const Pixels& pixels, int max_side) {
  if (pixels.width <= 0 || pixels.height <= 0 ||
      pixels.rgb.size() != static_cast<std::size_t>(pixels.width) * pixels.height * 3)
    return util::Error{"no pixels"};
  imaging::start_imaging();
  try {
    auto image = vips::VImage::new_from_memory(const_cast<std::uint8_t*>(pixels.rgb.data()), pixels.rgb.size(),
                                               pixels.width, pixels.height, 3, VIPS_FORMAT_UCHAR);
    image = image.copy(vips::VImage::option()->set("interpretation", VIPS_INTERPRETATION_sRGB));
    const int longest = std::max(pixels.width, pixels.height);
    if (longest > max_side) image = image.resize(double(max_side) / longest);
    void* buffer = nullptr;
    std::size_t length = 0;
    image.write_to_buffer(".jpg", &buffer, &length,
                          vips::VImage::option()->set("Q", 85)->set("strip", true)->set("interlace", false));
    std::string bytes(static_cast<const char*>(buffer), length);
    g_free(buffer);
    return bytes;
  } catch (const vips::VError& e) {
    return util::Error{fmt::format("cannot encode: {}", e.what())};
  }
}

std::string openai_prompt(const config::Config& config) {
  return fmt::format(
      "You categorise photos of a wedding for the photographer's online portfolio. Look at the photo and answer "
      "with: the scene, one of: {}; your confidence in that scene from 0 to 1; alt_text: one sentence in {} "
      "describing what is visible for someone who cannot see it, without guessing names; keywords: up to 10 short "
      "lowercase {} words for what is in the photo (bouquet, rings, first dance...); people: how many people are "
      "visible; eyes_closed: whether any visible person has their eyes closed.",
      fmt::join(config.tagging.scenes, ", "), config.tagging.language, config.tagging.language);
}

json openai_schema(const config::Config& config) {
  return {{"type", "object"},
          {"properties",
           {{"scene", {{"type", "string"}, {"enum", config.tagging.scenes}}},
            {"confidence", {{"type", "number"}}},
            {"alt_text", {{"type", "string"}}},
            {"keywords", {{"type", "array"}, {"items", {{"type", "string"}}}}},
            {"people", {{"type", "integer"}}},
            {"eyes_closed", {{"type", "boolean"}}}}},
          {"required", {"scene", "confidence", "alt_text", "keywords", "people", "eyes_closed"}},
          {"additionalProperties", false}};
}

std::int64_t openai_rate_tokens(const config::Config& config) {
  const auto prompt = openai_prompt(config) + dump(openai_schema(config));
  return 85 + static_cast<std::int64_t>(prompt.size()) / 4 + k_max_answer_tokens;
}

json openai_request_body(const config::Config& config, std::string_view jpeg) {
  json image = {{"type", "image_url"},
                {"image_url", {{"url", "data:image/jpeg;base64," + base64(jpeg)}, {"detail", "low"}}}};
  return {{"model", config.tagging.openai.model},
          {"messages",
           {{{"role", "system"}, {"content", openai_prompt(config)}},
            {{"role", "user"}, {"content", {{{"type", "text"}, {"text", "The photo:"}}, image}}}}},
          {"response_format",
           {{"type", "json_schema"},
            {"json_schema", {{"name", "wedding_photo"}, {"strict", true}, {"schema", openai_schema(config)}}}}},
          {"max_tokens", k_max_answer_tokens},
          {"temperature", 0}};
}

Answer read_openai_answer(const net::HttpResponse& response, const config::Config& config) {
  if (response.status == 0) return Answer::failed(response.error.empty() ? "no answer" : response.error, true);
  const auto said = server_message(response.body);
  const auto with_message = [&](std::string text) { return said.empty() ? text : text + ": " + said; };
  if (!response.ok()) {
    // 400, 413, 415, 422: this photo (or request) was refused, and would be again.
    const bool photo_refused = response.status == 400 || response.status == 413 || response.status == 415 ||
                               response.status == 422;
    return Answer::failed(with_message(fmt::format("HTTP {}", response.status)), !photo_refused);
  }
  auto envelope = json::parse(response.body, nullptr, false);
  if (envelope.is_discarded() || !envelope.is_object())
    return Answer::failed("the server's answer is not JSON", true);

  Answer answer;
  answer.calls = 1;
  if (envelope.contains("usage") && envelope["usage"].is_object()) {
    const auto& usage = envelope["usage"];
    if (usage.contains("prompt_tokens") && usage["prompt_tokens"].is_number_integer())
      answer.usage.input_tokens = usage["prompt_tokens"].get<std::int64_t>();
    if (usage.contains("completion_tokens") && usage["completion_tokens"].is_number_integer())
      answer.usage.output_tokens = usage["completion_tokens"].get<std::int64_t>();
  }
  auto fail = [&](std::string reason, bool transient) {
    answer.failure = std::move(reason);
    answer.transient = transient;
    return answer;
  };
  if (!envelope.contains("choices") || !envelope["choices"].is_array() || envelope["choices"].empty() ||
      !envelope["choices"][0].is_object())
    return fail("the server's answer has no choices", true);
  const auto& choice = envelope["choices"][0];
  const auto finish = choice.value("finish_reason", json()).is_string() ? choice["finish_reason"].get<std::string>()
                                                                         : std::string();
  if (!choice.contains("message") || !choice["message"].is_object()) return fail("the answer has no message", true);
  const auto& message = choice["message"];
  if (message.contains("refusal") && message["refusal"].is_string() && !message["refusal"].get<std::string>().empty()) {
    auto refusal = message["refusal"].get<std::string>();
    if (refusal.size() > 200) refusal = refusal.substr(0, 200) + "...";
    return fail(fmt::format("refused: {}", refusal), false);
  }
  if (finish == "length") return fail("the answer was cut short (finish_reason: length)", false);
  if (finish == "content_filter") return fail("the answer was withheld (finish_reason: content_filter)", false);
  if (!message.contains("content") || !message["content"].is_string())
    return fail("the answer has no content", false);
  auto content = json::parse(message["content"].get<std::string>(), nullptr, false);
  if (content.is_discarded()) return fail("the answer is not valid JSON", false);
  auto seen = observation_from_answer(content, config);
  if (!seen.ok()) return fail(seen.message(), false);
  answer.observation = std::move(*seen);
  return answer;
}

std::unique_ptr<Provider> make_openai_provider(const config::Config& config, std::optional<std::string> key,
                                               net::HttpSettings http) {
  http.max_connections_per_host = std::max<long>(1, config.tagging.openai.concurrency);
  return std::make_unique<OpenAiProvider>(config, std::move(key), std::move(http));
}

std::unique_ptr<Provider> make_openai_provider(const config::Config& config) {
  net::HttpSettings http;
  http.retry.retries = config.pipeline.retries;
  http.connect_timeout = std::chrono::seconds(config.network.connect_timeout_seconds);
  http.low_speed_bytes = config.network.stall_bytes_per_second;
  http.low_speed_time = std::chrono::seconds(config.network.stall_seconds);
  return make_openai_provider(config, config::resolve_secret(config.tagging.openai.api_key, config.project_dir),
                              std::move(http));
}

}  // namespace wsp::tagging
