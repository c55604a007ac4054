// Package controllers holds one reconciler per kind of the voice-operator API
// (ClientConfiguration, AccountDefault) and the helpers they share: status
// conditions, credentials, the mapping of remote errors to conditions.
package controllers
