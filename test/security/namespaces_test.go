package security_test

import (
	"context"
	"testing"
	"time"

	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	voicev1alpha1 "github.com/twilio-operator/voice-operator/api/v1alpha1"
	"github.com/twilio-operator/voice-operator/internal/localenv"
	"github.com/twilio-operator/voice-operator/internal/localenv/kube"
	"github.com/twilio-operator/voice-operator/internal/voicesim"
)

// TestWatchNamespacesConfinesTheOperator runs the operator with
// --watch-namespaces=team-a,team-b under an identity that has the manager's
// rules in those two namespaces only (RoleBindings to its ClusterRole, as
// docs/operations.md installs it), and nothing cluster-wide: it cannot even
// list Secrets outside them. It reconciles both namespaces, and never
// touches an object in a third one.
func TestWatchNamespacesConfinesTheOperator(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	env := kube.StartTestEnv(ctx, t, "../..")

	const user = "system:serviceaccount:" + kube.OperatorNamespace + ":namespaced-operator"
	watched, other := []string{"team-a", "team-b"}, "team-c"
	account := "AC" + "7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a"
	for _, ns := range append(watched, other) {
		must(t, env.Client.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}))
		must(t, env.CreateSecret(ctx, ns, "twilio", account, "token"))
	}
	for _, ns := range watched {
		must(t, env.Client.Create(ctx, &rbacv1.RoleBinding{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "voice-operator"},
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "manager-role"},
			Subjects:   []rbacv1.Subject{{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: user}},
		}))
	}
	for _, ns := range []string{"", other} {
		if allowed(ctx, t, env, user, ns) {
			t.Fatalf("the test's identity may list Secrets in %q; it must be confined to %v", ns, watched)
		}
	}

	kubeconfig, err := env.KubeconfigFor(user)
	must(t, err)
	o := env.OperatorOptions("--watch-namespaces", "team-a,team-b", "--resync-period", "1s")
	o.Kubeconfig = kubeconfig
	op, err := localenv.StartOperator(ctx, o)
	must(t, err)
	t.Cleanup(func() {
		_ = op.Stop()
		if t.Failed() {
			t.Logf("the operator's log:\n%s", op.LogTail(40))
		}
	})

	outside := config(other, "outside", "twilio", nil)
	must(t, env.Client.Create(ctx, outside))
	var inside []*voicev1alpha1.ClientConfiguration
	for _, ns := range watched {
		obj := config(ns, "inside-"+ns, "twilio", nil)
		must(t, env.Client.Create(ctx, obj))
		inside = append(inside, obj)
	}
	for _, obj := range inside {
		waitFor(ctx, t, env, obj, voicev1alpha1.ReasonSynced)
	}
	// Several resyncs later, the object outside is as it was created.
	time.Sleep(3 * time.Second)
	must(t, env.Client.Get(ctx, client.ObjectKeyFromObject(outside), outside))
	if len(outside.Finalizers) > 0 || len(outside.Status.Conditions) > 0 || outside.Generation != 1 || outside.Status.ObservedGeneration != 0 {
		t.Errorf("the object in %s was reconciled: finalizers %v, conditions %v", other, outside.Finalizers, outside.Status.Conditions)
	}
	var state voicesim.AccountState
	for _, a := range env.Sim.State() {
		if a.AccountSID == account {
			state = a
		}
	}
	if len(state.Configurations) != len(watched) {
		t.Errorf("the account holds %d configurations, want %d (one per watched namespace): %+v", len(state.Configurations), len(watched), state.Configurations)
	}
	for _, cfg := range state.Configurations {
		if cfg.UniqueName == outside.Spec.UniqueName {
			t.Errorf("the object outside the watched namespaces was created remotely: %+v", cfg)
		}
	}
	if op.Exited() {
		t.Fatalf("the operator exited: %v", op.ExitError())
	}
}

// allowed asks the apiserver whether user may list Secrets in ns ("" for
// every namespace).
func allowed(ctx context.Context, t *testing.T, env *kube.Env, user, ns string) bool {
	t.Helper()
	review := &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
		User:               user,
		ResourceAttributes: &authorizationv1.ResourceAttributes{Namespace: ns, Verb: "list", Resource: "secrets"},
	}}
	must(t, env.Client.Create(ctx, review))
	return review.Status.Allowed
}
