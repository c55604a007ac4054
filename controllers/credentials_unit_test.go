package controllers

import (
	"context"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	voicev1alpha1 "github.com/twilio-operator/voice-operator/api/v1alpha1"
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

// countingReader counts the Gets that reach the apiserver.
type countingReader struct {
	client.Reader
	gets int
}

func (c *countingReader) Get(ctx context.Context, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
	c.gets++
	return c.Reader.Get(ctx, key, obj, opts...)
}

func TestASecretIsReadOncePerResourceVersion(t *testing.T) {
	ctx := t.Context()
	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "team", Name: "twilio"},
		Data: map[string][]byte{voicev1alpha1.SecretKeyAccountSID: []byte("AC1"), voicev1alpha1.SecretKeyAuthToken: []byte("t1"), "unrelated": []byte("x")}}
	cluster := fake.NewClientBuilder().WithObjects(secret).Build()
	api := &countingReader{Reader: cluster}
	s := newSecretSource(api, cluster)
	key := client.ObjectKeyFromObject(secret)

	for range 3 {
		data, err := s.get(ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		if string(data[voicev1alpha1.SecretKeyAuthToken]) != "t1" {
			t.Fatalf("token %q", data[voicev1alpha1.SecretKeyAuthToken])
		}
		if _, kept := data["unrelated"]; kept {
			t.Fatal("a key the operator does not read was kept")
		}
	}
	if api.gets != 1 {
		t.Errorf("three reconciles of an unchanged Secret read it %d times, want once", api.gets)
	}

	secret.Data[voicev1alpha1.SecretKeyAuthToken] = []byte("t2")
	if err := cluster.Update(ctx, secret); err != nil {
		t.Fatal(err)
	}
	if data, _ := s.get(ctx, key); string(data[voicev1alpha1.SecretKeyAuthToken]) != "t2" || api.gets != 2 {
		t.Errorf("after the Secret changed: token %q after %d reads, want t2 after 2", data[voicev1alpha1.SecretKeyAuthToken], api.gets)
	}

	s.mu.Lock()
	kept := s.known[key]
	kept.used = time.Now().Add(-secretUnusedFor - time.Minute)
	s.known[key] = kept
	s.pruned = time.Time{}
	s.mu.Unlock()
	if err := cluster.Delete(ctx, secret); err != nil {
		t.Fatal(err)
	}
	if _, err := s.get(ctx, key); !apierrors.IsNotFound(err) {
		t.Errorf("a deleted Secret: %v, want NotFound", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.known) != 0 {
		t.Errorf("%d Secrets still held after it was deleted", len(s.known))
	}
}
