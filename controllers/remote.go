package controllers

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/source"

	voicev1alpha1 "github.com/twilio-operator/voice-operator/api/v1alpha1"
	"github.com/twilio-operator/voice-operator/internal/voice"
)

// ObserveMode is how the remote configuration of an object with a known id
// is read.
type ObserveMode string

const (
	// ObserveList reads every configuration of an account with one paged
	// List per resync period, shared by all its objects, and enqueues only
	// the objects whose remote side changed: ceil(N / pageSize) reads per
	// account per period instead of N.
	ObserveList ObserveMode = "list"
	// ObserveGet reads each object's configuration with one GET per resync
	// period.
	ObserveGet ObserveMode = "get"
)

// nameCheckMaxAge bounds how old the List may be that shows a unique name
// free before a create: nameCheckMaxAge, or nameCheckWalks times as long
// as the last walk of the account took, whichever is longer, but at most
// nameCheckMaxAgeCap. Creates that arrive together share one List; a
// configuration made by someone else in the window, with exactly the
// content we send, is the only thing the check cannot see (see
// ownership.go). The window grows with the walk so that the checks of a
// large account cost at most about a twentieth of its request budget: a
// walk of 20 pages at 10 requests per second takes 2 s, and a 5 s window
// would spend 40% of the budget on Lists.
const (
	nameCheckMaxAge    = 5 * time.Second
	nameCheckWalks     = 20
	nameCheckMaxAgeCap = 2 * time.Minute
)

// goneMemory is how long a delete is remembered (isGone) after a List that
// no longer shows it: a retry of the finalizer's release must not send the
// DELETE again.
const goneMemory = time.Minute

// listBackoff is the wait after a failed List before another is tried;
// doubled per failure, up to the resync period.
const listBackoff = time.Second

// remoteView is what the operator knows of the remote side: per identity
// (account and credential), the last List of its configurations and the
// controller's own writes since, which objects own which configuration,
// and which unique names are being created.
//
// A snapshot may be older than the remote side, so it is trusted only in
// the safe direction: a configuration it holds is compared and corrected
// (a full PUT is idempotent), but an id missing from it is confirmed with a
// GET before anything is concluded, and a unique name it shows free is
// trusted only if the List started at most nameCheckMaxAge ago.
type remoteView struct {
	holders  *holderIndex // the objects that hold a configuration, for resync
	clock    clock.Clock
	mode     ObserveMode
	period   time.Duration
	pageSize int
	events   chan event.GenericEvent

	mu       sync.Mutex
	accounts map[string]*accountView // by VoiceAPI.Identity
}

func newRemoteView(holders *holderIndex, clk clock.Clock, mode ObserveMode, period time.Duration, pageSize int) *remoteView {
	return &remoteView{
		holders:  holders,
		clock:    clk,
		mode:     mode,
		period:   period,
		pageSize: pageSize,
		events:   make(chan event.GenericEvent, 1024),
		accounts: map[string]*accountView{},
	}
}

// accountView is the view through one identity.
type accountView struct {
	mu  sync.Mutex
	api VoiceAPI // the client the last reconcile of this identity used

	items  map[string]voice.Configuration // by id
	byName map[string]string              // unique name → id
	listed time.Time                      // when the last complete List started; zero before the first
	walk   time.Duration                  // how long that List took
	// listing is non-nil while a List runs, and closed when it ends.
	listing chan struct{}
	// partial is a List that a failed page interrupted, to go on with.
	partial *walk
	// failures counts the Lists that failed in a row; retryAt is when the
	// next may be tried, lastErr why the last one failed.
	failures int
	retryAt  time.Time
	lastErr  error

	written map[string]time.Time // id → when we last created, updated or deleted it
	gone    map[string]bool      // ids we deleted since, kept out of a List that still shows them

	// good is, per object, the remote configuration it owns and the state
	// a reconcile last found or made equal to that object's own spec. A
	// resync compares the List with it, not with the spec, so it never
	// needs the webhook password a spec's Secret holds; and since it is
	// per object, one object's write never silences another's drift check.
	good map[types.UID]ownedConfig
}

// ownedConfig is an object's configuration as it was last found right: its
// id, and a digest of the fields the operator owns. It keeps no copy of
// those strings: a List after it brings new ones, and the old would be
// kept twice over for every object.
type ownedConfig struct {
	id   string
	seen digest
}

