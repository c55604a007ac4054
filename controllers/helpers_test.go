package controllers_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"

	voicev1alpha1 "github.com/twilio-operator/voice-operator/api/v1alpha1"
	"github.com/twilio-operator/voice-operator/internal/localenv"
	"github.com/twilio-operator/voice-operator/internal/voice"
	"github.com/twilio-operator/voice-operator/internal/voicesim"
)

// remoteCalls counts the simulator's API calls per account, method and route
// template, so a spec asserts on its own account's traffic only.
type remoteCalls struct {
	mu    sync.Mutex
	calls map[string]map[string]int // account → "METHOD route" → count
	// hooks may answer a request of an account instead of the simulator,
	// for behaviours no simulator option gives (a request that fails in a
	// way chosen by the spec); each is asked in turn until one answers.
	hooks map[string][]hook
}

// hook answers r itself and returns true, or returns false to pass it on.
// next is the simulator, for hooks that let the request through first.
type hook func(w http.ResponseWriter, r *http.Request, next http.Handler) bool

var idPath = regexp.MustCompile(`^/v2/Configurations/Client/[^/]+$`)

// wrap counts every request before the simulator (and its fault injection)
// sees it.
func (c *remoteCalls) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		account, _, _ := r.BasicAuth()
		route := r.URL.Path
		switch {
		case route == "/v2/Configurations/Client/Default":
		case idPath.MatchString(route):
			route = "/v2/Configurations/Client/{id}"
		}
		c.mu.Lock()
		if c.calls[account] == nil {
			c.calls[account] = map[string]int{}
		}
		c.calls[account][r.Method+" "+route]++
		hooks := c.hooks[account]
		c.mu.Unlock()
		for _, h := range hooks {
			if h(w, r, next) {
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// intercept adds a hook for one account's requests, removed when the spec
// ends.
func (c *remoteCalls) intercept(account string, h hook) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.hooks == nil {
		c.hooks = map[string][]hook{}
	}
	c.hooks[account] = append(c.hooks[account], h)
	DeferCleanup(func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		delete(c.hooks, account)
	})
}

// of returns a copy of one account's counters.
func (c *remoteCalls) of(account string) map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := map[string]int{}
	for k, v := range c.calls[account] {
		out[k] = v
	}
	return out
}

// Route keys used in assertions.
const (
	postConfig    = "POST /v2/Configurations/Client"
	listConfigs   = "GET /v2/Configurations/Client"
	getConfig     = "GET /v2/Configurations/Client/{id}"
	putConfig     = "PUT /v2/Configurations/Client/{id}"
	deleteConfig  = "DELETE /v2/Configurations/Client/{id}"
	postDefault   = "POST /v2/Configurations/Client/Default"
	getDefault    = "GET /v2/Configurations/Client/Default"
	deleteDefault = "DELETE /v2/Configurations/Client/Default"
)

// writes returns the sum of the write calls (POST, PUT, DELETE) in counters.
func writes(calls map[string]int) int {
	n := 0
	for k, v := range calls {
		if !strings.HasPrefix(k, "GET ") {
			n += v
		}
	}
	return n
}

// apiserverWrites counts the manager's write requests to the apiserver per
// namespace and resource, through a RoundTripper on its rest config.
type apiserverWrites struct {
	mu     sync.Mutex
	counts map[string]int // "namespace/resource" → count
	// conflicts are writes still to be answered 409 Conflict, as the
	// apiserver answers a write based on an outdated resourceVersion.
	conflicts map[string]int // "namespace/resource" → count
}

var namespacedPath = regexp.MustCompile(`/namespaces/([^/]+)/([^/]+)`)

func (a *apiserverWrites) wrap(rt http.RoundTripper) http.RoundTripper {
	return roundTripperFunc(func(r *http.Request) (*http.Response, error) {
		if r.Method != http.MethodGet {
			if m := namespacedPath.FindStringSubmatch(r.URL.Path); m != nil {
				key := m[1] + "/" + m[2]
				a.mu.Lock()
				a.counts[key]++
				conflict := a.conflicts[key] > 0
				if conflict {
					a.conflicts[key]--
				}
				a.mu.Unlock()
				if conflict {
					return conflictResponse(r), nil
				}
			}
		}
		return rt.RoundTrip(r)
	})
}

// conflictOnNextWrite makes the manager's next write to resource in
// namespace fail with 409 Conflict, without reaching the apiserver.
func (a *apiserverWrites) conflictOnNextWrite(namespace, resource string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.conflicts == nil {
		a.conflicts = map[string]int{}
	}
	a.conflicts[namespace+"/"+resource]++
}

// pendingConflicts is how many armed conflicts have not fired yet.
func (a *apiserverWrites) pendingConflicts(namespace, resource string) int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.conflicts[namespace+"/"+resource]
}

