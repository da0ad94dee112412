# The events of a run with bad files and of a failed verify reach a receiver
# that checks their signatures: run.started, images.rejected (one event
# listing every rejected file with its reason), review.needed, run.completed,
# verify.failed with its findings; each payload versioned in the envelope.
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"
source "$here/webhooks_lib.sh"
require jq "read the JSON lines"

mkdir bodies
start_receiver

sample --out shoot --count 3 --megapixels 1 --with-bad-files
cat >shoot/wsportfolio.yaml <<YAML
tagging: { min_confidence: 1.0 }
webhooks:
  - { url: "$base/ok", secret_env: WEBHOOK_SECRET,
      events: [run.started, run.completed, run.failed, images.rejected, images.failed, review.needed, verify.failed] }
YAML
wsp_code run shoot 2>run.err
rejected_in_catalog=$(sql shoot "SELECT count(*) FROM images WHERE status = 'rejected'")
[ "$rejected_in_catalog" -gt 0 ] || fail "the sample has no rejected file"
expect_eq "$(jq -r .type received.jsonl | sort | tr '\n' ' ')" "images.rejected review.needed run.completed run.started " "the run's events, one each"
expect_eq "$(jq -s 'all(.valid)' received.jsonl)" true "every signature checks out"
rejected=$(sql shoot "SELECT detail FROM events WHERE kind = 'images.rejected'")
expect_eq "$(jq '.images | length' <<<"$rejected")" "$rejected_in_catalog" "images.rejected lists every rejected file"
expect_eq "$(jq -r '.images | all(.reason != "")' <<<"$rejected")" true "each with its reason"
expect_eq "$(jq -r .version <<<"$rejected")" 1 "versioned"
expect_eq "$(sql shoot "SELECT json_extract(detail, '\$.count') FROM events WHERE kind = 'review.needed'")" \
  "$(sql shoot "SELECT count(*) FROM tags")" "every photo under a confidence of 1.0 needs review"

# A render gone: verify fails and says so.
rm -f "$(find shoot/.wsportfolio/renders -type f | head -1)"
wsp_code verify shoot 2>verify.err
expect_eq "$code" 3 "verify finds the missing render"
expect_eq "$(jq -r .type received.jsonl | tail -1)" "verify.failed" "verify.failed sent"
verify_detail=$(sql shoot "SELECT detail FROM events WHERE kind = 'verify.failed'")
[ "$(jq '.count' <<<"$verify_detail")" -ge 1 ] || fail "verify.failed counts no finding: $verify_detail"
expect_eq "$(jq -r '.findings[0].kind' <<<"$verify_detail" | cut -d. -f1)" render "the finding's kind"