// digest identifies the content of a configuration's owned fields.
type digest [sha256.Size]byte

func digestOf(cfg *voice.Configuration) digest {
	// Each field with its length first, so that no two contents read
	// alike; then whether the description is null, which "" is not. Built
	// on the stack for the usual sizes: a resync digests every object.
	var stack [512]byte
	b := stack[:0]
	for _, field := range [...]string{cfg.UniqueName, deref(cfg.Description), cfg.CallNotification.URL, cfg.CallNotification.Method} {
		b = binary.BigEndian.AppendUint64(b, uint64(len(field)))
		b = append(b, field...)
	}
	if cfg.Description == nil {
		b = append(b, 1)
	} else {
		b = append(b, 0)
	}
	return sha256.Sum256(b)
}

// view returns the identity's view, creating it on first use, and
// remembers api as the client to list it with.
func (r *remoteView) view(api VoiceAPI) *accountView {
	r.mu.Lock()
	defer r.mu.Unlock()
	v := r.accounts[api.Identity()]
	if v == nil {
		v = &accountView{items: map[string]voice.Configuration{}, byName: map[string]string{},
			written: map[string]time.Time{}, gone: map[string]bool{}, good: map[types.UID]ownedConfig{}}
		r.accounts[api.Identity()] = v
	}
	v.mu.Lock()
	v.api = api
	v.mu.Unlock()
	return v
}

// get returns the remote configuration with this id, or a NotFound error;
// it never writes. fresh skips the snapshot (a person asked for a resync).
// A 404 is not recorded as a deletion here: an account whose access ended
// answers 404 to every path, and the caller confirms it first (deleted).
func (r *remoteView) get(ctx context.Context, api VoiceAPI, id string, fresh bool) (*voice.Configuration, error) {
	return r.read(ctx, api, id, fresh)
}

func (r *remoteView) read(ctx context.Context, api VoiceAPI, id string, fresh bool) (*voice.Configuration, error) {
	if r.mode == ObserveGet || fresh {
		return api.Get(ctx, id)
	}
	v := r.view(api)
	if err := r.listedSince(ctx, v, startedAfter(r.clock.Now().Add(-2*r.period)), false); err != nil {
		// Without a usable snapshot the authoritative read still answers:
		// a failing List never holds reconciles up.
		ctrl.LoggerFrom(ctx).V(1).Info("Read one configuration instead of the list", "reason", err.Error())
		return api.Get(ctx, id)
	}
	v.mu.Lock()
	cfg, ok := v.items[id]
	v.mu.Unlock()
	if ok {
		return &cfg, nil
	}
	// Missing from the snapshot: confirm with the authoritative read, so a
	// snapshot older than a create can never cause a second one.
	return api.Get(ctx, id)
}

// freshness says which Lists may serve a reader.
type freshness struct {
	// after: the List must have started at or after it.
	after time.Time
	// nameCheck: the List must be fresh enough to show a unique name free
	// before a create: started at most nameCheckWalks times as long ago as
	// it took, at least nameCheckMaxAge and at most nameCheckMaxAgeCap ago
	// (see nameCheckMaxAge).
	nameCheck bool
}

// startedAfter accepts a List that started at t or later.
func startedAfter(t time.Time) freshness { return freshness{after: t} }

// nameCheck accepts a List that may show a unique name free before a
// create.
var nameCheck = freshness{nameCheck: true}

// accepts reports whether a List that started at started and took took is
// fresh enough. A walk still going on is judged as if it ended now: so one
// that 429s keep cutting off, and that goes on where it stopped, still
// proves names free when it ends, while a complete List is judged by its
// own walk, never by a slower one after it.
func (f freshness) accepts(now, started time.Time, took time.Duration) bool {
	if started.Before(f.after) {
		return false
	}
	if f.nameCheck {
		return !started.Before(now.Add(-min(max(nameCheckMaxAge, nameCheckWalks*took), nameCheckMaxAgeCap)))
	}
	return true
}

// errNameCheck wraps every failure to tell whether a unique name is free.
var errNameCheck = errors.New("cannot tell whether the unique name is free")

