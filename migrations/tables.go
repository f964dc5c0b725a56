package migrations

// Tables are the tables that hold the audit events: events, every event, and changes, its writes again
// sorted by object (00001_events.sql). The operator gives both the pipeline's TTL; the bench measures
// both.
var Tables = []string{"events", "changes"}
