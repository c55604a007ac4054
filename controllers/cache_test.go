package controllers

import (
	"encoding/json"
	"fmt"
	"runtime"
	"testing"
	"time"
	"unsafe"

	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	kjson "sigs.k8s.io/json"

	voicev1alpha1 "github.com/twilio-operator/voice-operator/api/v1alpha1"
)

const (
	cachedID      = "voice_clientconfiguration_0123456789abcdef0123456789abcdef"
	cachedAccount = "AC00000000000000000000000000000001"
)

// settled is a ClientConfiguration as the operator leaves it after a create:
// finalizer, create-intent marker, Ready and InSync, status.remote equal to
// the spec; as the apiserver stores it, with managedFields and kubectl's
// last-applied copy.
func settled(i int) *voicev1alpha1.ClientConfiguration {
	name := fmt.Sprintf("bench-%05d", i)
	now := metav1.NewTime(time.Date(2026, 11, 26, 1, 33, 0, 0, time.UTC))
	obj := &voicev1alpha1.ClientConfiguration{
		TypeMeta: metav1.TypeMeta{APIVersion: voicev1alpha1.GroupVersion.String(), Kind: "ClientConfiguration"},
		ObjectMeta: metav1.ObjectMeta{
			Name: name, Namespace: "bench", UID: "6f1c1d2e-0c7b-4b8a-9a57-3f1f7d0a9b2c", ResourceVersion: "123456", Generation: 1,
			CreationTimestamp: now, Finalizers: []string{voicev1alpha1.Finalizer},
			ManagedFields: []metav1.ManagedFieldsEntry{{Manager: "kubectl", Operation: metav1.ManagedFieldsOperationApply}},
			Annotations:   map[string]string{lastApplied: `{"spec":{}}`},
		},
		Spec: voicev1alpha1.ClientConfigurationSpec{
			UniqueName: name, Description: "benchmark " + name,
			CallNotification: voicev1alpha1.CallNotification{URL: "https://example.com/notify/" + name, Method: voicev1alpha1.HTTPMethodPOST},
			CredentialsRef:   voicev1alpha1.SecretReference{Name: "twilio-credentials"},
		},
	}
	setIntent(obj, &createIntent{Version: intentVersion, UID: string(obj.UID), Account: cachedAccount, Created: cachedID})
	obj.Status.ID, obj.Status.AccountSID, obj.Status.ObservedGeneration, obj.Status.LastSyncTime = cachedID, cachedAccount, 1, &now
	obj.Status.Conditions = []metav1.Condition{
		{Type: voicev1alpha1.ConditionReady, Status: metav1.ConditionTrue, Reason: voicev1alpha1.ReasonSynced, Message: "Matches the spec", ObservedGeneration: 1, LastTransitionTime: now},
		{Type: voicev1alpha1.ConditionInSync, Status: metav1.ConditionTrue, Reason: voicev1alpha1.ReasonSynced, Message: "The remote configuration matches the spec", ObservedGeneration: 1, LastTransitionTime: now},
	}
	obj.Status.Remote = &voicev1alpha1.RemoteConfiguration{UniqueName: name, Description: obj.Spec.Description,
		CallNotificationURL: obj.Spec.CallNotification.URL, CallNotificationMethod: "POST"}
	return obj
}

// decoded is obj as an informer gets it: decoded from JSON, no string
// shared with anything.
func decoded(t testing.TB, obj *voicev1alpha1.ClientConfiguration) *voicev1alpha1.ClientConfiguration {
	raw, err := json.Marshal(obj)
	if err != nil {
		t.Fatal(err)
	}
	out := &voicev1alpha1.ClientConfiguration{}
	if err := kjson.UnmarshalCaseSensitivePreserveInts(raw, out); err != nil {
		t.Fatal(err)
	}
	return out
}

func compacted(t testing.TB, obj *voicev1alpha1.ClientConfiguration) *voicev1alpha1.ClientConfiguration {
	out, err := CompactForCache(obj)
	if err != nil {
		t.Fatal(err)
	}
	return out.(*voicev1alpha1.ClientConfiguration)
}

// TestCompactForCacheChangesNothingAReaderSees checks that the cached form
// of an object equals the stored one but for managedFields and kubectl's
// last-applied copy, and that equal strings of different objects end up
// stored once.
func TestCompactForCacheChangesNothingAReaderSees(t *testing.T) {
	stored := settled(1)
	got := compacted(t, decoded(t, stored))

	want := stored.DeepCopy()
	want.ManagedFields = nil
	delete(want.Annotations, lastApplied)
	if !equality.Semantic.DeepEqual(got, want) {
		t.Errorf("cached object differs from the stored one beyond the dropped fields:\n got %+v\nwant %+v", got, want)
	}

	other := compacted(t, decoded(t, settled(2)))
	same := func(field string, a, b string) {
		t.Helper()
		if unsafe.StringData(a) != unsafe.StringData(b) {
			t.Errorf("%s is stored twice (%q)", field, a)
		}
	}
	same("the API version", got.APIVersion, other.APIVersion)
	same("the namespace", got.Namespace, other.Namespace)
	same("the finalizer", got.Finalizers[0], other.Finalizers[0])
	same("Ready's message", got.Status.Conditions[0].Message, other.Status.Conditions[0].Message)
	same("the reason", got.Status.Conditions[0].Reason, other.Status.Conditions[1].Reason)
	same("the account", got.Status.AccountSID, other.Status.AccountSID)
	same("status.remote.uniqueName and spec.uniqueName", got.Status.Remote.UniqueName, got.Spec.UniqueName)
	same("status.remote.callNotificationURL and the spec's", got.Status.Remote.CallNotificationURL, got.Spec.CallNotification.URL)
}

