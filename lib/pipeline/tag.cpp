#include "pipeline/tag.hpp"

#include <algorithm>
#include <cmath>
#include <deque>
#include <functional>
#include <future>
#include <map>
#include <mutex>
#include <set>
#include <span>

#include <fmt/format.h>
#include <glib.h>
#include <tbb/task_arena.h>
#include <tbb/task_group.h>

#include "imaging/render.hpp"
#include "net/retry.hpp"
#include "notify/circuits.hpp"
#include "pipeline/engine.hpp"
#include "pipeline/leases.hpp"
#include "pipeline/selection.hpp"
#include "tagging/scores.hpp"
#include "tagging/google_vision.hpp"
#include "tagging/openai.hpp"
#include "tagging/tagger.hpp"
#include "tagging/timeline.hpp"
#include "tagging/xmp.hpp"
#include "util/files.hpp"
#include "util/hash.hpp"
#include "util/text.hpp"

namespace wsp::pipeline {
namespace fs = std::filesystem;
using catalog::ImageRecord;

namespace {

// What the run has spent on remote providers, against tagging.max_cost.
class RunCost {
public:
  explicit RunCost(std::optional<double> cap) : m_cap(cap) {}
  bool reached() const {
    std::lock_guard lock(m_mutex);
    return m_cap && m_spent >= *m_cap;
  }
  void add(double cost) {
    std::lock_guard lock(m_mutex);
    m_spent += cost;
  }

private:
  mutable std::mutex m_mutex;
  std::optional<double> m_cap;
  double m_spent = 0;
};

config::ProviderPrices prices_of(const config::Config& config, const std::string& provider) {
  if (provider == "openai") return config.tagging.openai.prices;
  if (provider == "google_vision") return {.per_thousand_images = config.tagging.google_vision.price_per_thousand};
  return {};
}

int concurrency_of(const config::Config& config, const std::string& provider) {
  if (provider == "openai") return config.tagging.openai.concurrency;
  // Photos, not requests: each request carries up to 16.
  if (provider == "google_vision") return config.tagging.google_vision.concurrency * tagging::k_vision_batch;
  return 4;
}

// One remote provider's circuit and spending. A provider that keeps failing
// for passing reasons is left alone for a while (its photos stay due) instead
// of being asked for every photo of the shoot.
class ProviderBudget {
public:
  ProviderBudget(config::ProviderPrices prices, int concurrency, std::shared_ptr<RunCost> spent, net::SteadyClock clock)
      : m_prices(prices),
        m_concurrency(std::max(1, concurrency)),
        m_spent(std::move(spent)),
        m_breaker({}, clock ? std::move(clock) : net::real_steady_clock()) {}

  // Runs `go` now when fewer than `concurrency` requests are out, else when
  // one comes back (on that thread); each `go` ends with one release().
  void when_free(std::function<void()> go) {
    {
      std::lock_guard lock(m_mutex);
      if (m_out >= m_concurrency) {
        m_waiting.push_back(std::move(go));
        return;
      }
      ++m_out;
    }
    go();
  }
  void release() {
    std::function<void()> next;
    {
      std::lock_guard lock(m_mutex);
      if (m_waiting.empty()) {
        --m_out;
        return;
      }
      next = std::move(m_waiting.front());
      m_waiting.pop_front();
    }
    next();
  }

  // Empty when the provider may be asked now; else why not.
  std::string may_ask() {
    if (m_spent->reached()) return "tagging.max_cost reached for this run";
    std::lock_guard lock(m_mutex);
    return m_breaker.allow() ? "" : "circuit open after repeated failures";
  }

  // Records the answer; returns what it cost.
  double record(const tagging::Answer& answer) {
    const double cost = (answer.usage.input_tokens * m_prices.input_per_million +
                         answer.usage.output_tokens * m_prices.output_per_million) / 1e6 +
                        answer.usage.images * m_prices.per_thousand_images / 1e3;
    m_spent->add(cost);
    std::lock_guard lock(m_mutex);
    // A verdict on one photo says the service works.
    if (answer.observation || !answer.transient) {
      m_breaker.record_success();
    } else {
      m_breaker.record_failure();
      m_last_failure = answer.failure;
      m_failed = true;
    }
    m_circuit_answered = net::to_string(m_breaker.state());
    return cost;
  }

  // The circuit after the latest answer. A photo's calls are committed with
  // the photo, once it is also measured: not in the order the answers came.
  std::string circuit_answered() const {
    std::lock_guard lock(m_mutex);
    return m_circuit_answered;
  }

