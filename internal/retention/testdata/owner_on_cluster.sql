CREATE TABLE IF NOT EXISTS audit.auditpipeline_retention_owner ON CLUSTER `audit-prod`
(
    owner String,
    pipeline_uid String,
    claimed_at DateTime64(6, 'UTC')
)
ENGINE = ReplicatedReplacingMergeTree(claimed_at)
ORDER BY tuple();
