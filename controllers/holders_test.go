package controllers

import (
	"context"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	toolscache "k8s.io/client-go/tools/cache"

	voicev1alpha1 "github.com/twilio-operator/voice-operator/api/v1alpha1"
)

func holding(name, uid, account, id string, created time.Time) *voicev1alpha1.ClientConfiguration {
	obj := &voicev1alpha1.ClientConfiguration{ObjectMeta: metav1.ObjectMeta{
		Namespace: "team", Name: name, UID: types.UID(uid), CreationTimestamp: metav1.NewTime(created)}}
	obj.Status.AccountSID, obj.Status.ID = account, id
	return obj
}

func holderNames(t *testing.T, h *holderIndex, account, id string) []string {
	t.Helper()
	holders, err := h.holders(t.Context(), account, id)
	if err != nil {
		t.Fatalf("holders(%s, %s): %v", account, id, err)
	}
	names := []string{}
	for _, o := range holders {
		names = append(names, o.key.Name)
	}
	return names
}

// TestHolderIndexFollowsTheObjects checks that the index answers, for a
// remote configuration, exactly the objects whose status holds it now:
// through adds, a relist, an update that moves the id, a second holder,
// deletes and a delete the informer only learned of late (a tombstone).
func TestHolderIndexFollowsTheObjects(t *testing.T) {
	h := newHolderIndex()
	h.synced = func() bool { return true }
	now := time.Now()
	a := holding("a", "uid-a", "AC1", "voice_clientconfiguration_1", now)
	b := holding("b", "uid-b", "AC1", "voice_clientconfiguration_2", now.Add(time.Second))

	elsewhere := holding("c", "uid-c", "AC2", "voice_clientconfiguration_1", now)

	h.update(nil, a)
	h.update(nil, b)
	h.update(nil, elsewhere)
	h.update(nil, a) // the informer relisted
	if got := holderNames(t, h, "AC1", "voice_clientconfiguration_1"); len(got) != 1 || got[0] != "a" {
		t.Errorf("holders of 1 = %v, want [a] (once, after a relist; c holds 1 of another account)", got)
	}
	if got := holderNames(t, h, "AC2", "voice_clientconfiguration_1"); len(got) != 1 || got[0] != "c" {
		t.Errorf("holders of 1 in the other account = %v, want [c]", got)
	}
	h.update(elsewhere, nil)

	moved := b.DeepCopy()
	moved.Status.ID = "voice_clientconfiguration_1" // b now holds 1 as well
	h.update(b, moved)
	if got := holderNames(t, h, "AC1", "voice_clientconfiguration_2"); len(got) != 0 {
		t.Errorf("holders of 2 after b moved = %v, want none", got)
	}
	holders, _ := h.holders(t.Context(), "AC1", "voice_clientconfiguration_1")
	if len(holders) != 2 {
		t.Fatalf("holders of 1 = %v, want a and b", holders)
	}
	for _, o := range holders {
		if o.key.Name == "a" && !o.older(moved) {
			t.Errorf("a (created first) is not older than b")
		}
		if o.key.Name == "b" && o.older(a) {
			t.Errorf("b (created later) is older than a")
		}
	}

	h.update(a, nil)
	h.update(asClientConfiguration(toolscache.DeletedFinalStateUnknown{Key: "team/b", Obj: moved}), nil)
	if got := holderNames(t, h, "AC1", "voice_clientconfiguration_1"); len(got) != 0 {
		t.Errorf("holders of 1 after both were deleted = %v, want none", got)
	}
	if len(h.byID) != 0 {
		t.Errorf("the index keeps %d entries after every object was deleted", len(h.byID))
	}
}

// TestTombstonesAreUnwrapped checks that a delete the informer learned of
// late still removes the object.
func TestTombstonesAreUnwrapped(t *testing.T) {
	obj := holding("a", "uid-a", "AC1", "voice_clientconfiguration_1", time.Now())
	if got := asClientConfiguration(toolscache.DeletedFinalStateUnknown{Key: "team/a", Obj: obj}); got != obj {
		t.Errorf("a tombstone unwrapped to %v, want the object it holds", got)
	}
	if got := asClientConfiguration("something else"); got != nil {
		t.Errorf("a foreign object unwrapped to %v, want nil", got)
	}
}

// TestHolderIndexWaitsForItsInitialList checks that no answer is given
// before the index has seen the informer's initial list: "no holder" from
// an index still filling would let two objects own one configuration.
func TestHolderIndexWaitsForItsInitialList(t *testing.T) {
	h := newHolderIndex()
	h.update(nil, holding("a", "uid-a", "AC1", "voice_clientconfiguration_1", time.Now()))
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	if holders, err := h.holders(ctx, "AC1", "voice_clientconfiguration_1"); err == nil {
		t.Fatalf("an index that never synced answered %v", holders)
	}

	synced := make(chan struct{})
	h.synced = func() bool {
		select {
		case <-synced:
			return true
		default:
			return false
		}
	}
	time.AfterFunc(30*time.Millisecond, func() { close(synced) })
	if got := holderNames(t, h, "AC1", "voice_clientconfiguration_1"); len(got) != 1 {
		t.Errorf("holders once synced = %v, want [a]", got)
	}
}
