package controllers_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"
	"sigs.k8s.io/controller-runtime/pkg/client"

	voicev1alpha1 "github.com/twilio-operator/voice-operator/api/v1alpha1"
	"github.com/twilio-operator/voice-operator/controllers"
	"github.com/twilio-operator/voice-operator/internal/voicesim"
)

// waitReady waits until obj is Ready for its current generation; obj is
// left as last read.
func waitReady(ctx context.Context, obj *voicev1alpha1.ClientConfiguration) {
	GinkgoHelper()
	Eventually(func(g Gomega) {
		fetch(ctx, g, obj)
		ready := readyCondition(obj)
		g.Expect(ready).NotTo(BeNil())
		g.Expect(ready.Status).To(Equal(metav1.ConditionTrue), "Ready: %s: %s", ready.Reason, ready.Message)
		g.Expect(obj.Status.ObservedGeneration).To(Equal(obj.Generation))
	}).WithContext(ctx).Should(Succeed())
}

// waitReason waits until obj's Ready condition has this reason, and
// returns the condition that tells the whole story: Stalled or Reconciling
// when present (Ready's own message is the short first clause), else Ready.
func waitReason(ctx context.Context, obj *voicev1alpha1.ClientConfiguration, reason string) *metav1.Condition {
	GinkgoHelper()
	var ready *metav1.Condition
	Eventually(func(g Gomega) {
		fetch(ctx, g, obj)
		ready = readyCondition(obj)
		g.Expect(ready).NotTo(BeNil())
		g.Expect(ready.Reason).To(Equal(reason), "Ready is %s: %s", ready.Reason, ready.Message)
	}).WithContext(ctx).Should(Succeed())
	return detailOf(obj.Status.Conditions, ready)
}

// detailOf returns the Stalled or Reconciling condition when present, else
// ready.
func detailOf(conds []metav1.Condition, ready *metav1.Condition) *metav1.Condition {
	for _, t := range []string{voicev1alpha1.ConditionStalled, voicev1alpha1.ConditionReconciling} {
		if c := meta.FindStatusCondition(conds, t); c != nil {
			return c
		}
	}
	return ready
}

// eventNotes lists the notes of the Events recorded about obj.
func eventNotes(ctx context.Context, g Gomega, obj client.Object) []string {
	list := &eventsv1.EventList{}
	g.Expect(k8sClient.List(ctx, list, client.InNamespace(obj.GetNamespace()))).To(Succeed())
	var notes []string
	for _, e := range list.Items {
		if e.Regarding.Name == obj.GetName() {
			notes = append(notes, e.Note)
		}
	}
	return notes
}

// warnings lists the reasons of the Warning Events recorded about obj.
func warnings(ctx context.Context, g Gomega, obj client.Object) []string {
	list := &eventsv1.EventList{}
	g.Expect(k8sClient.List(ctx, list, client.InNamespace(obj.GetNamespace()))).To(Succeed())
	var reasons []string
	for _, e := range list.Items {
		if e.Regarding.Name == obj.GetName() && e.Type == corev1.EventTypeWarning {
			reasons = append(reasons, e.Reason)
		}
	}
	return reasons
}

// eventReasons lists the reasons of the Events recorded about obj.
func eventReasons(ctx context.Context, g Gomega, obj client.Object) []string {
	list := &eventsv1.EventList{}
	g.Expect(k8sClient.List(ctx, list, client.InNamespace(obj.GetNamespace()))).To(Succeed())
	var reasons []string
	for _, e := range list.Items {
		if e.Regarding.Name == obj.GetName() {
			reasons = append(reasons, e.Reason)
		}
	}
	return reasons
}

