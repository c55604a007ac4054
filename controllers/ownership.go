package controllers

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/url"
	"strings"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"

	voicev1alpha1 "github.com/twilio-operator/voice-operator/api/v1alpha1"
	"github.com/twilio-operator/voice-operator/internal/voice"
)

// How the operator proves that a remote configuration is its own.
//
// The API has no idempotency key and, in the shape its reference documents,
// no creation date. A create that fails ambiguously (a timeout, a 5xx, an
// unreadable answer) may or may not have happened, and the configuration
// found afterwards under the unique name may be ours or someone else's. A
// configuration is taken as ours only when both hold:
//
//  1. The name was free before our first attempt: a List that started at
//     most nameCheckMaxAge (5 s, longer for an account whose List takes
//     long) before the create was decided showed no
//     configuration with it, and the create-intent marker, written before
//     the POST, records when that List started.
//  2. The configuration found equals exactly what the attempt sent (unique
//     name, description, URL, method), recorded as a digest in the marker.
//
// Anything else is AlreadyExists: no PUT, no DELETE, whatever happens next.
// A new attempt always writes a new marker, so a marker from an earlier
// create never vouches for a later one; a re-create after the configuration
// vanished records the id it replaces, so only that re-create's marker is
// consulted when its id turns out to be gone as well.
//
// The proof cannot tell our configuration from someone else's that was
// created, with exactly our content, within the seconds between the List
// and the POST. Dates, were the API to send them, could narrow that window;
// nothing here needs them.

// createIntent is the create-intent marker (annotation
// voice.twilio-operator.io/create-intent).
type createIntent struct {
	// Version is 2; markers written before it (version 0) prove nothing.
	Version int `json:"v,omitempty"`
	// Account the create was sent to.
	Account string `json:"account"`
	// UniqueName that was about to be created.
	UniqueName string `json:"uniqueName"`
	// FreeAt is when the List that found the name free started.
	FreeAt *time.Time `json:"freeAt,omitempty"`
	// At is when the marker was written, just before the POST: only a
	// List that started after it can show what the POST made.
	At time.Time `json:"at"`
	// Sent is the digest of what the create sent (see contentDigest).
	Sent string `json:"sent,omitempty"`
	// Replaces is the id of the configuration that vanished and that this
	// create replaces; empty for a first create.
	Replaces string `json:"replaces,omitempty"`
}

const intentVersion = 2

// clockSkew is how far the clock of the replica that wrote a marker may be
// ahead of the one reading it: a List meant to start after the marker's
// POST starts this much later still.
const clockSkew = 2 * time.Second

// newIntent is the marker for a create of want in account, after a List
// that started at freeAt found the name free.
func newIntent(now time.Time, account string, want voice.ConfigurationInput, freeAt time.Time, replaces string) createIntent {
	free := freeAt.UTC().Truncate(time.Millisecond)
	return createIntent{Version: intentVersion, Account: account, UniqueName: want.UniqueName, FreeAt: &free,
		At:   now.UTC().Truncate(time.Millisecond),
		Sent: contentDigest(want.UniqueName, want.Description, want.CallNotification), Replaces: replaces}
}

// proves reports whether found is the configuration this marker's attempt
// created, by the two conditions above.
func (i *createIntent) proves(account string, found *voice.Configuration) bool {
	return i != nil && i.Version >= intentVersion && i.FreeAt != nil && i.Sent != "" &&
		i.Account == account && found.AccountSID == account && i.UniqueName == found.UniqueName &&
		i.Sent == contentDigest(found.UniqueName, found.Description, found.CallNotification)
}

// contentDigest is a digest of the fields a create sends, as an API might
// store them: a null description equals an empty one, the URL is compared
// normalised, the method in upper case. The webhook password is left out:
// the annotation is readable by anyone who can read the object, and a hash
// of a password can be guessed offline.
func contentDigest(name string, description *string, cn voice.CallNotification) string {
	fields, _ := json.Marshal([]string{name, deref(description), withoutPassword(normalizeURL(cn.URL)), strings.ToUpper(cn.Method)})
	sum := sha256.Sum256(fields)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// withoutPassword drops the password of a URL's userinfo, keeping the user.
func withoutPassword(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.User == nil {
		return raw
	}
	u.User = url.User(u.User.Username())
	return u.String()
}

// readIntent returns the object's marker, or nil when it has none (or one
// that cannot be read, which must not be taken as evidence). A marker of
// the first format (account, uniqueName, at) reads as version 0: it names
// a name, and proves nothing about it.
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
	raw, _ := json.Marshal(intent) // strings and a time cannot fail to encode
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