// conflictResponse is the apiserver's answer to a write whose
// resourceVersion is outdated.
func conflictResponse(r *http.Request) *http.Response {
	body := `{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","reason":"Conflict","code":409,` +
		`"message":"Operation cannot be fulfilled: the object has been modified; please apply your changes to the latest version and try again"}`
	return &http.Response{
		StatusCode: http.StatusConflict, Status: "409 Conflict", Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header:        http.Header{"Content-Type": []string{"application/json"}},
		Body:          io.NopCloser(strings.NewReader(body)),
		ContentLength: int64(len(body)),
		Request:       r,
	}
}

// of returns the writes to one resource in one namespace.
func (a *apiserverWrites) of(namespace, resource string) int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.counts[namespace+"/"+resource]
}

type roundTripperFunc func(*http.Request) (*http.Response, error)

func (f roundTripperFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// tenant is one spec's world: a namespace, a simulator account of its own,
// and a credentials Secret for it.
type tenant struct {
	ns, account, token string
}

const secretName = "twilio-credentials"

// newTenant creates a namespace and a fresh simulator account; with
// withSecret, also the credentials Secret for that account.
func newTenant(ctx context.Context, withSecret bool) tenant {
	t := tenant{ns: newNamespace(ctx), account: "AC" + localenv.RandomHex(16), token: "tok-" + localenv.RandomHex(12)}
	sim.AddAccount(t.account, t.token)
	if withSecret {
		t.createSecret(ctx, t.account, t.token)
	}
	return t
}

// sibling is another namespace with a credentials Secret for the same
// account and token: a second team sharing one Twilio account.
func (t tenant) sibling(ctx context.Context) tenant {
	other := tenant{ns: newNamespace(ctx), account: t.account, token: t.token}
	other.createSecret(ctx, t.account, t.token)
	return other
}

// moveSecretToNewAccount points the tenant's credentials Secret at a new
// simulator account and returns that account.
func (t tenant) moveSecretToNewAccount(ctx context.Context) string {
	GinkgoHelper()
	other := "AC" + localenv.RandomHex(16)
	sim.AddAccount(other, "other-token")
	secret := &corev1.Secret{}
	Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: t.ns, Name: secretName}, secret)).To(Succeed())
	secret.StringData = map[string]string{voicev1alpha1.SecretKeyAccountSID: other, voicev1alpha1.SecretKeyAuthToken: "other-token"}
	Expect(k8sClient.Update(ctx, secret)).To(Succeed())
	return other
}

// plantStatus writes a status a spec sets up (what a crash or an earlier
// version left), retrying while the controller writes its own.
func plantStatus(ctx context.Context, obj *voicev1alpha1.ClientConfiguration, mutate func(*voicev1alpha1.ClientConfiguration)) {
	GinkgoHelper()
	Eventually(func(g Gomega) {
		fetch(ctx, g, obj)
		mutate(obj)
		g.Expect(k8sClient.Status().Update(ctx, obj)).To(Succeed())
	}).WithContext(ctx).Should(Succeed())
}

// deleteAndWait deletes obj and waits until it is gone.
func deleteAndWait(ctx context.Context, obj client.Object) {
	GinkgoHelper()
	Expect(k8sClient.Delete(ctx, obj)).To(Succeed())
	Eventually(func() error { return k8sClient.Get(ctx, client.ObjectKeyFromObject(obj), obj) }).
		WithContext(ctx).Should(MatchError(ContainSubstring("not found")))
}

// createKeySecret creates a credentials Secret that claims account and
// authenticates with an API key.
func (t tenant) createKeySecret(ctx context.Context, name, account, key, secret string) {
	Expect(k8sClient.Create(ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: t.ns, Name: name},
		StringData: map[string]string{voicev1alpha1.SecretKeyAccountSID: account, voicev1alpha1.SecretKeyAPIKey: key, voicev1alpha1.SecretKeyAPISecret: secret},
	})).To(Succeed())
}

// createSecret creates the tenant's credentials Secret (secretName) for
// account and token.
func (t tenant) createSecret(ctx context.Context, account, token string) {
	Expect(k8sClient.Create(ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: t.ns, Name: secretName},
		StringData: map[string]string{voicev1alpha1.SecretKeyAccountSID: account, voicev1alpha1.SecretKeyAuthToken: token},
	})).To(Succeed())
}

// calls returns the tenant's remote calls so far.
func (t tenant) calls() map[string]int { return simCalls.of(t.account) }

// remote returns the tenant's remote configurations.
func (t tenant) remote() []voicesim.Record { return sim.Configurations(t.account) }

// remoteByName returns the tenant's remote configurations with this name.
func (t tenant) remoteByName(name string) []voicesim.Record {
	var out []voicesim.Record
	for _, r := range t.remote() {
		if r.UniqueName == name {
			out = append(out, r)
		}
	}
	return out
}

