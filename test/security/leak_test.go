// Package security_test holds the tests of the operator's security promises
// that need the whole system: secrets never leave their Secrets, and the
// generated RBAC grants nothing beyond what the controllers use.
package security_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	voicev1alpha1 "github.com/twilio-operator/voice-operator/api/v1alpha1"
	"github.com/twilio-operator/voice-operator/internal/localenv/kube"
	"github.com/twilio-operator/voice-operator/internal/voicesim"
)

// TestSecretsNeverLeaveTheirSecrets runs the operator, at debug log level,
// through a whole lifecycle with every kind of credential and the failures
// that put remote errors into conditions, then reads everything it wrote
// anywhere a person can read: its log, every Event, every object with its
// status. None may hold the auth token, the API key secret, a rejected
// token, or the webhook password.
func TestSecretsNeverLeaveTheirSecrets(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	env := kube.StartTestEnv(ctx, t, "../..")

	const ns = "default"
	suffix := fmt.Sprint(time.Now().UnixNano())
	secrets := map[string]string{
		"auth token":       "authtoken-LEAK-" + suffix,
		"API key secret":   "apisecret-LEAK-" + suffix,
		"rejected token":   "badtoken-LEAK-" + suffix,
		"webhook password": "whpassword-LEAK-" + suffix,
	}
	account, keySID := "AC"+strings.Repeat("5", 32), "SK"+strings.Repeat("6", 32)
	must(t, env.CreateSecret(ctx, ns, "token-creds", account, secrets["auth token"]))
	env.Sim.AddAPIKey(account, keySID, secrets["API key secret"])
	must(t, env.Client.Create(ctx, secret(ns, "key-creds", map[string]string{
		voicev1alpha1.SecretKeyAccountSID: account, voicev1alpha1.SecretKeyAPIKey: keySID, voicev1alpha1.SecretKeyAPISecret: secrets["API key secret"],
	})))
	must(t, env.Client.Create(ctx, secret(ns, "bad-creds", map[string]string{
		voicev1alpha1.SecretKeyAccountSID: account, voicev1alpha1.SecretKeyAuthToken: secrets["rejected token"],
	})))
	must(t, env.Client.Create(ctx, secret(ns, "webhook-auth", map[string]string{
		voicev1alpha1.SecretKeyUsername: "alice", voicev1alpha1.SecretKeyPassword: secrets["webhook password"],
	})))

	op, err := env.StartOperator(ctx, "--zap-log-level", "debug", "--resync-period", "2s")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := op.Stop(); err != nil {
			t.Error(err)
		}
	})

	byToken := config(ns, "by-token", "token-creds", nil)
	byKey := config(ns, "by-key", "key-creds", &voicev1alpha1.SecretReference{Name: "webhook-auth"})
	rejected := config(ns, "rejected", "bad-creds", nil)
	for _, obj := range []*voicev1alpha1.ClientConfiguration{byToken, byKey, rejected} {
		must(t, env.Client.Create(ctx, obj))
	}
	waitFor(ctx, t, env, byToken, voicev1alpha1.ReasonSynced)
	waitFor(ctx, t, env, byKey, voicev1alpha1.ReasonSynced)
	waitFor(ctx, t, env, rejected, voicev1alpha1.ReasonCredentialsRejected)
	must(t, env.Client.Create(ctx, &voicev1alpha1.AccountDefault{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "default"},
		Spec: voicev1alpha1.AccountDefaultSpec{ConfigurationRef: &voicev1alpha1.ConfigurationReference{Name: "by-key"},
			CredentialsRef: voicev1alpha1.SecretReference{Name: "key-creds"}},
	}))

	// Remote failures put remote error text into conditions and logs: first
	// unreadable answers, then 503s, each until the condition shows it.
	for i, faults := range []voicesim.Faults{{Malformed: 1}, {Unavailable: 1}} {
		env.Sim.SetFaults(faults)
		patch := client.RawPatch("application/merge-patch+json", []byte(fmt.Sprintf(`{"spec":{"description":"edited under faults %d"}}`, i)))
		must(t, env.Client.Patch(ctx, byKey, patch))
		waitFor(ctx, t, env, byKey, voicev1alpha1.ReasonRemoteUnavailable)
	}
	env.Sim.SetFaults(voicesim.Faults{})
	waitFor(ctx, t, env, byKey, voicev1alpha1.ReasonSynced)

	// An API that quotes the request's webhook URL, password and all, in
	// its error: renaming onto a taken name provokes one.
	opts := env.Sim.Options()
	opts.EchoURLInErrors = true
	env.Sim.SetOptions(opts)
	must(t, env.Client.Patch(ctx, byKey, client.RawPatch("application/merge-patch+json", []byte(`{"spec":{"uniqueName":"by-token"}}`))))
	waitFor(ctx, t, env, byKey, voicev1alpha1.ReasonAlreadyExists)
	must(t, env.Client.Patch(ctx, byKey, client.RawPatch("application/merge-patch+json", []byte(`{"spec":{"uniqueName":"by-key"}}`))))
	waitFor(ctx, t, env, byKey, voicev1alpha1.ReasonSynced)

	// Objects with their status now, before the deletes take them away;
	// logs and Events after the deletes.
	objects := collect(ctx, t, env, ns, &voicev1alpha1.ClientConfigurationList{}, &voicev1alpha1.AccountDefaultList{})
	for _, obj := range []client.Object{byToken, byKey, rejected} {
		must(t, env.Client.Delete(ctx, obj))
	}
	// The deletes are handled, and logged, once every finalizer is gone.
	for _, obj := range []client.Object{byToken, byKey, rejected} {
		waitGone(ctx, t, env, obj)
	}
	log, err := os.ReadFile(op.LogPath)
	must(t, err)
	everything := objects + string(log) + collect(ctx, t, env, ns, &eventsv1.EventList{}, &corev1.EventList{})
	if len(everything) < 10_000 {
		t.Fatalf("only %d bytes collected; the debug log alone should be much larger", len(everything))
	}
	t.Logf("collected %d bytes of logs, Events and objects", len(everything))
	// The haystack must hold what this test provoked, and the identifiers
	// that may be shown, or finding no secret in it would prove nothing.
	for _, want := range []string{"Reconciler error", voicev1alpha1.ReasonCredentialsRejected, "unreadable response", account, "callNotificationURL",
		"request url", "redacted@"} {
		if !strings.Contains(everything, want) {
			t.Fatalf("the collected output lacks %q; it cannot vouch for anything", want)
		}
	}
	// The webhook's user name comes from the Secret too: status shows the
	// URL without it, as the type says.
	if strings.Contains(objects, "alice") {
		t.Error("an object's status shows the webhook's user name")
	}
	for what, value := range secrets {
		if strings.Contains(everything, value) {
			t.Errorf("the %s appears in the operator's output:\n%s", what, context80(everything, value))
		}
	}
}

