-- Options: database audit, cluster "audit", replicated database true, storage policy "hot_cold"
-- DDL runs with distributed_ddl_task_timeout = 120

-- the database
CREATE DATABASE IF NOT EXISTS audit ON CLUSTER `audit`
ENGINE = Replicated('/clickhouse/databases/audit', '{shard}', '{replica}');

-- the lock, with Keeper
CREATE TABLE IF NOT EXISTS audit.schema_migrations_lock
(
    epoch UInt64,
    owner String,
    token String,
    claimed_at DateTime64(6, 'UTC'),
    expires_at DateTime64(3, 'UTC'),
    written_at DateTime64(6, 'UTC')
)
ENGINE = KeeperMap('/auditpipeline/audit/schema_migrations_lock')
PRIMARY KEY epoch;

-- checksum records
CREATE TABLE IF NOT EXISTS audit.schema_migrations_checksums
(
    version Int64,
    name String,
    checksum String,
    applied_at DateTime64(3, 'UTC'),
    duration_ms UInt64,
    applied_by String
)
ENGINE = ReplicatedReplacingMergeTree(applied_at)
ORDER BY version;

-- migration runs
CREATE TABLE IF NOT EXISTS audit.schema_migrations_attempts
(
    version Int64,
    name String,
    checksum String,
    started_at DateTime64(3, 'UTC'),
    started_by String
)
ENGINE = ReplicatedMergeTree
ORDER BY (version, started_at);

-- goose's version table
CREATE TABLE IF NOT EXISTS audit.goose_db_version
(
    version_id Int64,
    is_applied UInt8,
    date Date DEFAULT now(),
    tstamp DateTime DEFAULT now()
)
ENGINE = ReplicatedMergeTree
ORDER BY version_id;

-- before reading the state
SYSTEM SYNC REPLICA audit.goose_db_version LIGHTWEIGHT;

-- before reading the state
SYSTEM SYNC REPLICA audit.schema_migrations_checksums LIGHTWEIGHT;

-- 00001_events.sql, statement 1
CREATE TABLE IF NOT EXISTS audit.events
(
    tenant_type   LowCardinality(String) CODEC(ZSTD(1)),
    tenant        LowCardinality(String) CODEC(ZSTD(1)),
    cluster       LowCardinality(String) CODEC(ZSTD(1)),
    event_time    DateTime64(6, 'UTC') CODEC(Delta, ZSTD(1)),
    latency_us    UInt64 CODEC(T64, ZSTD(1)),
    audit_id      UUID,
    stage         LowCardinality(String) CODEC(ZSTD(1)),
    level         LowCardinality(String) CODEC(ZSTD(1)),
    verb          LowCardinality(String) CODEC(ZSTD(1)),
    user          LowCardinality(String) CODEC(ZSTD(1)),
    user_uid      LowCardinality(String) CODEC(ZSTD(1)),
    api_group     LowCardinality(String) CODEC(ZSTD(1)),
    resource      LowCardinality(String) CODEC(ZSTD(1)),
    subresource   LowCardinality(String) CODEC(ZSTD(1)),
    namespace     LowCardinality(String) CODEC(ZSTD(1)),
    name          String CODEC(ZSTD(1)),
    response_code UInt16 CODEC(ZSTD(1)),
    rest          String,
    request_received_at DateTime64(6, 'UTC') ALIAS event_time - toIntervalMicrosecond(latency_us),
    PROJECTION by_time (SELECT event_time, verb ORDER BY event_time)
)
ENGINE = ReplicatedReplacingMergeTree
PARTITION BY toYYYYMM(event_time)
PRIMARY KEY (tenant_type, tenant, event_time)
ORDER BY (tenant_type, tenant, event_time, audit_id, stage)
TTL toDateTime(event_time) RECOMPRESS CODEC(ZSTD(6))
SETTINGS index_granularity = 1024, min_compress_block_size = 16384, deduplicate_merge_projection_mode = 'rebuild', default_compression_codec = 'ZSTD(1)', storage_policy = 'hot_cold';

-- 00001_events.sql, statement 2
CREATE TABLE IF NOT EXISTS audit.changes
(
    tenant_type   LowCardinality(String) CODEC(ZSTD(1)),
    tenant        LowCardinality(String) CODEC(ZSTD(1)),
    cluster       LowCardinality(String) CODEC(ZSTD(1)),
    event_time    DateTime64(6, 'UTC') CODEC(Delta, ZSTD(1)),
    latency_us    UInt64 CODEC(T64, ZSTD(1)),
    audit_id      UUID,
    stage         LowCardinality(String) CODEC(ZSTD(1)),
    level         LowCardinality(String) CODEC(ZSTD(1)),
    verb          LowCardinality(String) CODEC(ZSTD(1)),
    user          LowCardinality(String) CODEC(ZSTD(1)),
    user_uid      LowCardinality(String) CODEC(ZSTD(1)),
    api_group     LowCardinality(String) CODEC(ZSTD(1)),
    resource      LowCardinality(String) CODEC(ZSTD(1)),
    subresource   LowCardinality(String) CODEC(ZSTD(1)),
    namespace     LowCardinality(String) CODEC(ZSTD(1)),
    name          String CODEC(ZSTD(1)),
    response_code UInt16 CODEC(ZSTD(1)),
    rest          String,
    request_received_at DateTime64(6, 'UTC') ALIAS event_time - toIntervalMicrosecond(latency_us)
)
ENGINE = ReplicatedReplacingMergeTree
PARTITION BY toYYYYMM(event_time)
PRIMARY KEY (tenant_type, tenant, resource, namespace, name, event_time)
ORDER BY (tenant_type, tenant, resource, namespace, name, event_time, audit_id, stage)
TTL toDateTime(event_time) RECOMPRESS CODEC(ZSTD(6))
SETTINGS index_granularity = 1024, min_compress_block_size = 16384, default_compression_codec = 'ZSTD(1)', storage_policy = 'hot_cold';

