package controllers

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"k8s.io/utils/clock"

	voicev1alpha1 "github.com/twilio-operator/voice-operator/api/v1alpha1"
	"github.com/twilio-operator/voice-operator/internal/voice"
)

// fakeAPI serves one account's configurations from memory and counts its
// calls; a List may be slowed down or made to fail, as a whole or page by
// page.
type fakeAPI struct {
	VoiceAPI
	configs   []voice.Configuration
	listDelay time.Duration
	listErr   error
	// pageErrs, when set, fails the next read of a page (by its index)
	// once with the error it holds.
	pageErrs map[int]error
	lists    atomic.Int32 // walks begun: reads of the first page
	pages    atomic.Int32 // reads of any page
	gets     atomic.Int32
}

func (f *fakeAPI) AccountSID() string { return "AC1" }
func (f *fakeAPI) Identity() string   { return "AC1/AC1/x" }

func (f *fakeAPI) ListPage(_ context.Context, pageSize int, token string) (*voice.Page, error) {
	f.pages.Add(1)
	if token == "" {
		f.lists.Add(1)
	}
	time.Sleep(f.listDelay)
	if f.listErr != nil {
		return nil, f.listErr
	}
	index := 0
	if token != "" {
		index, _ = strconv.Atoi(strings.TrimPrefix(token, "page-"))
	}
	if err := f.pageErrs[index]; err != nil {
		delete(f.pageErrs, index)
		return nil, err
	}
	page := &voice.Page{Configurations: f.configs[min(index*pageSize, len(f.configs)):min((index+1)*pageSize, len(f.configs))]}
	if (index+1)*pageSize < len(f.configs) {
		page.NextToken = fmt.Sprintf("page-%d", index+1)
	}
	return page, nil
}

func (f *fakeAPI) Get(_ context.Context, id string) (*voice.Configuration, error) {
	f.gets.Add(1)
	for i := range f.configs {
		if f.configs[i].ID == id {
			return &f.configs[i], nil
		}
	}
	return nil, &voice.Error{Class: voice.ClassNotFound}
}

func newFakeAPI() *fakeAPI {
	return &fakeAPI{configs: []voice.Configuration{{ID: "voice_clientconfiguration_1", AccountSID: "AC1", UniqueName: "one"}}}
}

// TestNameChecksShareOneList checks creates that arrive together share one
// List to prove their names free.
func TestNameChecksShareOneList(t *testing.T) {
	api := newFakeAPI()
	api.listDelay = 50 * time.Millisecond
	view := newRemoteView(nil, clock.RealClock{}, ObserveList, time.Minute, 50)
	since := time.Now()
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			holder, listed, err := view.holderOf(t.Context(), api, "two", startedAfter(since))
			if err != nil || holder != nil || listed.Before(since) {
				t.Errorf("holderOf: %v, %v, %v", holder, listed, err)
			}
		})
	}
	wg.Wait()
	if n := api.lists.Load(); n > 2 {
		t.Errorf("20 concurrent name checks made %d Lists, want 1 (2 at most, if one started before the rest arrived)", n)
	}
	holder, _, err := view.holderOf(t.Context(), api, "one", startedAfter(since))
	if err != nil || holder == nil || holder.ID != "voice_clientconfiguration_1" {
		t.Errorf("a taken name: %v, %v", holder, err)
	}
}

// TestFailingListNeverHoldsReadsUp checks that while Lists fail, reads by id
// go straight to a GET instead of waiting, and name checks fail at once,
// asking to come back when the next List may be tried.
func TestFailingListNeverHoldsReadsUp(t *testing.T) {
	api := newFakeAPI()
	api.listErr = &voice.Error{Class: voice.ClassUnavailable, StatusCode: 503}
	view := newRemoteView(nil, clock.RealClock{}, ObserveList, time.Minute, 50)

	if _, err := view.get(t.Context(), api, "voice_clientconfiguration_1", false); err != nil {
		t.Fatalf("the first read, whose List failed: %v", err)
	}
	api.listDelay = time.Second // a List now would show in the timing
	start := time.Now()
	for range 10 {
		cfg, err := view.get(t.Context(), api, "voice_clientconfiguration_1", false)
		if err != nil || cfg.UniqueName != "one" {
			t.Fatalf("read while Lists fail: %v, %v", cfg, err)
		}
	}
	_, _, err := view.holderOf(t.Context(), api, "two", startedAfter(time.Now()))
	step := asStep(err)
	if !errors.Is(err, errNameCheck) || step.class != classWaiting || step.after <= 0 {
		t.Errorf("name check while Lists fail: %v (class %v, after %v), want a wait until the next try", err, step.class, step.after)
	}
	if d := time.Since(start); d > 500*time.Millisecond {
		t.Errorf("10 reads and a name check took %v while Lists fail: they waited", d)
	}
	if n := api.lists.Load(); n != 1 {
		t.Errorf("%d Lists, want 1: a failed List is remembered with a backoff", n)
	}
	if n := api.gets.Load(); n != 11 {
		t.Errorf("%d GETs, want 11: each read falls back to one", n)
	}
}