// collect returns the lists' items in the namespace as JSON.
func collect(ctx context.Context, t *testing.T, env *kube.Env, ns string, lists ...client.ObjectList) string {
	t.Helper()
	var b strings.Builder
	for _, list := range lists {
		must(t, env.Client.List(ctx, list, client.InNamespace(ns)))
		raw, err := json.Marshal(list)
		must(t, err)
		b.Write(raw)
	}
	return b.String()
}

func waitFor(ctx context.Context, t *testing.T, env *kube.Env, obj *voicev1alpha1.ClientConfiguration, reason string) {
	t.Helper()
	for {
		if err := env.Client.Get(ctx, client.ObjectKeyFromObject(obj), obj); err == nil {
			if c := meta.FindStatusCondition(obj.Status.Conditions, voicev1alpha1.ConditionReady); c != nil && c.Reason == reason && c.ObservedGeneration == obj.Generation {
				return
			}
		}
		select {
		case <-ctx.Done():
			t.Fatalf("%s never reached %s", obj.Name, reason)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// waitGone waits until obj no longer exists.
func waitGone(ctx context.Context, t *testing.T, env *kube.Env, obj client.Object) {
	t.Helper()
	for {
		if err := env.Client.Get(ctx, client.ObjectKeyFromObject(obj), obj); apierrors.IsNotFound(err) {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("%s was never deleted", obj.GetName())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func config(ns, name, creds string, auth *voicev1alpha1.SecretReference) *voicev1alpha1.ClientConfiguration {
	return &voicev1alpha1.ClientConfiguration{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: voicev1alpha1.ClientConfigurationSpec{
			UniqueName:       name,
			CallNotification: voicev1alpha1.CallNotification{URL: "https://example.com/" + name, BasicAuthSecretRef: auth},
			CredentialsRef:   voicev1alpha1.SecretReference{Name: creds},
		},
	}
}

func secret(ns, name string, data map[string]string) *corev1.Secret {
	return &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, StringData: data}
}

// context80 shows where a leaked value sits, with the value itself masked.
func context80(s, value string) string {
	i := strings.Index(s, value)
	start, end := max(i-80, 0), min(i+len(value)+80, len(s))
	return strings.ReplaceAll(s[start:end], value, "<LEAKED VALUE>")
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
