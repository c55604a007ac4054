package controllers

import (
	"context"
	"errors"
	"iter"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twilio-operator/voice-operator/internal/voice"
)

// fakeAPI serves one account's configurations from memory and counts its
// calls; a List may be slowed down or made to fail.
type fakeAPI struct {
	VoiceAPI
	configs   []voice.Configuration
	listDelay time.Duration
	listErr   error
	lists     atomic.Int32
	gets      atomic.Int32
}

func (f *fakeAPI) AccountSID() string { return "AC1" }
func (f *fakeAPI) Identity() string   { return "AC1/AC1/x" }

func (f *fakeAPI) List(ctx context.Context, _ int) iter.Seq2[*voice.Configuration, error] {
	return func(yield func(*voice.Configuration, error) bool) {
		f.lists.Add(1)
		time.Sleep(f.listDelay)
		if f.listErr != nil {
			yield(nil, f.listErr)
			return
		}
		for i := range f.configs {
			if !yield(&f.configs[i], nil) {
				return
			}
		}
	}
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
	view := newRemoteView(nil, ObserveList, time.Minute, 50)
	since := time.Now()
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			holder, listed, err := view.holderOf(t.Context(), api, "two", since)
			if err != nil || holder != nil || listed.Before(since) {
				t.Errorf("holderOf: %v, %v, %v", holder, listed, err)
			}
		})
	}
	wg.Wait()
	if n := api.lists.Load(); n > 2 {
		t.Errorf("20 concurrent name checks made %d Lists, want 1 (2 at most, if one started before the rest arrived)", n)
	}
	holder, _, err := view.holderOf(t.Context(), api, "one", since)
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
	view := newRemoteView(nil, ObserveList, time.Minute, 50)

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
	_, _, err := view.holderOf(t.Context(), api, "two", time.Now())
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
