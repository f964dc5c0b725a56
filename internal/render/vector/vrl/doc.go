// Package vrl holds the VRL programs the pipeline's Vector components run, each beside its Go twin:
// Go code that does to an event what the program does, which the tests hold to the program's text and
// which test/contract, test/nats and test/kind use to send what Vector would send, without Vector.
//
// The agent runs SplitEventListProgram (twin SplitEventList), which splits a webhook request body into
// audit events, and PrepareEventProgram, which gives each event its JetStream message id (MessageID),
// makes its verb a subject token (SubjectToken, WithSubjectVerb) and fits it into a message (FitEvent).
//
// Pure: no client. Package vector puts these programs into the configurations it renders.
package vrl
