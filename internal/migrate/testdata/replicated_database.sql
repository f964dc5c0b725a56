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
ENGINE = ReplicatedReplacingMergeTree
PARTITION BY toYYYYMM(event_time)
PRIMARY KEY (namespace, resource, name, event_time)
ORDER BY (namespace, resource, name, event_time, audit_id, stage)
SETTINGS storage_policy = 'hot_cold';