  // The circuit outlives the run: taken up from the catalog at the start,
  // written back at the end.
  void restore(const catalog::CircuitRecord& circuit) {
    std::lock_guard lock(m_mutex);
    const auto now = catalog::now_ms();
    const auto age = std::chrono::milliseconds(std::max<std::int64_t>(0, now - circuit.opened_ms.value_or(now)));
    m_breaker.restore(notify::breaker_state_from(circuit.state), circuit.consecutive_failures, age);
    m_opened_ms = circuit.opened_ms;
    m_last_failure = circuit.last_error;
  }
  catalog::CircuitRecord record(const std::string& provider) {
    std::lock_guard lock(m_mutex);
    const auto state = m_breaker.state();
    // Not closed after a failure in this run: opened (again) about now, which
    // makes the next run wait the whole time rather than probe too soon.
    if (state == net::BreakerState::closed) m_opened_ms.reset();
    else if (!m_opened_ms || m_failed) m_opened_ms = catalog::now_ms();
    return {"provider", provider, std::string(net::to_string(state)), m_breaker.consecutive_failures(), m_opened_ms,
            m_last_failure, 0};
  }

private:
  config::ProviderPrices m_prices;
  const int m_concurrency;
  std::shared_ptr<RunCost> m_spent;
  mutable std::mutex m_mutex;
  net::CircuitBreaker m_breaker;
  std::optional<std::int64_t> m_opened_ms;
  std::string m_last_failure;
  bool m_failed = false;  // since the restore
  std::string m_circuit_answered;
  int m_out = 0;
  std::deque<std::function<void()>> m_waiting;
};

// A cached verdict on a photo (a refusal, an answer outside the schema):
// recorded once, never asked again for the same pixels, prompt and model.
std::optional<std::string> refusal_in(const std::string& cached) {
  auto parsed = nlohmann::json::parse(cached, nullptr, false);
  if (parsed.is_object() && parsed.contains("failed") && parsed["failed"].is_string())
    return parsed["failed"].get<std::string>();
  return std::nullopt;
}

// The tag stage's description and its work on one image.
class TagStage {
public:
  TagStage(const config::Config& config, Engine& engine, Observer& observer, std::string run_id,
           ProviderFactory factory, net::SteadyClock circuit_clock)
      : m_config(config),
        m_engine(engine),
        m_settings(tag_settings(config)),
        m_zone(project_zone(config)),
        m_run_id(std::move(run_id)),
        m_local(local_provider(factory, config)),
        m_spent(std::make_shared<RunCost>(config.tagging.max_cost)) {
    for (const auto& name : config.tagging.providers) {
      if (name == "local") continue;  // always there, and always last
      if (auto provider = factory ? factory(name, config) : tagging::make_provider(name, config)) {
        m_budgets.emplace(name, std::make_unique<ProviderBudget>(prices_of(config, name), concurrency_of(config, name),
                                                                 m_spent, circuit_clock));
        m_remote.push_back(std::move(provider));
      } else {
        observer.warning(fmt::format("tagging: provider '{}' is not part of this build; skipped", name));
      }
    }
  }

  ~TagStage() {
    // Each measurement has ended with its photo, unless the stage was left by
    // an exception: then those not begun are dropped.
    m_measuring.cancel();
    m_measuring.wait();
  }
  TagStage(const TagStage&) = delete;
  TagStage& operator=(const TagStage&) = delete;

  Stage description() {
    // Small batches, claimed and committed in one transaction each: a kill
    // loses at most one batch of cheap work.
    const int batch = std::max(1, m_engine.settings().jobs) * 4;
    // With a remote provider, photos wait on the network, not on a CPU.
    const bool remote = !m_remote.empty();
    Stage stage{.name = StageName::tag,
                .work = remote ? Work::io : Work::cpu,
                .claim = {.settings = m_settings, .after = StageName::render, .at_once = batch}};
    stage.run = [this](const Item& image) { return tag_one(image); };
    stage.start = [this](const Item& image, Finish finish) { start_one(image, std::move(finish)); };
    stage.batch = static_cast<std::size_t>(batch);
    stage.batch_wait = std::chrono::milliseconds(500);
    stage.done_event = EventKind::image_tagged;
    stage.failed_event = EventKind::image_tag_failed;
    return stage;
  }

  void restore_circuits(catalog::Catalog& catalog) {
    for (const auto& circuit : catalog.circuits())
      if (auto found = m_budgets.find(circuit.name); circuit.kind == "provider" && found != m_budgets.end())
        found->second->restore(circuit);
  }
  void record_circuits(catalog::Catalog& catalog) {
    for (const auto& [name, budget] : m_budgets) catalog.record_circuit(budget->record(name));
  }

  std::size_t from_cache() const { return m_from_cache; }
  std::size_t due_remote() const { return m_due_remote; }

private:
  static std::unique_ptr<tagging::Provider> local_provider(const ProviderFactory& factory,
                                                           const config::Config& config) {
    if (factory)
      if (auto made = factory("local", config)) return made;
    return tagging::make_local_provider(tagging::use_faces(config));
  }

  static tagging::TimeZone project_zone(const config::Config& config) {
    auto zone = tagging::TimeZone::load(config.project.timezone);
    return zone ? *zone : tagging::TimeZone::utc();
  }

