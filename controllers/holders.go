package controllers

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	voicev1alpha1 "github.com/twilio-operator/voice-operator/api/v1alpha1"
)

// holderIndex finds the ClientConfigurations whose status holds a remote
// configuration (account and id): the question claims.rival asks so that a
// remote configuration has one owner. It is kept from the informer's
// events instead of a field index of the cache, which keeps a set of keys
// for every value, twice (per namespace and for all): about 900 bytes for
// each object, where a remote id is held by one object; this keeps about
// 150, and shares the object's own strings.
type holderIndex struct {
	mu   sync.RWMutex
	byID map[remoteRef][]holder
	// creating is, per account and unique name, the objects whose marker
	// holds an attempt to create it whose outcome is not known yet.
	creating map[remoteRef][]creation
	// recorded is, per remote configuration, the objects whose marker
	// records it as created, adopted or released by them.
	recorded map[remoteRef][]types.NamespacedName
	synced   func() bool
}

// remoteRef names a remote configuration: its account and id.
type remoteRef struct{ account, id string }

// holder is an object that holds a remote configuration in its status.
type holder struct {
	uid      types.UID
	key      types.NamespacedName
	created  metav1.Time
	deleting bool
	// observes marks an object that does not own the configuration its
	// status names (ObserveOnly: it reads it; or a Manage object whose
	// marker does not record it): claims skips it, a resync still
	// compares it.
	observes bool
}

func newHolderIndex() *holderIndex {
	return &holderIndex{byID: map[remoteRef][]holder{}, creating: map[remoteRef][]creation{}, recorded: map[remoteRef][]types.NamespacedName{}, synced: func() bool { return false }}
}

// register keeps the index from the events of the cache's
// ClientConfiguration informer.
func (h *holderIndex) register(ctx context.Context, c cache.Cache) error {
	informer, err := c.GetInformer(ctx, &voicev1alpha1.ClientConfiguration{})
	if err != nil {
		return fmt.Errorf("getting the ClientConfiguration informer: %w", err)
	}
	reg, err := informer.AddEventHandler(toolscache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { h.update(nil, asClientConfiguration(obj)) },
		UpdateFunc: func(old, obj any) { h.update(asClientConfiguration(old), asClientConfiguration(obj)) },
		DeleteFunc: func(obj any) { h.update(asClientConfiguration(obj), nil) },
	})
	if err != nil {
		return fmt.Errorf("watching ClientConfigurations for the holder index: %w", err)
	}
	h.mu.Lock()
	h.synced = reg.HasSynced
	h.mu.Unlock()
	return nil
}

// asClientConfiguration unwraps an informer event's object (nil for
// anything else).
func asClientConfiguration(obj any) *voicev1alpha1.ClientConfiguration {
	if tombstone, ok := obj.(toolscache.DeletedFinalStateUnknown); ok {
		obj = tombstone.Obj
	}
	cc, _ := obj.(*voicev1alpha1.ClientConfiguration)
	return cc
}

// refOf is the remote configuration obj holds, if any.
func refOf(obj *voicev1alpha1.ClientConfiguration) (remoteRef, bool) {
	if obj == nil || obj.Status.ID == "" {
		return remoteRef{}, false
	}
	return remoteRef{account: obj.Status.AccountSID, id: obj.Status.ID}, true
}

// update moves an object from what its old version held to what its new
// one holds (nil: none, or gone).
func (h *holderIndex) update(old, obj *voicev1alpha1.ClientConfiguration) {
	oldRef, held := refOf(old)
	ref, holds := refOf(obj)
	// Each marker is read once per event: the informer's events are the
	// hot path of thousands of objects.
	oldIntent, intent := intentOf(old), intentOf(obj)
	h.mu.Lock()
	defer h.mu.Unlock()
	for name := range attemptsIn(oldIntent) {
		h.creating[name] = slices.DeleteFunc(h.creating[name], func(c creation) bool { return c.key == client.ObjectKeyFromObject(old) })
		if len(h.creating[name]) == 0 {
			delete(h.creating, name)
		}
	}
	for name, at := range attemptsIn(intent) {
		h.creating[name] = append(h.creating[name], creation{key: client.ObjectKeyFromObject(obj), at: at})
	}
	for _, ref := range recordsIn(oldIntent) {
		h.recorded[ref] = slices.DeleteFunc(h.recorded[ref], func(k types.NamespacedName) bool { return k == client.ObjectKeyFromObject(old) })
		if len(h.recorded[ref]) == 0 {
			delete(h.recorded, ref)
		}
	}
	for _, ref := range recordsIn(intent) {
		h.recorded[ref] = append(h.recorded[ref], client.ObjectKeyFromObject(obj))
	}
	if held && (!holds || oldRef != ref) {
		h.remove(oldRef, old.UID)
	}
	if holds {
		h.put(ref, holder{uid: obj.UID, key: client.ObjectKeyFromObject(obj), created: obj.CreationTimestamp,
			deleting: !obj.DeletionTimestamp.IsZero(), observes: !ownsBy(obj, intent, ref.account, ref.id)})
	}
}

