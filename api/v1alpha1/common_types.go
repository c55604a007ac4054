package v1alpha1

import metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

// Annotations the controllers read. Each is a way for a person (or a GitOps
// tool) to steer one object without changing its spec.
const (
	// AnnotationPaused, set to "true", stops every remote call for the object
	// until it is removed. The object keeps its finalizer; deleting a paused
	// object waits until it is unpaused.
	AnnotationPaused = "voice.twilio-operator.io/paused"

	// AnnotationReconcileRequestedAt asks for an immediate resync whenever its
	// value changes (any value; a timestamp is customary). The handled value is
	// echoed in status.lastHandledReconcileAt.
	AnnotationReconcileRequestedAt = "voice.twilio-operator.io/reconcile-requested-at"

	// AnnotationAdopt, set to "true" on a ClientConfiguration, lets it take over
	// a remote configuration that already has its unique name, instead of
	// reporting AlreadyExists; the configuration is then made to match the
	// spec with a full update. A free name is created as usual. A
	// configuration another ClientConfiguration manages is never adopted
	// (Conflict), and a rename onto a taken name is refused whatever the
	// annotation says.
	AnnotationAdopt = "voice.twilio-operator.io/adopt"

	// AnnotationCreateIntent is written by the controller, never by a person:
	// it records, before the create request is sent, which account and unique
	// name this object is about to create. After a crash or a lost response it
	// is the evidence that a remote configuration with that name is ours.
	AnnotationCreateIntent = "voice.twilio-operator.io/create-intent"
)

// Finalizer is the finalizer both controllers put on their objects before any
// remote call, so the remote side is cleaned up (or deliberately orphaned)
// before the object disappears.
const Finalizer = "voice.twilio-operator.io/finalizer"

// Keys of the credentials Secret. They are the names of Twilio's own
// environment variables, so a .env file turns into a Secret with
// `kubectl create secret generic NAME --from-env-file=.env`.
const (
	// SecretKeyAccountSID holds the Account SID (AC...). Always required.
	SecretKeyAccountSID = "TWILIO_ACCOUNT_SID"
	// SecretKeyAuthToken holds the account's Auth Token.
	SecretKeyAuthToken = "TWILIO_AUTH_TOKEN"
	// SecretKeyAPIKey holds an API Key SID (SK...), used with SecretKeyAPISecret
	// instead of the Auth Token.
	SecretKeyAPIKey = "TWILIO_API_KEY"
	// SecretKeyAPISecret holds the secret of the API Key in SecretKeyAPIKey.
	SecretKeyAPISecret = "TWILIO_API_SECRET"
	// SecretKeyRegion optionally selects a Twilio region (e.g. "ie1").
	SecretKeyRegion = "TWILIO_REGION"
	// SecretKeyEdge optionally selects a Twilio edge location (e.g. "dublin").
	SecretKeyEdge = "TWILIO_EDGE"
)

// Keys of the Secret named by callNotification.basicAuthSecretRef.
const (
	// SecretKeyUsername holds the webhook's basic-auth user name.
	SecretKeyUsername = "username"
	// SecretKeyPassword holds the webhook's basic-auth password.
	SecretKeyPassword = "password"
)

// SecretReference names a Secret in the same namespace as the object that
// refers to it. The namespace is deliberately not a field: reading Secrets
// from other namespaces would let anyone who can create these objects use
// credentials they cannot read themselves.
type SecretReference struct {
	// name of the Secret, in the object's own namespace.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`
	Name string `json:"name"`
}

// DeletionPolicy says what happens to the remote side when the object is
// deleted.
// +kubebuilder:validation:Enum=Delete;Orphan
type DeletionPolicy string

const (
	// DeletionPolicyDelete removes the remote side before the object goes.
	DeletionPolicyDelete DeletionPolicy = "Delete"
	// DeletionPolicyOrphan leaves the remote side as it is.
	DeletionPolicyOrphan DeletionPolicy = "Orphan"
)

// CommonStatus is the part of the status both kinds share: how far the
// controller got, and when.
type CommonStatus struct {
	// observedGeneration is the metadata.generation the controller last fully
	// handled (done, or stalled waiting for a person); Ready speaks of this
	// generation.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// conditions: Ready (the summary), and Reconciling or Stalled (kstatus's
	// abnormal-true conditions, present while work is under way or waiting
	// for a person); a ClientConfiguration also has InSync (whether the
	// remote side matches the spec). Each carries the generation it speaks
	// of.
	// +optional
	// +listType=map
	// +listMapKey=type
	// +patchStrategy=merge
	// +patchMergeKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty" patchStrategy:"merge" patchMergeKey:"type"`

	// lastSyncTime is when the remote side was last found as the spec wants
	// it (under ObserveOnly: last read). It changes only when something else
	// in status changes, so that a quiet resync writes nothing.
	// +optional
	LastSyncTime *metav1.Time `json:"lastSyncTime,omitempty"`

	// lastHandledReconcileAt echoes the last value of the
	// voice.twilio-operator.io/reconcile-requested-at annotation that was
	// handled.
	// +optional
	LastHandledReconcileAt string `json:"lastHandledReconcileAt,omitempty"`
}