// clientConfiguration builds a ClientConfiguration in the tenant's namespace.
func (t tenant) clientConfiguration(name string, mutate ...func(*voicev1alpha1.ClientConfiguration)) *voicev1alpha1.ClientConfiguration {
	obj := &voicev1alpha1.ClientConfiguration{
		ObjectMeta: metav1.ObjectMeta{Namespace: t.ns, Name: name},
		Spec: voicev1alpha1.ClientConfigurationSpec{
			UniqueName:       name,
			Description:      "webhook for " + name,
			CallNotification: voicev1alpha1.CallNotification{URL: "https://example.com/notify/" + name, Method: voicev1alpha1.HTTPMethodPOST},
			CredentialsRef:   voicev1alpha1.SecretReference{Name: secretName},
		},
	}
	for _, m := range mutate {
		m(obj)
	}
	return obj
}

// readyConfiguration creates the tenant's ClientConfiguration name and
// waits until it is Ready.
func (t tenant) readyConfiguration(ctx context.Context, name string) *voicev1alpha1.ClientConfiguration {
	GinkgoHelper()
	obj := t.clientConfiguration(name)
	create(ctx, obj)
	waitReady(ctx, obj)
	return obj
}

// create creates obj and, when the spec ends, deletes it and waits until it
// is gone, so no spec leaves reconciling objects behind.
func create(ctx context.Context, obj client.Object) {
	Expect(k8sClient.Create(ctx, obj)).To(Succeed())
	DeferCleanup(func(ctx SpecContext) {
		cleanUp(ctx, obj)
	})
}

// cleanUp deletes obj and waits for it to disappear. A paused object is
// unpaused first, since its finalizer waits for that.
func cleanUp(ctx context.Context, obj client.Object) {
	Eventually(func(g Gomega) {
		current := obj.DeepCopyObject().(client.Object)
		err := k8sClient.Get(ctx, client.ObjectKeyFromObject(obj), current)
		if client.IgnoreNotFound(err) == nil && err != nil {
			return
		}
		g.Expect(err).NotTo(HaveOccurred())
		if isPaused(current) {
			patchAnnotation(ctx, current, voicev1alpha1.AnnotationPaused, "")
		}
		g.Expect(client.IgnoreNotFound(k8sClient.Delete(ctx, current))).To(Succeed())
		g.Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(obj), current)).NotTo(Succeed())
	}).WithContext(ctx).Should(Succeed(), "%s was not deleted", obj.GetName())
}

func isPaused(obj client.Object) bool {
	return obj.GetAnnotations()[voicev1alpha1.AnnotationPaused] == "true"
}

// patchAnnotation sets (or, with "", removes) one annotation.
func patchAnnotation(ctx context.Context, obj client.Object, key, value string) {
	var patch string
	if value == "" {
		patch = fmt.Sprintf(`{"metadata":{"annotations":{%q:null}}}`, key)
	} else {
		patch = fmt.Sprintf(`{"metadata":{"annotations":{%q:%q}}}`, key, value)
	}
	Expect(k8sClient.Patch(ctx, obj, client.RawPatch("application/merge-patch+json", []byte(patch)))).To(Succeed())
}

// fetch reads obj's current state into it.
func fetch(ctx context.Context, g Gomega, obj client.Object) {
	g.Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(obj), obj)).To(Succeed())
}

// readyCondition returns obj's Ready condition (nil when absent).
func readyCondition(obj *voicev1alpha1.ClientConfiguration) *metav1.Condition {
	return meta.FindStatusCondition(obj.Status.Conditions, voicev1alpha1.ConditionReady)
}

// kstatusOf computes the kstatus (what Flux, Argo CD and `kubectl wait`
// judge by) of an object.
func kstatusOf(obj client.Object) status.Status {
	u, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
	Expect(err).NotTo(HaveOccurred())
	gvk, err := apiutil.GVKForObject(obj, scheme)
	Expect(err).NotTo(HaveOccurred())
	un := &unstructured.Unstructured{Object: u}
	un.SetGroupVersionKind(gvk)
	res, err := status.Compute(un)
	Expect(err).NotTo(HaveOccurred())
	return res.Status
}

// inputOf is what the controller sends for obj (no webhook credentials).
func inputOf(obj *voicev1alpha1.ClientConfiguration) voice.ConfigurationInput {
	var description *string
	if obj.Spec.Description != "" {
		description = &obj.Spec.Description
	}
	method := string(obj.Spec.CallNotification.Method)
	if method == "" {
		method = "POST"
	}
	return voice.ConfigurationInput{UniqueName: obj.Spec.UniqueName, Description: description,
		CallNotification: voice.CallNotification{URL: obj.Spec.CallNotification.URL, Method: method}}
}

// recordOf is obj's spec as the simulator would store it.
func recordOf(obj *voicev1alpha1.ClientConfiguration) voicesim.Record {
	in := inputOf(obj)
	return voicesim.Record{UniqueName: in.UniqueName, Description: in.Description,
		CallNotificationURL: in.CallNotification.URL, CallNotificationMethod: in.CallNotification.Method}
}

// simShapeOptions is the simulator's shape in this run.
func simShapeOptions() voicesim.Options {
	opts, err := voicesim.Shape(simShape)
	Expect(err).NotTo(HaveOccurred())
	return opts
}

// httptestRecorder swallows an answer a hook does not pass on.
func httptestRecorder() http.ResponseWriter { return httptest.NewRecorder() }