// creation is an object's create attempt whose outcome is not known yet.
type creation struct {
	key types.NamespacedName
	at  time.Time // the latest attempt of the object for the name
}

// intentOf is obj's marker (nil for no object).
func intentOf(obj *voicev1alpha1.ClientConfiguration) *createIntent {
	if obj == nil {
		return nil
	}
	return readIntent(obj)
}

// attemptsIn gives, per account and unique name, when a marker last
// attempted to create it, among its attempts whose outcome is unknown.
func attemptsIn(intent *createIntent) map[remoteRef]time.Time {
	if intent == nil {
		return nil
	}
	refs := make(map[remoteRef]time.Time, len(intent.Attempts))
	for _, a := range intent.Attempts {
		ref := remoteRef{account: intent.Account, id: a.Name}
		if a.At.After(refs[ref]) {
			refs[ref] = a.At
		}
	}
	return refs
}

// recordsIn lists the remote configurations a marker records as made,
// adopted or released by its object.
func recordsIn(intent *createIntent) []remoteRef {
	if intent == nil {
		return nil
	}
	var refs []remoteRef
	for _, id := range []string{intent.Created, intent.Adopted, intent.Released} {
		if id != "" {
			refs = append(refs, remoteRef{account: intent.Account, id: id})
		}
	}
	return refs
}

// recorders returns the objects whose marker records configuration id of
// account as made, adopted or released by them.
func (h *holderIndex) recorders(account, id string) []types.NamespacedName {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return slices.Clone(h.recorded[remoteRef{account: account, id: id}])
}

// creators returns the objects with an attempt to create unique name in
// account whose outcome is unknown, made at or after since.
func (h *holderIndex) creators(account, name string, since time.Time) []types.NamespacedName {
	h.mu.RLock()
	defer h.mu.RUnlock()
	var keys []types.NamespacedName
	for _, c := range h.creating[remoteRef{account: account, id: name}] {
		if !c.at.Before(since) {
			keys = append(keys, c.key)
		}
	}
	return keys
}

// put records o as a holder of ref, in place if it is one already (a
// status update, or an Add of a relist).
func (h *holderIndex) put(ref remoteRef, o holder) {
	holders := h.byID[ref]
	for i := range holders {
		if holders[i].uid == o.uid {
			holders[i] = o
			return
		}
	}
	h.byID[ref] = append(holders, o)
}

func (h *holderIndex) remove(ref remoteRef, uid types.UID) {
	holders := slices.DeleteFunc(h.byID[ref], func(o holder) bool { return o.uid == uid })
	if len(holders) == 0 {
		delete(h.byID, ref)
		return
	}
	h.byID[ref] = holders
}

// holders returns the objects that hold configuration id of account, as
// the cache last showed them. Right after a start it first waits (briefly:
// the cache has synced before any reconcile runs) until the index has seen
// the informer's whole initial list.
func (h *holderIndex) holders(ctx context.Context, account, id string) ([]holder, error) {
	h.mu.RLock()
	synced := h.synced
	h.mu.RUnlock()
	if !synced() {
		if err := wait.PollUntilContextTimeout(ctx, 10*time.Millisecond, holderSyncTimeout, true, func(context.Context) (bool, error) {
			return synced(), nil
		}); err != nil {
			return nil, fmt.Errorf("the index of the objects that hold remote configurations has not seen them all yet: %w", err)
		}
	}
	h.mu.RLock()
	defer h.mu.RUnlock()
	return slices.Clone(h.byID[remoteRef{account: account, id: id}]), nil
}

// each calls f for every object that holds a configuration, with the
// configuration's id, while the index is read-locked: f must not block,
// nor call back into the index.
func (h *holderIndex) each(f func(id string, o holder)) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	for ref, holders := range h.byID {
		for _, o := range holders {
			f(ref.id, o)
		}
	}
}

// holderSyncTimeout bounds the wait for the index after a start.
const holderSyncTimeout = 10 * time.Second

// older orders holders as olderObject orders objects.
func (o holder) older(than client.Object) bool {
	tb := than.GetCreationTimestamp()
	if !o.created.Equal(&tb) {
		return o.created.Before(&tb)
	}
	return o.key.String() < client.ObjectKeyFromObject(than).String()
}
