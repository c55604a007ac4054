package controllers

import (
	"fmt"
	"net/url"
	"strings"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	voicev1alpha1 "github.com/twilio-operator/voice-operator/api/v1alpha1"
	"github.com/twilio-operator/voice-operator/internal/voice"
)

// Where a drift correction came from, for Events and metrics.
const (
	sourceSpec   = "spec"
	sourceRemote = "remote"
	sourceSecret = "Secret"
)

// desiredInput is the full state a create or PUT sends: every field, since
// the API sets any omitted field to null. userinfo, from
// callNotification.basicAuthSecretRef, goes into the URL, which is how
// Twilio takes webhook credentials.
func desiredInput(obj *voicev1alpha1.ClientConfiguration, userinfo *url.Userinfo) voice.ConfigurationInput {
	var description *string
	if obj.Spec.Description != "" {
		d := obj.Spec.Description
		description = &d
	}
	return voice.ConfigurationInput{
		UniqueName:  obj.Spec.UniqueName,
		Description: description,
		CallNotification: voice.CallNotification{
			URL:    withUserinfo(obj.Spec.CallNotification.URL, userinfo),
			Method: string(methodOrDefault(obj.Spec.CallNotification.Method)),
		},
	}
}

// withUserinfo puts credentials into an absolute URL (validation guarantees
// one without any); without credentials the URL is returned unchanged.
func withUserinfo(raw string, userinfo *url.Userinfo) string {
	if userinfo == nil {
		return raw
	}
	u, err := url.Parse(raw)
	if err != nil {
		return raw
	}
	u.User = userinfo
	return u.String()
}

// normalizeURL is the form in which two webhook URLs are compared: scheme
// and host in lower case, the scheme's default port dropped, an empty path
// as "/". An API that stores URLs canonicalised then never looks drifted.
// Everything else (path, query, userinfo) is compared as it is.
func normalizeURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return raw
	}
	u.Scheme = strings.ToLower(u.Scheme)
	host, port := strings.ToLower(u.Hostname()), u.Port()
	if (u.Scheme == "https" && port == "443") || (u.Scheme == "http" && port == "80") {
		port = ""
	}
	if strings.Contains(host, ":") {
		host = "[" + host + "]" // an IPv6 literal
	}
	if port != "" {
		host += ":" + port
	}
	u.Host = host
	if u.Path == "" && u.RawPath == "" {
		u.Path = "/"
	}
	return u.String()
}

// withoutUserinfo drops a URL's credentials, user name and password both,
// for status: they come from a Secret, and the object is readable by more
// people than the Secret.
func withoutUserinfo(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.User == nil {
		return raw
	}
	u.User = nil
	return u.String()
}

// drift lists the fields we own in which remote differs from want; empty
// means in sync. A null description and an empty one are the same. It names
// fields only, never values, so it is safe for Events and conditions even
// when the URL holds a password.
func drift(want voice.ConfigurationInput, remote *voice.Configuration) []string {
	var fields []string
	if remote.UniqueName != want.UniqueName {
		fields = append(fields, "uniqueName")
	}
	if deref(remote.Description) != deref(want.Description) {
		fields = append(fields, "description")
	}
	if normalizeURL(remote.CallNotification.URL) != normalizeURL(want.CallNotification.URL) {
		fields = append(fields, "callNotification.url")
	}
	if !strings.EqualFold(remote.CallNotification.Method, want.CallNotification.Method) {
		fields = append(fields, "callNotification.method")
	}
	return fields
}

// driftPrefix starts InSync's message when the remote side drifted.
const driftPrefix = "The remote configuration differs from the spec in: "

// setInSync writes the InSync condition from a drift list. Drift is
// Drifted only where it stays (ObserveOnly); under Manage it is being
// corrected: Progressing.
func setInSync(conds *[]metav1.Condition, generation int64, fields []string, observeOnly bool) {
	c := metav1.Condition{Type: voicev1alpha1.ConditionInSync, Status: metav1.ConditionTrue, Reason: voicev1alpha1.ReasonSynced,
		Message: "The remote configuration matches the spec", ObservedGeneration: generation}
	if len(fields) > 0 {
		c.Status, c.Reason = metav1.ConditionFalse, voicev1alpha1.ReasonProgressing
		if observeOnly {
			c.Reason = voicev1alpha1.ReasonDrifted
		}
		c.Message = driftPrefix + strings.Join(fields, ", ")
	}
	meta.SetStatusCondition(conds, c)
}

// sameAccount refuses to act when the credentials now name another account
// than the one holding what this object created: acting would create a
// second configuration and leave the first one unmanaged.
func sameAccount(obj *voicev1alpha1.ClientConfiguration, api VoiceAPI) error {
	if other := api.AnsweredForAnother(); other != "" {
		// Known from an earlier answer: nothing is sent, not even a read.
		return stalled(voicev1alpha1.ReasonAccountMismatch, fmt.Errorf(
			"the credentials in Secret %q act on account %s, not on %s as its %s says; fix the Secret so that the SID and the key or token are of the same account",
			obj.Spec.CredentialsRef.Name, other, api.AccountSID(), voicev1alpha1.SecretKeyAccountSID))
	}
	account := api.AccountSID()
	recorded := obj.Status.AccountSID
	if recorded == "" && obj.Status.ID == "" {
		if intent := readIntent(obj); intent != nil {
			recorded = intent.Account
		}
	}
	if intent := readIntent(obj); intent != nil && intent.Account == account && intent.Where != api.Location() &&
		(intent.Created != "" || intent.Adopted != "" || len(intent.Attempts) > 0) {
		// Another region's API answers 404 for this one's configuration:
		// going on would create a second one there, and orphan the first.
		return stalled(voicev1alpha1.ReasonAccountChanged, fmt.Errorf(
			"the remote configuration lives in region %q, but Secret %q now selects region %q (%s, %s); "+
				"restore the Secret, or to move: set spec.deletionPolicy: Orphan, delete this object, and create it again",
			placeName(intent.Where), obj.Spec.CredentialsRef.Name, placeName(api.Location()), voicev1alpha1.SecretKeyRegion, voicev1alpha1.SecretKeyEdge))
	}
	if recorded == "" || recorded == account {
		return nil
	}
	return stalled(voicev1alpha1.ReasonAccountChanged, fmt.Errorf(
		"the remote configuration belongs to account %s, but Secret %q now holds credentials for account %s; "+
			"restore the Secret, or to move: set spec.deletionPolicy: Orphan, delete this object, and create it again",
		recorded, obj.Spec.CredentialsRef.Name, account))
}

// placeName names a region/edge for a person ("default" for Twilio's).
func placeName(where string) string {
	if where == "" {
		return "default"
	}
	return where
}

// wantsAdoption reports whether the adopt annotation allows taking over a
// remote configuration that already has the spec's unique name.
func wantsAdoption(obj *voicev1alpha1.ClientConfiguration) bool {
	return obj.Annotations[voicev1alpha1.AnnotationAdopt] == "true"
}

func methodOrDefault(m voicev1alpha1.HTTPMethod) voicev1alpha1.HTTPMethod {
	if m == "" {
		return voicev1alpha1.HTTPMethodPOST
	}
	return m
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
