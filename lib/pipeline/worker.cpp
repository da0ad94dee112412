#include "pipeline/worker.hpp"

#include <algorithm>
#include <thread>

#include <fmt/format.h>

#include "pipeline/names.hpp"
#include "pipeline/render.hpp"
#include "pipeline/tag.hpp"

namespace wsp::pipeline {

namespace {

constexpr int k_interrupted = 130;
// A signal is noticed within this much of a wait.
constexpr std::chrono::milliseconds k_slice{200};

}  // namespace

Worker::Worker(const config::Config& config, catalog::Catalog& catalog, std::string run_id, WorkerStages& stages,
               const std::atomic<bool>& stop, WorkerSettings settings)
    : m_config(config),
      m_run_id(std::move(run_id)),
      m_stages(stages),
      m_stop(stop),
      m_settings(settings),
      m_reconnection(catalog, settings.reopen, m_run_id, settings.first_reconnect, settings.longest_reconnect),
      m_poll(settings.first_poll) {}

std::int64_t Worker::due() {
  return catalog().count_claimable(to_string(StageName::render), render_settings(m_config.render), "") +
         catalog().count_claimable(to_string(StageName::tag), tag_settings(m_config), to_string(StageName::render));
}

bool Worker::deliveries_due() {
  if (m_config.webhooks.empty()) return false;
  const auto next = catalog().next_delivery_ms();
  return next && *next <= catalog::now_ms();
}

int Worker::run() {
  // Listening starts before the first look at the queue, so that work queued
  // between that look and the wait still wakes the worker.
  m_notified = catalog().listen_for_work();
  int code = 0;
  bool publish_owed = false;
  while (!m_stop) {
    try {
      bool busy = false;
      if (due() > 0) {
        const auto round = m_stages.work(m_config);
        code = std::max(code, round.code);
        publish_owed = publish_owed || round.committed > 0;
        busy = round.committed > 0;
      }
      if (m_stop) break;
      if (publish_owed && !m_config.publish.targets.empty()) publish_owed = !try_publish(code);
      if (m_stop) break;
      if (deliveries_due()) m_stages.deliver(m_config);
      if (busy) {
        m_poll = m_settings.first_poll;
        m_told_waiting = false;
        continue;
      }
      if (!m_settings.forever) {
        // What this worker finished is published before it ends, waiting for
        // the publisher there is.
        if (publish_owed && !m_config.publish.targets.empty()) {
          auto lock = catalog().lock("publish", catalog::LockWait::until_free);
          if (!m_stop) code = std::max(code, m_stages.publish(m_config, *lock));
        }
        break;
      }
      wait(publish_owed);
    } catch (const catalog::CatalogError& e) {
      if (!m_settings.forever || !m_reconnection.possible()) throw;
      reconnect(e.what());
    }
  }
  return m_stop ? k_interrupted : code;
}

void Worker::nap(std::chrono::milliseconds span) {
  const auto until = std::chrono::steady_clock::now() + span;
  while (!m_stop) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - std::chrono::steady_clock::now());
    if (left <= std::chrono::milliseconds::zero()) return;
    std::this_thread::sleep_for(std::min(k_slice, left));
  }
}

// The claims this worker held die with its round: CatalogReconnection hands
// them back on the new connection.
void Worker::reconnect(const std::string& reason) {
  std::string why = reason;
  while (!m_stop) {
    const auto wait = m_reconnection.wait();
    m_stages.note(WorkerNote::catalog_lost, fmt::format("{}; connecting again in {} s", why,
                                                        std::chrono::duration<double>(wait).count()));
    nap(wait);
    if (m_stop) return;
    try {
      m_reconnection.attempt([this](catalog::Catalog& catalog) { m_notified = catalog.listen_for_work(); });
      m_told_waiting = false;
      m_poll = m_settings.first_poll;
      m_stages.note(WorkerNote::reconnected, {});
      return;
    } catch (const catalog::CatalogError& e) {
      why = e.what();
    }
  }
}

bool Worker::try_publish(int& code) {
  auto lock = catalog().lock("publish", catalog::LockWait::no);
  if (!lock->held()) {
    m_stages.note(WorkerNote::publish_deferred, lock->holder());
    return false;
  }
  code = std::max(code, m_stages.publish(m_config, *lock));
  return true;
}

void Worker::wait(bool publish_owed) {
  // Said once per idle spell, not at every look.
  if (!m_told_waiting) m_stages.note(WorkerNote::waiting, {});
  m_told_waiting = true;
  auto timeout = m_notified ? m_settings.fallback : m_poll;
  // A publish put off for another publisher is tried again soon.
  if (publish_owed) timeout = std::min(timeout, m_settings.longest_poll);
  if (!m_config.webhooks.empty())
    if (const auto next = catalog().next_delivery_ms())
      timeout = std::min(timeout, std::chrono::milliseconds(std::max<std::int64_t>(0, *next - catalog::now_ms())));
  const auto until = std::chrono::steady_clock::now() + timeout;
  auto beat = std::chrono::steady_clock::now() + m_settings.heartbeat;
  while (!m_stop) {
    const auto now = std::chrono::steady_clock::now();
    if (now >= until) break;
    if (now >= beat) {
      catalog().heartbeat(m_run_id);
      beat = now + m_settings.heartbeat;
    }
    const auto slice = std::min(k_slice, std::chrono::duration_cast<std::chrono::milliseconds>(until - now));
    if (m_notified) {
      if (catalog().wait_for_work(slice)) {
        m_stages.note(WorkerNote::woken_by_notice, {});
        return;
      }
    } else {
      std::this_thread::sleep_for(slice);
    }
  }
  if (!m_notified) m_poll = std::min(m_poll * 2, m_settings.longest_poll);
}

}  // namespace wsp::pipeline
