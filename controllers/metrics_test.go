package controllers

import "testing"

func TestKubeResource(t *testing.T) {
	cases := map[string]struct{ path, want string }{
		"status subresource":   {"/apis/voice.twilio-operator.io/v1alpha1/namespaces/ns/clientconfigurations/web/status", "clientconfigurations/status"},
		"named object":         {"/apis/voice.twilio-operator.io/v1alpha1/namespaces/ns/clientconfigurations/web", "clientconfigurations"},
		"collection":           {"/apis/events.k8s.io/v1/namespaces/ns/events", "events"},
		"core group":           {"/api/v1/namespaces/ns/secrets/creds", "secrets"},
		"cluster-wide watch":   {"/apis/voice.twilio-operator.io/v1alpha1/clientconfigurations", "clientconfigurations"},
		"cluster-wide core":    {"/api/v1/secrets", "secrets"},
		"discovery and others": {"/apis", "other"},
	}
	for reason, c := range cases {
		if got := kubeResource(c.path); got != c.want {
			t.Errorf("%s: kubeResource(%q) = %q, want %q", reason, c.path, got, c.want)
		}
	}
}
