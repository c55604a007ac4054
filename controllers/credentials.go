package controllers

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"sync"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	voicev1alpha1 "github.com/twilio-operator/voice-operator/api/v1alpha1"
	"github.com/twilio-operator/voice-operator/internal/voice"
)

// credentialsIndex indexes both kinds by the names of the Secrets they read
// (credentialsRef, and basicAuthSecretRef), so a Secret event finds its
// dependents without a scan.
const credentialsIndex = ".spec.credentialsRef.name"

// connector resolves an object's credentials and builds its API client.
//
// Secrets are read with the API reader (straight from the apiserver), never
// through the manager's cache: a cache would hold every Secret of the cluster
// in memory, which is how operators elsewhere ran out of it. Secret events
// come from a metadata-only watch instead (see the controllers' setup).
type connector struct {
	secrets client.Reader
	clients ClientFactory
	// memory keeps the credentials each live object last used, for its own
	// deletion (see forDelete).
	memory *credentialMemory
}

// credentialMemory holds, in memory only and per object, the credentials
// its last successful reconcile used. Deleting a namespace deletes its
// Secrets together with the objects that need them; without this, their
// finalizers would wait for credentials that cannot come back, and the
// namespace would never finish terminating. Nothing is written anywhere,
// an entry goes when its object goes, and after a restart it is empty (an
// object whose Secret vanished meanwhile then waits, as before). SECURITY.md
// weighs this.
type credentialMemory struct {
	mu    sync.Mutex
	creds map[types.UID]voice.Credentials
}

func newCredentialMemory() *credentialMemory {
	return &credentialMemory{creds: map[types.UID]voice.Credentials{}}
}

func (m *credentialMemory) remember(uid types.UID, creds voice.Credentials) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.creds[uid] = creds
}

func (m *credentialMemory) recall(uid types.UID) (voice.Credentials, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	creds, ok := m.creds[uid]
	return creds, ok
}

func (m *credentialMemory) forget(uid types.UID) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.creds, uid)
}

// forObject connects for obj's reconcile and remembers the credentials.
func (c connector) forObject(ctx context.Context, obj object) (VoiceAPI, error) {
	api, creds, err := c.connect(ctx, obj.GetNamespace(), obj.GetCredentialsRef())
	if err == nil {
		c.memory.remember(obj.GetUID(), creds)
	}
	return api, err
}

// forDelete connects for obj's deletion: with its Secret when it is there,
// otherwise with the credentials obj last used, if this process remembers
// them (the Secret went with its namespace).
func (c connector) forDelete(ctx context.Context, obj object) (VoiceAPI, error) {
	api, err := c.forObject(ctx, obj)
	if err == nil || asStep(err).reason != voicev1alpha1.ReasonCredentialsNotFound {
		return api, err
	}
	creds, ok := c.memory.recall(obj.GetUID())
	if !ok {
		return nil, err
	}
	remembered, cerr := c.clients(creds)
	if cerr != nil {
		return nil, err
	}
	return remembered, nil
}

// connect reads the Secret named by ref in namespace (never another one) and
// returns a client for its account. A missing Secret or key is a
// reasonCredentialsNotFound error that waits for the Secret watch.
func (c connector) connect(ctx context.Context, namespace string, ref voicev1alpha1.SecretReference) (VoiceAPI, voice.Credentials, error) {
	secret := &corev1.Secret{}
	err := c.secrets.Get(ctx, types.NamespacedName{Namespace: namespace, Name: ref.Name}, secret)
	if apierrors.IsNotFound(err) {
		return nil, voice.Credentials{}, waitingFor(voicev1alpha1.ReasonCredentialsNotFound,
			fmt.Errorf("the Secret %q was not found in namespace %q; create it with the keys %s and %s (or %s and %s)",
				ref.Name, namespace, voicev1alpha1.SecretKeyAccountSID, voicev1alpha1.SecretKeyAuthToken,
				voicev1alpha1.SecretKeyAPIKey, voicev1alpha1.SecretKeyAPISecret))
	}
	if err != nil {
		return nil, voice.Credentials{}, transient(voicev1alpha1.ReasonCredentialsNotFound, fmt.Errorf("reading Secret %q: %w", ref.Name, err))
	}
	creds, err := voice.CredentialsFromSecretData(secret.Data)
	if err != nil {
		if errors.Is(err, voice.ErrMissingCredentials) {
			return nil, voice.Credentials{}, waitingFor(voicev1alpha1.ReasonCredentialsNotFound, fmt.Errorf("the Secret %q: %w", ref.Name, err))
		}
		return nil, voice.Credentials{}, stalled(voicev1alpha1.ReasonCredentialsNotFound, fmt.Errorf("the Secret %q: %w", ref.Name, err))
	}
	api, err := c.clients(creds)
	if err != nil {
		return nil, voice.Credentials{}, stalled(voicev1alpha1.ReasonCredentialsNotFound, fmt.Errorf("the Secret %q: %w", ref.Name, err))
	}
	return api, creds, nil
}

// webhookAuth reads the basic-auth credentials of the webhook from the Secret
// named by callNotification.basicAuthSecretRef (nil when there is none). A
// missing Secret or key waits for the Secret watch, like the API credentials.
func (c connector) webhookAuth(ctx context.Context, obj *voicev1alpha1.ClientConfiguration) (*url.Userinfo, error) {
	ref := obj.Spec.CallNotification.BasicAuthSecretRef
	if ref == nil {
		return nil, nil
	}
	secret := &corev1.Secret{}
	err := c.secrets.Get(ctx, types.NamespacedName{Namespace: obj.Namespace, Name: ref.Name}, secret)
	if apierrors.IsNotFound(err) {
		return nil, waitingFor(voicev1alpha1.ReasonCredentialsNotFound, fmt.Errorf(
			"the Secret %q named by callNotification.basicAuthSecretRef was not found in namespace %q; create it with the keys %s and %s",
			ref.Name, obj.Namespace, voicev1alpha1.SecretKeyUsername, voicev1alpha1.SecretKeyPassword))
	}
	if err != nil {
		return nil, transient(voicev1alpha1.ReasonCredentialsNotFound, fmt.Errorf("reading Secret %q: %w", ref.Name, err))
	}
	username, password := string(secret.Data[voicev1alpha1.SecretKeyUsername]), string(secret.Data[voicev1alpha1.SecretKeyPassword])
	if username == "" || password == "" {
		return nil, waitingFor(voicev1alpha1.ReasonCredentialsNotFound, fmt.Errorf(
			"the Secret %q named by callNotification.basicAuthSecretRef needs the keys %s and %s", ref.Name, voicev1alpha1.SecretKeyUsername, voicev1alpha1.SecretKeyPassword))
	}
	return url.UserPassword(username, password), nil
}

// secretsOf lists the Secrets a ClientConfiguration reads, for the index that
// maps a Secret event to the objects that depend on it.
func secretsOf(obj *voicev1alpha1.ClientConfiguration) []string {
	names := []string{obj.Spec.CredentialsRef.Name}
	if ref := obj.Spec.CallNotification.BasicAuthSecretRef; ref != nil && ref.Name != obj.Spec.CredentialsRef.Name {
		names = append(names, ref.Name)
	}
	return names
}
