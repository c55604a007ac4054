package controllers_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"
	"sigs.k8s.io/controller-runtime/pkg/client"

	voicev1alpha1 "github.com/twilio-operator/voice-operator/api/v1alpha1"
	"github.com/twilio-operator/voice-operator/controllers"
	"github.com/twilio-operator/voice-operator/internal/localenv"
	"github.com/twilio-operator/voice-operator/internal/voicesim"
)

// These specs hold the operator to one rule: it never adopts, overwrites or
// deletes a remote configuration it did not create, and never creates one
// twice, whatever the API answers. They run against the simulator in the
// reference's exact shape and in the extended one (`make test` runs both).

// consoleMade is a configuration a person made in the Console: its own
// description, URL and method.
func consoleMade(name string) voicesim.Record {
	d := "console-made"
	return voicesim.Record{UniqueName: name, Description: &d, CallNotificationURL: "https://console.example.com/theirs", CallNotificationMethod: "GET"}
}

// failFirstPOST answers the first POST with the spec's unique name as fault
// says, after running before (which may plant a configuration, as someone
// racing the operator would).
func failFirstPOST(t tenant, name, fault string, before func()) {
	var fired atomic.Int32
	simCalls.intercept(t.account, func(w http.ResponseWriter, r *http.Request, next http.Handler) bool {
		if r.Method != http.MethodPost || r.URL.Path != voicesim.RouteCollection || fired.Load() > 0 {
			return false
		}
		body, _ := io.ReadAll(r.Body)
		var in struct {
			UniqueName string `json:"unique_name"`
		}
		if json.Unmarshal(body, &in) != nil || in.UniqueName != name {
			r.Body = io.NopCloser(strings.NewReader(string(body)))
			return false
		}
		fired.Add(1)
		if before != nil {
			before()
		}
		switch fault {
		case "503":
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte(`{"code":20503,"message":"Service Unavailable","status":503}`))
		case "timeout":
			// Longer than the client's request timeout (2 s in this suite).
			select {
			case <-r.Context().Done():
			case <-time.After(3 * time.Second):
			}
		case "reset":
			conn, _, err := w.(http.Hijacker).Hijack()
			if err == nil {
				_ = conn.Close()
			}
		}
		return true
	})
}

