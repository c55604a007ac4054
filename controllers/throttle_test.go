package controllers_test

import (
	"fmt"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	voicev1alpha1 "github.com/twilio-operator/voice-operator/api/v1alpha1"
)

var _ = Describe("An account that answers 429", func() {
	It("gets one call per Retry-After while other accounts converge, and no create marker is written while it waits", func(ctx SpecContext) {
		const retryAfter = 3 * time.Second
		throttled, healthy := newTenant(ctx, true), newTenant(ctx, true)
		sim.ThrottleAccount(throttled.account, retryAfter)
		DeferCleanup(func() { sim.ThrottleAccount(throttled.account, 0) })
		start := time.Now()

		waiting := make([]*voicev1alpha1.ClientConfiguration, 5)
		for i := range waiting {
			waiting[i] = throttled.clientConfiguration(fmt.Sprintf("waits-%d", i))
			create(ctx, waiting[i])
		}
		others := make([]*voicev1alpha1.ClientConfiguration, 5)
		for i := range others {
			others[i] = healthy.clientConfiguration(fmt.Sprintf("goes-%d", i))
			create(ctx, others[i])
		}

		By("making the other account's objects Ready meanwhile")
		Eventually(func(g Gomega) {
			for _, obj := range others {
				fetch(ctx, g, obj)
				g.Expect(readyCondition(obj)).To(HaveField("Status", metav1.ConditionTrue), obj.Name)
			}
		}).WithContext(ctx).WithTimeout(30 * time.Second).Should(Succeed())

		By("sending the throttled account one call per Retry-After, and writing no create marker")
		time.Sleep(time.Until(start.Add(2*retryAfter + retryAfter/2)))
		answers := sim.ThrottledAnswers(throttled.account)
		elapsed := time.Since(start)
		allowed := 1 + int(elapsed/retryAfter)
		Expect(answers).NotTo(BeEmpty(), "the account was never tried")
		Expect(len(answers)).To(BeNumerically("<=", allowed), "%d calls in %v with a Retry-After of %v: %v", len(answers), elapsed, retryAfter, answers)
		for i := 1; i < len(answers); i++ {
			Expect(answers[i].Sub(answers[i-1])).To(BeNumerically(">=", retryAfter), "calls %d and %d came %v apart", i-1, i, answers[i].Sub(answers[i-1]))
		}
		Expect(throttled.remote()).To(BeEmpty())
		for _, obj := range waiting {
			Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(obj), obj)).To(Succeed())
			Expect(obj.Annotations).NotTo(HaveKey(voicev1alpha1.AnnotationCreateIntent), obj.Name)
		}

		By("converging once the 429s stop, one configuration per object")
		sim.ThrottleAccount(throttled.account, 0)
		Eventually(func(g Gomega) {
			for _, obj := range waiting {
				fetch(ctx, g, obj)
				g.Expect(readyCondition(obj)).To(HaveField("Status", metav1.ConditionTrue), obj.Name)
			}
		}).WithContext(ctx).WithTimeout(2*retryAfter + 20*time.Second).Should(Succeed())
		Expect(throttled.remote()).To(HaveLen(len(waiting)))
	})

	It("says Throttled at once when the account must wait long, instead of keeping the status it had", func(ctx SpecContext) {
		// Longer than the 10 s a wait for the account's turn goes untold,
		// short enough for the cleanup to outwait.
		const retryAfter = 20 * time.Second
		t := newTenant(ctx, true)
		first, second := t.readyConfiguration(ctx, "patient-1"), t.readyConfiguration(ctx, "patient-2")
		sim.ThrottleAccount(t.account, retryAfter)
		DeferCleanup(func() { sim.ThrottleAccount(t.account, 0) })

		// The first meets the 429; the second, changed after that, is kept
		// back by the account's gate without a request: both must say so.
		first.Spec.Description = "changed while Twilio says wait"
		Expect(k8sClient.Update(ctx, first)).To(Succeed())
		waitReason(ctx, first, voicev1alpha1.ReasonThrottled)
		puts := t.calls()[putConfig]

		second.Spec.Description = "changed while Twilio says wait"
		Expect(k8sClient.Update(ctx, second)).To(Succeed())
		detail := waitReason(ctx, second, voicev1alpha1.ReasonThrottled)
		Expect(readyCondition(second).Status).To(Equal(metav1.ConditionFalse))
		Expect(detail.Message).To(ContainSubstring("429"), "Reconciling says why it waits")
		Expect(t.calls()[putConfig]).To(Equal(puts), "the second object's change waits without a request")
		for _, obj := range []*voicev1alpha1.ClientConfiguration{first, second} {
			Expect(t.remoteByName(obj.Spec.UniqueName)[0].Description).NotTo(HaveValue(Equal(obj.Spec.Description)), "nothing got through yet")
		}
	})
})