  // One photo while it is measured here and asked of its remote providers,
  // both at once: the two parts fill their own fields, and whichever ends
  // second concludes the photo.
  struct Tagging {
    ImageRecord image;
    std::string content;  // the analysis image's hash: the cache key
    std::string bytes;    // the analysis image; each part decodes it where it needs pixels, and lets them go
    Finish finish;
    std::atomic<int> parts_left{2};
    // The local part: the pixels' own measurements.
    std::optional<tagging::Observation> measured;
    bool measured_now = false;  // not from the cache: cached with the tags
    bool measured_from_cache = false;
    std::string measure_failure;
    // The remote part, in fallback order.
    std::optional<tagging::Observation> remote;
    std::string provider_name, model;  // who saw the photo: the local provider unless a remote one answered
    std::vector<std::array<std::string, 4>> to_cache;  // content hash, provider, model, JSON
    std::vector<catalog::ProviderCall> calls;
    bool remote_from_cache = false;
    std::vector<std::string> due_for;  // remote providers that were away: asked again in a later run
    std::vector<std::string> refused;  // verdicts on the photo
    std::string remote_failure;
    std::size_t next = 0;  // the next remote provider to ask
  };
  using TaggingPtr = std::shared_ptr<Tagging>;

  Outcome tag_one(const ImageRecord& image) {
    std::promise<Outcome> concluded;
    auto outcome = concluded.get_future();
    start_one(image, [&concluded](Outcome o) { concluded.set_value(std::move(o)); });
    return outcome.get();
  }

  static Outcome failed(std::string reason) { return Outcome{.verdict = Verdict::failed, .reason = std::move(reason)}; }

  static util::Result<tagging::Pixels> decode(const std::string& bytes) {
    auto decoded = imaging::decode_rgb8(std::span(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size()));
    if (!decoded.ok()) return util::Error{fmt::format("analysis image: {}", decoded.message())};
    return tagging::Pixels{decoded->width, decoded->height, std::move(decoded->rgb)};
  }

  // Reads the analysis image, sends it to the remote providers, then measures
  // its pixels locally while their answers are on the way; `finish` is called
  // once, when both are done, maybe on another thread.
  void start_one(const ImageRecord& image, Finish finish) {
    // Asked per image: another process may have rendered it again since the claim.
    auto analysis = m_engine.with_catalog([&](catalog::Catalog& c) { return c.analysis_path(image.id); });
    auto bytes = analysis ? util::read_text_file(m_config.state_dir() / *analysis)
                          : util::Result<std::string>(util::Error{"no analysis image"});
    if (!bytes.ok()) {
      // Not a failure of the photo: render makes a new analysis image, and
      // the tag job, left pending, is claimed again once that is done.
      Outcome waiting{.verdict = Verdict::waiting,
                      .word = "waiting for render",
                      .reason = fmt::format("{}; its render is queued again, and tagging follows it", bytes.message())};
      waiting.record = [id = image.id](catalog::Catalog& c) {
        if (auto render = c.job(id, to_string(StageName::render))) {
          render->state = catalog::JobState::Pending;
          c.put_job(*render);
        }
      };
      return finish(std::move(waiting));
    }
    auto t = std::make_shared<Tagging>();
    t->image = image;
    t->finish = std::move(finish);
    t->bytes = std::move(*bytes);
    t->content = util::sha256_hex(t->bytes);
    t->provider_name = m_local->name();
    t->model = m_local->model();
    // The requests first: the local measurement (faces above all) takes a
    // CPU for a while, and must not hold back the photos still to be sent.
    ask_next(t);
    measure(t);
  }

  // The pixels' own measurements come from the local provider, always (or its cache).
  void measure(const TaggingPtr& t) {
    if (auto cached = m_engine.with_catalog(
            [&](catalog::Catalog& c) { return c.cached_result(t->content, m_local->name(), m_local->model()); }))
      if (auto restored = tagging::observation_from_json(*cached); restored.ok()) {
        t->measured = std::move(*restored);
        t->measured_from_cache = true;
        return part_done(t);
      }
    auto work = [this, t] {
      measure_now(*t);
      part_done(t);
    };
    // Without a remote provider the stage is CPU work and this is its worker.
    // With one, the stage only starts photos: the measurement waits in the
    // arena's queue, behind the starting (and sending) of the photos claimed,
    // for a thread of its own.
    if (m_remote.empty()) return work();
    tbb::this_task_arena::enqueue(m_measuring.defer(std::move(work)));
  }

  void measure_now(Tagging& t) {
    // Whatever happens, the photo must be concluded: the stage waits for it.
    try {
      auto pixels = decode(t.bytes);
      if (!pixels.ok()) {
        t.measure_failure = pixels.message();
        return;
      }
      auto answer = m_local->ask(*pixels);
      if (!answer.observation) {
        t.measure_failure = fmt::format("local: {}", answer.failure);
        return;
      }
      t.measured = std::move(*answer.observation);
      t.measured_now = true;
    } catch (const std::exception& e) {
      t.measure_failure = fmt::format("local: {}", e.what());
    }
  }

