package controllers

import (
	"unique"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	voicev1alpha1 "github.com/twilio-operator/voice-operator/api/v1alpha1"
)

// CompactForCache is the cache's transform: it makes each object smaller
// before it is cached, with thousands of objects most of the operator's
// memory, without changing what any reader of the cache can see:
//
//   - managedFields and kubectl's last-applied-configuration annotation are
//     dropped; no controller reads them, and the metadata patches, computed
//     between two copies of the cached object, never mention them;
//   - strings that thousands of objects share (the kind and API version,
//     the namespace, the finalizer, condition types, reasons and messages,
//     the method, the account) are
//     interned, and status.remote's strings that equal the spec's point to
//     the spec's, so each is stored once instead of once per object.
//
// Cached objects are shared and never written: controller-runtime hands out
// deep copies, so sharing strings between them is safe. Measured by
// BenchmarkCachedObject.
func CompactForCache(in any) (any, error) {
	obj, ok := in.(client.Object)
	if !ok {
		return in, nil
	}
	obj.SetManagedFields(nil)
	annotations := obj.GetAnnotations()
	delete(annotations, lastApplied)
	if cc, ok := obj.(*voicev1alpha1.ClientConfiguration); ok {
		// Nothing a decision reads is dropped: the create-intent marker in
		// particular stays, whatever status says (a cached copy without it
		// once made a clear of it a no-op, and it came back to prove a
		// stranger's configuration ours).
		compactClientConfiguration(cc)
	}
	if len(annotations) == 0 {
		// An empty map still holds its table.
		obj.SetAnnotations(nil)
	}
	if meta, ok := obj.GetObjectKind().(*metav1.TypeMeta); ok {
		intern(&meta.APIVersion)
		intern(&meta.Kind)
	}
	if ns := obj.GetNamespace(); ns != "" {
		obj.SetNamespace(unique.Make(ns).Value())
	}
	finalizers := obj.GetFinalizers()
	for i := range finalizers {
		intern(&finalizers[i])
	}
	return in, nil
}

const lastApplied = "kubectl.kubernetes.io/last-applied-configuration"

// compactClientConfiguration interns obj's low-variety strings and points
// status.remote's strings at the spec's equal ones.
func compactClientConfiguration(obj *voicev1alpha1.ClientConfiguration) {
	internAs(&obj.Spec.CallNotification.Method)
	internAs(&obj.Spec.DeletionPolicy)
	internAs(&obj.Spec.ManagementPolicy)
	intern(&obj.Spec.CredentialsRef.Name)
	if ref := obj.Spec.CallNotification.BasicAuthSecretRef; ref != nil {
		intern(&ref.Name)
	}
	intern(&obj.Status.AccountSID)
	internConditions(obj.Status.Conditions)
	if remote := obj.Status.Remote; remote != nil {
		share(&remote.UniqueName, obj.Spec.UniqueName)
		share(&remote.Description, obj.Spec.Description)
		share(&remote.CallNotificationURL, obj.Spec.CallNotification.URL)
		intern(&remote.CallNotificationMethod)
	}
}

func internConditions(conditions []metav1.Condition) {
	for i := range conditions {
		c := &conditions[i]
		intern(&c.Type)
		internAs(&c.Status)
		intern(&c.Reason)
		intern(&c.Message)
	}
}

// intern replaces *s with the one copy of its value that the process keeps
// while anything refers to it.
func intern(s *string) {
	if *s != "" {
		*s = unique.Make(*s).Value()
	}
}

// internAs interns a string-typed field.
func internAs[S ~string](s *S) {
	if *s != "" {
		*s = S(unique.Make(string(*s)).Value())
	}
}

// share points *s at canonical when the two are equal.
func share(s *string, canonical string) {
	if *s == canonical {
		*s = canonical
	}
}
