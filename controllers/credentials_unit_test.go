package controllers

import (
	"testing"

	"github.com/twilio-operator/voice-operator/internal/voice"
)

func TestCredentialMemoryHoldsEachSetOnceUntilItsLastUserGoes(t *testing.T) {
	m := newCredentialMemory()
	team := voice.Credentials{AccountSID: "AC1", Username: "AC1", Password: "token-1"}
	rotated := voice.Credentials{AccountSID: "AC1", Username: "AC1", Password: "token-2"}

	m.remember("a", team)
	m.remember("b", team)
	m.remember("b", team) // a resync remembers again: still one user
	if n := len(m.shared); n != 1 {
		t.Fatalf("two objects with the same credentials: %d sets held, want 1", n)
	}
	if got := m.shared[team].users; got != 2 {
		t.Errorf("users of the shared set: %d, want 2", got)
	}

	m.remember("a", rotated)
	if creds, _ := m.recall("a"); creds != rotated {
		t.Errorf("a recalls %v after its Secret rotated, want the new token", creds.Password)
	}
	if creds, ok := m.recall("b"); !ok || creds != team {
		t.Errorf("b recalls %v, %v; want its own, unchanged", creds.Password, ok)
	}

	m.forget("b")
	if _, held := m.shared[team]; held {
		t.Error("the old token is still held after its last user went")
	}
	m.forget("a")
	if len(m.shared) != 0 || len(m.creds) != 0 {
		t.Errorf("after every object went: %d sets, %d objects held, want none", len(m.shared), len(m.creds))
	}
	if _, ok := m.recall("a"); ok {
		t.Error("a forgotten object still recalls credentials")
	}
}
