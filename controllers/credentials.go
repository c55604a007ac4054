package controllers

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
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
type connector struct {
	secrets *secretSource
	clients ClientFactory
	// memory keeps the credentials each live object last used, for its own
	// deletion (see forDelete).
	memory *credentialMemory
}

// secretSource reads the Secrets objects name. Their contents are read
// straight from the apiserver, never through an informer: an informer would
// hold every Secret of the cluster in memory, which is how operators
// elsewhere ran out of it. Secret events come from a metadata-only watch
// instead (see the controllers' setup), and that watch also says which
// resourceVersion of a Secret is current: the keys this operator reads are
// kept per Secret with the resourceVersion they were read at, so a
// reconcile whose Secret did not change costs no apiserver read, and a
// changed one is read again at once.
type secretSource struct {
	api   client.Reader // the apiserver
	watch client.Reader // the manager's cache, which holds Secret metadata

	mu     sync.Mutex
	known  map[types.NamespacedName]readSecret
	pruned time.Time // when unused entries were last dropped
}

// readSecret is what was read of a Secret: its resourceVersion and the
// keys the operator reads (secretKeys), nothing else of it, and when a
// reconcile last used it.
type readSecret struct {
	resourceVersion string
	data            map[string][]byte
	used            time.Time
}

// secretUnusedFor is how long a kept Secret may go unused before it is
// dropped: a Secret no object names any more (or that is gone) is not
// held for the life of the process.
const secretUnusedFor = 15 * time.Minute

// secretKeys are the keys of a Secret the operator reads; other keys of a
// Secret it names are never kept.
var secretKeys = []string{
	voicev1alpha1.SecretKeyAccountSID, voicev1alpha1.SecretKeyAuthToken, voicev1alpha1.SecretKeyAPIKey, voicev1alpha1.SecretKeyAPISecret,
	voicev1alpha1.SecretKeyRegion, voicev1alpha1.SecretKeyEdge, voicev1alpha1.SecretKeyUsername, voicev1alpha1.SecretKeyPassword,
}

func newSecretSource(api, watch client.Reader) *secretSource {
	return &secretSource{api: api, watch: watch, known: map[types.NamespacedName]readSecret{}}
}

// get returns the data of Secret key: the kept copy if the watch shows
// the same resourceVersion, else read from the apiserver (and kept).
func (s *secretSource) get(ctx context.Context, key types.NamespacedName) (map[string][]byte, error) {
	if s.watch != nil {
		m := &metav1.PartialObjectMetadata{}
		m.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("Secret"))
		err := s.watch.Get(ctx, key, m)
		s.mu.Lock()
		s.prune(time.Now())
		known, ok := s.known[key]
		switch {
		case apierrors.IsNotFound(err):
			delete(s.known, key)
		case err == nil && ok && known.resourceVersion == m.ResourceVersion:
			known.used = time.Now()
			s.known[key] = known
			s.mu.Unlock()
			return known.data, nil
		}
		s.mu.Unlock()
	}
	secret := &corev1.Secret{}
	if err := s.api.Get(ctx, key, secret); err != nil {
		if apierrors.IsNotFound(err) {
			s.mu.Lock()
			delete(s.known, key)
			s.mu.Unlock()
		}
		return nil, err
	}
	kept := readSecret{resourceVersion: secret.ResourceVersion, data: make(map[string][]byte, len(secretKeys)), used: time.Now()}
	for _, k := range secretKeys {
		if v, ok := secret.Data[k]; ok {
			kept.data[k] = v
		}
	}
	s.mu.Lock()
	s.known[key] = kept
	s.mu.Unlock()
	return kept.data, nil
}

// prune drops the Secrets no reconcile used for secretUnusedFor, at most
// once a minute. The caller holds s.mu.
func (s *secretSource) prune(now time.Time) {
	if now.Sub(s.pruned) < time.Minute {
		return
	}
	s.pruned = now
	for key, kept := range s.known {
		if now.Sub(kept.used) > secretUnusedFor {
			delete(s.known, key)
		}
	}
}

