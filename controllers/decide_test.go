package controllers

import (
	"testing"
	"time"

	"github.com/twilio-operator/voice-operator/internal/voice"
)

// TestDecide is the table of what a ClientConfiguration's reconcile does
// about what it observed: one row per rule, each with the reason it holds.
func TestDecide(t *testing.T) {
	cfg := &voice.Configuration{ID: "voice_clientconfiguration_1", UniqueName: "web"}
	stray := []voice.Configuration{{ID: "voice_clientconfiguration_2", UniqueName: "old"}}
	cases := map[string]struct {
		seen observation
		want action
	}{
		// Creating.
		"nothing owned, the name free: create":                        {observation{}, actCreate},
		"the name is someone else's: AlreadyExists, never written":    {observation{holder: cfg}, actAlreadyExists},
		"the name is someone else's, adopt asked: adopt":              {observation{holder: cfg, adopt: true}, actAdopt},
		"another object owns the holder: Conflict, adopt or not":      {observation{holder: cfg, adopt: true, rival: "a/x"}, actConflict},
		"another object owns the holder, no adopt: Conflict, named":   {observation{holder: cfg, rival: "a/x"}, actConflict},
		"another object may be creating the name: wait for it":        {observation{creator: "a/x"}, actWait},
		"too many attempts of unknown outcome: wait, no new POST":     {observation{pending: maxAttempts}, actWait},
		"one attempt of unknown outcome, the name free: create again": {observation{pending: 1}, actCreate},
		"vanished through unverified credentials: conclude nothing":   {observation{vanished: "voice_clientconfiguration_1", unconfirmed: true}, actUnconfirmed},
		// Managing.
		"owned: manage (a PUT on drift)":                      {observation{owned: cfg}, actManage},
		"owned, recovered by the marker: manage":              {observation{owned: cfg, recovered: true}, actManage},
		"owned, and an older object owns it too: Conflict":    {observation{owned: cfg, rival: "a/x"}, actConflict},
		"a stray of a late commit: delete it before all":      {observation{owned: cfg, strays: stray}, actDeleteStrays},
		"a stray while another owns the owned one: delete it": {observation{owned: cfg, strays: stray, rival: "a/x"}, actDeleteStrays},
		// Observing only.
		"ObserveOnly, found by id: report":                      {observation{observeOnly: true, owned: cfg}, actReport},
		"ObserveOnly, found by name: report":                    {observation{observeOnly: true, holder: cfg}, actReport},
		"ObserveOnly, found and owned by another: still report": {observation{observeOnly: true, holder: cfg, rival: "a/x"}, actReport},
		"ObserveOnly, nothing: NotFound":                        {observation{observeOnly: true}, actNotFound},
		"ObserveOnly, nothing through unverified credentials":   {observation{observeOnly: true, unconfirmed: true}, actUnconfirmed},
		"ObserveOnly never deletes a stray: it writes nothing":  {observation{observeOnly: true, strays: stray}, actNotFound},
		"ObserveOnly never creates, even with the name free":    {observation{observeOnly: true, pending: 1}, actNotFound},
		// Deleting.
		"deleting, owned: delete":                                    {observation{deleting: true, owned: cfg}, actDelete},
		"deleting, Orphan: release, nothing deleted":                 {observation{deleting: true, orphan: true, owned: cfg}, actRelease},
		"deleting, ObserveOnly: release, nothing deleted":            {observation{deleting: true, observeOnly: true, owned: cfg}, actRelease},
		"deleting, another object owns it: release, left in place":   {observation{deleting: true, owned: cfg, rival: "a/x"}, actRelease},
		"deleting, nothing owned: release":                           {observation{deleting: true}, actRelease},
		"deleting, an attempt of unknown outcome: wait, no leak":     {observation{deleting: true, pending: 1, pendingUntil: time.Now()}, actWait},
		"deleting, vanished through unverified credentials: stall":   {observation{deleting: true, vanished: "voice_clientconfiguration_1", unconfirmed: true}, actUnconfirmed},
		"deleting, a stray: delete it first":                         {observation{deleting: true, owned: cfg, strays: stray}, actDeleteStrays},
		"deleting, Orphan, a stray: leave it (Orphan leaves all)":    {observation{deleting: true, orphan: true, strays: stray}, actRelease},
		"deleting, the name held by someone else: release untouched": {observation{deleting: true, holder: cfg}, actRelease},
	}
	for reason, c := range cases {
		if got := decide(c.seen); got != c.want {
			t.Errorf("%s: decide = %s, want %s", reason, got, c.want)
		}
	}
}
