// Package v1alpha1 holds the voice-operator API: ClientConfiguration, which
// manages one Twilio Voice v2 Client Configuration, and AccountDefault, which
// makes one configuration the default of a Twilio account.
//
// +kubebuilder:object:generate=true
// +groupName=voice.twilio-operator.io
package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

var (
	// GroupVersion is the group and version of every kind in this package.
	GroupVersion = schema.GroupVersion{Group: "voice.twilio-operator.io", Version: "v1alpha1"}

	// SchemeBuilder registers this package's kinds with a runtime.Scheme.
	// It is apimachinery's own, so that importing the API needs nothing but
	// apimachinery.
	SchemeBuilder = runtime.NewSchemeBuilder(addKnownTypes)

	// AddToScheme adds this package's kinds to a runtime.Scheme.
	AddToScheme = SchemeBuilder.AddToScheme
)

// addKnownTypes registers the kinds of this package and the meta types of
// its group version.
func addKnownTypes(s *runtime.Scheme) error {
	s.AddKnownTypes(GroupVersion,
		&ClientConfiguration{}, &ClientConfigurationList{},
		&AccountDefault{}, &AccountDefaultList{},
	)
	metav1.AddToGroupVersion(s, GroupVersion)
	return nil
}
