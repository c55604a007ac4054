package controllers

import (
	"os"
	"testing"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"sigs.k8s.io/yaml"

	"github.com/twilio-operator/voice-operator/internal/voice"
)

// TestLengthLimitsAgree checks the CRD's length limits are the ones the
// Voice client sizes its page reads by: a longer field than the client
// expects could make a legitimate page look oversized.
func TestLengthLimitsAgree(t *testing.T) {
	raw, err := os.ReadFile("../config/crd/bases/voice.twilio-operator.io_clientconfigurations.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var crd apiextensionsv1.CustomResourceDefinition
	if err := yaml.Unmarshal(raw, &crd); err != nil {
		t.Fatal(err)
	}
	spec := crd.Spec.Versions[0].Schema.OpenAPIV3Schema.Properties["spec"]
	for field, want := range map[string]int64{
		"uniqueName":  voice.MaxUniqueNameLength,
		"description": voice.MaxDescriptionLength,
		"url":         voice.MaxURLLength,
	} {
		prop, ok := spec.Properties[field]
		if field == "url" {
			prop, ok = spec.Properties["callNotification"].Properties["url"]
		}
		if !ok || prop.MaxLength == nil || *prop.MaxLength != want {
			t.Errorf("%s: the CRD's maxLength is %v, internal/voice expects %d", field, prop.MaxLength, want)
		}
	}
}
