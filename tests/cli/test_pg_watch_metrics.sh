# test_watch_metrics.sh with the catalog on PostgreSQL (WSPORTFOLIO_CATALOG_URL):
# /metrics and /healthz read the catalog the watcher works on, not a SQLite file.
export WSP_CATALOG_BACKEND=postgres
source "$(dirname "$0")/test_watch_metrics.sh"
