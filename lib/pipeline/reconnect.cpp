#include "pipeline/reconnect.hpp"

#include <algorithm>

namespace wsp::pipeline {

CatalogReconnection::CatalogReconnection(catalog::Catalog& catalog, Reopen reopen, std::string run_id,
                                         std::chrono::milliseconds first, std::chrono::milliseconds longest)
    : m_catalog(&catalog),
      m_reopen(std::move(reopen)),
      m_run_id(std::move(run_id)),
      m_first(first),
      m_longest(longest),
      m_wait(first) {}

void CatalogReconnection::attempt(const std::function<void(catalog::Catalog&)>& take_up) {
  try {
    m_catalog = &m_reopen();
    m_catalog->release_leases(m_run_id);
    if (take_up) take_up(*m_catalog);
    m_wait = m_first;
  } catch (const catalog::CatalogError&) {
    m_wait = std::min(m_wait * 2, m_longest);
    throw;
  }
}

}  // namespace wsp::pipeline
