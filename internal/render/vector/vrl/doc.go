// Package vrl holds the VRL programs the pipeline's Vector components run, and beside each program that
// changes events its Go twin: Go code that does to an event what the program does, which the tests hold
// to the program's text and which test/contract, test/nats and test/kind use to send what Vector would
// send, without Vector.
//
// The collector runs SplitEventListProgram (twin SplitEventList), which splits a webhook request body
// into audit events, and PrepareEventProgram (twin PrepareEvent), which gives each event its JetStream
// message id (MessageID), makes its verb a subject token (SubjectToken, WithSubjectVerb), names its
// cluster (WithCluster) and fits it into a message (FitEvent).
//
// The aggregator runs StagesCondition and PublicSourceCondition (twins KeptByStages and
// KeptByPublicSource), its filters, and RowProgram, which makes each event a row of the events table.
// RowProgram is assembled from the Prelude of the pipeline's eventrow.Tenancy and eventrow.Columns, and
// its Go twin is that Tenancy's FromEvent: the row is the contract between the aggregator and the table
// that the migrations create, which the bench and test/contract read back through
// eventrow's Row, so it stays with the table's columns there; this package depends on eventrow (also
// for OriginalVerbField, ClusterField and EncodeJSON), never the reverse.
//
// The samples (samples.go) are inputs of every program, which the twins' tests hold to what the program
// must make of them and which package vector renders as Vector unit tests, with the twin's result as
// what Vector's run of the program must give.
//
// Pure: no client. Package vector puts these programs into the configurations it renders.
package vrl