// credentialMemory holds, in memory only and per object, the credentials
// its last successful reconcile used. Deleting a namespace deletes its
// Secrets together with the objects that need them; without this, their
// finalizers would wait for credentials that cannot come back, and the
// namespace would never finish terminating. Nothing is written anywhere,
// an entry goes when its object goes, and after a restart it is empty (an
// object whose Secret vanished meanwhile then waits, as before). SECURITY.md
// weighs this.
//
// Thousands of objects share a few credentials: each distinct set is held
// once, with a count of the objects that use it, and dropped with the last.
type credentialMemory struct {
	mu     sync.Mutex
	creds  map[types.UID]*sharedCredentials
	shared map[voice.Credentials]*sharedCredentials
}

// sharedCredentials is one distinct set of credentials and its users.
type sharedCredentials struct {
	creds voice.Credentials
	users int
}

func newCredentialMemory() *credentialMemory {
	return &credentialMemory{creds: map[types.UID]*sharedCredentials{}, shared: map[voice.Credentials]*sharedCredentials{}}
}

func (m *credentialMemory) remember(uid types.UID, creds voice.Credentials) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if old := m.creds[uid]; old != nil {
		if old.creds == creds {
			return
		}
		m.release(old)
	}
	s := m.shared[creds]
	if s == nil {
		s = &sharedCredentials{creds: creds}
		m.shared[creds] = s
	}
	s.users++
	m.creds[uid] = s
}

func (m *credentialMemory) recall(uid types.UID) (voice.Credentials, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s, ok := m.creds[uid]
	if !ok {
		return voice.Credentials{}, false
	}
	return s.creds, true
}

func (m *credentialMemory) forget(uid types.UID) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if s := m.creds[uid]; s != nil {
		m.release(s)
		delete(m.creds, uid)
	}
}

// release drops one user of s, and s with its last.
func (m *credentialMemory) release(s *sharedCredentials) {
	if s.users--; s.users == 0 {
		delete(m.shared, s.creds)
	}
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
	data, err := c.secrets.get(ctx, types.NamespacedName{Namespace: namespace, Name: ref.Name})
	if apierrors.IsNotFound(err) {
		return nil, voice.Credentials{}, waitingFor(voicev1alpha1.ReasonCredentialsNotFound,
			fmt.Errorf("the Secret %q was not found in namespace %q; create it with the keys %s and %s (or %s and %s)",
				ref.Name, namespace, voicev1alpha1.SecretKeyAccountSID, voicev1alpha1.SecretKeyAuthToken,
				voicev1alpha1.SecretKeyAPIKey, voicev1alpha1.SecretKeyAPISecret))
	}
	if err != nil {
		return nil, voice.Credentials{}, transient(voicev1alpha1.ReasonCredentialsNotFound, fmt.Errorf("reading Secret %q: %w", ref.Name, err))
	}
	creds, err := voice.CredentialsFromSecretData(data)
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
	data, err := c.secrets.get(ctx, types.NamespacedName{Namespace: obj.Namespace, Name: ref.Name})
	if apierrors.IsNotFound(err) {
		return nil, waitingFor(voicev1alpha1.ReasonCredentialsNotFound, fmt.Errorf(
			"the Secret %q named by callNotification.basicAuthSecretRef was not found in namespace %q; create it with the keys %s and %s",
			ref.Name, obj.Namespace, voicev1alpha1.SecretKeyUsername, voicev1alpha1.SecretKeyPassword))
	}
	if err != nil {
		return nil, transient(voicev1alpha1.ReasonCredentialsNotFound, fmt.Errorf("reading Secret %q: %w", ref.Name, err))
	}
	username, password := string(data[voicev1alpha1.SecretKeyUsername]), string(data[voicev1alpha1.SecretKeyPassword])
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
