package e2e_test

import (
	"context"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/twilio-operator/voice-operator/internal/voicesim"
)

// Names in config/samples.
const (
	webSoftphone   = "web-softphone"
	mobileApp      = "mobile-app"
	accountDefault = "account-default"
)

// How kubectl names the rows of `kubectl get twilio`, which lists two kinds.
const (
	ccRow = "clientconfiguration.voice.twilio-operator.io/"
	adRow = "accountdefault.voice.twilio-operator.io/"
)

// The printer columns of `kubectl get twilio -o wide`, in order.
var (
	clientConfigurationColumns = []string{"NAME", "UNIQUE NAME", "ID", "READY", "REASON", "MESSAGE", "ACCOUNT", "AGE"}
	accountDefaultColumns      = []string{"NAME", "CONFIGURATION", "ID", "READY", "REASON", "MESSAGE", "ACCOUNT", "AGE"}
)

// getTwilio runs `kubectl get twilio -o wide` in the tenant's namespace and
// returns its two tables, ClientConfigurations first.
func (t tenant) getTwilio(ctx context.Context, g Gomega) (clientConfigurations, accountDefaults table) {
	out, err := cp.Kubectl.Run(ctx, "get", "twilio", "-o", "wide", "-n", t.ns)
	g.Expect(err).NotTo(HaveOccurred())
	for _, tbl := range parseTables(out) {
		switch {
		case len(tbl.rows) > 0 && strings.HasPrefix(tbl.rows[0]["NAME"], ccRow):
			clientConfigurations = tbl
		case len(tbl.rows) > 0 && strings.HasPrefix(tbl.rows[0]["NAME"], adRow):
			accountDefaults = tbl
		}
	}
	g.Expect(clientConfigurations.rows).NotTo(BeEmpty(), "no ClientConfiguration table in:\n%s", out)
	g.Expect(accountDefaults.rows).NotTo(BeEmpty(), "no AccountDefault table in:\n%s", out)
	return clientConfigurations, accountDefaults
}

