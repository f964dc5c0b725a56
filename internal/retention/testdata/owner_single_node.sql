CREATE TABLE IF NOT EXISTS audit.auditpipeline_retention_owner
(
    owner String,
    pipeline_uid String,
    claimed_at DateTime64(6, 'UTC')
)
ENGINE = ReplacingMergeTree(claimed_at)
ORDER BY tuple();
