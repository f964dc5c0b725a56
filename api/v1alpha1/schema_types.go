package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// SchemaTargetLatest makes the operator apply every migration the running operator ships.
const SchemaTargetLatest = "latest"

// SchemaSpec controls the ClickHouse schema migrations the operator applies.
type SchemaSpec struct {
	// targetVersion is the schema version to migrate to: "latest" (the default) for every migration this
	// operator version ships, or a version number to stop at, e.g. "3". The operator never migrates down.
	// +optional
	// +kubebuilder:default=latest
	// +kubebuilder:validation:MaxLength=19
	// +kubebuilder:validation:XValidation:rule="self == 'latest' || self.matches('^[1-9][0-9]*$')",message="spec.schema.targetVersion must be \"latest\" or a migration version number such as \"3\""
	TargetVersion string `json:"targetVersion,omitempty"`
}

// AppliedMigration is one schema version applied to ClickHouse.
type AppliedMigration struct {
	// version number of the migration.
	// +required
	Version int64 `json:"version"`

	// name of the migration file, e.g. 00001_events.sql.
	// +required
	Name string `json:"name"`

	// checksum is "sha256:" and the hex SHA-256 of the file as applied.
	// +required
	Checksum string `json:"checksum"`

	// appliedAt is when the migration finished.
	// +required
	AppliedAt metav1.Time `json:"appliedAt"`

	// duration is how long the migration took.
	// +optional
	Duration metav1.Duration `json:"duration,omitzero"`
}

// PendingMigration is a schema version not yet applied.
type PendingMigration struct {
	// version number of the migration.
	// +required
	Version int64 `json:"version"`

	// name of the migration file.
	// +required
	Name string `json:"name"`
}

// SchemaStatus is the observed state of the ClickHouse schema.
type SchemaStatus struct {
	// currentVersion is the highest migration version applied; 0 when none is.
	// +optional
	CurrentVersion int64 `json:"currentVersion,omitempty"`

	// targetVersion is the version the operator migrates to, spec.schema.targetVersion resolved.
	// +optional
	TargetVersion int64 `json:"targetVersion,omitempty"`

	// summary is "currentVersion/targetVersion", shown by kubectl get.
	// +optional
	Summary string `json:"summary,omitempty"`

	// applied are the migrations applied, oldest first, with the checksum of each file.
	// +optional
	// +listType=map
	// +listMapKey=version
	Applied []AppliedMigration `json:"applied,omitempty"`

	// pending are the migrations up to the target not applied yet, oldest first.
	// +optional
	// +listType=map
	// +listMapKey=version
	Pending []PendingMigration `json:"pending,omitempty"`

	// lastError is the error of the last failed migration attempt, with the file and the statement that
	// failed; empty after a successful attempt.
	// +optional
	LastError string `json:"lastError,omitempty"`
}
