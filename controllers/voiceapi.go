package controllers

import (
	"context"
	"iter"

	"github.com/twilio-operator/voice-operator/internal/voice"
)

// VoiceAPI is what the controllers need of the Twilio Voice v2 API, for one
// account. internal/voice implements it; tests use that implementation
// against the simulator, so the HTTP layer is exercised by every spec.
type VoiceAPI interface {
	// AccountSID is the account every call acts on.
	AccountSID() string
	// Create POSTs a new configuration. Not idempotent: when it fails with an
	// ambiguous error (voice.IsAmbiguous) it may have been applied, and the
	// caller must look the name up before concluding anything.
	Create(ctx context.Context, in voice.ConfigurationInput) (*voice.Configuration, error)
	// Get reads one configuration by id (or unique name). Read-only.
	Get(ctx context.Context, idOrUniqueName string) (*voice.Configuration, error)
	// Update replaces every field of a configuration (full PUT). Idempotent.
	Update(ctx context.Context, id string, in voice.ConfigurationInput) (*voice.Configuration, error)
	// Delete removes a configuration; a NotFound error means it was already
	// gone. Idempotent.
	Delete(ctx context.Context, id string) error
	// FindByUniqueName finds the configuration with exactly this unique name,
	// or returns a NotFound error. Read-only.
	FindByUniqueName(ctx context.Context, name string) (*voice.Configuration, error)
	// List walks every configuration of the account, page by page. Read-only.
	List(ctx context.Context, pageSize int) iter.Seq2[*voice.Configuration, error]
	// GetDefault reads the account's default configuration, or returns a
	// NotFound error when none is set. Read-only.
	GetDefault(ctx context.Context) (*voice.Configuration, error)
	// SetDefault makes a configuration the account's default. Idempotent.
	SetDefault(ctx context.Context, id string) error
	// UnsetDefault clears the account's default. Idempotent.
	UnsetDefault(ctx context.Context) error
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
