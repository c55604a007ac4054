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
// ClientConfiguration's reconcileNormal and reconcileDelete
// (clientconfiguration_controller.go) are one shape:
//
//	connect (Secret → client) → sameAccount → observe → decide → act
//
// observe reads and never writes, for every policy and for deletion: the
// configuration the object owns (by status.id when its create-intent
// marker records it, or by the marker's created id, or proven by one of
// its attempts), who holds its unique name, which other object owns
// either (claims.go), and what the marker's attempts made. decide
// (decide.go) is a pure function from that observation to one action,
// table-tested; act does that one action and then records its Event.
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
//	claims.go              who owns a remote configuration, and who may be creating a name
//	decide.go              the observation of a ClientConfiguration, and the pure decide
//	holders.go             the informer-fed index claims reads: holders, attempts, records
//	cache.go               the cache's transform (it drops nothing a decision reads)
//	remote.go              the remote view: Lists per account and credential, name checks
//	status.go              error classes, the error → condition mapping, status patches
//	credentials.go         Secrets → clients, in the object's own namespace only
//	drift.go               desired state, drift, URL normalisation
//	metadata.go            metadata patches, paused, watch predicates
//	events.go, metrics.go  Warning Events once per new failure; Prometheus metrics
//	voiceapi.go            the VoiceAPI interface the controllers need of internal/voice
//
// # Error classes
//
// Every failed step is a stepError with a condition reason and a class
// (status.go); remoteError is the one mapping from a Voice API error class:
//
//	classStalled    a person must act (InvalidSpec, AlreadyExists, Conflict, AccountMismatch,
//	                AccountChanged): Stalled=True, the generation counts as handled; looked at
//	                again with the object's capped backoff (1 s doubling, 5 min), so a stall whose
//	                cause went away ends
//	classTransient  retried with the workqueue's backoff (RemoteUnavailable, CredentialsRejected)
//	classThrottled  retried after Retry-After (Throttled), no error returned
//	classWaiting    retried when a watched object changes, or after a set delay (CredentialsNotFound,
//	                ConfigurationNotReady, a List that may be tried again later), or with the
//	                object's backoff when nothing watched can tell (IsDefault)
package controllers
