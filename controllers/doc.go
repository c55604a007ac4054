// Package controllers holds one reconciler per kind of the voice-operator API
// (ClientConfiguration, AccountDefault) and what they share.
//
// # The reconcile, in phases
//
// Both kinds run one skeleton (reconcile.go, reconcileKind) and fill in
// their own steps (the kind interface):
//
//	fetch ─ paused? (skip) ─┬─ deleting → reconcileDelete: remote cleanup, then releaseFinalizer
//	                        └─ otherwise → reconcileNormal
//	      → summarise (conditions, observedGeneration, metrics, a Warning for a new failure)
//	      → one status patch, only if the status changed
//
// ClientConfiguration's reconcileNormal (clientconfiguration_controller.go):
//
//	connect (Secret → client) → sameAccount → observe → act
//
// observe reads and never writes. It returns the configuration this object
// owns (by status.id, or recovered: proven by its create-intent marker after
// an interrupted create), or, when it owns none, who holds its unique name
// (checked against a List at most 5 s old), and any other object that
// already owns that configuration. act is one switch over that observation:
// Conflict, manage (a full PUT on drift), adopt, AlreadyExists, or create.
// The step that writes records the Event.
//
// AccountDefault's reconcileNormal (accountdefault_controller.go): connect →
// own the account (the oldest AccountDefault of an account wins) → add the
// finalizer → resolve the target id → set the default if it is not already.
//
// # Files
//
//	reconcile.go           the skeleton; Deps; addFinalizer, the one place a finalizer is added
//	clientconfiguration_controller.go, accountdefault_controller.go   one kind each
//	ownership.go           the create-intent marker and the proof that a configuration is ours
//	remote.go              the remote view: Lists per account and credential, name checks, owners
//	status.go              error classes, the error → condition mapping, status patches
//	credentials.go         Secrets → clients, in the object's own namespace only
//	drift.go               desired state, drift, URL normalisation
//	metadata.go            metadata patches, paused, watch predicates, the cache transform
//	events.go, metrics.go  Warning Events once per new failure; Prometheus metrics
//	voiceapi.go            the VoiceAPI interface the controllers need of internal/voice
//
// # Error classes
//
// Every failed step is a stepError with a condition reason and a class
// (status.go); remoteError is the one mapping from a Voice API error class:
//
//	classStalled    a person must act (InvalidSpec, AlreadyExists, Conflict, AccountMismatch,
//	                AccountChanged): Stalled=True, the generation counts as handled, a terminal error
//	classTransient  retried with the workqueue's backoff (RemoteUnavailable, CredentialsRejected)
//	classThrottled  retried after Retry-After (Throttled), no error returned
//	classWaiting    retried when a watched object changes, or after a set delay (CredentialsNotFound,
//	                ConfigurationNotReady, IsDefault, a List that may be tried again later)
package controllers
