# test_publish_s3_multipart.sh with the catalog on PostgreSQL (WSPORTFOLIO_CATALOG_URL).
export WSP_CATALOG_BACKEND=postgres
source "$(dirname "$0")/test_publish_s3_multipart.sh"