// Condition types. Ready is the summary; Reconciling and Stalled follow the
// kstatus convention of "abnormal-true" conditions, present only while the
// object is being worked on or is stuck waiting for a person.
const (
	// ConditionReady is True when the remote side matches the spec of
	// status.observedGeneration.
	ConditionReady = "Ready"
	// ConditionReconciling is True while the controller is still working
	// towards the spec (creating, updating, retrying a transient error).
	ConditionReconciling = "Reconciling"
	// ConditionStalled is True when the controller cannot make progress
	// without a change from a person (invalid spec, name taken, ...).
	ConditionStalled = "Stalled"
	// ConditionPaused is True while the voice.twilio-operator.io/paused
	// annotation stops every remote call for the object; absent otherwise.
	ConditionPaused = "Paused"
	// ConditionInSync is True when the remote configuration matches the spec.
	// It matters most under managementPolicy ObserveOnly, where drift is
	// reported here instead of being corrected.
	ConditionInSync = "InSync"
)

// Condition reasons. Each one is a CamelCase constant a person can search for
// in the troubleshooting guide; the comment says what to do about it.
const (
	// ReasonSynced: the remote side matches the spec. Nothing to do.
	ReasonSynced = "Synced"
	// ReasonPaused: the voice.twilio-operator.io/paused annotation stops
	// every remote call; a changed spec, drift and a deletion wait until it
	// is removed. Remove it to resume.
	ReasonPaused = "Paused"
	// ReasonProgressing: the operator is on its way and retries by itself:
	// it is correcting a drift, waiting for a List it needs before a create,
	// letting another object create the same unique name first, or one of
	// its own Kubernetes reads or writes failed (mostly a conflict with a
	// concurrent write). Wait; if it persists, the message names the failing
	// request.
	ReasonProgressing = "Progressing"
	// ReasonCredentialsNotFound: the Secret named by credentialsRef, or one of
	// its keys, is missing. Create it in the object's namespace; the object is
	// reconciled as soon as it appears.
	ReasonCredentialsNotFound = "CredentialsNotFound"
	// ReasonCredentialsRejected: Twilio answered 401. Check the SID and
	// token in the Secret; retried with backoff.
	ReasonCredentialsRejected = "CredentialsRejected"
	// ReasonAPIAccessDenied: Twilio accepted the credentials but refused
	// this API (403, or 404 to the list of Client Configurations). Voice v2
	// Client Configurations are a Private Beta: ask Twilio to enable it for
	// the account, or use an API key allowed to call the Voice API; retried
	// with backoff.
	ReasonAPIAccessDenied = "APIAccessDenied"
	// ReasonInvalidSpec: Twilio refused the spec (400/422). Fix the spec.
	ReasonInvalidSpec = "InvalidSpec"
	// ReasonAlreadyExists: the unique name is taken by a configuration this
	// object cannot prove it created. It is never written to or deleted.
	// Rename, or set the adopt annotation to take it over.
	ReasonAlreadyExists = "AlreadyExists"
	// ReasonAccountChanged: the Secret now names another account than the one
	// holding the remote configuration. Restore the Secret, or delete the
	// object with deletionPolicy Orphan and create it anew.
	ReasonAccountChanged = "AccountChanged"
	// ReasonAccountMismatch: Twilio answered for another account than the
	// Secret's TWILIO_ACCOUNT_SID: the API key (or token) belongs to another
	// account. Nothing is written; fix the Secret so its SID and key belong
	// to the same account.
	ReasonAccountMismatch = "AccountMismatch"
	// ReasonThrottled: Twilio answered 429. Retried after Retry-After.
	ReasonThrottled = "Throttled"
	// ReasonRemoteUnavailable: Twilio could not be reached or answered 5xx, or
	// answered something that could not be understood. Retried with backoff.
	ReasonRemoteUnavailable = "RemoteUnavailable"
	// ReasonDeletionFailed: the remote delete was refused for a reason that
	// retrying will not fix. The finalizer stays; see the message.
	ReasonDeletionFailed = "DeletionFailed"
	// ReasonIsDefault: Twilio refuses to delete the configuration because it
	// is the account's default. Retried; delete the AccountDefault that set
	// it (which unsets it), or unset the default by hand.
	ReasonIsDefault = "IsDefault"
	// ReasonDrifted: the remote configuration differs from the spec (reported,
	// not corrected, under managementPolicy ObserveOnly).
	ReasonDrifted = "Drifted"
	// ReasonNotFound: under ObserveOnly, no remote configuration has this id
	// or unique name.
	ReasonNotFound = "NotFound"
	// ReasonConfigurationNotFound: the AccountDefault's configurationRef names
	// a ClientConfiguration that does not exist, or whose remote configuration
	// is gone. Create it; the AccountDefault follows by itself.
	ReasonConfigurationNotFound = "ConfigurationNotFound"
	// ReasonConfigurationNotReady: the referenced ClientConfiguration is not
	// Ready yet, or lives in another account. Wait, or fix that object.
	ReasonConfigurationNotReady = "ConfigurationNotReady"
	// ReasonConflict: another object, older than this one, already manages
	// the same thing: the default of the account (AccountDefault), or the
	// remote configuration this object would adopt (ClientConfiguration).
	// Nothing is written. Delete one of the two objects, or point this one
	// elsewhere.
	ReasonConflict = "Conflict"
)