// TestInterruptedWalkGoesOnWhereItStopped checks that a List cut off by a
// failed page (here the account's gate keeping it back after another
// request's 429) goes on from that page, not from the first, and that the
// walk, however long it took, still serves the name check that needed it.
func TestInterruptedWalkGoesOnWhereItStopped(t *testing.T) {
	api := newFakeAPI()
	for i := 2; i <= 50; i++ {
		api.configs = append(api.configs, voice.Configuration{ID: fmt.Sprintf("voice_clientconfiguration_%d", i), AccountSID: "AC1", UniqueName: fmt.Sprintf("name-%d", i)})
	}
	notSent := &voice.Error{Class: voice.ClassThrottled, NotSent: true, RetryAfter: time.Millisecond}
	tooMany := &voice.Error{Class: voice.ClassThrottled, StatusCode: 429, RetryAfter: time.Millisecond}
	api.pageErrs = map[int]error{1: notSent, 3: tooMany, 4: notSent}
	view := newRemoteView(nil, clock.RealClock{}, ObserveList, time.Minute, 10) // 5 pages

	tries := 0
	var holder *voice.Configuration
	for {
		tries++
		var err error
		holder, _, err = view.holderOf(t.Context(), api, "name-50", nameCheck)
		if err == nil {
			break
		}
		if tries > 10 {
			t.Fatalf("no List finished in 10 tries: %v", err)
		}
		time.Sleep(asStep(err).after)
		if tries == 2 {
			// The walk has now been going on for a while (the gate held it
			// back for long): it still counts for the names.
			view.view(api).partial.started = time.Now().Add(-30 * time.Second)
		}
	}
	if holder == nil || holder.ID != "voice_clientconfiguration_50" {
		t.Errorf("holder of name-50 = %v, want voice_clientconfiguration_50 (on the last page)", holder)
	}
	if tries != 4 {
		t.Errorf("%d tries, want 4: three interrupted, one that finished", tries)
	}
	if n := api.lists.Load(); n != 1 {
		t.Errorf("%d walks begun, want 1: each try went on where the last stopped", n)
	}
	if n := api.pages.Load(); n != 8 {
		t.Errorf("%d page reads, want 8: 5 pages and the 3 failed reads", n)
	}
}

// TestStaleInterruptedWalkStartsAgain checks that a walk begun before the
// List a reader needs (one that starts after a create attempt) is not gone
// on with: a fresh walk from the first page is.
func TestStaleInterruptedWalkStartsAgain(t *testing.T) {
	api := newFakeAPI()
	api.configs = append(api.configs, voice.Configuration{ID: "voice_clientconfiguration_2", AccountSID: "AC1", UniqueName: "two"})
	api.pageErrs = map[int]error{1: &voice.Error{Class: voice.ClassThrottled, NotSent: true, RetryAfter: time.Millisecond}}
	view := newRemoteView(nil, clock.RealClock{}, ObserveList, time.Minute, 1) // 2 pages

	if _, _, err := view.holderOf(t.Context(), api, "two", startedAfter(time.Now())); err == nil {
		t.Fatal("the first try got through a failing page")
	}
	time.Sleep(minDefer + 5*time.Millisecond) // the gate's wait
	attempt := time.Now()                     // a create attempt after the walk began
	time.Sleep(time.Millisecond)
	holder, listed, err := view.holderOf(t.Context(), api, "two", startedAfter(attempt))
	if err != nil || holder == nil || listed.Before(attempt) {
		t.Fatalf("holderOf after the attempt: %v, listed %v (attempt %v), %v", holder, listed, attempt, err)
	}
	if n := api.lists.Load(); n != 2 {
		t.Errorf("%d walks begun, want 2: the one begun before the attempt proves nothing after it", n)
	}
}

// TestDigestTellsOwnedContentsApart checks that the digest a resync
// compares with tells apart every change of an owned field, a null from an
// empty description, and fields whose bytes only moved across a boundary.
func TestDigestTellsOwnedContentsApart(t *testing.T) {
	empty, text := "", "front desk"
	base := voice.Configuration{ID: "voice_clientconfiguration_1", AccountSID: "AC1", UniqueName: "desk", Description: &text,
		CallNotification: voice.CallNotification{URL: "https://example.com/hook", Method: "POST"}}
	variants := map[string]func(c *voice.Configuration){
		"unique name":       func(c *voice.Configuration) { c.UniqueName = "desk2" },
		"description":       func(c *voice.Configuration) { other := "back desk"; c.Description = &other },
		"empty description": func(c *voice.Configuration) { c.Description = &empty },
		"null description":  func(c *voice.Configuration) { c.Description = nil },
		"url":               func(c *voice.Configuration) { c.CallNotification.URL = "https://example.com/hook2" },
		"method":            func(c *voice.Configuration) { c.CallNotification.Method = "GET" },
		"a boundary moved":  func(c *voice.Configuration) { c.UniqueName = "deskfront"; d := " desk"; c.Description = &d },
	}
	seen := map[digest]string{digestOf(&base): "base"}
	for name, change := range variants {
		c := base
		change(&c)
		d := digestOf(&c)
		if other, dup := seen[d]; dup {
			t.Errorf("changing the %s gives the digest of %s", name, other)
		}
		seen[d] = name
	}
	same := base
	same.ID, same.AccountSID = "voice_clientconfiguration_2", "AC2" // not owned fields
	if digestOf(&same) != digestOf(&base) {
		t.Error("the digest depends on fields the operator does not own")
	}
}

