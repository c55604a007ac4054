package controllers

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/url"
	"slices"
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
// unreadable answer) may or may not have happened, may still happen (a
// gateway that timed out while the backend works on), and the
// configuration found afterwards under the unique name may be ours or
// someone else's. The create-intent marker, an annotation written before
// every POST, is the evidence. It is bound to the object's UID (a copy of
// the object, or a restore into another cluster, proves nothing), and it
// holds:
//
//   - every attempt whose outcome is unknown, each with the unique name it
//     sent, a digest of what it sent, when the List that showed the name
//     free started, and when the attempt was made;
//   - the id of the configuration a create of this object made (created),
//     recorded the moment the POST answers, before anything else, or the
//     id it adopted (adopted), recorded before its first PUT.
//
// status.id is what the object owns only when the marker names it so: an
// id recorded while the object was ObserveOnly, or by hand, is what it
// read, and proves nothing once it turns to Manage. An object that turns
// ObserveOnly releases what it owned (released): it takes it back on
// turning to Manage only if no other object took it meanwhile.
//
// A configuration found under an attempt's name is ours only when both
// hold: the name was free before the attempt (FreeAt), and the
// configuration equals exactly what the attempt sent. Anything else is
// AlreadyExists: no PUT, no DELETE, whatever happens next. An attempt is
// resolved, and leaves the marker in the apiserver (never only in a cache),
// once its outcome is known: its POST answered (success: created; a
// refusal: nothing), its configuration was found and proven, or a List
// that started lateCommitWindow after it shows no configuration it could
// have made. A resolved attempt never proves anything again.
//
// The proof cannot tell our configuration from someone else's that was
// created, with exactly our content, within the seconds between the List
// and the POST. Dates, were the API to send them, could narrow that window;
// nothing here needs them.

// createIntent is the create-intent marker (annotation
// voice.twilio-operator.io/create-intent).
type createIntent struct {
	// Version is 3; markers of earlier formats prove nothing.
	Version int `json:"v"`
	// UID is the object the marker belongs to.
	UID string `json:"uid"`
	// Account the creates were sent to.
	Account string `json:"account"`
	// Where is the region and edge they were sent to ("" for Twilio's
	// default): a configuration lives in one region, and another region's
	// API answers 404 for it.
	Where string `json:"where,omitempty"`
	// Attempts are the creates whose outcome is not known yet.
	Attempts []attempt `json:"attempts,omitempty"`
	// Created is the id of the configuration a create of this object made.
	Created string `json:"created,omitempty"`
	// Adopted is the id of the configuration this object took over with
	// the adopt annotation.
	Adopted string `json:"adopted,omitempty"`
	// Released is the id the object created or adopted and then let go of
	// by turning ObserveOnly: it owns nothing while it observes, and takes
	// the configuration back on turning to Manage only if no other object
	// took it meanwhile.
	Released string `json:"released,omitempty"`
}

// attempt is one POST whose outcome is not known yet.
type attempt struct {
	// Name is the unique name it sent.
	Name string `json:"uniqueName"`
	// Sent is the digest of what it sent (see contentDigest).
	Sent string `json:"sent"`
	// FreeAt is when the List that found the name free started.
	FreeAt time.Time `json:"freeAt"`
	// At is when the attempt was recorded, just before the POST: only a
	// List that started after it can show what the POST made.
	At time.Time `json:"at"`
	// User is who sent it (the account SID, or an API key SID; never a
	// secret): an API key may belong to another account than the SID
	// says, and only the same credentials can look where it went.
	User string `json:"user,omitempty"`
}

const intentVersion = 3

// maxAttempts bounds the attempts a marker holds: past it, no POST is
// sent until an earlier attempt's outcome is known.
const maxAttempts = 5

// clockSkew is how far the clock of the replica that wrote a marker may be
// ahead of the one reading it: a List meant to start after an attempt's
// POST starts this much later still.
const clockSkew = 2 * time.Second

// DefaultLateCommitWindow is how long after an attempt whose answer was
// lost the API may still commit it (a gateway timeout while the backend
// works on): a List that started this long after the attempt and shows no
// configuration it could have made resolves it as not made.
const DefaultLateCommitWindow = 2 * time.Minute

// newAttempt is the attempt of a create of want at now, after a List that
// started at freeAt found the name free.
func newAttempt(now time.Time, want voice.ConfigurationInput, freeAt time.Time, user string) attempt {
	return attempt{Name: want.UniqueName, Sent: contentDigest(want.UniqueName, want.Description, want.CallNotification),
		FreeAt: freeAt.UTC().Truncate(time.Millisecond), At: now.UTC().Truncate(time.Millisecond), User: user}
}