var _ = Describe("ClientConfiguration", func() {
	var t tenant
	BeforeEach(func(ctx SpecContext) { t = newTenant(ctx, true) })

	It("creates the remote configuration with one POST, stores its id, and holds a finalizer", func(ctx SpecContext) {
		obj := t.readyConfiguration(ctx, "web")

		remote := t.remoteByName("web")
		Expect(remote).To(HaveLen(1))
		Expect(obj.Status.ID).To(Equal(remote[0].ID))
		Expect(obj.Status.AccountSID).To(Equal(t.account))
		Expect(obj.Finalizers).To(ContainElement(voicev1alpha1.Finalizer))
		Expect(*remote[0].Description).To(Equal("webhook for web"))
		Expect(remote[0].CallNotificationURL).To(Equal("https://example.com/notify/web"))
		Expect(remote[0].CallNotificationMethod).To(Equal("POST"))
		Expect(obj.Status.Remote.CallNotificationURL).To(Equal("https://example.com/notify/web"))

		By("costing one List (the name is free), one POST, no GET or PUT, and three writes to the object: finalizer with the attempt, the attempt's outcome (the id), then status")
		Expect(t.calls()).To(HaveKeyWithValue(postConfig, 1))
		Expect(t.calls()).To(HaveKeyWithValue(listConfigs, BeNumerically("<=", 2)), "one List before the POST; a periodic resync may have added one")
		Expect(t.calls()).NotTo(HaveKey(getConfig))
		Expect(t.calls()).NotTo(HaveKey(putConfig))
		Expect(writesSeen.of(t.ns, "clientconfigurations")).To(Equal(3))
		Expect(obj.Annotations[voicev1alpha1.AnnotationCreateIntent]).To(And(ContainSubstring(obj.Status.ID), Not(ContainSubstring("attempts"))),
			"the marker records what the create made, and no attempt of unknown outcome")

		By("reading as Current to kstatus")
		Expect(kstatusOf(obj)).To(Equal(status.CurrentStatus))
		Eventually(func(g Gomega) []string { return eventReasons(ctx, g, obj) }).WithContext(ctx).Should(ContainElement("Created"))
	})

	It("corrects a spec change with exactly one full PUT", func(ctx SpecContext) {
		obj := t.readyConfiguration(ctx, "edit")
		id := obj.Status.ID
		before := t.calls()[putConfig]

		obj.Spec.Description = ""
		obj.Spec.CallNotification = voicev1alpha1.CallNotification{URL: "https://example.org/new", Method: voicev1alpha1.HTTPMethodGET}
		Expect(k8sClient.Update(ctx, obj)).To(Succeed())
		waitReady(ctx, obj)

		Eventually(func(g Gomega) {
			remote := t.remoteByName("edit")
			g.Expect(remote).To(HaveLen(1))
			g.Expect(remote[0].ID).To(Equal(id), "updated in place, not recreated")
			g.Expect(remote[0].Description).To(BeNil(), "an emptied description is sent as null")
			g.Expect(remote[0].CallNotificationURL).To(Equal("https://example.org/new"))
			g.Expect(remote[0].CallNotificationMethod).To(Equal("GET"))
		}).WithContext(ctx).Should(Succeed())
		Expect(t.calls()[putConfig] - before).To(Equal(1))
	})

	It("renames the remote configuration in place when uniqueName changes", func(ctx SpecContext) {
		obj := t.readyConfiguration(ctx, "old-name")
		id := obj.Status.ID

		obj.Spec.UniqueName = "new-name"
		Expect(k8sClient.Update(ctx, obj)).To(Succeed())
		waitReady(ctx, obj)
		Expect(t.remote()).To(HaveLen(1))
		Expect(t.remote()[0].ID).To(Equal(id))
		Expect(t.remote()[0].UniqueName).To(Equal("new-name"))
		Expect(obj.Annotations[voicev1alpha1.AnnotationCreateIntent]).To(And(ContainSubstring(id), Not(ContainSubstring("attempts"))),
			"the marker names the id the create made, which a rename keeps")
	})

	It("refuses a rename onto a name another configuration holds, saying which and what to do", func(ctx SpecContext) {
		theirs, err := sim.CreateOutOfBand(t.account, voicesim.Record{UniqueName: "theirs", CallNotificationURL: "https://theirs.example.com/"})
		Expect(err).NotTo(HaveOccurred())
		obj := t.readyConfiguration(ctx, "mine")
		obj.Spec.UniqueName = "theirs"
		Expect(k8sClient.Update(ctx, obj)).To(Succeed())

		stalledOn := waitReason(ctx, obj, voicev1alpha1.ReasonAlreadyExists)
		Expect(stalledOn.Message).To(SatisfyAll(ContainSubstring(`"theirs"`), ContainSubstring(theirs), ContainSubstring("choose another uniqueName")))
		Expect(findCondition(obj.Status.Conditions, voicev1alpha1.ConditionInSync).Reason).NotTo(Equal(voicev1alpha1.ReasonDrifted),
			"Drifted is for ObserveOnly, whose drift stays")
		Expect(t.remoteByName("theirs")[0].CallNotificationURL).To(Equal("https://theirs.example.com/"))
	})

	It("puts back a remote edit at the next resync", func(ctx SpecContext) {
		obj := t.readyConfiguration(ctx, "drift")

		Expect(sim.EditOutOfBand(t.account, obj.Status.ID, func(r *voicesim.Record) {
			r.CallNotificationURL = "https://attacker.example/steal"
			r.Description = nil
		})).To(Succeed())

		Eventually(func(g Gomega) {
			remote := t.remoteByName("drift")
			g.Expect(remote).To(HaveLen(1))
			g.Expect(remote[0].CallNotificationURL).To(Equal("https://example.com/notify/drift"))
			g.Expect(remote[0].Description).NotTo(BeNil())
		}).WithContext(ctx).WithTimeout(3 * resyncPeriod).Should(Succeed())
		Expect(t.calls()[putConfig]).To(Equal(1))
		Eventually(func(g Gomega) []string { return eventReasons(ctx, g, obj) }).WithContext(ctx).Should(ContainElement("DriftCorrected"))
	})

	It("creates the remote configuration again when it was deleted outside Kubernetes", func(ctx SpecContext) {
		obj := t.readyConfiguration(ctx, "gone")
		oldID := obj.Status.ID

		Expect(sim.DeleteOutOfBand(t.account, oldID)).To(Succeed())

		Eventually(func(g Gomega) {
			fetch(ctx, g, obj)
			g.Expect(obj.Status.ID).NotTo(BeEmpty())
			g.Expect(obj.Status.ID).NotTo(Equal(oldID))
		}).WithContext(ctx).WithTimeout(3 * resyncPeriod).Should(Succeed())
		Expect(t.remoteByName("gone")).To(HaveLen(1))
		Expect(t.remoteByName("gone")[0].ID).To(Equal(obj.Status.ID))
		Eventually(func(g Gomega) []string { return eventReasons(ctx, g, obj) }).WithContext(ctx).Should(ContainElement("Recreated"))
	})

	It("deletes the remote configuration, then releases the finalizer", func(ctx SpecContext) {
		obj := t.readyConfiguration(ctx, "bye")

		Expect(k8sClient.Delete(ctx, obj)).To(Succeed())
		Eventually(func(g Gomega) error {
			return k8sClient.Get(ctx, client.ObjectKeyFromObject(obj), obj)
		}).WithContext(ctx).Should(MatchError(ContainSubstring("not found")))
		Expect(t.remote()).To(BeEmpty())
		Expect(t.calls()[deleteConfig]).To(Equal(1))
	})

	DescribeTable("reports APIAccessDenied, and creates nothing, while the account may not use the Private Beta API",
		func(ctx SpecContext, status int) {
			sim.DenyAPI(t.account, status)
			obj := t.clientConfiguration("beta")
			create(ctx, obj)

			detail := waitReason(ctx, obj, voicev1alpha1.ReasonAPIAccessDenied)
			Expect(detail.Message).To(SatisfyAll(ContainSubstring("Private Beta"), ContainSubstring("ask Twilio to enable it")))
			Expect(t.calls()).NotTo(HaveKey(postConfig))

			By("converging once Twilio grants access")
			sim.DenyAPI(t.account, 0)
			waitReady(ctx, obj)
			Expect(t.remoteByName("beta")).To(HaveLen(1))
		},
		Entry("403 Forbidden", http.StatusForbidden),
		Entry("404 to every path, the List of the collection included", http.StatusNotFound),
	)

	It("keeps the finalizer while a lost access makes every path answer 404, and deletes once it is back", func(ctx SpecContext) {
		obj := t.readyConfiguration(ctx, "lost-access")
		id := obj.Status.ID

		sim.DenyAPI(t.account, http.StatusNotFound)
		Expect(k8sClient.Delete(ctx, obj)).To(Succeed())
		waitReason(ctx, obj, voicev1alpha1.ReasonAPIAccessDenied)
		Expect(t.remote()).To(ConsistOf(HaveField("ID", id)), "a 404 to the DELETE proves nothing while the List answers 404 too")

		sim.DenyAPI(t.account, 0)
		Eventually(func(g Gomega) error {
			return k8sClient.Get(ctx, client.ObjectKeyFromObject(obj), obj)
		}).WithContext(ctx).WithTimeout(3 * resyncPeriod).Should(MatchError(ContainSubstring("not found")))
		Expect(t.remote()).To(BeEmpty())
	})

	It("deletes the remote configuration once even when releasing the finalizer meets a conflict", func(ctx SpecContext) {
		obj := t.readyConfiguration(ctx, "conflicted")

		writesSeen.conflictOnNextWrite(t.ns, "clientconfigurations")
		Expect(k8sClient.Delete(ctx, obj)).To(Succeed())
		Eventually(func(g Gomega) error {
			return k8sClient.Get(ctx, client.ObjectKeyFromObject(obj), obj)
		}).WithContext(ctx).Should(MatchError(ContainSubstring("not found")))
		Expect(writesSeen.pendingConflicts(t.ns, "clientconfigurations")).To(BeZero(), "the release of the finalizer met the conflict")
		Expect(t.remote()).To(BeEmpty())
		Expect(t.calls()[deleteConfig]).To(Equal(1), "the retry remembers the DELETE that succeeded")
	})

	It("leaves the remote configuration in place with deletionPolicy Orphan", func(ctx SpecContext) {
		obj := t.clientConfiguration("keep", func(o *voicev1alpha1.ClientConfiguration) {
			o.Spec.DeletionPolicy = voicev1alpha1.DeletionPolicyOrphan
		})
		create(ctx, obj)
		waitReady(ctx, obj)

		deleteAndWait(ctx, obj)
		Expect(t.remoteByName("keep")).To(HaveLen(1))
		Expect(t.calls()[deleteConfig]).To(BeZero())
	})

	It("waits for a missing Secret without calling the API, then converges once it exists", func(ctx SpecContext) {
		t := newTenant(ctx, false)
		obj := t.clientConfiguration("later")
		create(ctx, obj)

		ready := waitReason(ctx, obj, voicev1alpha1.ReasonCredentialsNotFound)
		Expect(ready.Message).To(ContainSubstring(`Secret "twilio-credentials" was not found`))
		Expect(kstatusOf(obj)).To(Equal(status.InProgressStatus))
		Eventually(func(g Gomega) []string { return eventReasons(ctx, g, obj) }).WithContext(ctx).Should(ContainElement(voicev1alpha1.ReasonCredentialsNotFound))
		Consistently(t.calls).WithContext(ctx).Should(BeEmpty())

		t.createSecret(ctx, t.account, t.token)
		waitReady(ctx, obj)
		Expect(t.remoteByName("later")).To(HaveLen(1))
	})

	It("reports rejected credentials and retries with backoff, not in a hot loop", func(ctx SpecContext) {
		t := newTenant(ctx, false)
		t.createSecret(ctx, t.account, "wrong-token")
		obj := t.clientConfiguration("denied")
		create(ctx, obj)

		ready := waitReason(ctx, obj, voicev1alpha1.ReasonCredentialsRejected)
		Expect(ready.Message).NotTo(ContainSubstring("wrong-token"))
		Expect(kstatusOf(obj)).To(Equal(status.InProgressStatus))
		// Failed Lists back off from a second: in three seconds that is a
		// few attempts, where a hot loop would make thousands.
		total := func() int {
			n := 0
			for _, c := range t.calls() {
				n += c
			}
			return n
		}
		Consistently(total).WithContext(ctx).WithTimeout(3 * time.Second).Should(BeNumerically("<", 15))
		Expect(t.remote()).To(BeEmpty())
	})

	It("refuses a unique name it did not create (AlreadyExists), and adopts it only when asked", func(ctx SpecContext) {
		theirs, err := sim.CreateOutOfBand(t.account, voicesim.Record{
			UniqueName: "taken", CallNotificationURL: "https://theirs.example.com/", CallNotificationMethod: "POST",
		})
		Expect(err).NotTo(HaveOccurred())
		obj := t.clientConfiguration("taken")
		create(ctx, obj)

		ready := waitReason(ctx, obj, voicev1alpha1.ReasonAlreadyExists)
		Expect(ready.Message).To(ContainSubstring(theirs))
		Expect(ready.Message).To(ContainSubstring(voicev1alpha1.AnnotationAdopt))
		Expect(kstatusOf(obj)).To(Equal(status.FailedStatus))
		Expect(obj.Status.ID).To(BeEmpty())
		Expect(obj.Annotations).NotTo(HaveKey(voicev1alpha1.AnnotationCreateIntent), "the marker must not vouch for their configuration")

		By("leaving their configuration untouched: the name check found it, so not even a POST was tried")
		Consistently(func(g Gomega) {
			g.Expect(t.remote()).To(HaveLen(1))
			g.Expect(t.remote()[0].CallNotificationURL).To(Equal("https://theirs.example.com/"))
			g.Expect(writes(t.calls())).To(BeZero())
		}).WithContext(ctx).Should(Succeed())

		By("adopting it once the adopt annotation is set")
		patchAnnotation(ctx, obj, voicev1alpha1.AnnotationAdopt, "true")
		waitReady(ctx, obj)
		Expect(obj.Status.ID).To(Equal(theirs))
		Expect(t.remote()).To(HaveLen(1))
		Expect(t.remote()[0].CallNotificationURL).To(Equal("https://example.com/notify/taken"))
	})

	It("recognises its own configuration after a create whose response was lost: exactly one remote object", func(ctx SpecContext) {
		sim.SetFaults(voicesim.Faults{LostCreate: 1})
		DeferCleanup(func() { sim.SetFaults(voicesim.Faults{}) })
		obj := t.clientConfiguration("lost")
		create(ctx, obj)

		Eventually(func(g Gomega) {
			g.Expect(t.calls()[postConfig]).To(BeNumerically(">=", 1))
		}).WithContext(ctx).Should(Succeed())
		sim.SetFaults(voicesim.Faults{})

		waitReady(ctx, obj)
		Expect(t.remoteByName("lost")).To(HaveLen(1))
		Expect(obj.Status.ID).To(Equal(t.remoteByName("lost")[0].ID))
		Eventually(func(g Gomega) []string { return eventReasons(ctx, g, obj) }).WithContext(ctx).Should(ContainElement("Recovered"))
	})

	It("takes over the configuration a crash left behind when its create-intent marker proves it", func(ctx SpecContext) {
		// The state a crash between the POST and the status write leaves: the
		// marker (name found free, digest of what was sent) on the object,
		// the configuration in Twilio, no status.id.
		obj := t.clientConfiguration("crashed")
		obj.Annotations = map[string]string{voicev1alpha1.AnnotationPaused: "true"}
		create(ctx, obj)
		patchAnnotation(ctx, obj, voicev1alpha1.AnnotationCreateIntent, controllers.CreateIntentFor(obj.UID, t.account, inputOf(obj), time.Now()))
		id, err := sim.CreateOutOfBand(t.account, recordOf(obj))
		Expect(err).NotTo(HaveOccurred())
		patchAnnotation(ctx, obj, voicev1alpha1.AnnotationPaused, "")

		waitReady(ctx, obj)
		Expect(obj.Status.ID).To(Equal(id))
		Expect(t.remote()).To(HaveLen(1))
		Expect(writes(t.calls())).To(BeZero(), "proven ours and equal to the spec: nothing to write")
		Eventually(func(g Gomega) []string { return eventReasons(ctx, g, obj) }).WithContext(ctx).Should(ContainElement("Recovered"))
	})

	It("trusts a marker of the first format for nothing: the configuration under its name is AlreadyExists", func(ctx SpecContext) {
		// What the operator before ownership proofs wrote: account, name and
		// a time. It names the name but proves neither that the name was
		// free nor what was sent.
		obj := t.clientConfiguration("legacy")
		id, err := sim.CreateOutOfBand(t.account, recordOf(obj))
		Expect(err).NotTo(HaveOccurred())
		obj.Annotations = map[string]string{voicev1alpha1.AnnotationCreateIntent: fmt.Sprintf(
			`{"account":%q,"uniqueName":"legacy","at":%q}`, t.account, time.Now().UTC().Format(time.RFC3339))}
		create(ctx, obj)

		ready := waitReason(ctx, obj, voicev1alpha1.ReasonAlreadyExists)
		Expect(ready.Message).To(ContainSubstring(id))
		Consistently(func() int { return writes(t.calls()) }).WithContext(ctx).Should(BeZero())
	})

	It("never writes to or deletes a configuration it only observes, and reports its drift", func(ctx SpecContext) {
		id, err := sim.CreateOutOfBand(t.account, voicesim.Record{
			UniqueName: "watched", CallNotificationURL: "https://elsewhere.example.com/", CallNotificationMethod: "GET",
		})
		Expect(err).NotTo(HaveOccurred())
		obj := t.clientConfiguration("watched", func(o *voicev1alpha1.ClientConfiguration) {
			o.Spec.ManagementPolicy = voicev1alpha1.ManagementPolicyObserveOnly
		})
		create(ctx, obj)

		waitReady(ctx, obj)
		Expect(obj.Status.ID).To(Equal(id))
		Expect(obj.Status.Remote.CallNotificationURL).To(Equal("https://elsewhere.example.com/"))
		Eventually(func(g Gomega) {
			fetch(ctx, g, obj)
			inSync := findCondition(obj.Status.Conditions, voicev1alpha1.ConditionInSync)
			g.Expect(inSync).NotTo(BeNil())
			g.Expect(inSync.Status).To(Equal(metav1.ConditionFalse))
			g.Expect(inSync.Message).To(ContainSubstring("callNotification.url"))
			g.Expect(readyCondition(obj).Message).To(SatisfyAll(HavePrefix("ObserveOnly; differs from the spec in "), ContainSubstring("callNotification.url")),
				"the Message column of get -o wide names the drift")
		}).WithContext(ctx).Should(Succeed())

		deleteAndWait(ctx, obj)
		Expect(t.remote()).To(HaveLen(1))
		Expect(writes(t.calls())).To(BeZero())
	})

	It("refuses to act in another account when the Secret is switched (AccountChanged)", func(ctx SpecContext) {
		obj := t.readyConfiguration(ctx, "moved")

		other := t.moveSecretToNewAccount(ctx)

		ready := waitReason(ctx, obj, voicev1alpha1.ReasonAccountChanged)
		Expect(ready.Message).To(ContainSubstring(t.account))
		Expect(ready.Message).To(ContainSubstring(other))
		Expect(kstatusOf(obj)).To(Equal(status.FailedStatus))
		Expect(sim.Configurations(other)).To(BeEmpty())
		Expect(simCalls.of(other)).To(BeEmpty())

		By("deleting it with deletionPolicy Orphan, as the message says")
		obj.Spec.DeletionPolicy = voicev1alpha1.DeletionPolicyOrphan
		Expect(k8sClient.Update(ctx, obj)).To(Succeed())
	})

	It("makes no remote call while paused, and says so: what waits, in status, Events and kstatus", func(ctx SpecContext) {
		obj := t.clientConfiguration("paused")
		obj.Annotations = map[string]string{voicev1alpha1.AnnotationPaused: "true"}
		create(ctx, obj)

		ready := waitReason(ctx, obj, voicev1alpha1.ReasonPaused)
		Expect(ready.Status).To(Equal(metav1.ConditionFalse))
		Expect(ready.Message).To(Equal("Paused: generation 1 is not applied yet (last applied: 0)"))
		Expect(findCondition(obj.Status.Conditions, voicev1alpha1.ConditionPaused).Message).To(ContainSubstring(voicev1alpha1.AnnotationPaused))
		Expect(kstatusOf(obj)).To(Equal(status.InProgressStatus))
		Consistently(t.calls).WithContext(ctx).Should(BeEmpty())
		Eventually(func(g Gomega) []string { return eventReasons(ctx, g, obj) }).WithContext(ctx).Should(ContainElement("Paused"))

		By("resuming, with an Event, once the annotation is gone")
		patchAnnotation(ctx, obj, voicev1alpha1.AnnotationPaused, "")
		waitReady(ctx, obj)
		Expect(findCondition(obj.Status.Conditions, voicev1alpha1.ConditionPaused)).To(BeNil())
		Eventually(func(g Gomega) []string { return eventReasons(ctx, g, obj) }).WithContext(ctx).Should(ContainElement("Resumed"))

		By("showing an edit made under pause as pending, to a person and to kstatus")
		patchAnnotation(ctx, obj, voicev1alpha1.AnnotationPaused, "true")
		ready = waitReason(ctx, obj, voicev1alpha1.ReasonPaused)
		Expect(ready.Status).To(Equal(metav1.ConditionTrue), "nothing pending yet")
		Expect(kstatusOf(obj)).To(Equal(status.CurrentStatus))
		puts := t.calls()[putConfig]
		fetch(ctx, Default, obj)
		obj.Spec.Description = "edited while paused"
		Expect(k8sClient.Update(ctx, obj)).To(Succeed())
		Eventually(func(g Gomega) {
			fetch(ctx, g, obj)
			g.Expect(readyCondition(obj).Message).To(Equal(fmt.Sprintf("Paused: generation %d is not applied yet (last applied: %d)", obj.Generation, obj.Generation-1)))
		}).WithContext(ctx).Should(Succeed())
		Expect(readyCondition(obj).Status).To(Equal(metav1.ConditionFalse))
		Expect(kstatusOf(obj)).To(Equal(status.InProgressStatus))
		Expect(t.calls()[putConfig]).To(Equal(puts))

		By("saying why a deletion waits")
		Expect(k8sClient.Delete(ctx, obj)).To(Succeed())
		Eventually(func(g Gomega) string {
			fetch(ctx, g, obj)
			return readyCondition(obj).Message
		}).WithContext(ctx).Should(Equal("Paused: the deletion waits until the paused annotation is removed"))
		Expect(t.calls()).NotTo(HaveKey(deleteConfig))
	})

	It("resyncs at once when reconcile-requested-at changes, and echoes the value", func(ctx SpecContext) {
		obj := t.readyConfiguration(ctx, "poke")
		Expect(sim.EditOutOfBand(t.account, obj.Status.ID, func(r *voicesim.Record) { r.CallNotificationMethod = "GET" })).To(Succeed())

		patchAnnotation(ctx, obj, voicev1alpha1.AnnotationReconcileRequestedAt, "now-1")
		Eventually(func(g Gomega) {
			fetch(ctx, g, obj)
			g.Expect(obj.Status.LastHandledReconcileAt).To(Equal("now-1"))
			g.Expect(t.remote()[0].CallNotificationMethod).To(Equal("POST"))
		}).WithContext(ctx).Should(Succeed())
	})

	It("sends webhook basic auth from a Secret, keeps the password out of status and Events, and corrects it", func(ctx SpecContext) {
		const password, rotated = "s3cret-Pa55", "n3w-Pa55"
		secret := &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Namespace: t.ns, Name: "webhook-auth"},
			StringData: map[string]string{voicev1alpha1.SecretKeyUsername: "alice", voicev1alpha1.SecretKeyPassword: password},
		}
		Expect(k8sClient.Create(ctx, secret)).To(Succeed())
		obj := t.clientConfiguration("auth", func(o *voicev1alpha1.ClientConfiguration) {
			o.Spec.CallNotification.BasicAuthSecretRef = &voicev1alpha1.SecretReference{Name: "webhook-auth"}
		})
		create(ctx, obj)
		waitReady(ctx, obj)
		Expect(t.remote()[0].CallNotificationURL).To(Equal("https://alice:" + password + "@example.com/notify/auth"))
		Expect(obj.Status.Remote.CallNotificationURL).To(Equal("https://example.com/notify/auth"), "status shows neither the user nor the password")

		By("putting back a password changed in Twilio")
		Expect(sim.EditOutOfBand(t.account, obj.Status.ID, func(r *voicesim.Record) {
			r.CallNotificationURL = "https://alice:guessed@example.com/notify/auth"
		})).To(Succeed())
		Eventually(func() string { return t.remote()[0].CallNotificationURL }).WithContext(ctx).WithTimeout(3 * resyncPeriod).
			Should(Equal("https://alice:" + password + "@example.com/notify/auth"))

		By("following a password rotated in the Secret")
		secret.StringData = map[string]string{voicev1alpha1.SecretKeyPassword: rotated}
		Expect(k8sClient.Update(ctx, secret)).To(Succeed())
		Eventually(func() string { return t.remote()[0].CallNotificationURL }).WithContext(ctx).
			Should(Equal("https://alice:" + rotated + "@example.com/notify/auth"))
		Eventually(func(g Gomega) []string { return eventNotes(ctx, g, obj) }).WithContext(ctx).
			Should(ContainElement(ContainSubstring("(Secret changed: callNotification.url)")), "the change came from the Secret, not from Twilio")

		By("never writing either password to the object or its Events")
		fetch(ctx, Default, obj)
		raw, err := json.Marshal(obj)
		Expect(err).NotTo(HaveOccurred())
		Expect(string(raw)).NotTo(Or(ContainSubstring(password), ContainSubstring(rotated)))
		events := &eventsv1.EventList{}
		Expect(k8sClient.List(ctx, events, client.InNamespace(t.ns))).To(Succeed())
		raw, err = json.Marshal(events)
		Expect(err).NotTo(HaveOccurred())
		Expect(string(raw)).NotTo(Or(ContainSubstring(password), ContainSubstring(rotated)))
	})

	It("writes nothing, remotely or to the apiserver, over several quiet resyncs", func(ctx SpecContext) {
		for i := range 3 {
			create(ctx, t.clientConfiguration(fmt.Sprintf("quiet-%d", i)))
		}
		for i := range 3 {
			waitReady(ctx, t.clientConfiguration(fmt.Sprintf("quiet-%d", i)))
		}
		remoteWrites, objectWrites := writes(t.calls()), writesSeen.of(t.ns, "clientconfigurations")
		gets, lists := t.calls()[getConfig], t.calls()[listConfigs]

		Consistently(func(g Gomega) {
			g.Expect(writes(t.calls())).To(Equal(remoteWrites))
			g.Expect(writesSeen.of(t.ns, "clientconfigurations")).To(Equal(objectWrites))
		}).WithContext(ctx).WithTimeout(3 * resyncPeriod).Should(Succeed())

		By("reading " + map[string]string{"get": "each object once a resync", "list": "the account with one List a resync, and no object by id"}[observeMode])
		if observeMode == "get" {
			Expect(t.calls()[getConfig]-gets).To(BeNumerically(">=", 3*2), "three objects, at least two resyncs")
		} else {
			Expect(t.calls()[listConfigs]-lists).To(BeNumerically(">=", 2), "at least two resyncs")
			Expect(t.calls()[getConfig] - gets).To(BeZero())
		}
	})
})

// findCondition returns the condition of this type, or nil.
func findCondition(conds []metav1.Condition, t string) *metav1.Condition {
	for i := range conds {
		if conds[i].Type == t {
			return &conds[i]
		}
	}
	return nil
}
