package controllers

import (
	"context"
	"fmt"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/util/wait"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/source"

	voicev1alpha1 "github.com/twilio-operator/voice-operator/api/v1alpha1"
	"github.com/twilio-operator/voice-operator/internal/voice"
)

// RemoteCache is the list-based way of observing remote configurations
// (--observe=list). Once per period it reads every configuration of each
// account with one paged List, keeps the result as a snapshot that reconciles
// read instead of sending one GET per object, and enqueues only the objects
// whose remote configuration drifted or went missing. The steady-state cost
// is ceil(N / pageSize) reads per account per period instead of N.
//
// A snapshot may be older than the remote side, so it is trusted only in the
// safe direction: what it holds is used (and corrected by a full PUT if it
// differs, which is idempotent), but an id missing from it is confirmed with
// a GET before anything is recreated. Writes made by the controller are
// recorded as they return, and a List that started before such a write does
// not overwrite it.
type RemoteCache struct {
	objects  client.Reader
	period   time.Duration
	pageSize int
	events   chan event.GenericEvent

	mu       sync.Mutex
	accounts map[string]*snapshot
}

// NewRemoteCache creates a RemoteCache that lists every period, pageSize
// configurations a page, and compares them with the ClientConfigurations
// read from objects (the manager's cache).
func NewRemoteCache(objects client.Reader, period time.Duration, pageSize int) *RemoteCache {
	return &RemoteCache{
		objects:  objects,
		period:   period,
		pageSize: pageSize,
		events:   make(chan event.GenericEvent, 1024),
		accounts: map[string]*snapshot{},
	}
}

// snapshot is what the last List of one account returned, plus the
// controller's own writes since.
type snapshot struct {
	refresh sync.Mutex // one List at a time per account

	mu      sync.Mutex
	api     VoiceAPI // the client the last reconcile of this account used
	items   map[string]voice.Configuration
	listed  time.Time            // when the last complete List started; zero before the first
	written map[string]time.Time // id → when we last created, updated or deleted it
	gone    map[string]bool      // ids we deleted since, kept out of a List that still shows them
	// good is, per id, the remote state a reconcile last found or made equal
	// to the spec. A resync compares the List with it, not with the spec,
	// so it never needs the webhook password a spec's Secret holds. It lives
	// in memory only: after a restart every object is reconciled once.
	good map[string]remoteKey
}

// remoteKey is the part of a configuration the operator owns, comparable.
type remoteKey struct {
	uniqueName, description, url, method string
	nullDescription                      bool
}

func keyOf(cfg *voice.Configuration) remoteKey {
	return remoteKey{uniqueName: cfg.UniqueName, description: deref(cfg.Description), nullDescription: cfg.Description == nil,
		url: cfg.CallNotification.URL, method: cfg.CallNotification.Method}
}

// get returns the remote configuration with this id, or a NotFound error; it
// never writes. fresh skips the snapshot (a person asked for a resync).
// A nil RemoteCache reads with one GET (--observe=get).
func (c *RemoteCache) get(ctx context.Context, api VoiceAPI, id string, fresh bool) (*voice.Configuration, error) {
	if c == nil || fresh {
		return api.Get(ctx, id)
	}
	s := c.snapshotFor(api)
	if err := c.ensureFresh(ctx, s); err != nil {
		// Without a snapshot the authoritative read still answers.
		ctrl.LoggerFrom(ctx).V(1).Info("Read one configuration instead of the list", "reason", err.Error())
		return api.Get(ctx, id)
	}
	s.mu.Lock()
	cfg, ok := s.items[id]
	s.mu.Unlock()
	if ok {
		return &cfg, nil
	}
	// Missing from the snapshot: confirm with the authoritative read, so a
	// snapshot older than a create can never cause a second one.
	return api.Get(ctx, id)
}

// wrote records a configuration a create or update returned.
func (c *RemoteCache) wrote(api VoiceAPI, cfg *voice.Configuration) {
	if c == nil {
		return
	}
	s := c.snapshotFor(api)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.items[cfg.ID] = *cfg
	s.written[cfg.ID] = time.Now()
	s.good[cfg.ID] = keyOf(cfg)
	delete(s.gone, cfg.ID)
}

// verified records that a reconcile found cfg as it should be.
func (c *RemoteCache) verified(api VoiceAPI, cfg *voice.Configuration) {
	if c == nil {
		return
	}
	s := c.snapshotFor(api)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.good[cfg.ID] = keyOf(cfg)
}

// deleted records that a configuration was deleted.
func (c *RemoteCache) deleted(api VoiceAPI, id string) {
	if c == nil {
		return
	}
	s := c.snapshotFor(api)
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.items, id)
	delete(s.good, id)
	s.written[id] = time.Now()
	s.gone[id] = true
}

