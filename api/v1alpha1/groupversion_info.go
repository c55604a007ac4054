// Package v1alpha1 holds the voice-operator API: ClientConfiguration, which
// manages one Twilio Voice v2 Client Configuration, and AccountDefault, which
// makes one configuration the default of a Twilio account.
//
// +kubebuilder:object:generate=true
// +groupName=voice.twilio-operator.io
package v1alpha1

import (
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/scheme"
)

var (
	// GroupVersion is the group and version of every kind in this package.
	GroupVersion = schema.GroupVersion{Group: "voice.twilio-operator.io", Version: "v1alpha1"}

	// SchemeBuilder registers this package's kinds with a runtime.Scheme.
	SchemeBuilder = &scheme.Builder{GroupVersion: GroupVersion}

	// AddToScheme adds this package's kinds to a runtime.Scheme.
	AddToScheme = SchemeBuilder.AddToScheme
)