var _ = Describe("Ownership", func() {
	var t tenant
	BeforeEach(func(ctx SpecContext) { t = newTenant(ctx, true) })

	// The foreign configuration must come out of every scenario exactly as
	// it went in: no PUT, no DELETE, after resyncs and a delete of the
	// object.
	DescribeTable("never touches a configuration someone else made",
		func(ctx SpecContext, when, fault string) {
			name := "taken-" + when + "-" + fault
			var theirs string
			plant := func() {
				id, err := sim.CreateOutOfBand(t.account, consoleMade(name))
				Expect(err).NotTo(HaveOccurred())
				theirs = id
			}
			if when == "before" {
				plant()
				failFirstPOST(t, name, fault, nil)
			} else {
				// Made between the operator's List and its POST, whose
				// answer is then lost: the worst case for a guess.
				failFirstPOST(t, name, fault, plant)
			}
			before := func() voicesim.Record {
				GinkgoHelper()
				Eventually(func() string { return theirs }).WithContext(ctx).ShouldNot(BeEmpty())
				return t.remoteByName(name)[0]
			}
			obj := t.clientConfiguration(name)
			Expect(k8sClient.Create(ctx, obj)).To(Succeed())

			ready := waitReason(ctx, obj, voicev1alpha1.ReasonAlreadyExists)
			original := before()
			Expect(ready.Message).To(ContainSubstring(theirs))
			Expect(kstatusOf(obj)).To(Equal(status.FailedStatus))
			Expect(obj.Status.ID).To(BeEmpty())

			By("leaving it byte for byte as it was, over two resyncs")
			Consistently(func(g Gomega) {
				g.Expect(t.remote()).To(ConsistOf(original))
				g.Expect(t.calls()).NotTo(HaveKey(putConfig))
				g.Expect(t.calls()).NotTo(HaveKey(deleteConfig))
			}).WithContext(ctx).WithTimeout(2 * resyncPeriod).Should(Succeed())

			By("deleting the object without deleting it")
			deleteAndWait(ctx, obj)
			Expect(t.remote()).To(ConsistOf(original))
			Expect(t.calls()).NotTo(HaveKey(putConfig))
			Expect(t.calls()).NotTo(HaveKey(deleteConfig))
		},
		Entry("made before the apply, first POST answered 503", "before", "503"),
		Entry("made before the apply, first POST timed out", "before", "timeout"),
		Entry("made before the apply, first POST's connection reset", "before", "reset"),
		Entry("made during the first POST, answered 503", "during", "503"),
		Entry("made during the first POST, which timed out", "during", "timeout"),
		Entry("made during the first POST, whose connection was reset", "during", "reset"),
	)

	It("recovers its own create when the answer was lost after the configuration was made", func(ctx SpecContext) {
		simCalls.intercept(t.account, func(w http.ResponseWriter, r *http.Request, next http.Handler) bool {
			if r.Method != http.MethodPost || t.calls()[postConfig] > 1 {
				return false
			}
			// Committed, then the client times out waiting.
			next.ServeHTTP(httptestRecorder(), r)
			time.Sleep(3 * time.Second)
			return true
		})
		obj := t.clientConfiguration("slow")
		create(ctx, obj)

		waitReady(ctx, obj)
		Expect(t.remoteByName("slow")).To(HaveLen(1))
		Expect(obj.Status.ID).To(Equal(t.remoteByName("slow")[0].ID))
		Expect(t.calls()[postConfig]).To(Equal(1), "found and proven, not created twice")
		Eventually(func(g Gomega) []string { return eventReasons(ctx, g, obj) }).WithContext(ctx).Should(ContainElement("Recovered"))
	})

	Context("when the configuration is deleted outside Kubernetes", func() {
		It("goes through the name check before creating it again: a configuration now holding the name is AlreadyExists", func(ctx SpecContext) {
			obj := t.readyConfiguration(ctx, "replaced")
			Expect(sim.DeleteOutOfBand(t.account, obj.Status.ID)).To(Succeed())
			theirs, err := sim.CreateOutOfBand(t.account, consoleMade("replaced"))
			Expect(err).NotTo(HaveOccurred())
			posts := t.calls()[postConfig]

			ready := waitReason(ctx, obj, voicev1alpha1.ReasonAlreadyExists)
			Expect(ready.Message).To(ContainSubstring(theirs))
			Expect(obj.Status.ID).To(BeEmpty(), "the vanished id is forgotten")
			Consistently(func(g Gomega) {
				g.Expect(t.calls()[postConfig]).To(Equal(posts))
				g.Expect(t.calls()).NotTo(HaveKey(putConfig))
			}).WithContext(ctx).Should(Succeed())
		})

		It("finds its re-created configuration as its own after a crash before the status write", func(ctx SpecContext) {
			// The state that crash leaves: status.id still the vanished id,
			// the re-create's attempt in the marker, and the new
			// configuration in Twilio.
			obj := t.clientConfiguration("phoenix")
			obj.Annotations = map[string]string{voicev1alpha1.AnnotationPaused: "true"}
			create(ctx, obj)
			plantStatus(ctx, obj, func(o *voicev1alpha1.ClientConfiguration) {
				o.Status.ID, o.Status.AccountSID = "voice_clientconfiguration_0000000000000000000000000000dead", t.account
			})
			newID, err := sim.CreateOutOfBand(t.account, recordOf(obj))
			Expect(err).NotTo(HaveOccurred())
			patchAnnotation(ctx, obj, voicev1alpha1.AnnotationCreateIntent,
				controllers.CreateIntentFor(obj.UID, t.account, inputOf(obj), time.Now()))
			patchAnnotation(ctx, obj, voicev1alpha1.AnnotationPaused, "")

			waitReady(ctx, obj)
			Expect(obj.Status.ID).To(Equal(newID))
			Expect(t.remote()).To(HaveLen(1))
			Expect(writes(t.calls())).To(BeZero())
		})
	})

	Context("one remote configuration, one owner", func() {
		It("refuses a second object adopting a configuration another object manages (Conflict), and keeps the first one honest", func(ctx SpecContext) {
			first := t.readyConfiguration(ctx, "shared")

			other := t.sibling(ctx)
			second := other.clientConfiguration("yy", func(o *voicev1alpha1.ClientConfiguration) {
				o.Spec.UniqueName = "shared"
				o.Spec.CallNotification.URL = "https://example.com/second-owner"
				o.Annotations = map[string]string{voicev1alpha1.AnnotationAdopt: "true"}
			})
			create(ctx, second)

			ready := waitReason(ctx, second, voicev1alpha1.ReasonConflict)
			Expect(ready.Message).To(ContainSubstring(first.Namespace + "/" + first.Name))
			Expect(second.Status.ID).To(BeEmpty())
			Consistently(func(g Gomega) {
				g.Expect(t.calls()).NotTo(HaveKey(putConfig))
				g.Expect(t.remoteByName("shared")[0].CallNotificationURL).To(Equal(first.Spec.CallNotification.URL))
			}).WithContext(ctx).Should(Succeed())

			By("still correcting a change made to it in the Console")
			Expect(sim.EditOutOfBand(t.account, first.Status.ID, func(r *voicesim.Record) { r.CallNotificationURL = "https://example.com/second-owner" })).To(Succeed())
			Eventually(func() string { return t.remoteByName("shared")[0].CallNotificationURL }).WithContext(ctx).WithTimeout(3 * resyncPeriod).
				Should(Equal(first.Spec.CallNotification.URL))
		})

		It("lets the older of two objects that both hold one configuration keep it, and the younger never deletes it", func(ctx SpecContext) {
			// Two holders: a state an earlier version could leave behind.
			first := t.readyConfiguration(ctx, "held")
			other := t.sibling(ctx)
			second := other.clientConfiguration("held-too", func(o *voicev1alpha1.ClientConfiguration) {
				o.Spec.UniqueName = "held"
				o.Annotations = map[string]string{voicev1alpha1.AnnotationPaused: "true"}
			})
			create(ctx, second)
			plantStatus(ctx, second, func(o *voicev1alpha1.ClientConfiguration) {
				o.Status.ID, o.Status.AccountSID = first.Status.ID, t.account
			})
			patchAnnotation(ctx, second, voicev1alpha1.AnnotationPaused, "")

			waitReason(ctx, second, voicev1alpha1.ReasonConflict)
			Expect(second.Status.ID).To(BeEmpty())
			deleteAndWait(ctx, second)
			Expect(t.calls()).NotTo(HaveKey(deleteConfig))
			waitReady(ctx, first)
			Expect(t.remoteByName("held")).To(HaveLen(1))
		})
	})

	Context("account identity", func() {
		It("catches a Secret pairing this account's SID with another account's API key before writing there", func(ctx SpecContext) {
			elsewhere := "AC" + localenv.RandomHex(16)
			key, secret := "SK"+localenv.RandomHex(16), "secret-"+localenv.RandomHex(8)
			sim.AddAPIKey(elsewhere, key, secret)
			_, err := sim.CreateOutOfBand(elsewhere, consoleMade("already-there"))
			Expect(err).NotTo(HaveOccurred())
			t.createKeySecret(ctx, "mixed", t.account, key, secret)
			obj := t.clientConfiguration("mixed-up", func(o *voicev1alpha1.ClientConfiguration) { o.Spec.CredentialsRef.Name = "mixed" })
			create(ctx, obj)

			ready := waitReason(ctx, obj, voicev1alpha1.ReasonAccountMismatch)
			Expect(ready.Message).To(And(ContainSubstring(elsewhere), ContainSubstring(t.account)))
			Expect(kstatusOf(obj)).To(Equal(status.FailedStatus))
			Consistently(func(g Gomega) {
				g.Expect(sim.Configurations(elsewhere)).To(HaveLen(1), "the other account's List revealed it: no POST")
				g.Expect(writes(simCalls.of(key))).To(BeZero())
			}).WithContext(ctx).Should(Succeed())
		})

		It("deletes at once what a create made in the wrong account, when nothing could reveal it before", func(ctx SpecContext) {
			elsewhere := "AC" + localenv.RandomHex(16)
			key, secret := "SK"+localenv.RandomHex(16), "secret-"+localenv.RandomHex(8)
			sim.AddAPIKey(elsewhere, key, secret) // an empty account: its List shows no account at all
			t.createKeySecret(ctx, "mixed", t.account, key, secret)
			obj := t.clientConfiguration("stray", func(o *voicev1alpha1.ClientConfiguration) { o.Spec.CredentialsRef.Name = "mixed" })
			create(ctx, obj)

			waitReason(ctx, obj, voicev1alpha1.ReasonAccountMismatch)
			Expect(sim.Configurations(elsewhere)).To(BeEmpty())
			Expect(simCalls.of(key)).To(HaveKeyWithValue(postConfig, 1))
			Expect(simCalls.of(key)).To(HaveKeyWithValue(deleteConfig, 1))
			Consistently(func() int { return simCalls.of(key)[postConfig] }).WithContext(ctx).Should(Equal(1))
		})

		It("stalls an AccountDefault whose Secret now names another account (AccountChanged), writing nothing there", func(ctx SpecContext) {
			cc := t.readyConfiguration(ctx, "home")
			ad := t.accountDefault("home-default", "home")
			create(ctx, ad)
			waitADReady(ctx, ad)

			other := t.moveSecretToNewAccount(ctx)

			adReason(ctx, ad, voicev1alpha1.ReasonAccountChanged)
			Expect(sim.Default(other)).To(BeEmpty())
			Expect(sim.Default(t.account)).To(Equal(cc.Status.ID))
			Expect(simCalls.of(other)).NotTo(HaveKey(postDefault))
			for _, obj := range []client.Object{ad, cc} {
				Eventually(func() error {
					return k8sClient.Patch(ctx, obj, client.RawPatch("application/merge-patch+json", []byte(`{"spec":{"deletionPolicy":"Orphan"}}`)))
				}).WithContext(ctx).Should(Succeed())
			}
		})
	})

	It("keeps drift detection of one namespace going when another namespace's key to the same account is revoked", func(ctx SpecContext) {
		key, secret := "SK"+localenv.RandomHex(16), "secret-"+localenv.RandomHex(8)
		sim.AddAPIKey(t.account, key, secret)
		other := t.sibling(ctx)
		other.createKeySecret(ctx, "by-key", t.account, key, secret)
		mine := t.clientConfiguration("by-token")
		theirs := other.clientConfiguration("by-key", func(o *voicev1alpha1.ClientConfiguration) { o.Spec.CredentialsRef.Name = "by-key" })
		create(ctx, mine)
		create(ctx, theirs)
		waitReady(ctx, mine)
		waitReady(ctx, theirs)

		sim.AddAPIKey(t.account, key, "revoked-"+localenv.RandomHex(8))
		DeferCleanup(func() { sim.AddAPIKey(t.account, key, secret) }) // so the object can go
		Expect(sim.EditOutOfBand(t.account, mine.Status.ID, func(r *voicesim.Record) { r.CallNotificationMethod = "GET" })).To(Succeed())
		Eventually(func() string { return t.remoteByName("by-token")[0].CallNotificationMethod }).WithContext(ctx).WithTimeout(3 * resyncPeriod).
			Should(Equal("POST"))
	})

	It("keeps objects Ready and edits flowing while the List answers 503 for good", func(ctx SpecContext) {
		const n = 200
		objs := make([]*voicev1alpha1.ClientConfiguration, n)
		for i := range objs {
			objs[i] = t.clientConfiguration(names("steady", i))
			create(ctx, objs[i])
		}
		Eventually(func(g Gomega) {
			for _, obj := range objs {
				fetch(ctx, g, obj)
				g.Expect(readyCondition(obj)).NotTo(BeNil())
				g.Expect(readyCondition(obj).Status).To(Equal(metav1.ConditionTrue), obj.Name)
			}
		}).WithContext(ctx).WithTimeout(2 * time.Minute).Should(Succeed())

		simCalls.intercept(t.account, func(w http.ResponseWriter, r *http.Request, next http.Handler) bool {
			if r.Method != http.MethodGet || r.URL.Path != voicesim.RouteCollection {
				return false
			}
			w.WriteHeader(http.StatusServiceUnavailable)
			return true
		})
		By("staying Ready over resyncs")
		Consistently(func(g Gomega) {
			for _, obj := range objs {
				fetch(ctx, g, obj)
				g.Expect(readyCondition(obj).Status).To(Equal(metav1.ConditionTrue), obj.Name)
			}
		}).WithContext(ctx).WithTimeout(3 * resyncPeriod).WithPolling(time.Second).Should(Succeed())

		By("carrying spec edits to the remote side within one reconcile")
		for _, obj := range objs[:10] {
			fetch(ctx, Default, obj)
			obj.Spec.Description = "edited while the List fails"
			Expect(k8sClient.Update(ctx, obj)).To(Succeed())
		}
		Eventually(func(g Gomega) {
			for _, obj := range objs[:10] {
				g.Expect(*t.remoteByName(obj.Spec.UniqueName)[0].Description).To(Equal("edited while the List fails"))
			}
		}).WithContext(ctx).WithTimeout(10 * time.Second).Should(Succeed())

		By("holding a new object back with a clear reason, since no List can show its name free")
		late := t.clientConfiguration("late")
		create(ctx, late)
		ready := waitReason(ctx, late, voicev1alpha1.ReasonRemoteUnavailable)
		Expect(ready.Message).To(ContainSubstring("cannot tell whether the unique name is free"))
		Expect(t.remoteByName("late")).To(BeEmpty())
	})

	It("deletes a configuration that is the account's default together with its AccountDefault, whatever the API does about deleting a default", func(ctx SpecContext) {
		cc := t.readyConfiguration(ctx, "the-default")
		ad := t.accountDefault("the-default", "the-default")
		create(ctx, ad)
		waitADReady(ctx, ad)

		Expect(k8sClient.Delete(ctx, cc)).To(Succeed())
		Expect(k8sClient.Delete(ctx, ad)).To(Succeed())
		Eventually(func(g Gomega) {
			g.Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(cc), cc)).NotTo(Succeed())
			g.Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(ad), ad)).NotTo(Succeed())
		}).WithContext(ctx).Should(Succeed())
		Expect(t.remote()).To(BeEmpty())
		Expect(sim.Default(t.account)).To(BeEmpty())
	})

	It("waits with IsDefault while the API refuses to delete the default, and deletes once it is unset", func(ctx SpecContext) {
		cc := t.readyConfiguration(ctx, "pinned")
		Expect(sim.SetDefaultOutOfBand(t.account, cc.Status.ID)).To(Succeed())

		Expect(k8sClient.Delete(ctx, cc)).To(Succeed())
		if simShapeOptions().DeleteDefault == voicesim.DeleteDefaultRefused {
			ready := waitReason(ctx, cc, voicev1alpha1.ReasonIsDefault)
			Expect(ready.Message).To(ContainSubstring("AccountDefault"))
			Expect(readyCondition(cc).Status).To(Equal(metav1.ConditionFalse))
			Expect(sim.SetDefaultOutOfBand(t.account, "")).To(Succeed())
		}
		Eventually(func() error { return k8sClient.Get(ctx, client.ObjectKeyFromObject(cc), cc) }).
			WithContext(ctx).Should(MatchError(ContainSubstring("not found")))
		Expect(t.remote()).To(BeEmpty())
	})

	It("still deletes its remote configuration, and unsets its default, when the Secret went first (a namespace being deleted)", func(ctx SpecContext) {
		cc := t.readyConfiguration(ctx, "leaving")
		ad := t.accountDefault("leaving", "leaving")
		create(ctx, ad)
		waitADReady(ctx, ad)

		secret := &corev1.Secret{}
		Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: t.ns, Name: secretName}, secret)).To(Succeed())
		Expect(k8sClient.Delete(ctx, secret)).To(Succeed())
		deleteAndWait(ctx, ad)
		deleteAndWait(ctx, cc)
		Expect(t.remote()).To(BeEmpty(), "deleted with the credentials the objects last used")
		Expect(sim.Default(t.account)).To(BeEmpty())
	})

	It("does not rewrite a URL that the API stores in another form", func(ctx SpecContext) {
		obj := t.clientConfiguration("canonical", func(o *voicev1alpha1.ClientConfiguration) {
			o.Spec.CallNotification.URL = "HTTPS://Example.COM:443"
		})
		create(ctx, obj)
		waitReady(ctx, obj)
		Consistently(func() int { return t.calls()[putConfig] }).WithContext(ctx).WithTimeout(3 * resyncPeriod).Should(BeZero())
	})
})

// names is the i-th name of a series.
func names(prefix string, i int) string {
	return prefix + "-" + strings.Repeat("0", 3-len(itoa(i))) + itoa(i)
}

func itoa(i int) string {
	b, _ := json.Marshal(i)
	return string(b)
}