  void part_done(const TaggingPtr& t) {
    if (t->parts_left.fetch_sub(1, std::memory_order_acq_rel) == 1) conclude_one(t);
  }

  // Remote providers in fallback order: the first that sees the photo adds
  // scenes, keywords, alt text and people. One that failed for a passing
  // reason leaves the photo due for it; a verdict on the photo is cached.
  void ask_next(const TaggingPtr& t) {
    while (t->next < m_remote.size()) {
      auto& provider = *m_remote[t->next++];
      auto cached = m_engine.with_catalog(
          [&](catalog::Catalog& c) { return c.cached_result(t->content, provider.name(), provider.model()); });
      if (cached) {
        if (auto verdict = refusal_in(*cached)) {
          t->refused.push_back(fmt::format("{}: {}", provider.name(), *verdict));
          continue;
        }
        if (auto restored = tagging::observation_from_json(*cached); restored.ok()) {
          t->remote_from_cache = true;
          adopt(*t, provider, std::move(*restored));
          return part_done(t);
        }
      }
      auto& budget = *m_budgets.at(provider.name());
      budget.when_free([this, t, &provider, &budget] {
        // Checked when the request would go out, so that the cost cap and an
        // open circuit also hold back photos that were waiting for a slot.
        if (auto closed = budget.may_ask(); !closed.empty()) {
          budget.release();
          t->due_for.push_back(fmt::format("{}: {}", provider.name(), closed));
          return ask_next(t);
        }
        // Decoded for this request only: the provider has what it sends once ask_async returns.
        auto pixels = decode(t->bytes);
        if (!pixels.ok()) {
          budget.release();
          t->remote_failure = pixels.message();
          return part_done(t);
        }
        provider.ask_async(*pixels, [this, t, &provider, &budget](tagging::Answer answer) {
          const double cost = budget.record(answer);
          budget.release();
          t->calls.push_back({.run_id = m_run_id,
                              .provider = provider.name(),
                              .calls = answer.calls,
                              .input_tokens = answer.usage.input_tokens,
                              .output_tokens = answer.usage.output_tokens,
                              .cost = cost,
                              .failure = answer.observation ? "" : answer.failure,
                              .transient = answer.transient,
                              .circuit = {}});  // as it stands when the call is committed
          if (answer.observation) {
            t->to_cache.push_back(
                {t->content, provider.name(), provider.model(), tagging::to_json(*answer.observation)});
            adopt(*t, provider, std::move(*answer.observation));
            return part_done(t);
          }
          if (answer.transient) {
            t->due_for.push_back(fmt::format("{}: {}", provider.name(), answer.failure));
          } else {
            t->refused.push_back(fmt::format("{}: {}", provider.name(), answer.failure));
            t->to_cache.push_back({t->content, provider.name(), provider.model(),
                                   nlohmann::json{{"failed", answer.failure}}.dump(
                                       -1, ' ', false, nlohmann::json::error_handler_t::replace)});
          }
          ask_next(t);
        });
      });
      return;
    }
    part_done(t);
  }

  static void adopt(Tagging& t, const tagging::Provider& provider, tagging::Observation remote) {
    t.remote = std::move(remote);
    t.provider_name = provider.name();
    t.model = provider.model();
  }

  // The local measurements with what a remote provider saw over them.
  static tagging::Observation joined(tagging::Observation seen, std::optional<tagging::Observation> remote) {
    if (!remote) return seen;
    seen.scenes = std::move(remote->scenes);
    seen.labels = std::move(remote->labels);
    seen.people = remote->people;
    seen.description = std::move(remote->description);
    // Either's closed eyes are worth a look: the faces found here and a provider's answer add up.
    if (remote->eyes_closed) seen.eyes_closed = *remote->eyes_closed || seen.eyes_closed.value_or(false);
    return seen;
  }