var _ = Describe("The user's path through kubectl", func() {
	var t tenant
	BeforeEach(func(ctx SpecContext) { t = newTenant(ctx) })

	When("config/samples is applied with kubectl apply -k", func() {
		BeforeEach(func(ctx SpecContext) {
			kubectl(ctx, "apply", "-k", t.overlay)
			t.waitReady(ctx)
		})

		It("lists both kinds Ready in kubectl get twilio -o wide, with the ids the remote side holds", func(ctx SpecContext) {
			var web, mobile voicesim.Record
			Eventually(func(g Gomega) {
				state := t.remote(ctx, g)
				g.Expect(state.Configurations).To(HaveLen(2))
				web, mobile = t.remoteByName(ctx, g, webSoftphone)[0], t.remoteByName(ctx, g, mobileApp)[0]
				g.Expect(state.Default).To(Equal(web.ID), "the AccountDefault made web-softphone the default")
			}).WithContext(ctx).Should(Succeed())

			ccs, ads := t.getTwilio(ctx, Default)
			Expect(ccs.headers).To(Equal(clientConfigurationColumns))
			Expect(ads.headers).To(Equal(accountDefaultColumns))
			for _, remote := range []voicesim.Record{web, mobile} {
				Expect(ccs.row(Default, ccRow+remote.UniqueName)).To(SatisfyAll(
					HaveKeyWithValue("UNIQUE NAME", remote.UniqueName),
					HaveKeyWithValue("ID", remote.ID),
					HaveKeyWithValue("READY", "True"),
					HaveKeyWithValue("REASON", "Synced"),
					HaveKeyWithValue("MESSAGE", "Matches the spec"),
					HaveKeyWithValue("ACCOUNT", t.account),
				))
			}
			Expect(ads.row(Default, adRow+accountDefault)).To(SatisfyAll(
				HaveKeyWithValue("CONFIGURATION", webSoftphone),
				HaveKeyWithValue("ID", web.ID),
				HaveKeyWithValue("READY", "True"),
				HaveKeyWithValue("REASON", "Synced"),
				HaveKeyWithValue("ACCOUNT", t.account),
			))

			By("fitting a wide terminal: no line of kubectl get twilio -o wide is longer than 240 characters")
			out := kubectl(ctx, "get", "twilio", "-o", "wide", "-n", t.ns)
			Expect(widest(out)).To(BeNumerically("<=", 240), "kubectl get twilio -o wide:\n%s", out)

			By("logging each create once, at info, with the object and the remote id")
			Eventually(func() []string { return logLines(t.ns, "Created remote configuration") }).WithContext(ctx).Should(HaveLen(2))
			Expect(logLines(t.ns, "Created remote configuration")).To(ContainElements(
				ContainSubstring(web.ID), ContainSubstring(mobile.ID)))
			Expect(logLines(t.ns, "Made "+web.ID+" the default")).To(HaveLen(1))

			By("holding the remote configurations exactly as the samples say")
			Expect(web.CallNotificationURL).To(Equal("https://example.com/voice/notify"))
			Expect(web.CallNotificationMethod).To(Equal("POST"))
			Expect(web.Description).To(HaveValue(Equal("Incoming-call notifications for the browser softphone")))
			Expect(mobile.CallNotificationURL).To(Equal("https://example.com/voice/mobile?source=operator"))
			Expect(mobile.CallNotificationMethod).To(Equal("GET"))
			Expect(mobile.Description).To(BeNil())
		})

		It("carries a kubectl patch of the spec to the remote configuration, keeping its id", func(ctx SpecContext) {
			var id string
			Eventually(func(g Gomega) {
				web := t.remoteByName(ctx, g, webSoftphone)
				g.Expect(web).To(HaveLen(1))
				id = web[0].ID
			}).WithContext(ctx).Should(Succeed())

			kubectl(ctx, "patch", "-n", t.ns, "clientconfiguration", webSoftphone, "--type=merge", "-p",
				`{"spec":{"uniqueName":"web-softphone-v2","description":"Moved to v2","callNotification":{"url":"https://example.com/voice/v2","method":"GET"}}}`)

			Eventually(func(g Gomega) {
				remote := t.remoteByID(ctx, g, id)
				g.Expect(remote).NotTo(BeNil(), "the remote configuration %s is gone", id)
				g.Expect(remote.UniqueName).To(Equal("web-softphone-v2"))
				g.Expect(remote.Description).To(HaveValue(Equal("Moved to v2")))
				g.Expect(remote.CallNotificationURL).To(Equal("https://example.com/voice/v2"))
				g.Expect(remote.CallNotificationMethod).To(Equal("GET"))
			}).WithContext(ctx).Should(Succeed())

			By("reporting the new generation Ready, with the new unique name and the same id")
			Eventually(func(g Gomega) {
				generations, err := cp.Kubectl.Run(ctx, "get", "-n", t.ns, "clientconfiguration", webSoftphone,
					"-o", "jsonpath={.metadata.generation} {.status.observedGeneration}")
				g.Expect(err).NotTo(HaveOccurred())
				g.Expect(generations).To(Equal("2 2"))
				ccs, ads := t.getTwilio(ctx, g)
				g.Expect(ccs.row(g, ccRow+webSoftphone)).To(SatisfyAll(
					HaveKeyWithValue("UNIQUE NAME", "web-softphone-v2"),
					HaveKeyWithValue("ID", id),
					HaveKeyWithValue("READY", "True"),
				))
				g.Expect(ads.row(g, adRow+accountDefault)).To(HaveKeyWithValue("ID", id))
			}).WithContext(ctx).Should(Succeed())
			Eventually(func(g Gomega) {
				state := t.remote(ctx, g)
				g.Expect(state.Configurations).To(HaveLen(2), "the edit created nothing new")
				g.Expect(state.Default).To(Equal(id), "the default stays on the renamed configuration")
			}).WithContext(ctx).Should(Succeed())
		})

		It("deletes the remote configurations on kubectl delete, except the Orphan one, and releases the finalizers", func(ctx SpecContext) {
			var web, mobile string
			Eventually(func(g Gomega) {
				web, mobile = t.remoteByName(ctx, g, webSoftphone)[0].ID, t.remoteByName(ctx, g, mobileApp)[0].ID
			}).WithContext(ctx).Should(Succeed())

			// kubectl delete waits until the objects are gone, that is until
			// the operator released its finalizers.
			kubectl(ctx, "delete", "-n", t.ns, "accountdefault,clientconfiguration", "--all", "--timeout=60s")
			Expect(kubectl(ctx, "get", "twilio", "-n", t.ns, "-o", "name")).To(BeEmpty())

			state := t.remote(ctx, Default)
			Expect(state.Configurations).To(ConsistOf(
				HaveField("ID", mobile), // deletionPolicy: Orphan
			), "web-softphone (%s) is deleted remotely, mobile-app (%s) stays", web, mobile)
			Expect(state.Default).To(BeEmpty(), "deleting the AccountDefault unset the default")
		})

		It("takes mobile-app back when the samples are applied again after an Orphan delete, and deletes with kubectl delete -k", func(ctx SpecContext) {
			var mobile string
			Eventually(func(g Gomega) { mobile = t.remoteByName(ctx, g, mobileApp)[0].ID }).WithContext(ctx).Should(Succeed())

			By("deleting mobile-app, whose deletionPolicy is Orphan, as the README shows")
			kubectl(ctx, "delete", "-n", t.ns, "clientconfiguration", mobileApp, "--timeout=60s")
			By("applying the samples again: the adopt annotation takes the kept configuration back")
			kubectl(ctx, "apply", "-k", t.overlay)
			t.waitReady(ctx)
			Expect(kubectl(ctx, "get", "-n", t.ns, "clientconfiguration", mobileApp, "-o", "jsonpath={.status.id}")).To(Equal(mobile))
			Expect(t.remoteByName(ctx, Default, mobileApp)).To(HaveLen(1))

			By("deleting everything the samples made; the credentials Secret is not theirs, so the finalizers finish")
			kubectl(ctx, "delete", "-k", t.overlay, "--timeout=60s")
			Expect(kubectl(ctx, "get", "twilio", "-n", t.ns, "-o", "name")).To(BeEmpty())
			Expect(strings.TrimSpace(kubectl(ctx, "get", "secret", "-n", t.ns, "twilio-credentials", "-o", "name"))).To(Equal("secret/twilio-credentials"))
			Expect(t.remote(ctx, Default).Configurations).To(ConsistOf(HaveField("ID", mobile)))
		})
	})

	It("lets a namespace be deleted with its Secret and both kinds in it: the namespace goes, and the remote side is cleaned up", func(ctx SpecContext) {
		kubectl(ctx, "apply", "-k", t.overlay)
		t.waitReady(ctx)
		var mobile string
		Eventually(func(g Gomega) { mobile = t.remoteByName(ctx, g, mobileApp)[0].ID }).WithContext(ctx).Should(Succeed())

		By("deleting the namespace, whose controller (kube-controller-manager) deletes the Secret together with the objects")
		kubectl(ctx, "delete", "namespace", t.ns, "--timeout=90s")
		Expect(kubectl(ctx, "get", "namespace", t.ns, "--ignore-not-found", "-o", "name")).To(BeEmpty())

		state := t.remote(ctx, Default)
		Expect(state.Configurations).To(ConsistOf(HaveField("ID", mobile)), "web-softphone (deletionPolicy Delete) is deleted, mobile-app (Orphan) stays")
		Expect(state.Default).To(BeEmpty(), "the AccountDefault unset the default it set")
	})

	It("reports a wrong token in status and an Event, logs it once at info, and never as an error", func(ctx SpecContext) {
		kubectl(ctx, "create", "secret", "generic", "wrong-token", "-n", t.ns,
			"--from-literal=TWILIO_ACCOUNT_SID="+t.account, "--from-literal=TWILIO_AUTH_TOKEN=not-the-token")
		Expect(kubectlIn(ctx, `apiVersion: voice.twilio-operator.io/v1alpha1
kind: ClientConfiguration
metadata:
  name: denied
spec:
  uniqueName: denied
  callNotification: {url: "https://example.com/denied"}
  credentialsRef: {name: wrong-token}
`, "apply", "-n", t.ns, "-f", "-")).To(ContainSubstring("created"))
		Eventually(func() string {
			return kubectl(ctx, "get", "-n", t.ns, "clientconfiguration", "denied", "-o", `jsonpath={.status.conditions[?(@.type=="Ready")].reason}`)
		}).WithContext(ctx).Should(Equal("CredentialsRejected"))
		Expect(kubectl(ctx, "get", "-n", t.ns, "clientconfiguration", "denied", "-o", `jsonpath={.status.conditions[?(@.type=="Reconciling")].message}`)).
			To(SatisfyAll(ContainSubstring(`Secret "wrong-token"`), ContainSubstring("TWILIO_AUTH_TOKEN")))

		By("over the retries of ten seconds: one info line, no error")
		Consistently(func(g Gomega) {
			g.Expect(logLines(`"name":"denied"`, "ERROR")).To(BeEmpty())
			g.Expect(logLines("denied", "Reconciler error")).To(BeEmpty())
		}).WithContext(ctx).WithTimeout(10 * time.Second).WithPolling(time.Second).Should(Succeed())
		Expect(logLines(`"name":"denied"`, "Waiting for a person to act")).To(HaveLen(1))
	})

	When("config/samples is applied server-side", func() {
		It("makes no remote write when the same apply runs again", func(ctx SpecContext) {
			kubectl(ctx, "apply", "--server-side", "-k", t.overlay)
			t.waitReady(ctx)
			generations := kubectl(ctx, "get", "twilio", "-n", t.ns, "-o", "jsonpath={range .items[*]}{.metadata.name}={.metadata.generation} {end}")

			before, err := sim.Calls(ctx)
			Expect(err).NotTo(HaveOccurred())
			out := kubectl(ctx, "apply", "--server-side", "-k", t.overlay)
			Expect(out).To(ContainSubstring("clientconfiguration.voice.twilio-operator.io/web-softphone serverside-applied"))

			By("writing nothing remotely over three resync periods")
			Consistently(func(g Gomega) {
				now, err := sim.Calls(ctx)
				g.Expect(err).NotTo(HaveOccurred())
				g.Expect(writesIn(now.Calls)).To(Equal(writesIn(before.Calls)), "remote writes: before %v, now %v", before.Calls, now.Calls)
			}).WithContext(ctx).WithTimeout(3 * resyncPeriod).WithPolling(200 * time.Millisecond).Should(Succeed())

			By("while it kept reading the remote side at each resync, so there was something to not write")
			after, err := sim.Calls(ctx)
			Expect(err).NotTo(HaveOccurred())
			Expect(readsIn(after.Calls)-readsIn(before.Calls)).To(BeNumerically(">=", 2),
				"remote reads: before %v, after %v", before.Calls, after.Calls)
			Expect(kubectl(ctx, "get", "twilio", "-n", t.ns, "-o", "jsonpath={range .items[*]}{.metadata.name}={.metadata.generation} {end}")).
				To(Equal(generations), "the second apply left every spec as it was")
		})
	})
})