-- 00001_events.sql, statement 3
CREATE MATERIALIZED VIEW IF NOT EXISTS audit.changes_mv TO audit.changes AS
SELECT tenant_type, tenant, cluster, event_time, latency_us, audit_id, stage, level, verb, user, user_uid,
    api_group, resource, subresource, namespace, name, response_code, rest
FROM audit.events
WHERE verb IN ('create', 'update', 'patch', 'delete', 'deletecollection');

-- 00001_events.sql, statement 4
INSERT INTO audit.changes
SELECT tenant_type, tenant, cluster, event_time, latency_us, audit_id, stage, level, verb, user, user_uid,
    api_group, resource, subresource, namespace, name, response_code, rest
FROM audit.events
WHERE verb IN ('create', 'update', 'patch', 'delete', 'deletecollection');

-- 00001_events.sql, statement 5
CREATE VIEW IF NOT EXISTS audit.events_json AS
SELECT
    tenant_type, tenant, cluster, event_time, request_received_at, latency_us, audit_id, stage, level, verb,
    user, user_uid, api_group, resource, subresource, namespace, name, response_code, rest,
    JSONMergePatch(concat(
        '{"kind":"Event","apiVersion":"audit.k8s.io/v1"',
        if(level = '', '', concat(',"level":', toJSONString(toString(level)))),
        if(audit_id = toUUID('00000000-0000-0000-0000-000000000000'), '', concat(',"auditID":"', toString(audit_id), '"')),
        if(stage = '', '', concat(',"stage":', toJSONString(toString(stage)))),
        if(verb = '', '', concat(',"verb":', toJSONString(toString(verb)))),
        if(user = '' AND user_uid = '', '', concat(',"user":{', substring(concat(
            if(user = '', '', concat(',"username":', toJSONString(toString(user)))),
            if(user_uid = '', '', concat(',"uid":', toJSONString(user_uid)))), 2), '}')),
        if(api_group = '' AND resource = '' AND subresource = '' AND namespace = '' AND name = '', '', concat(',"objectRef":{', substring(concat(
            if(api_group = '', '', concat(',"apiGroup":', toJSONString(toString(api_group)))),
            if(resource = '', '', concat(',"resource":', toJSONString(toString(resource)))),
            if(subresource = '', '', concat(',"subresource":', toJSONString(toString(subresource)))),
            if(namespace = '', '', concat(',"namespace":', toJSONString(toString(namespace)))),
            if(name = '', '', concat(',"name":', toJSONString(name)))), 2), '}')),
        if(response_code = 0, '', concat(',"responseStatus":{"code":', toString(response_code), '}')),
        ',"requestReceivedTimestamp":"', formatDateTime(event_time - toIntervalMicrosecond(latency_us), '%Y-%m-%dT%H:%i:%S.%fZ', 'UTC'), '"',
        ',"stageTimestamp":"', formatDateTime(event_time, '%Y-%m-%dT%H:%i:%S.%fZ', 'UTC'), '"}'), rest) AS event
FROM audit.events;

-- 00001_events.sql, statement 6
CREATE VIEW IF NOT EXISTS audit.changes_json AS
SELECT
    tenant_type, tenant, cluster, event_time, request_received_at, latency_us, audit_id, stage, level, verb,
    user, user_uid, api_group, resource, subresource, namespace, name, response_code, rest,
    JSONMergePatch(concat(
        '{"kind":"Event","apiVersion":"audit.k8s.io/v1"',
        if(level = '', '', concat(',"level":', toJSONString(toString(level)))),
        if(audit_id = toUUID('00000000-0000-0000-0000-000000000000'), '', concat(',"auditID":"', toString(audit_id), '"')),
        if(stage = '', '', concat(',"stage":', toJSONString(toString(stage)))),
        if(verb = '', '', concat(',"verb":', toJSONString(toString(verb)))),
        if(user = '' AND user_uid = '', '', concat(',"user":{', substring(concat(
            if(user = '', '', concat(',"username":', toJSONString(toString(user)))),
            if(user_uid = '', '', concat(',"uid":', toJSONString(user_uid)))), 2), '}')),
        if(api_group = '' AND resource = '' AND subresource = '' AND namespace = '' AND name = '', '', concat(',"objectRef":{', substring(concat(
            if(api_group = '', '', concat(',"apiGroup":', toJSONString(toString(api_group)))),
            if(resource = '', '', concat(',"resource":', toJSONString(toString(resource)))),
            if(subresource = '', '', concat(',"subresource":', toJSONString(toString(subresource)))),
            if(namespace = '', '', concat(',"namespace":', toJSONString(toString(namespace)))),
            if(name = '', '', concat(',"name":', toJSONString(name)))), 2), '}')),
        if(response_code = 0, '', concat(',"responseStatus":{"code":', toString(response_code), '}')),
        ',"requestReceivedTimestamp":"', formatDateTime(event_time - toIntervalMicrosecond(latency_us), '%Y-%m-%dT%H:%i:%S.%fZ', 'UTC'), '"',
        ',"stageTimestamp":"', formatDateTime(event_time, '%Y-%m-%dT%H:%i:%S.%fZ', 'UTC'), '"}'), rest) AS event
FROM audit.changes;