// holderOf returns the configuration that has this unique name (nil when
// none does), as shown by a List fresh enough for since, and when that
// List started. It waits for a List in flight; while Lists of this
// identity are failing it fails at once, asking to be retried when the
// next List may be tried rather than holding a worker.
func (r *remoteView) holderOf(ctx context.Context, api VoiceAPI, name string, since freshness) (*voice.Configuration, time.Time, error) {
	v := r.view(api)
	if err := r.listedSince(ctx, v, since, true); err != nil {
		step := asStep(err)
		wrapped := &stepError{reason: step.reason, class: step.class, after: step.after, user: step.user, err: fmt.Errorf("%w: %w", errNameCheck, err)}
		switch step.class {
		case classTransient, classThrottled:
			v.mu.Lock()
			wrapped.class, wrapped.after = classWaiting, max(v.retryAt.Sub(r.clock.Now()), 100*time.Millisecond)
			v.mu.Unlock()
		case classDeferred:
			v.mu.Lock()
			wrapped.after = max(v.retryAt.Sub(r.clock.Now()), minDefer)
			v.mu.Unlock()
		}
		return nil, time.Time{}, wrapped
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if id, ok := v.byName[name]; ok {
		cfg := v.items[id]
		return &cfg, v.listed, nil
	}
	return nil, v.listed, nil
}

// listedSince makes sure v holds a List fresh enough for since: it uses
// the one it has, waits for one in flight, or runs one itself, going on
// with an interrupted walk that is fresh enough. While Lists of this
// identity are failing it never waits for the next try: it returns the
// last failure at once, so a reader can fall back to a GET by id. patient
// says whether a List in flight is waited for even then (a name check has
// no fallback; a read by id does).
func (r *remoteView) listedSince(ctx context.Context, v *accountView, since freshness, patient bool) error {
	for {
		if early := since.after.Sub(r.clock.Now()); early > 0 {
			// A List that must start later than now: come back then.
			return &stepError{reason: voicev1alpha1.ReasonProgressing, class: classWaiting, after: early,
				err: fmt.Errorf("waiting %s for a List that starts after the last create attempt", early.Round(time.Millisecond))}
		}
		v.mu.Lock()
		switch {
		case !v.listed.IsZero() && since.accepts(r.clock.Now(), v.listed, v.walk):
			v.mu.Unlock()
			return nil
		case v.listing != nil && (patient || v.failures == 0):
			done := v.listing
			v.mu.Unlock()
			select {
			case <-done:
				continue
			case <-ctx.Done():
				return ctx.Err()
			}
		case v.listing != nil, r.clock.Now().Before(v.retryAt):
			err := v.lastErr
			v.mu.Unlock()
			if err == nil {
				err = errors.New("a List is in flight")
			}
			return err
		}
		v.listing = make(chan struct{})
		v.mu.Unlock()
		if err := r.list(ctx, v, since); err != nil {
			return err
		}
	}
}

// walk is a List of an identity's configurations, page by page.
type walk struct {
	started time.Time
	items   map[string]voice.Configuration // by id
	cursor  voice.Cursor                   // the page to read next
}

// list reads every configuration of the identity into its view. Exactly one
// runs at a time per view: the caller has set v.listing.
//
// A page that fails (a 503 the client's retries did not get through, a
// 429, or the account's gate keeping the request back) interrupts the walk
// but does not end it: the next List goes on from that page, if the walk
// is fresh enough for its reader. So a walk of many pages finishes however
// often other requests' 429s close the gate, and its result is that of
// one slow walk started when its first page was read.
func (r *remoteView) list(ctx context.Context, v *accountView, fresh freshness) error {
	v.mu.Lock()
	api, w, known := v.api, v.partial, len(v.items)
	v.partial = nil
	v.mu.Unlock()
	if w == nil || !fresh.accepts(r.clock.Now(), w.started, r.clock.Since(w.started)) {
		// Sized for the last List: a map grown entry by entry leaves as
		// much garbage behind as it holds.
		w = &walk{started: r.clock.Now(), items: make(map[string]voice.Configuration, known)}
	}

	var err error
	for {
		page, perr := api.ListPage(ctx, r.pageSize, w.cursor.Token)
		if perr != nil {
			err = remoteError("listing remote configurations", perr)
			if voice.ClassOf(perr) == voice.ClassInvalid {
				// A List carries nothing of any spec: a refusal is the API's
				// trouble (or a page token it no longer takes), retried from
				// the first page, never the object's InvalidSpec.
				err = transient(voicev1alpha1.ReasonRemoteUnavailable, fmt.Errorf("listing remote configurations: %w", perr))
				w = nil
			}
			break
		}
		for _, cfg := range page.Configurations {
			w.items[cfg.ID] = cfg
		}
		more, aerr := w.cursor.Advance(page)
		if aerr != nil {
			err = transient(voicev1alpha1.ReasonRemoteUnavailable, fmt.Errorf("listing remote configurations: %w", aerr))
			w = nil
			break
		}
		if !more {
			break
		}
	}

	v.mu.Lock()
	defer v.mu.Unlock()
	close(v.listing)
	v.listing = nil
	if err != nil {
		v.partial = w
	}
	switch {
	case isDeferred(err):
		// Not sent: the account's gate says when it may be, which is no
		// failure of the List.
		v.lastErr, v.retryAt = err, r.clock.Now().Add(asStep(err).after)
		return err
	case err != nil:
		v.failures++
		v.lastErr = err
		v.retryAt = r.clock.Now().Add(min(listBackoff<<min(v.failures-1, 10), max(r.period, listBackoff)))
		if after := voice.RetryAfterOf(err); after > 0 && voice.ClassOf(err) == voice.ClassThrottled {
			// A 429 said when: every reader of the view waits for it, not
			// only the List.
			v.retryAt = r.clock.Now().Add(after)
		}
		return err
	}
	v.failures, v.lastErr, v.retryAt = 0, nil, time.Time{}
	items, started := w.items, w.started
	// Our writes made after the List started win over what it saw; older
	// records are no longer needed.
	for id, at := range v.written {
		if at.Before(started) {
			if v.gone[id] && r.clock.Since(at) < goneMemory {
				// A delete whose finalizer release is retried must still
				// know it happened, List or not.
				continue
			}
			delete(v.written, id)
			delete(v.gone, id)
			continue
		}
		if v.gone[id] {
			delete(items, id)
		} else if mine, ok := v.items[id]; ok {
			items[id] = mine
		}
	}
	v.items, v.listed, v.walk = items, started, r.clock.Since(started)
	v.byName = make(map[string]string, len(items))
	for id, cfg := range items {
		v.byName[cfg.UniqueName] = id
	}
	return nil
}

// wrote records a configuration a create or update returned.
func (r *remoteView) wrote(api VoiceAPI, cfg *voice.Configuration) {
	v := r.view(api)
	v.mu.Lock()
	defer v.mu.Unlock()
	if old, ok := v.items[cfg.ID]; ok && v.byName[old.UniqueName] == cfg.ID {
		delete(v.byName, old.UniqueName)
	}
	v.items[cfg.ID] = *cfg
	v.byName[cfg.UniqueName] = cfg.ID
	v.written[cfg.ID] = r.clock.Now()
	delete(v.gone, cfg.ID)
}

// deleted records that a configuration was deleted, by us or, as a read
// by id found, by someone else.
func (r *remoteView) deleted(api VoiceAPI, id string) {
	v := r.view(api)
	v.mu.Lock()
	defer v.mu.Unlock()
	if old, ok := v.items[id]; ok && v.byName[old.UniqueName] == id {
		delete(v.byName, old.UniqueName)
	}
	delete(v.items, id)
	v.written[id] = r.clock.Now()
	v.gone[id] = true
}

// isGone reports whether id is known deleted since the last List: by us, or
// found so by a read. Ids are never reused, so it stays true; the memory of
// it ends with the next List, which no longer holds it.
func (r *remoteView) isGone(api VoiceAPI, id string) bool {
	v := r.view(api)
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.gone[id]
}

// verified records that obj's own reconcile found cfg as its spec wants it,
// through api; the views of other credentials forget obj, so credentials
// no object uses any more are no longer listed (and their view is dropped
// at the next resync).
func (r *remoteView) verified(api VoiceAPI, obj client.Object, cfg *voice.Configuration) {
	v := r.view(api)
	r.forgetExcept(obj.GetUID(), v)
	v.mu.Lock()
	defer v.mu.Unlock()
	v.good[obj.GetUID()] = ownedConfig{id: cfg.ID, seen: digestOf(cfg)}
}

// unchangedSince reports whether cfg is exactly what obj's reconcile last
// found right: the remote side did not change since.
func (r *remoteView) unchangedSince(api VoiceAPI, obj client.Object, cfg *voice.Configuration) bool {
	v := r.view(api)
	v.mu.Lock()
	defer v.mu.Unlock()
	good, ok := v.good[obj.GetUID()]
	return ok && good.id == cfg.ID && good.seen == digestOf(cfg)
}

// forget drops what the view holds about obj: it is gone, or gave its
// configuration up.
func (r *remoteView) forget(obj client.Object) {
	r.forgetExcept(obj.GetUID(), nil)
}

// forgetExcept drops uid from every view but keep.
func (r *remoteView) forgetExcept(uid types.UID, keep *accountView) {
	r.mu.Lock()
	views := make([]*accountView, 0, len(r.accounts))
	for _, v := range r.accounts {
		if v != keep {
			views = append(views, v)
		}
	}
	r.mu.Unlock()
	for _, v := range views {
		v.mu.Lock()
		delete(v.good, uid)
		v.mu.Unlock()
	}
}

// source is the event source the controller watches for the objects a
// resync found out of date.
func (r *remoteView) source() source.Source {
	return source.Channel(r.events, &handler.EnqueueRequestForObject{})
}

// Start relists every identity each period and enqueues the objects whose
// remote side changed since their reconcile last found it right. It runs
// only on the leader (the manager's default for a Runnable), and only with
// ObserveList.
func (r *remoteView) Start(ctx context.Context) error {
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-r.clock.After(wait.Jitter(r.period, 0.1)):
		}
		r.resync(ctx)
	}
}

