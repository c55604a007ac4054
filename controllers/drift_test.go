package controllers

import (
	"net/url"
	"testing"

	"github.com/google/go-cmp/cmp"

	voicev1alpha1 "github.com/twilio-operator/voice-operator/api/v1alpha1"
	"github.com/twilio-operator/voice-operator/internal/voice"
)

func TestDrift(t *testing.T) {
	spec := func(mutate func(*voicev1alpha1.ClientConfiguration)) *voicev1alpha1.ClientConfiguration {
		obj := &voicev1alpha1.ClientConfiguration{Spec: voicev1alpha1.ClientConfigurationSpec{
			UniqueName:       "web",
			Description:      "softphone",
			CallNotification: voicev1alpha1.CallNotification{URL: "https://example.com/notify", Method: "POST"},
		}}
		if mutate != nil {
			mutate(obj)
		}
		return obj
	}
	remote := func(mutate func(*voice.Configuration)) *voice.Configuration {
		d := "softphone"
		cfg := &voice.Configuration{ID: "voice_clientconfiguration_1", UniqueName: "web", Description: &d,
			CallNotification: voice.CallNotification{URL: "https://example.com/notify", Method: "POST"}}
		if mutate != nil {
			mutate(cfg)
		}
		return cfg
	}
	alice := url.UserPassword("alice", "s3cret")

	cases := map[string]struct {
		obj      *voicev1alpha1.ClientConfiguration
		userinfo *url.Userinfo
		remote   *voice.Configuration
		want     []string
	}{
		"in sync":                     {obj: spec(nil), remote: remote(nil)},
		"method differs only in case": {obj: spec(nil), remote: remote(func(c *voice.Configuration) { c.CallNotification.Method = "post" })},
		"empty description matches null": {
			obj:    spec(func(o *voicev1alpha1.ClientConfiguration) { o.Spec.Description = "" }),
			remote: remote(func(c *voice.Configuration) { c.Description = nil }),
		},
		"defaulted method": {obj: spec(func(o *voicev1alpha1.ClientConfiguration) { o.Spec.CallNotification.Method = "" }), remote: remote(nil)},
		"every field drifted": {
			obj: spec(nil),
			remote: remote(func(c *voice.Configuration) {
				c.UniqueName, c.Description = "other", nil
				c.CallNotification = voice.CallNotification{URL: "https://evil.example/", Method: "GET"}
			}),
			want: []string{"uniqueName", "description", "callNotification.url", "callNotification.method"},
		},
		"basic auth in sync": {
			obj: spec(nil), userinfo: alice,
			remote: remote(func(c *voice.Configuration) { c.CallNotification.URL = "https://alice:s3cret@example.com/notify" }),
		},
		"basic auth password changed remotely": {
			obj: spec(nil), userinfo: alice,
			remote: remote(func(c *voice.Configuration) { c.CallNotification.URL = "https://alice:guess@example.com/notify" }),
			want:   []string{"callNotification.url"},
		},
		"basic auth removed remotely": {
			obj: spec(nil), userinfo: alice, remote: remote(nil),
			want: []string{"callNotification.url"},
		},
		"basic auth added remotely": {
			obj:    spec(nil),
			remote: remote(func(c *voice.Configuration) { c.CallNotification.URL = "https://alice:s3cret@example.com/notify" }),
			want:   []string{"callNotification.url"},
		},
		"URL stored canonicalised": {
			obj:    spec(func(o *voicev1alpha1.ClientConfiguration) { o.Spec.CallNotification.URL = "HTTPS://Example.COM:443" }),
			remote: remote(func(c *voice.Configuration) { c.CallNotification.URL = "https://example.com/" }),
		},
		"default http port": {
			obj: spec(func(o *voicev1alpha1.ClientConfiguration) {
				o.Spec.CallNotification.URL = "http://example.com:80/notify"
			}),
			remote: remote(func(c *voice.Configuration) { c.CallNotification.URL = "http://example.com/notify" }),
		},
		"path case matters": {
			obj:    spec(nil),
			remote: remote(func(c *voice.Configuration) { c.CallNotification.URL = "https://example.com/Notify" }),
			want:   []string{"callNotification.url"},
		},
		"another port matters": {
			obj:    spec(nil),
			remote: remote(func(c *voice.Configuration) { c.CallNotification.URL = "https://example.com:8443/notify" }),
			want:   []string{"callNotification.url"},
		},
	}
	for reason, c := range cases {
		got := drift(desiredInput(c.obj, c.userinfo), c.remote)
		if diff := cmp.Diff(c.want, got); diff != "" {
			t.Errorf("%s: drift (-want +got):\n%s", reason, diff)
		}
	}
}

func TestDesiredInputSendsEveryField(t *testing.T) {
	obj := &voicev1alpha1.ClientConfiguration{Spec: voicev1alpha1.ClientConfigurationSpec{
		UniqueName:       "web",
		CallNotification: voicev1alpha1.CallNotification{URL: "https://example.com/a?b=c"},
	}}
	got := desiredInput(obj, url.UserPassword("alice", "p@ss:word/?"))
	want := voice.ConfigurationInput{
		UniqueName:       "web",
		Description:      nil, // sent as null: the API nulls what a PUT omits anyway
		CallNotification: voice.CallNotification{URL: "https://alice:p%40ss%3Aword%2F%3F@example.com/a?b=c", Method: "POST"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("desiredInput (-want +got):\n%s", diff)
	}
	if shown := withoutUserinfo(got.CallNotification.URL); shown != "https://example.com/a?b=c" {
		t.Errorf("withoutUserinfo = %q, want neither the user nor the password", shown)
	}
}

// placedAPI is a VoiceAPI of one account in one region, for sameAccount.
type placedAPI struct {
	VoiceAPI
	account, where string
}

func (p placedAPI) AccountSID() string         { return p.account }
func (p placedAPI) Location() string           { return p.where }
func (p placedAPI) AnsweredForAnother() string { return "" }

// TestSameAccountStaysInItsRegion holds a configuration to the region it
// was made in: another region's API answers 404 for it, and going on would
// make a second one there and orphan the first.
func TestSameAccountStaysInItsRegion(t *testing.T) {
	object := func(where string) *voicev1alpha1.ClientConfiguration {
		obj := &voicev1alpha1.ClientConfiguration{}
		obj.UID = "uid-1"
		obj.Status.ID, obj.Status.AccountSID = "voice_clientconfiguration_1", "AC1"
		setIntent(obj, &createIntent{Version: intentVersion, UID: "uid-1", Account: "AC1", Where: where, Created: "voice_clientconfiguration_1"})
		return obj
	}
	cases := map[string]struct {
		obj    *voicev1alpha1.ClientConfiguration
		api    placedAPI
		reason string
	}{
		"same account, same region":                {object(""), placedAPI{account: "AC1"}, ""},
		"same account, the Secret now selects ie1": {object(""), placedAPI{account: "AC1", where: "ie1/"}, voicev1alpha1.ReasonAccountChanged},
		"made in ie1, still ie1":                   {object("ie1/"), placedAPI{account: "AC1", where: "ie1/"}, ""},
		"another account":                          {object(""), placedAPI{account: "AC2"}, voicev1alpha1.ReasonAccountChanged},
	}
	for name, c := range cases {
		err := sameAccount(c.obj, c.api)
		got := ""
		if err != nil {
			got = asStep(err).reason
		}
		if got != c.reason {
			t.Errorf("%s: reason %q, want %q (%v)", name, got, c.reason, err)
		}
	}
}