  void conclude_one(const TaggingPtr& t) {
    std::string().swap(t->bytes);  // both parts are done with the analysis image
    const auto& image = t->image;
    if (t->measured_now)
      t->to_cache.push_back({t->content, m_local->name(), m_local->model(), tagging::to_json(*t->measured)});
    if (auto failure = !t->measure_failure.empty() ? t->measure_failure : t->remote_failure; !failure.empty()) {
      // What the providers answered, and what it cost, is kept all the same.
      Outcome outcome = failed(std::move(failure));
      outcome.record = [this, to_cache = std::move(t->to_cache), calls = std::move(t->calls)](catalog::Catalog& c) {
        for (const auto& [content, provider, model, json] : to_cache) c.put_cached_result(content, provider, model, json);
        add_calls(c, calls);
      };
      return t->finish(std::move(outcome));
    }
    const auto seen = joined(std::move(*t->measured), std::move(t->remote));
    const auto& provider_name = t->provider_name;
    tagging::PhotoContext photo;
    photo.header = image.header;
    auto instant = tagging::capture_instant(image.header.camera, m_zone, m_config.cameras);
    if (instant) {
      photo.capture_utc_ms = instant->utc_ms;
      photo.local_offset_seconds = m_zone.offset_at_utc(instant->utc_ms / 1000);
    }
    auto conclusion = tagging::conclude(seen, photo, m_config);

    catalog::TagRecord record;
    record.image_id = image.id;
    record.fingerprint = image.sha256 + ":" + m_settings;
    record.provider = provider_name;
    record.model = t->model;
    record.scene = conclusion.scene;
    record.scene_confidence = conclusion.scene_confidence;
    record.scene_basis = conclusion.scene_basis == "provider" ? provider_name : conclusion.scene_basis;
    record.keywords = conclusion.keywords;
    record.alt_text = conclusion.alt_text;
    record.confidence = conclusion.confidence;
    record.sharpness = seen.scores.sharpness;
    record.exposure_error = seen.scores.exposure_error;
    record.overexposed = seen.scores.overexposed;
    record.underexposed = seen.scores.underexposed;
    record.eyes_closed = seen.eyes_closed.value_or(false);
    if (seen.faces) record.faces = static_cast<int>(seen.faces->size());
    record.face_sharpness = tagging::face_sharpness(seen);
    record.palette = tagging::palette_text(seen.palette);
    record.dominant_colour = tagging::dominant_colour_name(seen.palette);
    record.phash = seen.phash;
    record.capture_utc_ms = photo.capture_utc_ms;
    record.camera = image.header.camera.serial.empty() ? image.header.camera.model : image.header.camera.serial;

    // Asked again in a later run while a remote provider it is due for was
    // away (outage, rate limit, cost cap): the best conclusion now stands meanwhile.
    const bool still_due = !t->due_for.empty();
    Outcome done{.verdict = still_due ? Verdict::waiting : Verdict::done,
                 .word = record.scene.empty() ? "untagged" : record.scene};
    if (still_due) done.reason = fmt::format("tagged without {}; due for it in a later run", fmt::join(t->due_for, "; "));
    done.detail = {{"scene", record.scene},
                   {"confidence", std::round(record.confidence * 100) / 100},
                   {"basis", record.scene_basis},
                   {"provider", provider_name}};
    if (!t->refused.empty()) done.detail["refused"] = t->refused;
    done.record = [this, record = std::move(record), to_cache = std::move(t->to_cache),
                   calls = std::move(t->calls),
                   from_cache = t->measured_from_cache || t->remote_from_cache, still_due](catalog::Catalog& c) {
      c.put_tags(record);
      if (still_due) ++m_due_remote;
      for (const auto& [content, provider, model, json] : to_cache) c.put_cached_result(content, provider, model, json);
      add_calls(c, calls);
      if (from_cache) ++m_from_cache;
    };
    t->finish(std::move(done));
  }

  // The latest call recorded carries the circuit as `status` shows it.
  void add_calls(catalog::Catalog& c, std::vector<catalog::ProviderCall> calls) {
    for (auto& call : calls) {
      call.circuit = m_budgets.at(call.provider)->circuit_answered();
      c.add_provider_call(call);
    }
  }