// TestCompactForCacheKeepsTheMarkerWhateverStatusSays checks that the
// create-intent marker reaches the cache in every state of the object: a
// decision reads it, and a cached copy without it once turned a clear of
// it into a no-op.
func TestCompactForCacheKeepsTheMarkerWhateverStatusSays(t *testing.T) {
	cases := map[string]func(obj *voicev1alpha1.ClientConfiguration){
		"status names the id the marker recorded": func(*voicev1alpha1.ClientConfiguration) {},
		"no id in status": func(obj *voicev1alpha1.ClientConfiguration) {
			obj.Status.ID, obj.Status.AccountSID, obj.Status.Remote = "", "", nil
		},
		"an attempt whose outcome is unknown": func(obj *voicev1alpha1.ClientConfiguration) {
			intent := readIntent(obj)
			intent.Attempts = append(intent.Attempts, attempt{Name: obj.Spec.UniqueName, Sent: "sha256:00", FreeAt: time.Now(), At: time.Now()})
			setIntent(obj, intent)
		},
		"the unique name changed since the create": func(obj *voicev1alpha1.ClientConfiguration) { obj.Spec.UniqueName = "renamed" },
		"a marker that cannot be read": func(obj *voicev1alpha1.ClientConfiguration) {
			obj.Annotations[voicev1alpha1.AnnotationCreateIntent] = "{not json"
		},
	}
	for name, change := range cases {
		t.Run(name, func(t *testing.T) {
			obj := settled(1)
			change(obj)
			marker := obj.Annotations[voicev1alpha1.AnnotationCreateIntent]
			got := compacted(t, decoded(t, obj))
			if got.Annotations[voicev1alpha1.AnnotationCreateIntent] != marker {
				t.Errorf("the marker was dropped from the cache")
			}
			if _, ok := got.Annotations[lastApplied]; ok {
				t.Errorf("kubectl's last-applied copy was kept")
			}
		})
	}

	t.Run("other annotations stay", func(t *testing.T) {
		obj := settled(1)
		obj.Annotations[voicev1alpha1.AnnotationPaused] = "true"
		got := compacted(t, decoded(t, obj))
		if len(got.Annotations) != 2 || got.Annotations[voicev1alpha1.AnnotationPaused] != "true" {
			t.Errorf("annotations = %v, want the paused one and the marker", got.Annotations)
		}
	})
}

// BenchmarkCachedObject reports the heap each cached ClientConfiguration
// holds, as an informer would cache it: with only managedFields and
// kubectl's copy dropped (trimmed), and compacted by the cache's transform.
func BenchmarkCachedObject(b *testing.B) {
	trim := func(obj *voicev1alpha1.ClientConfiguration) *voicev1alpha1.ClientConfiguration {
		obj.ManagedFields = nil
		delete(obj.Annotations, lastApplied)
		return obj
	}
	for _, variant := range []struct {
		name      string
		transform func(*voicev1alpha1.ClientConfiguration) *voicev1alpha1.ClientConfiguration
	}{
		{"trimmed", trim},
		{"compacted", func(obj *voicev1alpha1.ClientConfiguration) *voicev1alpha1.ClientConfiguration {
			return compacted(b, obj)
		}},
	} {
		b.Run(variant.name, func(b *testing.B) {
			const n = 1000
			raws := make([][]byte, n)
			for i := range raws {
				raw, err := json.Marshal(settled(i))
				if err != nil {
					b.Fatal(err)
				}
				raws[i] = raw
			}
			var perObject uint64
			for b.Loop() {
				held := make([]*voicev1alpha1.ClientConfiguration, n)
				var before, after runtime.MemStats
				runtime.GC()
				runtime.ReadMemStats(&before)
				for i := range held {
					obj := &voicev1alpha1.ClientConfiguration{}
					if err := kjson.UnmarshalCaseSensitivePreserveInts(raws[i], obj); err != nil {
						b.Fatal(err)
					}
					held[i] = variant.transform(obj)
				}
				runtime.GC()
				runtime.ReadMemStats(&after)
				perObject = (after.HeapAlloc - before.HeapAlloc) / n
				runtime.KeepAlive(held)
			}
			runtime.KeepAlive(raws)
			b.ReportMetric(float64(perObject), "heap-B/object")
		})
	}
}
