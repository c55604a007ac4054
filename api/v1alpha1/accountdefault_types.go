package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// AccountDefaultSpec names the configuration that should be the default
// Client Configuration of a Twilio account. Set exactly one of
// configurationRef and configurationId.
// +kubebuilder:validation:XValidation:rule="has(self.configurationRef) != has(self.configurationId)",message="set exactly one of configurationRef or configurationId"
type AccountDefaultSpec struct {
	// configurationRef names a ClientConfiguration in this namespace; its
	// status.id becomes the default once it is Ready.
	// +optional
	ConfigurationRef *ConfigurationReference `json:"configurationRef,omitempty"`

	// configurationId is the remote id of a configuration not managed by this
	// operator (voice_clientconfiguration_...).
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=128
	// +kubebuilder:validation:Pattern=`^voice_clientconfiguration_[A-Za-z0-9]+$`
	ConfigurationID string `json:"configurationId,omitempty"`

	// credentialsRef names the Secret, in this object's namespace, with the
	// credentials of the account whose default this sets (same keys as for
	// ClientConfiguration). With configurationRef it must name the same
	// account as the referenced ClientConfiguration.
	// +required
	CredentialsRef SecretReference `json:"credentialsRef"`

	// deletionPolicy says what happens when this object is deleted: Delete
	// (the default) unsets the account's default if it is still the one set
	// here; Orphan leaves the default as it is.
	// +optional
	// +kubebuilder:default=Delete
	DeletionPolicy DeletionPolicy `json:"deletionPolicy,omitempty"`
}

// ConfigurationReference names a ClientConfiguration in the same namespace.
type ConfigurationReference struct {
	// name of the ClientConfiguration.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`
	Name string `json:"name"`
}

// AccountDefaultStatus is what the operator last observed and did.
type AccountDefaultStatus struct {
	// configurationId is the id this object last made the account's default.
	// +optional
	ConfigurationID string `json:"configurationId,omitempty"`

	// accountSid is the account whose default this object manages.
	// +optional
	AccountSID string `json:"accountSid,omitempty"`

	// The conditions are Ready (the summary), Reconciling and Stalled
	// (kstatus's abnormal-true conditions).
	CommonStatus `json:",inline"`
}

// AccountDefault makes one Client Configuration the default of a Twilio
// account, keeps it so (a default changed by hand is put back at the next
// resync), and unsets it when this object is deleted. Only one AccountDefault
// may manage an account: the oldest wins, the others report Conflict.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=vad,categories=twilio
// +kubebuilder:printcolumn:name="Configuration",type=string,JSONPath=`.spec.configurationRef.name`
// +kubebuilder:printcolumn:name="ID",type=string,JSONPath=`.status.configurationId`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Reason",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].reason`
// +kubebuilder:printcolumn:name="Message",type=string,priority=1,JSONPath=`.status.conditions[?(@.type=="Ready")].message`
// +kubebuilder:printcolumn:name="Account",type=string,priority=1,JSONPath=`.status.accountSid`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type AccountDefault struct {
	metav1.TypeMeta `json:",inline"`
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec names the configuration to make the default.
	// +required
	Spec AccountDefaultSpec `json:"spec"`

	// status is what the operator last observed and did. Until the operator
	// first handles the object it reads observedGeneration 0, so that
	// kstatus (kubectl wait --for=jsonpath, Flux, Argo CD) sees an object no
	// controller has looked at yet as in progress, not as current.
	// +optional
	// +kubebuilder:default={observedGeneration: 0}
	Status AccountDefaultStatus `json:"status,omitempty"`
}

// AccountDefaultList is a list of AccountDefaults.
//
// +kubebuilder:object:root=true
type AccountDefaultList struct {
	metav1.TypeMeta `json:",inline"`
	// +optional
	metav1.ListMeta `json:"metadata,omitempty"`
	// items are the AccountDefaults.
	Items []AccountDefault `json:"items"`
}

// GetCommonStatus returns the part of the status both kinds share.
func (o *AccountDefault) GetCommonStatus() *CommonStatus { return &o.Status.CommonStatus }

// GetCredentialsRef returns the Secret the object's credentials are in.
func (o *AccountDefault) GetCredentialsRef() SecretReference { return o.Spec.CredentialsRef }