// resync is one period's work.
func (r *remoteView) resync(ctx context.Context) {
	log := ctrl.LoggerFrom(ctx).WithName("remote-view")
	r.mu.Lock()
	views := make(map[string]*accountView, len(r.accounts))
	for identity, v := range r.accounts {
		v.mu.Lock()
		idle := len(v.good) == 0
		v.mu.Unlock()
		if idle {
			delete(r.accounts, identity) // nothing of ours is watched through it any more
			continue
		}
		views[identity] = v
	}
	r.mu.Unlock()

	// watched maps each object to the view its reconcile last used; listed
	// says whether that view's List just succeeded.
	watched := map[types.UID]*accountView{}
	listed := map[*accountView]bool{}
	for _, v := range views {
		v.mu.Lock()
		busy := v.listing != nil
		if !busy {
			v.listing = make(chan struct{})
		}
		for uid := range v.good {
			watched[uid] = v
		}
		v.mu.Unlock()
		if busy {
			continue // a reconcile is listing it right now
		}
		if err := r.list(ctx, v, startedAfter(r.clock.Now().Add(-r.period))); err != nil {
			log.Info("Failed to list remote configurations; reconciles read by id meanwhile", "account", v.account(), "error", err.Error())
			continue
		}
		listed[v] = true
	}
	// The objects come from the holder index, not from a List of the
	// cache, which would copy every object into a list each period.
	var stale []types.NamespacedName
	r.holders.each(func(id string, o holder) {
		if o.deleting {
			return // its own reconcile is deleting it
		}
		v, known := watched[o.uid]
		switch {
		case known && !listed[v]:
			// Its List failed: nothing new is known.
		case !known, v.outOfDate(o.uid, id):
			stale = append(stale, o.key)
		}
	})
	for _, key := range stale {
		obj := &voicev1alpha1.ClientConfiguration{ObjectMeta: metav1.ObjectMeta{Namespace: key.Namespace, Name: key.Name}}
		select {
		case r.events <- event.GenericEvent{Object: obj}:
		case <-ctx.Done():
			return
		}
	}
}

// account is the account the view's credentials claim, for logs.
func (v *accountView) account() string {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.api.AccountSID()
}

// outOfDate reports whether the object uid, which holds configuration id,
// needs a reconcile: the configuration is missing, or differs from what
// the object's own reconcile last found right. Spec changes reach the
// controller through its watch, so they need no comparison here.
func (v *accountView) outOfDate(uid types.UID, id string) bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	good := v.good[uid]
	remote, ok := v.items[id]
	return !ok || good.id != id || good.seen != digestOf(&remote)
}
