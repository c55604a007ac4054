package controllers_test

import (
	"context"
	"net/http"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	voicev1alpha1 "github.com/twilio-operator/voice-operator/api/v1alpha1"
	"github.com/twilio-operator/voice-operator/internal/localenv"
	"github.com/twilio-operator/voice-operator/internal/voicesim"
)

// The cases of issue 22, each as a user met it, on the shape of this pass.
// The model test (model_test.go) explores their family; these hold the
// wiring: the real cache, the real apiserver, the operator's own RBAC.
var _ = Describe("Ownership, as users met it", func() {
	var t tenant
	BeforeEach(func(ctx SpecContext) { t = newTenant(ctx, true) })

	It("never deletes a configuration re-made in the Console after its own was deleted there", func(ctx SpecContext) {
		obj := t.readyConfiguration(ctx, "remade-a")
		mine := obj.Status.ID

		By("deleting it in the Console and making it again with the same content")
		Expect(sim.DeleteOutOfBand(t.account, mine)).To(Succeed())
		theirs, err := sim.CreateOutOfBand(t.account, recordOf(obj))
		Expect(err).NotTo(HaveOccurred())
		patchAnnotation(ctx, obj, voicev1alpha1.AnnotationReconcileRequestedAt, "now")
		ready := waitReason(ctx, obj, voicev1alpha1.ReasonAlreadyExists)
		Expect(ready.Message).To(ContainSubstring(theirs))

		By("deleting the object: the re-made configuration stays")
		deleteAndWait(ctx, obj)
		Expect(t.remote()).To(ConsistOf(HaveField("ID", theirs)))
		Expect(t.calls()).NotTo(HaveKey(deleteConfig))
	})

	It("never lets an ObserveOnly object applied first take the configuration from the object that created it", func(ctx SpecContext) {
		other := t.sibling(ctx)
		watcher := other.clientConfiguration("watcher", func(o *voicev1alpha1.ClientConfiguration) {
			o.Spec.UniqueName = "obs"
			o.Spec.ManagementPolicy = voicev1alpha1.ManagementPolicyObserveOnly
		})
		create(ctx, watcher)
		waitReason(ctx, watcher, voicev1alpha1.ReasonNotFound)

		maker := t.clientConfiguration("maker", func(o *voicev1alpha1.ClientConfiguration) { o.Spec.UniqueName = "obs" })
		create(ctx, maker)
		waitReady(ctx, maker)
		Eventually(func(g Gomega) {
			fetch(ctx, g, watcher)
			g.Expect(watcher.Status.ID).To(Equal(maker.Status.ID))
		}).WithContext(ctx).Should(Succeed())

		By("a fresh look at the maker (as after a restart) keeps it the owner, correcting drift")
		Expect(sim.EditOutOfBand(t.account, maker.Status.ID, func(r *voicesim.Record) { r.CallNotificationURL = "https://example.com/changed" })).To(Succeed())
		patchAnnotation(ctx, maker, voicev1alpha1.AnnotationReconcileRequestedAt, "now")
		Eventually(func() string { return t.remoteByName("obs")[0].CallNotificationURL }).WithContext(ctx).
			Should(Equal(maker.Spec.CallNotification.URL))
		waitReady(ctx, maker)

		By("deleting the maker deletes the configuration, whoever watches it")
		deleteAndWait(ctx, maker)
		Expect(t.remoteByName("obs")).To(BeEmpty())
	})

	It("lifts a Conflict once the object that owned the configuration is gone", func(ctx SpecContext) {
		first := t.clientConfiguration("x", func(o *voicev1alpha1.ClientConfiguration) {
			o.Spec.UniqueName = "contested"
			o.Spec.DeletionPolicy = voicev1alpha1.DeletionPolicyOrphan
		})
		create(ctx, first)
		waitReady(ctx, first)
		other := t.sibling(ctx)
		second := other.clientConfiguration("yy", func(o *voicev1alpha1.ClientConfiguration) {
			o.Spec.UniqueName = "contested"
			o.Annotations = map[string]string{voicev1alpha1.AnnotationAdopt: "true"}
		})
		create(ctx, second)
		waitReason(ctx, second, voicev1alpha1.ReasonConflict)

		deleteAndWait(ctx, first)
		waitReady(ctx, second)
		Expect(second.Status.ID).To(Equal(first.Status.ID), "adopted, as its annotation asks, once nobody owns it")
	})

	It("keeps the finalizer, and reports no deletion, while the Secret holds another account's key", func(ctx SpecContext) {
		obj := t.readyConfiguration(ctx, "wrong-key")
		elsewhere := "AC" + localenv.RandomHex(16)
		key, secret := "SK"+localenv.RandomHex(16), "secret-"+localenv.RandomHex(8)
		sim.AddAPIKey(elsewhere, key, secret) // an empty account: nothing it answers names it
		swapSecret(ctx, t, map[string]string{voicev1alpha1.SecretKeyAccountSID: t.account, voicev1alpha1.SecretKeyAPIKey: key, voicev1alpha1.SecretKeyAPISecret: secret})

		Expect(k8sClient.Delete(ctx, obj)).To(Succeed())
		ready := waitReason(ctx, obj, voicev1alpha1.ReasonAccountMismatch)
		Expect(ready.Message).To(ContainSubstring(obj.Status.ID))
		Consistently(func(g Gomega) []string {
			g.Expect(t.remote()).To(HaveLen(1))
			return eventReasons(ctx, g, obj)
		}).WithContext(ctx).ShouldNot(ContainElement("Deleted"))

		By("deleting it once the account's own credentials are back")
		swapSecret(ctx, t, map[string]string{voicev1alpha1.SecretKeyAccountSID: t.account, voicev1alpha1.SecretKeyAuthToken: t.token})
		Eventually(func() error { return k8sClient.Get(ctx, client.ObjectKeyFromObject(obj), obj) }).
			WithContext(ctx).Should(MatchError(ContainSubstring("not found")))
		Expect(t.remote()).To(BeEmpty())
	})

	It("retries a delete the API refuses for the default with a growing backoff, not a fixed loop", func(ctx SpecContext) {
		if simShapeOptions().DeleteDefault != voicesim.DeleteDefaultRefused {
			Skip("this shape deletes the default")
		}
		var mu sync.Mutex
		var tries []time.Time
		simCalls.intercept(t.account, func(w http.ResponseWriter, r *http.Request, next http.Handler) bool {
			if r.Method == http.MethodDelete && r.URL.Path != voicesim.RouteDefault {
				mu.Lock()
				tries = append(tries, time.Now())
				mu.Unlock()
			}
			return false
		})
		cc := t.readyConfiguration(ctx, "pinned-long")
		Expect(sim.SetDefaultOutOfBand(t.account, cc.Status.ID)).To(Succeed())
		Expect(k8sClient.Delete(ctx, cc)).To(Succeed())
		waitReason(ctx, cc, voicev1alpha1.ReasonIsDefault)

		// The object's backoff: 1 s, doubling, at most 5 minutes. The old
		// fixed 5 s loop made every gap equal.
		Eventually(func() int { mu.Lock(); defer mu.Unlock(); return len(tries) }).WithContext(ctx).Should(BeNumerically(">=", 4))
		mu.Lock()
		first, third := tries[1].Sub(tries[0]), tries[3].Sub(tries[2])
		mu.Unlock()
		Expect(third).To(BeNumerically(">=", 2*first), "the gaps between tries grow (%s, then %s)", first, third)

		Expect(sim.SetDefaultOutOfBand(t.account, "")).To(Succeed())
		Eventually(func() error { return k8sClient.Get(ctx, client.ObjectKeyFromObject(cc), cc) }).
			WithContext(ctx).WithTimeout(time.Minute).Should(MatchError(ContainSubstring("not found")))
	})
})

// swapSecret replaces the tenant's credentials Secret's data.
func swapSecret(ctx context.Context, t tenant, data map[string]string) {
	GinkgoHelper()
	secret := &corev1.Secret{}
	Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: t.ns, Name: secretName}, secret)).To(Succeed())
	secret.Data, secret.StringData = nil, data
	Expect(k8sClient.Update(ctx, secret)).To(Succeed())
}