// snapshotFor returns the account's snapshot, creating it on first use, and
// remembers api as the client to list the account with.
func (c *RemoteCache) snapshotFor(api VoiceAPI) *snapshot {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.accounts[api.AccountSID()]
	if s == nil {
		s = &snapshot{items: map[string]voice.Configuration{}, written: map[string]time.Time{}, gone: map[string]bool{}, good: map[string]remoteKey{}}
		c.accounts[api.AccountSID()] = s
	}
	s.mu.Lock()
	s.api = api
	s.mu.Unlock()
	return s
}

// ensureFresh lists the account when its snapshot is missing or older than
// two periods (the periodic resync keeps it younger than that).
func (c *RemoteCache) ensureFresh(ctx context.Context, s *snapshot) error {
	s.mu.Lock()
	stale := s.listed.IsZero() || time.Since(s.listed) > 2*c.period
	s.mu.Unlock()
	if !stale {
		return nil
	}
	return c.relist(ctx, s, false)
}

// relist reads every configuration of the account into its snapshot. With
// force it lists even if another caller just did (the periodic resync).
func (c *RemoteCache) relist(ctx context.Context, s *snapshot, force bool) error {
	s.refresh.Lock()
	defer s.refresh.Unlock()
	s.mu.Lock()
	api, listed := s.api, s.listed
	s.mu.Unlock()
	if !force && !listed.IsZero() && time.Since(listed) <= 2*c.period {
		return nil // another reconcile refreshed it while we waited
	}

	started := time.Now()
	items := map[string]voice.Configuration{}
	for cfg, err := range api.List(ctx, c.pageSize) {
		if err != nil {
			return remoteError("listing remote configurations", err)
		}
		items[cfg.ID] = *cfg
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	// Our writes made after the List started win over what it saw; older
	// records are no longer needed.
	for id, at := range s.written {
		if at.Before(started) {
			delete(s.written, id)
			delete(s.gone, id)
			continue
		}
		if s.gone[id] {
			delete(items, id)
		} else if mine, ok := s.items[id]; ok {
			items[id] = mine
		}
	}
	s.items, s.listed = items, started
	return nil
}

// Source is the event source the ClientConfiguration controller watches for
// the objects a resync found out of date.
func (c *RemoteCache) Source() source.Source {
	return source.Channel(c.events, &handler.EnqueueRequestForObject{})
}

// Start relists every account each period and enqueues the objects whose
// remote side changed since a reconcile last found it right. It runs only on the leader (the manager's default for a Runnable).
func (c *RemoteCache) Start(ctx context.Context) error {
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(wait.Jitter(c.period, 0.1)):
		}
		c.resync(ctx)
	}
}

// resync is one period's work.
func (c *RemoteCache) resync(ctx context.Context) {
	log := ctrl.LoggerFrom(ctx).WithName("remote-cache")
	objs := &voicev1alpha1.ClientConfigurationList{}
	// Read-only use of the cached objects: no deep copy of thousands of them
	// every period.
	if err := c.objects.List(ctx, objs, client.UnsafeDisableDeepCopy); err != nil {
		log.Error(err, "Failed to list ClientConfigurations")
		return
	}
	byAccount := map[string][]*voicev1alpha1.ClientConfiguration{}
	for i := range objs.Items {
		obj := &objs.Items[i]
		if obj.Status.ID != "" && obj.DeletionTimestamp.IsZero() {
			byAccount[obj.Status.AccountSID] = append(byAccount[obj.Status.AccountSID], obj)
		}
	}

	c.mu.Lock()
	accounts := make(map[string]*snapshot, len(c.accounts))
	for sid, s := range c.accounts {
		if len(byAccount[sid]) == 0 {
			delete(c.accounts, sid) // nothing of ours lives there any more
			continue
		}
		accounts[sid] = s
	}
	c.mu.Unlock()

	for sid, s := range accounts {
		if err := c.relist(ctx, s, true); err != nil {
			log.Error(err, "Failed to list remote configurations", "account", sid)
			continue
		}
		for _, obj := range byAccount[sid] {
			if c.outOfDate(s, obj) {
				select {
				case c.events <- event.GenericEvent{Object: obj}:
				case <-ctx.Done():
					return
				}
			}
		}
	}
}

// outOfDate reports whether obj needs a reconcile: its remote configuration
// is missing, or differs from what a reconcile last found right (or was
// never checked by this process). Spec changes reach the controller through
// its watch, so they need no comparison here.
func (c *RemoteCache) outOfDate(s *snapshot, obj *voicev1alpha1.ClientConfiguration) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	remote, ok := s.items[obj.Status.ID]
	if !ok {
		return true
	}
	good, known := s.good[obj.Status.ID]
	return !known || good != keyOf(&remote)
}

// String describes the cache for logs.
func (c *RemoteCache) String() string {
	return fmt.Sprintf("list every %s, %d a page", c.period, c.pageSize)
}
