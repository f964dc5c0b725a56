-- The audit events table: one row per audit event as the API server sent it (the aggregator keeps the
-- ResponseComplete stage), the fields people search by as typed columns, and the whole event as JSON.
--
-- Sorted by (namespace, resource, name, event_time): namespace is the tenant, and successive versions
-- of one object sit together, which serves "what happened to this object" and compresses the JSON best
-- (see DESIGN.md, "The audit schema"). ReplacingMergeTree drops the copies of an event that a redelivery
-- inserts twice: they share audit_id, stage and therefore the whole sorting key. Monthly partitions.
-- No TTL here: the operator reconciles the move to the cold volume and the deletion on the live table.
--
-- A template (docs/migrations.md): Database, OnCluster, Engine and Settings adapt it to a single node
-- or a replicated cluster and to the hot_cold storage policy. Up only: the operator never migrates down.

-- +goose Up
CREATE TABLE IF NOT EXISTS {{.Database}}.events{{.OnCluster}}
(
    event_time          DateTime64(3, 'UTC') CODEC(Delta, ZSTD(1)),
    audit_id            UUID,
    stage               LowCardinality(String),
    level               LowCardinality(String),
    verb                LowCardinality(String),
    request_uri         String CODEC(ZSTD(1)),
    user                LowCardinality(String),
    user_uid            String CODEC(ZSTD(1)),
    user_groups         Array(LowCardinality(String)),
    impersonated_user   LowCardinality(String),
    source_ip           IPv6,
    user_agent          LowCardinality(String),
    api_group           LowCardinality(String),
    api_version         LowCardinality(String),
    resource            LowCardinality(String),
    subresource         LowCardinality(String),
    namespace           LowCardinality(String),
    name                String CODEC(ZSTD(1)),
    response_code       UInt16,
    request_received_at DateTime64(6, 'UTC') CODEC(Delta, ZSTD(1)),
    stage_at            DateTime64(6, 'UTC') CODEC(Delta, ZSTD(1)),
    event_json          String CODEC(ZSTD(3)),
    INDEX idx_audit_id audit_id TYPE bloom_filter(0.01) GRANULARITY 4,
    INDEX idx_user user TYPE bloom_filter(0.01) GRANULARITY 4
)
ENGINE = {{.Engine "ReplacingMergeTree"}}
PARTITION BY toYYYYMM(event_time)
PRIMARY KEY (namespace, resource, name, event_time)
ORDER BY (namespace, resource, name, event_time, audit_id, stage)
{{.Settings}};
