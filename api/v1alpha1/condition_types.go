package v1alpha1

// Condition types of an AuditPipeline. Ready summarises the others; Reconciling and Stalled follow the
// kstatus conventions and are present only while true; each component condition is True when that
// component is healthy.
const (
	// ConditionReady is True when every component is ready and the schema is at its target version.
	ConditionReady = "Ready"

	// ConditionReconciling is True while the operator is making changes or waiting for a component to
	// converge. It is removed when the pipeline is Ready or Stalled.
	ConditionReconciling = "Reconciling"

	// ConditionStalled is True when the operator cannot make progress without a change from a person
	// (an invalid spec, a changed migration file). It is removed when the cause is gone.
	ConditionStalled = "Stalled"

	// ConditionClickHouseReady is True when ClickHouse is reachable (external) or its installation is
	// complete (managed).
	ConditionClickHouseReady = "ClickHouseReady"

	// ConditionStreamReady is True when the JetStream stream and consumer exist with the desired settings.
	ConditionStreamReady = "StreamReady"

	// ConditionCollectorReady is True when every Vector agent pod runs the current configuration.
	ConditionCollectorReady = "CollectorReady"

	// ConditionAggregatorReady is True when the Vector aggregator pods run the current configuration.
	ConditionAggregatorReady = "AggregatorReady"

	// ConditionSchemaReady is True when the ClickHouse schema is at the target version.
	ConditionSchemaReady = "SchemaReady"

	// ConditionEventsFlowing is True when the canary's audit events reach ClickHouse (spec.canary). It is
	// not part of Ready: Ready says the pipeline is deployed as specified, EventsFlowing that it carries
	// events, which also depends on the API server's audit configuration.
	ConditionEventsFlowing = "EventsFlowing"
)

// ComponentConditions are the conditions that Ready summarises, in pipeline order.
var ComponentConditions = []string{
	ConditionClickHouseReady,
	ConditionSchemaReady,
	ConditionStreamReady,
	ConditionCollectorReady,
	ConditionAggregatorReady,
}

// Reasons of the Ready, Reconciling and Stalled conditions.
const (
	// ReasonSucceeded means every component is ready (Ready=True).
	ReasonSucceeded = "Succeeded"

	// ReasonProgressing means the operator is acting on the spec or waiting for components (Reconciling).
	ReasonProgressing = "Progressing"

	// ReasonComponentsNotReady means at least one component condition is not True (Ready=False); the
	// message names them.
	ReasonComponentsNotReady = "ComponentsNotReady"

	// ReasonSuspended means spec.suspend is true and the operator changes nothing (Ready=False).
	ReasonSuspended = "Suspended"

	// ReasonDeleting means the AuditPipeline is being deleted (Ready=False).
	ReasonDeleting = "Deleting"

	// ReasonInvalidSpec means the spec passed the API server's validation but cannot be acted on, e.g. a
	// schema target version this operator does not ship (Stalled=True).
	ReasonInvalidSpec = "InvalidSpec"

	// ReasonReconcileFailed means the last reconciliation hit an error and will be retried with backoff
	// (Ready=False); the message holds the error.
	ReasonReconcileFailed = "ReconcileFailed"
)

// Reasons of EventsFlowing.
const (
	// ReasonFlowing means the newest canary due was found in ClickHouse (EventsFlowing=True).
	ReasonFlowing = "Flowing"
	// ReasonCanaryLate means a canary has not been found after half of spec.canary.deadline
	// (EventsFlowing=False).
	ReasonCanaryLate = "Late"
	// ReasonCanaryLost means a canary was not found within spec.canary.deadline, and none since
	// (EventsFlowing=False).
	ReasonCanaryLost = "Lost"
	// ReasonCanaryDisabled means spec.canary.interval is 0s (EventsFlowing=Unknown).
	ReasonCanaryDisabled = "Disabled"
	// ReasonNotYetSeen means no canary has been found yet and none is late (EventsFlowing=Unknown).
	ReasonNotYetSeen = "NotYetSeen"
)

