package controllers

import (
	"testing"
	"time"

	voicev1alpha1 "github.com/twilio-operator/voice-operator/api/v1alpha1"
	"github.com/twilio-operator/voice-operator/internal/voice"
)

// TestIntentProves holds the two conditions of the ownership proof: the
// name was verified free before the attempt, and what is found is exactly
// what was sent.
func TestIntentProves(t *testing.T) {
	desc := "softphone"
	sent := voice.ConfigurationInput{UniqueName: "web", Description: &desc,
		CallNotification: voice.CallNotification{URL: "https://alice:s3cret@example.com/notify", Method: "POST"}}
	found := func(mutate func(*voice.Configuration)) *voice.Configuration {
		d := desc
		cfg := &voice.Configuration{ID: "voice_clientconfiguration_1", AccountSID: "AC1", UniqueName: "web", Description: &d,
			CallNotification: voice.CallNotification{URL: "https://alice:s3cret@example.com/notify", Method: "POST"}}
		if mutate != nil {
			mutate(cfg)
		}
		return cfg
	}
	try := newAttempt(time.Now(), sent, time.Now(), "AC1")
	intent := &try
	cases := map[string]struct {
		intent *attempt
		found  *voice.Configuration
		want   bool
	}{
		"exactly what was sent": {intent: intent, found: found(nil), want: true},
		"as an API may store it": {intent: intent, found: found(func(c *voice.Configuration) {
			c.CallNotification.URL = "HTTPS://EXAMPLE.com:443/notify"
			c.CallNotification.Method = "post"
		}), want: false},
		"stored canonicalised, same userinfo":  {intent: intent, found: found(func(c *voice.Configuration) { c.CallNotification.URL = "https://alice:s3cret@EXAMPLE.com:443/notify" }), want: true},
		"another description":                  {intent: intent, found: found(func(c *voice.Configuration) { c.Description = nil }), want: false},
		"another URL":                          {intent: intent, found: found(func(c *voice.Configuration) { c.CallNotification.URL = "https://example.org/" }), want: false},
		"another method":                       {intent: intent, found: found(func(c *voice.Configuration) { c.CallNotification.Method = "GET" }), want: false},
		"another user":                         {intent: intent, found: found(func(c *voice.Configuration) { c.CallNotification.URL = "https://bob:s3cret@example.com/notify" }), want: false},
		"another account":                      {intent: intent, found: found(func(c *voice.Configuration) { c.AccountSID = "AC2" }), want: false},
		"another name":                         {intent: intent, found: found(func(c *voice.Configuration) { c.UniqueName = "web2" }), want: false},
		"an attempt without a free name":       {intent: &attempt{Name: "web", Sent: try.Sent, At: time.Now()}, found: found(nil), want: false},
		"password is not part of the evidence": {intent: intent, found: found(func(c *voice.Configuration) { c.CallNotification.URL = "https://alice:other@example.com/notify" }), want: true},
	}
	for reason, c := range cases {
		if got := c.intent.proves("AC1", c.found); got != c.want {
			t.Errorf("%s: proves = %v, want %v", reason, got, c.want)
		}
	}
}

// TestEmptyAndNullDescriptionsAreOneContent checks the digest treats a
// null description as an empty one, as drift does.
func TestEmptyAndNullDescriptionsAreOneContent(t *testing.T) {
	empty := ""
	cn := voice.CallNotification{URL: "https://example.com/", Method: "POST"}
	if contentDigest("web", nil, cn) != contentDigest("web", &empty, cn) {
		t.Error("null and empty descriptions digest differently")
	}
}

// TestLegacyMarkerProvesOnlyWhatItSettled reads markers of the earlier
// formats: one proves that the object created the id its status names (the
// earlier operator's settled create), and nothing else.
func TestLegacyMarkerProvesOnlyWhatItSettled(t *testing.T) {
	const id, account = "voice_clientconfiguration_1", "AC1"
	legacy := func(replaces string) string {
		return `{"v":2,"account":"AC1","uniqueName":"web","freeAt":"2026-11-01T00:00:00Z","at":"2026-11-01T00:00:01Z","sent":"sha256:00","replaces":"` + replaces + `"}`
	}
	object := func(marker, statusID string, policy voicev1alpha1.ManagementPolicy) *voicev1alpha1.ClientConfiguration {
		obj := &voicev1alpha1.ClientConfiguration{}
		obj.UID, obj.Annotations = "uid-1", map[string]string{voicev1alpha1.AnnotationCreateIntent: marker}
		obj.Spec.ManagementPolicy = policy
		obj.Status.ID, obj.Status.AccountSID = statusID, account
		return obj
	}
	cases := map[string]struct {
		obj  *voicev1alpha1.ClientConfiguration
		owns bool
	}{
		"a settled create: the id in status is the object's":         {object(legacy(""), id, voicev1alpha1.ManagementPolicyManage), true},
		"a re-create of the id in status: unsettled, proves nothing": {object(legacy(id), id, voicev1alpha1.ManagementPolicyManage), false},
		"no id in status: an interrupted create proves nothing":      {object(legacy(""), "", voicev1alpha1.ManagementPolicyManage), false},
		"ObserveOnly: owns nothing":                                  {object(legacy(""), id, voicev1alpha1.ManagementPolicyObserveOnly), false},
		"the first format (no version), settled: the id in status":   {object(`{"account":"AC1","uniqueName":"web","at":"2026-11-01T00:00:01Z"}`, id, voicev1alpha1.ManagementPolicyManage), true},
		"the first format, no id in status: proves nothing":          {object(`{"account":"AC1","uniqueName":"web","at":"2026-11-01T00:00:01Z"}`, "", voicev1alpha1.ManagementPolicyManage), false},
		"a marker of another account: proves nothing":                {object(`{"v":2,"account":"AC9","uniqueName":"web"}`, id, voicev1alpha1.ManagementPolicyManage), false},
	}
	for reason, c := range cases {
		if got := owns(c.obj, account, id); got != c.owns {
			t.Errorf("%s: owns = %v, want %v", reason, got, c.owns)
		}
	}
}