// TestSlowWalkNeverMakesAnOldListFresh checks that a walk going on for long
// (the List fails page after page) does not stretch the name check's
// window for the complete List before it: that List is judged by its own
// walk, and is too old.
func TestSlowWalkNeverMakesAnOldListFresh(t *testing.T) {
	api := newFakeAPI()
	view := newRemoteView(nil, clock.RealClock{}, ObserveList, time.Minute, 50)
	if _, _, err := view.holderOf(t.Context(), api, "two", nameCheck); err != nil {
		t.Fatalf("the first name check: %v", err)
	}
	v := view.view(api)
	v.mu.Lock()
	v.listed = time.Now().Add(-2 * nameCheckMaxAge) // a quick walk, long ago
	v.partial = &walk{started: time.Now().Add(-time.Minute), items: map[string]voice.Configuration{}}
	v.mu.Unlock()
	api.listErr = &voice.Error{Class: voice.ClassUnavailable, StatusCode: 503}

	holder, listed, err := view.holderOf(t.Context(), api, "two", nameCheck)
	if err == nil {
		t.Fatalf("a name check was answered (holder %v) by the List of %v, older than its window", holder, listed)
	}
	if !errors.Is(err, errNameCheck) {
		t.Errorf("error %v, want one that says the name cannot be told free", err)
	}
}

// BenchmarkDigest measures the digest a resync computes for every object
// each period (go test -bench Digest -benchmem: 0 allocs/op expected).
func BenchmarkDigest(b *testing.B) {
	text := "front desk"
	cfg := voice.Configuration{UniqueName: "desk", Description: &text,
		CallNotification: voice.CallNotification{URL: "https://example.com/hook", Method: "POST"}}
	b.ReportAllocs()
	for b.Loop() {
		_ = digestOf(&cfg)
	}
}

// loopingAPI answers every page with the same next_token.
type loopingAPI struct{ *fakeAPI }

func (l loopingAPI) ListPage(ctx context.Context, pageSize int, _ string) (*voice.Page, error) {
	page, err := l.fakeAPI.ListPage(ctx, pageSize, "")
	if err == nil {
		page.NextToken = "page-1"
	}
	return page, err
}

// TestLoopingPaginationEndsTheWalk checks that a List whose next_token
// repeats ends with a failure the name check reports, not a walk that
// never ends, and that the next try starts from the first page again.
func TestLoopingPaginationEndsTheWalk(t *testing.T) {
	api := loopingAPI{newFakeAPI()}
	view := newRemoteView(nil, clock.RealClock{}, ObserveList, time.Minute, 50)
	_, _, err := view.holderOf(t.Context(), api, "two", nameCheck)
	if !errors.Is(err, errNameCheck) || !strings.Contains(err.Error(), "next_token repeated") {
		t.Fatalf("a looping List: %v, want a failed name check that says the token repeated", err)
	}
	if n := api.pages.Load(); n != 2 {
		t.Errorf("%d page reads, want 2: the first, and the one whose token repeated", n)
	}
	if p := view.view(api).partial; p != nil {
		t.Errorf("the looping walk is kept to go on with (token %q); the next must start over", p.cursor.Token)
	}
}

// namedAPI is a fakeAPI under another identity (other credentials).
type namedAPI struct {
	*fakeAPI
	identity string
}

func (n namedAPI) Identity() string { return n.identity }

// TestCredentialsNoObjectUsesAreForgotten moves an object from one set of
// credentials to another: the old ones are no longer listed at a resync,
// nor kept in memory.
func TestCredentialsNoObjectUsesAreForgotten(t *testing.T) {
	old, current := namedAPI{newFakeAPI(), "AC1/SKold/x"}, namedAPI{newFakeAPI(), "AC1/SKnew/y"}
	view := newRemoteView(newHolderIndex(), clock.RealClock{}, ObserveList, time.Minute, 50)
	obj := &voicev1alpha1.ClientConfiguration{}
	obj.UID = "uid-1"
	cfg := &voice.Configuration{ID: "voice_clientconfiguration_1", AccountSID: "AC1", UniqueName: "one"}

	view.verified(old, obj, cfg)
	view.verified(current, obj, cfg) // the Secret now holds another key
	view.holders.synced = func() bool { return true }
	view.resync(t.Context())
	for len(view.events) > 0 {
		<-view.events
	}
	if n := old.lists.Load(); n != 0 {
		t.Errorf("the credentials no object uses were listed %d times at the resync", n)
	}
	if n := current.lists.Load(); n != 1 {
		t.Errorf("the credentials in use were listed %d times, want 1", n)
	}
	view.mu.Lock()
	defer view.mu.Unlock()
	if _, kept := view.accounts[old.Identity()]; kept {
		t.Error("the view of credentials no object uses is still kept")
	}
}
