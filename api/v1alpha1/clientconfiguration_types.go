package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// ClientConfigurationSpec is the desired state of one Twilio Voice v2 Client
// Configuration. Every field here is owned by the operator: a change made to
// the remote configuration by hand is put back at the next resync (unless
// managementPolicy is ObserveOnly).
type ClientConfigurationSpec struct {
	// uniqueName is the configuration's unique name in its Twilio account. It
	// may not contain whitespace. Changing it renames the remote configuration
	// in place; the remote id stays the same.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=256
	// +kubebuilder:validation:XValidation:rule="!self.matches('[\\\\s\\\\p{Z}\\\\p{C}]')",message="uniqueName must not contain whitespace or control characters"
	UniqueName string `json:"uniqueName"`

	// description is free text shown in the Twilio Console. Omitted means no
	// description (null remotely).
	// +optional
	// +kubebuilder:validation:MaxLength=1024
	Description string `json:"description,omitempty"`

	// callNotification is the webhook Twilio calls to notify the Voice SDK
	// client of an incoming call.
	// +required
	CallNotification CallNotification `json:"callNotification"`

	// credentialsRef names the Secret, in this object's namespace, that holds
	// the Twilio credentials: TWILIO_ACCOUNT_SID plus either TWILIO_AUTH_TOKEN
	// or TWILIO_API_KEY and TWILIO_API_SECRET; optionally TWILIO_REGION and
	// TWILIO_EDGE. The account SID decides which account the configuration
	// lives in.
	// +required
	CredentialsRef SecretReference `json:"credentialsRef"`

	// deletionPolicy says what happens to the remote configuration when this
	// object is deleted: Delete (the default) removes it, Orphan leaves it.
	// +optional
	// +kubebuilder:default=Delete
	DeletionPolicy DeletionPolicy `json:"deletionPolicy,omitempty"`

	// managementPolicy is Manage (the default: create, correct drift, delete)
	// or ObserveOnly (find the remote configuration by status.id or uniqueName
	// and report it and its drift in status, never writing or deleting it).
	// +optional
	// +kubebuilder:default=Manage
	ManagementPolicy ManagementPolicy `json:"managementPolicy,omitempty"`
}

// CallNotification is the webhook Twilio calls when a call arrives for a
// Voice SDK client.
//
// The rule against credentials in the URL is checked here, on the object
// and not on the url field, so that the apiserver's error names the field
// without quoting its value: the password it refuses never reaches a
// terminal or a CI log.
// +kubebuilder:validation:XValidation:rule="!has(self.url) || !self.url.matches('^[^/?#]*//[^/?#]*@')",message="url must not contain credentials (user:password@): anyone who can read this object could read them; put them in a Secret with keys username and password and name it in callNotification.basicAuthSecretRef",fieldPath=".url"
type CallNotification struct {
	// url is the absolute http or https URL Twilio requests. Twilio rejects
	// hosts containing underscores (error 13806), and credentials in the URL
	// would be readable by anyone who can read this object, so both are
	// refused here.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=2048
	// +kubebuilder:validation:XValidation:rule="!self.matches('\\\\s')",message="url must not contain whitespace"
	// +kubebuilder:validation:XValidation:rule="isURL(self) && url(self).getScheme() in ['http', 'https'] && url(self).getHostname() != ''",message="url must be an absolute http or https URL with a host, such as https://example.com/calls"
	// +kubebuilder:validation:XValidation:rule="!self.matches('^[a-zA-Z][a-zA-Z0-9+.-]*://[^/?#]*_')",message="url host must not contain underscores: Twilio rejects such webhook hosts (error 13806)"
	URL string `json:"url"`

	// method is the HTTP method Twilio uses for the webhook: GET or POST.
	// +optional
	// +kubebuilder:default=POST
	Method HTTPMethod `json:"method,omitempty"`

	// basicAuthSecretRef names a Secret, in this object's namespace, with the
	// keys username and password for HTTP basic authentication of the
	// webhook. The operator sends them to Twilio inside the URL
	// (https://username:password@host/...), Twilio's way of authenticating
	// webhooks; they never appear in this object, its status, Events or logs.
	// +optional
	BasicAuthSecretRef *SecretReference `json:"basicAuthSecretRef,omitempty"`
}

// HTTPMethod is the method Twilio uses to call a webhook.
// +kubebuilder:validation:Enum=GET;POST
type HTTPMethod string