var _ = Describe("Tenants' rights", func() {
	var t tenant
	BeforeEach(func(ctx SpecContext) { t = newTenant(ctx) })

	It("lets a user with edit in a namespace manage both kinds there, and one with view only read them", func(ctx SpecContext) {
		kubectl(ctx, "create", "rolebinding", "alice-edits", "--clusterrole=edit", "--user=alice", "-n", t.ns)
		kubectl(ctx, "create", "rolebinding", "bob-views", "--clusterrole=view", "--user=bob", "-n", t.ns)

		By("aggregating the operator's editor and viewer ClusterRoles into edit and view (kube-controller-manager)")
		for _, resource := range []string{"clientconfigurations.voice.twilio-operator.io", "accountdefaults.voice.twilio-operator.io"} {
			Eventually(func() (string, error) {
				return cp.Kubectl.Run(ctx, "auth", "can-i", "create", resource, "-n", t.ns, "--as", "alice")
			}).WithContext(ctx).Should(Equal("yes\n"))
			Eventually(func() (string, error) {
				return cp.Kubectl.Run(ctx, "auth", "can-i", "list", resource, "-n", t.ns, "--as", "bob")
			}).WithContext(ctx).Should(Equal("yes\n"))
		}

		By("alice applying the samples, which the operator makes Ready")
		kubectl(ctx, "apply", "-k", t.overlay, "--as", "alice")
		t.waitReady(ctx)

		By("bob reading them, and refused any change")
		Expect(kubectl(ctx, "get", "twilio", "-n", t.ns, "-o", "name", "--as", "bob")).To(ContainSubstring("clientconfiguration.voice.twilio-operator.io/web-softphone"))
		for _, change := range [][]string{
			{"annotate", "clientconfiguration", "web-softphone", "owner=bob"},
			{"delete", "clientconfiguration", "web-softphone"},
			{"delete", "accountdefault", "--all"},
		} {
			out, err := cp.Kubectl.Run(ctx, append(change, "-n", t.ns, "--as", "bob")...)
			Expect(err).To(HaveOccurred(), "kubectl %v as bob: %s", change, out)
			Expect(err.Error()).To(ContainSubstring("Forbidden"), "kubectl %v as bob", change)
		}
		out, _ := cp.Kubectl.Run(ctx, "auth", "can-i", "patch", "clientconfigurations.voice.twilio-operator.io", "--subresource=status", "-n", t.ns, "--as", "alice")
		Expect(out).To(Equal("no\n"), "status is the operator's alone")
	})
})
