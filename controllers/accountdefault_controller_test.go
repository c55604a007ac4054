package controllers_test

import (
	"context"
	"fmt"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"
	"sigs.k8s.io/controller-runtime/pkg/client"

	voicev1alpha1 "github.com/twilio-operator/voice-operator/api/v1alpha1"
	"github.com/twilio-operator/voice-operator/internal/voicesim"
)

// accountDefault builds an AccountDefault in the tenant's namespace that
// references the ClientConfiguration named ref.
func (t tenant) accountDefault(name, ref string) *voicev1alpha1.AccountDefault {
	return &voicev1alpha1.AccountDefault{
		ObjectMeta: metav1.ObjectMeta{Namespace: t.ns, Name: name},
		Spec: voicev1alpha1.AccountDefaultSpec{
			ConfigurationRef: &voicev1alpha1.ConfigurationReference{Name: ref},
			CredentialsRef:   voicev1alpha1.SecretReference{Name: secretName},
		},
	}
}

// adReason waits until the AccountDefault's Ready condition has this reason.
func adReason(ctx context.Context, obj *voicev1alpha1.AccountDefault, reason string) *metav1.Condition {
	GinkgoHelper()
	var ready *metav1.Condition
	Eventually(func(g Gomega) {
		fetch(ctx, g, obj)
		ready = meta.FindStatusCondition(obj.Status.Conditions, voicev1alpha1.ConditionReady)
		g.Expect(ready).NotTo(BeNil())
		g.Expect(ready.Reason).To(Equal(reason), "Ready is %s: %s", ready.Reason, ready.Message)
		g.Expect(ready.ObservedGeneration).To(Equal(obj.Generation))
	}).WithContext(ctx).Should(Succeed())
	return detailOf(obj.Status.Conditions, ready)
}

// waitADReady waits until the AccountDefault is Synced.
func waitADReady(ctx context.Context, obj *voicev1alpha1.AccountDefault) {
	GinkgoHelper()
	adReason(ctx, obj, voicev1alpha1.ReasonSynced)
}

// givenDefaultSet creates a ClientConfiguration "web" and an AccountDefault
// "default" that references it, and waits until the default is set.
func (t tenant) givenDefaultSet(ctx context.Context) (*voicev1alpha1.ClientConfiguration, *voicev1alpha1.AccountDefault) {
	GinkgoHelper()
	cc := t.readyConfiguration(ctx, "web")
	ad := t.accountDefault("default", "web")
	create(ctx, ad)
	adReason(ctx, ad, voicev1alpha1.ReasonSynced)
	return cc, ad
}

