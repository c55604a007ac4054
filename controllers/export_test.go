package controllers

import (
	"encoding/json"
	"time"

	"k8s.io/apimachinery/pkg/types"

	"github.com/twilio-operator/voice-operator/internal/voice"
)

// CreateIntentFor is the create-intent marker object uid writes before
// creating want in account after a List that started at freeAt found the
// name free, for specs that plant the state a crash leaves.
func CreateIntentFor(uid types.UID, account string, want voice.ConfigurationInput, freeAt time.Time) string {
	raw, _ := json.Marshal(createIntent{Version: intentVersion, UID: string(uid), Account: account,
		Attempts: []attempt{newAttempt(freeAt, want, freeAt, account)}})
	return string(raw)
}
