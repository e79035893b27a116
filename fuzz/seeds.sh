#!/usr/bin/env bash
# Writes the seed corpus under fuzz/corpus/<target>/ (committed): one valid input per event type,
# schema, route and setting, made with the release build's `horizons` and the files in schemas/.
# Run it after a contract change, then `fuzz/run.sh --merge` keeps the corpus small.
#
#   fuzz/seeds.sh            # needs build/release/bin/horizons (make build)
set -euo pipefail
readonly repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
readonly horizons=$repo/build/release/bin/horizons
readonly corpus=$repo/fuzz/corpus
[[ -x $horizons ]] || { echo "seeds.sh: $horizons is missing: run make build" >&2; exit 1; }

seed() { mkdir -p "$corpus/$1"; cat > "$corpus/$1/$2"; }

# One event of each type: framed Avro, its JSON, its body after each version's index byte.
readonly versions=(job-lifecycle:0 job-lifecycle:1 job-metrics:2 job-metrics:3 notifications:4 audit-trail:5
                   system-health:6)
topic_of() { case $1 in job.metrics.*|job.performance.*|resource.*) echo job-metrics ;;
                        notification.*|alert.*) echo notifications ;; audit.*) echo audit-trail ;;
                        system.*|consumer.*) echo system-health ;; *) echo job-lifecycle ;; esac; }
for type in $("$horizons" events types); do
  json=$("$horizons" events sample --type "$type" --count 1 --seed 7)
  printf '%s' "$json" | seed json_event "$type.json"
  hex=$(printf '%s\n' "$json" | "$horizons" events encode --hex)
  printf '%s' "$hex" | xxd -r -p | seed avro_framed "$type.avro"
  for entry in "${versions[@]}"; do
    [[ ${entry%%:*} == $(topic_of "$type") ]] || continue
    { printf "\\x$(printf '%02x' "${entry##*:}")"; printf '%s' "${hex:10}" | xxd -r -p; } |
      seed avro_resolution "$type.v${entry##*:}.body"
  done
done
{ printf '%s\0' dlq-original-topic job-lifecycle dlq-original-partition 3 dlq-original-offset 42 \
    dlq-error-class handler dlq-error-message 'quota exceeded' dlq-attempts 3 dlq-failed-at 1765000000000000
  cat "$corpus/avro_framed/job.submitted.avro"; } | seed dead_letter letter

for schema in "$repo"/schemas/*.avsc "$repo"/schemas/history/*/*.avsc; do
  seed avro_schema "$(basename "$(dirname "$schema")")-$(basename "$schema")" < "$schema"
done

seed config_file plaintext <<'CONF'
# a comment
KAFKA_BROKERS=127.0.0.1:9092,127.0.0.1:9093
KAFKA_CLIENT_ID=horizons
KAFKA_RDKAFKA_LINGER_MS=5
CONF
seed config_file sasl <<'CONF'
KAFKA_BROKERS=broker:9094
KAFKA_SECURITY_PROTOCOL=sasl_plaintext
KAFKA_SASL_MECHANISM=SCRAM-SHA-512
KAFKA_SASL_USERNAME=horizons
KAFKA_SASL_PASSWORD=secret
SCHEMA_REGISTRY_URL=http://127.0.0.1:8081
CONF

seed job_submission minimal <<<'{"job_name": "m87-cal"}'
seed job_submission full <<<'{"job_name": "m87-cal", "pipeline": "alpha_cal", "tacc_system": "frontera", "dataset_id": "ds-1", "job_id": "job-1", "user_id": "alice", "resources": {"nodes": 4, "cpus_per_node": 56, "gpus": 0, "memory_gb": 128, "wall_time_minutes": 60}, "priority": "HIGH", "parameters": {"band": "L"}}'

# HS256 tokens under http_jobs.cpp's secret, valid until 2100: alice, and an admin.
token() {
  python3 - "$1" "$2" <<'PY'
import base64, hashlib, hmac, json, sys
b64 = lambda b: base64.urlsafe_b64encode(b).rstrip(b"=").decode()
head = b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
claims = {"sub": sys.argv[1], "iss": "horizons", "aud": "horizons-job-api", "exp": 4102444800, "iat": 1765000000}
if sys.argv[2] == "admin": claims["roles"] = ["admin"]
body = b64(json.dumps(claims).encode())
mac = hmac.new(b"horizons-fuzz-secret-32-bytes-long!", f"{head}.{body}".encode(), hashlib.sha256).digest()
print(f"{head}.{body}.{b64(mac)}")
PY
}
alice=$(token alice user)
admin=$(token ops admin)
request() { printf '%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\n%s\r\n%s' "$1" "$2" "$3" "$4"; }
body='{"job_name": "m87", "job_id": "job-fuzz-1", "dataset_id": "vla-0001"}'
request POST /jobs "Authorization: Bearer $alice"$'\r\nContent-Type: application/json\r\nContent-Length: '${#body}$'\r\n' "$body" |
  seed http_jobs submit
request GET /jobs/job-fuzz-1 "Authorization: Bearer $admin"$'\r\n' "" | seed http_jobs show
request POST /jobs/job-fuzz-1/cancel "Authorization: Bearer $alice"$'\r\nContent-Length: 0\r\n' "" | seed http_jobs cancel
request GET /jobs/job-fuzz-1 "Authorization: Bearer nope"$'\r\n' "" | seed http_jobs bad-token
request GET /metrics "" "" | seed http_jobs metrics

for target in / /dashboard.js /dashboard.css /healthz /api/overview /api/history /api/stream \
              '/api/jobs?prefix=job-&limit=5' /api/jobs/job-fuzz-1 /metrics; do
  name=$(printf '%s' "$target" | tr -c 'A-Za-z0-9\n' '_'); request GET "$target" "" "" | seed http_dashboard "get$name"
done

schema='{"schema": "{\"type\": \"record\", \"name\": \"R\", \"fields\": [{\"name\": \"a\", \"type\": \"int\"}]}"}'
json=$'Content-Type: application/vnd.schemaregistry.v1+json\r\nContent-Length: '${#schema}$'\r\n'
request POST /subjects/s-value/versions "$json" "$schema" | seed http_registry register
request POST /subjects/s-value "$json" "$schema" | seed http_registry lookup
request POST /compatibility/subjects/s-value/versions/latest "$json" "$schema" | seed http_registry compatibility
config='{"compatibility": "BACKWARD"}'
request PUT /config/s-value $'Content-Length: '${#config}$'\r\n' "$config" | seed http_registry config
for target in /subjects /subjects/s-value/versions /subjects/s-value/versions/1/schema /schemas/ids/1 \
              /schemas/types /config /horizons/status '/subjects?deleted=true'; do
  name=$(printf '%s' "$target" | tr -c 'A-Za-z0-9\n' '_'); request GET "$target" "" "" | seed http_registry "get$name"
done
request DELETE '/subjects/s-value/versions/1?permanent=true' "" "" | seed http_registry delete
echo "seeds.sh: $(find "$corpus" -type f | wc -l) seeds under fuzz/corpus"
