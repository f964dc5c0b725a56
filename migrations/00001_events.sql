-- The audit events table: one row per audit event as the API server sent it (the aggregator keeps the
-- ResponseComplete stage), split without loss into typed columns and `rest` (docs/schema.md).
--
-- Typed columns hold the fields queries filter and sort on; `rest` holds the event as JSON without them,
-- so the audit ID and the timestamps, most of what does not compress in an event, are stored once.
-- The aggregator takes a field out of rest only when its column gives back exactly the same text
-- (internal/eventrow); the view events_json puts the whole event back together, rest winning over the
-- columns. A column whose field the aggregator takes out of rest must never be dropped.
--
-- Sorted by (namespace, event_time): namespace is the tenant, and "what happened in this tenant lately"
-- (by user, by status, or all of it) reads a few granules, newest first. ReplacingMergeTree drops the
-- copies of an event that a redelivery inserts twice: they share audit_id, stage and therefore the whole
-- sorting key. Granules of 1,024 rows keep a tenant's last hour to one or two of them. The by_time
-- projection (event_time and verb sorted by time) answers counts over all tenants for a time range.
-- ZSTD(1) for every column that has no codec of its own, and through default_compression_codec for the
-- projection's columns, which take the part's default codec rather than their column's. Servers without
-- the fix of ClickHouse issue 84440 ignore that setting and write the projection with LZ4: about 3 bytes
-- a row more.
-- Monthly partitions. No TTL here: the operator reconciles the move to the cold volume and the deletion
-- on the live table.
--
-- A template (docs/migrations.md): Database, OnCluster, Engine and Settings adapt it to a single node
-- or a replicated cluster and to the hot_cold storage policy. Up only: the operator never migrates down.

-- +goose Up
CREATE TABLE IF NOT EXISTS {{.Database}}.events{{.OnCluster}}
(
    event_time    DateTime64(6, 'UTC') CODEC(Delta, ZSTD(1)),
    latency_us    UInt64 CODEC(T64, ZSTD(1)),
    audit_id      UUID,
    stage         LowCardinality(String) CODEC(ZSTD(1)),
    level         LowCardinality(String) CODEC(ZSTD(1)),
    verb          LowCardinality(String) CODEC(ZSTD(1)),
    user          LowCardinality(String) CODEC(ZSTD(1)),
    user_uid      String CODEC(ZSTD(1)),
    api_group     LowCardinality(String) CODEC(ZSTD(1)),
    resource      LowCardinality(String) CODEC(ZSTD(1)),
    subresource   LowCardinality(String) CODEC(ZSTD(1)),
    namespace     LowCardinality(String) CODEC(ZSTD(1)),
    name          String CODEC(ZSTD(1)),
    response_code UInt16 CODEC(ZSTD(1)),
    rest          String CODEC(ZSTD(3)),
    request_received_at DateTime64(6, 'UTC') ALIAS event_time - toIntervalMicrosecond(latency_us),
    PROJECTION by_time (SELECT event_time, verb ORDER BY event_time)
)
ENGINE = {{.Engine "ReplacingMergeTree"}}
PARTITION BY toYYYYMM(event_time)
PRIMARY KEY (namespace, event_time)
ORDER BY (namespace, event_time, audit_id, stage)
{{.Settings "index_granularity = 1024" "deduplicate_merge_projection_mode = 'rebuild'" "default_compression_codec = 'ZSTD(1)'"}};

-- events_json: every column of events and `event`, the whole audit event as JSON, put back together from
-- them (rest wins over the columns). A view, not an ALIAS column of events, because ClickHouse analyses
-- a table's ALIAS expressions in every query on the table, and this one costs milliseconds; filters on the
-- view reach the table's primary key as they would on the table. No lambdas: they made it 6 ms slower.
CREATE VIEW IF NOT EXISTS {{.Database}}.events_json{{.OnCluster}} AS
SELECT
    event_time, request_received_at, latency_us, audit_id, stage, level, verb, user, user_uid, api_group,
    resource, subresource, namespace, name, response_code, rest,
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
FROM {{.Database}}.events;
