package controllers

import (
	"encoding/json"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"

	voicev1alpha1 "github.com/twilio-operator/voice-operator/api/v1alpha1"
	"github.com/twilio-operator/voice-operator/internal/voice"
)

// createIntent is the create-intent marker: written to the object (in the same
// write as the finalizer) before a create request is sent, so that after a
// crash or a lost response a remote configuration with this name can be
// recognised as ours instead of being created twice or leaked.
//
// It stays on the object after the create succeeded: it is then only evidence
// of what this object created, consulted again only if status.id is lost.
type createIntent struct {
	// Account the create was sent to.
	Account string `json:"account"`
	// UniqueName that was (or was about to be) created.
	UniqueName string `json:"uniqueName"`
	// At is when the marker was written, just before the request.
	At time.Time `json:"at"`
}

// clockSkew is how far Twilio's clock may be behind ours when comparing a
// remote date_created with an intent's time.
const clockSkew = 5 * time.Minute

// readIntent returns the object's marker, or nil when it has none (or one
// that cannot be read, which must not be taken as evidence).
func readIntent(obj client.Object) *createIntent {
	raw, ok := obj.GetAnnotations()[voicev1alpha1.AnnotationCreateIntent]
	if !ok {
		return nil
	}
	var intent createIntent
	if err := json.Unmarshal([]byte(raw), &intent); err != nil || intent.Account == "" || intent.UniqueName == "" {
		return nil
	}
	return &intent
}

// setIntent writes the marker into obj's annotations (in memory).
func setIntent(obj client.Object, intent createIntent) {
	raw, _ := json.Marshal(intent) // a struct of strings and a time cannot fail to encode
	annotations := obj.GetAnnotations()
	if annotations == nil {
		annotations = map[string]string{}
	}
	annotations[voicev1alpha1.AnnotationCreateIntent] = string(raw)
	obj.SetAnnotations(annotations)
}

// clearIntent removes the marker from obj's annotations (in memory).
func clearIntent(obj client.Object) {
	annotations := obj.GetAnnotations()
	delete(annotations, voicev1alpha1.AnnotationCreateIntent)
	obj.SetAnnotations(annotations)
}

// covers reports whether remote can be the configuration this intent created:
// same account and name, and not created well before the intent was written
// (that one belonged to someone else before we ever tried).
func (i *createIntent) covers(account string, remote *voice.Configuration) bool {
	if i == nil || i.Account != account || i.UniqueName != remote.UniqueName {
		return false
	}
	return remote.DateCreated.IsZero() || !remote.DateCreated.Before(i.At.Add(-clockSkew))
}
