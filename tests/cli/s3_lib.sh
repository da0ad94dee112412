# An s3rver (npm @20minutes/s3rver) on 127.0.0.1 for the S3 publish tests,
# with its own key pair, logging every request it receives, and Debian's aws
# command line as an independent reader. Stopped by its pid when the test ends.
s3_modules=${WSP_NODE_MODULES:-}
s3_cli="$s3_modules/@20minutes/s3rver/lib/cli.js"
[ -n "$s3_modules" ] && [ -f "$s3_cli" ] || unavailable "s3rver is not installed"
require node "run s3rver"
require aws "read the bucket back (awscli)"
require jq "read the events"

S3_BUCKET=portfolios
S3_KEY_ID=AKIDWEDDINGTEST01
S3_SECRET_VALUE='wJalrXUtnFEMI-K7MDENG-bPxRfiCYsecret9q'
export no_proxy=127.0.0.1,localhost NO_PROXY=127.0.0.1,localhost

s3_start() {
  mkdir -p s3data
  local account="$s3_modules/@20minutes/s3rver/lib/models/account.js"
  # Each request is written down as it arrives: "REQUEST PUT /portfolios/key".
  NODE_OPTIONS=--openssl-legacy-provider node -e "
    const http = require('http');
    const fs = require('fs');
    const path = require('path');
    const emit = http.Server.prototype.emit;
    // s3rver lacks ListParts, AbortMultipartUpload and ListMultipartUploads:
    // they are answered here as AWS documents them, from its own store of
    // uploads (s3data/BUCKET/._S3rver_uploads/ID/key, N and N.md5), for
    // requests that carry this test's key.
    const uploads = path.join('s3data', '$S3_BUCKET', '._S3rver_uploads');
    const missing = (response, id) => {
      response.writeHead(404, { 'Content-Type': 'application/xml' });
      response.end('<Error><Code>NoSuchUpload</Code><Message>' + id + '</Message></Error>');
    };
    const escaped = (text) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
    // ListMultipartUploads: prefix, max-uploads, key-marker and upload-id-marker honoured.
    const listUploads = (url, response) => {
      const prefix = url.searchParams.get('prefix') || '';
      const most = Number(url.searchParams.get('max-uploads') || 1000);
      const keyMarker = url.searchParams.get('key-marker') || '';
      const idMarker = url.searchParams.get('upload-id-marker') || '';
      const encode = url.searchParams.get('encoding-type') === 'url';
      const all = (fs.existsSync(uploads) ? fs.readdirSync(uploads) : [])
        .filter((id) => fs.existsSync(path.join(uploads, id, 'key')))
        .map((id) => ({ id, key: fs.readFileSync(path.join(uploads, id, 'key'), 'utf8'),
                        initiated: fs.statSync(path.join(uploads, id, 'key')).mtime.toISOString() }))
        .filter((u) => u.key.startsWith(prefix))
        .filter((u) => u.key > keyMarker || (u.key === keyMarker && idMarker && u.id > idMarker))
        .sort((a, b) => a.key < b.key ? -1 : a.key > b.key ? 1 : a.id < b.id ? -1 : 1);
      const page = all.slice(0, most);
      const truncated = all.length > page.length;
      const name = (key) => escaped(encode ? encodeURIComponent(key) : key);
      const last = page[page.length - 1];
      response.writeHead(200, { 'Content-Type': 'application/xml' });
      response.end('<ListMultipartUploadsResult><Bucket>$S3_BUCKET</Bucket>' +
        (encode ? '<EncodingType>url</EncodingType>' : '') + '<MaxUploads>' + most + '</MaxUploads>' +
        '<IsTruncated>' + truncated + '</IsTruncated>' +
        (truncated ? '<NextKeyMarker>' + name(last.key) + '</NextKeyMarker><NextUploadIdMarker>' + last.id +
                     '</NextUploadIdMarker>' : '') +
        page.map((u) => '<Upload><Key>' + name(u.key) + '</Key><UploadId>' + u.id + '</UploadId><Initiated>' +
                        u.initiated + '</Initiated><StorageClass>STANDARD</StorageClass></Upload>').join('') +
        '</ListMultipartUploadsResult>');
      return true;
    };
    const multipart = (request, response) => {
      const url = new URL(request.url, 'http://127.0.0.1');
      if (request.method === 'GET' && url.pathname === '/$S3_BUCKET' && url.searchParams.has('uploads') &&
          String(request.headers.authorization).includes('Credential=$S3_KEY_ID/'))
        return listUploads(url, response);
      const id = url.searchParams.get('uploadId');
      if (!id || url.searchParams.has('partNumber') || !['GET', 'DELETE'].includes(request.method)) return false;
      if (!String(request.headers.authorization).includes('Credential=$S3_KEY_ID/')) return false;
      const dir = path.join(uploads, path.basename(id));
      if (!fs.existsSync(dir)) return missing(response, id), true;
      if (request.method === 'DELETE') {
        fs.rmSync(dir, { recursive: true, force: true });
        response.writeHead(204);
        return response.end(), true;
      }
      const parts = fs.readdirSync(dir).filter((n) => /^[0-9]+$/.test(n) && fs.existsSync(path.join(dir, n + '.md5')))
        .map(Number).sort((a, b) => a - b).map((n) => '<Part><PartNumber>' + n + '</PartNumber><ETag>\"' +
          fs.readFileSync(path.join(dir, n + '.md5'), 'utf8') + '\"</ETag><Size>' +
          fs.statSync(path.join(dir, String(n))).size + '</Size></Part>');
      response.writeHead(200, { 'Content-Type': 'application/xml' });
      return response.end('<ListPartsResult><UploadId>' + id + '</UploadId><IsTruncated>false</IsTruncated>' +
                          parts.join('') + '</ListPartsResult>'), true;
    };
    http.Server.prototype.emit = function (event, request, ...rest) {
      if (event === 'request') process.stdout.write('REQUEST ' + request.method + ' ' + request.url + '\\n');
      if (event === 'request' && multipart(request, rest[0])) return true;
      return emit.call(this, event, request, ...rest);
    };
    require('$account').DUMMY_ACCOUNT.createKeyPair('$S3_KEY_ID', '$S3_SECRET_VALUE');
    require('$s3_cli').parseAsync(['node', 's3rver', '-d', 's3data', '-a', '127.0.0.1', '-p', '0',
                                   '--silent', '--configure-bucket', '$S3_BUCKET'])" >s3.log 2>&1 &
  s3_pid=$!
  trap 'kill $s3_pid 2>/dev/null || true; rm -rf "$work"' EXIT
  for _ in $(seq 1 300); do
    S3_PORT=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' s3.log | head -1)
    [ -n "$S3_PORT" ] && break
    kill -0 "$s3_pid" 2>/dev/null || { cat s3.log >&2; fail "s3rver did not start"; }
    sleep 0.1
  done
  [ -n "$S3_PORT" ] || { cat s3.log >&2; fail "s3rver did not say where it listens"; }
  S3_ENDPOINT="http://127.0.0.1:$S3_PORT"
}

