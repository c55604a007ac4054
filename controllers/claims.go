package controllers

import (
	"context"
	"fmt"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	voicev1alpha1 "github.com/twilio-operator/voice-operator/api/v1alpha1"
)

// claims is the one component that answers who owns a remote
// configuration. Nothing else decides it:
//
//   - A remote configuration (account and id) has at most one owner across
//     all namespaces: the Manage object whose status names it (the holder
//     index, kept from the informer), or the object that claimed it in this
//     process a moment ago, before its status reached the cache. Of two
//     objects that both name it (a state an earlier version could leave),
//     the older keeps it.
//   - ObserveOnly objects never own: they read, and are never a rival.
//   - A unique name is created by one object of this process at a time
//     (reserve), so two objects applied together never POST it twice.
//
// Whether an object may create, adopt, update, delete or must forget a
// configuration follows from what it owns (decide, in
// clientconfiguration_controller.go); whether a configuration it finds is
// its own at all is the create-intent marker's proof (ownership.go).
type claims struct {
	holders *holderIndex
	// reader confirms that an object claiming in this process still exists.
	reader client.Reader

	mu      sync.Mutex
	owners  map[remoteRef]owner
	pending map[remoteRef]types.UID // by account and unique name
}

// owner is the object that owns a configuration.
type owner struct {
	uid types.UID
	key types.NamespacedName
}

func newClaims(holders *holderIndex, reader client.Reader) *claims {
	return &claims{holders: holders, reader: reader, owners: map[remoteRef]owner{}, pending: map[remoteRef]types.UID{}}
}

// rival names another object that owns configuration id of account
// ("namespace/name"), or returns "". An object acquiring a configuration
// yields to any other owner; of two objects that both hold it, the older
// keeps it.
func (c *claims) rival(ctx context.Context, obj *voicev1alpha1.ClientConfiguration, account, id string) (string, error) {
	holders, err := c.holders.holders(ctx, account, id)
	if err != nil {
		return "", transient(voicev1alpha1.ReasonProgressing, fmt.Errorf("looking up the owners of remote configuration %s: %w", id, err))
	}
	// Holding is owning by the marker's record, not merely naming the id
	// in status (an id read while ObserveOnly names it too).
	holding := obj.Status.ID == id && obj.Status.AccountSID == account && owns(obj, account, id)
	for _, other := range holders {
		if other.uid != obj.UID && !other.observes && (!holding || other.older(obj)) {
			return other.key.String(), nil
		}
	}
	ref := remoteRef{account: account, id: id}
	c.mu.Lock()
	claimant, ok := c.owners[ref]
	c.mu.Unlock()
	if !ok || claimant.uid == obj.UID {
		return "", nil
	}
	// Claimed in this process a moment ago, perhaps before the claimant's
	// status reached the cache; unless the claimant is gone since, or no
	// longer manages.
	other := &voicev1alpha1.ClientConfiguration{}
	err = c.reader.Get(ctx, claimant.key, other)
	switch {
	case err == nil && other.UID == claimant.uid && other.Spec.ManagementPolicy != voicev1alpha1.ManagementPolicyObserveOnly:
		return claimant.key.String(), nil
	case client.IgnoreNotFound(err) != nil:
		return "", transient(voicev1alpha1.ReasonProgressing, fmt.Errorf("reading ClientConfiguration %s: %w", claimant.key, err))
	}
	c.mu.Lock()
	if c.owners[ref].uid == claimant.uid {
		delete(c.owners, ref)
	}
	c.mu.Unlock()
	return "", nil
}

// creator names another object that may be creating unique name in
// account right now (an attempt of its marker, made since, has no known
// outcome, or it is sending the POST in this process), or returns "".
// While one does, obj does not create the name: what the other's attempt
// made could not be told from what obj's would. An attempt older than the
// late-commit window (since) can no longer make anything: what it made, a
// List shows.
func (c *claims) creator(obj client.Object, account, name string, since time.Time) string {
	self := client.ObjectKeyFromObject(obj)
	for _, other := range c.holders.creators(account, name, since) {
		if other != self {
			return other.String()
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if uid, ok := c.pending[remoteRef{account: account, id: name}]; ok && uid != obj.GetUID() {
		return "another ClientConfiguration"
	}
	return ""
}

// recordedBy names another object whose marker records configuration id
// of account as made, adopted or released by it, or returns "". What
// another object made is never found to be obj's own, however equal it
// is to what one of obj's attempts sent (a rename can make it so).
func (c *claims) recordedBy(obj client.Object, account, id string) string {
	self := client.ObjectKeyFromObject(obj)
	for _, other := range c.holders.recorders(account, id) {
		if other != self {
			return other.String()
		}
	}
	return ""
}

// claim makes obj the owner of configuration id of account in this
// process, unless another object already is; it returns that other object.
func (c *claims) claim(obj client.Object, account, id string) (other types.NamespacedName, ok bool) {
	ref := remoteRef{account: account, id: id}
	c.mu.Lock()
	defer c.mu.Unlock()
	if o, taken := c.owners[ref]; taken && o.uid != obj.GetUID() {
		return o.key, false
	}
	c.owners[ref] = owner{uid: obj.GetUID(), key: client.ObjectKeyFromObject(obj)}
	return types.NamespacedName{}, true
}

// reserve marks a unique name of account as being created by obj, unless
// another object is creating it; release ends that.
func (c *claims) reserve(obj client.Object, account, name string) bool {
	ref := remoteRef{account: account, id: name}
	c.mu.Lock()
	defer c.mu.Unlock()
	if other, taken := c.pending[ref]; taken && other != obj.GetUID() {
		return false
	}
	c.pending[ref] = obj.GetUID()
	return true
}

func (c *claims) release(obj client.Object, account, name string) {
	ref := remoteRef{account: account, id: name}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.pending[ref] == obj.GetUID() {
		delete(c.pending, ref)
	}
}

// gone drops every claim on configuration id of account: it was deleted.
func (c *claims) gone(account, id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.owners, remoteRef{account: account, id: id})
}

// forget drops obj's claims: it is gone, or gave its configuration up.
func (c *claims) forget(uid types.UID) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for ref, o := range c.owners {
		if o.uid == uid {
			delete(c.owners, ref)
		}
	}
}