var _ = Describe("AccountDefault", func() {
	var t tenant
	BeforeEach(func(ctx SpecContext) { t = newTenant(ctx, true) })

	It("makes the referenced ClientConfiguration the account's default", func(ctx SpecContext) {
		cc := t.readyConfiguration(ctx, "web")
		ad := t.accountDefault("default", "web")
		create(ctx, ad)

		adReason(ctx, ad, voicev1alpha1.ReasonSynced)
		Expect(sim.Default(t.account)).To(Equal(cc.Status.ID))
		Expect(ad.Status.ConfigurationID).To(Equal(cc.Status.ID))
		Expect(ad.Status.AccountSID).To(Equal(t.account))
		Expect(ad.Finalizers).To(ContainElement(voicev1alpha1.Finalizer))
		Expect(t.calls()[postDefault]).To(Equal(1))
		Expect(kstatusOf(ad)).To(Equal(status.CurrentStatus))
	})

	It("makes a raw configurationId the account's default", func(ctx SpecContext) {
		id, err := sim.CreateOutOfBand(t.account, voicesim.Record{
			UniqueName: "unmanaged", CallNotificationURL: "https://example.com/x", CallNotificationMethod: "POST",
		})
		Expect(err).NotTo(HaveOccurred())
		ad := t.accountDefault("default", "")
		ad.Spec.ConfigurationRef, ad.Spec.ConfigurationID = nil, id
		create(ctx, ad)

		adReason(ctx, ad, voicev1alpha1.ReasonSynced)
		Expect(sim.Default(t.account)).To(Equal(id))
	})

	It("waits for a referenced ClientConfiguration to exist and be Ready, then converges by itself", func(ctx SpecContext) {
		ad := t.accountDefault("default", "later")
		create(ctx, ad)
		ready := adReason(ctx, ad, voicev1alpha1.ReasonConfigurationNotFound)
		Expect(ready.Message).To(ContainSubstring(`"later"`))
		Expect(kstatusOf(ad)).To(Equal(status.InProgressStatus))
		Expect(t.calls()).NotTo(HaveKey(postDefault))

		cc := t.readyConfiguration(ctx, "later")
		adReason(ctx, ad, voicev1alpha1.ReasonSynced)
		Expect(sim.Default(t.account)).To(Equal(cc.Status.ID))
		Expect(warnings(ctx, Default, ad)).To(BeEmpty(), "waiting for an object that is being created is progress, not a problem")
	})

	It("stays Ready, without a Warning, while its ClientConfiguration is edited", func(ctx SpecContext) {
		cc, ad := t.givenDefaultSet(ctx)
		for i := range 3 {
			fetch(ctx, Default, cc)
			cc.Spec.Description = fmt.Sprintf("edit %d", i)
			Expect(k8sClient.Update(ctx, cc)).To(Succeed())
			waitReady(ctx, cc)
		}
		Consistently(func(g Gomega) {
			fetch(ctx, g, ad)
			g.Expect(meta.FindStatusCondition(ad.Status.Conditions, voicev1alpha1.ConditionReady).Status).To(Equal(metav1.ConditionTrue))
		}).WithContext(ctx).Should(Succeed())
		Expect(warnings(ctx, Default, ad)).To(BeEmpty())
	})

	It("puts the default back at the next resync when it was changed by hand", func(ctx SpecContext) {
		cc, ad := t.givenDefaultSet(ctx)

		other, err := sim.CreateOutOfBand(t.account, voicesim.Record{
			UniqueName: "other", CallNotificationURL: "https://example.com/other", CallNotificationMethod: "POST",
		})
		Expect(err).NotTo(HaveOccurred())
		Expect(sim.SetDefaultOutOfBand(t.account, other)).To(Succeed())

		Eventually(func() string { return sim.Default(t.account) }).WithContext(ctx).WithTimeout(3 * resyncPeriod).Should(Equal(cc.Status.ID))
		Expect(t.calls()[postDefault]).To(Equal(2))
		Eventually(func(g Gomega) []string { return eventNotes(ctx, g, ad) }).WithContext(ctx).
			Should(ContainElement(fmt.Sprintf("Made %s the default of account %s again (it was %s)", cc.Status.ID, t.account, other)))
	})

	It("lets only the oldest of two AccountDefaults of one account act; the other reports Conflict", func(ctx SpecContext) {
		web, mobile := t.clientConfiguration("web"), t.clientConfiguration("mobile")
		create(ctx, web)
		create(ctx, mobile)
		waitReady(ctx, web)
		waitReady(ctx, mobile)
		first := t.accountDefault("first", "web")
		create(ctx, first)
		adReason(ctx, first, voicev1alpha1.ReasonSynced)

		// A second one, in another namespace, for the same account, created
		// in a later second than the first (creationTimestamp has a
		// resolution of one second; a tie is broken by namespace/name).
		Eventually(func() time.Time { return time.Now().Truncate(time.Second) }).Should(BeTemporally(">", first.CreationTimestamp.Time))
		t2 := tenant{ns: newNamespace(ctx), account: t.account, token: t.token}
		t2.createSecret(ctx, t.account, t.token)
		second := t2.accountDefault("second", "")
		second.Spec.ConfigurationRef, second.Spec.ConfigurationID = nil, mobile.Status.ID
		create(ctx, second)

		ready := adReason(ctx, second, voicev1alpha1.ReasonConflict)
		Expect(ready.Message).To(ContainSubstring(t.ns + "/first"))
		Expect(kstatusOf(second)).To(Equal(status.FailedStatus))

		By("never taking turns: the default stays, and no POST follows the first one")
		Consistently(func(g Gomega) {
			g.Expect(sim.Default(t.account)).To(Equal(web.Status.ID))
			g.Expect(t.calls()[postDefault]).To(Equal(1))
		}).WithContext(ctx).WithTimeout(2 * resyncPeriod).Should(Succeed())

		By("deleting the conflicting one without touching the owner's default")
		cleanUp(ctx, second)
		Expect(sim.Default(t.account)).To(Equal(web.Status.ID))
		Expect(t.calls()).NotTo(HaveKey(deleteDefault))
	})

	It("unsets the default on delete when it is still the one it set", func(ctx SpecContext) {
		_, ad := t.givenDefaultSet(ctx)

		cleanUp(ctx, ad)
		Expect(sim.Default(t.account)).To(BeEmpty())
		Expect(t.calls()[deleteDefault]).To(Equal(1))
	})

	It("leaves a default someone else set alone when it is deleted", func(ctx SpecContext) {
		_, ad := t.givenDefaultSet(ctx)

		// Paused, it cannot put its default back before the delete is handled.
		patchAnnotation(ctx, ad, voicev1alpha1.AnnotationPaused, "true")
		other, err := sim.CreateOutOfBand(t.account, voicesim.Record{
			UniqueName: "theirs", CallNotificationURL: "https://example.com/theirs", CallNotificationMethod: "POST",
		})
		Expect(err).NotTo(HaveOccurred())
		Expect(sim.SetDefaultOutOfBand(t.account, other)).To(Succeed())

		// Deleted while paused, so the delete is the first thing it handles.
		Expect(k8sClient.Delete(ctx, ad)).To(Succeed())
		patchAnnotation(ctx, ad, voicev1alpha1.AnnotationPaused, "")
		Eventually(func() error { return k8sClient.Get(ctx, client.ObjectKeyFromObject(ad), ad) }).WithContext(ctx).Should(MatchError(ContainSubstring("not found")))
		Expect(sim.Default(t.account)).To(Equal(other))
		Expect(t.calls()).NotTo(HaveKey(deleteDefault))
		Eventually(func(g Gomega) []string { return eventReasons(ctx, g, ad) }).WithContext(ctx).Should(ContainElement("DefaultLeft"))
	})

	It("reports ConfigurationNotFound while its configuration is deleted, and recovers when it is recreated", func(ctx SpecContext) {
		cc, ad := t.givenDefaultSet(ctx)

		cleanUp(ctx, cc)
		Expect(sim.Default(t.account)).To(BeEmpty(), "deleting the default configuration clears the default remotely")
		adReason(ctx, ad, voicev1alpha1.ReasonConfigurationNotFound)
		Expect(kstatusOf(ad)).To(Equal(status.InProgressStatus))
		Eventually(func(g Gomega) string {
			fetch(ctx, g, ad)
			return ad.Status.ConfigurationID
		}).WithContext(ctx).Should(BeEmpty(), "the ID column shows no default that is gone")

		again := t.readyConfiguration(ctx, "web")
		adReason(ctx, ad, voicev1alpha1.ReasonSynced)
		Expect(sim.Default(t.account)).To(Equal(again.Status.ID))
	})

	It("makes no POST /Default and no apiserver write over five quiet resyncs", func(ctx SpecContext) {
		t.givenDefaultSet(ctx)
		posts, reads := t.calls()[postDefault], t.calls()[getDefault]
		objectWrites := writesSeen.of(t.ns, "accountdefaults")

		Consistently(func(g Gomega) {
			g.Expect(t.calls()[postDefault]).To(Equal(posts))
			g.Expect(writesSeen.of(t.ns, "accountdefaults")).To(Equal(objectWrites))
		}).WithContext(ctx).WithTimeout(6 * resyncPeriod).Should(Succeed())
		resyncs := t.calls()[getDefault] - reads
		Expect(resyncs).To(BeNumerically(">=", 5), "the five resyncs did happen")
		GinkgoWriter.Printf("steady state: %d resyncs, %d POST /Default, %d apiserver writes\n",
			resyncs, t.calls()[postDefault]-posts, writesSeen.of(t.ns, "accountdefaults")-objectWrites)
	})
})
