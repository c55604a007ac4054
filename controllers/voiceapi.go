package controllers

import (
	"context"
	"time"

	"github.com/twilio-operator/voice-operator/internal/voice"
)

// VoiceAPI is what the controllers need of the Twilio Voice v2 API, for one
// account. internal/voice implements it; tests use that implementation
// against the simulator, so the HTTP layer is exercised by every spec.
type VoiceAPI interface {
	// AccountSID is the account every call acts on, as the credentials
	// claim it. Every configuration an answer holds is checked against it
	// (a voice.ClassAccountMismatch error otherwise).
	AccountSID() string
	// Verified reports whether the credentials are known to act on
	// AccountSID: they are the account's own SID and token, or an answer
	// to them named the account. Until then, a 404 may be another
	// account's answer (an API key of account B beside account A's SID):
	// nothing is concluded from it.
	Verified() bool
	// AnsweredForAnother returns the account an answer to these
	// credentials named instead of AccountSID (an API key of another
	// account), or "": they act elsewhere, and nothing more is sent.
	AnsweredForAnother() string
	// Location is the region and edge the credentials select ("" for
	// Twilio's default): a configuration lives in one region.
	Location() string
	// Username is who the requests authenticate as: the account SID, or an
	// API key SID. Never a secret.
	Username() string
	// Identity names the account and the credential (never the secret);
	// what one credential can see is cached under it.
	Identity() string
	// Create POSTs a new configuration. Not idempotent: when it fails with an
	// ambiguous error (voice.IsAmbiguous) it may have been applied, and the
	// caller must look the name up before concluding anything. When the
	// answer is for another account (voice.ClassAccountMismatch) it returns
	// the configuration it made there as well, for the caller to delete.
	Create(ctx context.Context, in voice.ConfigurationInput) (*voice.Configuration, error)
	// Get reads one configuration by id. Read-only.
	Get(ctx context.Context, id string) (*voice.Configuration, error)
	// Update replaces every field of a configuration (full PUT). Idempotent.
	Update(ctx context.Context, id string, in voice.ConfigurationInput) (*voice.Configuration, error)
	// Delete removes a configuration; a NotFound error means it was already
	// gone. Idempotent.
	Delete(ctx context.Context, id string) error
	// ListPage reads one page of the account's configurations: the first
	// with an empty token, then each page's NextToken until it is empty.
	// The reference offers no other way to find one by unique name.
	// Read-only.
	ListPage(ctx context.Context, pageSize int, pageToken string) (*voice.Page, error)
	// GetDefault reads the account's default configuration, or returns a
	// NotFound error when none is set. Read-only.
	GetDefault(ctx context.Context) (*voice.Configuration, error)
	// SetDefault makes a configuration the account's default. Idempotent.
	SetDefault(ctx context.Context, id string) error
	// UnsetDefault clears the account's default. Idempotent.
	UnsetDefault(ctx context.Context) error
	// Admit asks whether a request may go out now under the account's rate
	// limit and its last 429: 0 when it may (the next request of this
	// client then uses the token), else how long the caller (key: an
	// object's UID) should stay away and why. It never sleeps; the turn
	// stays booked for key meanwhile.
	Admit(key string) (time.Duration, string)
}

// ClientFactory builds the VoiceAPI for one set of credentials. The real one
// (NewClientFactory) shares a rate limiter per account between the clients it
// hands out.
type ClientFactory func(voice.Credentials) (VoiceAPI, error)

// NewClientFactory adapts a voice.Factory to a ClientFactory.
func NewClientFactory(f *voice.Factory) ClientFactory {
	return func(creds voice.Credentials) (VoiceAPI, error) {
		return f.For(creds)
	}
}
