package controllers

import (
	"encoding/json"
	"time"

	"github.com/twilio-operator/voice-operator/internal/voice"
)

// CreateIntentFor is the create-intent marker the controller writes before
// creating want in account after a List that started at freeAt found the
// name free, for specs that plant the state a crash leaves.
func CreateIntentFor(account string, want voice.ConfigurationInput, freeAt time.Time) string {
	raw, _ := json.Marshal(newIntent(time.Now(), account, want, freeAt, ""))
	return string(raw)
}

// RecreateIntentFor is the marker of a create that replaces the vanished
// configuration replaces.
func RecreateIntentFor(account string, want voice.ConfigurationInput, freeAt time.Time, replaces string) string {
	raw, _ := json.Marshal(newIntent(time.Now(), account, want, freeAt, replaces))
	return string(raw)
}