# The fault-injecting proxy (s3_fault_proxy.py) in front of s3rver, its
# faults read from proxy.json at each request; PROXY_ENDPOINT is its address.
s3_proxy_start() {
  [ -f proxy.json ] || echo '{}' >proxy.json
  python3 "$here/s3_fault_proxy.py" "$S3_PORT" proxy.port proxy.log proxy.json 2>proxy.err &
  proxy_pid=$!
  trap 'kill $s3_pid $proxy_pid 2>/dev/null || true; rm -rf "$work"' EXIT
  for _ in $(seq 1 100); do [ -s proxy.port ] && break; sleep 0.1; done
  [ -s proxy.port ] || { cat proxy.err >&2; fail "the fault proxy did not start"; }
  PROXY_ENDPOINT="http://127.0.0.1:$(cat proxy.port)"
}

# The requests s3rver has received so far.
s3_requests() { grep -c '^REQUEST ' s3.log || true; }

s3api() {
  AWS_ACCESS_KEY_ID=$S3_KEY_ID AWS_SECRET_ACCESS_KEY=$S3_SECRET_VALUE AWS_DEFAULT_REGION=us-east-1 \
    AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null \
    aws --endpoint-url "$S3_ENDPOINT" s3api "$@"
}

# Every key under a prefix, one a line, sorted.
s3_keys() { s3api list-objects-v2 --bucket "$S3_BUCKET" --prefix "$1" | jq -r '.Contents[]?.Key' | sort; }

# A shoot of two photos that `run` published to the bucket under the prefix
# "wedding", with the store's keys in the standard AWS_* variables.
s3_published_shoot() {
  sample --out shoot --count 2 --megapixels 1
  cat >shoot/wsportfolio.yaml <<YAML
publish:
  targets:
    - { name: cdn, type: s3, bucket: $S3_BUCKET, endpoint: "$S3_ENDPOINT", path_style: true, prefix: wedding }
YAML
  export AWS_ACCESS_KEY_ID=$S3_KEY_ID AWS_SECRET_ACCESS_KEY=$S3_SECRET_VALUE AWS_SHARED_CREDENTIALS_FILE=/dev/null
  (cd shoot && wsp run) 2>run.err || { cat run.err >&2; fail "run failed"; }
}
