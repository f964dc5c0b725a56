-- The audit events table: one row per audit event as the API server sent it (the aggregator keeps the
-- ResponseComplete stage), split without loss into typed columns and `rest` (docs/schema.md).
--
-- Typed columns hold the fields queries filter and sort on; `rest` holds the event as JSON without them,
-- so the audit ID and the timestamps, most of what does not compress in an event, are stored once.
-- The aggregator takes a field out of rest only when its column gives back exactly the same text
-- (internal/eventrow); the view events_json puts the whole event back together, rest winning over the
-- columns. A column whose field the aggregator takes out of rest must never be dropped.
--
-- Sorted by (tenant_type, tenant, event_time): the tenant is what the pipeline's spec.tenancy says (the
-- namespace, or annotations of the event; tenant_type is empty with the namespace), and "what happened in
-- this tenant lately" (by user, by status, or all of it) reads a few granules, newest first. cluster
-- names the cluster whose API server sent the event (spec.clusterName), so that several clusters'
-- pipelines can share the tables. ReplacingMergeTree drops the copies of an event that a redelivery
-- inserts twice: they share audit_id, stage and therefore the whole sorting key. Granules of 1,024 rows
-- keep a tenant's last hour to one or two of them; compressed blocks of at least 16 KiB rather than 64
-- cut by four what reading one granule of a small column decompresses (up to 64 of its granules share
-- a block of 64 KiB). The by_time projection (event_time and verb sorted by time) answers counts over
-- all tenants for a time range.
-- ZSTD(1) for every column, as its codec or through default_compression_codec, the part's default
-- codec, which the projection's columns and rest take. rest, most of the bytes, has no codec of its own
-- so that the TTL rule RECOMPRESS CODEC(ZSTD(6)) applies to it: inserts write ZSTD(1), and every merge
-- rewrites it at level 6, about a quarter fewer bytes for 2.5 times the merge's CPU (docs/schema.md,
-- "Compression"). Servers without the fix of ClickHouse issue 84440 ignore default_compression_codec and
-- write the server's default (LZ4) instead: for the projection, about 3 bytes a row more, and for rest
-- in the parts inserts write, until a merge rewrites them at ZSTD(6).
-- Monthly partitions. The TTL here is the recompression only: the operator reconciles the whole TTL of
-- the live tables (events and changes, the same), the recompression, the move to the cold volume and the
-- deletion (internal/tiering.TTL).
--
-- changes holds the writes (create, update, patch, delete, deletecollection) a second time, sorted by
-- tenant and object (resource, namespace, name): a resource's history reads that object's rows only,
-- where events, sorted by time, would read every granule of the tenant's history that holds one of them. The materialized view changes_mv fills
-- it from every insert into events; replicas of a replicated table get its rows by replication, so
-- the view runs once per insert. Its copies of a redelivered event collapse as events' do.
--
-- A template (docs/migrations.md): Database, OnCluster, Engine and Settings adapt it to a single node
-- or a replicated cluster and to the hot_cold storage policy. Up only: the operator never migrates down.

-- +goose Up
-- The columns of events and changes, defined once so that the two tables cannot differ.
{{define "columns"}}
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
    request_received_at DateTime64(6, 'UTC') ALIAS event_time - toIntervalMicrosecond(latency_us){{end}}
CREATE TABLE IF NOT EXISTS {{.Database}}.events{{.OnCluster}}
({{template "columns"}},
    PROJECTION by_time (SELECT event_time, verb ORDER BY event_time)
)
ENGINE = {{.Engine "ReplacingMergeTree"}}
PARTITION BY toYYYYMM(event_time)
PRIMARY KEY (tenant_type, tenant, event_time)
ORDER BY (tenant_type, tenant, event_time, audit_id, stage)
TTL toDateTime(event_time) RECOMPRESS CODEC(ZSTD(6))
{{.Settings "index_granularity = 1024" "min_compress_block_size = 16384" "deduplicate_merge_projection_mode = 'rebuild'" "default_compression_codec = 'ZSTD(1)'"}};

-- changes: the writes of events, sorted by tenant, object and time. The same granules and blocks; no projection.
CREATE TABLE IF NOT EXISTS {{.Database}}.changes{{.OnCluster}}
({{template "columns"}}
)
ENGINE = {{.Engine "ReplacingMergeTree"}}
PARTITION BY toYYYYMM(event_time)
PRIMARY KEY (tenant_type, tenant, resource, namespace, name, event_time)
ORDER BY (tenant_type, tenant, resource, namespace, name, event_time, audit_id, stage)
TTL toDateTime(event_time) RECOMPRESS CODEC(ZSTD(6))
{{.Settings "index_granularity = 1024" "min_compress_block_size = 16384" "default_compression_codec = 'ZSTD(1)'"}};

-- The writes: what changes holds, the view copies and the statement after it backfills.
{{define "writes"}}SELECT tenant_type, tenant, cluster, event_time, latency_us, audit_id, stage, level, verb, user, user_uid,
    api_group, resource, subresource, namespace, name, response_code, rest
FROM {{.Database}}.events
WHERE verb IN ('create', 'update', 'patch', 'delete', 'deletecollection'){{end}}
CREATE MATERIALIZED VIEW IF NOT EXISTS {{.Database}}.changes_mv{{.OnCluster}} TO {{.Database}}.changes AS
{{template "writes" .}};

-- The writes inserted into events before changes_mv existed: none on a new database, the ones of an
-- earlier, interrupted run of this migration otherwise. A row the view copied as well collapses with its
-- copy in merges.
INSERT INTO {{.Database}}.changes
{{template "writes" .}};

-- event_json is the expression of the whole audit event as JSON, put back together from the columns
-- (rest wins over them); the views events_json and changes_json select it as `event`. No lambdas: they
-- made it 6 ms slower.
{{define "event_json"}}JSONMergePatch(concat(
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
        ',"stageTimestamp":"', formatDateTime(event_time, '%Y-%m-%dT%H:%i:%S.%fZ', 'UTC'), '"}'), rest){{end}}

-- events_json and changes_json: every column of their table and `event`, the whole audit event as
-- JSON. Views, not ALIAS columns of the tables, because ClickHouse analyses a table's ALIAS
-- expressions in every query on the table, and this one costs milliseconds; filters on a view reach
-- its table's primary key as they would on the table.
CREATE VIEW IF NOT EXISTS {{.Database}}.events_json{{.OnCluster}} AS
SELECT
    tenant_type, tenant, cluster, event_time, request_received_at, latency_us, audit_id, stage, level, verb,
    user, user_uid, api_group, resource, subresource, namespace, name, response_code, rest,
    {{template "event_json"}} AS event
FROM {{.Database}}.events;

CREATE VIEW IF NOT EXISTS {{.Database}}.changes_json{{.OnCluster}} AS
SELECT
    tenant_type, tenant, cluster, event_time, request_received_at, latency_us, audit_id, stage, level, verb,
    user, user_uid, api_group, resource, subresource, namespace, name, response_code, rest,
    {{template "event_json"}} AS event
FROM {{.Database}}.changes;