  const config::Config& m_config;
  Engine& m_engine;
  const std::string m_settings;
  const tagging::TimeZone m_zone;
  const std::string m_run_id;
  std::unique_ptr<tagging::Provider> m_local;
  std::vector<std::unique_ptr<tagging::Provider>> m_remote;  // fallback order
  std::shared_ptr<RunCost> m_spent;
  std::map<std::string, std::unique_ptr<ProviderBudget>> m_budgets;
  std::size_t m_from_cache = 0;  // only the writer counts
  std::size_t m_due_remote = 0;
  // The local measurements of a stage with remote providers; last, so that
  // it is waited for before anything they use goes.
  tbb::task_group m_measuring;
};

bool contains(const std::vector<std::string>& words, const std::string& word) {
  return std::find(words.begin(), words.end(), word) != words.end();
}

// Unicode case folding (glib's, which libvips brings): "ÉGLISE" and "église" are one keyword.
std::string folded(const std::string& word) {
  gchar* fold = g_utf8_casefold(word.c_str(), static_cast<gssize>(word.size()));
  std::string out = fold ? fold : word;
  g_free(fold);
  return out;
}

bool contains_folded(const std::vector<std::string>& words, const std::string& word) {
  const std::string wanted = folded(word);
  return std::any_of(words.begin(), words.end(), [&](const std::string& w) { return folded(w) == wanted; });
}

}  // namespace

std::string tag_settings(const config::Config& config) {
  // Only what changes a result: min_confidence is applied when tags are read,
  // and a provider's model matters only when the provider is asked.
  const auto& t = config.tagging;
  std::string text = fmt::format("v1 providers={} scenes={} alt={} analysis={} zone={}", fmt::join(t.providers, ","),
                                 fmt::join(t.scenes, ","), t.alt_text, config.render.analysis_size,
                                 config.project.timezone);
  if (contains(t.providers, "openai")) text += " openai=" + t.openai.model + " language=" + t.language;
  if (tagging::use_faces(config)) text += " faces=dlib68";
  if (contains(t.providers, "google_vision"))
    for (const auto& rule : t.google_vision.labels) text += fmt::format(" label={}={}", rule.label, rule.scene);
  if (t.alt_text.find("{title}") != std::string::npos) text += " title=" + config.project.title;
  if (t.alt_text.find("{credit}") != std::string::npos) text += " credit=" + config.project.credit;
  for (const auto& w : t.vocabulary) text += fmt::format(" word={}={}", w.word, w.text);
  for (const auto& e : config.timeline) text += fmt::format(" timeline={}:{}-{}", e.scene, e.from_minute, e.to_minute);
  for (const auto& c : config.cameras) text += fmt::format(" camera={}/{}{:+}", c.serial, c.model, c.offset_seconds);
  return util::sha256_hex(text).substr(0, 16);
}

TagSummary tag(const config::Config& config, catalog::Catalog& catalog, const TagRequest& request,
               Observer& observer) {
  Engine engine(catalog,
                {.run_id = request.run_id,
                 .stop = request.stop,
                 .jobs = request.jobs,
                 .max_inflight = 2 * std::max(1, request.jobs),
                 .lease_ms = request.lease_ms,
                 .min_priority = request.min_priority},
                observer);
  TagStage stage(config, engine, observer, request.run_id, request.providers, request.circuit_clock);
  stage.restore_circuits(catalog);
  auto report = engine.run(stage.description());
  stage.record_circuits(catalog);
  TagSummary summary;
  summary.tagged = report.done;
  summary.failed = report.failed;
  summary.due_remote = stage.due_remote();
  summary.rerender = report.waiting - summary.due_remote;
  summary.from_cache = stage.from_cache();
  summary.stopped_because = report.stopped_because;
  summary.seconds = report.seconds;
  summary.groups = regroup(catalog);
  return summary;
}

TagEstimate estimate_tagging(const config::Config& config, catalog::Catalog& catalog) {
  TagEstimate estimate;
  estimate.due = catalog.count_claimable(to_string(StageName::tag), tag_settings(config), "");
  estimate.max_cost = config.tagging.max_cost;
  for (const auto& name : config.tagging.providers) {
    if (name == "openai") {
      estimate.provider = name;
      estimate.calls = estimate.due;
      // A low-detail image is 85 tokens; text is about 4 characters a token.
      const auto prompt = tagging::openai_prompt(config) + tagging::openai_schema(config).dump();
      estimate.input_tokens = estimate.calls * (85 + static_cast<std::int64_t>(prompt.size()) / 4);
      estimate.output_tokens = estimate.calls * 120;
      const auto& prices = config.tagging.openai.prices;
      estimate.cost = (estimate.input_tokens * prices.input_per_million +
                       estimate.output_tokens * prices.output_per_million) / 1e6;
      break;
    }
    if (name == "google_vision") {
      estimate.provider = name;
      const auto batch = static_cast<std::int64_t>(tagging::k_vision_batch);
      estimate.calls = (estimate.due + batch - 1) / batch;
      estimate.cost = estimate.due * config.tagging.google_vision.price_per_thousand / 1e3;
      break;
    }
  }
  return estimate;
}

std::size_t regroup(catalog::Catalog& catalog) {
  std::vector<tagging::FrameFacts> frames;
  for (const auto& t : catalog.tags())
    frames.push_back({t.image_id, t.capture_utc_ms, t.phash, t.sharpness, t.exposure_error, t.eyes_closed,
                      t.face_sharpness});
  auto groups = tagging::group_near_duplicates(std::move(frames));
  std::vector<std::pair<std::int64_t, std::int64_t>> members;
  for (const auto& group : groups)
    for (auto member : group.members) members.emplace_back(member, group.best);
  catalog.set_groups(members);
  return groups.size();
}

RatingChoice choose_rating(std::optional<int> override_rating, std::int64_t override_ms, std::optional<int> tool_rating,
                           std::int64_t tool_ms, std::string_view tool_origin) {
  if (!override_rating || !tool_rating || *override_rating == *tool_rating)
    return {override_rating ? override_rating : tool_rating, {}};
  const bool tool_newer = tool_ms > override_ms;
  const std::string where = tool_origin == "embedded" ? "the photo's own XMP" : "the XMP sidecar";
  return {tool_newer ? tool_rating : override_rating,
          fmt::format("tag set gave rating {}, {} {}: the newer, {}, holds", *override_rating, where, *tool_rating,
                      tool_newer ? where : "tag set")};
}

std::vector<EffectiveTags> effective_tags(const config::Config& config, catalog::Catalog& catalog) {
  return effective_tags(config, catalog, catalog.selections());
}

std::vector<EffectiveTags> effective_tags(const config::Config& config, catalog::Catalog& catalog,
                                          std::vector<catalog::SelectionRecord> selection_records) {
  std::map<std::int64_t, catalog::TagOverride> overrides;
  for (auto& o : catalog.overrides()) overrides[o.image_id] = o;
  const auto overrides_given = overrides;
  std::map<std::int64_t, imaging::PhotoHeader> headers;
  std::vector<EffectiveTags> all;
  for (const auto& t : catalog.tags()) {
    EffectiveTags e;
    e.image_id = t.image_id;
    e.path = t.source_path;
    e.scene = t.scene;
    e.confidence = t.confidence;
    e.scene_basis = t.scene_basis;
    e.keywords = t.keywords;
    e.alt_text = t.alt_text;
    e.group = t.group;
    e.best_pick = t.group && *t.group == t.image_id;
    e.sharpness = t.sharpness;
    e.overexposed = t.overexposed;
    e.underexposed = t.underexposed;
    e.eyes_closed = t.eyes_closed;
    e.faces = t.faces;
    e.capture_utc_ms = t.capture_utc_ms;
    e.sidecar_keywords = t.sidecar_keywords;
    if (auto it = overrides.find(t.image_id); it != overrides.end()) {
      const auto& o = it->second;
      e.overridden = true;
      if (o.scene && *o.scene != e.scene) {
        // The automatic alt text names the old scene: word it again for the new one.
        if (headers.empty())
          for (const auto& image : catalog.images()) headers[image.id] = image.header;
        const auto& header = headers[t.image_id];
        e.alt_text = tagging::alt_text(config, *o.scene, tagging::orientation_word(header),
                                       tagging::notable_colours(tagging::palette_from_text(t.palette)), std::nullopt);
        std::erase(e.keywords, tagging::word(config, e.scene));
        e.keywords.insert(e.keywords.begin(), tagging::word(config, *o.scene));
        e.scene = *o.scene;
      }
      if (o.scene) {
        e.scene_basis = "override";
        e.confidence = 1.0;
      }
      for (const auto& tag : o.remove_tags) std::erase(e.keywords, tag);
      e.removed_keywords = o.remove_tags;
      for (const auto& tag : o.add_tags)
        if (!contains(e.keywords, tag)) e.keywords.push_back(tag);
      if (o.alt_text) e.alt_text = *o.alt_text;
      e.rating = o.rating;
    }
    e.needs_review = e.confidence < config.tagging.min_confidence;
    all.push_back(std::move(e));
    overrides.erase(t.image_id);
  }
  // A photo with overrides but no automatic tags yet (its tagging failed, or
  // has not run): what the photographer said still holds, a rejection above all.
  for (const auto& [image_id, o] : overrides) {
    EffectiveTags e;
    e.image_id = image_id;
    e.path = o.source_path;
    e.overridden = true;
    if (o.scene) {
      e.scene = *o.scene;
      e.scene_basis = "override";
      e.confidence = 1.0;
      e.keywords.push_back(tagging::word(config, *o.scene));
    }
    for (const auto& tag : o.add_tags)
      if (!contains(e.keywords, tag)) e.keywords.push_back(tag);
    e.removed_keywords = o.remove_tags;
    e.alt_text = o.alt_text.value_or("");
    e.rating = o.rating;
    e.needs_review = e.confidence < config.tagging.min_confidence;
    all.push_back(std::move(e));
  }
  // The photographer's own culling tool is their intent as much as `tag set`.
  std::map<std::int64_t, catalog::SelectionRecord> selections;
  for (auto& record : selection_records) selections.emplace(record.image_id, std::move(record));
  for (auto& e : all) {
    auto found = selections.find(e.image_id);
    if (found == selections.end()) continue;
    const auto& chosen = found->second;
    // The photographer's keywords come first, each once whatever its case. Those
    // this tool wrote into the sidecar, read back, are not the photographer's;
    // one taken out with `tag set --remove-tag` stays out.
    for (const auto& keyword : chosen.keywords) {
      if (contains(e.sidecar_keywords, keyword) || contains_folded(e.removed_keywords, keyword) ||
          contains_folded(e.photographer_keywords, keyword))
        continue;
      e.photographer_keywords.push_back(keyword);
    }
    std::erase_if(e.keywords, [&](const std::string& keyword) { return contains_folded(e.photographer_keywords, keyword); });
    e.keywords.insert(e.keywords.begin(), e.photographer_keywords.begin(), e.photographer_keywords.end());
    e.labels = chosen.labels;
    // A scene this tool wrote as the label, read back, is not the photographer's.
    for (const auto& scene : config.tagging.scenes) std::erase(e.labels, tagging::word(config, scene));
    e.picked = chosen.tagged.value_or(false);
    auto o = overrides_given.find(e.image_id);
    auto rating = choose_rating(o == overrides_given.end() ? std::nullopt : o->second.rating,
                                o == overrides_given.end() ? 0 : o->second.updated_ms, chosen.rating,
                                chosen.changed_ms, chosen.origin);
    e.rating_from_tool = chosen.rating && rating.rating == chosen.rating;
    e.rating = rating.rating;
    e.rating_conflict = std::move(rating.conflict);
  }
  std::sort(all.begin(), all.end(), [](const auto& a, const auto& b) { return a.path < b.path; });
  return all;
}

SidecarSummary write_sidecars(const config::Config& config, catalog::Catalog& catalog, Observer& observer) {
  const std::string best_pick_word = tagging::word(config, "best_pick");
  // The labels and ratings saved since the last look decide what is written.
  sync_selections(config, catalog, observer);
  auto all = effective_tags(config, catalog);
  // IMG_1.JPG and IMG_1.png would share IMG_1.xmp: neither may claim it.
  std::map<fs::path, int> users;
  auto source_of = [&](const EffectiveTags& t) { return config.in_project(t.path); };
  for (const auto& t : all) ++users[tagging::sidecar_path(source_of(t))];

  // A run killed while writing a sidecar left its temporary beside the photos.
  std::set<fs::path> folders;
  for (const auto& [sidecar, count] : users) folders.insert(sidecar.parent_path());
  if (!catalog::others_at_work(catalog, k_alive_within_ms))
    for (const auto& folder : folders)
      for (const auto& temporary : util::abandoned_temporaries(folder))
        if (temporary.filename().string().find(".xmp.tmp-") != std::string::npos) {
          std::error_code ignored;
          fs::remove(temporary, ignored);
        }

  SidecarSummary summary;
  observer.stage_started("xmp", all.size());
  for (const auto& t : all) {
    const fs::path sidecar = tagging::sidecar_path(source_of(t));
    auto problem = [&](const std::string& reason) {
      ++summary.failed;
      observer.item_problem("xmp", sidecar.string(), reason);
    };
    if (users[sidecar] > 1) {
      problem(fmt::format("would hold the tags of {} photos with the same name; left as it was", users[sidecar]));
      continue;
    }
    tagging::XmpFields fields;
    for (const auto& keyword : t.keywords)
      if (!contains(t.photographer_keywords, keyword)) fields.keywords.push_back(keyword);
    if (t.best_pick) fields.keywords.push_back(best_pick_word);
    // Only keywords this tool wrote are taken out again; the photographer's stay.
    for (const auto& old : t.sidecar_keywords)
      if (!contains(fields.keywords, old)) fields.remove_keywords.push_back(old);
    for (const auto& removed : t.removed_keywords)
      if (!contains(fields.remove_keywords, removed)) fields.remove_keywords.push_back(removed);
    // A colour label the photographer gave stays theirs; without one, the scene.
    if (!t.scene.empty() && t.labels.empty()) fields.label = tagging::word(config, t.scene);
    if (!t.rating_from_tool) fields.rating = t.rating;
    // Photo Mechanic's tag is the photographer's too: set for a best pick, never cleared.
    if (t.best_pick) fields.best_pick = true;
    fields.description = t.alt_text;

    // Lightroom or Photo Mechanic may save the sidecar while it is merged here:
    // what was read is replaced only while it is still there, else it is read
    // and merged again, so that their save is never lost.
    constexpr int k_merges = 5;
    std::optional<std::string> existing;
    util::Result<std::string> merged = std::string();
    bool replaced = false, failed = false;
    for (int attempt = 0; attempt < k_merges && !replaced && !failed; ++attempt) {
      existing.reset();
      std::error_code missing;
      if (fs::exists(sidecar, missing)) {
        auto read = util::read_text_file(sidecar);
        if (!read.ok()) {
          problem(read.message());
          failed = true;
          break;
        }
        existing = std::move(*read);
      }
      merged = tagging::merge_xmp(existing.value_or(""), fields);
      if (!merged.ok()) {
        problem(fmt::format("{}; left as it was", merged.message()));
        failed = true;
        break;
      }
      if (existing && *merged == *existing) break;
      auto written = util::replace_file_if_unchanged(sidecar, *merged, existing);
      if (!written.ok()) {
        problem(written.message());
        failed = true;
      } else {
        replaced = *written;
      }
    }
    if (failed) continue;
    const bool unchanged = existing && *merged == *existing;
    if (!unchanged && !replaced) {
      problem("changed by another program each time it was merged; left as it was (run tag --xmp again)");
      continue;
    }
    if (fields.keywords != t.sidecar_keywords)
      catalog.write([&] { catalog.set_sidecar_keywords(t.image_id, fields.keywords); });
    if (unchanged) {
      ++summary.unchanged;
      observer.item_done("xmp", sidecar.string(), "unchanged", 0);
    } else {
      ++summary.written;
      observer.item_done("xmp", sidecar.string(), existing && !existing->empty() ? "merged" : "written",
                         static_cast<std::int64_t>(merged->size()));
    }
  }
  return summary;
}

}  // namespace wsp::pipeline
