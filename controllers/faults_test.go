package controllers_test

import (
	"fmt"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	voicev1alpha1 "github.com/twilio-operator/voice-operator/api/v1alpha1"
	"github.com/twilio-operator/voice-operator/internal/voicesim"
)

var _ = Describe("ClientConfiguration under remote faults", func() {
	It("creates 50 objects through 30% 503s and 10% 429s with no duplicate, and deletes every one", func(ctx SpecContext) {
		const n = 50
		t := newTenant(ctx, true)
		// Every 429 holds the whole account back for its Retry-After: with
		// one in ten requests answered 429 after 1 s, the account could serve
		// fewer than 10 requests a second, less than --observe=get needs
		// for 50 objects every 2 s. A short Retry-After keeps the storm
		// survivable while every 429 is still honoured.
		sim.SetFaults(voicesim.Faults{Unavailable: 0.3, Throttled: 0.1, RetryAfter: 200 * time.Millisecond, Seed: 42})
		DeferCleanup(func() { sim.SetFaults(voicesim.Faults{}) })

		objs := make([]*voicev1alpha1.ClientConfiguration, n)
		for i := range objs {
			objs[i] = t.clientConfiguration(fmt.Sprintf("storm-%02d", i))
			create(ctx, objs[i])
		}

		By("creating each object's remote configuration, once, while the storm lasts")
		Eventually(func(g Gomega) {
			for _, obj := range objs {
				fetch(ctx, g, obj)
				g.Expect(obj.Status.ID).NotTo(BeEmpty(), obj.Name)
			}
		}).WithContext(ctx).WithTimeout(3 * time.Minute).Should(Succeed())

		// With --observe=get every object reads its configuration every 2 s,
		// and one read in ten answered 429 holds the whole account back: an
		// object may be not Ready for a moment at any time while the storm
		// lasts. Once it ends, all are Ready together.
		sim.SetFaults(voicesim.Faults{})
		By("making every object Ready once the storm ends, each with exactly one remote configuration")
		Eventually(func(g Gomega) {
			for _, obj := range objs {
				fetch(ctx, g, obj)
				ready := readyCondition(obj)
				g.Expect(ready).NotTo(BeNil(), obj.Name)
				g.Expect(ready.Status).To(Equal(metav1.ConditionTrue), "%s: %s", obj.Name, ready.Message)
			}
		}).WithContext(ctx).WithTimeout(3 * time.Minute).Should(Succeed())
		Expect(t.remote()).To(HaveLen(n))
		for _, obj := range objs {
			remote := t.remoteByName(obj.Spec.UniqueName)
			Expect(remote).To(HaveLen(1), obj.Name)
			Expect(obj.Status.ID).To(Equal(remote[0].ID))
		}
		created := t.calls()
		GinkgoWriter.Printf("create phase, %d objects: remote calls %v; faults injected so far %v\n", n, created, sim.FaultCounts())

		sim.SetFaults(voicesim.Faults{Unavailable: 0.3, Throttled: 0.1, RetryAfter: 200 * time.Millisecond, Seed: 43})
		By("deleting them all through the storm, leaving no remote configuration behind")
		for _, obj := range objs {
			Expect(k8sClient.Delete(ctx, obj)).To(Succeed())
		}
		Eventually(func(g Gomega) {
			for _, obj := range objs {
				g.Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(obj), obj)).NotTo(Succeed(), obj.Name)
			}
		}).WithContext(ctx).WithTimeout(3 * time.Minute).Should(Succeed())
		Expect(t.remote()).To(BeEmpty())
		GinkgoWriter.Printf("after delete: remote calls %v; faults injected %v\n", t.calls(), sim.FaultCounts())
	})
})

var _ = Describe("ClientConfiguration facing malformed answers", func() {
	DescribeTable("reports a readable condition, never panics, and recovers with exactly one remote configuration",
		func(ctx SpecContext, kind voicesim.MalformedKind) {
			t := newTenant(ctx, true)
			// Every answer with a body is garbled after the request was
			// processed: the create is committed, its answer unreadable.
			sim.SetFaults(voicesim.Faults{Malformed: 1, MalformedKinds: []voicesim.MalformedKind{kind}})
			DeferCleanup(func() { sim.SetFaults(voicesim.Faults{}) })
			obj := t.clientConfiguration("garbled")
			create(ctx, obj)

			ready := waitReason(ctx, obj, voicev1alpha1.ReasonRemoteUnavailable)
			Expect(ready.Message).To(ContainSubstring("unreadable response"))
			Expect(len(ready.Message)).To(BeNumerically("<=", 1025), "a huge answer must not end up in the condition")
			Expect(ready.Message).NotTo(ContainSubstring(t.token))

			sim.SetFaults(voicesim.Faults{})
			waitReady(ctx, obj)
			Expect(t.remoteByName("garbled")).To(HaveLen(1), "the committed create is found, not made twice")
			Expect(obj.Status.ID).To(Equal(t.remoteByName("garbled")[0].ID))
		},
		Entry("truncated JSON", voicesim.MalformedTruncated),
		Entry("JSON with wrong types", voicesim.MalformedWrongTypes),
		Entry("an HTML error page, as a proxy would answer", voicesim.MalformedHTML),
		Entry("a 2xx with an empty body", voicesim.MalformedEmpty),
		Entry("a body larger than the client reads", voicesim.MalformedHuge),
	)
})
