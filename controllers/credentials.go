package controllers

import (
	"context"
	"errors"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	voicev1alpha1 "github.com/twilio-operator/voice-operator/api/v1alpha1"
	"github.com/twilio-operator/voice-operator/internal/voice"
)

// credentialsIndex indexes both kinds by the name of the Secret their
// credentialsRef names, so a Secret event finds its dependents without a scan.
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
}

// connect reads the Secret named by ref in namespace (never another one) and
// returns a client for its account. A missing Secret or key is a
// reasonCredentialsNotFound error that waits for the Secret watch.
func (c connector) connect(ctx context.Context, namespace string, ref voicev1alpha1.SecretReference) (VoiceAPI, error) {
	secret := &corev1.Secret{}
	err := c.secrets.Get(ctx, types.NamespacedName{Namespace: namespace, Name: ref.Name}, secret)
	if apierrors.IsNotFound(err) {
		return nil, waitingFor(voicev1alpha1.ReasonCredentialsNotFound,
			fmt.Errorf("Secret %q was not found in namespace %q; create it with the keys %s and %s (or %s and %s)",
				ref.Name, namespace, voicev1alpha1.SecretKeyAccountSID, voicev1alpha1.SecretKeyAuthToken,
				voicev1alpha1.SecretKeyAPIKey, voicev1alpha1.SecretKeyAPISecret))
	}
	if err != nil {
		return nil, transient(voicev1alpha1.ReasonCredentialsNotFound, fmt.Errorf("reading Secret %q: %w", ref.Name, err))
	}
	creds, err := voice.CredentialsFromSecretData(secret.Data)
	if err != nil {
		if errors.Is(err, voice.ErrMissingCredentials) {
			return nil, waitingFor(voicev1alpha1.ReasonCredentialsNotFound, fmt.Errorf("Secret %q: %w", ref.Name, err))
		}
		return nil, stalled(voicev1alpha1.ReasonCredentialsNotFound, fmt.Errorf("Secret %q: %w", ref.Name, err))
	}
	api, err := c.clients(creds)
	if err != nil {
		return nil, stalled(voicev1alpha1.ReasonCredentialsNotFound, fmt.Errorf("Secret %q: %w", ref.Name, err))
	}
	return api, nil
}