// Reasons of the component conditions.
const (
	// ReasonNotImplemented means this version of the operator does not reconcile that component yet, so
	// it cannot vouch for it (component condition Unknown).
	ReasonNotImplemented = "NotImplemented"

	// ReasonReady means the component is healthy (component condition True).
	ReasonReady = "Ready"

	// ReasonSecretNotFound means a referenced Secret or key does not exist (component condition False).
	ReasonSecretNotFound = "SecretNotFound"

	// ReasonSecretUnusable means a referenced Secret key holds a value the component cannot take, such
	// as a ClickHouse password with a line break, which the Vector aggregator cannot read into its
	// configuration (component condition False).
	ReasonSecretUnusable = "SecretUnusable"

	// ReasonRetentionConflict means another pipeline writes into the same database and owns its TTL,
	// which is not the one this pipeline's spec asks for; the operator leaves the TTL alone
	// (SchemaReady=False).
	ReasonRetentionConflict = "RetentionConflict"

	// ReasonStreamInUse means an older pipeline of this cluster uses the same JetStream stream (name,
	// server and account): nothing that reads or writes it is applied (StreamReady, CollectorReady and
	// AggregatorReady False).
	ReasonStreamInUse = "StreamInUse"

	// ReasonWaitingForClickHouse means the schema cannot be migrated until ClickHouse is ready
	// (SchemaReady=False).
	ReasonWaitingForClickHouse = "WaitingForClickHouse"

	// ReasonApplied means every migration up to the target is applied (SchemaReady=True).
	ReasonApplied = "Applied"

	// ReasonChecksumMismatch means an applied migration no longer matches the file the operator ships
	// (changed, missing or renumbered); migration stops and the pipeline is Stalled (SchemaReady=False).
	ReasonChecksumMismatch = "ChecksumMismatch"

	// ReasonDatabaseUnsupported means spec.clickhouse.database exists with an engine other than Atomic,
	// Replicated or Shared; nothing is written and the pipeline is Stalled (SchemaReady=False).
	ReasonDatabaseUnsupported = "DatabaseUnsupported"

	// ReasonSchemaConflict means an object a pending migration creates already exists and was not created
	// by this schema's migrations; it is never written into and the pipeline is Stalled (SchemaReady=False).
	ReasonSchemaConflict = "SchemaConflict"

	// ReasonMigrationFailed means a migration failed and will be retried with backoff (SchemaReady=False).
	ReasonMigrationFailed = "Failed"

	// ReasonLocked means another migrator holds the schema lock (SchemaReady=False).
	ReasonLocked = "Locked"

	// ReasonUnreachable means the component's server could not be reached (component condition False).
	ReasonUnreachable = "Unreachable"

	// ReasonAuthenticationFailed means a server refused the configured credentials; the operator waits
	// for the referenced Secret or the spec to change (component condition False, Stalled).
	ReasonAuthenticationFailed = "AuthenticationFailed"

	// ReasonValidating means a Job runs `vector validate` on the workload's new configuration; the
	// workload rolls to it once the Job succeeds (CollectorReady or AggregatorReady False).
	ReasonValidating = "Validating"

	// ReasonConfigInvalid means Vector rejected the workload's new configuration: the validation Job
	// failed, its logs say why, and the workload keeps its previous configuration (CollectorReady or
	// AggregatorReady False, Stalled).
	ReasonConfigInvalid = "ConfigInvalid"

	// ReasonRollingOut means a workload is rolling out a new configuration (component condition False).
	ReasonRollingOut = "RollingOut"

	// ReasonInstalling means the Altinity operator is still creating or updating the ClickHouse (or
	// Keeper) installation (ClickHouseReady=False).
	ReasonInstalling = "Installing"

	// ReasonInstallationFailed means the Altinity operator reports an error or an aborted reconcile of
	// the installation (ClickHouseReady=False); the message holds its error.
	ReasonInstallationFailed = "InstallationFailed"

	// ReasonDependencyMissing means a CRD the pipeline needs is not installed in the cluster, e.g. the
	// Altinity clickhouse-operator's or NACK's; install it and restart the operator (component
	// condition False, Stalled).
	ReasonDependencyMissing = "DependencyMissing"

	// ReasonProvisioning means the component's objects are applied and the controller that acts on them
	// (NACK for the Stream and Consumer) has not yet reported them ready for the current spec (component
	// condition False).
	ReasonProvisioning = "Provisioning"

	// ReasonErrored means the controller that acts on the component's objects reports an error, e.g. NACK
	// cannot reach the NATS servers or JetStream refuses the stream's settings (component condition
	// False); the message holds that controller's words.
	ReasonErrored = "Errored"
)