const (
	// HTTPMethodGET sends the notification's parameters in the query string.
	HTTPMethodGET HTTPMethod = "GET"
	// HTTPMethodPOST sends them as a form body.
	HTTPMethodPOST HTTPMethod = "POST"
)

// ManagementPolicy says how far the operator may act on the remote side.
// +kubebuilder:validation:Enum=Manage;ObserveOnly
type ManagementPolicy string

const (
	// ManagementPolicyManage creates, updates and deletes the remote side.
	ManagementPolicyManage ManagementPolicy = "Manage"
	// ManagementPolicyObserveOnly only reads it and reports what it finds.
	ManagementPolicyObserveOnly ManagementPolicy = "ObserveOnly"
)

// ClientConfigurationStatus is what the operator last observed and did.
type ClientConfigurationStatus struct {
	// id is the remote configuration's id (voice_clientconfiguration_...),
	// stored the moment Twilio returns it.
	// +optional
	ID string `json:"id,omitempty"`

	// accountSid is the Twilio account that holds the remote configuration.
	// +optional
	AccountSID string `json:"accountSid,omitempty"`

	// The conditions are Ready (the summary), Reconciling and Stalled
	// (kstatus's abnormal-true conditions, present while work is under way or
	// waiting for a person), and InSync (whether the remote side matches the
	// spec).
	CommonStatus `json:",inline"`

	// remote is the remote configuration as last observed.
	// +optional
	Remote *RemoteConfiguration `json:"remote,omitempty"`
}

// RemoteConfiguration is a Client Configuration as Twilio returned it.
type RemoteConfiguration struct {
	// uniqueName as stored remotely.
	// +optional
	UniqueName string `json:"uniqueName,omitempty"`
	// description as stored remotely; empty when null.
	// +optional
	Description string `json:"description,omitempty"`
	// callNotificationURL as stored remotely, without the credentials of
	// callNotification.basicAuthSecretRef (user name and password both).
	// +optional
	CallNotificationURL string `json:"callNotificationURL,omitempty"`
	// callNotificationMethod as stored remotely.
	// +optional
	CallNotificationMethod string `json:"callNotificationMethod,omitempty"`
}

// ClientConfiguration manages one Twilio Voice v2 Client Configuration: the
// call-notification webhook a Voice SDK client uses. The operator creates it,
// keeps it equal to the spec with full updates, and deletes it (or, with
// deletionPolicy Orphan, leaves it) when this object is deleted.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=vcc,categories=twilio
// +kubebuilder:printcolumn:name="Unique Name",type=string,JSONPath=`.spec.uniqueName`
// +kubebuilder:printcolumn:name="ID",type=string,JSONPath=`.status.id`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Reason",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].reason`
// +kubebuilder:printcolumn:name="Message",type=string,priority=1,JSONPath=`.status.conditions[?(@.type=="Ready")].message`
// +kubebuilder:printcolumn:name="Account",type=string,priority=1,JSONPath=`.status.accountSid`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type ClientConfiguration struct {
	metav1.TypeMeta `json:",inline"`
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec is the desired remote configuration.
	// +required
	Spec ClientConfigurationSpec `json:"spec"`

	// status is what the operator last observed and did. Until the operator
	// first handles the object it reads observedGeneration 0, so that
	// kstatus (kubectl wait --for=jsonpath, Flux, Argo CD) sees an object no
	// controller has looked at yet as in progress, not as current.
	// +optional
	// +kubebuilder:default={observedGeneration: 0}
	Status ClientConfigurationStatus `json:"status,omitempty"`
}

// ClientConfigurationList is a list of ClientConfigurations.
//
// +kubebuilder:object:root=true
type ClientConfigurationList struct {
	metav1.TypeMeta `json:",inline"`
	// +optional
	metav1.ListMeta `json:"metadata,omitempty"`
	// items are the ClientConfigurations.
	Items []ClientConfiguration `json:"items"`
}

// GetCommonStatus returns the part of the status both kinds share.
func (o *ClientConfiguration) GetCommonStatus() *CommonStatus { return &o.Status.CommonStatus }

// GetCredentialsRef returns the Secret the object's credentials are in.
func (o *ClientConfiguration) GetCredentialsRef() SecretReference { return o.Spec.CredentialsRef }