// proves reports whether found is the configuration this attempt created,
// in account.
func (a attempt) proves(account string, found *voice.Configuration) bool {
	return !a.FreeAt.IsZero() && a.Sent != "" && found.AccountSID == account && a.Name == found.UniqueName &&
		a.Sent == contentDigest(found.UniqueName, found.Description, found.CallNotification)
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

// readIntent returns obj's marker, or nil when it has none, or one that
// cannot be evidence: unreadable, of an earlier format, or written for
// another object (a copy, a restore).
func readIntent(obj client.Object) *createIntent {
	raw, ok := obj.GetAnnotations()[voicev1alpha1.AnnotationCreateIntent]
	if !ok {
		return nil
	}
	var intent createIntent
	if err := json.Unmarshal([]byte(raw), &intent); err != nil || intent.Account == "" {
		return nil
	}
	if intent.Version < intentVersion {
		return fromLegacy(obj, raw)
	}
	if intent.Version != intentVersion || intent.UID == "" || intent.UID != string(obj.GetUID()) {
		return nil
	}
	return &intent
}

// fromLegacy reads a marker of an earlier format (version 2, or the first,
// with no version) as what it still proves:
// that the object created the id its status names, when the marker's
// create was not the re-create of that id (the earlier operator's own
// rule). Nothing else of it is evidence any more, and an object whose
// status names no id gets nothing from it.
func fromLegacy(obj client.Object, raw string) *createIntent {
	cc, ok := obj.(*voicev1alpha1.ClientConfiguration)
	if !ok || cc.Status.ID == "" || cc.Spec.ManagementPolicy == voicev1alpha1.ManagementPolicyObserveOnly {
		return nil
	}
	var legacy struct {
		Account  string `json:"account"`
		Replaces string `json:"replaces"`
	}
	if err := json.Unmarshal([]byte(raw), &legacy); err != nil || legacy.Account == "" || legacy.Account != cc.Status.AccountSID || legacy.Replaces == cc.Status.ID {
		return nil
	}
	return &createIntent{Version: intentVersion, UID: string(obj.GetUID()), Account: legacy.Account, Created: cc.Status.ID}
}

// intentFor returns obj's marker for account at where, or a new, empty one.
func intentFor(obj client.Object, account, where string) *createIntent {
	if intent := readIntent(obj); intent != nil && intent.Account == account && intent.Where == where {
		return intent
	}
	return &createIntent{Version: intentVersion, UID: string(obj.GetUID()), Account: account, Where: where}
}

// without returns the marker without the attempts at the given indexes.
func (i *createIntent) without(resolved []int) *createIntent {
	out := *i
	out.Attempts = nil
	for n, a := range i.Attempts {
		if !slices.Contains(resolved, n) {
			out.Attempts = append(out.Attempts, a)
		}
	}
	return &out
}

// setIntent writes the marker into obj's annotations (in memory); an
// empty marker (no attempt, nothing created) is removed instead.
func setIntent(obj client.Object, intent *createIntent) {
	annotations := obj.GetAnnotations()
	if intent == nil || (len(intent.Attempts) == 0 && intent.Created == "" && intent.Adopted == "" && intent.Released == "") {
		delete(annotations, voicev1alpha1.AnnotationCreateIntent)
		obj.SetAnnotations(annotations)
		return
	}
	raw, _ := json.Marshal(intent) // strings and times cannot fail to encode
	if annotations == nil {
		annotations = map[string]string{}
	}
	annotations[voicev1alpha1.AnnotationCreateIntent] = string(raw)
	obj.SetAnnotations(annotations)
}

// owns reports whether obj owns remote configuration id of account: it
// manages, and its marker records that it created or adopted id.
func owns(obj *voicev1alpha1.ClientConfiguration, account, id string) bool {
	return ownsBy(obj, readIntent(obj), account, id)
}

// ownsBy is owns with obj's marker already read.
func ownsBy(obj *voicev1alpha1.ClientConfiguration, intent *createIntent, account, id string) bool {
	if obj.Spec.ManagementPolicy == voicev1alpha1.ManagementPolicyObserveOnly || id == "" {
		return false
	}
	return intent != nil && intent.Account == account && (intent.Created == id || intent.Adopted == id)
}
