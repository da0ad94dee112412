#pragma once
// A real SQLite catalog behind a fault-injection layer (LevelDB's ErrorEnv
// idea): every call goes to the real catalog unless a test has armed a fault
// or a hook for it. Only the calls the lease and clean-up tests need can fail.

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <stdexcept>
#include <thread>

#include "catalog/catalog.hpp"

namespace wsp::testing {

struct CatalogFaults {
  std::atomic<bool> reopen_fails{false};
  std::atomic<bool> renewal_fails{false};
  std::atomic<int> renewal_stalls_ms{0};       // each renewal waits this long first, as on a busy catalog
  std::atomic<int> renewals{0};               // attempted, failed or not
  std::function<void()> on_referenced_files;  // runs before the real call
};

class FaultyCatalog final : public catalog::Catalog {
public:
  FaultyCatalog(std::unique_ptr<catalog::Catalog> real, std::shared_ptr<CatalogFaults> faults)
      : m_real(std::move(real)), m_faults(std::move(faults)) {}

  catalog::Catalog& real() { return *m_real; }

  void write(const std::function<void()>& work) override { m_real->write(work); }
  std::vector<catalog::ImageRecord> images() override { return m_real->images(); }
  std::optional<catalog::ImageRecord> image_at(const std::string& path) override { return m_real->image_at(path); }
  std::vector<catalog::ImageRecord> images_with_hash(const std::string& sha256) override {
    return m_real->images_with_hash(sha256);
  }
  std::int64_t add_image(const catalog::ImageRecord& image) override { return m_real->add_image(image); }
  void update_image(const catalog::ImageRecord& image) override { m_real->update_image(image); }
  void put_job(const catalog::Job& job) override { m_real->put_job(job); }
  std::optional<catalog::Job> job(std::int64_t image_id, const std::string& stage) override {
    return m_real->job(image_id, stage);
  }
  void add_event(const catalog::Event& event, const std::string& run_id) override { m_real->add_event(event, run_id); }
  std::int64_t event_count() override { return m_real->event_count(); }
  void begin_run(const catalog::RunRecord& run) override { m_real->begin_run(run); }
  void heartbeat(const std::string& run_id) override { m_real->heartbeat(run_id); }
  void finish_run(const std::string& run_id, int exit_code) override { m_real->finish_run(run_id, exit_code); }
  std::vector<catalog::RunRecord> unfinished_runs() override { return m_real->unfinished_runs(); }
  std::vector<catalog::RunRecord> runs_alive(std::int64_t within_ms) override { return m_real->runs_alive(within_ms); }
  std::vector<catalog::RunRecord> recent_runs(int limit) override { return m_real->recent_runs(limit); }
  std::optional<std::int64_t> last_event_ms(const std::string& kind) override { return m_real->last_event_ms(kind); }
  void record_circuit(const catalog::CircuitRecord& circuit) override { m_real->record_circuit(circuit); }
  std::vector<catalog::CircuitRecord> circuits() override { return m_real->circuits(); }
  std::vector<catalog::ImageRecord> claim(const std::string& stage, const std::string& settings,
                                          const std::string& after, const std::string& run_id, std::int64_t lease_ms,
                                          int limit, int min_priority) override {
    return m_real->claim(stage, settings, after, run_id, lease_ms, limit, min_priority);
  }
  std::int64_t count_claimable(const std::string& stage, const std::string& settings, const std::string& after,
                               int min_priority) override {
    return m_real->count_claimable(stage, settings, after, min_priority);
  }
  std::int64_t count_held(const std::string& stage, const std::string& run_id, int min_priority) override {
    return m_real->count_held(stage, run_id, min_priority);
  }
  void renew_leases(const std::string& run_id, std::int64_t lease_ms, const catalog::RunProgress& progress) override {
    ++m_faults->renewals;
    if (int stall = m_faults->renewal_stalls_ms) std::this_thread::sleep_for(std::chrono::milliseconds(stall));
    if (m_faults->renewal_fails) throw catalog::CatalogError("renewal: database is locked");
    m_real->renew_leases(run_id, lease_ms, progress);
  }
  void release_leases(const std::string& run_id) override { m_real->release_leases(run_id); }
  std::int64_t requeue_failed(const std::string& stage, const std::string& path) override {
    return m_real->requeue_failed(stage, path);
  }
  std::vector<std::pair<std::string, std::string>> failures(const std::string& stage) override {
    return m_real->failures(stage);
  }
  std::vector<std::string> replace_render(const catalog::RenderRecord& render) override {
    return m_real->replace_render(render);
  }
  std::vector<catalog::RenderRecord> renders() override { return m_real->renders(); }
  std::vector<std::string> referenced_files() override {
    if (m_faults->on_referenced_files) m_faults->on_referenced_files();
    return m_real->referenced_files();
  }
  void put_tags(const catalog::TagRecord& tags) override { m_real->put_tags(tags); }
  std::vector<catalog::TagRecord> tags() override { return m_real->tags(); }
  void set_sidecar_keywords(std::int64_t image_id, const std::vector<std::string>& keywords) override {
    m_real->set_sidecar_keywords(image_id, keywords);
  }
  std::optional<std::string> analysis_path(std::int64_t image_id) override { return m_real->analysis_path(image_id); }
  void set_groups(const std::vector<std::pair<std::int64_t, std::int64_t>>& groups) override {
    m_real->set_groups(groups);
  }
  void put_override(const catalog::TagOverride& override_) override { m_real->put_override(override_); }
  std::optional<catalog::TagOverride> tag_override(std::int64_t image_id) override {
    return m_real->tag_override(image_id);
  }
  std::vector<catalog::TagOverride> overrides() override { return m_real->overrides(); }
  void put_selection(const catalog::SelectionRecord& selection) override { m_real->put_selection(selection); }
  void remove_selection(std::int64_t image_id) override { m_real->remove_selection(image_id); }
  std::vector<catalog::SelectionRecord> selections() override { return m_real->selections(); }
  std::optional<std::string> cached_result(const std::string& content_sha256, const std::string& provider,
                                           const std::string& model) override {
    return m_real->cached_result(content_sha256, provider, model);
  }
  void put_cached_result(const std::string& content_sha256, const std::string& provider, const std::string& model,
                         const std::string& result) override {
    m_real->put_cached_result(content_sha256, provider, model, result);
  }
  void add_provider_call(const wsp::catalog::ProviderCall& call) override { m_real->add_provider_call(call); }
  std::vector<wsp::catalog::ProviderUsage> provider_usage() override { return m_real->provider_usage(); }
  std::vector<catalog::PublishedFile> published(const std::string& target) override {
    return m_real->published(target);
  }
  void record_published(const std::string& target, const catalog::PublishedFile& file) override {
    m_real->record_published(target, file);
  }
  void forget_published(const std::string& target, const std::string& path) override {
    m_real->forget_published(target, path);
  }
  std::vector<std::string> pending_purges(const std::string& target) override { return m_real->pending_purges(target); }
  void record_pending_purge(const std::string& target, const std::string& url) override {
    m_real->record_pending_purge(target, url);
  }
  void forget_pending_purge(const std::string& target, const std::string& url) override {
    m_real->forget_pending_purge(target, url);
  }
  std::vector<catalog::MultipartUpload> multipart_uploads(const std::string& target) override {
    return m_real->multipart_uploads(target);
  }
  void record_multipart_upload(const std::string& target, const catalog::MultipartUpload& upload) override {
    m_real->record_multipart_upload(target, upload);
  }
  void record_uploaded_part(const std::string& target, const std::string& upload_id,
                            const catalog::UploadedPart& part) override {
    m_real->record_uploaded_part(target, upload_id, part);
  }
  void forget_multipart_upload(const std::string& target, const std::string& upload_id) override {
    m_real->forget_multipart_upload(target, upload_id);
  }
  std::optional<catalog::RunProgress> run_progress(const std::string& run_id) override {
    return m_real->run_progress(run_id);
  }
  std::vector<catalog::StageCount> stage_counts() override { return m_real->stage_counts(); }
  void subscribe(const std::vector<catalog::WebhookSubscription>& s) override { m_real->subscribe(s); }
  std::vector<catalog::Delivery> claim_deliveries(const std::string& owner, std::int64_t lease_ms, int limit,
                                                  const std::string& endpoint) override {
    return m_real->claim_deliveries(owner, lease_ms, limit, endpoint);
  }
  bool record_delivery(const std::string& owner, const catalog::DeliveryOutcome& o) override {
    return m_real->record_delivery(owner, o);
  }
  void release_deliveries(const std::string& owner) override { m_real->release_deliveries(owner); }
  std::vector<catalog::Delivery> deliveries(std::optional<catalog::DeliveryState> state, int limit) override {
    return m_real->deliveries(state, limit);
  }
  std::optional<catalog::Delivery> delivery(std::int64_t id) override { return m_real->delivery(id); }
  std::optional<std::int64_t> next_delivery_ms() override { return m_real->next_delivery_ms(); }
  std::int64_t retry_delivery(std::int64_t id) override { return m_real->retry_delivery(id); }
  std::int64_t retry_dead_deliveries() override { return m_real->retry_dead_deliveries(); }
  std::int64_t replay_deliveries(std::int64_t since_ms) override { return m_real->replay_deliveries(since_ms); }
  bool enable_endpoint(const std::string& endpoint) override { return m_real->enable_endpoint(endpoint); }
  std::int64_t prune_deliveries(std::int64_t before_ms) override { return m_real->prune_deliveries(before_ms); }
  std::vector<catalog::EndpointBacklog> webhook_backlog() override { return m_real->webhook_backlog(); }
  int schema_version() override { return m_real->schema_version(); }
  catalog::QueryResult query(const std::string& sql) override { return m_real->query(sql); }
  void insert_rows(const std::string& table, const catalog::QueryResult& rows) override {
    m_real->insert_rows(table, rows);
  }
  // The second connection carries the same faults.
  bool listen_for_work() override { return m_real->listen_for_work(); }
  bool wait_for_work(std::chrono::milliseconds timeout) override { return m_real->wait_for_work(timeout); }
  std::unique_ptr<catalog::ProjectLock> lock(const std::string& name, catalog::LockWait wait) override {
    return m_real->lock(name, wait);
  }
  std::unique_ptr<catalog::Catalog> reopen() override {
    if (m_faults->reopen_fails) throw catalog::CatalogError("catalog.db: cannot open catalog: unable to open database file");
    return std::make_unique<FaultyCatalog>(m_real->reopen(), m_faults);
  }

private:
  std::unique_ptr<catalog::Catalog> m_real;
  std::shared_ptr<CatalogFaults> m_faults;
};

}  // namespace wsp::testing
